//! `jwt_supported_algs` (TestLogin_JWTSupportedAlgs) and every supported key family.

use crate::*;
use jwtgate_verifier::ConfigError;
use openssl::nid::Nid;

fn validator_with_algs(key: &TestKey, algs: &[&str]) -> Result<Validator, ConfigError> {
    let config = KeyConfig {
        jwt_validation_pubkeys: vec![key.public_pem()],
        jwt_supported_algs: algs.iter().map(|s| s.to_string()).collect(),
        ..KeyConfig::default()
    };
    Validator::new(&config, fetcher())
}

#[test]
fn supported_algorithms_matrix() {
    let token = p256().token(&k8s_claims());
    let cases: [(&[&str], bool); 5] = [
        (&[], true),
        (&["ES256"], true),
        (&["RS256", "ES256", "EdDSA"], true),
        (&["RS256"], false),
        (&["RS256", "ES512", "EdDSA"], false),
    ];
    for (algs, accepted) in cases {
        let validator = validator_with_algs(p256(), algs).unwrap();
        let result = check(&validator, &token, &k8s_policy(), now()).map(drop);
        let expected = if accepted { Ok(()) } else { Err(TokenError::UnexpectedAlgorithm) };
        assert_eq!(result, expected, "{algs:?}");
    }
}

#[test]
fn symmetric_and_unknown_algorithms_are_refused_in_config() {
    for alg in ["HS256", "HS512", "none", "rs256", "ES256K", ""] {
        assert_eq!(
            validator_with_algs(rsa(), &[alg]).err(),
            Some(ConfigError::UnsupportedAlgorithm(alg.into())),
            "{alg}"
        );
    }
}

#[test]
fn every_key_family_verifies_its_algorithms() {
    let rsa3072 = TestKey::rsa(3072);
    let p384 = TestKey::ec(Nid::SECP384R1);
    let p521 = TestKey::ec(Nid::SECP521R1);
    let ed = TestKey::ed25519();
    let cases: Vec<(&TestKey, &[&str])> = vec![
        (rsa(), &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]),
        (&rsa3072, &["RS256", "PS512"]),
        (p256(), &["ES256"]),
        (&p384, &["ES384"]),
        (&p521, &["ES512"]),
        (&ed, &["EdDSA"]),
    ];
    let claims = k8s_claims().to_string();
    for (key, algs) in cases {
        let validator = static_validator(&[key]);
        for alg in algs {
            let header = json!({"alg": alg, "kid": key.kid()}).to_string();
            let token = key.sign_raw(alg, &header, &claims);
            let identity = check(&validator, &token, &k8s_policy(), now());
            assert_eq!(identity.map(|i| i.alias_name), Ok(SUBJECT.to_owned()), "{alg}");
        }
    }
}

#[test]
fn a_key_never_verifies_another_family() {
    let claims = k8s_claims().to_string();
    // (key that signs, alg in the header, key configured)
    let ed = TestKey::ed25519();
    let p384 = TestKey::ec(Nid::SECP384R1);
    let cases: Vec<(&TestKey, &str, &TestKey)> =
        vec![(p256(), "ES256", rsa()), (rsa(), "RS256", p256()), (&ed, "EdDSA", p256()), (&p384, "ES384", p256())];
    for (signer, alg, configured) in cases {
        let validator = static_validator(&[configured]);
        let header = json!({"alg": alg}).to_string();
        let token = signer.sign_raw(alg, &header, &claims);
        assert_eq!(
            check(&validator, &token, &k8s_policy(), now()).map(drop),
            Err(TokenError::NoStaticKeyVerified),
            "{alg}"
        );
    }
}
