//! The token store (`auth/token/*`): authenticating a presented token, lookups, renewals,
//! revocations and creation, by token or by accessor; and, in [`issue`], the tokens logins get.

pub mod batch;
mod create;
pub mod issue;
pub mod params;
pub mod roles;
pub mod ttl;
pub mod wrapping;

pub use create::Creation;

use crate::error::Error;
use crate::fields;
use crate::request::{Auth, Body, Response};
use jwtgate_store::{Mount, Store, TokenRecord};
use params::TokenParams;
use serde_json::{json, Value};
use std::net::IpAddr;
use std::sync::Arc;
use ttl::{SystemTtl, TtlLimits};

/// How long a request waits for the store before it is answered 503, so that a database that
/// hangs (stopped, partitioned) never hangs a client; set once per process from the store's
/// engine (`Store::deadline`; sled has none). The abandoned call finishes, or fails, on its own.
static STORE_DEADLINE: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();

pub fn bound_store_waits(deadline: Option<std::time::Duration>) {
    if let Some(deadline) = deadline {
        let _ = STORE_DEADLINE.set(deadline);
    }
}

/// Awaits store work, within the store deadline.
pub async fn within_deadline<T>(work: impl std::future::Future<Output = T>) -> Result<T, Error> {
    let Some(deadline) = STORE_DEADLINE.get() else { return Ok(work.await) };
    tokio::time::timeout(*deadline, work).await.map_err(|_| {
        tracing::warn!(?deadline, "storage did not answer within the deadline");
        Error::Unavailable(format!("storage unavailable: no answer within {deadline:?}"))
    })
}

/// Runs blocking store work off the async workers.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, Error> + Send + 'static) -> Result<T, Error> {
    within_deadline(tokio::task::spawn_blocking(work)).await?.map_err(|e| Error::internal("run a blocking task", e))?
}

/// The token store: stored service tokens, sealed batch tokens, the system TTLs.
pub struct Tokens {
    pub store: Arc<Store>,
    pub sealer: batch::Sealer,
    pub system: SystemTtl,
}

/// Where a role-issued token's renewal finds its role's current parameters (the auth methods).
pub trait RoleParams: Sync {
    /// The mount and the role's token parameters; `None` if either is gone.
    fn role_params(&self, mount: &str, role: &str) -> Result<Option<(Mount, TokenParams)>, Error>;
}

/// The caller's token and its record, when it presented a live one.
pub struct Caller {
    pub token: String,
    pub record: TokenRecord,
    /// A self-contained batch token: nothing stored, so nothing to renew or revoke.
    pub batch: bool,
    /// Root, or granted `sudo` on the request path (Vault's `SudoPrivilege`): may create
    /// tokens outside its own policies, with chosen ids, and orphans.
    pub sudo: bool,
}

impl Caller {
    pub fn is_root(&self) -> bool {
        is_root(&self.record)
    }
}

pub fn is_root(record: &TokenRecord) -> bool {
    record.policies.iter().any(|p| p == "root")
}

/// Whether `peer` is inside one of `cidrs` (always, when there are none).
pub fn peer_allowed(cidrs: &[String], peer: Option<IpAddr>) -> bool {
    cidrs.is_empty()
        || peer.is_some_and(|ip| cidrs.iter().filter_map(|c| crate::cidr::Cidr::parse(c)).any(|c| c.contains(ip)))
}

/// What `auth/token/<action>` does to a token named in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAction {
    Lookup,
    LookupAccessor,
    Renew,
    RenewAccessor,
    Revoke,
    RevokeAccessor,
    Create,
    CreateOrphan,
    RevokeOrphan,
}

impl TokenAction {
    /// Its path help.
    pub fn help(self) -> &'static str {
        match self {
            TokenAction::Lookup => "Looks up a token (token; the caller's without one) and its properties.",
            TokenAction::LookupAccessor => "Looks up a token by its accessor.",
            TokenAction::Renew => "Renews a token (token, increment).",
            TokenAction::RenewAccessor => "Renews a token by its accessor (accessor, increment).",
            TokenAction::Revoke => "Revokes a token and its children.",
            TokenAction::RevokeAccessor => "Revokes a token and its children by the token's accessor.",
            TokenAction::Create => "Creates a token, a child of the caller's (policies, ttl, period, num_uses, type, meta, no_parent, ...).",
            TokenAction::CreateOrphan => "Creates a token without a parent.",
            TokenAction::RevokeOrphan => "Revokes a token and makes its children orphans.",
        }
    }
}

impl Tokens {
    /// Looks the presented token up and spends one use of it. `None` when there is no live
    /// token, or when it is bound to networks the request does not come from.
    pub async fn authenticate(&self, token: &str, peer: Option<IpAddr>, now: i64) -> Result<Option<Caller>, Error> {
        let batch = token.starts_with(batch::PREFIX);
        let record = if batch {
            self.open_batch(token, now).await?
        } else {
            let (store, lookup) = (self.store.clone(), token.to_owned());
            blocking(move || {
                let Some(mut record) = store.lookup_token(&lookup, now)? else { return Ok(None) };
                // Use-limited tokens spend a use per request; the last use revokes (exactly once).
                // The request sees the uses left after its own, as in Vault.
                if record.num_uses > 0 {
                    match store.use_token(&lookup, now)? {
                        jwtgate_store::UseOutcome::Refused => return Ok(None),
                        jwtgate_store::UseOutcome::Remaining(left) => record.num_uses = left,
                        jwtgate_store::UseOutcome::LastUse | jwtgate_store::UseOutcome::Unlimited => {}
                    }
                }
                Ok(Some(record))
            })
            .await?
        };
        let Some(record) = record.filter(|r| peer_allowed(&r.bound_cidrs, peer)) else { return Ok(None) };
        let sudo = is_root(&record);
        Ok(Some(Caller { token: token.to_owned(), record, batch, sudo }))
    }

    pub fn lookup_self(&self, caller: Caller, now: i64) -> Result<Response, Error> {
        Ok(Response::data(lookup_data(&caller.token, &caller.record, now), "token"))
    }

    pub async fn renew_self(
        &self,
        caller: Caller,
        body: &Body,
        roles: &dyn RoleParams,
        now: i64,
    ) -> Result<Response, Error> {
        let Caller { token, record, batch, .. } = caller;
        if batch {
            return Err(Error::BadRequest(NOT_RENEWABLE.into()));
        }
        self.renew(Target::Token(token), record, body, roles, now).await
    }

    pub async fn revoke_self(&self, caller: Caller) -> Result<Response, Error> {
        let Caller { token, batch, .. } = caller;
        if batch {
            return Err(Error::BadRequest(NOT_REVOCABLE.into()));
        }
        let store = self.store.clone();
        blocking(move || Ok(store.revoke_token(&token)?)).await?;
        Ok(Response::NoContent)
    }

    /// `lookup`, `renew`, `revoke`, `create` and their accessor and orphan variants.
    pub async fn admin(
        &self,
        action: TokenAction,
        caller: Caller,
        body: &Body,
        roles: &dyn RoleParams,
        now: i64,
    ) -> Result<Response, Error> {
        let store = self.store.clone();
        match action {
            TokenAction::Lookup => {
                // Without a token in the body (and by GET), the caller's own.
                let token = fields::string(body, "token")?.filter(|t| !t.is_empty()).unwrap_or(caller.token);
                let record = self.lookup(&token, now).await?.ok_or_else(|| Error::Forbidden("bad token".into()))?;
                Ok(Response::data(lookup_data(&token, &record, now), "token"))
            }
            TokenAction::LookupAccessor => {
                let accessor = required(body, "accessor", "missing accessor")?;
                let record = blocking(move || Ok(store.lookup_accessor(&accessor, now)?)).await?;
                let record = record.ok_or_else(|| Error::BadRequest("invalid accessor".into()))?;
                Ok(Response::data(lookup_data("", &record, now), "token"))
            }
            TokenAction::Renew | TokenAction::Revoke
                if fields::string(body, "token")?.is_some_and(|t| t.starts_with(batch::PREFIX)) =>
            {
                let message = if action == TokenAction::Renew { NOT_RENEWABLE } else { NOT_REVOCABLE };
                Err(Error::BadRequest(message.into()))
            }
            TokenAction::Renew | TokenAction::RenewAccessor => {
                let target = if action == TokenAction::Renew {
                    Target::Token(required(body, "token", "missing token ID")?)
                } else {
                    Target::Accessor(required(body, "accessor", "missing accessor")?)
                };
                let lookup = target.clone();
                let record = blocking(move || match lookup {
                    Target::Token(token) => Ok(store.lookup_token(&token, now)?),
                    Target::Accessor(accessor) => Ok(store.lookup_accessor(&accessor, now)?),
                })
                .await?;
                let record = record.ok_or_else(|| Error::BadRequest("token not found".into()))?;
                self.renew(target, record, body, roles, now).await
            }
            TokenAction::Revoke => {
                let token = required(body, "token", "missing token ID")?;
                blocking(move || Ok(store.revoke_token(&token)?)).await?;
                Ok(Response::NoContent)
            }
            TokenAction::RevokeAccessor => {
                let accessor = required(body, "accessor", "missing accessor")?;
                let revoked = blocking(move || Ok(store.revoke_accessor(&accessor)?)).await?;
                Ok(Response::written(
                    if revoked { Vec::new() } else { vec!["No token found with this accessor".into()] },
                    "token",
                ))
            }
            TokenAction::RevokeOrphan => {
                if !caller.sudo {
                    return Err(Error::BadRequest("root or sudo privileges required to revoke and orphan".into()));
                }
                let token = required(body, "token", "missing token ID")?;
                blocking(move || Ok(store.revoke_orphan(&token)?)).await?;
                Ok(Response::NoContent)
            }
            TokenAction::Create => self.create(caller, body, Creation::Create, "auth/token/create", now).await,
            TokenAction::CreateOrphan => {
                self.create(caller, body, Creation::Orphan, "auth/token/create-orphan", now).await
            }
        }
    }

    /// The policies of the token (or accessor) named in `body`, for `sys/capabilities*`.
    pub async fn policies_of(&self, body: &Body, by_accessor: bool, now: i64) -> Result<Vec<String>, Error> {
        let record = if by_accessor {
            let (store, accessor) = (self.store.clone(), required(body, "accessor", "missing accessor")?);
            blocking(move || Ok(store.lookup_accessor(&accessor, now)?)).await?
        } else {
            self.lookup(&required(body, "token", "missing token")?, now).await?
        };
        Ok(record.map(|r| r.policies).unwrap_or_default())
    }

    /// `auth/token/accessors`.
    pub async fn accessors(&self, now: i64) -> Result<Response, Error> {
        let store = self.store.clone();
        let keys = blocking(move || Ok(store.accessors(now)?)).await?;
        Ok(Response::data(json!({ "keys": keys }), "token"))
    }

    /// `auth/token/tidy`: removes expired tokens now (the sweeper does it anyway); 202 as Vault.
    pub async fn tidy(&self, request_id: &str, now: i64) -> Result<Response, Error> {
        let store = self.store.clone();
        blocking(move || {
            while store.sweep_expired(now, 10_000)? > 0 {}
            Ok(())
        })
        .await?;
        Ok(Response::Json {
            status: 202,
            body: json!({
                "request_id": request_id, "lease_id": "", "renewable": false, "lease_duration": 0, "data": null,
                "wrap_info": null, "auth": null, "mount_type": "token",
                "warnings": ["Tidy operation successfully started. Any information from the operation will be printed to jwtgate's server logs."]
            }),
        })
    }

    /// `sys/leases/revoke-prefix/<prefix>`: tokens are jwtgate's only leases; those created on
    /// a path under `prefix` (e.g. `auth/jwt/login`) are revoked with their children.
    pub async fn revoke_prefix(&self, prefix: &str) -> Result<Response, Error> {
        let (store, prefix) = (self.store.clone(), prefix.trim_start_matches('/').to_owned());
        blocking(move || Ok(store.revoke_path_prefix(&prefix)?)).await?;
        Ok(Response::NoContent)
    }

    /// An authentic, unexpired batch token whose parent (if any) is still live.
    async fn open_batch(&self, token: &str, now: i64) -> Result<Option<TokenRecord>, Error> {
        let Some(record) = self.sealer.open(token, now) else { return Ok(None) };
        if record.parent.is_empty() {
            return Ok(Some(record));
        }
        let (store, parent) = (self.store.clone(), record.parent.clone());
        let live = blocking(move || Ok(store.chain_live(&parent, now)?)).await?;
        Ok(live.then_some(record))
    }

    /// A live token's record: opened if batch, else read from the store.
    async fn lookup(&self, token: &str, now: i64) -> Result<Option<TokenRecord>, Error> {
        if token.starts_with(batch::PREFIX) {
            return self.open_batch(token, now).await;
        }
        let (store, token) = (self.store.clone(), token.to_owned());
        blocking(move || Ok(store.lookup_token(&token, now)?)).await
    }

    /// Renews a live token: role tokens follow their role (re-read, so edits apply; a deleted
    /// role refuses), token-store tokens their own creation parameters.
    async fn renew(
        &self,
        target: Target,
        record: TokenRecord,
        body: &Body,
        roles: &dyn RoleParams,
        now: i64,
    ) -> Result<Response, Error> {
        if !record.renewable {
            return Err(Error::BadRequest("lease is not renewable".into()));
        }
        let increment = fields::duration(body, "increment")?.unwrap_or(0);
        // Token-store tokens keep their own creation parameters (a token role's were applied
        // then); the role must still exist.
        let limits = if record.mount.is_empty() || record.role.is_empty() {
            // A token role's current limits apply on top of the token's own.
            let (mut explicit_max_ttl, mut period) = (record.explicit_max_ttl, record.period);
            if record.mount.is_empty() && !record.role.is_empty() {
                let role = self.token_role(&record.role).await?.ok_or_else(|| {
                    Error::BadRequest(format!(
                        "failed to renew entry: original token role {:?} could not be found, not renewing",
                        record.role
                    ))
                })?;
                explicit_max_ttl = create::lesser_limit(explicit_max_ttl, role.token_explicit_max_ttl);
                period = create::lesser_limit(period, role.token_period);
            }
            TtlLimits::own(&self.system, record.creation_ttl, explicit_max_ttl, period)
        } else {
            let (mount, params) = roles.role_params(&record.mount, &record.role)?.ok_or_else(|| {
                Error::BadRequest(format!("failed to renew entry: role {} does not exist during renewal", record.role))
            })?;
            TtlLimits::new(&self.system, Some(&mount.tune), &params)
        };
        let wanted = limits.wanted_renewal(&record, increment);
        let store = self.store.clone();
        let renew_record = move |current: &TokenRecord| {
            let ttl = limits.renewal_ttl(current, increment, now)?;
            Ok::<_, Error>(TokenRecord {
                expire_time: Some(now + ttl),
                last_renewal_time: Some(now),
                ..current.clone()
            })
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
        let updated = updated.ok_or_else(|| Error::BadRequest("token not found".into()))??;
        let ttl = updated.expire_time.map_or(0, |at| at - now);
        let warnings = if ttl < wanted { vec![ttl::capped_warning(wanted, ttl)] } else { Vec::new() };
        Ok(Response::auth(auth_block(client_token, &updated, ttl), "token", warnings))
    }
}

/// Vault's display-name rule: anything but letters, digits and `-` becomes `-`, and trailing
/// dashes go.
fn sanitise_display_name(name: &str) -> String {
    let replaced: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
    replaced.trim_end_matches('-').to_owned()
}

fn token_type(id: &str) -> &'static str {
    if id.starts_with(batch::PREFIX) {
        "batch"
    } else {
        "service"
    }
}

/// Vault's lookup object; `id` is the token as presented, or `""` for accessor lookups.
fn lookup_data(id: &str, record: &TokenRecord, now: i64) -> Value {
    let mut data = json!({
        "accessor": record.accessor, "creation_time": record.creation_time, "creation_ttl": record.creation_ttl,
        "display_name": record.display_name, "entity_id": record.entity_id,
        "expire_time": record.expire_time.map(crate::time::rfc3339),
        "explicit_max_ttl": record.explicit_max_ttl, "id": id,
        "issue_time": crate::time::rfc3339(record.creation_time), "meta": meta(record), "num_uses": record.num_uses,
        "orphan": record.orphan, "path": record.path, "policies": record.policies, "renewable": record.renewable,
        "ttl": record.expire_time.map_or(0, |at| (at - now).max(0)), "type": token_type(id),
    });
    // Vault shows these only once they have a value.
    if let Some(at) = record.last_renewal_time {
        data["last_renewal_time"] = json!(at);
        data["last_renewal"] = json!(crate::time::rfc3339(at));
    }
    if record.period > 0 {
        data["period"] = json!(record.period);
    }
    if !record.bound_cidrs.is_empty() {
        data["bound_cidrs"] = json!(record.bound_cidrs);
    }
    // A token role's name (login tokens keep their auth role in `meta`).
    if record.mount.is_empty() && !record.role.is_empty() {
        data["role"] = json!(record.role);
    }
    data
}

/// Token metadata as Vault shows it: `null` when there is none.
fn meta(record: &TokenRecord) -> Value {
    if record.meta.is_empty() {
        Value::Null
    } else {
        json!(record.meta)
    }
}

const NOT_RENEWABLE: &str = "batch tokens cannot be renewed";
const NOT_REVOCABLE: &str = "batch tokens cannot be revoked";

/// A token named by its value or by its accessor.
#[derive(Clone)]
enum Target {
    Token(String),
    Accessor(String),
}

fn required(body: &Body, field: &str, missing: &str) -> Result<String, Error> {
    fields::string(body, field)?.filter(|v| !v.is_empty()).ok_or_else(|| Error::BadRequest(missing.to_owned()))
}

fn auth_block(client_token: String, record: &TokenRecord, ttl: i64) -> Auth {
    let kind = token_type(&client_token);
    Auth {
        client_token,
        display_name: record.display_name.clone(),
        accessor: record.accessor.clone(),
        policies: record.policies.clone(),
        token_policies: record.policies.clone(),
        metadata: meta(record),
        lease_duration: ttl,
        renewable: record.renewable,
        entity_id: record.entity_id.clone(),
        token_type: kind.into(),
        orphan: record.orphan,
        mfa_requirement: Value::Null,
        num_uses: record.num_uses,
    }
}
