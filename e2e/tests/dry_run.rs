//! `jwtgate-e2e --kind --dry-run` prints exactly the kind, kubectl, docker and jwtgate
//! commands the kind path runs, in order, without needing kind or Docker.

use std::process::Command;

#[test]
fn the_kind_path_prints_its_commands() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path().display().to_string();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().display().to_string();
    let out =
        Command::new(env!("CARGO_BIN_EXE_jwtgate-e2e")).args(["--kind", "--dry-run", "--work", &w]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).unwrap();
    let image = "kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f";
    let ka = format!("kubectl --kubeconfig {w}/a.kubeconfig");
    let kc = format!("kubectl --kubeconfig {w}/c.kubeconfig");
    let node = "jwtgate-e2e-c-control-plane";
    let expected = [
        format!("kind create cluster --name jwtgate-e2e-a --image {image} --config {repo}/e2e/kind/discovery.yaml --kubeconfig {w}/a.kubeconfig --wait 180s"),
        format!("{ka} get serviceaccount default"),
        format!("kind create cluster --name jwtgate-e2e-b --image {image} --config {repo}/e2e/kind/stock.yaml --kubeconfig {w}/b.kubeconfig --wait 180s"),
        format!("kind create cluster --name jwtgate-e2e-c --image {image} --config {repo}/e2e/kind/stock.yaml --kubeconfig {w}/c.kubeconfig --wait 180s"),
        "# scenario issuer_discovery".to_string(),
        format!("{ka} config view --raw --minify -o 'jsonpath={{.clusters[0].cluster.certificate-authority-data}}'"),
        format!("{ka} get --raw /.well-known/openid-configuration"),
        format!("{ka} create clusterrolebinding oidc-reviewer --clusterrole=system:service-account-issuer-discovery --group=system:unauthenticated"),
        "jwtgate server --dev --dev-root-token-id root --dev-listen-address 127.0.0.1:8200 &".to_string(),
        format!("VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=root HOME={w} jwtgate auth enable jwt"),
        format!("VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=root HOME={w} jwtgate write auth/jwt/config 'oidc_discovery_url=$ISSUER' oidc_discovery_ca_pem=@{w}/a-ca.crt"),
        format!("{ka} create token default"),
        format!("VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=root HOME={w} jwtgate write auth/jwt/login role=my-role jwt=@{w}/a-default.token"),
        "# scenario pubkey_chaining".to_string(),
        format!("kubectl --kubeconfig {w}/b.kubeconfig get --raw /openid/v1/jwks"),
        format!("VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=root HOME={w} jwtgate jwks to-pem {w}/b-jwks.json"),
        format!("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out {w}/c-sa-new.key"),
        format!("docker cp {w}/c-sa-new.key {node}:/etc/kubernetes/pki/sa.key"),
        format!("docker exec {node} sh -c 'cat /tmp/sa-new.pub >> /etc/kubernetes/pki/sa.pub'"),
        format!("docker exec {node} sh -c 'mv /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/ && sleep 30 && mv /etc/kubernetes/kube-apiserver.yaml /etc/kubernetes/manifests/'"),
        format!("{kc} get --raw /readyz"),
        format!("{kc} create token default --audience vault"),
        "# scenario projected_audience_and_ttl".to_string(),
        format!("{ka} create --raw /api/v1/namespaces/default/pods -f {repo}/e2e/manifests/pod.json"),
        format!("{ka} wait --for=condition=Ready pod/test-pod --timeout=300s"),
        format!("{ka} exec test-pod -- cat /var/run/secrets/tokens/vault-token"),
        "# scenario revocation_gap".to_string(),
        format!("{ka} create clusterrolebinding jwtgate-reviewer --clusterrole=system:auth-delegator --serviceaccount=default:jwtgate-reviewer"),
        format!("VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=root HOME={w} jwtgate auth enable kubernetes"),
        format!("VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=root HOME={w} jwtgate write auth/kubernetes/config 'kubernetes_host=$KUBERNETES_HOST' kubernetes_ca_cert=@{w}/a-api-ca.crt token_reviewer_jwt=@{w}/a-reviewer.token"),
        format!("{ka} create --raw /apis/authentication.k8s.io/v1/tokenreviews -f {w}/a-review.json"),
        format!("{ka} delete pod gap-pod --wait=true --timeout=180s"),
        format!("VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=root HOME={w} jwtgate login -method=kubernetes -no-store -format=json role=my-role jwt=-"),
        "kind delete cluster --name jwtgate-e2e-a".to_string(),
        "kind delete cluster --name jwtgate-e2e-b".to_string(),
        "kind delete cluster --name jwtgate-e2e-c".to_string(),
        "# dry run: 4 scenarios printed, none run".to_string(),
    ];
    let lines: Vec<&str> = printed.lines().collect();
    let mut at = 0;
    for want in &expected {
        match lines[at..].iter().position(|l| l == want) {
            Some(offset) => at += offset + 1,
            None => panic!("missing or out of order: {want}\n--- printed ---\n{printed}"),
        }
    }
    // Nothing ran: no kubeconfig or log was written.
    assert!(!work.path().join("a.kubeconfig").exists());
}

#[test]
fn the_sim_path_prints_kube_sim_processes() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path().display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_jwtgate-e2e"))
        .args(["--sim", "--dry-run", "--filter", "chaining", "--work", &w])
        .output()
        .unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    for want in [
        format!("kube-sim --name sim-a --kubeconfig {w}/a.kubeconfig &"),
        format!("kube-sim --name sim-b --kubeconfig {w}/b.kubeconfig --issuer https://kubernetes.default.svc.cluster.local &"),
        format!("kubectl --kubeconfig {w}/c.kubeconfig create --raw /sim/v1/rotate -f {w}/rotate.json"),
        "# dry run: 1 scenarios printed, none run".to_string(),
    ] {
        assert!(printed.lines().any(|l| l == want), "missing: {want}\n{printed}");
    }
    assert!(!printed.contains("# scenario issuer_discovery"));
}
