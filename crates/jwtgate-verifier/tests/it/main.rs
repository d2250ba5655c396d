//! The verifier's tests, in one binary. Each module is a table of cases for one concern.

mod algorithms;
mod audiences;
mod bound_claims;
mod config;
mod hostile;
mod identity;
mod keys;
mod kubernetes;
mod leeways;
mod properties;
mod remote;
mod review;

use jwtgate_verifier::testkit::TestKey;
use jwtgate_verifier::{ClaimPolicy, Fetch, HttpsFetcher, Identity, KeyConfig, TokenError, Validator};
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

/// The fixed "now" of every test, in Unix seconds.
pub const NOW: i64 = 1_700_000_000;
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
pub const SUBJECT: &str = "system:serviceaccount:default:default";

pub fn now() -> SystemTime {
    at(NOW)
}

pub fn at(unix: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(unix as u64)
}

/// One RSA-2048 key shared by the tests (generation is the slow part).
pub fn rsa() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::rsa(2048))
}

pub fn other_rsa() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::rsa(2048))
}

pub fn p256() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(TestKey::p256)
}

pub fn fetcher() -> Arc<dyn Fetch> {
    Arc::new(HttpsFetcher::new(Duration::from_secs(2), 1024 * 1024))
}

/// A validator trusting `keys` as `jwt_validation_pubkeys`.
pub fn static_validator(keys: &[&TestKey]) -> Validator {
    let config =
        KeyConfig { jwt_validation_pubkeys: keys.iter().map(|k| k.public_pem()).collect(), ..KeyConfig::default() };
    Validator::new(&config, fetcher()).expect("valid static config")
}

/// Claims of a projected Kubernetes token minted at `NOW` for ten minutes, audience `vault`.
pub fn k8s_claims() -> Value {
    json!({
        "aud": ["vault"],
        "exp": NOW + 600,
        "iat": NOW,
        "iss": ISSUER,
        "jti": "a9a186b9-58c4-4000-b767-e55399d278dd",
        "kubernetes.io": {
            "namespace": "default",
            "node": {"name": "kind-control-plane", "uid": "aad42a6b-b5dc-4d96-95b3-902ce3dc9e4a"},
            "pod": {"name": "app-7d9c", "uid": "8597bc3b-7219-47dc-9d9d-a4a6bfeb8d94"},
            "serviceaccount": {"name": "default", "uid": "6379dd98-765e-4818-9e3c-621c70b0f730"}
        },
        "nbf": NOW,
        "sub": SUBJECT
    })
}

/// The seed's role: bound audience, subject, `user_claim=sub`.
pub fn k8s_policy() -> ClaimPolicy {
    ClaimPolicy {
        bound_audiences: vec!["vault".into()],
        bound_subject: SUBJECT.into(),
        user_claim: "sub".into(),
        ..ClaimPolicy::default()
    }
}

/// Runs one validation to completion.
pub fn check(
    validator: &Validator,
    token: &str,
    policy: &ClaimPolicy,
    now: SystemTime,
) -> Result<Identity, TokenError> {
    block_on(validator.validate(token, policy, now))
}

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

/// Applies `edit` to the standard claims.
pub fn claims_with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut claims = k8s_claims();
    edit(claims.as_object_mut().unwrap());
    claims
}
