//! The generated cases, from tables: sys endpoints, tokens with root and non-root callers,
//! key configuration, role fields, login bindings, policies, request forms and headers.

mod config;
mod login;
mod policies;
mod roles;
mod sys;
mod token_roles;
mod tokens;

use crate::peer::Peer;
use crate::{Case, Step};
use jwtgate_verifier::testkit::TestKey;
use serde_json::{json, Value};
use std::collections::HashMap;

/// What every case may rely on, set up the same way on both servers: a `jwt` mount trusting
/// `key`, a `cfg` mount for configuration cases, the `ops` policy and a `user` token holding it.
pub struct Fixture {
    pub key: TestKey,
    pub stranger: TestKey,
}

pub const OPS_POLICY: &str = r#"
path "auth/token/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "auth/jwt/role/*" { capabilities = ["read", "list"] }
path "sys/policies/acl/*" { capabilities = ["read", "list"] }
"#;

impl Fixture {
    pub fn new() -> Fixture {
        Fixture { key: TestKey::rsa(2048), stranger: TestKey::rsa(2048) }
    }

    pub fn set_up(&self, peer: &mut Peer) {
        let steps = [
            Step::post("sys/auth/jwt", json!({"type": "jwt"})),
            Step::post("sys/auth/cfg", json!({"type": "jwt"})),
            Step::put("auth/jwt/config", json!({"jwt_validation_pubkeys": [self.key.public_pem()]})),
            Step::put("sys/policies/acl/ops", json!({"policy": OPS_POLICY})),
            Step::put("sys/policies/acl/reader", json!({"policy": "path \"secret/*\" { capabilities = [\"read\"] }"})),
            Step::post("auth/token/create", json!({"policies": ["ops"], "ttl": "4h"}))
                .capture("user", "/auth/client_token"),
            Step::post("auth/token/create", json!({"policies": ["ops"], "ttl": "4h"}))
                .capture("user_accessor", "/auth/accessor")
                .capture("other", "/auth/client_token"),
        ];
        let mut vars = HashMap::new();
        for step in steps {
            let answer = peer.send(&step, &vars);
            assert!(
                answer.status < 300,
                "{}: fixture {} {}: {} {}",
                peer.name,
                step.method,
                step.path,
                answer.status,
                answer.body
            );
            for (name, pointer) in &step.capture {
                vars.insert(name.to_string(), answer.body.pointer(pointer).unwrap().as_str().unwrap().to_owned());
            }
        }
        peer.globals.extend(vars);
    }

    /// Claims of a projected service-account token for audience `vault`, valid now, with
    /// `changes` merged in (a `null` removes a claim).
    pub fn claims(&self, changes: Value) -> Value {
        let now = jwtgate_testkit::now();
        let claims = json!({
            "aud": ["vault"], "exp": now + 600, "iat": now, "nbf": now,
            "iss": "https://kubernetes.default.svc.cluster.local",
            "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "default", "uid": "u"}},
            "sub": "system:serviceaccount:default:default"
        });
        merged(claims, &changes)
    }

    pub fn jwt(&self, changes: Value) -> String {
        self.key.token(&self.claims(changes))
    }
}

/// `base` with `changes` applied: a `null` removes the key.
pub fn merged(mut base: Value, changes: &Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

pub fn all(fixture: &Fixture) -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(sys::cases());
    cases.extend(tokens::cases());
    cases.extend(token_roles::cases());
    cases.extend(config::cases(fixture));
    cases.extend(roles::cases());
    cases.extend(login::cases(fixture));
    cases.extend(policies::cases());
    cases
}
