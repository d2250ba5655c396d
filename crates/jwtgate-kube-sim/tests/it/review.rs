//! TokenReview as kube-apiserver's service-account authenticator decides it.

use crate::{cluster, token, NOW};
use jwtgate_kube_sim::{ClusterSpec, KeyType, SigningKey};
use serde_json::json;

fn review(c: &jwtgate_kube_sim::Cluster, token: &str, audiences: &[&str], now: i64) -> serde_json::Value {
    let audiences: Vec<String> = audiences.iter().map(|a| a.to_string()).collect();
    c.token_review(token, &audiences, now)
}

#[test]
fn accepts_a_valid_token_with_the_users_details() {
    let mut c = cluster(33, KeyType::Rsa2048);
    let token = token(&mut c, &["vault"], Some(600), Some(("Pod", "web")));
    let status = review(&c, &token, &["vault", "other"], NOW);
    assert_eq!(status["authenticated"], true, "{status}");
    assert_eq!(status["audiences"], json!(["vault"]));
    assert_eq!(status["user"]["username"], "system:serviceaccount:default:default");
    assert_eq!(
        status["user"]["groups"],
        json!(["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"])
    );
    let extra = &status["user"]["extra"];
    assert_eq!(extra["authentication.kubernetes.io/pod-name"], json!(["web"]));
    assert!(extra["authentication.kubernetes.io/credential-id"][0].as_str().unwrap().starts_with("JTI="));
    assert_eq!(extra["authentication.kubernetes.io/node-name"], json!(["kube-sim-control-plane"]));
    let sa_uid = c.service_account("default", "default", NOW).unwrap()["metadata"]["uid"].clone();
    assert_eq!(status["user"]["uid"], sa_uid);
}

#[test]
fn refusals_carry_kubernetes_texts() {
    type Mutate = fn(&mut jwtgate_kube_sim::Cluster);
    let cases: &[(&str, &[&str], i64, Mutate, &str)] = &[
        (
            "expired past the leeway",
            &["vault"],
            NOW + 600 + 61,
            |_| {},
            "[invalid bearer token, service account token has expired]",
        ),
        (
            "audience",
            &["other"],
            NOW,
            |_| {},
            r#"[invalid bearer token, token audiences ["vault"] is invalid for the target audiences ["other"]]"#,
        ),
        (
            "not valid yet",
            &["vault"],
            NOW - 61,
            |_| {},
            "[invalid bearer token, service account token is not valid yet]",
        ),
        (
            "pod deleted",
            &["vault"],
            NOW,
            |c| drop(c.delete_pod("default", "web", NOW)),
            "[invalid bearer token, service account token has been invalidated]",
        ),
        (
            "service account deleted",
            &["vault"],
            NOW,
            |c| drop(c.delete_service_account("default", "default", NOW)),
            "[invalid bearer token, service account token has been invalidated]",
        ),
        (
            "service account recreated",
            &["vault"],
            NOW,
            |c| {
                c.delete_service_account("default", "default", NOW).unwrap();
                c.create_service_account("default", &json!({"metadata": {"name": "default"}}), NOW).unwrap();
            },
            "does not match claim",
        ),
        (
            "pod recreated",
            &["vault"],
            NOW,
            |c| {
                c.delete_pod("default", "web", NOW).unwrap();
                c.create_pod("default", &json!({"metadata": {"name": "web"}}), NOW).unwrap();
            },
            "[invalid bearer token, pod UID (",
        ),
        (
            "signing key retired",
            &["vault"],
            NOW,
            |c| c.rotate(SigningKey::generate(KeyType::Rsa2048), true),
            "[invalid bearer token, invalid signature, no keys found]",
        ),
    ];
    for (name, audiences, now, mutate, want) in cases {
        let mut c = cluster(33, KeyType::Rsa2048);
        let token = token(&mut c, &["vault"], Some(600), Some(("Pod", "web")));
        mutate(&mut c);
        let status = review(&c, &token, audiences, *now);
        assert_eq!(status["authenticated"], json!(null), "{name}: {status}");
        assert_eq!(status["user"], json!({}), "{name}");
        let error = status["error"].as_str().unwrap_or_default();
        assert!(error.contains(want), "{name}: {error}");
    }
}

#[test]
fn leeway_rotation_and_foreign_tokens() {
    let mut c = cluster(33, KeyType::P256);
    let token = token(&mut c, &["vault"], Some(600), None);
    // 60 s of leeway on exp.
    assert_eq!(review(&c, &token, &["vault"], NOW + 600 + 60)["authenticated"], true);
    // A rotation that keeps the old key published keeps old tokens valid.
    c.rotate(SigningKey::generate(KeyType::Rsa2048), false);
    assert_eq!(review(&c, &token, &["vault"], NOW)["authenticated"], true);
    // Another cluster's token with another issuer: the authenticator abstains (no error).
    let mut other = jwtgate_kube_sim::Cluster::new(ClusterSpec::default(), "https://elsewhere.example");
    let foreign = crate::token(&mut other, &["vault"], Some(600), None);
    assert_eq!(review(&c, &foreign, &["vault"], NOW), json!({"user": {}}));
    assert_eq!(review(&c, "not-a-jwt", &[], NOW), json!({"user": {}}));
    // Same issuer string, other keys: a signature failure.
    let mut twin = jwtgate_kube_sim::Cluster::new(ClusterSpec::default(), "https://sim.example");
    let twin_token = crate::token(&mut twin, &["vault"], Some(600), None);
    assert!(review(&c, &twin_token, &["vault"], NOW)["error"].as_str().unwrap().contains("invalid signature"));
    // 1.21's wording.
    let mut old = cluster(21, KeyType::Rsa2048);
    let old_token = crate::token(&mut old, &["vault"], Some(600), None);
    assert_eq!(review(&old, &old_token, &["vault"], NOW + 700)["error"], "[invalid bearer token, Token has expired.]");
}

#[test]
fn legacy_secret_tokens() {
    let mut c = cluster(33, KeyType::Rsa2048);
    let secret = c
        .create_secret(
            "default",
            &json!({"metadata": {"name": "build-robot-secret", "annotations": {"kubernetes.io/service-account.name": "default"}},
                "type": "kubernetes.io/service-account-token"}),
            NOW,
        )
        .unwrap();
    let token = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, secret["data"]["token"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let (header, claims, _) = crate::parts(&token);
    assert!(header.starts_with(r#"{"alg":"RS256","kid":"#));
    assert_eq!(claims["iss"], "kubernetes/serviceaccount");
    assert_eq!(claims["kubernetes.io/serviceaccount/secret.name"], "build-robot-secret");
    for absent in ["aud", "exp", "iat", "nbf", "jti"] {
        assert!(claims.get(absent).is_none(), "{absent}");
    }
    // No aud: the API audiences are implied, so a custom audience is refused.
    assert_eq!(review(&c, &token, &[], NOW + 10 * 365 * 86_400)["authenticated"], true);
    assert!(review(&c, &token, &["vault"], NOW)["error"]
        .as_str()
        .unwrap()
        .contains("is invalid for the target audiences"));
    c.delete_secret("default", "build-robot-secret", NOW).unwrap();
    assert_eq!(review(&c, &token, &[], NOW)["error"], "[invalid bearer token, Token has been invalidated]");
}
