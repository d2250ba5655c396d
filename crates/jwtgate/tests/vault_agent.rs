//! Vault Agent (OpenBao's `bao agent`) auto-auth against jwtgate with the `jwt` method: a
//! token file and a role, a file sink, renewal, a new login at the max TTL, and the JWT file
//! re-read at that login. Without `bao` this skips loudly; under `CI=true` it must run.

mod support;

use jwtgate_verifier::testkit::TestKey;
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let agent_config = dir.path().join("agent.hcl");
    std::fs::write(
        &agent_config,
        format!(
            "vault {{\n  address = \"http://{}\"\n}}\nauto_auth {{\n  method \"jwt\" {{\n    mount_path = \"auth/jwt\"\n    config = {{\n      path = \"{}\"\n      role = \"agent\"\n      remove_jwt_after_reading = false\n    }}\n  }}\n  sink \"file\" {{\n    config = {{\n      path = \"{}\"\n    }}\n  }}\n}}\n",
            server.address,
            jwt_file.display(),
            sink.display()
        ),
    )
    .unwrap();
    let mut agent = Command::new(&bao)
        .args(["agent", &format!("-config={}", agent_config.display())])
        .env("HOME", dir.path())
        .env_remove("VAULT_TOKEN")
        .env_remove("VAULT_ADDR")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();

    let first = next_token(&sink, None, &log);
    let (status, lookup) = server.call("GET", "auth/token/lookup-self", Some(&first), None);
    assert_eq!(status, 200, "{lookup}");
    assert_eq!(lookup["data"]["meta"]["role"], "agent");
    // The agent renews the token while it can.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, lookup) = server.call("GET", "auth/token/lookup-self", Some(&first), None);
        if lookup["data"]["last_renewal_time"].is_number() {
            break;
        }
        assert!(Instant::now() < deadline, "the agent never renewed: {}", std::fs::read_to_string(&log).unwrap());
        std::thread::sleep(Duration::from_millis(200));
    }
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
