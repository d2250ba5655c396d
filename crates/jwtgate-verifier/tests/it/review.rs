//! What a TokenReview answer means, including hostile or broken apiservers: only an
//! authenticated service-account user for an audience that was asked for is accepted.

use jwtgate_verifier::{interpret_review, ReviewError, ReviewedUser};
use serde_json::json;

#[test]
fn answers_and_what_they_mean() {
    let review = |status: serde_json::Value| {
        json!({"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1", "status": status}).to_string()
    };
    let user = json!({"username": "system:serviceaccount:ns:app", "uid": "u-1", "groups": ["system:serviceaccounts"]});
    let cases: Vec<(&str, u16, String, Result<ReviewedUser, ReviewError>)> = vec![
        (
            "authenticated",
            201,
            review(json!({"authenticated": true, "user": user, "audiences": ["vault"]})),
            Ok(ReviewedUser { namespace: "ns".into(), name: "app".into(), uid: "u-1".into() }),
        ),
        (
            "no audiences echoed",
            200,
            review(json!({"authenticated": true, "user": user})),
            Ok(ReviewedUser { namespace: "ns".into(), name: "app".into(), uid: "u-1".into() }),
        ),
        (
            "status.error",
            201,
            review(json!({"user": {}, "error": "[invalid bearer token, service account token has expired]"})),
            Err(ReviewError::Refused("[invalid bearer token, service account token has expired]".into())),
        ),
        ("not authenticated", 201, review(json!({"user": {}})), Err(ReviewError::NotAuthenticated)),
        (
            "authenticated as a string",
            201,
            review(json!({"authenticated": "true", "user": user})),
            Err(ReviewError::NotAuthenticated),
        ),
        (
            "a user, not a service account",
            201,
            review(json!({"authenticated": true, "user": {"username": "system:node:n1:x"}})),
            Err(ReviewError::NotServiceAccount),
        ),
        (
            "an odd username",
            201,
            review(json!({"authenticated": true, "user": {"username": "admin"}})),
            Err(ReviewError::Username),
        ),
        (
            "another audience",
            201,
            review(json!({"authenticated": true, "user": user, "audiences": ["other"]})),
            Err(ReviewError::Audiences(vec!["other".into()])),
        ),
        ("401", 401, r#"{"kind":"Status","message":"Unauthorized"}"#.into(), Err(ReviewError::Unauthorized)),
        (
            "403",
            403,
            r#"{"kind":"Status","message":"tokenreviews.authentication.k8s.io is forbidden"}"#.into(),
            Err(ReviewError::Forbidden("tokenreviews.authentication.k8s.io is forbidden".into())),
        ),
        (
            "500 with a page",
            500,
            "<html>oops</html>".into(),
            Err(ReviewError::Status { status: 500, message: "<html>oops</html>".into() }),
        ),
        ("not JSON", 201, "garbage".into(), Err(ReviewError::Response("not a TokenReview".into()))),
        (
            "another kind",
            201,
            json!({"kind": "Status", "status": "Success"}).to_string(),
            Err(ReviewError::Response("not a TokenReview".into())),
        ),
    ];
    for (name, status, body, want) in cases {
        assert_eq!(interpret_review(status, body.as_bytes(), &["vault".to_string()]), want, "{name}");
    }
}

#[test]
fn refusal_texts_follow_vault() {
    let cases = [
        (ReviewError::Unauthorized, "lookup failed: service account unauthorized; this could mean it has been deleted or recreated with a new token"),
        (ReviewError::NotAuthenticated, "lookup failed: service account jwt not valid"),
        (ReviewError::Username, "lookup failed: unexpected username format"),
        (ReviewError::NotServiceAccount, "lookup failed: username returned is not a service account"),
        (ReviewError::Refused("x".into()), "lookup failed: x"),
    ];
    for (error, text) in cases {
        assert_eq!(error.to_string(), text);
    }
}
