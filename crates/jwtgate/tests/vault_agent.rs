//! Vault Agent (OpenBao's `bao agent`) auto-auth against jwtgate: with the `jwt` method (a
//! token file and a role) and with the `kubernetes` method against kube-sim, file sinks (one
//! of them response-wrapped), renewal, a new login at the max TTL, and the JWT file re-read at
//! that login. Without `bao` this skips loudly; under `CI=true` it must run.

mod support;

use jwtgate_kube_sim::{Cluster, Sim, SimConfig};
use jwtgate_verifier::testkit::TestKey;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `bao agent` against `server` with one auto-auth `method` block and file sinks at
/// `sinks` (path, extra sink settings).
fn start_agent(bao: &str, dir: &Path, server: &str, method: &str, sinks: &[(&Path, &str)]) -> Child {
    let sinks: String = sinks
        .iter()
        .map(|(path, extra)| {
            format!(
                "  sink \"file\" {{\n    {extra}\n    config = {{\n      path = \"{}\"\n    }}\n  }}\n",
                path.display()
            )
        })
        .collect();
    let config = dir.join("agent.hcl");
    std::fs::write(
        &config,
        format!("vault {{\n  address = \"http://{server}\"\n}}\nauto_auth {{\n{method}\n{sinks}}}\n"),
    )
    .unwrap();
    Command::new(bao)
        .args(["agent", &format!("-config={}", config.display())])
        .env("HOME", dir)
        .env_remove("VAULT_TOKEN")
        .env_remove("VAULT_ADDR")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("agent.log")).unwrap())
        .spawn()
        .unwrap()
}

/// Waits until the agent has renewed `token` at least once.
fn wait_for_renewal(server: &jwtgate_testkit::Running, token: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, lookup) = server.call("GET", "auth/token/lookup-self", Some(token), None);
        if lookup["data"]["last_renewal_time"].is_number() {
            return;
        }
        assert!(Instant::now() < deadline, "the agent never renewed: {}", std::fs::read_to_string(log).unwrap());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits for the sink to hold a token other than `previous`.
fn next_token(sink: &std::path::Path, previous: Option<&str>, log: &std::path::Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let token = std::fs::read_to_string(sink).unwrap_or_default().trim().to_owned();
        if !token.is_empty() && Some(token.as_str()) != previous {
            return token;
        }
        assert!(
            Instant::now() < deadline,
            "no new token in the sink: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn agent_auto_auth_renews_and_logs_in_again_with_a_rotated_jwt() {
    let Some(bao) = support::bao("the Vault Agent test") else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = "agent-test-root";
    let server = support::start(&["--dev", "--dev-root-token-id", root], &dir.path().join("server.log"));
    let key = TestKey::rsa(2048);
    assert_eq!(server.call("POST", "sys/auth/jwt", Some(root), Some(&json!({"type": "jwt"}))).0, 204);
    let config = json!({"jwt_validation_pubkeys": [key.public_pem()]});
    assert_eq!(server.call("PUT", "auth/jwt/config", Some(root), Some(&config)).0, 204);
    // Short TTLs so renewal and the new login at the max TTL happen within the test.
    let role = |generation: &str| {
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "vault", "token_policies": "default",
               "bound_claims": {"generation": generation}, "token_ttl": "4s", "token_max_ttl": "12s"})
    };
    assert_eq!(server.call("PUT", "auth/jwt/role/agent", Some(root), Some(&role("1"))).0, 204);
    let jwt = |generation: &str| {
        let now = support::now();
        key.token(&json!({"aud": ["vault"], "sub": "system:serviceaccount:default:agent", "iat": now, "nbf": now,
                          "exp": now + 600, "generation": generation}))
    };
    let (jwt_file, sink, log) = (dir.path().join("jwt"), dir.path().join("sink"), dir.path().join("agent.log"));
    std::fs::write(&jwt_file, jwt("1")).unwrap();
    let method = format!(
        "  method \"jwt\" {{\n    mount_path = \"auth/jwt\"\n    config = {{\n      path = \"{}\"\n      role = \"agent\"\n      remove_jwt_after_reading = false\n    }}\n  }}",
        jwt_file.display()
    );
    let mut agent = start_agent(&bao, dir.path(), &server.address, &method, &[(&sink, "")]);

    let first = next_token(&sink, None, &log);
    let (status, lookup) = server.call("GET", "auth/token/lookup-self", Some(&first), None);
    assert_eq!(status, 200, "{lookup}");
    assert_eq!(lookup["data"]["meta"]["role"], "agent");
    wait_for_renewal(&server, &first, &log);
    // The role now accepts only the rotated JWT: the login at the max TTL must re-read the file.
    std::fs::write(&jwt_file, jwt("2")).unwrap();
    assert_eq!(server.call("PUT", "auth/jwt/role/agent", Some(root), Some(&role("2"))).0, 204);
    let second = next_token(&sink, Some(&first), &log);
    assert_eq!(server.call("GET", "auth/token/lookup-self", Some(&second), None).0, 200);
    let _ = agent.kill();
    let _ = agent.wait();
    let logs = server.stop();
    assert!(!logs.contains(&first) && !logs.contains(&second), "a token reached the logs");
}

/// A projected token for the `default` service account bound to `pod`, audience `vault`.
fn pod_token(cluster: &mut Cluster, pod: &str, now: i64) -> String {
    cluster.create_pod("default", &json!({"metadata": {"name": pod}}), now).unwrap();
    let spec = json!({"spec": {"audiences": ["vault"], "boundObjectRef": {"kind": "Pod", "name": pod}}});
    let (response, _) = cluster.token_request("default", "default", &spec, now).unwrap();
    response["status"]["token"].as_str().unwrap().to_owned()
}

#[test]
fn agent_kubernetes_auto_auth_with_a_wrapped_sink_follows_a_rotated_pod_token() {
    let Some(bao) = support::bao("the Vault Agent test") else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = "agent-k8s-root";
    let server = support::start(&["--dev", "--dev-root-token-id", root], &dir.path().join("server.log"));
    let kube = Sim::start(SimConfig::default()).unwrap();
    let now = support::now();
    let (reviewer, first_jwt) = {
        let mut cluster = kube.cluster();
        cluster.create_service_account("default", &json!({"metadata": {"name": "reviewer"}}), now).unwrap();
        let binding = json!({"metadata": {"name": "reviewer"}, "roleRef": {"kind": "ClusterRole", "name": "system:auth-delegator"},
            "subjects": [{"kind": "ServiceAccount", "name": "reviewer", "namespace": "default"}]});
        cluster.create_cluster_role_binding(&binding, now).unwrap();
        let (response, _) = cluster.token_request("default", "reviewer", &json!({"spec": {}}), now).unwrap();
        (response["status"]["token"].as_str().unwrap().to_owned(), pod_token(&mut cluster, "web-1", now))
    };
    assert_eq!(server.call("POST", "sys/auth/kubernetes", Some(root), Some(&json!({"type": "kubernetes"}))).0, 204);
    let config =
        json!({"kubernetes_host": kube.url, "kubernetes_ca_cert": kube.ca.cert_pem(), "token_reviewer_jwt": reviewer});
    assert_eq!(server.call("PUT", "auth/kubernetes/config", Some(root), Some(&config)).0, 204);
    let role = json!({"bound_service_account_names": "default", "bound_service_account_namespaces": "default",
                      "audience": "vault", "token_policies": "default", "token_ttl": "4s", "token_max_ttl": "12s"});
    assert_eq!(server.call("PUT", "auth/kubernetes/role/agent", Some(root), Some(&role)).0, 204);

    let (jwt_file, sink, wrapped_sink) = (dir.path().join("jwt"), dir.path().join("sink"), dir.path().join("wrapped"));
    let log = dir.path().join("agent.log");
    std::fs::write(&jwt_file, &first_jwt).unwrap();
    let method = format!(
        "  method \"kubernetes\" {{\n    mount_path = \"auth/kubernetes\"\n    config = {{\n      role = \"agent\"\n      token_path = \"{}\"\n    }}\n  }}",
        jwt_file.display()
    );
    let sinks = [(sink.as_path(), ""), (wrapped_sink.as_path(), "wrap_ttl = \"5m\"")];
    let mut agent = start_agent(&bao, dir.path(), &server.address, &method, &sinks);

    let first = next_token(&sink, None, &log);
    let (status, lookup) = server.call("GET", "auth/token/lookup-self", Some(&first), None);
    assert_eq!(status, 200, "{lookup}");
    assert_eq!(lookup["data"]["meta"]["service_account_name"], "default", "{lookup}");
    assert_eq!(lookup["data"]["path"], "auth/kubernetes/login", "{lookup}");
    // The wrapped sink holds a wrapping token, not the client token; it unwraps to it, once.
    let wrapped = next_token(&wrapped_sink, None, &log);
    assert!(!wrapped.contains(&first), "the wrapped sink holds the client token: {wrapped}");
    let wrap_info: Value = serde_json::from_str(&wrapped).unwrap();
    assert_eq!(wrap_info["creation_path"], "sys/wrapping/wrap", "{wrap_info}");
    let wrapping = wrap_info["token"].as_str().unwrap();
    let (status, unwrapped) = server.call("PUT", "sys/wrapping/unwrap", Some(wrapping), None);
    assert_eq!(status, 200, "{unwrapped}");
    let unwrapped_token = unwrapped["data"]["token"].as_str().unwrap();
    let (_, unwrapped_lookup) = server.call("GET", "auth/token/lookup-self", Some(unwrapped_token), None);
    assert_eq!(unwrapped_lookup["data"]["accessor"], lookup["data"]["accessor"], "{unwrapped_lookup}");
    assert_eq!(server.call("PUT", "sys/wrapping/unwrap", Some(wrapping), None).0, 400, "unwrapped twice");
    wait_for_renewal(&server, &first, &log);

    // The pod is replaced: its token is revoked in the cluster, and the kubelet writes the new
    // pod's token. The login at the max TTL must re-read the file.
    {
        let mut cluster = kube.cluster();
        std::fs::write(&jwt_file, pod_token(&mut cluster, "web-2", support::now())).unwrap();
        cluster.delete_pod("default", "web-1", support::now()).unwrap();
    }
    let stale = json!({"role": "agent", "jwt": first_jwt});
    assert_eq!(server.call("PUT", "auth/kubernetes/login", None, Some(&stale)).0, 403, "a deleted pod's token");
    let second = next_token(&sink, Some(&first), &log);
    assert_eq!(server.call("GET", "auth/token/lookup-self", Some(&second), None).0, 200);
    let _ = agent.kill();
    let _ = agent.wait();
    let logs = server.stop();
    for secret in [first.as_str(), &second, &first_jwt, unwrapped_token, wrapping] {
        assert!(!logs.contains(secret), "a token reached the logs");
    }
}
