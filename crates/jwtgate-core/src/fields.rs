//! Vault's "weak" field decoding: the vault CLI sends every value as a string, so booleans,
//! integers, durations and lists are also accepted in string form.

use crate::error::Error;
use crate::request::Body;
use serde_json::{Map, Value};

fn conversion(value: &Value, field: &str, why: &str) -> Error {
    let shown = match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    Error::BadRequest(format!("Field validation failed: error converting input {shown} for field {field:?}: {why}"))
}

pub fn string(body: &Body, field: &str) -> Result<Option<String>, Error> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(value @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(value.to_string())),
        Some(other) => Err(conversion(other, field, "expected a string")),
    }
}

pub fn boolean(body: &Body, field: &str) -> Result<Option<bool>, Error> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(value @ Value::String(text)) => match text.to_ascii_lowercase().as_str() {
            "1" | "t" | "true" => Ok(Some(true)),
            "0" | "f" | "false" | "" => Ok(Some(false)),
            _ => Err(conversion(value, field, "cannot parse as a boolean")),
        },
        Some(value @ Value::Number(n)) => match n.as_i64() {
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            _ => Err(conversion(value, field, "cannot parse as a boolean")),
        },
        Some(other) => Err(conversion(other, field, "cannot parse as a boolean")),
    }
}

pub fn integer(body: &Body, field: &str) -> Result<Option<i64>, Error> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value @ Value::Number(n)) => {
            n.as_i64().map(Some).ok_or_else(|| conversion(value, field, "expected an integer"))
        }
        Some(value @ Value::String(text)) => {
            text.trim().parse().map(Some).map_err(|_| conversion(value, field, "expected an integer"))
        }
        Some(other) => Err(conversion(other, field, "expected an integer")),
    }
}

/// A duration in whole seconds, as Vault's `ParseDurationSecond`: an integer, an integer
/// string, Vault's `<n>d`, or a Go duration (`1h30m`, `1.5h`, `90s`, `300ms`).
pub fn duration(body: &Body, field: &str) -> Result<Option<i64>, Error> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        // Vault decodes numbers as text and parses that: `1.9` has no unit, so it is refused.
        Some(value @ Value::Number(n)) => {
            n.as_i64().map(Some).ok_or_else(|| conversion(value, field, "invalid duration"))
        }
        Some(value @ Value::String(text)) => {
            parse_duration(text).map(Some).ok_or_else(|| conversion(value, field, "invalid duration"))
        }
        Some(other) => Err(conversion(other, field, "invalid duration")),
    }
}

/// Vault's `ParseDurationSecond` on text, to whole seconds (truncated): `""` is 0, then an
/// integer, then `<integer>d`, then Go's `time.ParseDuration` (a bare `1.9` has no unit).
pub fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return Some(0);
    }
    if let Ok(seconds) = text.parse::<i64>() {
        return Some(seconds);
    }
    if let Some(days) = text.strip_suffix('d') {
        return days.parse::<i64>().ok().and_then(|d| d.checked_mul(86_400));
    }
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        nanos += number * scale;
        rest = &rest[unit_end..];
    }
    let seconds = (nanos / 1e9).trunc();
    (seconds.abs() < 9e18).then(|| if negative { -(seconds as i64) } else { seconds as i64 })
}

/// A list: a JSON array, or a comma-separated string (entries trimmed, empty ones dropped).
pub fn strings(body: &Body, field: &str) -> Result<Option<Vec<String>>, Error> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            Ok(Some(text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()))
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                Value::Number(_) | Value::Bool(_) => Ok(item.to_string()),
                other => Err(conversion(other, field, "expected a list of strings")),
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(other) => Err(conversion(other, field, "expected a list of strings")),
    }
}

/// Vault's `TypeStringSlice` (the token store's `policies`): as [`strings`], but a string is
/// one element, commas and all.
pub fn string_slice(body: &Body, field: &str) -> Result<Option<Vec<String>>, Error> {
    match body.get(field) {
        Some(Value::String(text)) => Ok(Some(vec![text.clone()])),
        _ => strings(body, field),
    }
}

/// A JSON object, also accepted as a JSON string holding one (the CLI's `field=@file.json`).
pub fn object(body: &Body, field: &str) -> Result<Option<Map<String, Value>>, Error> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map.clone())),
        Some(value @ Value::String(text)) if text.trim().is_empty() => {
            let _ = value;
            Ok(Some(Map::new()))
        }
        Some(value @ Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(Some(map)),
            _ => Err(conversion(value, field, "expected a JSON object")),
        },
        Some(other) => Err(conversion(other, field, "expected a JSON object")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        let cases = [
            ("300", Some(300)),
            ("1h", Some(3600)),
            ("30m", Some(1800)),
            ("90s", Some(90)),
            ("1h30m", Some(5400)),
            ("1.5h", Some(5400)),
            ("300ms", Some(0)),
            ("2d", Some(172_800)),
            ("-1", Some(-1)),
            ("-5s", Some(-5)),
            ("1.9", None),
            ("1e3", None),
            ("1.5s", Some(1)),
            ("", Some(0)),
            ("1x", None),
            ("h", None),
            ("1.5d", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), expected, "{text:?}");
        }
    }
}
