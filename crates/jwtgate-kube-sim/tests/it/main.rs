//! kube-sim against Kubernetes' documented behaviour: the cluster's decisions with time as a
//! parameter, the HTTPS front through a real TLS client, and real `kubectl`.

mod binary;
mod http;
mod kubectl;
mod review;
mod token_request;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwtgate_kube_sim::{Cluster, ClusterSpec, KeyType};
use serde_json::{json, Value};

pub const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// A 1.33 cluster with a pod `web` (service account `default`) in `default`.
pub fn cluster(minor: u32, key_type: KeyType) -> Cluster {
    let spec = ClusterSpec { minor, key_type, ..ClusterSpec::default() };
    let mut cluster = Cluster::new(spec, "https://sim.example");
    cluster.create_pod("default", &json!({"metadata": {"name": "web"}, "spec": {}}), NOW).unwrap();
    cluster
}

/// `kubectl create token default [--audience A] [--duration D] [--bound-object-kind K ...]` as JSON.
pub fn request(audiences: &[&str], seconds: Option<i64>, bound: Option<(&str, &str)>) -> Value {
    let mut spec = json!({});
    if !audiences.is_empty() {
        spec["audiences"] = json!(audiences);
    }
    if let Some(seconds) = seconds {
        spec["expirationSeconds"] = json!(seconds);
    }
    if let Some((kind, name)) = bound {
        spec["boundObjectRef"] = json!({"kind": kind, "apiVersion": "v1", "name": name});
    }
    json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
}

/// Issues a token for `default/default`.
pub fn token(cluster: &mut Cluster, audiences: &[&str], seconds: Option<i64>, bound: Option<(&str, &str)>) -> String {
    let (response, _) = cluster.token_request("default", "default", &request(audiences, seconds, bound), NOW).unwrap();
    response["status"]["token"].as_str().unwrap().to_owned()
}

/// The decoded header and payload, as raw text and as JSON.
pub fn parts(token: &str) -> (String, Value, String) {
    let mut it = token.split('.');
    let decode = |p: &str| String::from_utf8(URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
    let header = decode(it.next().unwrap());
    let payload = decode(it.next().unwrap());
    (header, serde_json::from_str(&payload).unwrap(), payload)
}

/// Whether a program runs here; under CI=true a missing tool is a failure, elsewhere a loud skip.
pub fn tool_available(program: &str) -> bool {
    let found = std::process::Command::new(program).arg("version").arg("--client").output().is_ok();
    if !found {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{program} is required in CI but is not installed");
        eprintln!("SKIPPED: {program} is not installed; install it to run this test");
    }
    found
}
