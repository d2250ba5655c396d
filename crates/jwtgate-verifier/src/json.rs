//! JSON parsing for token headers and payloads: a borrowed tree (strings point into the decoded
//! bytes, objects are small vectors) that refuses duplicate member names at any depth.
//!
//! `serde_json::Value` keeps the last of two equal keys, so `{"kubernetes.io":..,"kubernetes.io":..}`
//! would let a token say two things at once (RFC 7519 §4, security catalogue B36). Borrowing
//! instead of allocating every string halves the cost of the login hot path's parse.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A parsed JSON value borrowing from the input.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    Int(i64),
    /// Integers above `i64::MAX`.
    UInt(u64),
    Float(f64),
    Str(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Object<'a>),
}

/// A JSON object in document order, with unique member names.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Object<'a>(Vec<(Cow<'a, str>, Json<'a>)>);

impl<'a> Object<'a> {
    pub(crate) fn get(&self, name: &str) -> Option<&Json<'a>> {
        self.0.iter().find(|(key, _)| key == name).map(|(_, value)| value)
    }

    pub(crate) fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(key, _)| key.as_ref())
    }
}

impl Json<'_> {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(text) => Some(text),
            _ => None,
        }
    }
}

/// Compact JSON text, for error messages.
impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Int(i) => write!(f, "{i}"),
            Json::UInt(u) => write!(f, "{u}"),
            Json::Float(x) => {
                write!(f, "{}", serde_json::Number::from_f64(*x).map_or("null".into(), |n| n.to_string()))
            }
            Json::Str(text) => write!(f, "{}", serde_json::Value::from(text.as_ref())),
            Json::Array(items) => {
                f.write_str("[")?;
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Json::Object(object) => {
                f.write_str("{")?;
                for (index, (key, value)) in object.0.iter().enumerate() {
                    if index > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}:{value}", serde_json::Value::from(key.as_ref()))?;
                }
                f.write_str("}")
            }
        }
    }
}

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(StrVisitor).map(Key)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

/// Objects up to this size are checked for duplicates pairwise; larger ones are sorted.
const PAIRWISE_LIMIT: usize = 16;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(i64::try_from(v).map_or(Json::UInt(v), Json::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json<'de>, E> {
        Ok(Json::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::Str(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Json<'de>, A::Error> {
        let mut members: Vec<(Cow<'de, str>, Json<'de>)> = Vec::new();
        while let Some(Key(key)) = access.next_key()? {
            let value = access.next_value()?;
            if members.len() < PAIRWISE_LIMIT && members.iter().any(|(seen, _)| *seen == key) {
                return Err(duplicate(&key));
            }
            members.push((key, value));
        }
        if members.len() > PAIRWISE_LIMIT {
            let mut names: Vec<&str> = members.iter().map(|(key, _)| key.as_ref()).collect();
            names.sort_unstable();
            if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
                return Err(duplicate(pair[0]));
            }
        }
        Ok(Json::Object(Object(members)))
    }
}

fn duplicate<E: de::Error>(name: &str) -> E {
    E::custom(format_args!("duplicate member name {:?}", crate::truncate(name)))
}

/// Parses `bytes` as one JSON object, refusing duplicate names at any depth.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Object<'_>, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = Json::deserialize(&mut deserializer).map_err(|e| e.to_string())?;
    deserializer.end().map_err(|e| e.to_string())?;
    match value {
        Json::Object(object) => Ok(object),
        _ => Err("not a JSON object".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_object;

    #[test]
    fn duplicates_are_refused_at_every_depth() {
        let many: String = (0..40).map(|i| format!("\"k{i}\":1,")).collect();
        let cases: Vec<(String, bool)> = vec![
            (r#"{"a":1}"#.into(), true),
            (r#"{"a":1,"a":2}"#.into(), false),
            (r#"{"k":{"x":1,"x":1}}"#.into(), false),
            (r#"{"k":[{"x":1,"x":1}]}"#.into(), false),
            (r#"{"k":[{"x":1},{"x":1}]}"#.into(), true),
            (r#"{"a\u0062":1,"ab":2}"#.into(), false),
            (format!("{{{many}\"k39\":2}}"), false),
            (format!("{{{many}\"last\":2}}"), true),
            (r#"[1]"#.into(), false),
            (r#"null"#.into(), false),
            (r#"{"a":1} x"#.into(), false),
        ];
        for (input, ok) in cases {
            assert_eq!(parse_object(input.as_bytes()).is_ok(), ok, "{input}");
        }
    }

    #[test]
    fn display_is_compact_json() {
        let object = parse_object(br#"{"a":[1,-2,3.5,"x\"y",true,null],"b":{}}"#).unwrap();
        assert_eq!(super::Json::Object(object).to_string(), r#"{"a":[1,-2,3.5,"x\"y",true,null],"b":{}}"#);
    }
}
