//! `auth/token/*`: lookups, renewals, revocations and creation, by token or by accessor.

use crate::error::ApiError;
use crate::handlers::{blocking, is_root, Caller};
use crate::login::TtlLimits;
use crate::routes::TokenAction;
use crate::state::AppState;
use crate::wire::{self, Auth, Body, Envelope};
use crate::{fields, ids};
use actix_web::HttpResponse;
use jwtgate_store::TokenRecord;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub fn lookup_self(state: &AppState, caller: Option<Caller>) -> Result<HttpResponse, ApiError> {
    let Caller { token, record, .. } = caller.ok_or(ApiError::PermissionDenied)?;
    Ok(wire::json(&Envelope::data(lookup_data(&token, &record, state.now()), "token")))
}

fn token_type(id: &str) -> &'static str {
    if id.starts_with(crate::batch::PREFIX) {
        "batch"
    } else {
        "service"
    }
}

/// Vault's lookup object; `id` is the token as presented, or `""` for accessor lookups.
fn lookup_data(id: &str, record: &TokenRecord, now: i64) -> Value {
    json!({
        "accessor": record.accessor, "creation_time": record.creation_time, "creation_ttl": record.creation_ttl,
        "display_name": record.display_name, "entity_id": record.entity_id,
        "expire_time": record.expire_time.map(crate::time::rfc3339),
        "explicit_max_ttl": record.explicit_max_ttl, "id": id,
        "issue_time": crate::time::rfc3339(record.creation_time), "meta": record.meta, "num_uses": record.num_uses,
        "orphan": record.orphan, "path": record.path, "policies": record.policies, "renewable": record.renewable,
        "ttl": record.expire_time.map_or(0, |at| (at - now).max(0)), "type": token_type(id),
        "last_renewal_time": record.last_renewal_time, "period": (record.period > 0).then_some(record.period),
    })
}

const NOT_RENEWABLE: &str = "batch tokens cannot be renewed";
const NOT_REVOCABLE: &str = "batch tokens cannot be revoked";

pub async fn renew_self(state: &Arc<AppState>, caller: Option<Caller>, body: &Body) -> Result<HttpResponse, ApiError> {
    let Caller { token, record, batch, .. } = caller.ok_or(ApiError::PermissionDenied)?;
    if batch {
        return Err(ApiError::BadRequest(NOT_RENEWABLE.into()));
    }
    renew(state, Target::Token(token), record, body).await
}

pub async fn revoke_self(state: &Arc<AppState>, caller: Option<Caller>) -> Result<HttpResponse, ApiError> {
    let Caller { token, batch, .. } = caller.ok_or(ApiError::PermissionDenied)?;
    if batch {
        return Err(ApiError::BadRequest(NOT_REVOCABLE.into()));
    }
    let store = state.store.clone();
    blocking(move || Ok(store.revoke_token(&token)?)).await?;
    Ok(wire::no_content())
}

/// A token named by its value or by its accessor.
enum Target {
    Token(String),
    Accessor(String),
}

fn required(body: &Body, field: &str, missing: &str) -> Result<String, ApiError> {
    fields::string(body, field)?.filter(|v| !v.is_empty()).ok_or_else(|| ApiError::BadRequest(missing.to_owned()))
}

pub async fn admin(
    state: &Arc<AppState>,
    action: TokenAction,
    caller: Option<Caller>,
    body: &Body,
) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let now = state.now();
    match action {
        TokenAction::Lookup => {
            let token = required(body, "token", "missing token ID")?;
            let lookup = token.clone();
            let record = if token.starts_with(crate::batch::PREFIX) {
                state.sealer.open(&token, now)
            } else {
                blocking(move || Ok(store.lookup_token(&lookup, now)?)).await?
            };
            let record = record.ok_or_else(|| ApiError::Forbidden("bad token".into()))?;
            Ok(wire::json(&Envelope::data(lookup_data(&token, &record, now), "token")))
        }
        TokenAction::LookupAccessor => {
            let accessor = required(body, "accessor", "missing accessor")?;
            let record = blocking(move || Ok(store.lookup_accessor(&accessor, now)?)).await?;
            let record = record.ok_or_else(|| ApiError::BadRequest("invalid accessor".into()))?;
            Ok(wire::json(&Envelope::data(lookup_data("", &record, now), "token")))
        }
        TokenAction::Renew | TokenAction::Revoke
            if fields::string(body, "token")?.is_some_and(|t| t.starts_with(crate::batch::PREFIX)) =>
        {
            let message = if action == TokenAction::Renew { NOT_RENEWABLE } else { NOT_REVOCABLE };
            Err(ApiError::BadRequest(message.into()))
        }
        TokenAction::Renew | TokenAction::RenewAccessor => {
            let target = if action == TokenAction::Renew {
                Target::Token(required(body, "token", "missing token ID")?)
            } else {
                Target::Accessor(required(body, "accessor", "missing accessor")?)
            };
            let record = match &target {
                Target::Token(token) => {
                    let token = token.clone();
                    blocking(move || Ok(store.lookup_token(&token, now)?)).await?
                }
                Target::Accessor(accessor) => {
                    let accessor = accessor.clone();
                    blocking(move || Ok(store.lookup_accessor(&accessor, now)?)).await?
                }
            };
            let record = record.ok_or_else(|| ApiError::BadRequest("token not found".into()))?;
            renew(state, target, record, body).await
        }
        TokenAction::Revoke => {
            let token = required(body, "token", "missing token ID")?;
            blocking(move || Ok(store.revoke_token(&token)?)).await?;
            Ok(wire::no_content())
        }
        TokenAction::RevokeAccessor => {
            let accessor = required(body, "accessor", "missing accessor")?;
            blocking(move || Ok(store.revoke_accessor(&accessor)?)).await?;
            Ok(wire::no_content())
        }
        TokenAction::Create | TokenAction::CreateOrphan => {
            create(state, caller.ok_or(ApiError::PermissionDenied)?, body).await
        }
    }
}

/// Renews a live token: role tokens follow their role (re-read, so edits apply; a deleted role
/// refuses), token-store tokens their own creation parameters.
async fn renew(
    state: &Arc<AppState>,
    target: Target,
    record: TokenRecord,
    body: &Body,
) -> Result<HttpResponse, ApiError> {
    if !record.renewable {
        return Err(ApiError::BadRequest("lease is not renewable".into()));
    }
    let increment = fields::duration(body, "increment")?.unwrap_or(0);
    let limits = if record.role.is_empty() {
        let own = json!({"token_ttl": record.creation_ttl, "token_explicit_max_ttl": record.explicit_max_ttl, "token_period": record.period});
        TtlLimits::new(state, None, own.as_object().ok_or(ApiError::Internal)?)
    } else {
        let role = state.role(&record.mount, &record.role)?.ok_or_else(|| {
            ApiError::BadRequest(format!("failed to renew entry: role {} does not exist during renewal", record.role))
        })?;
        let mounts = state.mounts()?;
        TtlLimits::new(state, mounts.iter().find(|m| m.path == record.mount), &role.stored)
    };
    let now = state.now();
    let store = state.store.clone();
    let renew_record = move |current: &TokenRecord| {
        let (ttl, _) = limits.renewal_ttl(current, increment, now)?;
        Ok::<_, ApiError>(TokenRecord { expire_time: Some(now + ttl), last_renewal_time: Some(now), ..current.clone() })
    };
    let (client_token, updated) = match target {
        Target::Token(token) => {
            let renewed = token.clone();
            (token, blocking(move || Ok(store.update_token(&renewed, now, renew_record)?)).await?)
        }
        Target::Accessor(accessor) => {
            (String::new(), blocking(move || Ok(store.update_accessor(&accessor, now, renew_record)?)).await?)
        }
    };
    let updated = updated.ok_or_else(|| ApiError::BadRequest("token not found".into()))??;
    let ttl = updated.expire_time.map_or(0, |at| at - now);
    Ok(wire::json(&Envelope::auth(auth_block(client_token, &updated, ttl), "token")))
}

fn auth_block(client_token: String, record: &TokenRecord, ttl: i64) -> Auth {
    Auth {
        client_token,
        accessor: record.accessor.clone(),
        policies: record.policies.clone(),
        token_policies: record.policies.clone(),
        metadata: record.meta.iter().map(|(k, v)| (k.clone(), json!(v))).collect(),
        lease_duration: ttl,
        renewable: record.renewable,
        entity_id: record.entity_id.clone(),
        token_type: "service".into(),
        orphan: record.orphan,
        mfa_requirement: Value::Null,
        num_uses: record.num_uses,
    }
}

const CREATE_FIELDS: [&str; 13] = [
    "id",
    "policies",
    "meta",
    "no_parent",
    "no_default_policy",
    "renewable",
    "ttl",
    "explicit_max_ttl",
    "display_name",
    "num_uses",
    "period",
    "type",
    "entity_alias",
];

/// `auth/token/create(-orphan)` for root callers. Every created token is an orphan: jwtgate
/// keeps no parent/child tree yet.
async fn create(state: &Arc<AppState>, caller: Caller, body: &Body) -> Result<HttpResponse, ApiError> {
    if fields::string(body, "type")?.is_some_and(|t| t == "batch") {
        return Err(ApiError::BadRequest("batch tokens are not supported yet".into()));
    }
    let parent = &caller.record.policies;
    let requested = fields::strings(body, "policies")?;
    // Vault: without root or sudo, a child's policies must be a subset of its parent's (as
    // sent, before case folding), its id is generated, and it has a parent.
    if !caller.sudo {
        let outside = requested
            .iter()
            .flatten()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .any(|p| !parent.iter().any(|q| q == p));
        if outside {
            return Err(ApiError::BadRequest("child policies must be subset of parent".into()));
        }
        if fields::string(body, "id")?.is_some_and(|id| !id.is_empty()) {
            return Err(ApiError::BadRequest("root or sudo privileges required to specify token id".into()));
        }
        if fields::boolean(body, "no_parent")? == Some(true) {
            return Err(ApiError::BadRequest("root or sudo privileges required to create orphan token".into()));
        }
    }
    let mut policies: Vec<String> = match requested {
        Some(list) => list.iter().map(|p| p.trim().to_lowercase()).filter(|p| !p.is_empty()).collect(),
        None => parent.clone(),
    };
    if !is_root(&caller.record) && policies.iter().any(|p| p == "root") {
        return Err(ApiError::BadRequest("root or sudo privileges required to create a root token".into()));
    }
    let is_root_token = policies.iter().any(|p| p == "root");
    // A parent without `default` cannot hand it out unless it has sudo.
    let may_add_default = caller.sudo || parent.iter().any(|p| p == "default");
    if !is_root_token
        && may_add_default
        && fields::boolean(body, "no_default_policy")? != Some(true)
        && !policies.iter().any(|p| p == "default")
    {
        policies.push("default".into());
    }
    policies.sort();
    policies.dedup();
    let num_uses = fields::integer(body, "num_uses")?.unwrap_or(0);
    if num_uses < 0 {
        return Err(ApiError::BadRequest("number of uses cannot be negative".into()));
    }
    let ttl = fields::duration(body, "ttl")?.unwrap_or(0);
    let explicit_max_ttl = fields::duration(body, "explicit_max_ttl")?.unwrap_or(0);
    let period = fields::duration(body, "period")?.unwrap_or(0);
    if ttl < 0 || explicit_max_ttl < 0 || period < 0 {
        return Err(ApiError::BadRequest("ttl, explicit_max_ttl and period cannot be negative".into()));
    }
    let meta: std::collections::BTreeMap<String, String> = fields::object(body, "meta")?
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
        .collect();
    let now = state.now();
    let limits = TtlLimits::new(state, None, &{
        let mut own = Map::new();
        own.insert("token_ttl".into(), json!(ttl));
        own.insert("token_explicit_max_ttl".into(), json!(explicit_max_ttl));
        own.insert("token_period".into(), json!(period));
        own
    });
    let (granted, warnings) = limits.initial_ttl();
    // Only a root token created without any TTL never expires (Vault's rule).
    let never_expires = is_root_token && ttl == 0 && explicit_max_ttl == 0 && period == 0;
    let display_name = fields::string(body, "display_name")?
        .filter(|n| !n.is_empty())
        .map_or_else(|| "token".into(), |n| format!("token-{n}"));
    let token = fields::string(body, "id")?.filter(|id| !id.is_empty()).unwrap_or_else(ids::service_token);
    let record = TokenRecord {
        accessor: ids::accessor(),
        policies,
        meta,
        display_name,
        path: "auth/token/create".into(),
        creation_time: now,
        creation_ttl: if never_expires { 0 } else { granted },
        expire_time: (!never_expires).then_some(now + granted),
        explicit_max_ttl,
        period,
        num_uses,
        renewable: fields::boolean(body, "renewable")?.unwrap_or(true),
        orphan: true,
        ..TokenRecord::default()
    };
    let (store, issued, stored) = (state.store.clone(), token.clone(), record.clone());
    let exists = blocking(move || {
        if store.lookup_token(&issued, now)?.is_some() {
            return Ok(true);
        }
        store.create_token(&issued, &stored)?;
        Ok(false)
    })
    .await?;
    if exists {
        return Err(ApiError::BadRequest("cannot create a token with a duplicate ID".into()));
    }
    let mut warnings = warnings;
    warnings.extend(wire::unknown_fields_warning(body, &CREATE_FIELDS));
    let ttl = record.expire_time.map_or(0, |at| at - now);
    Ok(wire::json(&Envelope::auth(auth_block(token, &record, ttl), "token").with_warnings(warnings)))
}
