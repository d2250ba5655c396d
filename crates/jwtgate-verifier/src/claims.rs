//! Claim lookup and matching with Vault's semantics (`claims.go`): JSON-pointer lookup,
//! list normalisation, `bound_claims` in `string` and `glob` modes, metadata and groups.

use crate::error::{truncate, TokenError};
use crate::json::{Json, Object};
use serde_json::{Map, Value};

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
pub(crate) enum Found<'j, 'a> {
    Integer(i64),
    Value(&'j Json<'a>),
}

/// Looks a claim up by top-level name, or by RFC 6901 JSON pointer when it starts with `/`.
pub(crate) fn get_claim<'j, 'a>(claims: &'j Object<'a>, name: &str) -> Option<Found<'j, 'a>> {
    let value = if name.starts_with('/') { pointer(claims, name)? } else { claims.get(name)? };
    Some(match value {
        Json::Null => return None,
        Json::Int(number) => Found::Integer(*number),
        Json::UInt(_) => return None,
        Json::Float(float) => Found::Integer(truncate_float(*float)?),
        other => Found::Value(other),
    })
}

/// Vault converts a directly found number to an integer, dropping any fraction.
fn truncate_float(float: f64) -> Option<i64> {
    (float.is_finite() && float.abs() < 9.2e18).then(|| float.trunc() as i64)
}

fn pointer<'j, 'a>(claims: &'j Object<'a>, pointer: &str) -> Option<&'j Json<'a>> {
    let mut segments = pointer.split('/').skip(1).map(|s| s.replace("~1", "/").replace("~0", "~"));
    let first = segments.next()?;
    let mut current = claims.get(&first)?;
    for segment in segments {
        current = match current {
            Json::Object(object) => object.get(&segment)?,
            Json::Array(items) => {
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
pub(crate) fn user_claim(claims: &Object<'_>, name: &str, as_pointer: bool) -> Result<String, TokenError> {
    let value = if as_pointer {
        get_claim(claims, name)
    } else {
        claims.get(name).filter(|v| **v != Json::Null).map(Found::Value)
    };
    match value {
        None => Err(TokenError::UserClaimMissing(name.to_owned())),
        Some(Found::Value(Json::Str(text))) => Ok(text.to_string()),
        Some(_) => Err(TokenError::UserClaimNotString(name.to_owned())),
    }
}

/// `claim_mappings`: absent sources are skipped; present ones must be strings.
pub(crate) fn metadata(
    claims: &Object<'_>,
    mappings: &[(String, String)],
) -> Result<Vec<(String, String)>, TokenError> {
    let mut metadata = Vec::with_capacity(mappings.len());
    for (source, target) in mappings {
        match get_claim(claims, source) {
            None => {}
            Some(Found::Value(Json::Str(text))) => metadata.push((target.clone(), text.to_string())),
            Some(_) => return Err(TokenError::MappingNotString(source.clone())),
        }
    }
    Ok(metadata)
}

/// `groups_claim`: a scalar becomes a one-element list; empty strings are skipped.
pub(crate) fn groups(claims: &Object<'_>, name: &str) -> Result<Vec<String>, TokenError> {
    let not_string =
        |value: &dyn std::fmt::Display| TokenError::GroupNotString(truncate(&value.to_string()).to_string());
    let items: &[Json<'_>] = match get_claim(claims, name) {
        None => return Err(TokenError::GroupsMissing(name.to_owned())),
        Some(Found::Integer(number)) => return Err(not_string(&number)),
        Some(Found::Value(Json::Array(items))) => items,
        Some(Found::Value(Json::Object(_))) => return Err(TokenError::GroupsNotList(name.to_owned())),
        Some(Found::Value(scalar)) => std::slice::from_ref(scalar),
    };
    let mut groups = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Json::Str(group) if group.is_empty() => {}
            Json::Str(group) => groups.push(group.to_string()),
            other => return Err(not_string(other)),
        }
    }
    Ok(groups)
}

/// `bound_claims`: every key must match (AND); within a key, any expected value may match any
/// actual value (OR).
pub(crate) fn check_bound_claims(
    claims: &Object<'_>,
    bound: &Map<String, Value>,
    mode: BoundClaimsType,
) -> Result<(), TokenError> {
    for (name, expected) in bound {
        let actual = get_claim(claims, name).ok_or_else(|| TokenError::BoundClaimMissing(name.clone()))?;
        let actual: Vec<Item<'_, '_>> = match actual {
            Found::Integer(number) => vec![Item::Integer(number)],
            Found::Value(Json::Array(items)) => items.iter().map(Item::Value).collect(),
            Found::Value(scalar @ (Json::Str(_) | Json::Bool(_))) => vec![Item::Value(scalar)],
            Found::Value(other) => {
                return Err(TokenError::BoundClaimUnsupported(truncate(&other.to_string()).to_string()))
            }
        };
        let expected: &[Value] = match expected {
            Value::Array(items) => items,
            Value::String(_) | Value::Bool(_) | Value::Number(_) => std::slice::from_ref(expected),
            other => return Err(TokenError::BoundClaimUnsupported(other.to_string())),
        };
        let matched = expected.iter().any(|want| actual.iter().any(|have| matches(have, want, mode)));
        if !matched {
            return Err(TokenError::BoundClaimMismatch(name.clone()));
        }
    }
    Ok(())
}

/// One comparable element of an actual claim.
#[derive(Debug)]
enum Item<'j, 'a> {
    /// A number found directly by the lookup, already truncated.
    Integer(i64),
    Value(&'j Json<'a>),
}

fn matches(actual: &Item<'_, '_>, expected: &Value, mode: BoundClaimsType) -> bool {
    match (mode, actual, expected) {
        (BoundClaimsType::Glob, Item::Value(Json::Str(have)), Value::String(pattern)) => glob(pattern, have),
        (BoundClaimsType::Glob, _, _) => false,
        (BoundClaimsType::String, Item::Integer(have), Value::Number(want)) => want.to_string() == have.to_string(),
        (BoundClaimsType::String, Item::Value(Json::Str(have)), Value::String(want)) => have == want,
        (BoundClaimsType::String, Item::Value(Json::Bool(have)), Value::Bool(want)) => have == want,
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
