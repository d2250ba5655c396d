//! The images from `e2e/docker/` started with testcontainers on one Docker network, and
//! scenario 1 (issuer discovery) over container networking: jwtgate fetches discovery and
//! JWKS from the kube-sim container by name; the test reaches both only through ports
//! mapped on 127.0.0.1. Needs a Docker engine: skipped loudly without one, failed in CI.

use jwtgate_kube_sim::ClusterCa;
use std::path::{Path, PathBuf};
use std::process::Command;
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::SyncRunner;
use testcontainers::{GenericImage, ImageExt};

fn docker_available() -> bool {
    let works = Command::new("docker").arg("version").output().is_ok_and(|o| o.status.success());
    if !works {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "a Docker engine is required in CI (see .ci/run)");
        eprintln!("SKIPPED: no Docker engine answers `docker version`; container tests did not run");
    }
    works
}

/// target/debug, where `cargo test --workspace` has built `jwtgate` and `kube-sim`.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_owned();
    for binary in ["jwtgate", "kube-sim"] {
        assert!(
            dir.join(binary).exists(),
            "{binary} is not built in {}: run `cargo build -p jwtgate -p jwtgate-kube-sim`",
            dir.display()
        );
    }
    dir
}

fn run(program: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(program).args(args).envs(env.iter().copied()).output().unwrap();
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn issuer_discovery_over_container_networking() {
    if !docker_available() {
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let bins = bin_dir();
    jwtgate_e2e::images::build(repo, &bins).unwrap();

    let suffix = jwtgate_kube_sim::uuid()[..8].to_string();
    let network = format!("jwtgate-e2e-{suffix}");
    let sim_name = format!("kube-sim-{suffix}");
    let issuer = format!("https://{sim_name}:6443");
    let ca = ClusterCa::generate("compose");
    let admin = "admin-token-for-the-container-test";
    let kube_sim = GenericImage::new("localhost/kube-sim", "dev")
        .with_exposed_port(6443.tcp())
        .with_wait_for(WaitFor::message_on_stdout("\"server\""))
        .with_cmd([
            "--listen",
            "0.0.0.0:6443",
            "--external-url",
            &issuer,
            "--admin-token",
            admin,
            "--ca-cert",
            "/ca/ca.crt",
            "--ca-key",
            "/ca/ca.key",
        ])
        .with_copy_to("/ca/ca.crt", ca.cert_pem().into_bytes())
        .with_copy_to("/ca/ca.key", ca.key_pem().into_bytes())
        .with_network(&network)
        .with_container_name(&sim_name)
        .start()
        .expect("kube-sim container");
    let jwtgate = GenericImage::new("localhost/jwtgate", "dev")
        .with_exposed_port(8200.tcp())
        .with_wait_for(WaitFor::message_on_stdout("dev mode is enabled"))
        .with_network(&network)
        .start()
        .expect("jwtgate container");
    let sim_port = kube_sim.get_host_port_ipv4(6443).unwrap();
    let jwtgate_port = jwtgate.get_host_port_ipv4(8200).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let ca_file = dir.path().join("ca.crt");
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{sim_port}\n    certificate-authority: {}\nusers:\n- name: u\n  user:\n    token: {admin}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u, namespace: default}}\ncurrent-context: c\n",
            ca_file.display()
        ),
    )
    .unwrap();
    let kubectl = |args: &[&str]| {
        let mut all = vec!["--kubeconfig", kubeconfig.to_str().unwrap()];
        all.extend_from_slice(args);
        run(Path::new("kubectl"), &all, &[])
    };
    let discovery = kubectl(&["get", "--raw", "/.well-known/openid-configuration"]);
    assert!(discovery.contains(&format!("\"issuer\":\"{issuer}\"")), "{discovery}");
    kubectl(&[
        "create",
        "clusterrolebinding",
        "oidc-reviewer",
        "--clusterrole=system:service-account-issuer-discovery",
        "--group=system:unauthenticated",
    ]);

    let address = format!("http://127.0.0.1:{jwtgate_port}");
    let env = [("VAULT_ADDR", address.as_str()), ("VAULT_TOKEN", "root"), ("HOME", dir.path().to_str().unwrap())];
    let jwtgate_cli = |args: &[&str]| run(&bins.join("jwtgate"), args, &env);
    jwtgate_cli(&["auth", "enable", "jwt"]);
    jwtgate_cli(&[
        "write",
        "auth/jwt/config",
        &format!("oidc_discovery_url={issuer}"),
        &format!("oidc_discovery_ca_pem=@{}", ca_file.display()),
    ]);
    jwtgate_cli(&[
        "write",
        "auth/jwt/role/my-role",
        "role_type=jwt",
        &format!("bound_audiences={issuer}"),
        "user_claim=sub",
        "bound_subject=system:serviceaccount:default:default",
        "policies=default",
        "ttl=1h",
    ]);
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, kubectl(&["create", "token", "default"])).unwrap();
    let login = jwtgate_cli(&[
        "write",
        "-format=json",
        "auth/jwt/login",
        "role=my-role",
        &format!("jwt=@{}", token_file.display()),
    ]);
    let reply: serde_json::Value = serde_json::from_str(&login).unwrap();
    assert_eq!(reply["auth"]["policies"], serde_json::json!(["default"]), "{login}");
    assert_eq!(reply["auth"]["lease_duration"], 3600);
    // The token is verified against keys jwtgate fetched from the kube-sim container.
    let sim_log = String::from_utf8(kube_sim.stderr_to_vec().unwrap()).unwrap();
    assert!(sim_log.contains("GET /openid/v1/jwks 200"), "{sim_log}");
}
