//! The access matrix: every route × {no token, malformed, revoked, default-policy, root}.

use crate::*;

/// One sample request per endpoint of the route table, with the status root gets.
fn samples() -> Vec<(&'static str, &'static str, Option<Value>, jwtgate_api::Access)> {
    use jwtgate_api::Access::*;
    vec![
        ("GET", "sys/health", None, Public),
        ("GET", "sys/init", None, Public),
        ("GET", "sys/auth", None, Root),
        ("GET", "sys/auth/jwt", None, Root),
        ("POST", "sys/auth/other", Some(json!({"type": "jwt"})), Root),
        ("DELETE", "sys/auth/other", None, Root),
        ("GET", "auth/token/lookup-self", None, OwnToken),
        ("PUT", "auth/token/renew-self", None, OwnToken),
        ("GET", "auth/jwt/config", None, Root),
        ("PUT", "auth/jwt/config", Some(json!({"jwt_validation_pubkeys": [key().public_pem()]})), Root),
        ("LIST", "auth/jwt/role", None, Root),
        ("GET", "auth/jwt/role/my-role", None, Root),
        (
            "PUT",
            "auth/jwt/role/my-role",
            Some(json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "vault"})),
            Root,
        ),
        ("DELETE", "auth/jwt/role/other", None, Root),
        ("PUT", "auth/jwt/login", Some(json!({"role": "my-role", "jwt": token()})), Public),
        ("POST", "auth/token/lookup", Some(json!({"token": ROOT})), Root),
        ("POST", "auth/token/lookup-accessor", Some(json!({"accessor": "x"})), Root),
        ("POST", "auth/token/renew", Some(json!({"token": ROOT})), Root),
        ("POST", "auth/token/renew-accessor", Some(json!({"accessor": "x"})), Root),
        ("POST", "auth/token/revoke-accessor", Some(json!({"accessor": "x"})), Root),
        ("POST", "auth/token/create", Some(json!({"policies": "default"})), Root),
        ("POST", "auth/token/create-orphan", Some(json!({"policies": "default"})), Root),
        ("POST", "auth/token/revoke", Some(json!({"token": "jgs.unknown"})), Root),
        ("PUT", "auth/token/revoke-self", None, OwnToken),
    ]
}

#[actix_web::test]
async fn every_route_enforces_its_access() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let default_token = server.login("jwt").await;
    let revoked = server.login("jwt").await;
    assert_eq!(server.call("PUT", "auth/token/revoke-self", Some(&revoked), None).await.status, 204);
    // The table covers every endpoint kind the router resolves.
    let mounts = vec!["jwt".to_owned()];
    let mut kinds: Vec<&str> =
        samples().iter().map(|(_, path, _, _)| jwtgate_api::resolve(path, &mounts).unwrap().kind()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mut all = jwtgate_api::KINDS.to_vec();
    all.sort_unstable();
    assert_eq!(kinds, all, "every endpoint kind has a sample in the access matrix");
    for (_, path, _, access) in samples() {
        assert_eq!(jwtgate_api::resolve(path, &mounts).unwrap().access(), access, "{path}");
    }

    for (method, path, body, access) in samples() {
        for (who, token) in [
            ("none", None),
            ("malformed", Some("not-a-token")),
            ("revoked", Some(revoked.as_str())),
            ("default", Some(default_token.as_str())),
        ] {
            let reply = server.call(method, path, token, body.clone()).await;
            let allowed = match access {
                jwtgate_api::Access::Public => true,
                jwtgate_api::Access::OwnToken => who == "default",
                jwtgate_api::Access::Root => false,
            };
            if allowed {
                assert_ne!(reply.status, 403, "{method} {path} as {who}: {}", reply.text);
            } else {
                assert_error(&reply, 403, Some("permission denied"));
            }
        }
        let as_root = server.call(method, path, Some(ROOT), body.clone()).await;
        assert_ne!(as_root.status, 403, "{method} {path} as root: {}", as_root.text);
    }
}

#[actix_web::test]
async fn unknown_paths_and_operations() {
    let server = Server::new().with_jwt_mount("jwt").await;
    assert_error(&server.call("GET", "sys/nope", None, None).await, 403, Some("permission denied"));
    assert_error(
        &server.call("GET", "sys/nope", Some(ROOT), None).await,
        404,
        Some("no handler for route \"sys/nope\". route entry not found."),
    );
    // A login to a mount that does not exist is not a login path: it needs a token.
    assert_error(
        &server.call("PUT", "auth/x/login", None, Some(json!({"role": "r", "jwt": token()}))).await,
        403,
        Some("permission denied"),
    );
    assert_error(
        &server.call("PUT", "auth/x/login", Some(ROOT), None).await,
        404,
        Some("no handler for route \"auth/x/login\". route entry not found."),
    );
    assert_error(&server.call("DELETE", "auth/jwt/config", Some(ROOT), None).await, 405, Some("unsupported operation"));
    assert_error(&server.call("PATCH", "auth/jwt/config", Some(ROOT), None).await, 405, Some("unsupported operation"));
}
