//! `bound_claims` (TestValidateBoundClaims and the extra black-box cases): AND across keys,
//! any-match within lists, type-strict `string` mode, `*`-only `glob` mode, JSON pointers.

use crate::*;
use jwtgate_verifier::BoundClaimsType;

#[test]
fn bound_claims_matrix() {
    use BoundClaimsType::{Glob, String as Str};
    use TokenError::{BoundClaimMismatch, BoundClaimMissing, BoundClaimUnsupported};
    let mismatch = |k: &str| Err(BoundClaimMismatch(k.into()));
    let missing = |k: &str| Err(BoundClaimMissing(k.into()));
    let claims = json!({
        "sub": SUBJECT, "iat": NOW, "exp": NOW + 600,
        "groups": ["foo", "bar"], "color": "green", "pnum": 123, "fnum": 123.9, "flag": false,
        "email": "test@example.com", "answer": "42", "num42": 42, "nums": [1, 2],
        "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "app", "uid": "u-1"}},
        "nested": {"list": ["a", "b"]}, "obj": {"a": 1}
    });
    let cases: Vec<(Value, BoundClaimsType, Result<(), TokenError>)> = vec![
        (json!({"color": "green"}), Str, Ok(())),
        (json!({"color": ["red", "green"]}), Str, Ok(())),
        (json!({"color": "red"}), Str, mismatch("color")),
        (json!({"groups": "bar"}), Str, Ok(())),
        (json!({"groups": ["baz", "foo"]}), Str, Ok(())),
        (json!({"groups": ["baz"]}), Str, mismatch("groups")),
        (json!({"color": "green", "groups": "foo"}), Str, Ok(())),
        (json!({"color": "green", "groups": "nope"}), Str, mismatch("groups")),
        (json!({"missing": "x"}), Str, missing("missing")),
        // Numbers: directly found numbers are truncated integers; strings never equal numbers.
        (json!({"pnum": 123}), Str, Ok(())),
        (json!({"pnum": 456}), Str, mismatch("pnum")),
        (json!({"fnum": 123}), Str, Ok(())),
        (json!({"pnum": "123"}), Str, mismatch("pnum")),
        (json!({"answer": 42}), Str, mismatch("answer")),
        (json!({"nums": 1}), Str, mismatch("nums")),
        // Booleans only match booleans.
        (json!({"flag": false}), Str, Ok(())),
        (json!({"flag": [true, false]}), Str, Ok(())),
        (json!({"flag": "false"}), Str, mismatch("flag")),
        (json!({"flag": true}), Str, mismatch("flag")),
        // JSON pointers.
        (json!({"/kubernetes.io/namespace": "default"}), Str, Ok(())),
        (json!({"/kubernetes.io/serviceaccount/uid": "u-1"}), Str, Ok(())),
        (json!({"/kubernetes.io/namespace": "prod"}), Str, mismatch("/kubernetes.io/namespace")),
        (json!({"kubernetes.io/namespace": "default"}), Str, missing("kubernetes.io/namespace")),
        (json!({"/kubernetes.io/missing/deeper": "x"}), Str, missing("/kubernetes.io/missing/deeper")),
        (json!({"/nested/list/1": "b"}), Str, Ok(())),
        (json!({"/nested/list/01": "b"}), Str, missing("/nested/list/01")),
        (json!({"/nested/list/9": "b"}), Str, missing("/nested/list/9")),
        (json!({"/color/x": "b"}), Str, missing("/color/x")),
        (json!({"obj": "a"}), Str, Err(BoundClaimUnsupported("{\"a\":1}".into()))),
        // Globs: `*` only, anchored, strings only.
        (json!({"answer": "4*"}), Glob, Ok(())),
        (json!({"num42": "4*"}), Glob, mismatch("num42")),
        (json!({"answer": "*2"}), Glob, Ok(())),
        (json!({"answer": "d4*"}), Glob, mismatch("answer")),
        (json!({"email": "*@*.com"}), Glob, Ok(())),
        (json!({"email": "r*@*.com"}), Glob, mismatch("email")),
        (json!({"email": ["r*", "t*"]}), Glob, Ok(())),
        (json!({"/kubernetes.io/namespace": "def*"}), Glob, Ok(())),
        (json!({"sub": "system:serviceaccount:*:default"}), Glob, Ok(())),
        (json!({"sub": "system:serviceaccount:prod-*:default"}), Glob, mismatch("sub")),
        // In string mode a `*` is literal.
        (json!({"sub": "system:serviceaccount:*:default"}), Str, mismatch("sub")),
    ];
    let validator = static_validator(&[rsa()]);
    let token = rsa().token(&claims);
    for (bound, mode, expected) in cases {
        let policy = ClaimPolicy {
            bound_claims: bound.as_object().unwrap().clone(),
            bound_claims_type: mode,
            user_claim: "sub".into(),
            ..ClaimPolicy::default()
        };
        assert_eq!(check(&validator, &token, &policy, now()).map(drop), expected, "{bound} {mode:?}");
    }
}

#[test]
fn claim_values_with_wildcards_are_literal() {
    let validator = static_validator(&[rsa()]);
    let claims = json!({"sub": "system:serviceaccount:*:*", "iat": NOW});
    let policy = ClaimPolicy {
        bound_claims: json!({"sub": "system:serviceaccount:default:*"}).as_object().unwrap().clone(),
        bound_claims_type: BoundClaimsType::Glob,
        user_claim: "sub".into(),
        ..ClaimPolicy::default()
    };
    assert_eq!(
        check(&validator, &rsa().token(&claims), &policy, now()).map(drop),
        Err(TokenError::BoundClaimMismatch("sub".into()))
    );
}
