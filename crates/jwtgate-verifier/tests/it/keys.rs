//! Key parsing and hygiene: every family from PEM, certificates and JWKS; refusals with clear
//! errors; several PEM blocks split, never truncated; kids as Kubernetes computes them.

use crate::*;
use jwtgate_verifier::testkit::{jwks, TestCa};
use jwtgate_verifier::{parse_jwks, parse_pem_keys, to_pem_with_kids, KeyError, KeyKind};
use openssl::nid::Nid;

type IsExpected = fn(&KeyError) -> bool;

#[test]
fn every_family_parses_from_pem_and_jwks() {
    let cases: Vec<(TestKey, KeyKind)> = vec![
        (rsa().clone(), KeyKind::Rsa { bits: 2048 }),
        (TestKey::rsa(4096), KeyKind::Rsa { bits: 4096 }),
        (p256().clone(), KeyKind::EcP256),
        (TestKey::ec(Nid::SECP384R1), KeyKind::EcP384),
        (TestKey::ec(Nid::SECP521R1), KeyKind::EcP521),
        (TestKey::ed25519(), KeyKind::Ed25519),
    ];
    for (key, kind) in &cases {
        let from_pem = parse_pem_keys(&key.public_pem()).unwrap();
        assert_eq!(from_pem.len(), 1);
        assert_eq!(from_pem[0].kind(), *kind);
        assert_eq!(from_pem[0].kid(), key.kid(), "a PEM key gets the Kubernetes kid");
        let from_jwks = parse_jwks(&jwks(&[key])).unwrap();
        assert_eq!(from_jwks[0].kind(), *kind);
        assert_eq!(from_jwks[0].kid(), key.kid());
    }
}

#[test]
fn kubernetes_kid_derivation() {
    // base64url(SHA-256(SPKI DER)) without padding: 43 characters.
    let kid = rsa().kid();
    assert_eq!(kid.len(), 43);
    assert!(!kid.contains('='));
    assert_eq!(jwtgate_verifier::kubernetes_kid(&rsa().spki_der()), kid);
}

#[test]
fn certificates_and_pkcs1_public_keys_are_accepted() {
    let ca = TestCa::new("issuer");
    let cert_pem = String::from_utf8(ca.cert.to_pem().unwrap()).unwrap();
    let keys = parse_pem_keys(&cert_pem).unwrap();
    assert_eq!(keys[0].kind(), KeyKind::EcP256);

    let pkcs1 = String::from_utf8(rsa().key.rsa().unwrap().public_key_to_pem_pkcs1().unwrap()).unwrap();
    assert!(pkcs1.contains("BEGIN RSA PUBLIC KEY"));
    assert_eq!(parse_pem_keys(&pkcs1).unwrap()[0].kid(), rsa().kid());
}

#[test]
fn several_pem_blocks_become_several_keys() {
    let bundle = format!("{}\n{}{}", rsa().public_pem(), p256().public_pem(), other_rsa().public_pem());
    let keys = parse_pem_keys(&bundle).unwrap();
    let kids: Vec<&str> = keys.iter().map(|k| k.kid()).collect();
    assert_eq!(kids, vec![rsa().kid(), p256().kid(), other_rsa().kid()]);
}

#[test]
fn jwks_to_pem_round_trip_keeps_kids_and_verifies() {
    let mut custom = p256().jwk();
    custom["kid"] = json!("custom-kid");
    let document = json!({"keys": [rsa().jwk(), custom]}).to_string();
    let pem = to_pem_with_kids(&parse_jwks(&document).unwrap());
    assert!(pem.starts_with(&format!("# kid: {}\n-----BEGIN PUBLIC KEY-----\n", rsa().kid())));
    let keys = parse_pem_keys(&pem).unwrap();
    assert_eq!(keys.iter().map(|k| k.kid()).collect::<Vec<_>>(), vec![rsa().kid().as_str(), "custom-kid"]);

    let config = KeyConfig { jwt_validation_pubkeys: vec![pem], ..KeyConfig::default() };
    let validator = Validator::new(&config, fetcher()).unwrap();
    for key in [rsa(), p256()] {
        assert!(check(&validator, &key.token(&k8s_claims()), &k8s_policy(), now()).is_ok());
    }
}

#[test]
fn hygiene_refusals() {
    let weak = TestKey::rsa(1024);
    let k256 = TestKey::ec(Nid::SECP256K1);
    let private_pkcs8 = rsa().private_pem();
    let private_pkcs1 = String::from_utf8(rsa().key.rsa().unwrap().private_key_to_pem().unwrap()).unwrap();
    let private_ec = String::from_utf8(p256().key.ec_key().unwrap().private_key_to_pem().unwrap()).unwrap();
    let cases: Vec<(&str, String, KeyError)> = vec![
        ("1024-bit RSA", weak.public_pem(), KeyError::RsaTooSmall { bits: 1024 }),
        ("PKCS#8 private key", private_pkcs8, KeyError::PrivateKey("PRIVATE KEY".into())),
        ("PKCS#1 private key", private_pkcs1, KeyError::PrivateKey("RSA PRIVATE KEY".into())),
        ("EC private key", private_ec, KeyError::PrivateKey("EC PRIVATE KEY".into())),
        ("secp256k1", k256.public_pem(), KeyError::UnsupportedCurve("secp256k1".into())),
        ("trailing junk", format!("{}junk", rsa().public_pem()), KeyError::TrailingData),
        ("leading junk", format!("junk\n{}", rsa().public_pem()), KeyError::TrailingData),
        ("empty", String::new(), KeyError::NoKeys),
        ("comment only", "# kid: x\n".into(), KeyError::NoKeys),
        ("unterminated", "-----BEGIN PUBLIC KEY-----\nMIIB\n".into(), KeyError::UnterminatedPem("PUBLIC KEY".into())),
        (
            "unknown block",
            "-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n".into(),
            KeyError::UnsupportedPemType("FOO".into()),
        ),
    ];
    for (name, pem, expected) in cases {
        assert_eq!(parse_pem_keys(&pem).map(drop), Err(expected), "{name}");
    }
}

#[test]
fn a_private_key_in_a_bundle_refuses_the_whole_bundle() {
    let bundle = format!("{}{}", rsa().public_pem(), rsa().private_pem());
    assert!(matches!(parse_pem_keys(&bundle), Err(KeyError::PrivateKey(_))));
}

#[test]
fn jwks_hygiene_refusals() {
    let mut private = rsa().jwk();
    private["d"] = json!("AQAB");
    let mut wrong_alg = p256().jwk();
    wrong_alg["alg"] = json!("RS256");
    let mut bad_point = p256().jwk();
    bad_point["y"] = bad_point["x"].clone();
    let weak = TestKey::rsa(1024).jwk();
    let cases: Vec<(&str, Value, IsExpected)> = vec![
        ("oct", json!({"kty": "oct", "k": "c2VjcmV0"}), |e| *e == KeyError::SymmetricJwk),
        ("private member", private, |e| matches!(e, KeyError::PrivateKey(_))),
        ("alg mismatch", wrong_alg, |e| matches!(e, KeyError::Jwk { .. })),
        ("point off curve", bad_point, |e| matches!(e, KeyError::Jwk { .. })),
        ("weak RSA", weak, |e| *e == KeyError::RsaTooSmall { bits: 1024 }),
        ("unknown curve", json!({"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"}), |e| {
            matches!(e, KeyError::UnsupportedCurve(_))
        }),
        ("unknown kty", json!({"kty": "XYZ"}), |e| matches!(e, KeyError::UnsupportedKeyType(_))),
        ("not an object", json!("key"), |e| matches!(e, KeyError::Jwks(_))),
    ];
    for (name, jwk, expected) in cases {
        let document = json!({"keys": [jwk]}).to_string();
        let error = parse_jwks(&document).expect_err(name);
        assert!(expected(&error), "{name}: {error:?}");
    }
    for (name, document) in [
        ("no keys", r#"{}"#),
        ("keys not a list", r#"{"keys":{}}"#),
        ("duplicate keys member", r#"{"keys":[],"keys":[]}"#),
    ] {
        assert!(matches!(parse_jwks(document), Err(KeyError::Jwks(_))), "{name}");
    }
}

#[test]
fn encryption_keys_are_ignored_in_a_jwks() {
    let mut enc = other_rsa().jwk();
    enc["use"] = json!("enc");
    let document = json!({"keys": [enc, rsa().jwk()]}).to_string();
    let keys = parse_jwks(&document).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kid(), rsa().kid());
}

#[test]
fn inline_jwks_mount_verifies_kubernetes_tokens() {
    let config = KeyConfig { jwt_validation_jwks: jwks(&[rsa(), p256()]), ..KeyConfig::default() };
    let validator = Validator::new(&config, fetcher()).unwrap();
    for key in [rsa(), p256()] {
        assert!(check(&validator, &key.token(&k8s_claims()), &k8s_policy(), now()).is_ok());
    }
    assert_eq!(
        check(&validator, &other_rsa().token(&k8s_claims()), &k8s_policy(), now()).map(drop),
        Err(TokenError::NoStaticKeyVerified)
    );
}
