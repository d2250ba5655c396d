//! Health, init, sys/auth, mount config and roles.

use crate::*;

#[actix_web::test]
async fn health_and_init() {
    let fresh = Server::uninitialised();
    let reply = fresh.call("GET", "sys/health", None, None).await;
    assert_eq!(reply.status, 501);
    assert_eq!(reply.body["initialized"], false);
    assert_eq!(fresh.call("GET", "sys/health?uninitcode=299", None, None).await.status.as_u16(), 299);
    // The Go client's overrides, booleans in any case.
    assert_eq!(
        fresh
            .call("GET", "sys/health?standbyok=TRUE&perfstandbyok=True&uninitcode=200", None, None)
            .await
            .status
            .as_u16(),
        200
    );
    assert_error(&fresh.call("GET", "sys/health?activecode=abc", None, None).await, 400, Some("bad code value"));
    assert_error(
        &fresh.call("GET", "sys/health?standbyok=maybe", None, None).await,
        400,
        Some("bad value for standbyok parameter"),
    );
    assert_eq!(fresh.call("GET", "sys/init", None, None).await.body, json!({"initialized": false}));
    let init = fresh.call("PUT", "sys/init", None, Some(json!({}))).await;
    assert_eq!(init.status, 200);
    let root = init.body["root_token"].as_str().unwrap().to_owned();
    assert!(root.starts_with("jgs."));
    assert_error(
        &fresh.call("PUT", "sys/init", None, Some(json!({}))).await,
        400,
        Some("Vault is already initialized"),
    );
    let health = fresh.call("GET", "sys/health", None, None).await;
    assert_eq!(health.status, 200);
    assert_eq!((health.body["initialized"].clone(), health.body["sealed"].clone()), (json!(true), json!(false)));
    let head = fresh.call("HEAD", "sys/health", None, None).await;
    assert_eq!((head.status.as_u16(), head.text.as_str()), (200, ""));
    // The root token works.
    assert_eq!(fresh.call("GET", "sys/auth", Some(&root), None).await.status, 200);
}

#[actix_web::test]
async fn auth_mounts() {
    let server = Server::new();
    let cli_body = json!({"type":"jwt","description":"","config":{"default_lease_ttl":"0s","max_lease_ttl":"0s"},"local":false,"seal_wrap":false,"external_entropy_access":false,"options":null});
    assert_eq!(server.call("POST", "sys/auth/jwt", Some(ROOT), Some(cli_body.clone())).await.status, 204);
    assert_eq!(server.call("POST", "sys/auth/jwt/cluster-a", Some(ROOT), Some(cli_body.clone())).await.status, 204);
    assert_error(
        &server.call("POST", "sys/auth/jwt", Some(ROOT), Some(cli_body)).await,
        400,
        Some("path is already in use at jwt/"),
    );
    assert_error(
        &server.call("POST", "sys/auth/x", Some(ROOT), Some(json!({}))).await,
        400,
        Some("backend type must be specified as a string"),
    );
    assert_error(
        &server.call("POST", "sys/auth/x", Some(ROOT), Some(json!({"type": "ldap"}))).await,
        400,
        Some("plugin not found in the catalog: ldap"),
    );

    let list = server.call("GET", "sys/auth", Some(ROOT), None).await;
    assert_eq!(list.status, 200);
    for key in ["token/", "jwt/", "jwt/cluster-a/"] {
        assert!(list.body[key].is_object(), "{key} at the top level");
        assert!(list.body["data"][key].is_object(), "{key} in data");
    }
    let accessor = list.body["jwt/"]["accessor"].as_str().unwrap();
    assert!(accessor.starts_with("auth_jwt_") && accessor.len() == "auth_jwt_".len() + 8, "{accessor}");
    assert_eq!(list.body["jwt/"]["config"]["token_type"], "default-service");
    assert_eq!(server.call("GET", "sys/auth/jwt", Some(ROOT), None).await.body["type"], "jwt");

    assert_eq!(server.call("DELETE", "sys/auth/jwt/cluster-a", Some(ROOT), None).await.status, 204);
    assert_eq!(server.call("DELETE", "sys/auth/jwt/cluster-a", Some(ROOT), None).await.status, 204);
    assert_error(
        &server.call("GET", "sys/auth/jwt/cluster-a", Some(ROOT), None).await,
        400,
        Some("No auth engine at jwt/cluster-a/"),
    );
}

#[actix_web::test]
async fn disabling_a_mount_revokes_its_tokens() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let client = server.login("jwt").await;
    assert_eq!(server.call("GET", "auth/token/lookup-self", Some(&client), None).await.status, 200);
    assert_eq!(server.call("DELETE", "sys/auth/jwt", Some(ROOT), None).await.status, 204);
    assert_error(
        &server.call("GET", "auth/token/lookup-self", Some(&client), None).await,
        403,
        Some("permission denied"),
    );
}

#[actix_web::test]
async fn mount_config() {
    let server = Server::new();
    server.call("POST", "sys/auth/jwt", Some(ROOT), Some(json!({"type": "jwt"}))).await;
    assert_error(&server.call("GET", "auth/jwt/config", Some(ROOT), None).await, 404, None);
    let pem = key().public_pem();
    let cases: Vec<(Value, u16, Option<&str>)> = vec![
        (json!({}), 400, Some("exactly one of 'jwt_validation_pubkeys', 'jwt_validation_jwks', 'jwks_url', 'jwks_pairs' or 'oidc_discovery_url' must be set")),
        (json!({"jwt_validation_pubkeys": pem, "jwks_url": "https://x.example"}), 400, Some("exactly one of 'jwt_validation_pubkeys', 'jwt_validation_jwks', 'jwks_url', 'jwks_pairs' or 'oidc_discovery_url' must be set")),
        (json!({"jwt_validation_pubkeys": "garbage"}), 400, Some("error parsing public key: unexpected trailing data after parsed PEM block")),
        (json!({"jwt_validation_pubkeys": [pem], "jwt_supported_algs": "HS256"}), 400, Some("invalid jwt_supported_algs: unsupported signing algorithm \"HS256\"")),
        (json!({"jwks_pairs": ["foo", "bar"]}), 400, Some("invalid jwks_pairs: jwks_pairs must be provided as a list of json objects with the fields jwks_url and jwks_ca_pem")),
        (json!({"oidc_discovery_url": "http://insecure.example"}), 400, Some("oidc_discovery_url must be an https URL, got \"http://insecure.example\"")),
        (json!({"jwt_validation_pubkeys": [pem], "oidc_client_id": "x"}), 400, Some("both 'oidc_client_id' and 'oidc_client_secret' must be set for OIDC")),
        (json!({"jwt_validation_pubkeys": [pem], "oidc_response_mode": "QUERY"}), 400, Some("invalid response_mode: \"QUERY\"")),
        (json!({"jwt_validation_pubkeys": [pem], "bound_issuer": "https://issuer"}), 204, None),
    ];
    for (body, status, message) in cases {
        let reply = server.call("PUT", "auth/jwt/config", Some(ROOT), Some(body.clone())).await;
        if status == 204 {
            assert_eq!(reply.status, 204, "{body}: {}", reply.text);
        } else {
            assert_error(&reply, status, message);
        }
    }
    let read = server.call("GET", "auth/jwt/config", Some(ROOT), None).await;
    assert_eq!(read.body["data"]["bound_issuer"], "https://issuer");
    assert_eq!(read.body["data"]["jwks_pairs"], json!([]));
    assert_eq!(read.body["data"]["namespace_in_state"], true);
    assert!(read.body["data"].get("oidc_client_secret").is_none());
    // Unknown fields are accepted with Vault's warning.
    let warned = server
        .call("PUT", "auth/jwt/config", Some(ROOT), Some(json!({"jwt_validation_pubkeys": [pem], "bogus": 1})))
        .await;
    assert_eq!(warned.body["warnings"], json!(["Endpoint ignored these unrecognized parameters: [bogus]"]));
}

#[actix_web::test]
async fn roles() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let read = server.call("GET", "auth/jwt/role/my-role", Some(ROOT), None).await;
    let data = &read.body["data"];
    assert_eq!(data["token_policies"], json!(["default"]));
    assert_eq!(data["policies"], json!(["default"]), "deprecated name echoed because it was used");
    assert_eq!((data["token_ttl"].clone(), data["ttl"].clone()), (json!(3600), json!(3600)));
    assert_eq!(data["bound_audiences"], json!(["vault"]));
    assert_eq!(data["token_type"], "default");
    assert_eq!(data["bound_claims"], Value::Null);

    let cases: Vec<(&str, Value, u16, Option<&str>)> = vec![
        (
            "r1",
            json!({"role_type": "jwt", "bound_audiences": "vault"}),
            400,
            Some("a user claim must be defined on the role"),
        ),
        (
            "r2",
            json!({"role_type": "jwt", "user_claim": "sub", "policies": "default"}),
            400,
            Some("must have at least one bound constraint when creating/updating a role"),
        ),
        (
            "r3",
            json!({"user_claim": "sub", "bound_audiences": "vault"}),
            400,
            Some("'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified."),
        ),
        ("r4", json!({"role_type": "x"}), 400, Some("invalid 'role_type': x")),
        (
            "r5",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "s", "bound_claims_type": "invalid"}),
            400,
            Some("invalid 'bound_claims_type': invalid"),
        ),
        (
            "r6",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_claims_type": "glob", "bound_claims": {"a": 25}}),
            400,
            Some("claim is not a string or list: 25"),
        ),
        (
            "r7",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "s", "claim_mappings": {"a": "role"}}),
            400,
            Some("metadata key \"role\" is reserved and may not be a mapping destination"),
        ),
        (
            "r8",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "s", "token_policies": " Root "}),
            400,
            Some("auth methods cannot create root tokens"),
        ),
        (
            "r9",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "s", "ttl": "2h", "max_ttl": "1h"}),
            400,
            Some("'token_ttl' cannot be greater than 'token_max_ttl'"),
        ),
        (
            "r10",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "s", "token_num_uses": -1}),
            400,
            Some("'token_num_uses' cannot be negative"),
        ),
        (
            "r11",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "s", "token_ttl": "soon"}),
            400,
            Some("Field validation failed: error converting input soon for field \"token_ttl\": invalid duration"),
        ),
        ("..%2Fadmin", json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "s"}), 400, None),
        (
            "ok",
            json!({"role_type": "jwt", "user_claim": "sub", "token_bound_cidrs": "127.0.0.1/8", "clock_skew_leeway": "-1", "expiration_leeway": "5s"}),
            204,
            None,
        ),
    ];
    for (name, body, status, message) in cases {
        let reply = server.call("PUT", &format!("auth/jwt/role/{name}"), Some(ROOT), Some(body.clone())).await;
        match message {
            Some(message) => assert_error(&reply, status, Some(message)),
            None => assert_eq!(reply.status.as_u16(), status, "{name} {body}: {}", reply.text),
        }
    }
    let ok = server.call("GET", "auth/jwt/role/ok", Some(ROOT), None).await.body;
    assert_eq!(
        (ok["data"]["clock_skew_leeway"].clone(), ok["data"]["expiration_leeway"].clone()),
        (json!(-1), json!(5))
    );
    assert_eq!(ok["data"]["token_bound_cidrs"], json!(["127.0.0.1/8"]));
    // Names are lower-cased; role writes merge, but role_type resets when omitted (Vault quirk).
    assert_eq!(server.call("GET", "auth/jwt/role/MY-ROLE", Some(ROOT), None).await.status, 200);
    assert_error(
        &server.call("PUT", "auth/jwt/role/my-role", Some(ROOT), Some(json!({"token_ttl": "2h"}))).await,
        400,
        Some("'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified."),
    );
    assert_eq!(
        server
            .call("PUT", "auth/jwt/role/my-role", Some(ROOT), Some(json!({"role_type": "jwt", "token_ttl": "2h"})))
            .await
            .status,
        204
    );
    let merged = server.call("GET", "auth/jwt/role/my-role", Some(ROOT), None).await.body;
    assert_eq!(
        (merged["data"]["token_ttl"].clone(), merged["data"]["bound_subject"].clone()),
        (json!(7200), json!(SUBJECT))
    );
    assert!(merged["data"].get("ttl").is_none(), "the new name clears the deprecated one");

    for list in [
        server.call("LIST", "auth/jwt/role", Some(ROOT), None).await,
        server.call("GET", "auth/jwt/role?list=true", Some(ROOT), None).await,
    ] {
        assert_eq!(list.body["data"]["keys"], json!(["my-role", "ok"]));
    }
    assert_eq!(server.call("DELETE", "auth/jwt/role/ok", Some(ROOT), None).await.status, 204);
    assert_eq!(server.call("DELETE", "auth/jwt/role/my-role", Some(ROOT), None).await.status, 204);
    assert_error(&server.call("GET", "auth/jwt/role/ok", Some(ROOT), None).await, 404, None);
    assert_error(&server.call("LIST", "auth/jwt/role", Some(ROOT), None).await, 404, None);
}

#[actix_web::test]
async fn prometheus_metrics() {
    let server = Server::new().with_jwt_mount("jwt").await;
    server.login("jwt").await;
    server.login("jwt").await;
    let forged = TestKey::p256().token(&claims());
    assert_eq!(
        server.call("PUT", "auth/jwt/login", None, Some(json!({"role": "my-role", "jwt": forged}))).await.status,
        400
    );
    let reply = server.call("GET", "sys/metrics?format=prometheus", Some(ROOT), None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type, "text/plain; version=0.0.4");
    for line in [
        "jwtgate_logins_total{mount=\"jwt\",outcome=\"success\"} 2",
        "jwtgate_logins_total{mount=\"jwt\",outcome=\"failure\"} 1",
        "jwtgate_login_duration_seconds_count 3",
        "jwtgate_login_duration_seconds_bucket{le=\"+Inf\"} 3",
        // The root token and the two logins.
        "jwtgate_tokens_live 3",
    ] {
        assert!(reply.text.lines().any(|l| l == line), "missing {line:?} in\n{}", reply.text);
    }
    assert_error(
        &server.call("GET", "sys/metrics", Some(ROOT), None).await,
        400,
        Some("only format=prometheus is supported"),
    );
}

#[actix_web::test]
async fn mount_tuning() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let read = server.call("GET", "sys/auth/jwt/tune", Some(ROOT), None).await;
    assert_eq!(
        (read.body["data"]["default_lease_ttl"].clone(), read.body["data"]["max_lease_ttl"].clone()),
        (json!(2_764_800), json!(2_764_800))
    );
    assert_eq!(
        server
            .call(
                "POST",
                "sys/auth/jwt/tune",
                Some(ROOT),
                Some(json!({"default_lease_ttl": "30m", "max_lease_ttl": "2h"}))
            )
            .await
            .status,
        204
    );
    let read = server.call("GET", "sys/auth/jwt/tune", Some(ROOT), None).await;
    assert_eq!(
        (read.body["data"]["default_lease_ttl"].clone(), read.body["data"]["max_lease_ttl"].clone()),
        (json!(1800), json!(7200))
    );
    // The role's 1h TTL is within the tuned maximum; a role without TTL gets the tuned default.
    let no_ttl = json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "vault"});
    server.call("PUT", "auth/jwt/role/no-ttl", Some(ROOT), Some(no_ttl)).await;
    let reply = server.call("PUT", "auth/jwt/login", None, Some(json!({"role": "no-ttl", "jwt": token()}))).await;
    assert_eq!(reply.body["auth"]["lease_duration"], 1800);
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"default_lease_ttl": "3h"}),
            "backend max lease TTL of 7200 would be less than backend default lease TTL of 10800",
        ),
        (json!({"max_lease_ttl": "9999h"}), "max_lease_ttl cannot be greater than the system max lease TTL"),
        (json!({"token_type": "weird"}), "invalid value for 'token_type'"),
    ];
    for (body, message) in cases {
        assert_error(&server.call("POST", "sys/auth/jwt/tune", Some(ROOT), Some(body)).await, 400, Some(message));
    }
    assert_error(
        &server.call("GET", "sys/auth/nope/tune", Some(ROOT), None).await,
        400,
        Some("cannot fetch sysview for path \"auth/nope/\""),
    );
}

#[actix_web::test]
async fn metrics_can_be_served_without_a_token_when_configured() {
    let server = Server::new();
    assert_error(
        &server.call("GET", "sys/metrics?format=prometheus", None, None).await,
        403,
        Some("permission denied"),
    );
    let open = Server::configured(|state| state.unauthenticated_metrics = true);
    assert_eq!(open.call("GET", "sys/metrics?format=prometheus", None, None).await.status, 200);
    // Only metrics: everything else still needs a token.
    assert_error(&open.call("GET", "sys/auth", None, None).await, 403, Some("permission denied"));
}
