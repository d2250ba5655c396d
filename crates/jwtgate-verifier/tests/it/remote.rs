//! Remote key sets against a real in-process HTTPS server with its own CA: discovery, pinned
//! CAs, rotation, outages, slow and oversized answers, issuer mismatch, kid floods, dedup.

use crate::*;
use jwtgate_verifier::testkit::{jwks, Reply, TestCa, TestServer};
use jwtgate_verifier::{ConfigError, JwksPair, RefreshPolicy};
use std::sync::Mutex;
use std::time::Instant;

/// A fake issuer: discovery at `/.well-known/openid-configuration`, keys at `/openid/v1/jwks`.
struct Issuer {
    server: TestServer,
    keys: Arc<Mutex<Reply>>,
}

impl Issuer {
    fn start(keys: &[&TestKey]) -> Issuer {
        Issuer::start_with_issuer(keys, None)
    }

    /// `issuer` overrides what the discovery document claims (default: the server's URL).
    fn start_with_issuer(keys: &[&TestKey], issuer: Option<&str>) -> Issuer {
        let server = TestServer::start(|_| Reply::status(503, "starting"));
        let jwks_reply = Arc::new(Mutex::new(Reply::json(jwks(keys))));
        let base = server.base_url.clone();
        let claimed = issuer.map_or(base.clone(), str::to_owned);
        let discovery = json!({
            "issuer": claimed,
            "jwks_uri": format!("{base}/openid/v1/jwks"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"]
        })
        .to_string();
        let served = jwks_reply.clone();
        server.set_handler(move |path| match path {
            "/.well-known/openid-configuration" => Reply::json(discovery.clone()),
            "/openid/v1/jwks" => served.lock().unwrap().clone(),
            _ => Reply::status(404, "not found"),
        });
        Issuer { server, keys: jwks_reply }
    }

    fn serve_keys(&self, keys: &[&TestKey]) {
        self.serve(Reply::json(jwks(keys)));
    }

    fn serve(&self, reply: Reply) {
        *self.keys.lock().unwrap() = reply;
    }

    fn discovery_config(&self) -> KeyConfig {
        KeyConfig {
            oidc_discovery_url: self.server.base_url.clone(),
            oidc_discovery_ca_pem: self.server.ca_pem.clone(),
            ..KeyConfig::default()
        }
    }

    fn jwks_config(&self) -> KeyConfig {
        KeyConfig {
            jwks_url: format!("{}/openid/v1/jwks", self.server.base_url),
            jwks_ca_pem: self.server.ca_pem.clone(),
            ..KeyConfig::default()
        }
    }
}

fn login(validator: &Validator, key: &TestKey, at_unix: i64) -> Result<(), TokenError> {
    let claims = claims_with(|c| {
        c.insert("iat".into(), json!(at_unix));
        c.insert("nbf".into(), json!(at_unix));
        c.insert("exp".into(), json!(at_unix + 600));
    });
    check(validator, &key.token(&claims), &k8s_policy(), at(at_unix)).map(drop)
}

#[test]
fn discovery_happy_path_and_config_check() {
    let issuer = Issuer::start(&[rsa(), p256()]);
    let validator = Validator::new(&issuer.discovery_config(), fetcher()).unwrap();
    block_on(validator.check_remote()).unwrap();
    assert_eq!(login(&validator, rsa(), NOW), Ok(()));
    assert_eq!(login(&validator, p256(), NOW), Ok(()));
    // check_remote fetched discovery; the first login fetched discovery and the JWKS; the second login hit the cache.
    assert_eq!(issuer.server.requests(), 3);
}

#[test]
fn discovery_issuer_must_match_byte_for_byte() {
    let issuer = Issuer::start(&[rsa()]);
    let base = issuer.server.base_url.clone();
    let mismatched = Issuer::start_with_issuer(&[rsa()], Some(&format!("{base}/")));
    let config = KeyConfig { oidc_discovery_url: mismatched.server.base_url.clone(), ..mismatched.discovery_config() };
    let validator = Validator::new(&config, fetcher()).unwrap();
    let error = block_on(validator.check_remote()).unwrap_err();
    assert!(matches!(&error, ConfigError::Discovery(detail) if detail.contains("issuer did not match")), "{error}");
    assert!(error.to_string().starts_with("error checking oidc discovery URL: "));
    assert!(matches!(login(&validator, rsa(), NOW), Err(TokenError::KeySetUnavailable(_))));
    // A configured URL with a trailing slash does not match an issuer without one.
    let with_slash = KeyConfig { oidc_discovery_url: format!("{base}/"), ..issuer.discovery_config() };
    let validator = Validator::new(&with_slash, fetcher()).unwrap();
    assert!(matches!(block_on(validator.check_remote()), Err(ConfigError::Discovery(_))));
}

#[test]
fn the_pinned_ca_replaces_the_system_roots() {
    let issuer = Issuer::start(&[rsa()]);
    let other_ca = TestCa::new("some other CA").ca_pem;
    for ca in [other_ca, String::new()] {
        let config = KeyConfig { oidc_discovery_ca_pem: ca.clone(), ..issuer.discovery_config() };
        let validator = Validator::new(&config, fetcher()).unwrap();
        assert!(matches!(block_on(validator.check_remote()), Err(ConfigError::Discovery(_))), "ca {:?}", ca.len());
    }
}

#[test]
fn discovery_refuses_a_plain_http_jwks_uri() {
    let server = TestServer::start(|_| Reply::status(404, ""));
    let document = json!({"issuer": server.base_url, "jwks_uri": "http://127.0.0.1:1/keys"}).to_string();
    server.set_handler(move |_| Reply::json(document.clone()));
    let config = KeyConfig {
        oidc_discovery_url: server.base_url.clone(),
        oidc_discovery_ca_pem: server.ca_pem.clone(),
        ..KeyConfig::default()
    };
    let validator = Validator::new(&config, fetcher()).unwrap();
    assert!(matches!(block_on(validator.check_remote()), Err(ConfigError::Discovery(d)) if d.contains("is not https")));
}

#[test]
fn rotation_is_followed_without_a_config_write() {
    let issuer = Issuer::start(&[rsa()]);
    let validator = Validator::new(&issuer.jwks_config(), fetcher()).unwrap();
    assert_eq!(login(&validator, rsa(), NOW), Ok(()));
    // The cluster publishes a new key and signs with it.
    issuer.serve_keys(&[rsa(), other_rsa()]);
    let requests = issuer.server.requests();
    // Within the refresh window of the first fetch the new kid is not fetched yet.
    assert_eq!(login(&validator, other_rsa(), NOW + 5), Err(TokenError::RemoteSignature));
    assert_eq!(issuer.server.requests(), requests);
    assert_eq!(login(&validator, other_rsa(), NOW + 11), Ok(()), "unknown kid triggers one refresh");
    assert_eq!(issuer.server.requests(), requests + 1);
    assert_eq!(login(&validator, rsa(), NOW + 12), Ok(()), "old key still published");
    // The old key is withdrawn: after the next refresh its tokens fail.
    issuer.serve_keys(&[other_rsa()]);
    assert_eq!(login(&validator, rsa(), NOW + 13), Ok(()), "cached key still verifies");
    assert_eq!(login(&validator, p256(), NOW + 30), Err(TokenError::RemoteSignature), "refresh drops the old key");
    assert_eq!(login(&validator, rsa(), NOW + 31), Err(TokenError::RemoteSignature));
}

#[test]
fn an_outage_keeps_the_last_good_keys() {
    let issuer = Issuer::start(&[rsa()]);
    let validator = Validator::new(&issuer.jwks_config(), fetcher()).unwrap();
    assert_eq!(login(&validator, rsa(), NOW), Ok(()));
    let failures = [
        Reply::status(500, "internal error"),
        Reply { content_type: "text/html", ..Reply::json("<html>maintenance</html>") },
        Reply::json("{}"),
    ];
    for (step, reply) in failures.into_iter().enumerate() {
        issuer.serve(reply);
        let at = NOW + 100 * (step as i64 + 1);
        match login(&validator, other_rsa(), at) {
            Err(TokenError::KeyFetch(detail)) => assert!(!detail.is_empty()),
            other => panic!("step {step}: unknown kid during an outage gave {other:?}"),
        }
        assert_eq!(login(&validator, rsa(), at + 1), Ok(()), "step {step}: cached kid keeps working");
    }
    let counts = validator.key_source().fetch_counts();
    assert_eq!((counts.attempts, counts.failures), (4, 3));
}

#[test]
fn an_empty_key_set_verifies_nothing_but_is_a_valid_answer() {
    let issuer = Issuer::start(&[]);
    let validator = Validator::new(&issuer.jwks_config(), fetcher()).unwrap();
    block_on(validator.check_remote()).unwrap();
    assert_eq!(login(&validator, rsa(), NOW), Err(TokenError::RemoteSignature));
}

#[test]
fn jwks_url_config_check() {
    let issuer = Issuer::start(&[rsa()]);
    block_on(Validator::new(&issuer.jwks_config(), fetcher()).unwrap().check_remote()).unwrap();
    for (reply, needle) in [(Reply::status(404, "nope"), "404"), (Reply::json("not json"), "failed to decode keys")] {
        issuer.serve(reply);
        let error = block_on(Validator::new(&issuer.jwks_config(), fetcher()).unwrap().check_remote()).unwrap_err();
        assert!(error.to_string().starts_with("error checking jwks URL https://127.0.0.1:"), "{error}");
        assert!(error.to_string().contains(needle), "{error}");
    }
}

#[test]
fn slow_and_oversized_answers_are_bounded() {
    let issuer = Issuer::start(&[rsa()]);
    issuer.serve(Reply { delay: Duration::from_secs(6), ..Reply::json(jwks(&[rsa()])) });
    let validator = Validator::new(&issuer.jwks_config(), fetcher()).unwrap();
    let started = Instant::now();
    assert!(matches!(login(&validator, rsa(), NOW), Err(TokenError::KeyFetch(_))));
    assert!(started.elapsed() < Duration::from_secs(5), "the 2 s total timeout bounds a hanging JWKS server");

    issuer.serve(Reply::json(format!("{{\"keys\":[],\"pad\":\"{}\"}}", "x".repeat(2 << 20))));
    match login(&validator, rsa(), NOW + 60) {
        Err(TokenError::KeyFetch(detail)) => assert!(detail.contains("larger than 1048576"), "{detail}"),
        other => panic!("oversized JWKS gave {other:?}"),
    }
}

#[test]
fn redirects_are_not_followed() {
    let target = Issuer::start(&[rsa()]);
    let location = format!("{}/openid/v1/jwks", target.server.base_url);
    let redirector = TestServer::start(move |_| Reply {
        headers: vec![("Location".into(), location.clone())],
        ..Reply::status(302, "")
    });
    let config = KeyConfig {
        jwks_url: redirector.base_url.clone(),
        jwks_ca_pem: redirector.ca_pem.clone(),
        ..KeyConfig::default()
    };
    let validator = Validator::new(&config, fetcher()).unwrap();
    assert!(block_on(validator.check_remote()).is_err());
    assert_eq!(target.server.requests(), 0);
}

#[test]
fn a_kid_flood_costs_one_fetch_per_window() {
    let issuer = Issuer::start(&[rsa()]);
    let config = KeyConfig { refresh: RefreshPolicy { min_interval_secs: 30 }, ..issuer.jwks_config() };
    let validator = Validator::new(&config, fetcher()).unwrap();
    assert_eq!(login(&validator, rsa(), NOW), Ok(()));
    let before = issuer.server.requests();
    for i in 0..500 {
        let kid = format!("random-{i}");
        let token =
            other_rsa().sign_raw("RS256", &json!({"alg": "RS256", "kid": kid}).to_string(), &k8s_claims().to_string());
        assert_eq!(
            check(&validator, &token, &k8s_policy(), at(NOW + 1 + i % 20)).map(drop),
            Err(TokenError::RemoteSignature)
        );
    }
    assert_eq!(issuer.server.requests(), before, "still inside the window opened by the first fetch");
    assert_eq!(login(&validator, p256(), NOW + 31), Err(TokenError::RemoteSignature));
    assert_eq!(issuer.server.requests(), before + 1, "the next window allows one fetch");
    assert_eq!(login(&validator, rsa(), NOW + 32), Ok(()), "good keys are never evicted by the flood");
}

#[test]
fn concurrent_refreshes_share_one_fetch() {
    let issuer = Issuer::start(&[rsa()]);
    issuer.serve(Reply { delay: Duration::from_millis(300), ..Reply::json(jwks(&[rsa()])) });
    let validator = Arc::new(Validator::new(&issuer.jwks_config(), fetcher()).unwrap());
    let token = rsa().token(&k8s_claims());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let results: Vec<Result<(), TokenError>> = runtime.block_on(async {
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let (validator, token) = (validator.clone(), token.clone());
                tokio::spawn(async move { validator.validate(&token, &k8s_policy(), now()).await.map(drop) })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    });
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(issuer.server.requests(), 1);
}

#[test]
fn jwks_pairs_route_by_kid() {
    let cluster_a = Issuer::start(&[rsa()]);
    let cluster_b = Issuer::start(&[p256()]);
    let pair = |issuer: &Issuer| JwksPair {
        jwks_url: format!("{}/openid/v1/jwks", issuer.server.base_url),
        jwks_ca_pem: issuer.server.ca_pem.clone(),
    };
    let config = KeyConfig { jwks_pairs: vec![pair(&cluster_a), pair(&cluster_b)], ..KeyConfig::default() };
    let validator = Validator::new(&config, fetcher()).unwrap();
    block_on(validator.check_remote()).unwrap();
    assert_eq!(login(&validator, rsa(), NOW), Ok(()));
    assert_eq!(login(&validator, p256(), NOW), Ok(()));
    assert_eq!(login(&validator, other_rsa(), NOW + 60), Err(TokenError::KidNotFound { kid: other_rsa().kid() }));
    let no_kid = rsa().sign_raw("RS256", r#"{"alg":"RS256"}"#, &k8s_claims().to_string());
    assert_eq!(check(&validator, &no_kid, &k8s_policy(), now()).map(drop), Err(TokenError::MissingKid));
    // Cluster B rotates: its new kid is found after one refresh of every URL.
    let rotated = TestKey::p256();
    cluster_b.serve_keys(&[p256(), &rotated]);
    assert_eq!(login(&validator, &rotated, NOW + 120), Ok(()));
}
