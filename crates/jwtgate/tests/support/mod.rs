//! Shared by the binary tests: `jwtgate-testkit` pointed at this package's binary.
#![allow(dead_code, unused_imports)]

pub use jwtgate_testkit::{kubernetes_token, now, Running};

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
