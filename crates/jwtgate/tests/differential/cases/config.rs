//! Key configuration of a JWT mount, written and read back on the `cfg` mount.

use super::Fixture;
use crate::{Body, Case, Step};
use jwtgate_verifier::testkit::TestKey;
use serde_json::{json, Value};

pub fn cases(fixture: &Fixture) -> Vec<Case> {
    let pem = fixture.key.public_pem();
    let ec = TestKey::p256().public_pem();
    let writes: Vec<(&str, Value)> = vec![
        ("one key", json!({"jwt_validation_pubkeys": [pem]})),
        ("one key as a string", json!({"jwt_validation_pubkeys": pem})),
        ("two keys", json!({"jwt_validation_pubkeys": [pem, ec]})),
        ("padded key", json!({"jwt_validation_pubkeys": [format!("\n  {pem}\n\n")]})),
        ("not a key", json!({"jwt_validation_pubkeys": ["not a pem"]})),
        (
            "a certificate-looking block",
            json!({"jwt_validation_pubkeys": ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"]}),
        ),
        ("empty key list", json!({"jwt_validation_pubkeys": []})),
        ("nothing", json!({})),
        ("bound issuer", json!({"jwt_validation_pubkeys": [pem], "bound_issuer": "https://issuer"})),
        ("supported algs", json!({"jwt_validation_pubkeys": [pem], "jwt_supported_algs": ["RS256", "ES256"]})),
        ("supported algs string", json!({"jwt_validation_pubkeys": [pem], "jwt_supported_algs": "RS256,ES256"})),
        ("unknown alg", json!({"jwt_validation_pubkeys": [pem], "jwt_supported_algs": ["XX256"]})),
        ("default role", json!({"jwt_validation_pubkeys": [pem], "default_role": "r"})),
        ("keys and discovery", json!({"jwt_validation_pubkeys": [pem], "oidc_discovery_url": "https://127.0.0.1:1"})),
        ("keys and jwks", json!({"jwt_validation_pubkeys": [pem], "jwks_url": "https://127.0.0.1:1/jwks"})),
        ("discovery ca without discovery", json!({"jwt_validation_pubkeys": [pem], "oidc_discovery_ca_pem": "x"})),
        ("jwks ca without jwks", json!({"jwt_validation_pubkeys": [pem], "jwks_ca_pem": "x"})),
        ("client id without discovery", json!({"jwt_validation_pubkeys": [pem], "oidc_client_id": "c"})),
        ("provider config", json!({"jwt_validation_pubkeys": [pem], "provider_config": {"provider": "nope"}})),
        ("response mode", json!({"jwt_validation_pubkeys": [pem], "oidc_response_mode": "nope"})),
        ("response types", json!({"jwt_validation_pubkeys": [pem], "oidc_response_types": ["nope"]})),
        ("namespace in state", json!({"jwt_validation_pubkeys": [pem], "namespace_in_state": false})),
        ("unknown field", json!({"jwt_validation_pubkeys": [pem], "frobnicate": true})),
        ("number in a string field", json!({"jwt_validation_pubkeys": [pem], "bound_issuer": 5})),
    ];
    let mut cases = Vec::new();
    for (name, body) in writes {
        cases.push(Case::new(
            format!("config {name}"),
            vec![
                Step::put("auth/cfg/config", json!({"jwt_validation_pubkeys": [pem]})).setup(),
                Step::put("auth/cfg/config", body),
                Step::get("auth/cfg/config"),
            ],
        ));
    }
    let form = format!("jwt_validation_pubkeys={}&bound_issuer=form", urlencode(&pem));
    cases.push(Case::new(
        "config as a form",
        vec![Step::send("PUT", "auth/cfg/config", Body::Form(form)), Step::get("auth/cfg/config")],
    ));
    cases.push(Case::new("config of a missing mount", vec![Step::get("auth/none/config")]));
    cases
}

pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
