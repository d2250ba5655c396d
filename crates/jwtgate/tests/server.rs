//! The real binary over real TCP: the seed's flow at trace log level with no secret in the
//! logs, graceful SIGTERM, and persistence across a restart.

use jwtgate_verifier::testkit::TestKey;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running {
    child: Child,
    address: String,
    log: std::path::PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(args: &[&str], log: &Path) -> Running {
    let address = format!("127.0.0.1:{}", free_port());
    let log_file = std::fs::File::create(log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_jwtgate"))
        .arg("server")
        .args(args)
        .args(["--listen-address", &address])
        .env("JWTGATE_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(&address).is_err() {
        assert!(
            Instant::now() < deadline,
            "the server did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Running { child, address, log: log.to_owned() }
}

impl Running {
    /// One HTTP/1.1 request; returns the status and the JSON body (`Null` when empty).
    fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        let body = body.map(Value::to_string).unwrap_or_default();
        let token = token.map(|t| format!("X-Vault-Token: {t}\r\n")).unwrap_or_default();
        write!(
            stream,
            "{method} /v1/{path} HTTP/1.1\r\nHost: x\r\n{token}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response[9..12].parse().unwrap();
        let payload = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        // actix may answer chunked; the JSON object is the part between the outer braces.
        let json_text = match (payload.find('{'), payload.rfind('}')) {
            (Some(start), Some(end)) => &payload[start..=end],
            _ => "",
        };
        (status, serde_json::from_str(json_text).unwrap_or(Value::Null))
    }

    /// SIGTERM, then wait: a graceful stop exits 0.
    fn stop(mut self) -> String {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "jwtgate exited with {exit} after SIGTERM");
        std::fs::read_to_string(&self.log).unwrap()
    }
}

fn now() -> i64 {
    // Tokens must be valid for the server's real clock.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn kubernetes_token(key: &TestKey) -> String {
    let now = now();
    key.token(&json!({
        "aud": ["vault"], "exp": now + 600, "iat": now, "nbf": now,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "default", "uid": "u"}},
        "sub": "system:serviceaccount:default:default"
    }))
}

fn configure(server: &Running, root: &str, key: &TestKey) {
    assert_eq!(server.call("POST", "sys/auth/jwt", Some(root), Some(&json!({"type": "jwt"}))).0, 204);
    assert_eq!(
        server.call("PUT", "auth/jwt/config", Some(root), Some(&json!({"jwt_validation_pubkeys": key.public_pem()}))).0,
        204
    );
    let role = json!({"role_type": "jwt", "bound_audiences": "vault", "user_claim": "sub", "bound_subject": "system:serviceaccount:default:default", "policies": "default", "ttl": "1h"});
    assert_eq!(server.call("PUT", "auth/jwt/role/my-role", Some(root), Some(&role)).0, 204);
}

#[test]
fn dev_server_seed_flow_logs_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let root = "dev-root-SECRETROOTTOKEN";
    let server = start(&["--dev", "--dev-root-token-id", root], &dir.path().join("server.log"));
    let key = TestKey::rsa(2048);
    configure(&server, root, &key);
    let jwt = kubernetes_token(&key);
    let (status, login) = server.call("PUT", "auth/jwt/login", None, Some(&json!({"role": "my-role", "jwt": jwt})));
    assert_eq!(status, 200, "{login}");
    let client = login["auth"]["client_token"].as_str().unwrap().to_owned();
    let accessor = login["auth"]["accessor"].as_str().unwrap().to_owned();
    assert_eq!(server.call("GET", "auth/token/lookup-self", Some(&client), None).0, 200);
    // A refused login with a forged token, so refusals are logged too.
    let forged = kubernetes_token(&TestKey::p256());
    assert_eq!(server.call("PUT", "auth/jwt/login", None, Some(&json!({"role": "my-role", "jwt": forged}))).0, 400);
    assert_eq!(server.call("PUT", "auth/token/revoke-self", Some(&client), None).0, 204);
    let logs = server.stop();
    assert!(logs.contains("login refused"), "trace logs were captured: {logs}");
    for secret in [jwt.as_str(), forged.as_str(), "eyJ", client.as_str(), accessor.as_str(), root] {
        assert!(!logs.contains(secret), "a secret reached the logs: {secret}");
    }
}

#[test]
fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let key = TestKey::rsa(2048);
    let server = start(&["--data-dir", data_arg], &dir.path().join("first.log"));
    assert_eq!(server.call("GET", "sys/health", None, None).0, 501);
    let (status, init) = server.call("PUT", "sys/init", None, Some(&json!({})));
    assert_eq!(status, 200);
    let root = init["root_token"].as_str().unwrap().to_owned();
    configure(&server, &root, &key);
    let (_, login) =
        server.call("PUT", "auth/jwt/login", None, Some(&json!({"role": "my-role", "jwt": kubernetes_token(&key)})));
    let client = login["auth"]["client_token"].as_str().unwrap().to_owned();
    server.stop();

    let server = start(&["--data-dir", data_arg], &dir.path().join("second.log"));
    assert_eq!(server.call("GET", "sys/health", None, None).0, 200);
    let (status, lookup) = server.call("GET", "auth/token/lookup-self", Some(&client), None);
    assert_eq!(status, 200);
    assert_eq!(lookup["data"]["meta"], json!({"role": "my-role"}));
    // The config and role survived too: a new login works without reconfiguring.
    assert_eq!(
        server.call("PUT", "auth/jwt/login", None, Some(&json!({"role": "my-role", "jwt": kubernetes_token(&key)}))).0,
        200
    );
    assert_eq!(server.call("GET", "auth/jwt/role/my-role", Some(&root), None).0, 200);
    server.stop();
}
