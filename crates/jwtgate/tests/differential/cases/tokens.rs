//! The token store with root and non-root callers: creation parameters, lookups, renewal,
//! revocation and the parent → child hierarchy.

use crate::{Body, Case, Step, Who};
use serde_json::{json, Value};

fn creations() -> Vec<(&'static str, Value)> {
    vec![
        ("empty", json!({})),
        ("policies held", json!({"policies": ["ops"]})),
        ("policies not held", json!({"policies": ["reader"]})),
        ("policies as a string", json!({"policies": "ops,default"})),
        ("root policy", json!({"policies": ["root"]})),
        ("own id", json!({"id": "my-own-token-id"})),
        ("no parent", json!({"no_parent": true})),
        ("no default policy", json!({"no_default_policy": true, "policies": ["ops"]})),
        ("ttl", json!({"ttl": "1h"})),
        ("ttl seconds", json!({"ttl": 600})),
        ("bad ttl", json!({"ttl": "soon"})),
        ("negative ttl", json!({"ttl": "-5s"})),
        ("ttl beyond max", json!({"ttl": "10000h"})),
        ("explicit max ttl", json!({"ttl": "2h", "explicit_max_ttl": "1h"})),
        ("period", json!({"period": "30m"})),
        ("num uses", json!({"num_uses": 3})),
        ("negative num uses", json!({"num_uses": -1})),
        ("not renewable", json!({"renewable": false})),
        ("display name", json!({"display_name": "My App!"})),
        ("meta", json!({"meta": {"team": "a", "n": "1"}})),
        ("bad meta", json!({"meta": "team=a"})),
        ("batch", json!({"type": "batch", "policies": ["ops"]})),
        ("batch renewable", json!({"type": "batch", "renewable": true})),
        ("weird type", json!({"type": "weird"})),
        ("entity alias", json!({"entity_alias": "x"})),
        ("bound cidrs", json!({"bound_cidrs": ["127.0.0.1", "10.0.0.0/8"]})),
    ]
}

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (name, body) in creations() {
        for (who, caller) in [(Who::Root, "root"), (Who::Var("user"), "user")] {
            for endpoint in ["auth/token/create", "auth/token/create-orphan"] {
                cases.push(Case::new(
                    format!("{endpoint} {name} as {caller}"),
                    vec![Step::post(endpoint, body.clone()).by(who.clone())],
                ));
            }
        }
        let created = Step::post("auth/token/create", body.clone());
        let lookup = Step::post("auth/token/lookup", json!({"token": "{{t}}"}));
        if body.get("ttl").is_none_or(|t| !t.as_str().is_some_and(|t| t.contains('s') && !t.starts_with('-'))) {
            cases.push(Case::new(
                format!("lookup of a token created with {name}"),
                vec![created.status_only().capture("t", "/auth/client_token"), lookup.clone()],
            ));
        }
    }
    // Lookups by every form.
    let lookups = [
        ("lookup-self", Step::get("auth/token/lookup-self").by(Who::Var("user"))),
        ("lookup-self anonymous", Step::get("auth/token/lookup-self").by(Who::Anonymous)),
        ("lookup-self bad token", Step::get("auth/token/lookup-self").by(Who::Literal("s.bogus"))),
        ("lookup by GET", Step::get("auth/token/lookup").by(Who::Var("user"))),
        ("lookup without a token", Step::post("auth/token/lookup", json!({})).by(Who::Var("user"))),
        ("lookup of another", Step::post("auth/token/lookup", json!({"token": "{{other}}"})).by(Who::Var("user"))),
        ("lookup of a missing token", Step::post("auth/token/lookup", json!({"token": "s.missing"}))),
        ("lookup-accessor", Step::post("auth/token/lookup-accessor", json!({"accessor": "{{user_accessor}}"}))),
        ("lookup-accessor missing", Step::post("auth/token/lookup-accessor", json!({"accessor": "nope"}))),
        ("lookup-accessor in path", Step::post("auth/token/lookup-accessor/{{user_accessor}}", json!({}))),
        ("accessors", Step::list("auth/token/accessors").status_only()),
        ("accessors as user", Step::list("auth/token/accessors").by(Who::Var("user"))),
        ("tidy", Step::post("auth/token/tidy", json!({})).status_only()),
        ("lookup root", Step::get("auth/token/lookup-self")),
    ];
    for (name, step) in lookups {
        cases.push(Case::new(format!("token {name}"), vec![step]));
    }
    // Renewal.
    let renewals: &[(&str, Value, Value)] = &[
        ("renew", json!({"ttl": "1h"}), json!({"increment": "30m"})),
        ("renew without increment", json!({"ttl": "1h"}), json!({})),
        ("renew beyond explicit max", json!({"ttl": "30m", "explicit_max_ttl": "1h"}), json!({"increment": "2h"})),
        ("renew not renewable", json!({"ttl": "1h", "renewable": false}), json!({})),
        ("renew with bad increment", json!({"ttl": "1h"}), json!({"increment": "soon"})),
        ("renew periodic", json!({"period": "1h"}), json!({"increment": "5h"})),
        ("renew in seconds", json!({"ttl": "1h"}), json!({"increment": 600})),
    ];
    for (name, create, renew) in renewals {
        let mut body = renew.clone();
        body["token"] = json!("{{t}}");
        cases.push(Case::new(
            format!("token {name}"),
            vec![
                Step::post("auth/token/create", create.clone()).setup().capture("t", "/auth/client_token"),
                Step::post("auth/token/renew", body),
                Step::post("auth/token/lookup", json!({"token": "{{t}}"})),
            ],
        ));
        cases.push(Case::new(
            format!("token {name} self"),
            vec![
                Step::post("auth/token/create", create.clone()).setup().capture("t", "/auth/client_token"),
                Step::post("auth/token/renew-self", renew.clone()).by(Who::Var("t")),
            ],
        ));
    }
    cases.push(Case::new("renew root", vec![Step::post("auth/token/renew-self", json!({}))]));
    cases.push(Case::new(
        "renew-accessor",
        vec![
            Step::post("auth/token/create", json!({"ttl": "1h"})).setup().capture("a", "/auth/accessor"),
            Step::post("auth/token/renew-accessor", json!({"accessor": "{{a}}", "increment": "10m"})),
        ],
    ));
    // Revocation and the hierarchy: a parent (held by `p`) with a child (`c`) and a grandchild (`g`).
    let family = || {
        vec![
            Step::post("auth/token/create", json!({"policies": ["ops"]}))
                .setup()
                .capture("p", "/auth/client_token")
                .capture("pa", "/auth/accessor"),
            Step::post("auth/token/create", json!({"policies": ["ops"]}))
                .by(Who::Var("p"))
                .setup()
                .capture("c", "/auth/client_token"),
            Step::post("auth/token/create", json!({})).by(Who::Var("c")).setup().capture("g", "/auth/client_token"),
            Step::post("auth/token/create-orphan", json!({})).by(Who::Var("p")).status_only(),
        ]
    };
    let after = |mut steps: Vec<Step>, revoke: Step| {
        steps.push(revoke);
        steps.push(Step::post("auth/token/lookup", json!({"token": "{{p}}"})));
        steps.push(Step::post("auth/token/lookup", json!({"token": "{{c}}"})));
        steps.push(Step::post("auth/token/lookup", json!({"token": "{{g}}"})));
        steps
    };
    cases.push(Case::new("hierarchy lookups", {
        let mut steps = family();
        steps.push(Step::post("auth/token/lookup", json!({"token": "{{c}}"})));
        steps.push(Step::get("auth/token/lookup-self").by(Who::Var("g")));
        steps
    }));
    let revokes = [
        ("revoke", Step::post("auth/token/revoke", json!({"token": "{{p}}"}))),
        ("revoke-self", Step::post("auth/token/revoke-self", json!({})).by(Who::Var("p"))),
        ("revoke-accessor", Step::post("auth/token/revoke-accessor", json!({"accessor": "{{pa}}"}))),
        ("revoke-orphan", Step::post("auth/token/revoke-orphan", json!({"token": "{{p}}"}))),
        (
            "revoke-orphan as user",
            Step::post("auth/token/revoke-orphan", json!({"token": "{{p}}"})).by(Who::Var("user")),
        ),
        ("revoke of the child", Step::post("auth/token/revoke", json!({"token": "{{c}}"}))),
        ("revoke by the child", Step::post("auth/token/revoke", json!({"token": "{{p}}"})).by(Who::Var("c"))),
    ];
    for (name, revoke) in revokes {
        cases.push(Case::new(format!("hierarchy {name}"), after(family(), revoke)));
    }
    for (name, body) in
        [("revoke a missing token", json!({"token": "s.missing"})), ("revoke without a token", json!({}))]
    {
        cases.push(Case::new(format!("token {name}"), vec![Step::post("auth/token/revoke", body)]));
    }
    cases.push(Case::new(
        "revoke-accessor missing",
        vec![Step::post("auth/token/revoke-accessor", json!({"accessor": "missing"}))],
    ));
    cases.extend(wrapping());
    cases
}

/// Response wrapping: wrapped answers, `sys/wrapping/*` with root, user and anonymous
/// callers, single use, the wrap TTL header, and the built-in `response-wrapping` policy.
fn wrapping() -> Vec<Case> {
    let wrapped = |step: Step| step.header("X-Vault-Wrap-TTL", "5m").capture("w", "/wrap_info/token");
    let wrap = || wrapped(Step::post("sys/wrapping/wrap", json!({"secret": "s3", "n": 1})));
    let unwrap_named = || Step::post("sys/wrapping/unwrap", json!({"token": "{{w}}"}));
    let lookup = || Step::post("sys/wrapping/lookup", json!({"token": "{{w}}"}));
    let mut cases = vec![
        Case::new(
            "wrapped create",
            vec![
                wrapped(Step::post("auth/token/create", json!({"policies": ["reader"], "ttl": "1h"}))),
                lookup().by(Who::Anonymous),
                Step::send("POST", "sys/wrapping/unwrap", Body::None).by(Who::Var("w")),
                Step::send("POST", "sys/wrapping/unwrap", Body::None).by(Who::Var("w")),
                lookup(),
            ],
        ),
        Case::new(
            "wrapped create by user",
            vec![
                wrapped(Step::post("auth/token/create", json!({"policies": ["ops"], "ttl": "1h"})))
                    .by(Who::Var("user")),
                unwrap_named().by(Who::Var("user")),
            ],
        ),
        Case::new("wrap and unwrap", vec![wrap(), lookup(), unwrap_named(), unwrap_named()]),
        Case::new("wrap an empty body", vec![wrapped(Step::post("sys/wrapping/wrap", json!({}))), unwrap_named()]),
        Case::new("wrap without a wrap ttl", vec![Step::post("sys/wrapping/wrap", json!({"a": "b"}))]),
        Case::new("wrap as user", vec![wrap().by(Who::Var("user")), unwrap_named().by(Who::Var("user"))]),
        Case::new(
            "rewrap",
            vec![
                wrap(),
                Step::post("sys/wrapping/rewrap", json!({"token": "{{w}}"})).capture("w2", "/wrap_info/token"),
                unwrap_named(),
                Step::post("sys/wrapping/lookup", json!({"token": "{{w2}}"})),
                Step::post("sys/wrapping/unwrap", json!({"token": "{{w2}}"})),
            ],
        ),
        Case::new(
            "rewrap as user",
            vec![wrap(), Step::post("sys/wrapping/rewrap", json!({"token": "{{w}}"})).by(Who::Var("user")), lookup()],
        ),
        Case::new(
            "a wrapping token used as a client token is spent",
            vec![wrap(), Step::get("auth/token/lookup-self").by(Who::Var("w")), lookup()],
        ),
        Case::new(
            "unwrap a token that does not wrap",
            vec![
                Step::send("POST", "sys/wrapping/unwrap", Body::None),
                Step::get("auth/token/lookup-self").status_only(),
                Step::post("sys/wrapping/unwrap", json!({"token": "{{other}}"})),
                Step::post("auth/token/lookup", json!({"token": "{{other}}"})).status_only(),
            ],
        ),
        Case::new(
            "wrapped policy write answers 204",
            vec![
                Step::put("sys/policies/acl/wrapped", json!({"policy": "path \"a\" { capabilities = [\"read\"] }"}))
                    .header("X-Vault-Wrap-TTL", "1m"),
                Step::get("sys/policies/acl/missing").header("X-Vault-Wrap-TTL", "1m"),
                Step::delete("sys/policies/acl/wrapped").setup(),
            ],
        ),
        Case::new(
            "response-wrapping policy",
            vec![
                Step::get("sys/policies/acl/response-wrapping"),
                Step::get("sys/policy/response-wrapping").status_only(),
                Step::put(
                    "sys/policies/acl/response-wrapping",
                    json!({"policy": "path \"*\" { capabilities = [\"sudo\"] }"}),
                ),
                Step::delete("sys/policies/acl/response-wrapping"),
                Step::list("sys/policies/acl"),
            ],
        ),
    ];
    for (who_name, who) in [("anonymous", Who::Anonymous), ("user", Who::Var("user")), ("root", Who::Root)] {
        for (action, body) in [
            ("lookup", json!({"token": "s.bogus"})),
            ("unwrap", json!({"token": "s.bogus"})),
            ("rewrap", json!({"token": "s.bogus"})),
        ] {
            cases.push(Case::new(
                format!("{action} a bogus token as {who_name}"),
                vec![Step::post(format!("sys/wrapping/{action}"), body).by(who.clone())],
            ));
        }
    }
    for action in ["lookup", "unwrap"] {
        cases.push(Case::new(
            format!("{action} without any token"),
            vec![Step::send("POST", format!("sys/wrapping/{action}"), Body::None).by(Who::Anonymous)],
        ));
    }
    for (name, ttl) in [
        ("words", "abc"),
        ("negative", "-5"),
        ("negative seconds", "-5s"),
        ("zero", "0"),
        ("one second", "1"),
        ("long", "1000h"),
        ("minutes", "90m"),
    ] {
        cases.push(Case::new(
            format!("wrap ttl {name}"),
            vec![
                Step::post("sys/wrapping/wrap", json!({"k": "v"}))
                    .header("X-Vault-Wrap-TTL", ttl)
                    .capture("w", "/wrap_info/token"),
                lookup(),
            ],
        ));
    }
    cases
}
