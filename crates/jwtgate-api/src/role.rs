//! `auth/<mount>/role/<name>`: Vault's role fields, merge-on-write, deprecated aliases, and the
//! conversion to the verifier's `ClaimPolicy`. Roles are stored in their read shape.

use crate::error::ApiError;
use crate::fields;
use crate::wire::Body;
use jwtgate_verifier::{BoundClaimsType, ClaimPolicy, Leeways};
use serde_json::{json, Map, Value};

/// Deprecated names and the token fields they stand for.
const DEPRECATED: [(&str, &str); 6] = [
    ("policies", "token_policies"),
    ("ttl", "token_ttl"),
    ("max_ttl", "token_max_ttl"),
    ("period", "token_period"),
    ("num_uses", "token_num_uses"),
    ("bound_cidrs", "token_bound_cidrs"),
];

/// Fields a JWT role accepts besides the token fields (OIDC-only ones are stored and ignored
/// by JWT login).
pub const KNOWN: [&str; 18] = [
    "name",
    "token_review",
    "role_type",
    "bound_audiences",
    "bound_subject",
    "bound_claims",
    "bound_claims_type",
    "claim_mappings",
    "user_claim",
    "user_claim_json_pointer",
    "groups_claim",
    "allowed_redirect_uris",
    "oidc_scopes",
    "verbose_oidc_logging",
    "max_age",
    "clock_skew_leeway",
    "expiration_leeway",
    "not_before_leeway",
];

/// Vault's token fields, shared by every auth method's roles, with their deprecated names.
pub const TOKEN_FIELDS: [&str; 15] = [
    "token_policies",
    "token_ttl",
    "token_max_ttl",
    "token_explicit_max_ttl",
    "token_period",
    "token_num_uses",
    "token_no_default_policy",
    "token_bound_cidrs",
    "token_type",
    "policies",
    "ttl",
    "max_ttl",
    "period",
    "num_uses",
    "bound_cidrs",
];

/// Vault's `GenericNameRegex` with ASCII `\w`: `\w(([\w-.]+)?\w)?`.
pub fn valid_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let bytes: Vec<char> = name.chars().collect();
    match bytes.as_slice() {
        [] => false,
        [only] => word(*only),
        [first, middle @ .., last] => {
            word(*first) && word(*last) && middle.iter().all(|c| word(*c) || *c == '-' || *c == '.')
        }
    }
}

fn defaults() -> Map<String, Value> {
    let value = json!({
        "role_type": "oidc", "bound_audiences": null, "bound_subject": "", "bound_claims": null,
        "bound_claims_type": "string", "claim_mappings": null, "user_claim": "", "user_claim_json_pointer": false,
        "groups_claim": "", "allowed_redirect_uris": null, "oidc_scopes": null, "verbose_oidc_logging": false,
        "max_age": 0, "clock_skew_leeway": 0, "expiration_leeway": 0, "not_before_leeway": 0,
        "token_policies": [], "token_ttl": 0, "token_max_ttl": 0, "token_explicit_max_ttl": 0, "token_period": 0,
        "token_num_uses": 0, "token_no_default_policy": false, "token_bound_cidrs": [], "token_type": "default",
        "alias_metadata": {}
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Applies a write to the stored role (or the defaults), with Vault's validation.
/// Returns the new stored role and the warnings to send.
pub fn write(
    existing: Option<Map<String, Value>>,
    body: &Body,
    mount_max_ttl: i64,
) -> Result<(Map<String, Value>, Vec<String>), ApiError> {
    let bad = |text: &str| Err(ApiError::BadRequest(text.to_owned()));
    let mut role = existing.unwrap_or_else(defaults);
    let mut warnings = Vec::new();

    // Omitted on any write, these two reset (Vault quirk).
    let role_type = fields::string(body, "role_type")?.unwrap_or_else(|| "oidc".into());
    if role_type != "jwt" && role_type != "oidc" {
        return bad(&format!("invalid 'role_type': {role_type}"));
    }
    role.insert("role_type".into(), json!(role_type));
    let claims_type = fields::string(body, "bound_claims_type")?.unwrap_or_else(|| "string".into());
    if claims_type != "string" && claims_type != "glob" {
        return bad(&format!("invalid 'bound_claims_type': {claims_type}"));
    }
    role.insert("bound_claims_type".into(), json!(claims_type));

    for field in ["bound_subject", "user_claim", "groups_claim"] {
        if let Some(text) = fields::string(body, field)? {
            role.insert(field.into(), json!(text));
        }
    }
    for field in ["user_claim_json_pointer", "verbose_oidc_logging", "token_no_default_policy", "token_review"] {
        if let Some(flag) = fields::boolean(body, field)? {
            role.insert(field.into(), json!(flag));
        }
    }
    for field in ["bound_audiences", "allowed_redirect_uris", "oidc_scopes"] {
        if let Some(list) = fields::strings(body, field)? {
            role.insert(field.into(), json!(list));
        }
    }
    for field in ["clock_skew_leeway", "expiration_leeway", "not_before_leeway"] {
        if let Some(seconds) = fields::duration(body, field)? {
            role.insert(field.into(), json!(seconds));
        }
    }
    if let Some(seconds) = fields::duration(body, "max_age")? {
        role.insert("max_age".into(), json!(seconds));
    }
    if let Some(claims) = fields::object(body, "bound_claims")? {
        if claims_type == "glob" {
            for value in claims.values() {
                match value {
                    Value::String(_) => {}
                    Value::Array(items) => {
                        if let Some(bad_item) = items.iter().find(|i| !i.is_string()) {
                            return bad(&format!("claim is not a string: {bad_item}"));
                        }
                    }
                    other => return bad(&format!("claim is not a string or list: {other}")),
                }
            }
        }
        role.insert("bound_claims".into(), Value::Object(claims));
    }
    if body.contains_key("claim_mappings") {
        let mappings = match body.get("claim_mappings") {
            Some(Value::Array(_)) | Some(Value::String(_)) if fields::object(body, "claim_mappings").is_err() => {
                let pairs = fields::strings(body, "claim_mappings")?.unwrap_or_default();
                let mut map = Map::new();
                for pair in pairs {
                    let (k, v) = pair
                        .split_once('=')
                        .ok_or_else(|| ApiError::BadRequest(format!("invalid claim mapping {pair:?}")))?;
                    map.insert(k.trim().into(), json!(v.trim()));
                }
                map
            }
            _ => fields::object(body, "claim_mappings")?.unwrap_or_default(),
        };
        let mut targets = std::collections::BTreeSet::new();
        for target in mappings.values() {
            let target =
                target.as_str().ok_or_else(|| ApiError::BadRequest("claim_mappings values must be strings".into()))?;
            if target == "role" {
                return bad("metadata key \"role\" is reserved and may not be a mapping destination");
            }
            if !targets.insert(target.to_owned()) {
                return bad(&format!("multiple keys are mapped to metadata key {target:?}"));
            }
        }
        role.insert("claim_mappings".into(), Value::Object(mappings));
    }

    write_token_fields(&mut role, body)?;

    if role_type == "oidc" {
        if role["user_claim"].as_str().unwrap_or_default().is_empty() {
            return bad("a user claim must be defined on the role");
        }
        if role["allowed_redirect_uris"].as_array().is_none_or(Vec::is_empty) {
            return bad("'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified.");
        }
    } else {
        if role["user_claim"].as_str().unwrap_or_default().is_empty() {
            return bad("a user claim must be defined on the role");
        }
        let has = |field: &str| match &role[field] {
            Value::Array(items) => !items.is_empty(),
            Value::Object(map) => !map.is_empty(),
            Value::String(text) => !text.is_empty(),
            _ => false,
        };
        if !["bound_audiences", "token_bound_cidrs", "bound_subject", "bound_claims"].iter().any(|f| has(f)) {
            return bad("must have at least one bound constraint when creating/updating a role");
        }
    }
    let ttl = role["token_ttl"].as_i64().unwrap_or(0);
    let max_ttl = role["token_max_ttl"].as_i64().unwrap_or(0);
    let period = role["token_period"].as_i64().unwrap_or(0);
    if period > mount_max_ttl {
        return bad(&format!(
            "'period' of '\"{}\"' is greater than the backend's maximum lease TTL of '\"{}\"'",
            go_duration(period),
            go_duration(mount_max_ttl)
        ));
    }
    if max_ttl > 0 && ttl > max_ttl {
        return bad("ttl should not be greater than max ttl");
    }
    if max_ttl > mount_max_ttl {
        warnings.push("token max ttl is greater than the system or backend mount's maximum TTL value; issued tokens' max TTL value will be truncated".into());
    }
    if role["verbose_oidc_logging"] == json!(true) {
        warnings.push("verbose_oidc_logging has been enabled for this role. This setting should only be used for debugging. Sensitive information may be present in the logs.".into());
    }
    Ok((role, warnings))
}

/// The `token_*` fields with their deprecated aliases and Vault's checks.
pub fn write_token_fields(role: &mut Map<String, Value>, body: &Body) -> Result<(), ApiError> {
    for (old, new) in DEPRECATED {
        let (old_present, new_present) = (body.contains_key(old), body.contains_key(new));
        let source = if new_present {
            new
        } else if old_present {
            old
        } else {
            continue;
        };
        let value = match new {
            "token_policies" => json!(normalise_policies(&fields::strings(body, source)?.unwrap_or_default())?),
            "token_bound_cidrs" => json!(parse_cidrs(&fields::strings(body, source)?.unwrap_or_default())?),
            "token_num_uses" => {
                let uses = fields::integer(body, source)?.unwrap_or(0);
                if uses < 0 {
                    return Err(ApiError::BadRequest("'token_num_uses' cannot be negative".into()));
                }
                json!(uses)
            }
            _ => {
                let seconds = fields::duration(body, source)?.unwrap_or(0);
                if seconds < 0 {
                    return Err(ApiError::BadRequest(format!("'{new}' cannot be negative")));
                }
                json!(seconds)
            }
        };
        role.insert(new.into(), value.clone());
        // Only the old name sent: both carry the value. The new name sent: the old one goes.
        if old_present && !new_present {
            role.insert(old.into(), value);
        } else {
            role.remove(old);
        }
    }
    if let Some(seconds) = fields::duration(body, "token_explicit_max_ttl")? {
        if seconds < 0 {
            return Err(ApiError::BadRequest("'token_explicit_max_ttl' cannot be negative".into()));
        }
        role.insert("token_explicit_max_ttl".into(), json!(seconds));
    }
    if let Some(kind) = fields::string(body, "token_type")? {
        let kind = if kind.is_empty() { "default".to_owned() } else { kind };
        if !["default", "service", "batch"].contains(&kind.as_str()) {
            return Err(ApiError::BadRequest(format!("invalid 'token_type' value {kind:?}")));
        }
        role.insert("token_type".into(), json!(kind));
    }
    let ttl = role["token_ttl"].as_i64().unwrap_or(0);
    let max_ttl = role["token_max_ttl"].as_i64().unwrap_or(0);
    if max_ttl > 0 && ttl > max_ttl {
        return Err(ApiError::BadRequest("'token_ttl' cannot be greater than 'token_max_ttl'".into()));
    }
    if role["token_type"] == "batch" {
        if role["token_period"].as_i64().unwrap_or(0) > 0 {
            return Err(ApiError::BadRequest(
                "'token_type' cannot be 'batch' or 'default_batch' when set to generate periodic tokens".into(),
            ));
        }
        if role["token_num_uses"].as_i64().unwrap_or(0) > 0 {
            return Err(ApiError::BadRequest(
                "'token_type' cannot be 'batch' or 'default_batch' when set to generate tokens with limited use count"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// Lower-cased, trimmed, de-duplicated and sorted; `root` in any spelling is refused
/// (CVE-2025-5999: Vault once compared policy names without folding case).
pub fn normalise_policies(policies: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = policies.iter().map(|p| p.trim().to_lowercase()).filter(|p| !p.is_empty()).collect();
    if out.iter().any(|p| p == "root") {
        return Err(ApiError::BadRequest("auth methods cannot create root tokens".into()));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// CIDRs or bare IPs, kept as given after validation.
fn parse_cidrs(entries: &[String]) -> Result<Vec<String>, ApiError> {
    for entry in entries {
        if crate::cidr::Cidr::parse(entry).is_none() {
            return Err(ApiError::BadRequest(format!("invalid CIDR or IP address {entry:?}")));
        }
    }
    Ok(entries.to_vec())
}

/// The read shape: stored fields, plus deprecated names only when non-zero.
pub fn read(stored: &Map<String, Value>) -> Map<String, Value> {
    let mut out = defaults();
    for (key, value) in stored {
        out.insert(key.clone(), value.clone());
    }
    for (old, _) in DEPRECATED {
        let keep = match out.get(old) {
            Some(Value::Number(n)) => n.as_i64() != Some(0),
            Some(Value::Array(items)) => !items.is_empty(),
            Some(_) => true,
            None => false,
        };
        if !keep {
            out.remove(old);
        }
    }
    out
}

/// The verifier's view of a role.
pub fn claim_policy(role: &Map<String, Value>) -> ClaimPolicy {
    let text = |field: &str| role.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
    let number = |field: &str| role.get(field).and_then(Value::as_i64).unwrap_or(0);
    let list = |field: &str| -> Vec<String> {
        role.get(field)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let mut claim_mappings: Vec<(String, String)> = role
        .get("claim_mappings")
        .and_then(Value::as_object)
        .map(|map| map.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect())
        .unwrap_or_default();
    claim_mappings.sort();
    ClaimPolicy {
        bound_subject: text("bound_subject"),
        bound_audiences: list("bound_audiences"),
        bound_claims: role.get("bound_claims").and_then(Value::as_object).cloned().unwrap_or_default(),
        bound_claims_type: if text("bound_claims_type") == "glob" {
            BoundClaimsType::Glob
        } else {
            BoundClaimsType::String
        },
        user_claim: text("user_claim"),
        user_claim_json_pointer: role.get("user_claim_json_pointer") == Some(&Value::Bool(true)),
        groups_claim: text("groups_claim"),
        claim_mappings,
        leeways: Leeways {
            clock_skew: number("clock_skew_leeway"),
            expiration: number("expiration_leeway"),
            not_before: number("not_before_leeway"),
        },
    }
}

/// Seconds as Go prints a duration (`1h0m0s`), for Vault-identical messages.
pub fn go_duration(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn role_names() {
        let cases = [
            ("my-role", true),
            ("a", true),
            ("a.b_c-d", true),
            ("Prod", true),
            ("-a", false),
            ("a-", false),
            ("../admin", false),
            ("a/b", false),
            ("x\u{0}", false),
            ("", false),
            ("prоd", false),
            ("a b", false),
        ];
        for (name, ok) in cases {
            assert_eq!(super::valid_name(name), ok, "{name:?}");
        }
    }
}
