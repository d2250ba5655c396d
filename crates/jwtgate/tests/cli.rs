//! The seed's command lines with `vault` replaced by `jwtgate`, against a dev server: issuer
//! discovery with a pinned CA, chained public keys from `jwks to-pem`, the seed's role, logins
//! from a token file ending in a newline, and the client commands' output and errors.

mod support;

use jwtgate_verifier::testkit::{jwks, Reply, TestKey, TestServer};
use serde_json::json;
use std::process::Command;
use support::Cli;

/// A cluster's issuer: discovery and JWKS over HTTPS with its own CA.
fn issuer(keys: &[&TestKey]) -> TestServer {
    let server = TestServer::start(|_| Reply::status(404, ""));
    let base = server.base_url.clone();
    let discovery =
        json!({"issuer": base, "jwks_uri": format!("{base}/openid/v1/jwks"), "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"]})
        .to_string();
    let document = jwks(keys);
    server.set_handler(move |path| match path {
        "/.well-known/openid-configuration" => Reply::json(discovery.clone()),
        "/openid/v1/jwks" => Reply::json(document.clone()),
        _ => Reply::status(404, ""),
    });
    server
}

#[test]
fn the_seed_procedures() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let root = "seed-root";
    let server = support::start(&["--dev", "--dev-root-token-id", root], &home.join("server.log"));
    let cli = Cli::jwtgate(format!("http://{}", server.address), home, Some(root));
    let cluster_a = TestKey::rsa(2048);
    let cluster_b = TestKey::p256();
    let kube = issuer(&[&cluster_a]);
    std::fs::write(home.join("ca.crt"), &kube.ca_pem).unwrap();
    let seed_token = |key: &TestKey, aud: &str| {
        let now = support::now();
        key.token(&json!({"aud": [aud], "exp": now + 600, "iat": now, "nbf": now, "iss": kube.base_url,
            "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "default", "uid": "u"}},
            "sub": "system:serviceaccount:default:default"}))
    };
    std::fs::write(home.join("token"), format!("{}\n", seed_token(&cluster_a, &kube.base_url))).unwrap();

    // Issuer discovery, the seed's steps.
    assert_eq!(cli.ok(&["auth", "enable", "jwt"]).trim(), "Success! Enabled jwt auth method at: jwt/");
    let discovery_url = format!("oidc_discovery_url={}", kube.base_url);
    assert_eq!(
        cli.ok(&["write", "auth/jwt/config", &discovery_url, "oidc_discovery_ca_pem=@ca.crt"]).trim(),
        "Success! Data written to: auth/jwt/config"
    );
    let bound_audiences = format!("bound_audiences={}", kube.base_url);
    cli.ok(&[
        "write",
        "auth/jwt/role/my-role",
        "role_type=jwt",
        &bound_audiences,
        "user_claim=sub",
        "bound_subject=system:serviceaccount:default:default",
        "policies=default",
        "ttl=1h",
    ]);
    let login = cli.ok(&["write", "auth/jwt/login", "role=my-role", "jwt=@token"]);
    assert!(
        login.contains("token_policies       [\"default\"]") && login.contains("token_duration       1h"),
        "{login}"
    );
    assert!(login.contains("token_meta_role      my-role"), "{login}");

    // `login` stores the token; later commands use it.
    let logged_in = Cli::jwtgate(cli.address.clone(), home, None);
    let output = logged_in.ok(&["login", "-method=jwt", "role=my-role", "jwt=@token"]);
    assert!(output.starts_with("Success! You are now authenticated."), "{output}");
    let stored = std::fs::read_to_string(home.join(".jwtgate-token")).unwrap();
    assert!(stored.starts_with("jgs."));
    assert_eq!(
        logged_in.ok(&["token", "lookup", "-field=display_name"]).trim(),
        "jwt-system:serviceaccount:default:default"
    );
    assert_eq!(logged_in.ok(&["token", "revoke", "-self"]).trim(), "Success! Revoked token (if it existed)");

    // Public-key chaining: each cluster's JWKS converted once, one mount trusting both.
    let both = jwks(&[&cluster_a, &cluster_b]);
    std::fs::write(home.join("jwks.json"), &both).unwrap();
    let pem = cli.ok(&["jwks", "to-pem", "jwks.json"]);
    assert!(pem.starts_with(&format!("# kid: {}\n-----BEGIN PUBLIC KEY-----", cluster_a.kid())), "{pem}");
    assert!(pem.contains(&format!("# kid: {}", cluster_b.kid())));
    std::fs::write(home.join("keys.pem"), &pem).unwrap();
    cli.ok(&["auth", "enable", "-path=chained", "-description=clusters a and b", "jwt"]);
    cli.ok(&["write", "auth/chained/config", "jwt_validation_pubkeys=@keys.pem"]);
    cli.ok(&[
        "write",
        "auth/chained/role/app",
        "role_type=jwt",
        "bound_audiences=vault",
        "user_claim=sub",
        "policies=default",
    ]);
    for key in [&cluster_a, &cluster_b] {
        std::fs::write(home.join("t"), seed_token(key, "vault")).unwrap();
        assert!(cli.ok(&["write", "-field=token", "auth/chained/login", "role=app", "jwt=@t"]).starts_with("jgs."));
    }
    // The JWKS as the cluster serves it, no conversion.
    cli.ok(&["auth", "enable", "-path=inline", "jwt"]);
    cli.ok(&["write", "auth/inline/config", "jwt_validation_jwks=@jwks.json"]);
    cli.ok(&["write", "auth/inline/role/app", "role_type=jwt", "bound_audiences=vault", "user_claim=sub"]);
    cli.ok(&["write", "auth/inline/login", "role=app", "jwt=@t"]);
    // A third cluster is refused, with the server's text and exit code 2.
    std::fs::write(home.join("t3"), seed_token(&TestKey::rsa(2048), "vault")).unwrap();
    let refused = cli.fails(&["write", "auth/chained/login", "role=app", "jwt=@t3"], 2);
    assert!(
        refused.contains("Code: 400") && refused.contains("no known key successfully validated the token signature"),
        "{refused}"
    );

    // Reading, listing, JSON output, auth list, policies, status.
    assert_eq!(cli.ok(&["read", "-field=token_ttl", "auth/jwt/role/my-role"]).trim(), "3600");
    let json_read: serde_json::Value =
        serde_json::from_str(&cli.ok(&["read", "-format=json", "auth/jwt/role/my-role"])).unwrap();
    assert_eq!(json_read["data"]["bound_subject"], "system:serviceaccount:default:default");
    assert_eq!(cli.ok(&["list", "auth/chained/role"]).trim(), "Keys\n----\napp");
    let mounts = cli.ok(&["auth", "list"]);
    assert!(
        mounts.contains("chained/") && mounts.contains("clusters a and b") && mounts.contains("token/"),
        "{mounts}"
    );
    std::fs::write(home.join("reader.hcl"), "path \"auth/jwt/role/*\" {\n  capabilities = [\"read\"]\n}\n").unwrap();
    assert_eq!(cli.ok(&["policy", "write", "reader", "reader.hcl"]).trim(), "Success! Uploaded policy: reader");
    assert!(cli.ok(&["policy", "read", "reader"]).contains("capabilities = [\"read\"]"));
    assert_eq!(cli.ok(&["policy", "list"]).trim(), "default\nreader\nroot");
    cli.ok(&["policy", "delete", "reader"]);
    assert!(cli.ok(&["status"]).contains("Initialized     true"));
    cli.ok(&["auth", "tune", "-max-lease-ttl=2h", "chained"]);
    assert_eq!(cli.ok(&["read", "-field=max_lease_ttl", "sys/auth/chained/tune"]).trim(), "7200");

    // Errors: the server's text, vault's exit codes.
    let bad = cli.fails(&["write", "auth/jwt/role/bad", "role_type=x"], 2);
    assert!(
        bad.contains("Error writing data to auth/jwt/role/bad: Error making API request.")
            && bad.contains("* invalid 'role_type': x"),
        "{bad}"
    );
    assert_eq!(cli.fails(&["read", "auth/jwt/role/missing"], 2).trim(), "No value found at auth/jwt/role/missing");
    assert!(cli.fails(&["write", "auth/jwt/role/x", "novalue"], 1).contains("format must be key=value"));
    assert!(cli.fails(&["operator", "init"], 2).contains("Vault is already initialized"));
    let no_token = Cli::jwtgate(cli.address.clone(), home, None);
    assert!(no_token.fails(&["auth", "list"], 2).contains("Code: 403"));
    server.stop();
}

#[test]
fn audit_devices_from_the_cli_and_log_rotation_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let root = "audit-root";
    let server = support::start(&["--dev", "--dev-root-token-id", root], &home.join("server.log"));
    let cli = Cli::jwtgate(format!("http://{}", server.address), home, Some(root));
    assert_eq!(cli.fails(&["audit", "list"], 2).trim(), "No audit devices are enabled.");
    let file = home.join("audit.log");
    let file_path = format!("file_path={}", file.display());
    assert_eq!(
        cli.ok(&["audit", "enable", "file", &file_path]).trim(),
        "Success! Enabled the file audit device at: file/"
    );
    let enabled = cli.ok(&[
        "audit",
        "enable",
        "-path=raw",
        "-description=clear text",
        "file",
        "file_path=discard",
        "log_raw=true",
    ]);
    assert_eq!(enabled.trim(), "Success! Enabled the file audit device at: raw/");
    let listed = cli.ok(&["audit", "list"]);
    assert_eq!(
        listed.trim(),
        "Path     Type    Description\n----     ----    -----------\nfile/    file    n/a\nraw/     file    clear text"
    );
    let detailed = cli.ok(&["audit", "list", "-detailed"]);
    assert!(detailed.contains("Replication    Options") && detailed.contains(&file_path), "{detailed}");
    let refused = cli.fails(&["audit", "enable", "socket", "address=127.0.0.1:1"], 2);
    assert!(refused.contains("error connecting to the audit socket"), "{refused}");

    // logrotate's way: rename, then SIGHUP; new entries go to a new file at the same path.
    cli.ok(&["read", "auth/token/lookup-self"]);
    let rotated = home.join("audit.log.1");
    std::fs::rename(&file, &rotated).unwrap();
    let hup = Command::new("kill").args(["-HUP", &server.pid().to_string()]).status().unwrap();
    assert!(hup.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !file.exists() {
        assert!(std::time::Instant::now() < deadline, "SIGHUP did not reopen the audit file: {}", server.log());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    cli.ok(&["read", "sys/auth"]);
    let (old, new) = (std::fs::read_to_string(&rotated).unwrap(), std::fs::read_to_string(&file).unwrap());
    assert!(old.contains("\"path\":\"auth/token/lookup-self\"") && !old.contains("\"path\":\"sys/auth\""), "{old}");
    assert!(new.contains("\"path\":\"sys/auth\""), "{new}");
    assert_eq!(
        cli.ok(&["audit", "disable", "raw"]).trim(),
        "Success! Disabled audit device (if it was enabled) at: raw/"
    );
    assert!(!cli.ok(&["audit", "list"]).contains("raw/"));
    let logs = server.stop();
    for text in [old, new, logs] {
        assert!(!text.contains(root), "the root token in clear");
    }
}

#[test]
fn jwtgate_variables_take_precedence_and_completions_exist() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::start(&["--dev", "--dev-root-token-id", "r"], &dir.path().join("server.log"));
    let output = Command::new(env!("CARGO_BIN_EXE_jwtgate"))
        .args(["status", "-format=json"])
        .env("VAULT_ADDR", "http://127.0.0.1:1")
        .env("JWTGATE_ADDR", format!("http://{}", server.address))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("\"initialized\": true"));
    let flag = Command::new(env!("CARGO_BIN_EXE_jwtgate"))
        .args(["status", "-address", &format!("http://{}", server.address)])
        .env("JWTGATE_ADDR", "http://127.0.0.1:1")
        .output()
        .unwrap();
    assert!(flag.status.success(), "-address beats the environment");
    server.stop();
    for (shell, needle) in
        [("bash", "complete -F _jwtgate jwtgate"), ("zsh", "#compdef jwtgate"), ("fish", "complete -c jwtgate")]
    {
        let script = Command::new(env!("CARGO_BIN_EXE_jwtgate")).args(["completion", shell]).output().unwrap();
        assert!(String::from_utf8_lossy(&script.stdout).contains(needle), "{shell}");
    }
}
