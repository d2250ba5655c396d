//! Typed records and the per-mount runtime: stored records from older versions, concurrent
//! writes during the first login after a restart, and arbitrary role and config bodies.

use crate::{claims, test_clock, token, Server, ROOT, SUBJECT};
use jwtgate_core::{Core, Operation, Request};
use jwtgate_store::TokenRecord;
use jwtgate_store::{Options, Store};
use jwtgate_verifier::testkit::TestKey;
use jwtgate_verifier::HttpsFetcher;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::Arc;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../jwtgate-store/test_data/v1/backup.jsonl");

/// A server over the v1 golden backup, with the `ROOT` token added.
fn restored_v1() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let backup = std::fs::read(GOLDEN).unwrap();
    let (store, _) = Store::import(&Options::new(dir.path().join("db")), &backup[..]).unwrap();
    let root =
        TokenRecord { accessor: "root-accessor".into(), policies: vec!["root".into()], ..TokenRecord::default() };
    store.create_token(ROOT, &root).unwrap();
    Server::over(dir, Arc::new(store), |_| {})
}

#[actix_web::test]
async fn records_of_the_v1_golden_database_are_read_and_rewritten() {
    let server = restored_v1();
    // The golden role has no token_max_ttl: it takes the default on read.
    let role = server.call("GET", "auth/jwt/role/my-role", Some(ROOT), None).await;
    assert_eq!(role.status, 200, "{}", role.text);
    assert_eq!(role.body["data"]["bound_subject"], SUBJECT);
    assert_eq!(role.body["data"]["token_max_ttl"], 0);
    let write = server.call("PUT", "auth/jwt/role/my-role", Some(ROOT), Some(json!({"role_type": "jwt"}))).await;
    assert_eq!(write.status, 204, "{}", write.text);
    let reread = server.call("GET", "auth/jwt/role/my-role", Some(ROOT), None).await;
    assert_eq!(
        (reread.body["data"]["role_type"].clone(), reread.body["data"]["bound_subject"].clone()),
        (json!("jwt"), json!(SUBJECT))
    );
    // The golden config is partial too: it reads with defaults for what it lacks.
    let config = server.call("GET", "auth/jwt/config", Some(ROOT), None).await;
    assert_eq!(config.status, 200, "{}", config.text);
    assert_eq!(config.body["data"]["oidc_discovery_url"], "https://kubernetes.default.svc.cluster.local");
    assert_eq!(config.body["data"]["jwt_validation_pubkeys"], json!([]));
}

fn request(operation: Operation, path: &str, body: Value) -> Request {
    Request {
        id: "test".into(),
        operation,
        path: path.into(),
        token: Some(ROOT.into()),
        peer: Some("127.0.0.1".parse().unwrap()),
        query: Vec::new(),
        body: body.to_string().into_bytes(),
        namespace: None,
        wrap_ttl: None,
        peer_port: 0,
    }
}

fn login_with(token: String) -> Request {
    Request { token: None, ..request(Operation::Write, "auth/jwt/login", json!({"role": "my-role", "jwt": token})) }
}

#[test]
fn a_config_written_during_the_first_logins_after_a_restart_wins() {
    let new_key = TestKey::rsa(2048);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    for round in 0..20 {
        let server = runtime.block_on(Server::new().with_jwt_mount("jwt"));
        // A restart: a second core over the same store, with nothing built yet.
        let core: Arc<Core> = Arc::new(
            Core::new(
                server.state.store.clone(),
                Arc::new(HttpsFetcher::default()),
                test_clock(&server.now),
                Default::default(),
            )
            .unwrap(),
        );
        let new_token = new_key.token(&claims());
        let config = json!({"jwt_validation_pubkeys": [new_key.public_pem()]});
        let outcome = runtime.block_on(async {
            let logins: Vec<_> = (0..6)
                .map(|_| {
                    let core = core.clone();
                    tokio::spawn(async move { core.handle(login_with(token())).await.map(drop) })
                })
                .collect();
            let writer = {
                let core = core.clone();
                tokio::spawn(async move { core.handle(request(Operation::Write, "auth/jwt/config", config)).await })
            };
            for login in logins {
                // Old-key logins may land before or after the write; none may fail otherwise.
                if let Err(error) = login.await.unwrap() {
                    assert!(matches!(error, jwtgate_core::Error::BadRequest(_)), "{error:?}");
                }
            }
            writer.await.unwrap().unwrap();
            (core.handle(login_with(new_token)).await, core.handle(login_with(token())).await)
        });
        assert!(outcome.0.is_ok(), "round {round}: the new key is trusted after the write: {:?}", outcome.0);
        assert!(outcome.1.is_err(), "round {round}: the old key is not: {:?}", outcome.1);
    }
}

/// Values the vault CLI and hand-written JSON send, good and bad.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-10.0f64..10.0).prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "",
            "x",
            "1h",
            "-1",
            "1.9",
            "true",
            "glob",
            "string",
            "jwt",
            "oidc",
            "default",
            "batch",
            "service",
            "10.0.0.0/8",
            "not-a-cidr",
            "a=b",
            "a=role",
            "{\"a\":1}",
            "[1]",
            "300",
            "sub",
            "root",
            "Root",
            "https://127.0.0.1:1/",
            "http://127.0.0.1:1",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
            "serviceaccount_name",
            "*",
            "a,*",
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,6}", inner, 0..3).prop_map(|m| json!(m)),
        ]
    })
}

const FIELDS: [&str; 40] = [
    "role_type",
    "bound_audiences",
    "bound_subject",
    "bound_claims",
    "bound_claims_type",
    "claim_mappings",
    "user_claim",
    "user_claim_json_pointer",
    "groups_claim",
    "allowed_redirect_uris",
    "max_age",
    "clock_skew_leeway",
    "token_review",
    "token_policies",
    "token_ttl",
    "token_max_ttl",
    "token_explicit_max_ttl",
    "token_period",
    "token_num_uses",
    "token_no_default_policy",
    "token_bound_cidrs",
    "token_type",
    "policies",
    "ttl",
    "max_ttl",
    "period",
    "num_uses",
    "bound_cidrs",
    "bound_service_account_names",
    "bound_service_account_namespaces",
    "audience",
    "alias_name_source",
    "alias_metadata",
    "jwt_validation_pubkeys",
    "jwks_pairs",
    "default_role",
    "namespace_in_state",
    "kubernetes_host",
    "pem_keys",
    "disable_iss_validation",
];

fn body() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(prop::sample::select(FIELDS.to_vec()), value(), 0..8).prop_map(|m| json!(m))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn role_and_config_writes_never_fail_the_server(writes in prop::collection::vec((0..4usize, body()), 1..4)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let server = Server::new().with_jwt_mount("jwt").await;
            let kubernetes = server.call("POST", "sys/auth/kubernetes", Some(ROOT), Some(json!({"type": "kubernetes"}))).await;
            assert_eq!(kubernetes.status, 204);
            let paths = ["auth/jwt/role/r", "auth/jwt/config", "auth/kubernetes/role/r", "auth/kubernetes/config"];
            for (target, body) in writes {
                let path = paths[target];
                let written = server.call("PUT", path, Some(ROOT), Some(body.clone())).await;
                assert!(written.status.as_u16() < 500, "PUT {path} {body}: {}", written.text);
                let read = server.call("GET", path, Some(ROOT), None).await;
                assert!([200, 404].contains(&read.status.as_u16()), "GET {path} after {body}: {}", read.text);
                let login = server.call("PUT", "auth/jwt/login", None, Some(json!({"role": "r", "jwt": token()}))).await;
                assert!(login.status.as_u16() < 500, "login after {body}: {}", login.text);
            }
        });
    }
}
