//! ACL policies: the syntaxes Vault's parser accepts, names, the built-in policies, the legacy
//! `sys/policy` endpoints, and what a policy grants.

use crate::{Case, Step, Who};
use serde_json::json;

pub fn cases() -> Vec<Case> {
    let documents = [
        ("hcl", r#"path "secret/*" { capabilities = ["read", "list"] }"#),
        ("json", r#"{"path": {"secret/*": {"capabilities": ["read"]}}}"#),
        ("legacy form", r#"path "secret/*" { policy = "read" }"#),
        ("legacy write", r#"path "secret/*" { policy = "write" }"#),
        ("deny", r#"path "secret/*" { capabilities = ["deny"] }"#),
        ("sudo", r#"path "sys/auth/*" { capabilities = ["sudo", "update"] }"#),
        ("plus segment", r#"path "auth/+/role" { capabilities = ["list"] }"#),
        ("unknown capability", r#"path "secret/*" { capabilities = ["fly"] }"#),
        ("unknown key", "path \"secret/*\" {\n  capabilities = [\"read\"]\n  wings = 2\n}"),
        ("broken", r#"path "secret/*" { capabilities = ["read" "#),
        ("empty", ""),
        ("comment only", "# nothing\n"),
        ("no capabilities", r#"path "secret/*" {}"#),
        (
            "allowed parameters",
            "path \"secret/*\" {\n  capabilities = [\"update\"]\n  allowed_parameters = { \"a\" = [] }\n}",
        ),
        ("min wrapping ttl", "path \"secret/*\" {\n  capabilities = [\"read\"]\n  min_wrapping_ttl = \"1m\"\n}"),
    ];
    let mut cases = Vec::new();
    for (n, (name, text)) in documents.iter().enumerate() {
        let path = format!("sys/policies/acl/doc{n}");
        cases.push(Case::new(
            format!("policy {name}"),
            vec![Step::put(&path, json!({"policy": text})), Step::get(&path), Step::delete(&path)],
        ));
        let legacy = format!("sys/policy/leg{n}");
        cases.push(Case::new(
            format!("legacy policy {name}"),
            vec![Step::put(&legacy, json!({"rules": text})), Step::get(&legacy), Step::delete(&legacy)],
        ));
    }
    for name in ["Upper", "with%20space", "dots.and-dashes", "root", "default", "a/b"] {
        cases.push(Case::new(
            format!("policy named {name}"),
            vec![
                Step::put(format!("sys/policies/acl/{name}"), json!({"policy": documents[0].1})),
                Step::get(format!("sys/policies/acl/{}", name.to_lowercase())),
            ],
        ));
    }
    cases.push(Case::new("delete root policy", vec![Step::delete("sys/policies/acl/root")]));
    cases.push(Case::new("delete default policy", vec![Step::delete("sys/policies/acl/default")]));
    cases.push(Case::new("delete a missing policy", vec![Step::delete("sys/policies/acl/never")]));
    cases.push(Case::new("read root policy", vec![Step::get("sys/policies/acl/root")]));
    cases.push(Case::new("policy without text", vec![Step::put("sys/policies/acl/nothing", json!({}))]));
    cases.push(Case::new(
        "policy write as user",
        vec![Step::put("sys/policies/acl/u", json!({"policy": documents[0].1})).by(Who::Var("user"))],
    ));
    // What a policy grants, through a token holding it.
    let grants = [
        ("exact collection", r#"path "auth/jwt/role" { capabilities = ["list"] }"#, "LIST", "auth/jwt/role"),
        ("glob read", r#"path "auth/jwt/role/*" { capabilities = ["read"] }"#, "GET", "auth/jwt/role/l0"),
        ("glob without read", r#"path "auth/jwt/role/*" { capabilities = ["list"] }"#, "GET", "auth/jwt/role/l0"),
        ("deny wins", "path \"auth/jwt/*\" { capabilities = [\"read\"] }\npath \"auth/jwt/role/l0\" { capabilities = [\"deny\"] }", "GET", "auth/jwt/role/l0"),
        ("plus segment", r#"path "auth/+/role/l0" { capabilities = ["read"] }"#, "GET", "auth/jwt/role/l0"),
        ("sys without sudo", r#"path "sys/auth" { capabilities = ["read"] }"#, "GET", "sys/auth"),
        ("mount needs sudo", r#"path "sys/auth/*" { capabilities = ["create", "update"] }"#, "POST", "sys/auth/grant-m"),
    ];
    for (n, (name, text, method, target)) in grants.into_iter().enumerate() {
        let mut steps = vec![
            Step::put(format!("sys/policies/acl/g{n}"), json!({"policy": text})).setup(),
            Step::post("auth/token/create", json!({"policies": [format!("g{n}")]}))
                .setup()
                .capture("t", "/auth/client_token"),
        ];
        steps.push(
            match method {
                "LIST" => Step::list(target),
                "POST" => Step::post(target, json!({"type": "jwt"})),
                _ => Step::get(target),
            }
            .by(Who::Var("t"))
            .status_only(),
        );
        cases.push(Case::new(format!("grant {name}"), steps));
    }
    cases
}
