//! The token store with root and non-root callers: creation parameters, lookups, renewal,
//! revocation and the parent → child hierarchy.

use crate::{Case, Step, Who};
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
    // Response wrapping.
    cases.push(Case::new(
        "wrapped create",
        vec![Step::post("auth/token/create", json!({})).header("X-Vault-Wrap-TTL", "5m").status_only()],
    ));
    cases
}
