//! Login bindings against token claims: each case writes a role and logs in with one token.

use super::Fixture;
use crate::{Case, Step, Who};
use serde_json::{json, Value};

pub fn cases(fixture: &Fixture) -> Vec<Case> {
    let now = jwtgate_testkit::now();
    let role = |changes: Value| {
        let base =
            json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "vault", "token_policies": "ops"});
        super::merged(base, &changes)
    };
    let table: Vec<(&str, Value, String)> = vec![
        ("valid", json!({}), fixture.jwt(json!({}))),
        ("audience mismatch", json!({"bound_audiences": "other"}), fixture.jwt(json!({}))),
        ("audience string claim", json!({}), fixture.jwt(json!({"aud": "vault"}))),
        ("no audience claim", json!({}), fixture.jwt(json!({"aud": null}))),
        ("subject bound", json!({"bound_subject": "system:serviceaccount:default:default"}), fixture.jwt(json!({}))),
        ("subject mismatch", json!({"bound_subject": "x"}), fixture.jwt(json!({}))),
        ("expired", json!({}), fixture.jwt(json!({"exp": now - 3600}))),
        ("expired within leeway", json!({"expiration_leeway": "2h"}), fixture.jwt(json!({"exp": now - 3600}))),
        ("not yet valid", json!({}), fixture.jwt(json!({"nbf": now + 3600}))),
        ("no expiry", json!({}), fixture.jwt(json!({"exp": null}))),
        ("issued in the future", json!({}), fixture.jwt(json!({"iat": now + 3600}))),
        ("bound claims", json!({"bound_claims": {"/kubernetes.io/namespace": "default"}}), fixture.jwt(json!({}))),
        (
            "bound claims mismatch",
            json!({"bound_claims": {"/kubernetes.io/namespace": "other"}}),
            fixture.jwt(json!({})),
        ),
        (
            "bound claims glob",
            json!({"bound_claims_type": "glob", "bound_claims": {"sub": "system:serviceaccount:*"}}),
            fixture.jwt(json!({})),
        ),
        ("bound claims list", json!({"bound_claims": {"team": ["a", "b"]}}), fixture.jwt(json!({"team": "b"}))),
        ("bound claims missing claim", json!({"bound_claims": {"team": "a"}}), fixture.jwt(json!({}))),
        (
            "claim mappings",
            json!({"claim_mappings": {"/kubernetes.io/namespace": "ns", "team": "team"}}),
            fixture.jwt(json!({"team": "a"})),
        ),
        // One non-string claim per case: Go's map order picks which one an error names.
        ("claim mapping of a number", json!({"claim_mappings": {"n": "n"}}), fixture.jwt(json!({"n": 5}))),
        ("claim mapping of a boolean", json!({"claim_mappings": {"b": "b"}}), fixture.jwt(json!({"b": true}))),
        ("claim mapping of a list", json!({"claim_mappings": {"l": "l"}}), fixture.jwt(json!({"l": ["x"]}))),
        ("user claim missing", json!({"user_claim": "email"}), fixture.jwt(json!({}))),
        ("user claim not a string", json!({"user_claim": "n"}), fixture.jwt(json!({"n": 5}))),
        (
            "user claim pointer",
            json!({"user_claim": "/kubernetes.io/namespace", "user_claim_json_pointer": true}),
            fixture.jwt(json!({})),
        ),
        ("groups claim", json!({"groups_claim": "groups"}), fixture.jwt(json!({"groups": ["g1", "g2"]}))),
        ("groups claim not a list", json!({"groups_claim": "groups"}), fixture.jwt(json!({"groups": 5}))),
        ("token ttl", json!({"token_ttl": "30m", "token_max_ttl": "1h"}), fixture.jwt(json!({}))),
        ("token num uses", json!({"token_num_uses": 2}), fixture.jwt(json!({}))),
        ("token period", json!({"token_period": "10m"}), fixture.jwt(json!({}))),
        ("batch token", json!({"token_type": "batch"}), fixture.jwt(json!({}))),
        ("no default policy", json!({"token_no_default_policy": true}), fixture.jwt(json!({}))),
        ("bound cidr allows", json!({"token_bound_cidrs": "127.0.0.1"}), fixture.jwt(json!({}))),
        ("bound cidr refuses", json!({"token_bound_cidrs": "10.0.0.0/8"}), fixture.jwt(json!({}))),
        ("login cidr refuses", json!({"bound_cidrs": "10.0.0.0/8"}), fixture.jwt(json!({}))),
        ("signed by a stranger", json!({}), fixture.stranger.token(&fixture.claims(json!({})))),
        ("garbage", json!({}), "not.a.jwt".to_owned()),
        ("unsigned", json!({}), unsigned(&fixture.claims(json!({})))),
    ];
    let mut cases = Vec::new();
    for (n, (name, changes, jwt)) in table.into_iter().enumerate() {
        let name_of_role = format!("l{n}");
        cases.push(Case::new(
            format!("login {name}"),
            vec![
                Step::put(format!("auth/jwt/role/{name_of_role}"), role(changes)).setup(),
                Step::post("auth/jwt/login", json!({"role": name_of_role, "jwt": jwt}))
                    .by(Who::Anonymous)
                    .capture("t", "/auth/client_token"),
                Step::get("auth/token/lookup-self").by(Who::Var("t")),
            ],
        ));
    }
    let valid = fixture.jwt(json!({}));
    let requests: Vec<(&str, Value)> = vec![
        ("missing role", json!({"jwt": valid})),
        ("unknown role", json!({"role": "never", "jwt": valid})),
        ("missing jwt", json!({"role": "l0"})),
        ("empty jwt", json!({"role": "l0", "jwt": ""})),
        ("jwt not a string", json!({"role": "l0", "jwt": 5})),
    ];
    for (name, body) in requests {
        cases.push(Case::new(format!("login {name}"), vec![Step::post("auth/jwt/login", body).by(Who::Anonymous)]));
    }
    cases.push(Case::new(
        "login to a mount without config",
        vec![
            Step::post("sys/auth/bare", json!({"type": "jwt"})).setup(),
            Step::post("auth/bare/login", json!({"role": "x", "jwt": valid})).by(Who::Anonymous),
        ],
    ));
    // `vault token revoke -mode=path auth/jwt/login` (not auth/token/create: OpenBao's dev root
    // token was created there).
    cases.push(Case::new(
        "revoke-prefix of logins",
        vec![
            Step::post("auth/jwt/login", json!({"role": "l0", "jwt": valid}))
                .by(Who::Anonymous)
                .setup()
                .capture("t", "/auth/client_token"),
            Step::post("sys/leases/revoke-prefix/auth/jwt/login", json!({})),
            Step::get("auth/token/lookup-self").by(Who::Var("t")),
        ],
    ));
    cases.push(Case::new(
        "login with a token sent",
        vec![Step::post("auth/jwt/login", json!({"role": "l0", "jwt": valid})).by(Who::Var("user")).status_only()],
    ));
    cases
}

fn unsigned(claims: &Value) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!("{}.{}.", b64.encode(r#"{"alg":"none","typ":"JWT"}"#), b64.encode(claims.to_string()))
}
