//! The validation pipeline, in Vault's order, with the stricter checks added where Vault and the
//! JWT libraries are known to be lax (security catalogue §0, §1).

use crate::claims::{self, get_claim, Found};
use crate::error::{truncate, ConfigError, Malformed, TokenError};
use crate::jose;
use crate::json::{Json, Object};
use crate::keyset::KeySource;
use crate::policy::{ClaimPolicy, Identity, Leeways};
use crate::{Algorithm, Fetch, KeyConfig};
use std::sync::Arc;
use std::time::SystemTime;

const REGISTERED_CLAIMS: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// A mount's validator: its key source, algorithm allowlist and bound issuer.
/// Built once when the mount's configuration is written; shared by every login.
#[derive(Debug)]
pub struct Validator {
    keys: KeySource,
    algorithms: Vec<Algorithm>,
    bound_issuer: String,
}

impl Validator {
    /// Checks a key configuration and builds the validator. Static keys are parsed here; remote
    /// sources are not contacted (see [`Validator::check_remote`]).
    pub fn new(config: &KeyConfig, fetcher: Arc<dyn Fetch>) -> Result<Validator, ConfigError> {
        let keys = KeySource::new(config, fetcher)?;
        let algorithms = if config.jwt_supported_algs.is_empty() {
            Algorithm::ALL.to_vec()
        } else {
            config
                .jwt_supported_algs
                .iter()
                .map(|name| Algorithm::from_jws(name).ok_or_else(|| ConfigError::UnsupportedAlgorithm(name.clone())))
                .collect::<Result<_, _>>()?
        };
        Ok(Validator { keys, algorithms, bound_issuer: config.bound_issuer.clone() })
    }

    /// Contacts remote key sources as Vault does on a config write: the discovery document
    /// must answer with the configured issuer; a JWKS URL must serve a JWKS.
    pub async fn check_remote(&self) -> Result<(), ConfigError> {
        self.keys.check_remote().await
    }

    /// The key source, for metrics and inspection.
    pub fn key_source(&self) -> &KeySource {
        &self.keys
    }

    /// Validates `token` against this mount's keys and `policy` at time `now`.
    pub async fn validate(&self, token: &str, policy: &ClaimPolicy, now: SystemTime) -> Result<Identity, TokenError> {
        let now = unix_seconds(now);
        let jws = jose::parse(token)?;
        // Refusing a disallowed algorithm before any crypto is cheaper than Vault's order and
        // gives the same answer: Vault checks it right after the signature.
        if !self.algorithms.contains(&jws.alg) {
            return Err(TokenError::UnexpectedAlgorithm);
        }
        self.keys.verify(&jws, now).await?;
        // Claims are read only from a verified payload, and only once.
        let claims = crate::json::parse_object(&jws.payload).map_err(Malformed::Payload)?;
        let (alias_name, metadata, groups) = check_claims(&claims, &self.bound_issuer, policy, now)?;
        Ok(Identity { alias_name, metadata, groups, payload: jws.payload })
    }
}

impl Validator {
    /// Checks the algorithm and the signature only, and returns the verified claims (parsed
    /// strictly: duplicate members refused). For callers with their own claim rules, such as
    /// the Kubernetes auth method, whose legacy tokens carry no time claims.
    pub async fn verify_signature(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<serde_json::Map<String, serde_json::Value>, TokenError> {
        let jws = jose::parse(token)?;
        if !self.algorithms.contains(&jws.alg) {
            return Err(TokenError::UnexpectedAlgorithm);
        }
        self.keys.verify(&jws, unix_seconds(now)).await?;
        claims_of(&jws.payload)
    }
}

/// The claims of a token whose signature is NOT checked, parsed as strictly as verified ones.
/// Only for the Kubernetes auth method without `pem_keys`, where TokenReview is the authority.
pub fn unverified_claims(token: &str) -> Result<serde_json::Map<String, serde_json::Value>, TokenError> {
    claims_of(&jose::parse(token)?.payload)
}

fn claims_of(payload: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, TokenError> {
    crate::json::parse_object(payload).map_err(Malformed::Payload)?;
    serde_json::from_slice(payload).map_err(|e| Malformed::Payload(e.to_string()).into())
}

/// Seconds since the Unix epoch; times before it count as 0.
pub(crate) fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The identity parts a successful check yields: alias name, metadata, groups.
type Checked = (String, Vec<(String, String)>, Vec<String>);

/// Every check after the signature, on the verified payload.
fn check_claims(
    claims: &Object<'_>,
    bound_issuer: &str,
    policy: &ClaimPolicy,
    now: i64,
) -> Result<Checked, TokenError> {
    check_case_folding(claims)?;

    let issuer = optional_string(claims, "iss", "issuer (iss)")?;
    let subject = optional_string(claims, "sub", "subject (sub)")?;
    let audiences = audiences(claims)?;
    let iat = numeric_date(claims, "iat", "issued at (iat)")?;
    let nbf = numeric_date(claims, "nbf", "not before (nbf)")?;
    let exp = numeric_date(claims, "exp", "expiration time (exp)")?;

    if !bound_issuer.is_empty() && issuer != Some(bound_issuer) {
        return Err(TokenError::Issuer);
    }
    if !policy.bound_subject.is_empty() && subject != Some(policy.bound_subject.as_str()) {
        return Err(TokenError::Subject);
    }
    if !policy.bound_audiences.is_empty()
        && !audiences.iter().any(|aud| policy.bound_audiences.iter().any(|b| b == aud))
    {
        return Err(TokenError::Audience);
    }
    check_times(iat, nbf, exp, policy.leeways, now)?;
    if policy.bound_audiences.is_empty() && audiences.iter().any(|aud| !aud.is_empty()) {
        return Err(TokenError::AudienceWithoutBound);
    }

    let alias_name = claims::user_claim(claims, &policy.user_claim, policy.user_claim_json_pointer)?;
    reject_control_characters(&policy.user_claim, &alias_name)?;
    let metadata = claims::metadata(claims, &policy.claim_mappings)?;
    for (key, value) in &metadata {
        reject_control_characters(key, value)?;
    }
    let groups =
        if policy.groups_claim.is_empty() { Vec::new() } else { claims::groups(claims, &policy.groups_claim)? };
    for group in &groups {
        reject_control_characters(&policy.groups_claim, group)?;
    }
    claims::check_bound_claims(claims, &policy.bound_claims, policy.bound_claims_type)?;
    Ok((alias_name, metadata, groups))
}

/// A claim name that case-folds onto a registered one (`SUB`, `ſub`) could make what we check
/// and what a consumer reads differ (hashicorp/cap #191).
fn check_case_folding(claims: &Object<'_>) -> Result<(), TokenError> {
    for key in claims.keys() {
        if key.len() > 8 || REGISTERED_CLAIMS.contains(&key) {
            continue;
        }
        let folded: String = key.chars().map(fold).collect();
        if let Some(registered) = REGISTERED_CLAIMS.iter().find(|name| **name == folded) {
            return Err(TokenError::AmbiguousClaim { key: truncate(key).to_string(), registered });
        }
    }
    Ok(())
}

/// Simple Unicode case folding for the letters registered claim names use.
fn fold(c: char) -> char {
    match c {
        'ſ' => 's',
        'K' => 'k',
        other => other.to_lowercase().next().unwrap_or(other),
    }
}

fn optional_string<'a>(claims: &'a Object<'_>, name: &str, label: &'static str) -> Result<Option<&'a str>, TokenError> {
    match claims.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Str(text)) => Ok(Some(text)),
        Some(_) => Err(TokenError::ClaimType { claim: label, problem: "expected a string" }),
    }
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3); anything else is refused.
fn audiences<'a>(claims: &'a Object<'_>) -> Result<Vec<&'a str>, TokenError> {
    let type_error =
        TokenError::ClaimType { claim: "audience (aud)", problem: "expected a string or an array of strings" };
    match claims.get("aud") {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::Str(aud)) => Ok(vec![aud.as_ref()]),
        Some(Json::Array(items)) => items.iter().map(|item| item.as_str().ok_or(type_error.clone())).collect(),
        Some(_) => Err(type_error),
    }
}

/// A NumericDate: a non-negative JSON number, fractions truncated. 0 counts as absent (Vault).
fn numeric_date(claims: &Object<'_>, name: &str, label: &'static str) -> Result<Option<i64>, TokenError> {
    let type_error = TokenError::ClaimType { claim: label, problem: "expected a non-negative number of seconds" };
    let seconds = match claims.get(name) {
        None | Some(Json::Null) => return Ok(None),
        Some(Json::Int(_) | Json::UInt(_) | Json::Float(_)) => match get_claim(claims, name) {
            Some(Found::Integer(seconds)) if seconds >= 0 => seconds,
            _ => return Err(type_error),
        },
        Some(_) => return Err(type_error),
    };
    Ok((seconds != 0).then_some(seconds))
}

/// Vault's time rules (cap `jwt.go`): synthesise a missing `exp`/`nbf`, then compare with skew.
fn check_times(
    iat: Option<i64>,
    nbf: Option<i64>,
    exp: Option<i64>,
    leeways: Leeways,
    now: i64,
) -> Result<(), TokenError> {
    if iat.is_none() && nbf.is_none() && exp.is_none() {
        return Err(TokenError::NoTimeClaims);
    }
    let skew = Leeways::effective(leeways.clock_skew, 60);
    let expiration_leeway = Leeways::effective(leeways.expiration, 150);
    let not_before_leeway = Leeways::effective(leeways.not_before, 150);

    let exp = match exp {
        Some(exp) => exp,
        None => iat.max(nbf).unwrap_or(0).saturating_add(expiration_leeway),
    };
    let nbf = nbf.or(iat).unwrap_or_else(|| exp.saturating_sub(not_before_leeway));
    if now.saturating_add(skew) < nbf {
        return Err(TokenError::NotYetValid);
    }
    if now.saturating_sub(skew) > exp {
        return Err(TokenError::Expired);
    }
    if iat.is_some_and(|iat| now.saturating_add(skew) < iat) {
        return Err(TokenError::IssuedInFuture);
    }
    Ok(())
}

/// Identity and metadata values end up in token metadata and logs: no control characters.
fn reject_control_characters(claim: &str, value: &str) -> Result<(), TokenError> {
    if value.chars().any(|c| c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')) {
        return Err(TokenError::ControlCharacter { claim: truncate(claim).to_string() });
    }
    Ok(())
}
