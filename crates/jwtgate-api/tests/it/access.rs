//! The access matrix: every route × {no token, malformed, revoked, default-policy token, a
//! token with a custom policy, root}, and the ACL policy endpoints.

use crate::*;

/// Method, path, body, the `default` token's status (`None`: refused), root's status.
type Sample = (&'static str, &'static str, Option<Value>, Option<u16>, u16);

/// One sample request per endpoint kind: the status a `default`-policy token gets when it may
/// make it, and the status root gets (public endpoints answer everyone as root does).
fn samples() -> Vec<Sample> {
    vec![
        ("GET", "sys/health", None, Some(200), 200),
        ("GET", "sys/init", None, Some(200), 200),
        ("GET", "sys/auth", None, None, 200),
        ("GET", "sys/auth/jwt", None, None, 200),
        ("POST", "sys/auth/other", Some(json!({"type": "jwt"})), None, 204),
        ("DELETE", "sys/auth/other", None, None, 204),
        ("GET", "auth/token/lookup-self", None, Some(200), 200),
        ("PUT", "auth/token/renew-self", None, Some(200), 400),
        ("GET", "auth/jwt/config", None, None, 200),
        ("PUT", "auth/jwt/config", Some(json!({"jwt_validation_pubkeys": [key().public_pem()]})), None, 204),
        ("LIST", "auth/jwt/role", None, None, 200),
        ("GET", "auth/jwt/role/my-role", None, None, 200),
        (
            "PUT",
            "auth/jwt/role/my-role",
            Some(json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "vault"})),
            None,
            204,
        ),
        ("DELETE", "auth/jwt/role/other", None, None, 204),
        ("PUT", "auth/jwt/login", Some(json!({"role": "my-role", "jwt": token()})), Some(200), 200),
        ("POST", "auth/token/lookup", Some(json!({"token": ROOT})), None, 200),
        ("POST", "auth/token/lookup-accessor", Some(json!({"accessor": "x"})), None, 400),
        ("POST", "auth/token/renew", Some(json!({"token": ROOT})), None, 400),
        ("POST", "auth/token/renew-accessor", Some(json!({"accessor": "x"})), None, 400),
        ("POST", "auth/token/revoke-accessor", Some(json!({"accessor": "x"})), None, 200),
        ("POST", "auth/token/create", Some(json!({"policies": "default"})), None, 200),
        ("POST", "auth/token/create-orphan", Some(json!({"policies": "default"})), None, 200),
        ("POST", "auth/token/revoke", Some(json!({"token": "jgs.unknown"})), None, 204),
        ("LIST", "sys/policies/acl", None, None, 200),
        ("GET", "sys/policies/acl/default", None, None, 200),
        (
            "PUT",
            "sys/policies/acl/reader",
            Some(json!({"policy": "path \"auth/jwt/role/*\" { capabilities = [\"read\", \"list\"] }"})),
            None,
            204,
        ),
        ("DELETE", "sys/policies/acl/nothing", None, None, 204),
        ("GET", "sys/metrics?format=prometheus", None, None, 200),
        ("GET", "sys/auth/jwt/tune", None, None, 200),
        ("GET", "sys/seal-status", None, Some(200), 200),
        ("GET", "sys/leader", None, Some(200), 200),
        ("GET", "sys/internal/ui/mounts", None, Some(200), 200),
        // The default policy grants it, as Vault's does.
        ("POST", "sys/capabilities-self", Some(json!({"paths": ["sys/auth"]})), Some(200), 200),
        ("GET", "sys/policy", None, None, 200),
        ("GET", "sys/policy/default", None, None, 200),
        ("LIST", "auth/token/accessors", None, None, 200),
        ("POST", "auth/token/tidy", None, None, 202),
        ("POST", "sys/leases/revoke-prefix/auth/none", None, None, 204),
        ("PUT", "auth/token/roles/ops", Some(json!({"allowed_policies": "default"})), None, 204),
        ("LIST", "auth/token/roles", None, None, 200),
        ("POST", "auth/token/create/ops", None, None, 200),
        ("POST", "sys/remount", Some(json!({"from": "auth/missing", "to": "auth/moved"})), None, 400),
        ("GET", "sys/remount/status/unknown", None, None, 404),
        // The default policy grants wrap, lookup and unwrap, as Vault's does.
        ("POST", "sys/wrapping/wrap", Some(json!({"a": "b"})), Some(400), 400),
        ("POST", "sys/wrapping/unwrap", Some(json!({"token": "jgs.unknown"})), Some(400), 400),
        ("POST", "sys/wrapping/lookup", Some(json!({"token": "jgs.unknown"})), Some(400), 400),
        ("POST", "sys/wrapping/rewrap", Some(json!({"token": "jgs.unknown"})), Some(400), 400),
        ("GET", "sys/audit", None, None, 200),
        ("PUT", "sys/audit/null", Some(json!({"type": "file", "options": {"file_path": "discard"}})), None, 204),
        ("POST", "sys/audit-hash/null", Some(json!({"input": "x"})), None, 200),
        ("DELETE", "sys/audit/null", None, None, 204),
        ("PUT", "auth/token/revoke-self", None, Some(204), 204),
    ]
}

#[actix_web::test]
async fn every_route_enforces_its_access() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let default_token = server.login("jwt").await;
    let revoked = server.login("jwt").await;
    assert_eq!(server.call("PUT", "auth/token/revoke-self", Some(&revoked), None).await.status, 204);
    // A token that expires before the matrix runs; the default token outlives it.
    let expiring =
        server.call("POST", "auth/token/create", Some(ROOT), Some(json!({"policies": "default", "ttl": "1m"}))).await;
    let expired = expiring.body["auth"]["client_token"].as_str().unwrap().to_owned();
    server.advance(120);
    // The table covers every endpoint kind the router resolves.
    let mounts = vec!["jwt".to_owned()];
    let mut kinds: Vec<&str> = samples()
        .iter()
        .map(|(_, path, _, _, _)| jwtgate_core::resolve(path.split('?').next().unwrap(), &mounts).unwrap().kind())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mut all = jwtgate_core::KINDS.to_vec();
    all.sort_unstable();
    assert_eq!(kinds, all, "every endpoint kind has a sample in the access matrix");

    for (method, path, body, default_status, root_status) in samples() {
        let public = matches!(
            path,
            "sys/health"
                | "sys/init"
                | "auth/jwt/login"
                | "sys/seal-status"
                | "sys/leader"
                | "sys/internal/ui/mounts"
                // Vault validates the wrapping token these name before the client token.
                | "sys/wrapping/lookup"
                | "sys/wrapping/unwrap"
                | "sys/wrapping/rewrap"
        );
        let tokens = [
            ("none", None),
            ("malformed", Some("not-a-token")),
            ("revoked", Some(revoked.as_str())),
            ("expired", Some(expired.as_str())),
            ("default", Some(default_token.as_str())),
        ];
        for (who, token) in tokens {
            let reply = server.call(method, path, token, body.clone()).await;
            let expected = if public { Some(root_status) } else { default_status.filter(|_| who == "default") };
            if let Some(expected) = expected {
                assert_eq!(reply.status.as_u16(), expected, "{method} {path} as {who}: {}", reply.text);
            } else {
                assert_error(&reply, 403, Some("permission denied"));
            }
        }
        let as_root = server.call(method, path, Some(ROOT), body.clone()).await;
        assert_eq!(as_root.status.as_u16(), root_status, "{method} {path} as root: {}", as_root.text);
    }
}

#[actix_web::test]
async fn acl_policies_grant_exactly_what_they_say() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let reader = "path \"auth/jwt/role/*\" {\n  capabilities = [\"read\", \"list\"]\n}\npath \"sys/auth\" { capabilities = [\"read\"] }\npath \"sys/auth/*\" { capabilities = [\"create\", \"update\"] }\n";
    assert_eq!(
        server.call("PUT", "sys/policies/acl/Reader", Some(ROOT), Some(json!({"policy": reader}))).await.status,
        204
    );
    let read_back = server.call("GET", "sys/policies/acl/reader", Some(ROOT), None).await;
    assert_eq!(
        (read_back.body["data"]["name"].clone(), read_back.body["data"]["policy"].clone()),
        (json!("reader"), json!(reader))
    );
    let list = server.call("LIST", "sys/policies/acl", Some(ROOT), None).await;
    assert_eq!(list.body["data"]["keys"], json!(["default", "reader", "root"]));

    let created = server.call("POST", "auth/token/create", Some(ROOT), Some(json!({"policies": "reader"}))).await;
    let token = created.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let cases: Vec<(&str, &str, Option<Value>, u16)> = vec![
        ("GET", "auth/jwt/role/my-role", None, 200),
        ("LIST", "auth/jwt/role", None, 200),
        (
            "PUT",
            "auth/jwt/role/my-role",
            Some(json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "x"})),
            403,
        ),
        ("DELETE", "auth/jwt/role/my-role", None, 403),
        ("GET", "auth/jwt/config", None, 403),
        ("GET", "sys/auth", None, 200),
        // Enabling an auth method also needs sudo.
        ("POST", "sys/auth/other", Some(json!({"type": "jwt"})), 403),
        // The default policy comes with every token.
        ("GET", "auth/token/lookup-self", None, 200),
    ];
    for (method, path, body, status) in cases {
        let reply = server.call(method, path, Some(&token), body).await;
        assert_eq!(reply.status.as_u16(), status, "{method} {path}: {}", reply.text);
    }
    // Tightening the policy applies to the next request.
    let denied = "path \"auth/jwt/role/*\" { capabilities = [\"deny\"] }";
    assert_eq!(
        server.call("PUT", "sys/policies/acl/reader", Some(ROOT), Some(json!({"policy": denied}))).await.status,
        204
    );
    assert_error(
        &server.call("GET", "auth/jwt/role/my-role", Some(&token), None).await,
        403,
        Some("permission denied"),
    );
}

/// (method, path, body, status, first error)
type ErrorCase = (&'static str, &'static str, Option<Value>, u16, Option<&'static str>);

#[actix_web::test]
async fn policy_endpoint_errors() {
    let server = Server::new();
    let cases: Vec<ErrorCase> = vec![
        (
            "PUT",
            "sys/policies/acl/root",
            Some(json!({"policy": "path \"x\" { capabilities = [\"read\"] }"})),
            400,
            Some("cannot update \"root\" policy"),
        ),
        ("DELETE", "sys/policies/acl/root", None, 400, Some("cannot delete \"root\" policy")),
        ("DELETE", "sys/policies/acl/default", None, 400, Some("cannot delete default policy")),
        ("PUT", "sys/policies/acl/p", Some(json!({})), 400, Some("'policy' parameter not supplied or empty")),
        (
            "PUT",
            "sys/policies/acl/p",
            Some(json!({"policy": "path \"x\" { capabilities = [\"fly\"] }"})),
            400,
            Some("failed to parse policy: line 1: unknown capability \"fly\""),
        ),
        ("GET", "sys/policies/acl/missing", None, 404, None),
    ];
    for (method, path, body, status, message) in cases {
        assert_error(&server.call(method, path, Some(ROOT), body).await, status, message);
    }
    let default = server.call("GET", "sys/policies/acl/default", Some(ROOT), None).await;
    assert!(default.body["data"]["policy"].as_str().unwrap().contains("auth/token/lookup-self"));
}

/// Vault's token-creation rules for callers without root or sudo: a child's policies are a
/// subset of the parent's, its id is generated, and it has a parent.
#[actix_web::test]
async fn non_root_token_creation_is_bounded_by_the_parent() {
    let server = Server::new();
    let creator = "path \"auth/token/create\" { capabilities = [\"update\"] }";
    let sudo = "path \"auth/token/create\" { capabilities = [\"update\", \"sudo\"] }";
    for (name, policy) in [("creator", creator), ("creator-sudo", sudo), ("other", creator)] {
        let body = json!({ "policy": policy });
        assert_eq!(server.call("PUT", &format!("sys/policies/acl/{name}"), Some(ROOT), Some(body)).await.status, 204);
    }
    let mut minted = Vec::new();
    for (policy, no_default) in [("creator", false), ("creator", true), ("creator-sudo", false)] {
        let body = json!({"policies": [policy], "no_default_policy": no_default});
        let reply = server.call("POST", "auth/token/create", Some(ROOT), Some(body)).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        minted.push(reply.body["auth"]["client_token"].as_str().unwrap().to_owned());
    }
    let [parent, without_default, with_sudo] = <[String; 3]>::try_from(minted).unwrap();

    let subset = "child policies must be subset of parent";
    // (caller, body, status, first error, the child's policies)
    type Case<'a> = (&'a str, Value, u16, Option<&'a str>, Option<Value>);
    let cases: Vec<Case> = vec![
        (&parent, json!({"policies": ["other"]}), 400, Some(subset), None),
        (&parent, json!({"policies": ["creator", "other"]}), 400, Some(subset), None),
        (&parent, json!({"policies": ["root"]}), 400, Some(subset), None),
        (&parent, json!({"policies": "Creator"}), 400, Some(subset), None),
        (&parent, json!({"id": "chosen-id"}), 400, Some("root or sudo privileges required to specify token id"), None),
        (
            &parent,
            json!({"no_parent": true}),
            400,
            Some("root or sudo privileges required to create orphan token"),
            None,
        ),
        (&parent, json!({"policies": ["creator"]}), 200, None, Some(json!(["creator", "default"]))),
        (&parent, json!({"policies": ["default"]}), 200, None, Some(json!(["default"]))),
        (&parent, json!({}), 200, None, Some(json!(["creator", "default"]))),
        // A parent without `default` cannot hand it out.
        (&without_default, json!({"policies": ["default"]}), 400, Some(subset), None),
        (&without_default, json!({}), 200, None, Some(json!(["creator"]))),
        // Sudo on the path lifts the rules, as root does.
        (&with_sudo, json!({"policies": ["other"]}), 200, None, Some(json!(["default", "other"]))),
        (&with_sudo, json!({"id": "sudo-chosen-id"}), 200, None, Some(json!(["creator-sudo", "default"]))),
    ];
    for (caller, body, status, message, policies) in cases {
        let reply = server.call("POST", "auth/token/create", Some(caller), Some(body.clone())).await;
        match message {
            Some(message) => assert_error(&reply, status, Some(message)),
            None => {
                assert_eq!(reply.status.as_u16(), status, "{body}: {}", reply.text);
                assert_eq!(reply.body["auth"]["policies"], policies.unwrap(), "{body}");
            }
        }
    }
    // Nothing was minted by the refused requests: the chosen id does not exist.
    let lookup = server.call("POST", "auth/token/lookup", Some(ROOT), Some(json!({"token": "chosen-id"}))).await;
    assert_error(&lookup, 403, Some("bad token"));
    let chosen = server.call("POST", "auth/token/lookup", Some(ROOT), Some(json!({"token": "sudo-chosen-id"}))).await;
    assert_eq!(chosen.status, 200, "{}", chosen.text);
}

/// `auth/token/create-orphan` needs only its ACL, not sudo (as in Vault and OpenBao 2.7.2), and
/// the parent's policies still bound the orphan's.
#[actix_web::test]
async fn create_orphan_is_governed_by_its_acl() {
    let server = Server::new();
    let policy = "path \"auth/token/create-orphan\" { capabilities = [\"update\"] }";
    let body = json!({ "policy": policy });
    assert_eq!(server.call("PUT", "sys/policies/acl/orphaner", Some(ROOT), Some(body)).await.status, 204);
    let parent = server.call("POST", "auth/token/create", Some(ROOT), Some(json!({"policies": "orphaner"}))).await;
    let parent = parent.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let orphan = server.call("POST", "auth/token/create-orphan", Some(&parent), Some(json!({}))).await;
    assert_eq!(orphan.status, 200, "{}", orphan.text);
    assert_eq!(orphan.body["auth"]["orphan"], true);
    assert_eq!(orphan.body["auth"]["policies"], json!(["default", "orphaner"]));
    let wider =
        server.call("POST", "auth/token/create-orphan", Some(&parent), Some(json!({"policies": "admin"}))).await;
    assert_error(&wider, 400, Some("child policies must be subset of parent"));
    let elsewhere = server.call("POST", "auth/token/create", Some(&parent), Some(json!({}))).await;
    assert_error(&elsewhere, 403, Some("permission denied"));
}

/// JSON-syntax and legacy `policy = "..."` policies are accepted as Vault's parser accepts
/// them, and an exact rule on a collection grants LIST on it.
#[actix_web::test]
async fn json_and_legacy_policies_and_collection_rules() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let policies = [
        ("json-reader", r#"{"path": {"auth/jwt/role/*": {"capabilities": ["read"]}}}"#.to_owned()),
        ("legacy-reader", "path \"auth/jwt/config\" { policy = \"read\" }".to_owned()),
        ("lister", "path \"auth/jwt/role\" { capabilities = [\"list\"] }".to_owned()),
    ];
    for (name, policy) in &policies {
        let written =
            server.call("PUT", &format!("sys/policies/acl/{name}"), Some(ROOT), Some(json!({"policy": policy}))).await;
        assert_eq!(written.status, 204, "{name}: {}", written.text);
    }
    let created = server
        .call(
            "POST",
            "auth/token/create",
            Some(ROOT),
            Some(json!({"policies": ["json-reader", "legacy-reader", "lister"]})),
        )
        .await;
    let token = created.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let cases: Vec<(&str, &str, u16)> = vec![
        ("GET", "auth/jwt/role/my-role", 200),
        ("GET", "auth/jwt/config", 200),
        ("LIST", "auth/jwt/role", 200),
        ("GET", "auth/jwt/role?list=true", 200),
        ("DELETE", "auth/jwt/role/my-role", 403),
        ("PUT", "auth/jwt/config", 403),
    ];
    for (method, path, status) in cases {
        let reply = server.call(method, path, Some(&token), None).await;
        assert_eq!(reply.status.as_u16(), status, "{method} {path}: {}", reply.text);
    }
}
