//! Token-store roles: role fields as written and read back, and `auth/token/create/<role>`
//! with root and non-root callers, each created token looked up.

use crate::{Case, Step, Who};
use serde_json::{json, Value};

fn role_writes() -> Vec<(&'static str, Value)> {
    vec![
        ("empty", json!({})),
        ("allowed policies", json!({"allowed_policies": "b,A, a"})),
        ("allowed policies list", json!({"allowed_policies": ["ops", "Reader"]})),
        ("disallowed policies", json!({"disallowed_policies": "x,y"})),
        ("globs", json!({"allowed_policies_glob": "p-*", "disallowed_policies_glob": ["p-x*"]})),
        ("orphan", json!({"orphan": true})),
        ("not renewable", json!({"renewable": false})),
        ("orphan as text", json!({"orphan": "true"})),
        ("orphan junk", json!({"orphan": "maybe"})),
        ("path suffix", json!({"path_suffix": "v1"})),
        ("path suffix with slash", json!({"path_suffix": "a/b.c-d"})),
        ("path suffix with space", json!({"path_suffix": "a b"})),
        ("path suffix dots", json!({"path_suffix": "a..b"})),
        ("token period", json!({"token_period": "5m"})),
        ("period", json!({"period": 60})),
        ("negative period", json!({"token_period": "-5"})),
        ("token explicit max ttl", json!({"token_explicit_max_ttl": "1h"})),
        ("explicit max ttl", json!({"explicit_max_ttl": "3h"})),
        ("num uses", json!({"token_num_uses": 3})),
        ("negative num uses", json!({"token_num_uses": -1})),
        ("bound cidrs", json!({"token_bound_cidrs": "127.0.0.1,10.0.0.0/8"})),
        ("deprecated bound cidrs", json!({"bound_cidrs": ["10.0.0.0/8"]})),
        ("bad cidr", json!({"token_bound_cidrs": "nope"})),
        ("no default policy", json!({"token_no_default_policy": true})),
        ("token type service", json!({"token_type": "service"})),
        ("token type default-batch", json!({"token_type": "default-batch"})),
        ("token type batch non-orphan", json!({"token_type": "batch"})),
        ("token type batch renewable", json!({"token_type": "batch", "orphan": true})),
        ("token type batch", json!({"token_type": "batch", "orphan": true, "renewable": false})),
        (
            "token type batch periodic",
            json!({"token_type": "batch", "orphan": true, "renewable": false, "token_period": 60}),
        ),
        ("token type bogus", json!({"token_type": "bogus"})),
        ("entity aliases", json!({"allowed_entity_aliases": "a,B"})),
    ]
}

/// (name, role, creation body): each creation runs as root and as `user` (who holds `ops`).
fn creations() -> Vec<(&'static str, Value, Value)> {
    vec![
        ("plain", json!({}), json!({})),
        ("allowed, none asked", json!({"allowed_policies": "a,b"}), json!({})),
        ("allowed, one asked", json!({"allowed_policies": "a,b"}), json!({"policies": ["a"]})),
        ("allowed, outside asked", json!({"allowed_policies": "a,b"}), json!({"policies": ["a", "z"]})),
        ("allowed, root asked", json!({"allowed_policies": "a,root"}), json!({"policies": ["root"]})),
        ("allowed with no default", json!({"allowed_policies": "a", "token_no_default_policy": true}), json!({})),
        ("disallowed inherited", json!({"disallowed_policies": "ops"}), json!({})),
        ("disallowed asked", json!({"disallowed_policies": "c"}), json!({"policies": ["c"]})),
        ("disallowed default", json!({"disallowed_policies": "default", "allowed_policies": "a"}), json!({})),
        ("glob allowed", json!({"allowed_policies_glob": "p-*"}), json!({"policies": ["p-1"]})),
        ("glob allowed, none asked", json!({"allowed_policies_glob": "p-*"}), json!({})),
        (
            "glob disallowed",
            json!({"allowed_policies_glob": "p-*", "disallowed_policies_glob": "p-x*"}),
            json!({"policies": ["p-xy"]}),
        ),
        ("orphan role", json!({"orphan": true}), json!({})),
        ("no parent ignored", json!({}), json!({"no_parent": true})),
        ("not renewable role", json!({"renewable": false}), json!({"renewable": true})),
        ("path suffix", json!({"path_suffix": "rev2"}), json!({})),
        ("role period", json!({"token_period": "10m"}), json!({})),
        ("lesser explicit max", json!({"token_explicit_max_ttl": "1h"}), json!({"explicit_max_ttl": "30m"})),
        ("role explicit max", json!({"token_explicit_max_ttl": "1h"}), json!({"ttl": "2h"})),
        ("role num uses", json!({"token_num_uses": 4}), json!({})),
        ("lesser num uses", json!({"token_num_uses": 4}), json!({"num_uses": 2})),
        ("bound cidrs", json!({"token_bound_cidrs": "10.0.0.0/8"}), json!({})),
        ("service role, batch asked", json!({"token_type": "service"}), json!({"type": "batch"})),
        ("default-batch role", json!({"token_type": "default-batch", "allowed_policies": "a"}), json!({})),
        (
            "batch role",
            json!({"token_type": "batch", "orphan": true, "renewable": false, "allowed_policies": "a"}),
            json!({}),
        ),
        ("entity alias allowed", json!({"allowed_entity_aliases": "app-*"}), json!({"entity_alias": "app-1"})),
        ("entity alias refused", json!({"allowed_entity_aliases": "app-*"}), json!({"entity_alias": "web"})),
        ("own id", json!({}), json!({"id": "role-made-id"})),
        ("display name", json!({}), json!({"display_name": "ci job"})),
    ]
}

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (i, (name, body)) in role_writes().into_iter().enumerate() {
        let path = format!("auth/token/roles/w{i}");
        cases.push(Case::new(
            format!("token role write {name}"),
            vec![Step::post(&path, body), Step::get(&path), Step::delete(&path), Step::get(&path)],
        ));
    }
    for (i, (name, role, body)) in creations().into_iter().enumerate() {
        for (who, caller) in [(Who::Root, "root"), (Who::Var("user"), "user")] {
            let role_path = format!("auth/token/roles/c{i}{caller}");
            let create = Step::post(format!("auth/token/create/c{i}{caller}"), body.clone()).by(who);
            let mut steps = vec![Step::post(&role_path, role.clone()).setup()];
            if body.get("id").is_some() {
                steps.push(create);
            } else {
                steps.push(create.capture("t", "/auth/client_token"));
                steps.push(Step::post("auth/token/lookup", json!({"token": "{{t}}"})));
            }
            steps.push(Step::delete(&role_path).setup());
            cases.push(Case::new(format!("token role create {name} as {caller}"), steps));
        }
    }
    let role = |name: &str| format!("auth/token/roles/{name}");
    cases.extend([
        Case::new(
            "token role list",
            vec![
                Step::list("auth/token/roles"),
                Step::post(role("listed-b"), json!({})).setup(),
                Step::post(role("listed-a"), json!({})).setup(),
                Step::list("auth/token/roles"),
                Step::get("auth/token/roles?list=true"),
                Step::list("auth/token/roles").by(Who::Var("user")),
                Step::delete(role("listed-a")).setup(),
                Step::delete(role("listed-b")).setup(),
            ],
        ),
        Case::new("token role unknown", vec![Step::post("auth/token/create/nope", json!({}))]),
        Case::new("token role read missing", vec![Step::get(role("nope")), Step::delete(role("nope"))]),
        Case::new(
            "token role update keeps fields",
            vec![
                Step::post(role("upd"), json!({"allowed_policies": "a", "orphan": true})),
                Step::post(role("upd"), json!({"path_suffix": "v3"})),
                Step::get(role("upd")),
                Step::delete(role("upd")).setup(),
            ],
        ),
        Case::new("token role bad name", vec![Step::post(role("bad%20name"), json!({}))]),
        Case::new(
            "token role renew",
            vec![
                Step::post(role("ren"), json!({"token_explicit_max_ttl": "2h"})).setup(),
                Step::post("auth/token/create/ren", json!({"ttl": "30m"})).capture("t", "/auth/client_token"),
                Step::post("auth/token/renew", json!({"token": "{{t}}", "increment": "1h"})),
                Step::delete(role("ren")).setup(),
                Step::post("auth/token/renew", json!({"token": "{{t}}", "increment": "1h"})),
            ],
        ),
        Case::new(
            "token role batch child of revoked parent",
            vec![
                Step::post("auth/token/create", json!({"policies": ["ops"]})).capture("parent", "/auth/client_token"),
                Step::post("auth/token/create", json!({"type": "batch", "policies": ["ops"]}))
                    .by(Who::Var("parent"))
                    .capture("child", "/auth/client_token"),
                Step::get("auth/token/lookup-self").by(Who::Var("child")),
                Step::post("auth/token/revoke", json!({"token": "{{parent}}"})),
                Step::get("auth/token/lookup-self").by(Who::Var("child")),
            ],
        ),
        Case::new(
            "batch token with own id",
            vec![Step::post("auth/token/create", json!({"type": "batch", "id": "chosen-batch-id"}))],
        ),
        Case::new(
            "batch token creates",
            vec![
                Step::post("auth/token/create-orphan", json!({"type": "batch", "policies": ["ops"]}))
                    .capture("b", "/auth/client_token"),
                Step::post("auth/token/create", json!({"policies": ["ops"]})).by(Who::Var("b")),
                Step::post("auth/token/create-orphan", json!({"policies": ["ops"]})).by(Who::Var("b")).status_only(),
                Step::post("auth/token/create", json!({"type": "batch", "num_uses": 2})),
                Step::post("auth/token/create", json!({"type": "batch", "explicit_max_ttl": "1h"})),
                Step::post("auth/token/create", json!({"type": "batch", "period": "1h"})),
                Step::post("auth/token/create", json!({"type": "batch"})),
                Step::post("auth/token/renew", json!({"token": "{{b}}"})),
                Step::post("auth/token/revoke", json!({"token": "{{b}}"})),
            ],
        ),
    ]);
    cases
}
