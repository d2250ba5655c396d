//! The two servers under comparison and the one way requests are sent to both.

use crate::{Body, Step, Who};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ROOT: &str = "root";

pub struct Peer {
    pub name: &'static str,
    base: String,
    agent: ureq::Agent,
    /// Variables set by the fixture, visible to every case.
    pub globals: HashMap<String, String>,
    _process: Process,
}

enum Process {
    OpenBao(Child),
    Jwtgate(#[allow(dead_code)] jwtgate_testkit::Running),
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Process::OpenBao(child) = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The answer to one request.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

impl Peer {
    /// `bao server -dev` on a free port, its home (where it writes `.vault-token`) in `dir`.
    pub fn openbao(bao: &str, dir: &Path) -> Peer {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = std::fs::File::create(dir.join("openbao.log")).unwrap();
        let child = Command::new(bao)
            .args(["server", "-dev", &format!("-dev-root-token-id={ROOT}")])
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .env("HOME", dir)
            .env_remove("VAULT_ADDR")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let peer = Peer {
            name: "openbao",
            base: format!("http://127.0.0.1:{port}"),
            agent: agent(),
            globals: HashMap::new(),
            _process: Process::OpenBao(child),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while peer.raw("GET", "sys/health", None, &[], "").map(|a| a.status) != Some(200) {
            assert!(
                Instant::now() < deadline,
                "OpenBao did not start: {}",
                std::fs::read_to_string(dir.join("openbao.log")).unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        peer
    }

    pub fn jwtgate(dir: &Path) -> Peer {
        let binary = Path::new(env!("CARGO_BIN_EXE_jwtgate"));
        let running = jwtgate_testkit::start(binary, &["--dev", "--dev-root-token-id", ROOT], &dir.join("jwtgate.log"));
        Peer {
            name: "jwtgate",
            base: format!("http://{}", running.address),
            agent: agent(),
            globals: HashMap::new(),
            _process: Process::Jwtgate(running),
        }
    }

    fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, String)],
        body: &str,
    ) -> Option<Answer> {
        let mut request = ureq::http::Request::builder().method(method).uri(format!("{}/v1/{path}", self.base));
        if let Some(token) = token {
            request = request.header("X-Vault-Token", token);
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = self.agent.run(request.body(body.to_owned()).unwrap()).ok()?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let body =
            serde_json::from_str(&text).unwrap_or(if text.is_empty() { Value::Null } else { Value::String(text) });
        Some(Answer { status, body })
    }

    /// Sends `step` with `{{variable}}`s replaced from `vars` (then the globals).
    pub fn send(&self, step: &Step, vars: &HashMap<String, String>) -> Answer {
        let fill = |text: &str| {
            let mut text = text.to_owned();
            for (name, value) in self.globals.iter().chain(vars) {
                text = text.replace(&format!("{{{{{name}}}}}"), value);
            }
            text
        };
        let token = match &step.who {
            Who::Root => Some(ROOT.to_owned()),
            Who::Anonymous => None,
            Who::Var(name) => Some(
                vars.get(*name)
                    .or(self.globals.get(*name))
                    .cloned()
                    .unwrap_or_else(|| panic!("{}: no token variable {name}", self.name)),
            ),
            Who::Literal(token) => Some(token.to_string()),
        };
        let mut headers: Vec<(&str, String)> = step.headers.iter().map(|(n, v)| (*n, fill(v))).collect();
        let body = match &step.body {
            Body::None => String::new(),
            Body::Json(value) => {
                headers.push(("Content-Type", "application/json".into()));
                fill(&value.to_string())
            }
            Body::Form(text) => {
                headers.push(("Content-Type", "application/x-www-form-urlencoded".into()));
                fill(text)
            }
            Body::Raw(text) => fill(text),
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let answer = self
                .raw(step.method, &fill(&step.path), token.as_deref(), &headers, &body)
                .unwrap_or_else(|| panic!("{}: {} {} failed in transport", self.name, step.method, step.path));
            let done = step
                .until
                .is_none_or(|(pointer, value)| answer.body.pointer(pointer).and_then(Value::as_str) == Some(value));
            if done || Instant::now() > deadline {
                return answer;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
