//! Login: the seed's flow, Vault's error catalogue, token self-service, hostile requests.

use crate::*;
use actix_web::test::TestRequest;

#[actix_web::test]
async fn the_seed_flow() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let reply = server
        .call("PUT", "auth/jwt/login", None, Some(json!({"role": "my-role", "jwt": format!("{}\n", token())})))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.content_type, "application/json");
    let auth = &reply.body["auth"];
    assert_eq!(auth["policies"], json!(["default"]));
    assert_eq!(auth["token_policies"], json!(["default"]));
    assert_eq!(auth["metadata"], json!({"role": "my-role"}));
    assert_eq!(
        (auth["lease_duration"].clone(), auth["renewable"].clone(), auth["orphan"].clone()),
        (json!(3600), json!(true), json!(true))
    );
    assert_eq!(auth["token_type"], "service");
    assert_eq!(auth["accessor"].as_str().unwrap().len(), 24);
    for key in
        ["request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info", "warnings", "auth", "mount_type"]
    {
        assert!(reply.body.get(key).is_some(), "envelope key {key}");
    }
    let client = auth["client_token"].as_str().unwrap().to_owned();

    let lookup = server.call("GET", "auth/token/lookup-self", Some(&client), None).await;
    assert_eq!(lookup.status, 200);
    let data = &lookup.body["data"];
    assert_eq!(data["display_name"], format!("jwt-{SUBJECT}"));
    assert_eq!(
        (data["path"].clone(), data["ttl"].clone(), data["type"].clone()),
        (json!("auth/jwt/login"), json!(3600), json!("service"))
    );
    assert_eq!(data["expire_time"], "2023-11-14T23:13:20Z");
    assert_eq!(data["meta"], json!({"role": "my-role"}));

    let renewed = server.call("PUT", "auth/token/renew-self", Some(&client), Some(json!({"increment": "30m"}))).await;
    assert_eq!(renewed.status, 200, "{}", renewed.text);
    assert_eq!(
        (renewed.body["auth"]["lease_duration"].clone(), renewed.body["auth"]["client_token"].clone()),
        (json!(1800), json!(client))
    );

    // Bearer works like X-Vault-Token.
    let bearer = server
        .raw(
            TestRequest::get()
                .uri("/v1/auth/token/lookup-self")
                .insert_header(("Authorization", format!("Bearer {client}"))),
        )
        .await;
    assert_eq!(bearer.status, 200);

    assert_eq!(server.call("PUT", "auth/token/revoke-self", Some(&client), None).await.status, 204);
    let after = server.call("GET", "auth/token/lookup-self", Some(&client), None).await;
    assert_error(&after, 403, Some("permission denied"));
    assert_eq!(after.body["errors"], json!(["permission denied", "invalid token"]));
}

#[actix_web::test]
async fn the_seed_curl_line_and_form_bodies() {
    let server = Server::new().with_jwt_mount("jwt").await;
    // `curl --data '{"jwt": "...", "role": "my-role"}'` sends form encoding with a JSON body.
    let curl = TestRequest::post()
        .uri("/v1/auth/jwt/login")
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(json!({"jwt": token(), "role": "my-role"}).to_string());
    assert_eq!(server.raw(curl).await.status, 200);
    let form = TestRequest::post()
        .uri("/v1/auth/jwt/login")
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .set_payload(format!("role=my-role&jwt={}", token()));
    assert_eq!(server.raw(form).await.status, 200);
    let plain = TestRequest::post()
        .uri("/v1/auth/jwt/login")
        .insert_header(("Content-Type", "text/plain"))
        .set_payload(json!({"jwt": token(), "role": "my-role"}).to_string());
    assert_eq!(server.raw(plain).await.status, 200);
}

#[actix_web::test]
async fn login_error_catalogue() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let oidc_role = json!({"user_claim": "sub", "allowed_redirect_uris": "https://x/cb", "bound_audiences": "vault"});
    assert_eq!(server.call("PUT", "auth/jwt/role/oidc-role", Some(ROOT), Some(oidc_role)).await.status, 204);
    let no_aud_role = json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": SUBJECT});
    assert_eq!(server.call("PUT", "auth/jwt/role/no-aud", Some(ROOT), Some(no_aud_role)).await.status, 204);
    let cidr_role =
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "vault", "token_bound_cidrs": "10.0.0.0/8"});
    assert_eq!(server.call("PUT", "auth/jwt/role/cidr", Some(ROOT), Some(cidr_role)).await.status, 204);
    let expired = key().token(&{
        let mut c = claims();
        c["exp"] = json!(NOW - 61);
        c
    });
    let other = TestKey::p256().token(&claims());
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"jwt": token()}), 400, "missing role"),
        (json!({"role": "", "jwt": token()}), 400, "missing role"),
        (json!({"role": "nope", "jwt": token()}), 400, "role \"nope\" could not be found"),
        (json!({"role": "oidc-role", "jwt": token()}), 400, "role with oidc role_type is not allowed"),
        (json!({"role": "my-role"}), 400, "missing token"),
        (json!({"role": "my-role", "jwt": ""}), 400, "missing token"),
        (json!({"role": "my-role", "jwt": 42}), 400, "error parsing JSON"),
        (json!({"role": "my-role", "jwt": expired}), 400, "error validating token: invalid expiration time (exp) claim: token is expired"),
        (json!({"role": "my-role", "jwt": other}), 400, "error validating token: error verifying token signature: no known key successfully validated the token signature"),
        (json!({"role": "no-aud", "jwt": token()}), 400, "audience claim found in JWT but no audiences bound to the role"),
        (json!({"role": "cidr", "jwt": token()}), 403, "permission denied"),
        (json!({"role": "my-role", "jwt": "a.b"}), 400, "error validating token: error verifying token signature: malformed token: compact JWS format must have three parts"),
    ];
    for (body, status, message) in cases {
        let reply = server.call("PUT", "auth/jwt/login", None, Some(body.clone())).await;
        assert_error(&reply, status, Some(message));
        assert!(!reply.text.contains("eyJ"), "a response echoed a JWT: {}", reply.text);
    }
    // Unknown fields are ignored with Vault's warning; mass assignment changes nothing.
    let reply = server
        .call(
            "PUT",
            "auth/jwt/login",
            None,
            Some(json!({"role": "my-role", "jwt": token(), "policies": ["root"], "ttl": "9999h"})),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["warnings"], json!(["Endpoint ignored these unrecognized parameters: [policies ttl]"]));
    assert_eq!(
        (reply.body["auth"]["policies"].clone(), reply.body["auth"]["lease_duration"].clone()),
        (json!(["default"]), json!(3600))
    );
    // A stale token on a login request is ignored.
    let stale =
        server.call("PUT", "auth/jwt/login", Some("jgs.stale"), Some(json!({"role": "my-role", "jwt": token()}))).await;
    assert_eq!(stale.status, 200);
}

#[actix_web::test]
async fn every_login_gets_a_distinct_token() {
    let server = Server::new().with_jwt_mount("jwt/cluster-a").await;
    let mut tokens = std::collections::BTreeSet::new();
    for _ in 0..20 {
        assert!(tokens.insert(server.login("jwt/cluster-a").await));
    }
}

#[actix_web::test]
async fn body_limits_answer_413_with_and_without_length() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let big = json!({"role": "my-role", "jwt": "a".repeat(70_000)}).to_string();
    let with_length = TestRequest::post().uri("/v1/auth/jwt/login").set_payload(big.clone());
    assert_error(&server.raw(with_length).await, 413, Some("request body too large"));
    let huge = json!({"policy": "x".repeat(1_100_000)}).to_string();
    let admin = TestRequest::put().uri("/v1/auth/jwt/role/r").insert_header(("X-Vault-Token", ROOT)).set_payload(huge);
    assert_error(&server.raw(admin).await, 413, Some("request body too large"));
}

#[actix_web::test]
async fn malformed_bodies_are_400() {
    let server = Server::new().with_jwt_mount("jwt").await;
    for payload in ["{", "[1,2]", "{\"role\":\"my-role\"} trailing", "\"string\""] {
        let request = TestRequest::post()
            .uri("/v1/auth/jwt/login")
            .insert_header(("Content-Type", "application/json"))
            .set_payload(payload);
        assert_error(&server.raw(request).await, 400, Some("error parsing JSON"));
    }
}

#[actix_web::test]
async fn ttl_capping_and_renewal_limits() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let role = json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "vault", "token_ttl": "2h", "token_explicit_max_ttl": "1h"});
    assert_eq!(server.call("PUT", "auth/jwt/role/capped", Some(ROOT), Some(role)).await.status, 204);
    let reply = server.call("PUT", "auth/jwt/login", None, Some(json!({"role": "capped", "jwt": token()}))).await;
    assert_eq!(reply.body["auth"]["lease_duration"], 3600);
    assert_eq!(
        reply.body["warnings"],
        json!(["TTL of \"2h0m0s\" exceeded the effective max_ttl of \"1h0m0s\"; TTL value is capped accordingly"])
    );
    let client = reply.body["auth"]["client_token"].as_str().unwrap();
    // Renewal never extends past creation + max TTL.
    let renewed = server.call("PUT", "auth/token/renew-self", Some(client), Some(json!({"increment": 7200}))).await;
    assert_eq!(renewed.body["auth"]["lease_duration"], 3600);
    // A deleted role makes renewal fail.
    assert_eq!(server.call("DELETE", "auth/jwt/role/capped", Some(ROOT), None).await.status, 204);
    assert_error(
        &server.call("PUT", "auth/token/renew-self", Some(client), None).await,
        400,
        Some("failed to renew entry: role capped does not exist during renewal"),
    );
}

#[actix_web::test]
async fn renewal_without_increment_keeps_the_last_granted_ttl() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let client = server.login("jwt").await;
    let renew = |body: Value| server.call("PUT", "auth/token/renew-self", Some(&client), Some(body));
    assert_eq!(renew(json!({"increment": "10m"})).await.body["auth"]["lease_duration"], 600);
    server.advance(60);
    // Vault renews with the TTL last granted, not the role's.
    assert_eq!(renew(json!({})).await.body["auth"]["lease_duration"], 600);
    // The capped-renewal warning, as Vault's.
    let created = server
        .call("POST", "auth/token/create", Some(ROOT), Some(json!({"ttl": "30m", "explicit_max_ttl": "1h"})))
        .await;
    let token = created.body["auth"]["client_token"].as_str().unwrap();
    let capped =
        server.call("POST", "auth/token/renew", Some(ROOT), Some(json!({"token": token, "increment": "2h"}))).await;
    assert_eq!(capped.body["auth"]["lease_duration"], 3600);
    assert_eq!(
        capped.body["warnings"],
        json!(["TTL of \"2h0m0s\" exceeded the effective max_ttl of \"1h0m0s\"; TTL value is capped accordingly"])
    );
}

#[actix_web::test]
async fn token_endpoints_by_token_and_accessor() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let client = server.login("jwt").await;
    let accessor = server.call("GET", "auth/token/lookup-self", Some(&client), None).await.body["data"]["accessor"]
        .as_str()
        .unwrap()
        .to_owned();

    let lookup = server.call("POST", "auth/token/lookup", Some(ROOT), Some(json!({"token": client}))).await;
    assert_eq!((lookup.status.as_u16(), lookup.body["data"]["id"].clone()), (200, json!(client)));
    let by_accessor =
        server.call("POST", "auth/token/lookup-accessor", Some(ROOT), Some(json!({"accessor": accessor}))).await;
    assert_eq!(
        (by_accessor.body["data"]["id"].clone(), by_accessor.body["data"]["accessor"].clone()),
        (json!(""), json!(accessor))
    );
    // Without a token in the body, the caller's own (as Vault).
    let own = server.call("POST", "auth/token/lookup", Some(ROOT), Some(json!({}))).await;
    assert_eq!((own.status.as_u16(), own.body["data"]["policies"].clone()), (200, json!(["root"])), "{}", own.text);
    assert_error(
        &server.call("POST", "auth/token/lookup", Some(ROOT), Some(json!({"token": "jgs.nope"}))).await,
        403,
        Some("bad token"),
    );

    let renewed = server
        .call("POST", "auth/token/renew-accessor", Some(ROOT), Some(json!({"accessor": accessor, "increment": "10m"})))
        .await;
    assert_eq!(
        (renewed.body["auth"]["lease_duration"].clone(), renewed.body["auth"]["client_token"].clone()),
        (json!(600), json!(""))
    );
    let renewed =
        server.call("POST", "auth/token/renew", Some(ROOT), Some(json!({"token": client, "increment": 1200}))).await;
    assert_eq!(renewed.body["auth"]["lease_duration"], 1200);
    assert_error(
        &server.call("POST", "auth/token/renew", Some(ROOT), Some(json!({"token": "jgs.nope"}))).await,
        400,
        Some("token not found"),
    );

    assert_eq!(
        server.call("POST", "auth/token/revoke-accessor", Some(ROOT), Some(json!({"accessor": accessor}))).await.status,
        204
    );
    assert_error(
        &server.call("GET", "auth/token/lookup-self", Some(&client), None).await,
        403,
        Some("permission denied"),
    );
    let second = server.login("jwt").await;
    assert_eq!(server.call("POST", "auth/token/revoke", Some(ROOT), Some(json!({"token": second}))).await.status, 204);
    assert_error(
        &server.call("POST", "auth/token/revoke", Some(ROOT), Some(json!({}))).await,
        400,
        Some("missing token ID"),
    );
    assert_error(
        &server.call("GET", "auth/token/lookup-self", Some(&second), None).await,
        403,
        Some("permission denied"),
    );
    // A default-policy token cannot act on other tokens.
    let third = server.login("jwt").await;
    assert_error(
        &server.call("POST", "auth/token/lookup", Some(&third), Some(json!({"token": ROOT}))).await,
        403,
        Some("permission denied"),
    );
}

#[actix_web::test]
async fn created_tokens() {
    let server = Server::new();
    let created = server
        .call(
            "POST",
            "auth/token/create",
            Some(ROOT),
            Some(json!({"policies": ["Reader", "reader"], "ttl": "1h", "meta": {"team": "a"}, "display_name": "ci"})),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let auth = &created.body["auth"];
    assert_eq!((auth["policies"].clone(), auth["lease_duration"].clone()), (json!(["default", "reader"]), json!(3600)));
    let token = auth["client_token"].as_str().unwrap();
    let me = server.call("GET", "auth/token/lookup-self", Some(token), None).await.body;
    assert_eq!(
        (me["data"]["display_name"].clone(), me["data"]["meta"].clone()),
        (json!("token-ci"), json!({"team": "a"}))
    );
    // A root token created without TTL never expires; a duplicate id is refused.
    let root_child = server
        .call("POST", "auth/token/create-orphan", Some(ROOT), Some(json!({"policies": "root", "id": "my-root"})))
        .await;
    assert_eq!(root_child.body["auth"]["lease_duration"], 0);
    assert_error(
        &server.call("POST", "auth/token/create", Some(ROOT), Some(json!({"id": "my-root"}))).await,
        400,
        Some("cannot create a token with a duplicate ID"),
    );
    // Use counts are spent by requests: three uses, then the token is gone.
    let limited =
        server.call("POST", "auth/token/create", Some(ROOT), Some(json!({"num_uses": 3, "policies": "default"}))).await;
    let limited = limited.body["auth"]["client_token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        assert_eq!(server.call("GET", "auth/token/lookup-self", Some(&limited), None).await.status, 200);
    }
    assert_error(
        &server.call("GET", "auth/token/lookup-self", Some(&limited), None).await,
        403,
        Some("permission denied"),
    );
}

#[actix_web::test]
async fn batch_tokens() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let role = json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "vault", "token_type": "batch", "token_ttl": "10m", "token_policies": "reader"});
    assert_eq!(server.call("PUT", "auth/jwt/role/batch", Some(ROOT), Some(role)).await.status, 204);
    let records_before = server.state.store.token_records();
    let reply = server.call("PUT", "auth/jwt/login", None, Some(json!({"role": "batch", "jwt": token()}))).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let auth = &reply.body["auth"];
    assert_eq!(
        (auth["token_type"].clone(), auth["accessor"].clone(), auth["renewable"].clone()),
        (json!("batch"), json!(""), json!(false))
    );
    assert_eq!(auth["lease_duration"], 600);
    assert_eq!(server.state.store.token_records(), records_before, "a batch login writes nothing");
    let batch = auth["client_token"].as_str().unwrap().to_owned();
    assert!(batch.starts_with("jgb."));

    let me = server.call("GET", "auth/token/lookup-self", Some(&batch), None).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(
        (me.body["data"]["type"].clone(), me.body["data"]["policies"].clone()),
        (json!("batch"), json!(["default", "reader"]))
    );
    assert_eq!(me.body["data"]["meta"], json!({"role": "batch"}));
    assert_error(
        &server.call("PUT", "auth/token/renew-self", Some(&batch), None).await,
        400,
        Some("batch tokens cannot be renewed"),
    );
    assert_error(
        &server.call("PUT", "auth/token/revoke-self", Some(&batch), None).await,
        400,
        Some("batch tokens cannot be revoked"),
    );
    assert_error(
        &server.call("POST", "auth/token/revoke", Some(ROOT), Some(json!({"token": batch}))).await,
        400,
        Some("batch tokens cannot be revoked"),
    );
    assert_eq!(
        server.call("POST", "auth/token/lookup", Some(ROOT), Some(json!({"token": batch}))).await.body["data"]["type"],
        "batch"
    );

    // Tampering with a batch token makes it no token at all.
    let mut tampered = batch.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_error(
        &server.call("GET", "auth/token/lookup-self", Some(&tampered), None).await,
        403,
        Some("permission denied"),
    );

    // A mount tuned to default-batch issues batch tokens for `default` roles; `service` forces service.
    for (mount, tuned, role_type, issued) in
        [("batchy", "default-batch", "default", "batch"), ("servicey", "service", "batch", "service")]
    {
        server
            .call(
                "POST",
                &format!("sys/auth/{mount}"),
                Some(ROOT),
                Some(json!({"type": "jwt", "config": {"token_type": tuned}})),
            )
            .await;
        server
            .call(
                "PUT",
                &format!("auth/{mount}/config"),
                Some(ROOT),
                Some(json!({"jwt_validation_pubkeys": [key().public_pem()]})),
            )
            .await;
        let role =
            json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "vault", "token_type": role_type});
        server.call("PUT", &format!("auth/{mount}/role/r"), Some(ROOT), Some(role)).await;
        let reply =
            server.call("PUT", &format!("auth/{mount}/login"), None, Some(json!({"role": "r", "jwt": token()}))).await;
        assert_eq!(reply.body["auth"]["token_type"], issued, "{mount}");
    }
}

/// Disabling a mount revokes its service tokens; its batch tokens cannot be revoked, so they are
/// refused because their mount is gone (as is a token another replica issued just before it
/// learned of the disable).
#[actix_web::test]
async fn tokens_of_a_disabled_mount_are_refused() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let role = json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "vault", "token_type": "batch"});
    assert_eq!(server.call("PUT", "auth/jwt/role/batch", Some(ROOT), Some(role)).await.status, 204);
    let reply = server.call("PUT", "auth/jwt/login", None, Some(json!({"role": "batch", "jwt": token()}))).await;
    let batch = reply.body["auth"]["client_token"].as_str().unwrap().to_owned();
    assert_eq!(server.call("GET", "auth/token/lookup-self", Some(&batch), None).await.status, 200);
    assert_eq!(server.call("DELETE", "sys/auth/jwt", Some(ROOT), None).await.status, 204);
    assert_error(
        &server.call("GET", "auth/token/lookup-self", Some(&batch), None).await,
        403,
        Some("permission denied"),
    );
    assert_eq!(server.call("GET", "auth/token/lookup-self", Some(ROOT), None).await.status, 200, "root has no mount");
}
