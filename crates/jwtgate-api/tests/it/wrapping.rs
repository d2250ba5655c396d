//! Response wrapping: `X-Vault-Wrap-TTL` answers a single-use wrapping token in place of the
//! answer, and `sys/wrapping/*` unwraps, looks up, rewraps and wraps, as Vault does.

use crate::*;

const WRAP: [(&str, &str); 1] = [("X-Vault-Wrap-TTL", "5m")];

fn wrapping_token(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!((&reply.body["data"], &reply.body["auth"]), (&Value::Null, &Value::Null), "{}", reply.text);
    reply.body["wrap_info"]["token"].as_str().unwrap_or_else(|| panic!("not wrapped: {}", reply.text)).to_owned()
}

#[actix_web::test]
async fn a_wrapped_login_answers_a_wrapping_token_that_unwraps_to_the_login_once() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let login = json!({"role": "my-role", "jwt": token()});
    let wrapped = server.call_with("PUT", "auth/jwt/login", None, Some(login), &WRAP).await;
    let wrapping = wrapping_token(&wrapped);
    let info = &wrapped.body["wrap_info"];
    assert_eq!((info["ttl"].clone(), info["creation_path"].clone()), (json!(300), json!("auth/jwt/login")));
    assert!(info["wrapped_accessor"].as_str().is_some_and(|a| !a.is_empty()), "{info}");

    // The wrapping token holds only `response-wrapping`, and is looked up without being spent.
    let lookup = server.call("POST", "sys/wrapping/lookup", None, Some(json!({"token": wrapping}))).await;
    assert_eq!(lookup.status, 200, "{}", lookup.text);
    assert_eq!(lookup.body["data"]["creation_path"], "auth/jwt/login");
    assert_eq!(lookup.body["data"]["creation_ttl"], 300);

    // Unwrapped with itself as the client token: the login's answer, exactly once.
    let unwrapped = server.call("PUT", "sys/wrapping/unwrap", Some(&wrapping), None).await;
    assert_eq!(unwrapped.status, 200, "{}", unwrapped.text);
    assert_eq!(unwrapped.body["auth"]["accessor"], info["wrapped_accessor"]);
    let client_token = unwrapped.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let me = server.call("GET", "auth/token/lookup-self", Some(&client_token), None).await;
    assert_eq!(me.body["data"]["meta"]["role"], "my-role", "{}", me.text);
    for again in [
        server.call("PUT", "sys/wrapping/unwrap", Some(&wrapping), None).await,
        server.call("PUT", "sys/wrapping/unwrap", Some(ROOT), Some(json!({"token": wrapping}))).await,
        server.call("PUT", "sys/wrapping/lookup", None, Some(json!({"token": wrapping}))).await,
    ] {
        assert_error(&again, 400, Some("wrapping token is not valid or does not exist"));
    }
}

#[actix_web::test]
async fn unwrap_lookup_rewrap_and_wrap_follow_vault() {
    let server = Server::new();
    // `sys/wrapping/wrap` wraps the body; it needs a wrap TTL.
    let data = json!({"password": "hunter2", "n": 1});
    let refused = server.call("POST", "sys/wrapping/wrap", Some(ROOT), Some(data.clone())).await;
    assert_error(&refused, 400, Some("endpoint requires response wrapping to be used"));
    let first =
        wrapping_token(&server.call_with("POST", "sys/wrapping/wrap", Some(ROOT), Some(data.clone()), &WRAP).await);

    // Rewrap spends the old token; the new one keeps the creation path and TTL.
    let rewrapped = server.call("POST", "sys/wrapping/rewrap", Some(ROOT), Some(json!({"token": first}))).await;
    let second = wrapping_token(&rewrapped);
    assert_eq!(rewrapped.body["wrap_info"]["creation_path"], "sys/wrapping/wrap");
    assert_eq!(rewrapped.body["wrap_info"]["ttl"], 300);
    let spent = server.call("POST", "sys/wrapping/unwrap", Some(ROOT), Some(json!({"token": first}))).await;
    assert_error(&spent, 400, Some("wrapping token is not valid or does not exist"));
    let unwrapped = server.call("POST", "sys/wrapping/unwrap", Some(ROOT), Some(json!({"token": second}))).await;
    assert_eq!(unwrapped.body["data"], data, "{}", unwrapped.text);

    // Not a wrapping token: refused, and left as it was.
    let plain = server.call("POST", "sys/wrapping/unwrap", Some(ROOT), None).await;
    assert_error(&plain, 400, Some("wrapping token is not valid or does not exist"));
    assert_eq!(server.call("GET", "auth/token/lookup-self", Some(ROOT), None).await.status, 200);
    let nothing = server.call("POST", "sys/wrapping/unwrap", None, None).await;
    assert_error(&nothing, 403, Some("error validating wrapping token: token is empty"));

    // A wrapping token grants nothing but unwrapping, and any use spends it.
    let third =
        wrapping_token(&server.call_with("POST", "sys/wrapping/wrap", Some(ROOT), Some(data.clone()), &WRAP).await);
    assert_error(
        &server.call("GET", "auth/token/lookup-self", Some(&third), None).await,
        403,
        Some("permission denied"),
    );
    let gone = server.call("POST", "sys/wrapping/lookup", None, Some(json!({"token": third}))).await;
    assert_error(&gone, 400, Some("wrapping token is not valid or does not exist"));

    // Expired with its TTL.
    let short = [("X-Vault-Wrap-TTL", "10s")];
    let fourth = wrapping_token(&server.call_with("POST", "sys/wrapping/wrap", Some(ROOT), Some(data), &short).await);
    server.advance(11);
    let late = server.call("POST", "sys/wrapping/unwrap", Some(&fourth), None).await;
    assert_error(&late, 400, Some("wrapping token is not valid or does not exist"));
}

#[actix_web::test]
async fn wrap_ttl_headers_and_what_is_not_wrapped() {
    let server = Server::new();
    let cases: [(&str, u16, Option<&str>); 4] = [
        ("abc", 400, Some(r#"error parsing X-Vault-Wrap-TTL header: time: invalid duration "abc""#)),
        ("-5", 400, Some("error parsing X-Vault-Wrap-TTL header: requested wrap ttl cannot be negative")),
        ("0", 200, None),
        ("", 200, None),
    ];
    for (ttl, status, error) in cases {
        let reply =
            server.call_with("GET", "auth/token/lookup-self", Some(ROOT), None, &[("X-Vault-Wrap-TTL", ttl)]).await;
        match error {
            Some(message) => assert_error(&reply, status, Some(message)),
            None => assert_eq!((reply.status.as_u16(), &reply.body["data"]["id"]), (status, &json!(ROOT)), "{ttl:?}"),
        }
    }
    // An answer without a body (204) and an error come back as they are.
    let policy = json!({"policy": "path \"a\" { capabilities = [\"read\"] }"});
    let written = server.call_with("PUT", "sys/policies/acl/a", Some(ROOT), Some(policy), &WRAP).await;
    assert_eq!(written.status, 204);
    let missing = server.call_with("GET", "sys/policies/acl/missing", Some(ROOT), None, &WRAP).await;
    assert_error(&missing, 404, None);
    // A wrapped token creation hides the token until it is unwrapped.
    let created = server.call_with("POST", "auth/token/create", Some(ROOT), Some(json!({"ttl": "1h"})), &WRAP).await;
    assert!(!created.text.contains("client_token"), "{}", created.text);
    let unwrapped = server.call("POST", "sys/wrapping/unwrap", Some(&wrapping_token(&created)), None).await;
    assert_eq!(unwrapped.body["auth"]["lease_duration"], 3600, "{}", unwrapped.text);
}

#[actix_web::test]
async fn the_response_wrapping_policy_is_built_in_and_fixed() {
    let server = Server::new();
    let read = server.call("GET", "sys/policies/acl/response-wrapping", Some(ROOT), None).await;
    assert!(read.body["data"]["policy"].as_str().unwrap().contains("sys/wrapping/unwrap"), "{}", read.text);
    let policy = json!({"policy": "path \"*\" { capabilities = [\"sudo\"] }"});
    let write = server.call("PUT", "sys/policies/acl/response-wrapping", Some(ROOT), Some(policy)).await;
    assert_error(&write, 400, Some("cannot update \"response-wrapping\" policy"));
    let delete = server.call("DELETE", "sys/policies/acl/response-wrapping", Some(ROOT), None).await;
    assert_error(&delete, 400, Some("cannot delete \"response-wrapping\" policy"));
    let list = server.call("LIST", "sys/policies/acl", Some(ROOT), None).await;
    assert_eq!(list.body["data"]["keys"], json!(["default", "root"]));
}
