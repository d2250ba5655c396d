//! `auth/<mount>/login`: Vault's JWT login sequence (vault-jwt-auth.md §3.3) and token issue
//! (§4). Every refusal is a 400 with Vault's text, or 403 for bound CIDRs; never a 5xx.

use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::{self, Auth, Body, Envelope};
use crate::{config, ids, role};
use actix_web::HttpResponse;
use jwtgate_store::{Mount, TokenRecord};
use serde_json::{json, Map, Value};
use std::net::IpAddr;
use std::sync::Arc;

const KNOWN: [&str; 3] = ["role", "jwt", "distributed_claim_access_token"];

pub async fn login(
    state: &Arc<AppState>,
    mount: &Mount,
    body: &Body,
    peer: Option<IpAddr>,
) -> Result<HttpResponse, ApiError> {
    let bad = |text: String| ApiError::BadRequest(text);
    let stored_config = state.config(&mount.path)?.ok_or_else(|| bad("could not load configuration".into()))?;
    let role_name = match body.get("role") {
        Some(Value::String(name)) if !name.is_empty() => name.to_lowercase(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            stored_config.get("default_role").and_then(Value::as_str).unwrap_or_default().to_owned()
        }
        Some(_) => return Err(bad("error parsing JSON".into())),
    };
    if role_name.is_empty() {
        return Err(bad("missing role".into()));
    }
    let shown: String = role_name.chars().take(128).collect();
    let cached_role =
        state.role(&mount.path, &role_name)?.ok_or_else(|| bad(format!("role {shown:?} could not be found")))?;
    let stored_role = &cached_role.stored;
    if stored_role.get("role_type").and_then(Value::as_str) == Some("oidc") {
        return Err(bad("role with oidc role_type is not allowed".into()));
    }
    let jwt = match body.get("jwt") {
        Some(Value::String(jwt)) if !jwt.trim().is_empty() => jwt.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => return Err(bad("missing token".into())),
        Some(_) => return Err(bad("error parsing JSON".into())),
    };
    check_bound_cidrs(stored_role, peer)?;
    if config::is_oidc_flow(&stored_config) {
        return Err(bad("error configuring token validator: unsupported config type".into()));
    }
    let validator = match state.validator(&mount.path) {
        Some(validator) => validator,
        None => {
            // First login after a restart: build the validator from the stored config once.
            let validator =
                jwtgate_verifier::Validator::new(&config::key_config(&stored_config), state.fetcher.clone())
                    .map_err(|e| bad(format!("error configuring token validator: {e}")))?;
            let validator = Arc::new(validator);
            state.set_validator(&mount.path, Some(validator.clone()))?;
            validator
        }
    };
    let identity = validator.validate(&jwt, &cached_role.policy, (state.clock)()).await.map_err(|e| {
        tracing::info!(mount = %mount.path, role = %shown, reason = %e, "login refused");
        bad(e.to_string())
    })?;
    if stored_role.get("token_review") == Some(&Value::Bool(true)) {
        let claims = identity.claims();
        crate::kubernetes::confirm_with_cluster(
            state,
            &stored_config,
            &jwt,
            &claims,
            &cached_role.policy.bound_audiences,
        )
        .await
        .inspect_err(
            |e| tracing::info!(mount = %mount.path, role = %shown, reason = %e, "login refused by TokenReview"),
        )?;
    }
    let display = format!("{}-{}", mount.path.replace('/', "-"), identity.alias_name);
    let issued = Issue { role_name, alias_name: &identity.alias_name, metadata: identity.metadata, display };
    issue(state, mount, stored_role, issued, body, &KNOWN).await
}

/// Who a successful login is, for the token it gets.
pub struct Issue<'a> {
    pub role_name: String,
    pub alias_name: &'a str,
    /// Token metadata (the login adds `role`).
    pub metadata: Vec<(String, String)>,
    pub display: String,
}

/// The token a role's login issues: policies, TTLs, type and metadata, stored durably (service)
/// or sealed (batch) before it is handed out.
pub async fn issue(
    state: &Arc<AppState>,
    mount: &Mount,
    stored_role: &Map<String, Value>,
    issued: Issue<'_>,
    body: &Body,
    known: &[&str],
) -> Result<HttpResponse, ApiError> {
    let bad = |text: String| ApiError::BadRequest(text);
    let Issue { role_name, alias_name, metadata: identity_metadata, display } = issued;
    let cidrs = strings(stored_role, "token_bound_cidrs");
    let now = state.now();
    let limits = TtlLimits::new(state, Some(mount), stored_role);
    let (ttl, mut warnings) = limits.initial_ttl();
    let mut policies =
        role::normalise_policies(&strings(stored_role, "token_policies")).map_err(|e| bad(e.to_string()))?;
    if stored_role.get("token_no_default_policy") != Some(&Value::Bool(true))
        && !policies.iter().any(|p| p == "default")
    {
        policies.push("default".into());
        policies.sort();
    }
    let mut metadata = Map::new();
    let mut meta = std::collections::BTreeMap::new();
    for (key, value) in identity_metadata.into_iter().chain([("role".to_owned(), role_name.clone())]) {
        metadata.insert(key.clone(), json!(value));
        meta.insert(key, value);
    }
    let batch = issues_batch(mount, stored_role);
    let record = TokenRecord {
        accessor: if batch { String::new() } else { ids::accessor() },
        policies: policies.clone(),
        meta,
        display_name: display,
        path: format!("auth/{}/login", mount.path),
        mount: mount.path.clone(),
        role: role_name,
        entity_id: entity_id(&mount.accessor, alias_name),
        creation_time: now,
        creation_ttl: ttl,
        expire_time: Some(now + ttl),
        explicit_max_ttl: limits.explicit_max_ttl,
        period: limits.period,
        num_uses: if batch { 0 } else { stored_role.get("token_num_uses").and_then(Value::as_i64).unwrap_or(0) },
        renewable: !batch,
        orphan: true,
        bound_cidrs: cidrs,
        last_renewal_time: None,
    };
    let token = if batch {
        // Self-contained: nothing is written, so a batch login costs no storage at all.
        state.sealer.seal(&record).ok_or_else(|| ApiError::internal("seal a batch token", "the key ring is empty"))?
    } else {
        let token = ids::service_token();
        // Applied here, in memory; the await parks this request (not a thread) until the shared
        // flush that covers it has finished. Only then is the token handed out.
        state.store.create_token_deferred(&token, &record)?.await?;
        token
    };
    warnings.extend(wire::unknown_fields_warning(body, known));
    let auth = Auth {
        client_token: token,
        accessor: record.accessor,
        policies: policies.clone(),
        token_policies: policies,
        metadata,
        lease_duration: ttl,
        renewable: record.renewable,
        entity_id: record.entity_id,
        token_type: if batch { "batch" } else { "service" }.into(),
        orphan: true,
        mfa_requirement: Value::Null,
        num_uses: record.num_uses,
    };
    Ok(wire::json(&Envelope::auth(auth, "").with_warnings(warnings)))
}

/// `token_bound_cidrs` at login: the peer must be inside one of them.
pub fn check_bound_cidrs(role: &Map<String, Value>, peer: Option<IpAddr>) -> Result<(), ApiError> {
    let cidrs = strings(role, "token_bound_cidrs");
    if cidrs.is_empty() {
        return Ok(());
    }
    let allowed =
        peer.is_some_and(|ip| cidrs.iter().filter_map(|c| crate::cidr::Cidr::parse(c)).any(|c| c.contains(ip)));
    if allowed {
        Ok(())
    } else {
        Err(ApiError::PermissionDenied)
    }
}

/// Vault's token type resolution: a mount tuned to `service` or `batch` decides; otherwise the
/// role's `token_type`, and for `default` the mount's `default-service`/`default-batch`.
fn issues_batch(mount: &Mount, role: &Map<String, Value>) -> bool {
    match (mount.tune.token_type.as_str(), role.get("token_type").and_then(Value::as_str).unwrap_or("default")) {
        ("service", _) => false,
        ("batch", _) => true,
        (_, "service") => false,
        (_, "batch") => true,
        (mount_default, _) => mount_default == "default-batch",
    }
}

pub fn strings(map: &Map<String, Value>, field: &str) -> Vec<String> {
    map.get(field)
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// A stable identity id per (mount, alias), in UUID form, standing in for Vault's entity.
fn entity_id(mount_accessor: &str, alias: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("{mount_accessor}\0{alias}").as_bytes());
    let h = hex::encode(&digest.as_ref()[..16]);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// Vault's TTL arithmetic (`CalculateTTL`): role values, mount tune, system limits.
#[derive(Debug, Clone, Copy)]
pub struct TtlLimits {
    default_ttl: i64,
    /// The effective maximum TTL (0 never happens: the system maximum always applies).
    max_ttl: i64,
    pub explicit_max_ttl: i64,
    pub period: i64,
}

impl TtlLimits {
    pub fn new(state: &AppState, mount: Option<&Mount>, role: &Map<String, Value>) -> TtlLimits {
        let number = |field: &str| role.get(field).and_then(Value::as_i64).unwrap_or(0);
        let tune = |value: u64, system: i64| if value > 0 { value as i64 } else { system };
        let mount_default =
            mount.map_or(state.default_lease_ttl, |m| tune(m.tune.default_lease_ttl, state.default_lease_ttl));
        let mount_max = mount.map_or(state.max_lease_ttl, |m| tune(m.tune.max_lease_ttl, state.max_lease_ttl));
        let mut max_ttl = mount_max;
        for limit in [number("token_max_ttl"), number("token_explicit_max_ttl")] {
            if limit > 0 {
                max_ttl = max_ttl.min(limit);
            }
        }
        let default_ttl = if number("token_ttl") > 0 { number("token_ttl") } else { mount_default };
        TtlLimits {
            default_ttl,
            max_ttl,
            explicit_max_ttl: number("token_explicit_max_ttl"),
            period: number("token_period"),
        }
    }

    /// The TTL of a new token and the capping warnings.
    pub fn initial_ttl(&self) -> (i64, Vec<String>) {
        let go = role::go_duration;
        if self.period > 0 {
            if self.period > self.max_ttl {
                let warning = format!(
                    "period of \"{}\" exceeded the effective max_ttl of \"{}\"; period value is capped accordingly",
                    go(self.period),
                    go(self.max_ttl)
                );
                return (self.max_ttl, vec![warning]);
            }
            return (self.period, Vec::new());
        }
        if self.default_ttl > self.max_ttl {
            let warning = format!(
                "TTL of \"{}\" exceeded the effective max_ttl of \"{}\"; TTL value is capped accordingly",
                go(self.default_ttl),
                go(self.max_ttl)
            );
            return (self.max_ttl, vec![warning]);
        }
        (self.default_ttl, Vec::new())
    }

    /// The TTL after a renewal at `now`: increment, else the role's TTL (period for periodic
    /// tokens), never past creation + max TTL (except periodic tokens without an explicit max).
    pub fn renewal_ttl(&self, record: &TokenRecord, increment: i64, now: i64) -> Result<(i64, Vec<String>), ApiError> {
        let wanted = if self.period > 0 {
            self.period
        } else if increment > 0 {
            increment
        } else {
            self.default_ttl
        };
        let hard_limit = if self.period > 0 && self.explicit_max_ttl == 0 {
            None
        } else {
            Some(record.creation_time + self.max_ttl)
        };
        match hard_limit {
            Some(limit) if now >= limit => Err(ApiError::BadRequest("past the max TTL, cannot renew".into())),
            Some(limit) => Ok((wanted.min(limit - now), Vec::new())),
            None => Ok((wanted, Vec::new())),
        }
    }
}
