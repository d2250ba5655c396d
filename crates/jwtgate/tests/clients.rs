//! Real Vault clients against the real binary: Python hvac and node-vault (e2e/clients).
//! Without python3+hvac or node+node_modules they skip loudly; under `CI=true` they must run.

mod support;

use jwtgate_verifier::testkit::TestKey;
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

/// Starts a dev server and runs `program args` with the flow's environment.
fn run_flow(program: &str, args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let root = "client-test-root";
    let server = support::start(&["--dev", "--dev-root-token-id", root], &dir.path().join("server.log"));
    let key = TestKey::rsa(2048);
    let (pubkey, jwt) = (dir.path().join("key.pem"), dir.path().join("token"));
    std::fs::write(&pubkey, key.public_pem()).unwrap();
    std::fs::write(&jwt, format!("{}\n", support::kubernetes_token(&key))).unwrap();
    let output = Command::new(program)
        .args(args)
        .current_dir(clients_dir())
        .env("VAULT_ADDR", format!("http://{}", server.address))
        .env("ROOT_TOKEN", root)
        .env("PUBKEY_FILE", &pubkey)
        .env("JWT_FILE", &jwt)
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
        } else {
            eprintln!("SKIPPED: node-vault is not installed; run `npm ci` in e2e/clients");
        }
    }
}
