//! Real Vault clients against the real binary: Python hvac and node-vault (e2e/clients), with
//! the JWT method, and with the Kubernetes method against an in-process kube-sim.
//! Without python3+hvac or node+node_modules they skip loudly; under `CI=true` they must run.

mod support;

use jwtgate_kube_sim::{Sim, SimConfig};
use jwtgate_verifier::testkit::TestKey;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e/clients")
}

/// Whether the client can run here; in CI a missing client is a failure, not a skip.
fn available(name: &str, probe: &mut Command) -> bool {
    let ok = probe.output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{name} is not installed, and CI=true requires it (.ci/run installs it)"
        );
        eprintln!("SKIPPED: {name} is not installed here; `.ci/run` installs it (pip install -r e2e/clients/requirements.txt; npm ci in e2e/clients)");
    }
    ok
}

/// Starts a dev server and runs `program args` with the flow's environment: a key and a
/// token for the JWT flows, a simulated cluster for the Kubernetes ones.
fn run_flow(program: &str, args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let root = "client-test-root";
    let server = support::start(&["--dev", "--dev-root-token-id", root], &dir.path().join("server.log"));
    let key = TestKey::rsa(2048);
    let (pubkey, jwt) = (dir.path().join("key.pem"), dir.path().join("token"));
    std::fs::write(&pubkey, key.public_pem()).unwrap();
    std::fs::write(&jwt, format!("{}\n", support::kubernetes_token(&key))).unwrap();
    let kube = Sim::start(SimConfig::default()).unwrap();
    let mut files = Vec::new();
    {
        let mut cluster = kube.cluster();
        let now = support::now();
        cluster.create_service_account("default", &json!({"metadata": {"name": "reviewer"}}), now).unwrap();
        let binding = json!({"metadata": {"name": "reviewer"}, "roleRef": {"kind": "ClusterRole", "name": "system:auth-delegator"},
            "subjects": [{"kind": "ServiceAccount", "name": "reviewer", "namespace": "default"}]});
        cluster.create_cluster_role_binding(&binding, now).unwrap();
        let token = |cluster: &mut jwtgate_kube_sim::Cluster, name: &str, spec: serde_json::Value| {
            let (response, _) = cluster.token_request("default", name, &json!({ "spec": spec }), now).unwrap();
            response["status"]["token"].as_str().unwrap().to_owned()
        };
        files.push(("REVIEWER_JWT_FILE", token(&mut cluster, "reviewer", json!({}))));
        for (pod, file) in [("web", "KUBE_JWT_FILE"), ("gone", "REVOKED_JWT_FILE")] {
            cluster.create_pod("default", &json!({"metadata": {"name": pod}}), now).unwrap();
            let spec = json!({"audiences": ["vault"], "boundObjectRef": {"kind": "Pod", "name": pod}});
            files.push((file, token(&mut cluster, "default", spec)));
        }
        cluster.delete_pod("default", "gone", now).unwrap();
    }
    files.push(("KUBERNETES_CA_FILE", kube.ca.cert_pem()));
    let mut command = Command::new(program);
    for (name, contents) in &files {
        let file = dir.path().join(name);
        std::fs::write(&file, contents).unwrap();
        command.env(name, file);
    }
    let output = command
        .args(args)
        .current_dir(clients_dir())
        .env("VAULT_ADDR", format!("http://{}", server.address))
        .env("ROOT_TOKEN", root)
        .env("PUBKEY_FILE", &pubkey)
        .env("JWT_FILE", &jwt)
        .env("KUBERNETES_HOST", &kube.url)
        .output()
        .unwrap();
    let logs = server.stop();
    assert!(
        output.status.success(),
        "{program} {args:?} failed\nstdout: {}\nstderr: {}\nserver log: {logs}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn hvac() {
    if available("python3 with hvac", Command::new("python3").args(["-c", "import hvac"])) {
        run_flow("python3", &["hvac_flow.py"]);
        run_flow("python3", &["hvac_kubernetes_flow.py"]);
    }
}

#[test]
fn node_vault() {
    let installed = clients_dir().join("node_modules/node-vault").exists();
    if available("node", Command::new("node").arg("--version")) {
        assert!(
            installed || std::env::var("CI").as_deref() != Ok("true"),
            "e2e/clients/node_modules is missing; .ci/run runs npm ci there"
        );
        if installed {
            run_flow("node", &["node_vault_flow.js"]);
            run_flow("node", &["node_vault_kubernetes_flow.js"]);
        } else {
            eprintln!("SKIPPED: node-vault is not installed; run `npm ci` in e2e/clients");
        }
    }
}
