//! Role fields, one per case, written with their coercions and read back.

use crate::{Body, Case, Step};
use serde_json::{json, Value};

fn fields() -> Vec<(&'static str, Value)> {
    let pairs = [
        ("bound_audiences", json!("a,b")),
        ("bound_audiences", json!(["b", "a"])),
        ("bound_audiences", json!("a, b")),
        ("bound_subject", json!("system:serviceaccount:a:b")),
        ("bound_subject", json!(5)),
        ("bound_claims", json!({"k": "v"})),
        ("bound_claims", json!({"k": ["a", "b"]})),
        ("bound_claims", json!({"k": 1})),
        ("bound_claims", json!("k=v")),
        ("bound_claims_type", json!("glob")),
        ("bound_claims_type", json!("nope")),
        ("claim_mappings", json!({"a": "b"})),
        ("claim_mappings", json!({"a": "b", "c": "b"})),
        ("groups_claim", json!("groups")),
        ("user_claim_json_pointer", json!(true)),
        ("user_claim_json_pointer", json!("true")),
        ("clock_skew_leeway", json!(30)),
        ("clock_skew_leeway", json!("1m")),
        ("clock_skew_leeway", json!(-1)),
        ("expiration_leeway", json!("90s")),
        ("not_before_leeway", json!(0)),
        ("token_ttl", json!("1h")),
        ("token_ttl", json!(3600)),
        ("token_ttl", json!("3600")),
        ("token_ttl", json!("soon")),
        ("token_max_ttl", json!("2h")),
        ("token_explicit_max_ttl", json!("3h")),
        ("token_period", json!("30m")),
        ("ttl", json!("1h")),
        ("max_ttl", json!("2h")),
        ("period", json!("1h")),
        ("token_policies", json!("b,A")),
        ("token_policies", json!(["B", "a"])),
        ("token_policies", json!(["a", "a"])),
        ("policies", json!("x,y")),
        ("token_bound_cidrs", json!("127.0.0.1")),
        ("token_bound_cidrs", json!("10.0.0.0/8")),
        ("token_bound_cidrs", json!(["10.0.0.0/8", "127.0.0.1"])),
        ("token_bound_cidrs", json!("nope")),
        ("bound_cidrs", json!("127.0.0.1")),
        ("token_no_default_policy", json!(true)),
        ("token_no_default_policy", json!("yes")),
        ("token_num_uses", json!(3)),
        ("token_num_uses", json!(-1)),
        ("num_uses", json!(2)),
        ("token_type", json!("batch")),
        ("token_type", json!("service")),
        ("token_type", json!("default")),
        ("token_type", json!("default-service")),
        ("token_type", json!("nope")),
        ("verbose_oidc_logging", json!(true)),
        ("role_type", json!("nope")),
        ("role_type", json!("oidc")),
        ("allowed_redirect_uris", json!("https://a/cb")),
        ("oidc_scopes", json!("a,b")),
        ("max_age", json!("1h")),
        ("user_claim", json!("")),
        ("frobnicate", json!(1)),
    ];
    pairs.into_iter().collect()
}

fn base() -> Value {
    json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "vault"})
}

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (n, (field, value)) in fields().into_iter().enumerate() {
        let mut body = base();
        body[field] = value.clone();
        let path = format!("auth/jwt/role/f{n}");
        cases.push(Case::new(
            format!("role {field}={value}"),
            vec![Step::put(&path, body), Step::get(&path), Step::delete(&path).status_only()],
        ));
    }
    let pairs = [
        ("ttl and token_ttl", json!({"ttl": "1h", "token_ttl": "2h"})),
        ("policies and token_policies", json!({"policies": "a", "token_policies": "b"})),
        ("bound_cidrs and token_bound_cidrs", json!({"bound_cidrs": "10.0.0.1", "token_bound_cidrs": "10.0.0.2"})),
        ("ttl above max_ttl", json!({"token_ttl": "2h", "token_max_ttl": "1h"})),
        ("no binding", json!({"bound_audiences": null})),
        ("subject only", json!({"bound_audiences": null, "bound_subject": "s"})),
        ("no user claim", json!({"user_claim": null})),
        ("no role type", json!({"role_type": null})),
    ];
    for (n, (name, changes)) in pairs.into_iter().enumerate() {
        let body = super::merged(base(), &changes);
        let path = format!("auth/jwt/role/p{n}");
        cases.push(Case::new(format!("role {name}"), vec![Step::put(&path, body), Step::get(&path)]));
    }
    cases.push(Case::new(
        "role as a form with repeated keys",
        vec![
            Step::send(
                "PUT",
                "auth/jwt/role/form",
                Body::Form("role_type=jwt&user_claim=sub&bound_audiences=a&bound_audiences=b&token_policies=x".into()),
            ),
            Step::get("auth/jwt/role/form"),
        ],
    ));
    cases.push(Case::new(
        "role update keeps what is not sent",
        vec![
            Step::put(
                "auth/jwt/role/upd",
                json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "v", "token_ttl": "1h"}),
            ),
            Step::put("auth/jwt/role/upd", json!({"token_max_ttl": "2h"})),
            Step::get("auth/jwt/role/upd"),
        ],
    ));
    for list in ["auth/jwt/role?list=true", "auth/jwt/role?list=1", "auth/jwt/role?list=t", "auth/jwt/role/?list=true"]
    {
        cases.push(Case::new(format!("roles by GET {list}"), vec![Step::get(list).status_only()]));
    }
    cases.push(Case::new("roles listed", vec![Step::list("auth/jwt/role").status_only()]));
    cases.push(Case::new("missing role", vec![Step::get("auth/jwt/role/never")]));
    cases.push(Case::new("delete a missing role", vec![Step::delete("auth/jwt/role/never")]));
    cases.push(Case::new("role name with odd bytes", vec![Step::put("auth/jwt/role/a%20b", base())]));
    cases
}
