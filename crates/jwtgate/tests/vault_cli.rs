//! The real vault CLI (OpenBao's `bao`, which keeps vault's commands and flags) against a
//! non-dev `jwtgate server`: status, operator init, the seed's procedure, auth methods,
//! policies and tokens, with `-format=json`, `-field` and `-output-curl-string`.
//! Without `bao` this skips loudly; under `CI=true` it must run.

mod support;

use jwtgate_verifier::testkit::TestKey;
use serde_json::Value;
use support::Cli;

/// `-format=json` output of the real vault CLI.
trait Json {
    fn json(&self, args: &[&str]) -> Value;
}

impl Json for Cli<'_> {
    fn json(&self, args: &[&str]) -> Value {
        // Flags go after the command's words and before its arguments.
        const WORDS: [&str; 9] = ["operator", "init", "status", "auth", "list", "token", "lookup", "renew", "write"];
        let at = args.iter().take_while(|a| WORDS.contains(a)).count();
        let mut args = args.to_vec();
        args.insert(at, "-format=json");
        let text = self.ok(&args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("bao {args:?}: {e}: {text}"))
    }
}

#[test]
fn the_vault_cli_drives_a_non_dev_server() {
    let Some(bao) = support::bao("the vault CLI tests") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = support::start(&["--data-dir", data.to_str().unwrap()], &dir.path().join("server.log"));
    let mut cli = Cli { program: bao, address: format!("http://{}", server.address), home: dir.path(), token: None };

    // `vault status` before and after `vault operator init` (exit 2 means sealed, as vault's).
    assert_eq!(cli.run(&["status"]).status.code(), Some(2));
    let init = cli.json(&["operator", "init"]);
    let root = init["root_token"].as_str().unwrap().to_owned();
    let status = cli.json(&["status"]);
    assert_eq!((status["initialized"].clone(), status["sealed"].clone()), (Value::Bool(true), Value::Bool(false)));
    cli.token = Some(root.clone());

    // Auth methods: enable, list, tune, read the tune back.
    cli.ok(&["auth", "enable", "jwt"]);
    assert!(cli.json(&["auth", "list"])["jwt/"]["type"] == "jwt");
    cli.ok(&["auth", "tune", "-default-lease-ttl=30m", "jwt/"]);
    assert_eq!(cli.ok(&["read", "-field=default_lease_ttl", "sys/auth/jwt/tune"]).trim(), "1800");

    // The seed's procedure: keys, role, login.
    let key = TestKey::rsa(2048);
    let (pem, jwt) = (dir.path().join("key.pem"), dir.path().join("token"));
    std::fs::write(&pem, key.public_pem()).unwrap();
    std::fs::write(&jwt, support::kubernetes_token(&key)).unwrap();
    cli.ok(&["write", "auth/jwt/config", &format!("jwt_validation_pubkeys=@{}", pem.display())]);
    cli.ok(&[
        "write",
        "auth/jwt/role/my-role",
        "role_type=jwt",
        "bound_audiences=vault",
        "user_claim=sub",
        "bound_subject=system:serviceaccount:default:default",
        "policies=default",
        "ttl=1h",
    ]);
    assert_eq!(cli.ok(&["read", "-field=token_ttl", "auth/jwt/role/my-role"]).trim(), "3600");
    let login = cli.json(&["write", "auth/jwt/login", "role=my-role", &format!("jwt=@{}", jwt.display())]);
    assert_eq!(login["auth"]["policies"], serde_json::json!(["default"]));
    let login_token = login["auth"]["client_token"].as_str().unwrap().to_owned();

    // `vault auth move` keeps the config and roles and revokes the moved mount's tokens.
    let moved = cli.ok(&["auth", "move", "auth/jwt/", "auth/k8s/"]);
    assert!(moved.contains("Success! Finished moving auth method auth/jwt/ to auth/k8s/"), "{moved}");
    assert!(!cli.run(&["token", "lookup", &login_token]).status.success(), "the moved mount's token is revoked");
    let login = cli.json(&["write", "auth/k8s/login", "role=my-role", &format!("jwt=@{}", jwt.display())]);
    assert_eq!(login["auth"]["policies"], serde_json::json!(["default"]));
    cli.ok(&["auth", "move", "auth/k8s", "auth/jwt"]);
    assert!(cli.ok(&["path-help", "auth/jwt/login"]).contains("Logs in with a JWT"));

    // Policies.
    let policy = dir.path().join("ops.hcl");
    std::fs::write(
        &policy,
        "path \"auth/token/*\" {\n  capabilities = [\"create\", \"read\", \"update\", \"list\"]\n}\n",
    )
    .unwrap();
    cli.ok(&["policy", "write", "ops", policy.to_str().unwrap()]);
    assert!(cli.ok(&["policy", "list"]).lines().any(|l| l == "ops"));
    assert!(cli.ok(&["policy", "read", "ops"]).contains("auth/token/*"));

    // Tokens: create, lookup, capabilities, renew, revoke.
    let token = cli.ok(&["token", "create", "-policy=ops", "-ttl=1h", "-field=token"]).trim().to_owned();
    let lookup = cli.json(&["token", "lookup", &token]);
    assert_eq!(lookup["data"]["policies"], serde_json::json!(["default", "ops"]));
    assert_eq!(lookup["data"]["orphan"], Value::Bool(false), "a token created by root is its child");
    assert_eq!(cli.ok(&["token", "capabilities", &token, "auth/token/create"]).trim(), "create, list, read, update");
    let renewed = cli.json(&["token", "renew", "-increment=10m", &token]);
    assert_eq!(renewed["auth"]["lease_duration"], 600);
    cli.ok(&["token", "revoke", &token]);
    assert!(!cli.run(&["token", "lookup", &token]).status.success());
    let curl = cli.ok(&["token", "create", "-policy=ops", "-output-curl-string"]);
    assert!(curl.starts_with("curl ") && curl.contains("/v1/auth/token/create"), "{curl}");

    // Audit devices, and a wrapped token from `-wrap-ttl`.
    let audit_log = dir.path().join("audit.log");
    let enabled = cli.ok(&["audit", "enable", "file", &format!("file_path={}", audit_log.display())]);
    assert!(enabled.contains("Success! Enabled the file audit device at: file/"), "{enabled}");
    assert!(cli.ok(&["audit", "list", "-detailed"]).contains("file/"));
    let wrapped: Value =
        serde_json::from_str(&cli.ok(&["token", "create", "-format=json", "-policy=default", "-wrap-ttl=5m"])).unwrap();
    let wrapping = wrapped["wrap_info"]["token"].as_str().unwrap().to_owned();
    assert!(wrapped["auth"].is_null(), "{wrapped}");
    let unwrapped: Value = serde_json::from_str(&cli.ok(&["unwrap", "-format=json", &wrapping])).unwrap();
    let unwrapped_token = unwrapped["auth"]["client_token"].as_str().unwrap().to_owned();
    assert_eq!(unwrapped["auth"]["accessor"], wrapped["wrap_info"]["wrapped_accessor"]);
    assert!(cli.ok(&["audit", "disable", "file"]).contains("Success! Disabled audit device"));
    let audited = std::fs::read_to_string(&audit_log).unwrap();
    assert!(audited.contains("\"path\":\"sys/wrapping/unwrap\""), "{audited}");
    for secret in [root.as_str(), &token, &wrapping, &unwrapped_token] {
        assert!(!audited.contains(secret), "a token in clear in the audit log");
    }

    cli.ok(&["policy", "delete", "ops"]);
    cli.ok(&["auth", "disable", "jwt"]);
    assert!(cli.json(&["auth", "list"]).get("jwt/").is_none());
    let logs = server.stop();
    assert!(!logs.contains(&root) && !logs.contains(&token), "a token reached the logs");
}
