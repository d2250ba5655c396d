//! Claim lookup and matching with Vault's semantics (`claims.go`): JSON-pointer lookup,
//! list normalisation, `bound_claims` in `string` and `glob` modes, metadata and groups.

use crate::error::{truncate, TokenError};
use serde_json::{Map, Number, Value};

/// How `bound_claims` values are compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BoundClaimsType {
    /// Type-strict equality.
    #[default]
    String,
    /// `*` matches any run of characters, anchored at both ends; nothing else is special.
    Glob,
}

/// A claim value as Vault's `getClaim` returns it: a number found directly is an integer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Found<'a> {
    Integer(i64),
    Value(&'a Value),
}

/// Looks a claim up by top-level name, or by RFC 6901 JSON pointer when it starts with `/`.
pub(crate) fn get_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<Found<'a>> {
    let value = if name.starts_with('/') { pointer(claims, name)? } else { claims.get(name)? };
    Some(match value {
        Value::Null => return None,
        Value::Number(number) => Found::Integer(truncate_number(number)?),
        other => Found::Value(other),
    })
}

/// Vault converts a directly found number to an integer, dropping any fraction.
fn truncate_number(number: &Number) -> Option<i64> {
    number.as_i64().or_else(|| {
        let float = number.as_f64()?;
        (float.is_finite() && float.abs() < 9.2e18).then(|| float.trunc() as i64)
    })
}

fn pointer<'a>(claims: &'a Map<String, Value>, pointer: &str) -> Option<&'a Value> {
    let mut segments = pointer.split('/').skip(1).map(|s| s.replace("~1", "/").replace("~0", "~"));
    let first = segments.next()?;
    let mut current = claims.get(&first)?;
    for segment in segments {
        current = match current {
            Value::Object(map) => map.get(&segment)?,
            Value::Array(items) => {
                if segment.is_empty() || (segment.len() > 1 && segment.starts_with('0')) {
                    return None;
                }
                items.get(segment.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(current)
}

/// The user claim as the identity's alias name.
pub(crate) fn user_claim(claims: &Map<String, Value>, name: &str, as_pointer: bool) -> Result<String, TokenError> {
    let value =
        if as_pointer { get_claim(claims, name) } else { claims.get(name).filter(|v| !v.is_null()).map(Found::Value) };
    match value {
        None => Err(TokenError::UserClaimMissing(name.to_owned())),
        Some(Found::Value(Value::String(text))) => Ok(text.clone()),
        Some(_) => Err(TokenError::UserClaimNotString(name.to_owned())),
    }
}

/// `claim_mappings`: absent sources are skipped; present ones must be strings.
pub(crate) fn metadata(
    claims: &Map<String, Value>,
    mappings: &[(String, String)],
) -> Result<Vec<(String, String)>, TokenError> {
    let mut metadata = Vec::with_capacity(mappings.len());
    for (source, target) in mappings {
        match get_claim(claims, source) {
            None => {}
            Some(Found::Value(Value::String(text))) => metadata.push((target.clone(), text.clone())),
            Some(_) => return Err(TokenError::MappingNotString(source.clone())),
        }
    }
    Ok(metadata)
}

/// `groups_claim`: a scalar becomes a one-element list; empty strings are skipped.
pub(crate) fn groups(claims: &Map<String, Value>, name: &str) -> Result<Vec<String>, TokenError> {
    let items: Vec<Value> = match get_claim(claims, name) {
        None => return Err(TokenError::GroupsMissing(name.to_owned())),
        Some(Found::Integer(number)) => vec![Value::from(number)],
        Some(Found::Value(Value::Array(items))) => items.clone(),
        Some(Found::Value(Value::Object(_))) => return Err(TokenError::GroupsNotList(name.to_owned())),
        Some(Found::Value(scalar)) => vec![scalar.clone()],
    };
    let mut groups = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::String(group) if group.is_empty() => {}
            Value::String(group) => groups.push(group),
            other => return Err(TokenError::GroupNotString(truncate(&other.to_string()).to_string())),
        }
    }
    Ok(groups)
}

/// `bound_claims`: every key must match (AND); within a key, any expected value may match any
/// actual value (OR).
pub(crate) fn check_bound_claims(
    claims: &Map<String, Value>,
    bound: &Map<String, Value>,
    mode: BoundClaimsType,
) -> Result<(), TokenError> {
    for (name, expected) in bound {
        let actual = get_claim(claims, name).ok_or_else(|| TokenError::BoundClaimMissing(name.clone()))?;
        let actual = normalise_found(actual)?;
        let expected = normalise(expected).map_err(|v| TokenError::BoundClaimUnsupported(v.to_string()))?;
        let matched = expected.iter().any(|want| actual.iter().any(|have| matches(have, want, mode)));
        if !matched {
            return Err(TokenError::BoundClaimMismatch(name.clone()));
        }
    }
    Ok(())
}

/// An actual claim as a list of comparable items.
#[derive(Debug)]
enum Item<'a> {
    /// A number found directly by the lookup, already truncated.
    Integer(i64),
    Value(&'a Value),
}

fn normalise_found(found: Found<'_>) -> Result<Vec<Item<'_>>, TokenError> {
    match found {
        Found::Integer(number) => Ok(vec![Item::Integer(number)]),
        Found::Value(value) => match normalise(value) {
            Ok(items) => Ok(items.into_iter().map(Item::Value).collect()),
            Err(bad) => Err(TokenError::BoundClaimUnsupported(truncate(&bad.to_string()).to_string())),
        },
    }
}

fn normalise(value: &Value) -> Result<Vec<&Value>, &Value> {
    match value {
        Value::String(_) | Value::Bool(_) | Value::Number(_) => Ok(vec![value]),
        Value::Array(items) => Ok(items.iter().collect()),
        other => Err(other),
    }
}

fn matches(actual: &Item<'_>, expected: &Value, mode: BoundClaimsType) -> bool {
    match (mode, actual, expected) {
        (BoundClaimsType::Glob, Item::Value(Value::String(have)), Value::String(pattern)) => glob(pattern, have),
        (BoundClaimsType::Glob, _, _) => false,
        (BoundClaimsType::String, Item::Integer(have), Value::Number(want)) => want.to_string() == have.to_string(),
        (BoundClaimsType::String, Item::Value(Value::String(have)), Value::String(want)) => have == want,
        (BoundClaimsType::String, Item::Value(Value::Bool(have)), Value::Bool(want)) => have == want,
        // Numbers inside a list claim are not normalised, and never match (as in Vault).
        _ => false,
    }
}

/// Glob match where `*` is the only wildcard (any run, including `:` and the empty string).
pub fn glob(pattern: &str, subject: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == subject;
    };
    let Some(mut rest) = subject.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_table() {
        let cases = [
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("4*", "42", true),
            ("4*", "d42", false),
            ("*2", "42x", false),
            ("*2", "42", true),
            ("*@*.com", "test@example.com", true),
            ("r*@*.com", "test@example.com", false),
            ("system:serviceaccount:prod-*:app", "system:serviceaccount:prod-evil:app", true),
            ("system:serviceaccount:prod-*:app", "system:serviceaccount:prod-x:y:app", true),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("ab*ba", "aba", false),
            ("*a*b*", "xaxbx", true),
            ("literal?", "literalx", false),
        ];
        for (pattern, subject, expected) in cases {
            assert_eq!(glob(pattern, subject), expected, "glob({pattern:?}, {subject:?})");
        }
    }
}
