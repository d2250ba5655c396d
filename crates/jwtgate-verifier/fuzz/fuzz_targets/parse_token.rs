//! Fuzzes the token parser and the whole validation pipeline with arbitrary input.
//! Run with `cargo fuzz run parse_token` from `crates/jwtgate-verifier` (nightly toolchain).
#![no_main]

use futures_util::FutureExt;
use jwtgate_verifier::testkit::TestKey;
use jwtgate_verifier::{ClaimPolicy, HttpsFetcher, KeyConfig, Validator};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

fn validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let config = KeyConfig { jwt_validation_pubkeys: vec![TestKey::p256().public_pem()], ..KeyConfig::default() };
        Validator::new(&config, Arc::new(HttpsFetcher::default())).expect("valid config")
    })
}

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    let policy = ClaimPolicy { user_claim: "sub".into(), ..ClaimPolicy::default() };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    // Static keys never await, so the future completes at once.
    let outcome = validator().validate(&token, &policy, now).now_or_never();
    assert!(outcome.is_some());
});
