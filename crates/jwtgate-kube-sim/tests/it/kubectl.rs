//! Real `kubectl` against kube-sim: the seed's commands (tested when kubectl is installed,
//! required under CI=true).

use crate::http::Client;
use crate::{parts, tool_available};
use jwtgate_kube_sim::{Sim, SimConfig};
use std::process::Command;

fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("kubectl").arg("--kubeconfig").arg(kubeconfig).args(args).output().unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn the_seeds_kubectl_commands() {
    if !tool_available("kubectl") {
        return;
    }
    let sim = Sim::start(SimConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, sim.kubeconfig()).unwrap();

    let (ok, discovery, err) = kubectl(&kubeconfig, &["get", "--raw", "/.well-known/openid-configuration"]);
    assert!(ok, "{err}");
    let issuer = serde_json::from_str::<serde_json::Value>(&discovery).unwrap()["issuer"].as_str().unwrap().to_owned();
    assert_eq!(issuer, sim.url);
    let (ok, jwks, err) = kubectl(&kubeconfig, &["get", "--raw", "/openid/v1/jwks"]);
    assert!(ok && jwks.contains(&sim.cluster().signing_key().public.kid), "{err}");

    // kubectl sends TokenRequest as protobuf; no trailing newline when captured.
    let (ok, token, err) =
        kubectl(&kubeconfig, &["create", "token", "default", "--audience", "vault", "--duration", "10m"]);
    assert!(ok, "{err}");
    assert!(!token.ends_with('\n'));
    let (_, claims, _) = parts(&token);
    assert_eq!(claims["aud"], serde_json::json!(["vault"]));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 600);
    let (ok, _, err) = kubectl(&kubeconfig, &["create", "token", "default", "--duration", "5m"]);
    assert!(!ok);
    assert!(err.contains("may not specify a duration less than 10 minutes"), "{err}");

    let client = Client::new(&sim);
    assert_eq!(client.call("GET", "/.well-known/openid-configuration", None, None).0, 403);
    let (ok, out, err) = kubectl(
        &kubeconfig,
        &[
            "create",
            "clusterrolebinding",
            "oidc-reviewer",
            "--clusterrole=system:service-account-issuer-discovery",
            "--group=system:unauthenticated",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "clusterrolebinding.rbac.authorization.k8s.io/oidc-reviewer created");
    assert_eq!(client.call("GET", "/.well-known/openid-configuration", None, None).0, 200);

    let (ok, out, err) = kubectl(&kubeconfig, &["create", "serviceaccount", "demo"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "serviceaccount/demo created");
    let (ok, token, err) = kubectl(&kubeconfig, &["-n", "default", "create", "token", "demo"]);
    assert!(ok, "{err}");
    assert_eq!(parts(&token).1["sub"], "system:serviceaccount:default:demo");
    let (ok, _, err) = kubectl(&kubeconfig, &["create", "token", "ghost"]);
    assert!(!ok && err.contains("serviceaccounts \"ghost\" not found"), "{err}");

    // Pod-bound, as kubelet asks for projected volumes.
    let pod = dir.path().join("pod.json");
    std::fs::write(
        &pod,
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"test-pod"},"spec":{"serviceAccountName":"demo"}}"#,
    )
    .unwrap();
    let (ok, _, err) =
        kubectl(&kubeconfig, &["create", "--raw", "/api/v1/namespaces/default/pods", "-f", pod.to_str().unwrap()]);
    assert!(ok, "{err}");
    let (ok, token, err) = kubectl(
        &kubeconfig,
        &["create", "token", "demo", "--bound-object-kind", "Pod", "--bound-object-name", "test-pod"],
    );
    assert!(ok, "{err}");
    assert_eq!(parts(&token).1["kubernetes.io"]["pod"]["name"], "test-pod");
    let (ok, out, err) = kubectl(&kubeconfig, &["get", "pods", "-o", "name"]);
    assert!(ok && out.trim() == "pod/test-pod", "{out}{err}");
    let (ok, out, err) = kubectl(&kubeconfig, &["get", "serviceaccount", "demo", "-o", "jsonpath={.metadata.name}"]);
    assert!(ok && out == "demo", "{out}{err}");
    // Through discovery, and waiting until the pod is gone.
    let (ok, out, err) = kubectl(&kubeconfig, &["delete", "pod", "test-pod", "--wait=true"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "pod \"test-pod\" deleted");
    let (ok, _, err) = kubectl(&kubeconfig, &["delete", "--raw", "/api/v1/namespaces/default/pods/test-pod"]);
    assert!(!ok && err.contains("pods \"test-pod\" not found"), "{err}");

    let (ok, out, err) = kubectl(&kubeconfig, &["version", "-o", "json"]);
    assert!(ok, "{err}");
    assert!(out.contains("\"minor\": \"33\""), "{out}");
}
