//! Hostile tokens from the security catalogue, sections A (header), B (claims), C (encoding) and
//! D (signatures). Each names its catalogue item. No error text may echo the token.

use crate::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwtgate_verifier::{BoxFuture, FetchError, FetchRequest, Malformed};
use std::sync::atomic::{AtomicUsize, Ordering};

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn header(alg: &str) -> String {
    json!({"alg": alg, "kid": rsa().kid()}).to_string()
}

fn claims() -> String {
    k8s_claims().to_string()
}

/// A token signed by the trusted RSA key with an arbitrary header.
fn signed_with_header(header: &str) -> String {
    rsa().sign_raw("RS256", header, &claims())
}

fn run(token: &str) -> Result<Identity, TokenError> {
    let result = check(&static_validator(&[rsa()]), token, &k8s_policy(), now());
    if let Err(error) = &result {
        let text = error.to_string();
        assert!(!text.contains("eyJ"), "error echoes a JWT: {text}");
        if token.len() > 20 {
            assert!(!text.contains(token.trim()), "error echoes the token: {text}");
        }
    }
    result
}

fn hmac(secret: &[u8], message: &str) -> Vec<u8> {
    let key = openssl::pkey::PKey::hmac(secret).unwrap();
    let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
    signer.update(message.as_bytes()).unwrap();
    signer.sign_to_vec().unwrap()
}

fn malformed(reason: Malformed) -> Result<(), TokenError> {
    Err(TokenError::Malformed(reason))
}

#[test]
fn a_header_tricks() {
    use TokenError::{NoStaticKeyVerified, UnexpectedAlgorithm, UnsupportedHeader};
    let payload = b64(claims());
    let pem = rsa().public_pem();
    let hs256 = |secret: &[u8]| {
        let input = format!("{}.{payload}", b64(header("HS256")));
        format!("{input}.{}", b64(hmac(secret, &input)))
    };
    let rs256_signature = signed_with_header(&header("RS256")).rsplit('.').next().unwrap().to_owned();
    let attacker = other_rsa();
    let cases: Vec<(&str, String, Result<(), TokenError>)> = vec![
        ("A1 none", format!("{}.{payload}.", b64(r#"{"alg":"none"}"#)), Err(UnexpectedAlgorithm)),
        ("A1 None", format!("{}.{payload}.", b64(r#"{"alg":"None"}"#)), Err(UnexpectedAlgorithm)),
        (
            "A1 nOnE with a real signature",
            format!("{}.{payload}.{rs256_signature}", b64(r#"{"alg":"nOnE"}"#)),
            Err(UnexpectedAlgorithm),
        ),
        ("A2 HS256 keyed with the PEM", hs256(pem.as_bytes()), Err(UnexpectedAlgorithm)),
        ("A2 HS256 keyed with the PEM, no newline", hs256(pem.trim_end().as_bytes()), Err(UnexpectedAlgorithm)),
        ("A2 HS256 keyed with the DER", hs256(&rsa().spki_der()), Err(UnexpectedAlgorithm)),
        (
            "A5 alg missing",
            signed_with_header(r#"{"kid":"x"}"#),
            malformed(Malformed::Header("\"alg\" is missing".into())),
        ),
        (
            "A5 alg not a string",
            signed_with_header(r#"{"alg":["RS256"]}"#),
            malformed(Malformed::Header("\"alg\" is not a string".into())),
        ),
        ("A5 alg unknown", signed_with_header(r#"{"alg":"ES256K"}"#), Err(UnexpectedAlgorithm)),
        ("A5 alg XS999", signed_with_header(r#"{"alg":"XS999"}"#), Err(UnexpectedAlgorithm)),
        (
            "A6 duplicate alg",
            signed_with_header(r#"{"alg":"none","alg":"RS256"}"#),
            Err(TokenError::Malformed(Malformed::Header(String::new()))),
        ),
        ("A8 unknown kid, static keys fall back", signed_with_header(r#"{"alg":"RS256","kid":"unknown"}"#), Ok(())),
        ("A9 kid path traversal", signed_with_header(r#"{"alg":"RS256","kid":"../../../../dev/null"}"#), Ok(())),
        ("A9 kid with NUL", signed_with_header(r#"{"alg":"RS256","kid":"a\u0000b"}"#), Ok(())),
        (
            "A9 kid too long",
            signed_with_header(&json!({"alg":"RS256","kid":"k".repeat(100_000 / 2)}).to_string()),
            malformed(Malformed::TooLong),
        ),
        (
            "A9 kid 257 bytes",
            signed_with_header(&json!({"alg":"RS256","kid":"k".repeat(257)}).to_string()),
            malformed(Malformed::KidTooLong),
        ),
        (
            "A9 kid a number",
            signed_with_header(r#"{"alg":"RS256","kid":7}"#),
            malformed(Malformed::Header("\"kid\" is not a string".into())),
        ),
        (
            "A10 attacker jwk header, attacker signature",
            attacker.sign_raw("RS256", &json!({"alg":"RS256","jwk":attacker.jwk()}).to_string(), &claims()),
            Err(NoStaticKeyVerified),
        ),
        ("A10 benign jwk header", signed_with_header(&json!({"alg":"RS256","jwk":rsa().jwk()}).to_string()), Ok(())),
        (
            "A11 jku to an attacker JWKS",
            attacker.sign_raw("RS256", r#"{"alg":"RS256","jku":"https://evil.example/jwks"}"#, &claims()),
            Err(NoStaticKeyVerified),
        ),
        (
            "A11 x5u to the metadata service",
            attacker.sign_raw("RS256", r#"{"alg":"RS256","x5u":"http://169.254.169.254/latest"}"#, &claims()),
            Err(NoStaticKeyVerified),
        ),
        (
            "A12 bogus x5c",
            attacker.sign_raw("RS256", r#"{"alg":"RS256","x5c":["MIIBbogus"]}"#, &claims()),
            Err(NoStaticKeyVerified),
        ),
        (
            "A13 crit unknown",
            signed_with_header(r#"{"alg":"RS256","crit":["x-unknown"],"x-unknown":"v"}"#),
            Err(UnsupportedHeader { member: "crit" }),
        ),
        (
            "A13 crit empty",
            signed_with_header(r#"{"alg":"RS256","crit":[]}"#),
            Err(UnsupportedHeader { member: "crit" }),
        ),
        (
            "A14 b64 false",
            signed_with_header(r#"{"alg":"RS256","b64":false}"#),
            Err(UnsupportedHeader { member: "b64" }),
        ),
        ("A15 zip", signed_with_header(r#"{"alg":"RS256","zip":"DEF"}"#), Err(UnsupportedHeader { member: "zip" })),
        ("A15 enc", signed_with_header(r#"{"alg":"RS256","enc":"A256GCM"}"#), Err(UnsupportedHeader { member: "enc" })),
        (
            "A16 typ at+jwt",
            signed_with_header(r#"{"alg":"RS256","typ":"at+jwt"}"#),
            Err(UnsupportedHeader { member: "typ" }),
        ),
        (
            "A16 typ not a string",
            signed_with_header(r#"{"alg":"RS256","typ":1}"#),
            Err(UnsupportedHeader { member: "typ" }),
        ),
        ("A16 typ JWT", signed_with_header(r#"{"alg":"RS256","typ":"JWT"}"#), Ok(())),
        ("A16 typ jwt", signed_with_header(r#"{"alg":"RS256","typ":"jwt"}"#), Ok(())),
        (
            "C51 nested JWT",
            signed_with_header(r#"{"alg":"RS256","cty":"JWT"}"#),
            Err(UnsupportedHeader { member: "cty" }),
        ),
    ];
    for (name, token, expected) in cases {
        let result = run(&token).map(drop);
        match (&result, &expected) {
            // Duplicate detection: the message names the member; compare the variant only.
            (
                Err(TokenError::Malformed(Malformed::Header(found))),
                Err(TokenError::Malformed(Malformed::Header(want))),
            ) if want.is_empty() => {
                assert!(found.contains("duplicate member name \"alg\""), "{name}: {found}");
            }
            _ => assert_eq!(result, expected, "{name}"),
        }
    }
}

#[test]
fn a3_an_algorithm_outside_the_allowlist_is_refused() {
    let config = KeyConfig {
        jwt_validation_pubkeys: vec![rsa().public_pem()],
        jwt_supported_algs: vec!["RS256".into()],
        ..KeyConfig::default()
    };
    let validator = Validator::new(&config, fetcher()).unwrap();
    for alg in ["PS256", "RS512"] {
        let token = rsa().sign_raw(alg, &header(alg), &claims());
        assert_eq!(
            check(&validator, &token, &k8s_policy(), now()).map(drop),
            Err(TokenError::UnexpectedAlgorithm),
            "{alg}"
        );
    }
}

/// A fetcher that counts calls: static key sets must never reach out, whatever the header says.
#[derive(Debug, Default)]
struct CountingFetcher(AtomicUsize);

impl jwtgate_verifier::Fetch for CountingFetcher {
    fn get<'a>(&'a self, _request: FetchRequest<'a>) -> BoxFuture<'a, Result<Vec<u8>, FetchError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err(FetchError::Transport("no network in this test".into())) })
    }
}

#[test]
fn a11_header_urls_cause_no_outbound_request() {
    let counter = Arc::new(CountingFetcher::default());
    let config = KeyConfig { jwt_validation_pubkeys: vec![rsa().public_pem()], ..KeyConfig::default() };
    let validator = Validator::new(&config, counter.clone()).unwrap();
    for header in
        [r#"{"alg":"RS256","jku":"https://127.0.0.1:1/jwks"}"#, r#"{"alg":"RS256","x5u":"https://127.0.0.1:1/x5u"}"#]
    {
        let token = other_rsa().sign_raw("RS256", header, &claims());
        assert!(check(&validator, &token, &k8s_policy(), now()).is_err());
    }
    assert_eq!(counter.0.load(Ordering::SeqCst), 0);
}

#[test]
fn b_claim_tricks() {
    use TokenError::*;
    let exp_type = ClaimType { claim: "expiration time (exp)", problem: "expected a non-negative number of seconds" };
    let nbf_type = ClaimType { claim: "not before (nbf)", problem: "expected a non-negative number of seconds" };
    let iat_type = ClaimType { claim: "issued at (iat)", problem: "expected a non-negative number of seconds" };
    let set = |name: &str, value: Value| {
        let name = name.to_owned();
        claims_with(move |c| {
            c.insert(name, value);
        })
    };
    let remove = |name: &str| {
        let name = name.to_owned();
        claims_with(move |c| {
            c.remove(&name);
        })
    };
    let cases: Vec<(&str, Value, Result<(), TokenError>)> = vec![
        ("B18 exp as a string", set("exp", json!((NOW + 600).to_string())), Err(exp_type.clone())),
        ("B20 exp negative", set("exp", json!(-1)), Err(exp_type.clone())),
        ("B20 exp true", set("exp", json!(true)), Err(exp_type.clone())),
        ("B20 exp 1e300", set("exp", json!(1e300)), Err(exp_type.clone())),
        ("B20 exp 2^64", set("exp", serde_json::from_str("18446744073709551616").unwrap()), Err(exp_type.clone())),
        ("B20 exp u64::MAX", set("exp", json!(u64::MAX)), Err(exp_type)),
        ("B23 nbf an hour ahead", set("nbf", json!(NOW + 3600)), Err(NotYetValid)),
        ("B24 nbf as a string", set("nbf", json!("99999999999")), Err(nbf_type)),
        ("B25 iat a year ahead", set("iat", json!(NOW + 31_536_000)), Err(IssuedInFuture)),
        ("B25 iat as a string", set("iat", json!("1")), Err(iat_type)),
        ("B27 aud missing with bound audiences", remove("aud"), Err(Audience)),
        ("B31 iss missing is fine without bound_issuer", remove("iss"), Ok(())),
        (
            "B33 sub a number",
            set("sub", json!(7)),
            Err(ClaimType { claim: "subject (sub)", problem: "expected a string" }),
        ),
        (
            "B33 sub an array",
            set("sub", json!([SUBJECT])),
            Err(ClaimType { claim: "subject (sub)", problem: "expected a string" }),
        ),
        ("B33 sub missing", remove("sub"), Err(Subject)),
        ("B34 sub with a trailing space", set("sub", json!(format!("{SUBJECT} "))), Err(Subject)),
        ("B35 SUB", set("SUB", json!("anon")), Err(AmbiguousClaim { key: "SUB".into(), registered: "sub" })),
        (
            "B35 long s",
            set("\u{17f}ub", json!("anon")),
            Err(AmbiguousClaim { key: "\u{17f}ub".into(), registered: "sub" }),
        ),
        ("B35 Exp", set("Exp", json!(NOW + 9999)), Err(AmbiguousClaim { key: "Exp".into(), registered: "exp" })),
        ("B35 AUD", set("AUD", json!("vault")), Err(AmbiguousClaim { key: "AUD".into(), registered: "aud" })),
    ];
    let validator = static_validator(&[rsa()]);
    for (name, claims, expected) in cases {
        let result = check(&validator, &rsa().token(&claims), &k8s_policy(), now()).map(drop);
        assert_eq!(result, expected, "{name}");
    }
}

#[test]
fn b36_duplicate_claims_are_malformed() {
    let body = claims();
    let inner = &body[1..body.len() - 1];
    let cases = [
        format!(r#"{{{inner},"sub":"other"}}"#),
        format!(r#"{{"exp":1,{inner}}}"#),
        format!(r#"{{{inner},"kubernetes.io":{{"namespace":"prod"}}}}"#),
        format!(
            r#"{{"kubernetes.io":{{"namespace":"a","namespace":"b"}},"sub":"{SUBJECT}","iat":{NOW},"aud":"vault"}}"#
        ),
    ];
    for payload in cases {
        let token = rsa().sign_raw("RS256", &header("RS256"), &payload);
        assert!(
            matches!(run(&token), Err(TokenError::Malformed(Malformed::Payload(ref m))) if m.contains("duplicate member name")),
            "{payload}"
        );
    }
}

#[test]
fn b37_hostile_pointers_are_missing_claims() {
    let long_pointer = "/a".repeat(1000);
    let validator = static_validator(&[rsa()]);
    for pointer in [long_pointer.as_str(), "/kubernetes.io/namespace/0", "/", "/~2", "/kubernetes.io/pod/name/x"] {
        let policy = ClaimPolicy { bound_claims: json!({pointer: "x"}).as_object().unwrap().clone(), ..k8s_policy() };
        let result = check(&validator, &rsa().token(&k8s_claims()), &policy, now()).map(drop);
        assert_eq!(result, Err(TokenError::BoundClaimMissing(pointer.into())), "{pointer}");
    }
}

#[test]
fn c_encoding_tricks() {
    let token = rsa().token(&k8s_claims());
    let (head, rest) = token.split_once('.').unwrap();
    let (body, signature) = rest.split_once('.').unwrap();
    let bad_b64_signature = {
        // Flip the unused low bits of the last character: non-canonical base64url.
        let mut chars: Vec<char> = signature.chars().collect();
        let last = chars.pop().unwrap();
        let index = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".find(last).unwrap();
        let tweaked =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".chars().nth(index ^ 1).unwrap();
        chars.push(tweaked);
        chars.into_iter().collect::<String>()
    };
    let cases: Vec<(&str, String, Malformed)> = vec![
        ("C42 two segments", format!("{head}.{body}"), Malformed::NotCompact),
        ("C42 four segments", format!("{token}.x"), Malformed::NotCompact),
        ("C42 trailing dot", format!("{token}."), Malformed::NotCompact),
        ("C42 double dot", "..".into(), Malformed::Header("EOF while parsing a value at line 1 column 0".into())),
        ("C42 empty", String::new(), Malformed::NotCompact),
        ("C43 a megabyte of dots", ".".repeat(1 << 20), Malformed::TooLong),
        ("C44 newline inside", format!("{head}.\n{body}.{signature}"), Malformed::BadCharacter),
        (
            "C44 plus and slash",
            format!("{head}.{}.{signature}", body.replace('-', "+").replace('_', "/") + "+/"),
            Malformed::BadCharacter,
        ),
        ("C44 padding", format!("{head}=.{body}.{signature}"), Malformed::BadCharacter),
        ("C44 quotes", format!("\"{token}\""), Malformed::BadCharacter),
        (
            "C45 non-canonical base64",
            format!("{head}.{body}.{bad_b64_signature}"),
            Malformed::Base64 { part: "signature" },
        ),
        (
            "C46 JSON serialisation",
            json!({"payload": body, "signatures": [{"protected": head, "signature": signature}]}).to_string(),
            Malformed::JsonSerialization,
        ),
        (
            "C47 header an array",
            format!("{}.{body}.{signature}", b64("[1]")),
            Malformed::Header("not a JSON object".into()),
        ),
        ("C49 over 64 KiB", format!("{head}.{}.{signature}", "A".repeat(70_000)), Malformed::TooLong),
        ("C50 JWE compact", "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d".into(), Malformed::Jwe),
    ];
    for (name, token, expected) in cases {
        assert_eq!(run(&token).map(drop), Err(TokenError::Malformed(expected)), "{name}");
    }
}

#[test]
fn c47_c48_payloads_are_parsed_strictly_after_the_signature() {
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let with_bom = format!("\u{feff}{}", claims());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("C47 payload null", b"null".to_vec()),
        ("C47 payload a number", b"42".to_vec()),
        ("C47 payload an array", b"[1]".to_vec()),
        ("C48 nested 200 deep", format!("{{\"a\":{deep}}}").into_bytes()),
        ("C47 payload with a BOM", with_bom.into_bytes()),
        ("C47 invalid UTF-8", vec![0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]),
    ];
    for (name, payload) in cases {
        let input = format!("{}.{}", b64(header("RS256")), b64(&payload));
        let token = format!("{input}.{}", b64(rsa().signature("RS256", input.as_bytes())));
        assert!(matches!(run(&token), Err(TokenError::Malformed(Malformed::Payload(_)))), "{name}");
        // The same payload under a signature that does not verify is never parsed.
        let forged = format!("{input}.{}", b64(other_rsa().signature("RS256", input.as_bytes())));
        assert_eq!(run(&forged).map(drop), Err(TokenError::NoStaticKeyVerified), "{name}");
    }
}

#[test]
fn c44_surrounding_whitespace_is_trimmed() {
    let token = rsa().token(&k8s_claims());
    for padded in [format!("{token}\n"), format!("  {token}\r\n"), format!("\t{token} ")] {
        assert!(run(&padded).is_ok(), "{padded:?}");
    }
}

#[test]
fn d_signature_tricks() {
    use TokenError::{NoStaticKeyVerified, Unsigned};
    let token = rsa().token(&k8s_claims());
    let (input, signature) = token.rsplit_once('.').unwrap();
    let raw = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let with_signature = |bytes: &[u8]| format!("{input}.{}", b64(bytes));
    let mut flipped = raw.clone();
    flipped[10] ^= 1;
    let tampered = {
        let (head, _) = input.split_once('.').unwrap();
        let payload = b64(claims_with(|c| {
            c.insert("sub".into(), json!("system:serviceaccount:kube-system:admin"));
        })
        .to_string());
        format!("{head}.{payload}.{signature}")
    };
    let cases: Vec<(&str, String, TokenError)> = vec![
        ("D52 empty signature", format!("{input}."), Unsigned),
        ("D52 truncated signature", with_signature(&raw[..raw.len() - 1]), NoStaticKeyVerified),
        ("D52 flipped bit", with_signature(&flipped), NoStaticKeyVerified),
        ("D52 tampered payload", tampered, NoStaticKeyVerified),
    ];
    for (name, token, expected) in cases {
        assert_eq!(run(&token).map(drop), Err(expected), "{name}");
    }
}

#[test]
fn d_ecdsa_tricks() {
    let key = p256();
    let validator = static_validator(&[key]);
    let token = key.token(&k8s_claims());
    let (input, signature) = token.rsplit_once('.').unwrap();
    let raw = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let order =
        openssl::bn::BigNum::from_hex_str("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551").unwrap();
    let n = order.to_vec_padded(32).unwrap();
    let der = {
        let r = openssl::bn::BigNum::from_slice(&raw[..32]).unwrap();
        let s = openssl::bn::BigNum::from_slice(&raw[32..]).unwrap();
        openssl::ecdsa::EcdsaSig::from_private_components(r, s).unwrap().to_der().unwrap()
    };
    let high_s = {
        let s = openssl::bn::BigNum::from_slice(&raw[32..]).unwrap();
        let mut high = openssl::bn::BigNum::new().unwrap();
        high.checked_sub(&order, &s).unwrap();
        let mut bytes = raw[..32].to_vec();
        bytes.extend(high.to_vec_padded(32).unwrap());
        bytes
    };
    let attempt = |bytes: &[u8]| check(&validator, &format!("{input}.{}", b64(bytes)), &k8s_policy(), now()).map(drop);
    assert_eq!(attempt(&[0u8; 64]), Err(TokenError::NoStaticKeyVerified), "D53 r=s=0");
    assert_eq!(attempt(&[n.clone(), n].concat()), Err(TokenError::NoStaticKeyVerified), "D53 r=s=n");
    assert_eq!(attempt(&der), Err(TokenError::NoStaticKeyVerified), "D54 DER signature");
    // D55: ECDSA is malleable; the high-s twin verifies, so nothing may key on token bytes.
    assert_eq!(attempt(&high_s), Ok(()), "D55 high-s verifies (documented)");
}

#[test]
fn d59_hmac_tokens_never_reach_a_kubernetes_role() {
    for alg in ["HS256", "HS384", "HS512"] {
        let input = format!("{}.{}", b64(header(alg)), b64(claims()));
        let token = format!("{input}.{}", b64(hmac(b"secret", &input)));
        assert_eq!(run(&token).map(drop), Err(TokenError::UnexpectedAlgorithm), "{alg}");
    }
}
