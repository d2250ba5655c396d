//! TokenRequest as `pkg/registry/core/serviceaccount/storage/token.go` processes it.

use crate::{cluster, parts, request, token, NOW};
use jwtgate_kube_sim::{kid, Cluster, ClusterSpec, KeyType};
use serde_json::json;

#[test]
fn claims_by_version_and_binding() {
    struct Case {
        name: &'static str,
        minor: u32,
        bound: Option<(&'static str, &'static str)>,
        want_keys: &'static [&'static str],
        want_private: &'static [&'static str],
    }
    let cases = [
        Case {
            name: "1.29 plain",
            minor: 29,
            bound: None,
            want_keys: &["aud", "exp", "iat", "iss", "kubernetes.io", "nbf", "sub"],
            want_private: &["namespace", "serviceaccount"],
        },
        Case {
            name: "1.33 plain has jti",
            minor: 33,
            bound: None,
            want_keys: &["aud", "exp", "iat", "iss", "jti", "kubernetes.io", "nbf", "sub"],
            want_private: &["namespace", "serviceaccount"],
        },
        Case {
            name: "1.29 pod-bound has no node",
            minor: 29,
            bound: Some(("Pod", "web")),
            want_keys: &["aud", "exp", "iat", "iss", "kubernetes.io", "nbf", "sub"],
            want_private: &["namespace", "pod", "serviceaccount"],
        },
        Case {
            name: "1.30 pod-bound has node and jti",
            minor: 30,
            bound: Some(("Pod", "web")),
            want_keys: &["aud", "exp", "iat", "iss", "jti", "kubernetes.io", "nbf", "sub"],
            want_private: &["namespace", "node", "pod", "serviceaccount"],
        },
        Case {
            name: "1.31 node-bound",
            minor: 31,
            bound: Some(("Node", "kube-sim-control-plane")),
            want_keys: &["aud", "exp", "iat", "iss", "jti", "kubernetes.io", "nbf", "sub"],
            want_private: &["namespace", "node", "serviceaccount"],
        },
    ];
    for case in cases {
        let mut c = cluster(case.minor, KeyType::Rsa2048);
        let token = token(&mut c, &["vault"], Some(600), case.bound);
        let (header, claims, payload) = parts(&token);
        assert_eq!(header, format!(r#"{{"alg":"RS256","kid":"{}"}}"#, c.signing_key().public.kid), "{}", case.name);
        let keys: Vec<&str> = claims.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, case.want_keys, "{}", case.name);
        let private: Vec<&str> = claims["kubernetes.io"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(private, case.want_private, "{}", case.name);
        // Keys are serialised sorted and compact, as the apiserver does.
        assert!(payload.starts_with(r#"{"aud":["vault"],"exp":"#), "{}: {payload}", case.name);
        assert_eq!(claims["exp"], json!(NOW + 600));
        assert_eq!(claims["nbf"], claims["iat"]);
        assert_eq!(claims["sub"], "system:serviceaccount:default:default");
        assert_eq!(claims["iss"], "https://sim.example");
    }
}

#[test]
fn defaults_limits_and_errors() {
    // Ok(seconds, audiences) or Err(status, message part).
    type Want = Result<(i64, &'static [&'static str]), (u16, &'static str)>;
    let cases: &[(&str, serde_json::Value, Want)] = &[
        ("defaults: API audiences and 3600 s", request(&[], None, None), Ok((3600, &["https://sim.example"]))),
        ("the minimum", request(&["vault"], Some(600), None), Ok((600, &["vault"]))),
        (
            "below the minimum",
            request(&["vault"], Some(599), None),
            Err((422, "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes")),
        ),
        (
            "above 2^32",
            request(&[], Some((1 << 32) + 1), None),
            Err((422, "may not specify a duration larger than 2^32 seconds")),
        ),
        ("missing pod", request(&[], None, Some(("Pod", "nope"))), Err((404, "pods \"nope\" not found"))),
        (
            "unknown kind",
            request(&[], None, Some(("ConfigMap", "x"))),
            Err((400, "cannot bind token to object of type ConfigMap")),
        ),
        (
            "node binding before 1.31",
            request(&[], None, Some(("Node", "kube-sim-control-plane"))),
            Err((400, "cannot bind token to object of type Node")),
        ),
    ];
    for (name, body, want) in cases {
        let mut c = cluster(30, KeyType::Rsa2048);
        let got = c.token_request("default", "default", body, NOW);
        match (got, want) {
            (Ok((response, None)), Ok((seconds, audiences))) => {
                assert_eq!(response["spec"]["expirationSeconds"], json!(seconds), "{name}");
                assert_eq!(response["spec"]["audiences"], json!(audiences), "{name}");
                assert_eq!(
                    response["status"]["expirationTimestamp"],
                    json!(jwtgate_kube_sim::rfc3339(NOW + seconds)),
                    "{name}"
                );
                assert_eq!(response["spec"]["boundObjectRef"], json!(null), "{name}");
            }
            (Err(e), Err((code, text))) => {
                assert_eq!(e.code, *code, "{name}: {}", e.message);
                assert!(e.message.contains(text), "{name}: {}", e.message);
            }
            (got, _) => panic!("{name}: {got:?}"),
        }
    }
    let mut c = cluster(33, KeyType::Rsa2048);
    let missing = c.token_request("default", "ghost", &request(&[], None, None), NOW).unwrap_err();
    assert_eq!((missing.code, missing.message.as_str()), (404, "serviceaccounts \"ghost\" not found"));
    c.create_service_account("default", &json!({"metadata": {"name": "other"}}), NOW).unwrap();
    let other = c.token_request("default", "other", &request(&[], None, Some(("Pod", "web"))), NOW).unwrap_err();
    assert_eq!(other.code, 400);
    assert!(other.message.contains("to pod running with different serviceaccount name"), "{}", other.message);
    let mut stale = request(&[], None, Some(("Pod", "web")));
    stale["spec"]["boundObjectRef"]["uid"] = json!("00000000-0000-4000-8000-000000000000");
    assert_eq!(c.token_request("default", "default", &stale, NOW).unwrap_err().code, 409);
}

#[test]
fn extended_pod_tokens_and_the_expiry_cap() {
    // kubelet's 3607 s pod token with API audiences gets a year and warnafter.
    let mut c = cluster(33, KeyType::Rsa2048);
    let extended = token(&mut c, &[], Some(3607), Some(("Pod", "web")));
    let (_, claims, _) = parts(&extended);
    assert_eq!(claims["exp"], json!(NOW + 31_536_000));
    assert_eq!(claims["kubernetes.io"]["warnafter"], json!(NOW + 3607));
    // Not for a custom audience, nor when not pod-bound.
    for (audiences, bound) in [(&["vault"][..], Some(("Pod", "web"))), (&[][..], None)] {
        let (_, claims, _) = parts(&token(&mut c, audiences, Some(3607), bound));
        assert_eq!(claims["exp"], json!(NOW + 3607));
        assert!(claims["kubernetes.io"].get("warnafter").is_none());
    }
    let spec = ClusterSpec { max_token_expiration: 7200, ..ClusterSpec::default() };
    let mut capped = Cluster::new(spec, "https://sim.example");
    let (response, warning) =
        capped.token_request("default", "default", &request(&[], Some(86_400), None), NOW).unwrap();
    assert_eq!(response["spec"]["expirationSeconds"], json!(7200));
    assert_eq!(warning.as_deref(), Some("requested expiration of 86400 seconds shortened to 7200 seconds"));
}

#[test]
fn keys_algorithms_and_kids() {
    for (key_type, alg, crv) in [
        (KeyType::Rsa2048, "RS256", None),
        (KeyType::Rsa3072, "RS256", None),
        (KeyType::P256, "ES256", Some("P-256")),
        (KeyType::P384, "ES384", Some("P-384")),
        (KeyType::P521, "ES512", Some("P-521")),
    ] {
        let mut c = cluster(33, key_type);
        let (header, _, _) = parts(&token(&mut c, &[], None, None));
        assert!(header.starts_with(&format!(r#"{{"alg":"{alg}","kid":""#)), "{header}");
        let jwks: serde_json::Value = serde_json::from_str(&c.jwks()).unwrap();
        let jwk = &jwks["keys"][0];
        assert_eq!((jwk["use"].as_str(), jwk["alg"].as_str(), jwk["crv"].as_str()), (Some("sig"), Some(alg), crv));
        let order: Vec<&str> = match crv {
            None => vec!["use", "kty", "kid", "alg", "n", "e"],
            Some(_) => vec!["use", "kty", "kid", "crv", "alg", "x", "y"],
        };
        let text = c.jwks();
        let positions: Vec<usize> = order.iter().map(|k| text.find(&format!("\"{k}\":")).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "member order of {text}");
        let doc: serde_json::Value = serde_json::from_str(&c.discovery_document("https://x/openid/v1/jwks")).unwrap();
        assert_eq!(doc["id_token_signing_alg_values_supported"], json!([alg]));
    }
}

/// The kid is Kubernetes' derivation, checked with the openssl CLI as in
/// `shared/spec/kubernetes-tokens.md` §7 step 3.
#[test]
fn kid_matches_the_openssl_cli() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let c = cluster(33, KeyType::Rsa2048);
    let public = c.signing_key().public.public_pem();
    let mut der = Command::new("openssl")
        .args(["pkey", "-pubin", "-outform", "DER"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl CLI");
    der.stdin.take().unwrap().write_all(public.as_bytes()).unwrap();
    let der = der.wait_with_output().unwrap().stdout;
    let digest = Command::new("sh")
        .args(["-c", "openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\\n'"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    digest.stdin.as_ref().unwrap().write_all(&der).unwrap();
    let cli_kid = String::from_utf8(digest.wait_with_output().unwrap().stdout).unwrap();
    assert_eq!(cli_kid, c.signing_key().public.kid);
    assert_eq!(kid(&der), cli_kid);
    assert_eq!(cli_kid.len(), 43);
}
