//! The `kube-sim` binary: flags, the ready line, the kubeconfig, a clean stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn flags_ready_line_kubeconfig_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kube-sim"))
        .args(["--name", "bin", "--issuer", "https://issuer.example", "--version", "1.29", "--key", "p384"])
        .args(["--api-audiences", "https://issuer.example,extra", "--admin-token", "admin-secret", "--kubeconfig"])
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(ready["issuer"], "https://issuer.example");
    let server = ready["server"].as_str().unwrap().to_owned();
    assert!(server.starts_with("https://127.0.0.1:"), "{server}");
    let config = std::fs::read_to_string(&kubeconfig).unwrap();
    for want in [format!("server: {server}"), "token: admin-secret".into(), "current-context: bin".into()] {
        assert!(config.contains(&want), "{want} not in {config}");
    }

    // The CA is the kubeconfig's; the discovery document shows the flags.
    use base64::Engine;
    let ca = config.lines().find_map(|l| l.trim().strip_prefix("certificate-authority-data: ")).unwrap();
    let ca = base64::engine::general_purpose::STANDARD.decode(ca).unwrap();
    use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
    let tls = TlsConfig::builder()
        .provider(TlsProvider::NativeTls)
        .root_certs(RootCerts::new_with_certs(&[Certificate::from_pem(&ca).unwrap().to_owned()]))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).build().into();
    let get = |path: &str| {
        agent
            .get(&format!("{server}{path}"))
            .header("Authorization", "Bearer admin-secret")
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap()
    };
    assert!(get("/.well-known/openid-configuration").contains(r#""id_token_signing_alg_values_supported":["ES384"]"#));
    assert!(get("/version").contains(r#""minor":"29""#));
    let token = agent
        .post(&format!("{server}/api/v1/namespaces/default/serviceaccounts/default/token"))
        .header("Authorization", "Bearer admin-secret")
        .send("{}")
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    let token: serde_json::Value = serde_json::from_str(&token).unwrap();
    let (_, claims, _) = crate::parts(token["status"]["token"].as_str().unwrap());
    assert_eq!(claims["aud"], serde_json::json!(["https://issuer.example", "extra"]));
    assert!(claims.get("jti").is_none(), "1.29 has no jti");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success(), "kube-sim did not stop cleanly on SIGTERM");
}

#[test]
fn bad_flags_are_refused() {
    for (args, want) in [
        (&["--version", "1.40"][..], "--version must be 1.21 to 1.33"),
        (&["--key", "dsa"][..], "unknown key type"),
        (&["--ca-cert", "/nonexistent"][..], "cannot read /nonexistent"),
        (&["--bogus", "x"][..], "unknown flag --bogus"),
        (&["--listen"][..], "--listen needs a value"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_kube-sim")).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}
