//! `cargo bench -p jwtgate-verifier`: full validation of Kubernetes-shaped tokens against a raw
//! signature verify of the same token, and static-key selection with 1 versus 50 keys.
//! Ratios are measured in the same run and printed at the end.

use aws_lc_rs::signature::ParsedPublicKey;
use criterion::Criterion;
use futures_util::FutureExt;
use jsonwebtoken::DecodingKey;
use jwtgate_verifier::testkit::TestKey;
use jwtgate_verifier::{ClaimPolicy, HttpsFetcher, KeyConfig, Validator};
use serde_json::json;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const NOW: u64 = 1_700_000_000;

struct Case {
    name: &'static str,
    token: String,
    validator: Validator,
    /// The physical limit: aws-lc verifying with a key parsed once.
    parsed: ParsedPublicKey,
    /// For reference: jsonwebtoken's verify, which re-parses the key on every call.
    library_key: DecodingKey,
    library_alg: jsonwebtoken::Algorithm,
}

fn claims() -> serde_json::Value {
    json!({
        "aud": ["vault"], "exp": NOW + 600, "iat": NOW, "nbf": NOW,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "jti": "a9a186b9-58c4-4000-b767-e55399d278dd",
        "kubernetes.io": {
            "namespace": "default",
            "node": {"name": "kind-control-plane", "uid": "aad42a6b-b5dc-4d96-95b3-902ce3dc9e4a"},
            "pod": {"name": "app-7d9c", "uid": "8597bc3b-7219-47dc-9d9d-a4a6bfeb8d94"},
            "serviceaccount": {"name": "default", "uid": "6379dd98-765e-4818-9e3c-621c70b0f730"}
        },
        "sub": "system:serviceaccount:default:default"
    })
}

fn policy() -> ClaimPolicy {
    ClaimPolicy {
        bound_audiences: vec!["vault".into()],
        bound_subject: "system:serviceaccount:default:default".into(),
        user_claim: "sub".into(),
        ..ClaimPolicy::default()
    }
}

fn validator(keys: &[&TestKey]) -> Validator {
    let config =
        KeyConfig { jwt_validation_pubkeys: keys.iter().map(|k| k.public_pem()).collect(), ..KeyConfig::default() };
    Validator::new(&config, Arc::new(HttpsFetcher::default())).unwrap()
}

fn library_key(key: &TestKey) -> (DecodingKey, jsonwebtoken::Algorithm) {
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.jwk()).unwrap();
    let alg = if key.alg() == "RS256" { jsonwebtoken::Algorithm::RS256 } else { jsonwebtoken::Algorithm::ES256 };
    (DecodingKey::from_jwk(&jwk).unwrap(), alg)
}

fn cases() -> Vec<Case> {
    let rsa = TestKey::rsa(2048);
    let ec = TestKey::p256();
    let others: Vec<TestKey> = (0..49).map(|_| TestKey::p256()).collect();
    let mut fifty: Vec<&TestKey> = others.iter().collect();
    fifty.push(&rsa);
    let mut cases = Vec::new();
    for (name, key, keys) in
        [("RS256, 1 key", &rsa, vec![&rsa]), ("ES256, 1 key", &ec, vec![&ec]), ("RS256, 50 keys", &rsa, fifty)]
    {
        let (library_key, library_alg) = library_key(key);
        let token = key.token(&claims());
        cases.push(Case {
            name,
            token,
            validator: validator(&keys),
            parsed: key.parsed_public_key(),
            library_key,
            library_alg,
        });
    }
    cases
}

fn validate(case: &Case, policy: &ClaimPolicy, now: SystemTime) {
    let result = case.validator.validate(black_box(&case.token), policy, now).now_or_never();
    assert!(matches!(result, Some(Ok(_))), "{}: {result:?}", case.name);
}

/// The signature check alone, on bytes already split and decoded.
fn raw_verify(case: &Case, input: &[u8], signature: &[u8]) {
    assert!(case.parsed.verify_sig(black_box(input), black_box(signature)).is_ok());
}

fn library_verify(case: &Case) {
    let (input, signature) = case.token.rsplit_once('.').unwrap();
    assert!(jsonwebtoken::crypto::verify(signature, black_box(input.as_bytes()), &case.library_key, case.library_alg)
        .unwrap());
}

fn split(token: &str) -> (Vec<u8>, Vec<u8>) {
    use base64::Engine;
    let (input, signature) = token.rsplit_once('.').unwrap();
    (input.as_bytes().to_vec(), base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature).unwrap())
}

/// Compares `a` with `b`: 61 rounds, each timing a 20 ms batch of `a` then of `b`. Returns the
/// median per-call times and the median of the per-round ratios a/b; pairing each ratio within
/// one round cancels the slow drift of a shared machine.
fn compare(mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64, f64) {
    fn batch(f: &mut impl FnMut()) -> f64 {
        let started = Instant::now();
        let mut calls = 0u32;
        while started.elapsed() < Duration::from_millis(20) {
            f();
            calls += 1;
        }
        started.elapsed().as_nanos() as f64 / f64::from(calls)
    }
    fn median(mut values: Vec<f64>) -> f64 {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    }
    let (mut times_a, mut times_b, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..61 {
        let (time_a, time_b) = (batch(&mut a), batch(&mut b));
        times_a.push(time_a);
        times_b.push(time_b);
        ratios.push(time_a / time_b);
    }
    (median(times_a), median(times_b), median(ratios))
}

fn main() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(NOW);
    let cases = cases();
    let policy = policy();
    let mut criterion = Criterion::default().configure_from_args();
    for case in &cases {
        let mut group = criterion.benchmark_group(case.name);
        group.bench_function("full validation", |b| b.iter(|| validate(case, &policy, now)));
        let (input, signature) = split(&case.token);
        group.bench_function("raw signature verify", |b| b.iter(|| raw_verify(case, &input, &signature)));
        group.bench_function("jsonwebtoken verify", |b| b.iter(|| library_verify(case)));
        group.finish();
    }
    criterion.final_summary();

    // `cargo test --benches` runs this binary without `--bench`: criterion ran each once; skip timing.
    // Under `--profile-time` only the profiled routine should run.
    if !std::env::args().any(|arg| arg == "--bench") || std::env::args().any(|arg| arg == "--profile-time") {
        return;
    }
    println!("\nratios measured in this run (medians over 61 rounds of paired 20 ms batches):");
    for case in &cases {
        let (input, signature) = split(&case.token);
        let (full, raw, ratio) = compare(|| validate(case, &policy, now), || raw_verify(case, &input, &signature));
        let (library, _, library_ratio) = compare(|| library_verify(case), || raw_verify(case, &input, &signature));
        println!(
            "  {:<16} full {:>6.1} µs   raw verify {:>6.1} µs   full/raw = {ratio:.3}   (jsonwebtoken verify {:>6.1} µs = {library_ratio:.3} x raw)",
            case.name,
            full / 1e3,
            raw / 1e3,
            library / 1e3
        );
    }
    let (_, _, fifty_over_one) = compare(|| validate(&cases[2], &policy, now), || validate(&cases[0], &policy, now));
    println!("  RS256 full validation: 50 keys / 1 key = {fifty_over_one:.3}");
}
