//! Hostile input at the HTTP level (security catalogue §1 and §2): every item gets a 4xx in
//! Vault's error shape, never a 5xx or a panic, and no response contains the submitted JWT.

use crate::*;
use actix_web::test::TestRequest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwtgate_verifier::testkit::{jwks, Reply as Served, TestServer};

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn with_header(header: &str) -> String {
    key().sign_raw("RS256", header, &claims().to_string())
}

fn with_claims(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut c = claims();
    edit(c.as_object_mut().unwrap());
    key().token(&c)
}

fn hostile_tokens() -> Vec<(&'static str, String)> {
    let good = token();
    let (input, signature) = good.rsplit_once('.').unwrap();
    let payload = b64(claims().to_string());
    let attacker = TestKey::rsa(2048);
    let hmac = {
        let secret = openssl::pkey::PKey::hmac(key().public_pem().as_bytes()).unwrap();
        let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &secret).unwrap();
        let input = format!("{}.{payload}", b64(r#"{"alg":"HS256"}"#));
        signer.update(input.as_bytes()).unwrap();
        format!("{input}.{}", b64(signer.sign_to_vec().unwrap()))
    };
    vec![
        ("A1 alg none", format!("{}.{payload}.", b64(r#"{"alg":"none"}"#))),
        ("A1 alg nOnE with a signature", format!("{}.{payload}.{signature}", b64(r#"{"alg":"nOnE"}"#))),
        ("A2 HS256 keyed with the public PEM", hmac),
        ("A5 alg missing", with_header(r#"{"kid":"x"}"#)),
        ("A5 alg unknown", with_header(r#"{"alg":"ES256K"}"#)),
        ("A6 duplicate alg", with_header(r#"{"alg":"none","alg":"RS256"}"#)),
        (
            "A9 kid path traversal signed by an attacker",
            attacker.sign_raw("RS256", r#"{"alg":"RS256","kid":"../../dev/null"}"#, &claims().to_string()),
        ),
        ("A9 kid 257 bytes", with_header(&json!({"alg": "RS256", "kid": "k".repeat(257)}).to_string())),
        (
            "A10 attacker jwk header",
            attacker.sign_raw(
                "RS256",
                &json!({"alg": "RS256", "jwk": attacker.jwk()}).to_string(),
                &claims().to_string(),
            ),
        ),
        (
            "A11 jku header",
            attacker.sign_raw("RS256", r#"{"alg":"RS256","jku":"https://127.0.0.1:1/"}"#, &claims().to_string()),
        ),
        ("A13 crit", with_header(r#"{"alg":"RS256","crit":["x"],"x":1}"#)),
        ("A14 b64 false", with_header(r#"{"alg":"RS256","b64":false}"#)),
        ("A15 zip", with_header(r#"{"alg":"RS256","zip":"DEF"}"#)),
        ("A16 typ at+jwt", with_header(r#"{"alg":"RS256","typ":"at+jwt"}"#)),
        (
            "B17 no exp, iat or nbf (legacy token)",
            with_claims(|c| {
                c.remove("exp");
                c.remove("iat");
                c.remove("nbf");
            }),
        ),
        (
            "B18 exp as a string",
            with_claims(|c| {
                c.insert("exp".into(), json!((NOW + 600).to_string()));
            }),
        ),
        (
            "B20 exp 1e300",
            with_claims(|c| {
                c.insert("exp".into(), json!(1e300));
            }),
        ),
        (
            "B22 expired beyond the skew",
            with_claims(|c| {
                c.insert("exp".into(), json!(NOW - 61));
            }),
        ),
        (
            "B23 nbf an hour ahead",
            with_claims(|c| {
                c.insert("nbf".into(), json!(NOW + 3600));
            }),
        ),
        (
            "B25 iat a year ahead",
            with_claims(|c| {
                c.insert("iat".into(), json!(NOW + 31_536_000));
            }),
        ),
        (
            "B27 aud missing",
            with_claims(|c| {
                c.remove("aud");
            }),
        ),
        (
            "B28 aud a number",
            with_claims(|c| {
                c.insert("aud".into(), json!(123));
            }),
        ),
        (
            "B28 aud with a number inside",
            with_claims(|c| {
                c.insert("aud".into(), json!(["vault", 123]));
            }),
        ),
        (
            "B30 aud VAULT",
            with_claims(|c| {
                c.insert("aud".into(), json!("VAULT"));
            }),
        ),
        (
            "B31 iss an array",
            with_claims(|c| {
                c.insert("iss".into(), json!(["https://kubernetes.default.svc.cluster.local", "https://evil"]));
            }),
        ),
        (
            "B33 sub a number",
            with_claims(|c| {
                c.insert("sub".into(), json!(7));
            }),
        ),
        (
            "B34 sub with NUL",
            with_claims(|c| {
                c.insert("sub".into(), json!("system:serviceaccount:default:default\u{0}"));
            }),
        ),
        (
            "B35 SUB beside sub",
            with_claims(|c| {
                c.insert("SUB".into(), json!("anon"));
            }),
        ),
        (
            "B36 duplicate sub",
            key().sign_raw(
                "RS256",
                r#"{"alg":"RS256"}"#,
                &format!(r#"{{"sub":"a","sub":"{SUBJECT}","aud":"vault","iat":{NOW}}}"#),
            ),
        ),
        ("C42 two segments", input.to_owned()),
        ("C42 five segments (JWE)", format!("{good}.x.y")),
        ("C43 a megabyte of dots", ".".repeat(60_000)),
        ("C44 inner newline", format!("{}\n{}", &good[..20], &good[20..])),
        ("C45 non-canonical base64", format!("{input}.{signature}A")),
        ("C46 JSON serialisation", json!({"payload": payload, "signatures": []}).to_string()),
        ("C47 payload an array", key().sign_raw("RS256", r#"{"alg":"RS256"}"#, "[1]")),
        (
            "C48 nested 200 deep",
            key().sign_raw("RS256", r#"{"alg":"RS256"}"#, &format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200))),
        ),
        (
            "D52 flipped signature",
            format!("{input}.{}", {
                let mut raw = URL_SAFE_NO_PAD.decode(signature).unwrap();
                raw[7] ^= 1;
                b64(raw)
            }),
        ),
        ("D52 empty signature", format!("{input}.")),
        ("D54 signed by another cluster", attacker.token(&claims())),
    ]
}

#[actix_web::test]
async fn hostile_logins_get_vault_shaped_4xx_without_echo() {
    let server = Server::new().with_jwt_mount("jwt").await;
    for (name, jwt) in hostile_tokens() {
        let reply = server.call("PUT", "auth/jwt/login", None, Some(json!({"role": "my-role", "jwt": jwt}))).await;
        assert!(reply.status.is_client_error(), "{name}: {} {}", reply.status, reply.text);
        assert!(reply.body["errors"].as_array().is_some_and(|e| e.len() == 1), "{name}: {}", reply.text);
        assert!(!reply.text.contains("eyJ"), "{name}: the response echoes a JWT: {}", reply.text);
        if jwt.len() > 16 {
            assert!(!reply.text.contains(&jwt[..16]), "{name}: the response echoes the token");
        }
    }
}

#[actix_web::test]
async fn hostile_requests() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let reflected = "x".repeat(10_000);
    let cases: Vec<(&str, TestRequest, u16)> = vec![
        (
            "E60 role missing",
            TestRequest::put().uri("/v1/auth/jwt/login").set_payload(json!({"jwt": token()}).to_string()),
            400,
        ),
        (
            "E61 jwt an object",
            TestRequest::put()
                .uri("/v1/auth/jwt/login")
                .set_payload(json!({"role": "my-role", "jwt": {"a": 1}}).to_string()),
            400,
        ),
        ("E62 truncated JSON", TestRequest::put().uri("/v1/auth/jwt/login").set_payload("{\"role\": \"my-"), 400),
        ("E62 top-level array", TestRequest::put().uri("/v1/auth/jwt/login").set_payload("[]"), 400),
        (
            "E64 oversized",
            TestRequest::put().uri("/v1/auth/jwt/login").set_payload("{".to_owned() + &" ".repeat(70_000) + "}"),
            413,
        ),
        (
            "E65 role path traversal",
            TestRequest::put()
                .uri("/v1/auth/jwt/login")
                .set_payload(json!({"role": "../admin", "jwt": token()}).to_string()),
            400,
        ),
        (
            "E65 a 10 kB role name",
            TestRequest::put()
                .uri("/v1/auth/jwt/login")
                .set_payload(json!({"role": reflected, "jwt": token()}).to_string()),
            400,
        ),
        (
            "E66 log injection in the role",
            TestRequest::put()
                .uri("/v1/auth/jwt/login")
                .set_payload(json!({"role": "a\r\nFAKE LOG LINE\u{1b}[31m", "jwt": token()}).to_string()),
            400,
        ),
        (
            "E68 spoofed X-Forwarded-For does not pass a CIDR",
            TestRequest::put()
                .uri("/v1/auth/jwt/login")
                .insert_header(("X-Forwarded-For", "10.1.2.3"))
                .set_payload(json!({"role": "cidr", "jwt": token()}).to_string()),
            403,
        ),
        (
            "token in the query string is not a token",
            TestRequest::get().uri("/v1/sys/auth?token=root-token-for-tests"),
            403,
        ),
    ];
    let cidr_role =
        json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "vault", "token_bound_cidrs": "10.0.0.0/8"});
    assert_eq!(server.call("PUT", "auth/jwt/role/cidr", Some(ROOT), Some(cidr_role)).await.status, 204);
    for (name, request, status) in cases {
        let reply = server.raw(request.peer_addr("127.0.0.1:40000".parse().unwrap())).await;
        assert_eq!(reply.status.as_u16(), status, "{name}: {}", reply.text);
        assert!(reply.body["errors"].is_array(), "{name}: {}", reply.text);
        assert!(reply.text.len() < 1024, "{name}: reflected input is bounded ({} bytes)", reply.text.len());
    }
    // E67: mass assignment and E69: replay are covered in login.rs and every_login_gets_a_distinct_token.
}

#[actix_web::test]
async fn configuration_hazards() {
    let server = Server::new();
    server.call("POST", "sys/auth/jwt", Some(ROOT), Some(json!({"type": "jwt"}))).await;
    let weak = TestKey::rsa(1024);
    let issuer = TestServer::start(|_| Served::status(404, ""));
    let base = issuer.base_url.clone();
    let wrong_issuer = json!({"issuer": format!("{base}/"), "jwks_uri": format!("{base}/keys")}).to_string();
    let keys = jwks(&[key()]);
    issuer.set_handler(move |path| match path {
        "/.well-known/openid-configuration" => Served::json(wrong_issuer.clone()),
        "/keys" => Served::json(keys.clone()),
        _ => Served::status(403, "forbidden: system:anonymous"),
    });
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "C1 http discovery",
            json!({"oidc_discovery_url": "http://kubernetes.example"}),
            "oidc_discovery_url must be an https URL",
        ),
        ("C1 http jwks", json!({"jwks_url": "http://kubernetes.example/keys"}), "jwks_url must be an https URL"),
        (
            "C1 a public CA that is not the pinned one",
            json!({"oidc_discovery_url": base, "oidc_discovery_ca_pem": jwtgate_verifier::testkit::TestCa::new("other").ca_pem}),
            "error checking oidc discovery URL",
        ),
        (
            "C2 issuer mismatch (trailing slash)",
            json!({"oidc_discovery_url": base, "oidc_discovery_ca_pem": issuer.ca_pem}),
            "issuer did not match",
        ),
        (
            "C4 CA PEM invalid",
            json!({"oidc_discovery_url": base, "oidc_discovery_ca_pem": "garbage"}),
            "could not parse CA PEM value successfully",
        ),
        (
            "C4 CA PEM a private key",
            json!({"jwks_url": format!("{base}/keys"), "jwks_ca_pem": key().private_pem()}),
            "could not parse CA PEM value successfully",
        ),
        (
            "C5 discovery unreachable",
            json!({"oidc_discovery_url": "https://127.0.0.1:1"}),
            "error checking oidc discovery URL",
        ),
        (
            "C6 401/403 from the issuer",
            json!({"jwks_url": format!("{base}/forbidden"), "jwks_ca_pem": issuer.ca_pem}),
            "403",
        ),
        (
            "C10 symmetric JWK inline",
            json!({"jwt_validation_jwks": "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}"}),
            "symmetric (oct) keys are refused",
        ),
        (
            "C14 two key sources",
            json!({"jwt_validation_pubkeys": [key().public_pem()], "oidc_discovery_url": base}),
            "exactly one of",
        ),
        (
            "C14 HS256 allowed",
            json!({"jwt_validation_pubkeys": [key().public_pem()], "jwt_supported_algs": ["HS256"]}),
            "invalid jwt_supported_algs",
        ),
        ("D57 1024-bit RSA", json!({"jwt_validation_pubkeys": [weak.public_pem()]}), "at least 2048 bits"),
        (
            "D58 private key as a public key",
            json!({"jwt_validation_pubkeys": [key().private_pem()]}),
            "private keys are refused",
        ),
    ];
    for (name, body, needle) in cases {
        let reply = server.call("PUT", "auth/jwt/config", Some(ROOT), Some(body)).await;
        assert_eq!(reply.status, 400, "{name}: {}", reply.text);
        let error = reply.body["errors"][0].as_str().unwrap_or_default();
        assert!(error.contains(needle), "{name}: {error}");
    }
    // C13: a failed write leaves nothing half-applied: there is still no config.
    assert_error(&server.call("GET", "auth/jwt/config", Some(ROOT), None).await, 404, None);
    // C15/C16: roles without a bound, or granting root, are refused (roles in admin.rs).
}
