//! `auth/<jwt mount>/role/<name>`: Vault's role fields, merge-on-write, and the conversion to
//! the verifier's `ClaimPolicy`.

use crate::error::Error;
use crate::fields;
use crate::request::Body;
use crate::token::params::TokenParams;
use crate::token::ttl::go_duration;
use jwtgate_verifier::{BoundClaimsType, ClaimPolicy, Leeways};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Fields a JWT role accepts besides the token fields (OIDC-only ones are stored and ignored
/// by JWT login).
pub const FIELDS: [&str; 18] = [
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

/// A JWT role as stored, in Vault's read shape. Fields an older record lacks take these
/// defaults on read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JwtRole {
    pub role_type: String,
    pub bound_audiences: Option<Vec<String>>,
    pub bound_subject: String,
    pub bound_claims: Option<Map<String, Value>>,
    pub bound_claims_type: String,
    pub claim_mappings: Option<Map<String, Value>>,
    pub user_claim: String,
    pub user_claim_json_pointer: bool,
    pub groups_claim: String,
    pub allowed_redirect_uris: Option<Vec<String>>,
    pub oidc_scopes: Option<Vec<String>>,
    pub verbose_oidc_logging: bool,
    pub max_age: i64,
    pub clock_skew_leeway: i64,
    pub expiration_leeway: i64,
    pub not_before_leeway: i64,
    pub alias_metadata: Map<String, Value>,
    /// jwtgate's TokenReview check; shown only once set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_review: Option<bool>,
    #[serde(flatten)]
    pub token: TokenParams,
}

impl Default for JwtRole {
    fn default() -> JwtRole {
        JwtRole {
            role_type: "oidc".into(),
            bound_audiences: None,
            bound_subject: String::new(),
            bound_claims: None,
            bound_claims_type: "string".into(),
            claim_mappings: None,
            user_claim: String::new(),
            user_claim_json_pointer: false,
            groups_claim: String::new(),
            allowed_redirect_uris: None,
            oidc_scopes: None,
            verbose_oidc_logging: false,
            max_age: 0,
            clock_skew_leeway: 0,
            expiration_leeway: 0,
            not_before_leeway: 0,
            alias_metadata: Map::new(),
            token_review: None,
            token: TokenParams::default(),
        }
    }
}

impl JwtRole {
    /// Applies a write to the stored role (or the defaults), with Vault's validation.
    /// Returns the new role and the warnings to send.
    pub fn write(existing: Option<JwtRole>, body: &Body, mount_max_ttl: i64) -> Result<(JwtRole, Vec<String>), Error> {
        let bad = |text: &str| Err(Error::BadRequest(text.to_owned()));
        let mut role = existing.unwrap_or_default();
        let mut warnings = Vec::new();

        // Omitted on any write, these two reset (Vault quirk).
        let role_type = fields::string(body, "role_type")?.unwrap_or_else(|| "oidc".into());
        if role_type != "jwt" && role_type != "oidc" {
            return bad(&format!("invalid 'role_type': {role_type}"));
        }
        role.role_type = role_type;
        let claims_type = fields::string(body, "bound_claims_type")?.unwrap_or_else(|| "string".into());
        if claims_type != "string" && claims_type != "glob" {
            return bad(&format!("invalid 'bound_claims_type': {claims_type}"));
        }
        role.bound_claims_type = claims_type;

        for (field, slot) in [
            ("bound_subject", &mut role.bound_subject),
            ("user_claim", &mut role.user_claim),
            ("groups_claim", &mut role.groups_claim),
        ] {
            if let Some(text) = fields::string(body, field)? {
                *slot = text;
            }
        }
        for (field, slot) in [
            ("user_claim_json_pointer", &mut role.user_claim_json_pointer),
            ("verbose_oidc_logging", &mut role.verbose_oidc_logging),
        ] {
            if let Some(flag) = fields::boolean(body, field)? {
                *slot = flag;
            }
        }
        if let Some(flag) = fields::boolean(body, "token_review")? {
            role.token_review = Some(flag);
        }
        for (field, slot) in [
            ("bound_audiences", &mut role.bound_audiences),
            ("allowed_redirect_uris", &mut role.allowed_redirect_uris),
            ("oidc_scopes", &mut role.oidc_scopes),
        ] {
            if let Some(list) = fields::strings(body, field)? {
                *slot = Some(list);
            }
        }
        for (field, slot) in [
            ("clock_skew_leeway", &mut role.clock_skew_leeway),
            ("expiration_leeway", &mut role.expiration_leeway),
            ("not_before_leeway", &mut role.not_before_leeway),
            ("max_age", &mut role.max_age),
        ] {
            if let Some(seconds) = fields::duration(body, field)? {
                *slot = seconds;
            }
        }
        if let Some(claims) = fields::object(body, "bound_claims")? {
            if role.bound_claims_type == "glob" {
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
            role.bound_claims = Some(claims);
        }
        if body.contains_key("claim_mappings") {
            role.claim_mappings = Some(claim_mappings(body)?);
        }

        role.token.write(body)?;

        if role.user_claim.is_empty() {
            return bad("a user claim must be defined on the role");
        }
        if role.role_type == "oidc" {
            if role.allowed_redirect_uris.as_ref().is_none_or(Vec::is_empty) {
                return bad("'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified.");
            }
        } else {
            let bound = role.bound_audiences.as_ref().is_some_and(|a| !a.is_empty())
                || !role.token.token_bound_cidrs.is_empty()
                || !role.bound_subject.is_empty()
                || role.bound_claims.as_ref().is_some_and(|c| !c.is_empty());
            if !bound {
                return bad("must have at least one bound constraint when creating/updating a role");
            }
        }
        let (ttl, max_ttl, period) = (role.token.token_ttl, role.token.token_max_ttl, role.token.token_period);
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
        if role.verbose_oidc_logging {
            warnings.push("verbose_oidc_logging has been enabled for this role. This is not recommended in production since sensitive information may be present in OIDC responses.".into());
        }
        Ok((role, warnings))
    }

    /// The read shape: stored fields, plus deprecated names only when non-zero.
    pub fn read(&self) -> Map<String, Value> {
        let mut shown = self.clone();
        shown.token.hide_unset_aliases();
        match serde_json::to_value(shown) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    /// The verifier's view of a role.
    pub fn claim_policy(&self) -> ClaimPolicy {
        let mut claim_mappings: Vec<(String, String)> = self
            .claim_mappings
            .iter()
            .flatten()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
            .collect();
        claim_mappings.sort();
        ClaimPolicy {
            bound_subject: self.bound_subject.clone(),
            bound_audiences: self.bound_audiences.clone().unwrap_or_default(),
            bound_claims: self.bound_claims.clone().unwrap_or_default(),
            bound_claims_type: if self.bound_claims_type == "glob" {
                BoundClaimsType::Glob
            } else {
                BoundClaimsType::String
            },
            user_claim: self.user_claim.clone(),
            user_claim_json_pointer: self.user_claim_json_pointer,
            groups_claim: self.groups_claim.clone(),
            claim_mappings,
            leeways: Leeways {
                clock_skew: self.clock_skew_leeway,
                expiration: self.expiration_leeway,
                not_before: self.not_before_leeway,
            },
        }
    }
}

/// `claim_mappings`: an object, or `key=value` pairs (the CLI's form); targets are unique and
/// never `role`.
fn claim_mappings(body: &Body) -> Result<Map<String, Value>, Error> {
    let mappings = match body.get("claim_mappings") {
        Some(Value::Array(_)) | Some(Value::String(_)) if fields::object(body, "claim_mappings").is_err() => {
            let mut map = Map::new();
            for pair in fields::strings(body, "claim_mappings")?.unwrap_or_default() {
                let (k, v) =
                    pair.split_once('=').ok_or_else(|| Error::BadRequest(format!("invalid claim mapping {pair:?}")))?;
                map.insert(k.trim().into(), Value::String(v.trim().into()));
            }
            map
        }
        _ => fields::object(body, "claim_mappings")?.unwrap_or_default(),
    };
    let mut targets = std::collections::BTreeSet::new();
    for target in mappings.values() {
        let target =
            target.as_str().ok_or_else(|| Error::BadRequest("claim_mappings values must be strings".into()))?;
        if target == "role" {
            return Err(Error::BadRequest(
                "metadata key \"role\" is reserved and may not be a mapping destination".into(),
            ));
        }
        if !targets.insert(target.to_owned()) {
            return Err(Error::BadRequest(format!("multiple keys are mapped to metadata key {target:?}")));
        }
    }
    Ok(mappings)
}
