//! Configuration validation (Vault §1.3, TestConfig_*): one key source, Vault's texts, https only.

use crate::*;
use jwtgate_verifier::testkit::TestCa;
use jwtgate_verifier::{ConfigError, JwksPair, KeyError};

fn pem() -> String {
    rsa().public_pem()
}

fn pair(url: &str) -> JwksPair {
    JwksPair { jwks_url: url.into(), jwks_ca_pem: String::new() }
}

#[test]
fn config_validation_cases() {
    let url = "https://issuer.example".to_owned();
    let ca = TestCa::new("config test CA").ca_pem;
    let cases: Vec<(&str, KeyConfig, Result<(), ConfigError>)> = vec![
        ("no source", KeyConfig::default(), Err(ConfigError::KeySourceCount)),
        (
            "two sources",
            KeyConfig { jwt_validation_pubkeys: vec![pem()], oidc_discovery_url: url.clone(), ..KeyConfig::default() },
            Err(ConfigError::KeySourceCount),
        ),
        (
            "three sources",
            KeyConfig {
                jwt_validation_pubkeys: vec![pem()],
                jwks_url: url.clone(),
                oidc_discovery_url: url.clone(),
                ..KeyConfig::default()
            },
            Err(ConfigError::KeySourceCount),
        ),
        (
            "inline JWKS and PEM",
            KeyConfig {
                jwt_validation_pubkeys: vec![pem()],
                jwt_validation_jwks: jwtgate_verifier::testkit::jwks(&[rsa()]),
                ..KeyConfig::default()
            },
            Err(ConfigError::KeySourceCount),
        ),
        ("static keys alone", KeyConfig { jwt_validation_pubkeys: vec![pem()], ..KeyConfig::default() }, Ok(())),
        ("discovery alone", KeyConfig { oidc_discovery_url: url.clone(), ..KeyConfig::default() }, Ok(())),
        (
            "discovery with CA",
            KeyConfig { oidc_discovery_url: url.clone(), oidc_discovery_ca_pem: ca.clone(), ..KeyConfig::default() },
            Ok(()),
        ),
        (
            "discovery with a bad CA",
            KeyConfig {
                oidc_discovery_url: url.clone(),
                oidc_discovery_ca_pem: "not a pem".into(),
                ..KeyConfig::default()
            },
            Err(ConfigError::CaPem),
        ),
        (
            "discovery with a private key as CA",
            KeyConfig {
                oidc_discovery_url: url.clone(),
                oidc_discovery_ca_pem: rsa().private_pem(),
                ..KeyConfig::default()
            },
            Err(ConfigError::CaPem),
        ),
        (
            "http discovery",
            KeyConfig { oidc_discovery_url: "http://issuer.example".into(), ..KeyConfig::default() },
            Err(ConfigError::NotHttps { field: "oidc_discovery_url", url: "http://issuer.example".into() }),
        ),
        (
            "file jwks url",
            KeyConfig { jwks_url: "file:///etc/passwd".into(), ..KeyConfig::default() },
            Err(ConfigError::NotHttps { field: "jwks_url", url: "file:///etc/passwd".into() }),
        ),
        ("jwks url", KeyConfig { jwks_url: url.clone(), jwks_ca_pem: ca.clone(), ..KeyConfig::default() }, Ok(())),
        (
            "jwks url with a bad CA",
            KeyConfig {
                jwks_url: url.clone(),
                jwks_ca_pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----".into(),
                ..KeyConfig::default()
            },
            Err(ConfigError::CaPem),
        ),
        (
            "pairs",
            KeyConfig { jwks_pairs: vec![pair(&url), pair("https://b.example")], ..KeyConfig::default() },
            Ok(()),
        ),
        (
            "pairs with a top-level CA",
            KeyConfig { jwks_pairs: vec![pair(&url)], jwks_ca_pem: ca.clone(), ..KeyConfig::default() },
            Err(ConfigError::PairsWithCa),
        ),
        (
            "pairs with bound issuer",
            KeyConfig { jwks_pairs: vec![pair(&url)], bound_issuer: url.clone(), ..KeyConfig::default() },
            Err(ConfigError::PairsWithBoundIssuer),
        ),
        (
            "bad public key",
            KeyConfig { jwt_validation_pubkeys: vec!["garbage".into()], ..KeyConfig::default() },
            Err(ConfigError::PublicKey(KeyError::TrailingData)),
        ),
        (
            "empty inline JWKS",
            KeyConfig { jwt_validation_jwks: r#"{"keys":[]}"#.into(), ..KeyConfig::default() },
            Err(ConfigError::InlineJwks(KeyError::NoKeys)),
        ),
        (
            "bad algorithm",
            KeyConfig {
                jwt_validation_pubkeys: vec![pem()],
                jwt_supported_algs: vec!["HS256".into()],
                ..KeyConfig::default()
            },
            Err(ConfigError::UnsupportedAlgorithm("HS256".into())),
        ),
    ];
    for (name, config, expected) in cases {
        assert_eq!(Validator::new(&config, fetcher()).map(drop), expected, "{name}");
    }
}

#[test]
fn config_error_texts_are_vaults() {
    let cases = [
        (ConfigError::KeySourceCount.to_string(), "exactly one of 'jwt_validation_pubkeys', 'jwt_validation_jwks', 'jwks_url', 'jwks_pairs' or 'oidc_discovery_url' must be set"),
        (ConfigError::PairsWithBoundIssuer.to_string(), "Bound issuer is not supported for use with 'jwks_pairs'"),
        (ConfigError::PairsWithCa.to_string(), "CA PEMs must be provided as part of the 'jwks_pairs' when using multiple JWKS URLs"),
        (ConfigError::UnsupportedAlgorithm("HS256".into()).to_string(), "invalid jwt_supported_algs: unsupported signing algorithm \"HS256\""),
        (ConfigError::CaPem.to_string(), "could not parse CA PEM value successfully"),
        (ConfigError::PublicKey(KeyError::NoKeys).to_string(), "error parsing public key: data does not contain any valid public keys"),
    ];
    for (actual, expected) in cases {
        assert_eq!(actual, expected);
    }
}

#[test]
fn bound_issuer_is_enforced() {
    let config = KeyConfig { jwt_validation_pubkeys: vec![pem()], bound_issuer: ISSUER.into(), ..KeyConfig::default() };
    let validator = Validator::new(&config, fetcher()).unwrap();
    let cases = [
        (json!(ISSUER), Ok(())),
        (json!(format!("{ISSUER}/")), Err(TokenError::Issuer)),
        (json!("http://kubernetes.default.svc.cluster.local"), Err(TokenError::Issuer)),
        (Value::Null, Err(TokenError::Issuer)),
        (json!(1), Err(TokenError::ClaimType { claim: "issuer (iss)", problem: "expected a string" })),
        (
            json!([ISSUER, "https://evil"]),
            Err(TokenError::ClaimType { claim: "issuer (iss)", problem: "expected a string" }),
        ),
    ];
    for (iss, expected) in cases {
        let claims = claims_with(|c| {
            c.insert("iss".into(), iss.clone());
        });
        assert_eq!(check(&validator, &rsa().token(&claims), &k8s_policy(), now()).map(drop), expected, "{iss}");
    }
}
