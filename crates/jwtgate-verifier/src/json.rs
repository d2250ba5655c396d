//! JSON parsing that refuses duplicate member names at any depth.
//!
//! `serde_json::Value` keeps the last of two equal keys, so `{"kubernetes.io":..,"kubernetes.io":..}`
//! would let a token say two things at once (RFC 7519 §4, security catalogue B36).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// A JSON value parsed with duplicate-member detection.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let Strict(value) = access.next_value()?;
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate member name {:?}", crate::truncate(&key))));
            }
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// Parses `bytes` as one JSON object, refusing duplicate names at any depth.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let Strict(value) = Strict::deserialize(&mut deserializer).map_err(|e| e.to_string())?;
    deserializer.end().map_err(|e| e.to_string())?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err("not a JSON object".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_object;

    #[test]
    fn duplicates_are_refused_at_every_depth() {
        let cases: &[(&str, bool)] = &[
            (r#"{"a":1}"#, true),
            (r#"{"a":1,"a":2}"#, false),
            (r#"{"k":{"x":1,"x":1}}"#, false),
            (r#"{"k":[{"x":1,"x":1}]}"#, false),
            (r#"{"k":[{"x":1},{"x":1}]}"#, true),
            (r#"[1]"#, false),
            (r#"null"#, false),
            (r#"{"a":1} x"#, false),
        ];
        for (input, ok) in cases {
            assert_eq!(parse_object(input.as_bytes()).is_ok(), *ok, "{input}");
        }
    }
}
