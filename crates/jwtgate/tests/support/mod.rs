//! Shared by the binary tests: start `jwtgate server`, talk HTTP/1.1 to it, stop it.
#![allow(dead_code)]

use jwtgate_verifier::testkit::TestKey;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Running {
    child: Child,
    pub address: String,
    log: std::path::PathBuf,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn start(args: &[&str], log: &Path) -> Running {
    let address = format!("127.0.0.1:{}", free_port());
    let log_file = std::fs::File::create(log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_jwtgate"))
        .arg("server")
        .args(args)
        .args(["--listen-address", &address])
        .env("JWTGATE_LOG_LEVEL", "trace")
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
    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
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
    pub fn stop(mut self) -> String {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "jwtgate exited with {exit} after SIGTERM");
        std::fs::read_to_string(&self.log).unwrap()
    }
}

pub fn now() -> i64 {
    // Tokens must be valid for the server's real clock.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

pub fn kubernetes_token(key: &TestKey) -> String {
    let now = now();
    key.token(&json!({
        "aud": ["vault"], "exp": now + 600, "iat": now, "nbf": now,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "default", "uid": "u"}},
        "sub": "system:serviceaccount:default:default"
    }))
}
