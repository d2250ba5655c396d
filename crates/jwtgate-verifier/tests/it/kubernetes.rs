//! Kubernetes-shaped tokens (kubernetes-tokens.md §1): projected, extended pod tokens, jti and
//! node claims, legacy secret tokens, and many chained clusters.

use crate::*;

#[test]
fn kubernetes_token_shapes() {
    let one_year = 31_536_000;
    let cases: Vec<(&str, Value, ClaimPolicy, Result<(), TokenError>)> = vec![
        ("projected, audience vault, 10 minutes", k8s_claims(), k8s_policy(), Ok(())),
        (
            "projected, custom audience",
            claims_with(|c| {
                c.insert("aud".into(), json!(["https://my-audience.example.com"]));
            }),
            ClaimPolicy { bound_audiences: vec!["https://my-audience.example.com".into()], ..k8s_policy() },
            Ok(()),
        ),
        (
            "API-server default audience refused by a vault role",
            claims_with(|c| {
                c.insert("aud".into(), json!([ISSUER]));
            }),
            k8s_policy(),
            Err(TokenError::Audience),
        ),
        (
            "extended pod token with warnafter, a day old",
            claims_with(|c| {
                c.insert("iat".into(), json!(NOW - 86_400));
                c.insert("nbf".into(), json!(NOW - 86_400));
                c.insert("exp".into(), json!(NOW - 86_400 + one_year));
                c["kubernetes.io"]["warnafter"] = json!(NOW - 86_400 + 3607);
            }),
            k8s_policy(),
            Ok(()),
        ),
        (
            "token without jti and node (1.21-1.29)",
            claims_with(|c| {
                c.remove("jti");
                c["kubernetes.io"].as_object_mut().unwrap().remove("node");
            }),
            k8s_policy(),
            Ok(()),
        ),
        (
            "expired projected token",
            claims_with(|c| {
                c.insert("exp".into(), json!(NOW - 61));
            }),
            k8s_policy(),
            Err(TokenError::Expired),
        ),
        (
            "legacy secret token (no iat, nbf, exp, aud)",
            json!({
                "iss": "kubernetes/serviceaccount",
                "kubernetes.io/serviceaccount/namespace": "default",
                "kubernetes.io/serviceaccount/secret.name": "build-robot-secret",
                "kubernetes.io/serviceaccount/service-account.name": "build-robot",
                "kubernetes.io/serviceaccount/service-account.uid": "a6cc16a0-5a58-4ad6-8d0e-21ba957001de",
                "sub": "system:serviceaccount:default:build-robot"
            }),
            ClaimPolicy {
                bound_subject: "system:serviceaccount:default:build-robot".into(),
                bound_audiences: vec![],
                ..k8s_policy()
            },
            Err(TokenError::NoTimeClaims),
        ),
    ];
    for key in [rsa(), p256()] {
        let validator = static_validator(&[key]);
        for (name, claims, policy, expected) in &cases {
            let result = check(&validator, &key.token(claims), policy, now()).map(drop);
            assert_eq!(&result, expected, "{name} ({})", key.alg());
        }
    }
}

#[test]
fn kubernetes_identity_by_pointer() {
    let validator = static_validator(&[rsa()]);
    let policy = ClaimPolicy {
        user_claim: "/kubernetes.io/serviceaccount/uid".into(),
        user_claim_json_pointer: true,
        claim_mappings: vec![
            ("/kubernetes.io/namespace".into(), "namespace".into()),
            ("/kubernetes.io/pod/name".into(), "pod".into()),
        ],
        bound_claims: json!({"/kubernetes.io/namespace": ["default", "prod"]}).as_object().unwrap().clone(),
        ..k8s_policy()
    };
    let identity = check(&validator, &rsa().token(&k8s_claims()), &policy, now()).unwrap();
    assert_eq!(identity.alias_name, "6379dd98-765e-4818-9e3c-621c70b0f730");
    assert_eq!(
        identity.metadata,
        vec![("namespace".to_owned(), "default".to_owned()), ("pod".to_owned(), "app-7d9c".to_owned())]
    );
    assert_eq!(identity.claims()["jti"], "a9a186b9-58c4-4000-b767-e55399d278dd");
}

#[test]
fn fifty_chained_clusters() {
    let keys: Vec<TestKey> = (0..49).map(|_| TestKey::p256()).chain([rsa().clone()]).collect();
    let refs: Vec<&TestKey> = keys.iter().collect();
    let validator = static_validator(&refs);
    for key in [&keys[0], &keys[24], &keys[49]] {
        assert!(check(&validator, &key.token(&k8s_claims()), &k8s_policy(), now()).is_ok());
        // Without a kid, Vault's fallback tries every key in order.
        let no_kid = key.sign_raw(key.alg(), &json!({"alg": key.alg()}).to_string(), &k8s_claims().to_string());
        assert!(check(&validator, &no_kid, &k8s_policy(), now()).is_ok());
    }
    // A third cluster's key is refused.
    assert_eq!(
        check(&validator, &other_rsa().token(&k8s_claims()), &k8s_policy(), now()).map(drop),
        Err(TokenError::NoStaticKeyVerified)
    );
}

#[test]
fn a_matching_kid_is_the_only_candidate() {
    // Two clusters; a token claims cluster A's kid but is signed by B: refused, no fallback.
    let validator = static_validator(&[rsa(), other_rsa()]);
    let forged = other_rsa().sign_raw(
        "RS256",
        &json!({"alg": "RS256", "kid": rsa().kid()}).to_string(),
        &k8s_claims().to_string(),
    );
    assert_eq!(check(&validator, &forged, &k8s_policy(), now()).map(drop), Err(TokenError::NoStaticKeyVerified));
}
