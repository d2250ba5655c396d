//! The one place a login becomes a token (vault-jwt-auth.md §4): policies, TTLs, display
//! name, metadata, bound CIDRs and token type, stored durably (service) or sealed (batch)
//! before it is handed out.

use crate::error::Error;
use crate::ids;
use crate::request::Auth;
use crate::token::params::{normalise_policies, TokenParams};
use crate::token::ttl::TtlLimits;
use crate::token::Tokens;
use jwtgate_store::{Mount, TokenRecord};
use serde_json::{json, Map, Value};

/// Who logged in, as an auth method reports it; the core turns it into a token.
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    pub role_name: String,
    /// The identity alias (Vault's entity alias name), e.g. the service account's UID.
    pub alias_name: String,
    /// Token metadata (the core adds `role`).
    pub metadata: Vec<(String, String)>,
    pub display_name: String,
    /// The role's token parameters.
    pub params: TokenParams,
}

impl Tokens {
    /// Issues the token of a successful login at `mount`; returns it with the capping warnings.
    pub async fn issue(&self, mount: &Mount, login: Login, now: i64) -> Result<(Auth, Vec<String>), Error> {
        let Login { role_name, alias_name, metadata: identity_metadata, display_name, params } = login;
        let limits = TtlLimits::new(&self.system, Some(&mount.tune), &params);
        let (ttl, warnings) = limits.initial_ttl();
        let mut policies = normalise_policies(&params.token_policies)?;
        if !params.token_no_default_policy && !policies.iter().any(|p| p == "default") {
            policies.push("default".into());
            policies.sort();
        }
        let mut metadata = Map::new();
        let mut meta = std::collections::BTreeMap::new();
        for (key, value) in identity_metadata.into_iter().chain([("role".to_owned(), role_name.clone())]) {
            metadata.insert(key.clone(), json!(value));
            meta.insert(key, value);
        }
        let batch = issues_batch(mount, &params);
        let record = TokenRecord {
            accessor: if batch { String::new() } else { ids::accessor() },
            policies: policies.clone(),
            meta,
            display_name,
            path: format!("auth/{}/login", mount.path),
            mount: mount.path.clone(),
            role: role_name,
            entity_id: entity_id(&mount.accessor, &alias_name),
            creation_time: now,
            creation_ttl: ttl,
            expire_time: Some(now + ttl),
            explicit_max_ttl: limits.explicit_max_ttl,
            period: limits.period,
            num_uses: if batch { 0 } else { params.token_num_uses },
            renewable: !batch,
            orphan: true,
            bound_cidrs: params.token_bound_cidrs,
            last_renewal_time: None,
            parent: String::new(),
            wrapped: String::new(),
        };
        let token = if batch {
            // Self-contained: nothing is written, so a batch login costs no storage at all.
            self.sealer.seal(&record).ok_or_else(|| Error::internal("seal a batch token", "the key ring is empty"))?
        } else {
            let token = ids::service_token();
            // Applied here, in memory; the await parks this request (not a thread) until the
            // shared flush that covers it has finished. Only then is the token handed out.
            super::within_deadline(self.store.create_token_deferred(&token, &record)?).await??;
            token
        };
        let auth = Auth {
            client_token: token,
            display_name: record.display_name,
            accessor: record.accessor,
            policies: policies.clone(),
            token_policies: policies,
            metadata: Value::Object(metadata),
            lease_duration: ttl,
            renewable: record.renewable,
            entity_id: record.entity_id,
            token_type: if batch { "batch" } else { "service" }.into(),
            orphan: true,
            mfa_requirement: Value::Null,
            num_uses: record.num_uses,
        };
        Ok((auth, warnings))
    }
}

/// Vault's token type resolution: a mount tuned to `service` or `batch` decides; otherwise the
/// role's `token_type`, and for `default` the mount's `default-service`/`default-batch`.
fn issues_batch(mount: &Mount, params: &TokenParams) -> bool {
    match (mount.tune.token_type.as_str(), params.token_type.as_str()) {
        ("service", _) => false,
        ("batch", _) => true,
        (_, "service") => false,
        (_, "batch") => true,
        (mount_default, _) => mount_default == "default-batch",
    }
}

/// A stable identity id per (mount, alias), in UUID form, standing in for Vault's entity.
pub(crate) fn entity_id(mount_accessor: &str, alias: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("{mount_accessor}\0{alias}").as_bytes());
    let h = hex::encode(&digest.as_ref()[..16]);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}
