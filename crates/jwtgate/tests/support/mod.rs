//! Shared by the binary tests: `jwtgate-testkit` pointed at this package's binary.
#![allow(dead_code, unused_imports)]

pub use jwtgate_testkit::{kubernetes_token, now, Running};

/// Starts this package's `jwtgate server` on a free port and waits for its ready line.
pub fn start(args: &[&str], log: &std::path::Path) -> Running {
    jwtgate_testkit::start(std::path::Path::new(env!("CARGO_BIN_EXE_jwtgate")), args, log)
}

/// [`start`] with extra environment variables.
pub fn start_with_env(args: &[&str], env: &[(&str, &str)], log: &std::path::Path) -> Running {
    jwtgate_testkit::start_with_env(std::path::Path::new(env!("CARGO_BIN_EXE_jwtgate")), args, env, log)
}
