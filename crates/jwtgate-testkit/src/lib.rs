//! What the binary's tests share: start `jwtgate server` on a port it picks itself and wait
//! for its ready line (no bind-probe-rebind race), Vault requests over HTTP, token fixtures,
//! a PostgreSQL server of the test's own.

pub mod postgres;

use jwtgate_verifier::testkit::TestKey;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// What the server prints on stdout once it accepts connections, followed by its URL.
pub const READY_LINE: &str = "jwtgate listening on ";

/// A running `jwtgate server`.
pub struct Running {
    child: Child,
    /// `host:port` it listens on.
    pub address: String,
    /// Everything it printed on stdout before the ready line (the dev banner).
    pub banner: String,
    log: PathBuf,
    agent: ureq::Agent,
}

/// Starts `binary server <args> --listen-address 127.0.0.1:0`, logging at trace level to `log`,
/// and returns once it has printed its ready line.
pub fn start(binary: &Path, args: &[&str], log: &Path) -> Running {
    start_with_env(binary, args, &[], log)
}

/// [`start`] with extra environment variables.
pub fn start_with_env(binary: &Path, args: &[&str], env: &[(&str, &str)], log: &Path) -> Running {
    let log_file = std::fs::File::create(log).unwrap();
    let mut child = Command::new(binary)
        .arg("server")
        .args(args)
        .args(["--listen-address", "127.0.0.1:0"])
        .env("JWTGATE_LOG_LEVEL", "trace")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .unwrap();
    let (url, banner) = match wait_ready(&mut child, Duration::from_secs(30)) {
        Ok(ready) => ready,
        Err(error) => {
            panic!("the server did not start ({error}): {}", std::fs::read_to_string(log).unwrap_or_default())
        }
    };
    let address = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest).to_owned();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent();
    Running { child, address, banner, log: log.to_owned(), agent }
}

/// Waits for a `jwtgate server` started with a piped stdout to print its ready line; returns
/// its URL and what it printed before (the dev banner). Later output is drained and dropped.
pub fn wait_ready(child: &mut Child, timeout: Duration) -> Result<(String, String), String> {
    let stdout = child.stdout.take().ok_or("the server's stdout is not piped")?;
    let (ready, lines) = mpsc::channel();
    std::thread::spawn(move || {
        let mut banner = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            match line.strip_prefix(READY_LINE) {
                Some(url) => {
                    let _ = ready.send(Ok((url.to_owned(), std::mem::take(&mut banner))));
                }
                None => banner.push_str(&format!("{line}\n")),
            }
        }
        let _ = ready.send(Err(format!("it exited; it printed: {banner}")));
    });
    match lines.recv_timeout(timeout) {
        Ok(ready) => ready,
        Err(_) => Err(format!("no ready line within {timeout:?}")),
    }
}

impl Running {
    /// One Vault request; returns the status and the JSON body (`Null` when empty).
    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
        self.try_call(method, path, token, body).unwrap()
    }

    /// [`Running::call`], with a failure to get any answer (the server is gone) as an error.
    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(u16, Value), ureq::Error> {
        let mut request =
            ureq::http::Request::builder().method(method).uri(format!("http://{}/v1/{path}", self.address));
        if let Some(token) = token {
            request = request.header("X-Vault-Token", token);
        }
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut response = self.agent.run(request.body(body).unwrap())?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// Kills the server at once (SIGKILL), as a crash would; returns the log.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log()
    }

    /// The server's log so far.
    /// The server's process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then wait: a graceful stop exits 0. Returns the log.
    pub fn stop(mut self) -> String {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "jwtgate exited with {exit} after SIGTERM");
        self.log()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Unix seconds by the real clock: tokens must be valid for the server's.
pub fn now() -> i64 {
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A projected service-account token for audience `vault`, valid now, signed by `key`.
pub fn kubernetes_token(key: &TestKey) -> String {
    let now = now();
    key.token(&json!({
        "aud": ["vault"], "exp": now + 600, "iat": now, "nbf": now,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "default", "uid": "u"}},
        "sub": "system:serviceaccount:default:default"
    }))
}
