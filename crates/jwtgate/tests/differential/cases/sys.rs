//! sys endpoints: status probes, auth mounts and their tuning, capabilities, request forms
//! and headers.

use crate::{Body, Case, Step, Who};
use serde_json::{json, Value};

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for path in ["sys/health", "sys/seal-status", "sys/leader", "sys/init", "sys/health?standbyok=true"] {
        cases.push(Case::new(format!("probe {path}"), vec![Step::get(path).by(Who::Anonymous)]));
    }
    let reads = [
        "sys/auth",
        "sys/auth/jwt",
        "sys/auth/jwt/tune",
        "sys/mounts/auth/jwt/tune",
        "sys/auth/token/tune",
        "sys/auth/missing",
        "sys/internal/ui/mounts",
        "sys/internal/ui/mounts/auth/jwt",
        "sys/policies/acl",
        "sys/policy",
        "sys/policy/default",
        "sys/policies/acl/default",
        "sys/policies/acl/missing",
    ];
    for path in reads {
        for (who, name) in [(Who::Root, "root"), (Who::Var("user"), "user"), (Who::Anonymous, "anonymous")] {
            cases.push(Case::new(format!("read {path} as {name}"), vec![Step::get(path).by(who)]));
        }
    }
    cases.push(Case::new("list sys/policies/acl", vec![Step::list("sys/policies/acl")]));
    cases.push(Case::new("list sys/policies/acl by ?list=true", vec![Step::get("sys/policies/acl?list=true")]));
    // Mount lifecycle, one mount per case.
    let enables: &[(&str, Value)] = &[
        ("plain jwt", json!({"type": "jwt"})),
        ("oidc type", json!({"type": "oidc"})),
        ("kubernetes type", json!({"type": "kubernetes"})),
        ("unknown type", json!({"type": "nope"})),
        ("no type", json!({})),
        ("description", json!({"type": "jwt", "description": "cluster a"})),
        ("lease ttls", json!({"type": "jwt", "config": {"default_lease_ttl": "1h", "max_lease_ttl": "2h"}})),
        ("lease ttls in seconds", json!({"type": "jwt", "config": {"default_lease_ttl": 3600, "max_lease_ttl": 7200}})),
        ("default above max", json!({"type": "jwt", "config": {"default_lease_ttl": "3h", "max_lease_ttl": "2h"}})),
        ("bad ttl", json!({"type": "jwt", "config": {"default_lease_ttl": "soon"}})),
        ("listing visibility", json!({"type": "jwt", "config": {"listing_visibility": "unauth"}})),
        ("local", json!({"type": "jwt", "local": true})),
        ("seal wrap", json!({"type": "jwt", "seal_wrap": true})),
        ("options", json!({"type": "jwt", "options": {"version": "1"}})),
        ("token type", json!({"type": "jwt", "config": {"token_type": "batch"}})),
        ("bad token type", json!({"type": "jwt", "config": {"token_type": "weird"}})),
    ];
    for (n, (name, body)) in enables.iter().enumerate() {
        let path = format!("m{n}");
        cases.push(Case::new(
            format!("mount {name}"),
            vec![
                Step::post(format!("sys/auth/{path}"), body.clone()),
                Step::get(format!("sys/auth/{path}")),
                Step::get(format!("sys/auth/{path}/tune")),
                Step::post(format!("sys/auth/{path}"), body.clone()),
                Step::delete(format!("sys/auth/{path}")),
                Step::get(format!("sys/auth/{path}")),
            ],
        ));
    }
    // Not "sys": OpenBao 2.7.2 accepts auth/sys/ and then refuses every later auth mount
    // ("existing mount at auth/").
    for path in ["token", "a/b", "trailing/", "bad%21path", "jwt"] {
        cases.push(Case::new(
            format!("mount at {path}"),
            vec![Step::post(format!("sys/auth/{path}"), json!({"type": "jwt"}))],
        ));
    }
    cases.push(Case::new(
        "mount as non-root",
        vec![Step::post("sys/auth/mu", json!({"type": "jwt"})).by(Who::Var("user"))],
    ));
    cases.push(Case::new("disable a missing mount", vec![Step::delete("sys/auth/never")]));
    let tunes: &[(&str, Value)] = &[
        ("ttls", json!({"default_lease_ttl": "30m", "max_lease_ttl": "1h"})),
        ("description", json!({"description": "tuned"})),
        ("default above max", json!({"default_lease_ttl": "3h", "max_lease_ttl": "1h"})),
        ("bad ttl", json!({"default_lease_ttl": "soon"})),
        ("token type", json!({"token_type": "batch"})),
        ("listing visibility", json!({"listing_visibility": "unauth"})),
        ("audit keys", json!({"audit_non_hmac_request_keys": ["role"]})),
        ("empty", json!({})),
    ];
    for (n, (name, body)) in tunes.iter().enumerate() {
        for prefix in ["sys/auth", "sys/mounts/auth"] {
            let path = format!("t{n}{}", prefix.len());
            cases.push(Case::new(
                format!("tune {name} via {prefix}"),
                vec![
                    Step::post(format!("sys/auth/{path}"), json!({"type": "jwt"})).setup(),
                    Step::post(format!("{prefix}/{path}/tune"), body.clone()),
                    Step::get(format!("{prefix}/{path}/tune")),
                    Step::delete(format!("sys/auth/{path}")).setup(),
                ],
            ));
        }
    }
    // Mount moves: Vault moves asynchronously, so the status is polled before anything is read.
    cases.push(Case::new(
        "remount moves a mount",
        vec![
            Step::post("sys/auth/before", json!({"type": "jwt", "description": "moving"})).setup(),
            Step::put("auth/before/role/r", json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "a"}))
                .setup(),
            Step::post("sys/remount", json!({"from": "auth/before", "to": "auth/after"}))
                .capture("migration", "/data/migration_id"),
            Step::get("sys/remount/status/{{migration}}").until("/data/migration_info/status", "success"),
            Step::get("sys/auth/after"),
            Step::get("auth/after/role/r"),
            Step::list("auth/after/role"),
            Step::get("auth/before/role/r"),
            Step::get("sys/auth/before"),
            Step::delete("sys/auth/after").setup(),
        ],
    ));
    let moves: &[(&str, Value)] = &[
        ("without to", json!({"from": "auth/still"})),
        ("without from", json!({"to": "auth/x"})),
        ("to a number", json!({"from": "auth/still", "to": 5})),
        ("from a missing mount", json!({"from": "auth/missing", "to": "auth/x"})),
        ("from a secrets path", json!({"from": "secret", "to": "auth/x"})),
        ("from the token store", json!({"from": "auth/token", "to": "auth/tk"})),
        ("to the token store", json!({"from": "auth/still", "to": "auth/token"})),
        ("to sys", json!({"from": "auth/still", "to": "sys/x"})),
        ("to itself", json!({"from": "auth/still", "to": "auth/still"})),
        ("into a mount", json!({"from": "auth/still", "to": "auth/jwt/sub"})),
        ("to a non-auth path", json!({"from": "auth/still", "to": "elsewhere"})),
    ];
    for (name, body) in moves {
        cases.push(Case::new(
            format!("remount {name}"),
            vec![
                Step::post("sys/auth/still", json!({"type": "jwt"})).setup(),
                Step::post("sys/remount", body.clone()),
                Step::get("sys/auth/still"),
                Step::delete("sys/auth/still").setup(),
            ],
        ));
    }
    cases.push(Case::new(
        "remount with slashes at the ends",
        vec![
            Step::post("sys/auth/slashed", json!({"type": "jwt"})).setup(),
            Step::post("sys/remount", json!({"from": "/auth/slashed/", "to": "auth/slashed2/"}))
                .capture("migration", "/data/migration_id"),
            Step::get("sys/remount/status/{{migration}}").until("/data/migration_info/status", "success"),
            Step::get("sys/auth/slashed2"),
            Step::delete("sys/auth/slashed2").setup(),
        ],
    ));
    cases.push(Case::new(
        "remount as user",
        vec![Step::post("sys/remount", json!({"from": "auth/jwt", "to": "auth/jwt2"})).by(Who::Var("user"))],
    ));
    cases.push(Case::new("remount status unknown", vec![Step::get("sys/remount/status/0000")]));
    // Audit devices: the listing, root-only access, and enabling (which OpenBao refuses over
    // the API: accepted, Vault allows it).
    cases.push(Case::new("audit list empty", vec![Step::get("sys/audit")]));
    for (method, path) in
        [("GET", "sys/audit"), ("PUT", "sys/audit/f"), ("DELETE", "sys/audit/f"), ("PUT", "sys/audit-hash/f")]
    {
        let body = crate::Body::Json(json!({"type": "file", "options": {"file_path": "discard"}, "input": "x"}));
        cases.push(Case::new(
            format!("audit {method} {path} as user"),
            vec![Step::send(method, path, body.clone()).by(Who::Var("user"))],
        ));
        cases.push(Case::new(
            format!("audit {method} {path} anonymous"),
            vec![Step::send(method, path, body).by(Who::Anonymous)],
        ));
    }
    cases.push(Case::new(
        "audit enable over the API",
        vec![
            Step::put("sys/audit/f", json!({"type": "file", "options": {"file_path": "discard"}})),
            Step::delete("sys/audit/f").status_only(),
        ],
    ));
    cases.push(Case::new("audit disable a missing device", vec![Step::delete("sys/audit/missing")]));
    // Path help: any valid token, no capability needed; public paths need none.
    for path in
        ["auth/token/create", "auth/token/lookup-self", "sys/auth", "sys/health", "auth/jwt/login", "auth/jwt/role/x"]
    {
        for (who, name) in [(Who::Root, "root"), (Who::Var("user"), "user"), (Who::Anonymous, "anonymous")] {
            cases.push(Case::new(format!("help {path} as {name}"), vec![Step::get(format!("{path}?help=1")).by(who)]));
        }
    }
    cases.push(Case::new("help unknown path", vec![Step::get("sys/nothing?help=1")]));
    cases.push(Case::new("help bad token", vec![Step::get("sys/auth?help=1").by(Who::Literal("s.not-a-token"))]));
    // Capabilities.
    for (path, who) in [
        ("auth/token/create", Who::Var("user")),
        ("auth/jwt/role/x", Who::Var("user")),
        ("sys/auth/jwt", Who::Var("user")),
        ("auth/token/lookup-self", Who::Var("user")),
        ("secret/a", Who::Root),
    ] {
        cases.push(Case::new(
            format!("capabilities-self {path}"),
            vec![Step::post("sys/capabilities-self", json!({"paths": [path]})).by(who)],
        ));
        cases.push(Case::new(
            format!("capabilities of user on {path}"),
            vec![Step::post("sys/capabilities", json!({"paths": [path], "token": "{{user}}"}))],
        ));
        cases.push(Case::new(
            format!("capabilities-accessor {path}"),
            vec![Step::post("sys/capabilities-accessor", json!({"paths": [path], "accessor": "{{user_accessor}}"}))],
        ));
    }
    cases.push(Case::new(
        "capabilities-self with the old path field",
        vec![Step::post("sys/capabilities-self", json!({"path": "auth/token/create"})).by(Who::Var("user"))],
    ));
    // Request forms and headers.
    cases.push(Case::new("null body", vec![Step::send("POST", "sys/auth/nb", Body::Raw("null".into())).status_only()]));
    cases.push(Case::new("broken json", vec![Step::send("POST", "sys/auth/bj", Body::Raw("{\"type\":".into()))]));
    cases.push(Case::new("json array body", vec![Step::send("POST", "sys/auth/ja", Body::Raw("[1]".into()))]));
    cases.push(Case::new(
        "form body",
        vec![
            Step::send("POST", "sys/auth/fb", Body::Form("type=jwt&description=form".into())),
            Step::get("sys/auth/fb"),
        ],
    ));
    cases.push(Case::new(
        "namespace header",
        vec![Step::post("sys/auth/ns", json!({"type": "jwt"})).header("X-Vault-Namespace", "team-a")],
    ));
    cases.push(Case::new(
        "root namespace header",
        vec![Step::post("sys/auth/nsr", json!({"type": "jwt"})).header("X-Vault-Namespace", "root/").status_only()],
    ));
    cases.push(Case::new("unknown path", vec![Step::get("sys/nothing-here")]));
    cases.push(Case::new("bad token", vec![Step::get("sys/auth").by(Who::Literal("s.not-a-token"))]));
    cases
}
