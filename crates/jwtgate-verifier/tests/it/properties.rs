//! Robustness: parsing and validating arbitrary input never panics.

use crate::*;
use proptest::prelude::*;

fn validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| static_validator(&[rsa(), p256()]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let text = String::from_utf8_lossy(&bytes);
        prop_assert!(check(validator(), &text, &k8s_policy(), now()).is_err());
    }

    #[test]
    fn arbitrary_segments_never_panic(header in ".{0,200}", payload in ".{0,400}", signature in "[A-Za-z0-9_-]{0,100}") {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let token = format!("{}.{}.{signature}", b64(&header), b64(&payload));
        prop_assert!(check(validator(), &token, &k8s_policy(), now()).is_err());
    }

    #[test]
    fn arbitrary_claims_signed_by_a_trusted_key_never_panic(claims in arbitrary_json(3)) {
        let token = rsa().sign_raw("RS256", r#"{"alg":"RS256"}"#, &claims.to_string());
        let _ = check(validator(), &token, &k8s_policy(), now());
    }
}

fn arbitrary_json(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z:/*.]{0,12}".prop_map(Value::from),
    ];
    let names = prop_oneof![
        Just("aud".to_owned()),
        Just("exp".to_owned()),
        Just("sub".to_owned()),
        Just("iat".to_owned()),
        Just("nbf".to_owned()),
        "[a-zA-Z]{1,4}"
    ];
    leaf.prop_recursive(depth, 32, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(names.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
