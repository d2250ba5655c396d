//! Handlers: decode, one call, encode. The dispatcher resolves the route, checks the token
//! against the route's access, and hands over.

use crate::acl::{self, Acl, Capability};
use crate::error::ApiError;
use crate::routes::{self, Access, Endpoint, Operation};
use crate::state::AppState;
use crate::wire::{self, Body, Envelope};
use crate::{config, ids, login, role, tokens};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use jwtgate_store::{Mount, TokenRecord, Tune};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The token types a mount can be tuned to (Vault's `config.token_type`).
const MOUNT_TOKEN_TYPES: [&str; 4] = ["default-service", "default-batch", "service", "batch"];

/// Runs blocking store work off the async workers.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(work).await.map_err(|e| ApiError::internal("run a blocking task", e))?
}

/// The client token from `X-Vault-Token` or `Authorization: Bearer`.
fn client_token(request: &HttpRequest) -> Option<String> {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    header("X-Vault-Token")
        .filter(|t| !t.is_empty())
        .or_else(|| header("Authorization").and_then(|v| v.strip_prefix("Bearer ")).map(str::trim))
        .map(str::to_owned)
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

/// Looks the presented token up and spends one use of it. `Ok(None)` when there is no live
/// token, or when it is bound to networks the request does not come from.
async fn authenticate(state: &Arc<AppState>, request: &HttpRequest) -> Result<Option<Caller>, ApiError> {
    let Some(token) = client_token(request) else { return Ok(None) };
    let now = state.now();
    let batch = token.starts_with(crate::batch::PREFIX);
    let record = if batch {
        state.sealer.open(&token, now)
    } else {
        let (store, lookup) = (state.store.clone(), token.clone());
        blocking(move || {
            let Some(record) = store.lookup_token(&lookup, now)? else { return Ok(None) };
            // Use-limited tokens spend a use per request; the last use revokes (exactly once).
            if record.num_uses > 0 && store.use_token(&lookup, now)? == jwtgate_store::UseOutcome::Refused {
                return Ok(None);
            }
            Ok(Some(record))
        })
        .await?
    };
    let Some(record) = record else { return Ok(None) };
    if !record.bound_cidrs.is_empty() {
        let peer = request.peer_addr().map(|a| a.ip());
        let allowed = peer.is_some_and(|ip| {
            record.bound_cidrs.iter().filter_map(|c| crate::cidr::Cidr::parse(c)).any(|c| c.contains(ip))
        });
        if !allowed {
            return Ok(None);
        }
    }
    let sudo = is_root(&record);
    Ok(Some(Caller { token, record, batch, sudo }))
}

/// `/v1/{path}`: every Vault path goes through here.
pub async fn dispatch(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let list_query = request.query_string().split('&').any(|kv| kv.eq_ignore_ascii_case("list=true"));
    let operation =
        Operation::from_method(request.method().as_str(), list_query).ok_or(ApiError::UnsupportedOperation)?;
    let mounts = state.mounts()?;
    let mount_paths: Vec<String> = mounts.iter().map(|m| m.path.clone()).collect();
    let presented = client_token(&request).is_some();
    let resolved = routes::resolve(&path, &mount_paths);
    // Public endpoints never look at a token: a stale one on a login is ignored, and a
    // use-limited one is not spent.
    let public = |endpoint: &Endpoint| {
        endpoint.access() == Access::Public || (*endpoint == Endpoint::Metrics && state.unauthenticated_metrics)
    };
    let mut caller = match &resolved {
        Ok(endpoint) if public(endpoint) => None,
        _ => authenticate(&state, &request).await?,
    };
    let endpoint = match resolved {
        Ok(endpoint) => endpoint,
        // Vault: an unknown path needs a token before it is admitted to be unknown.
        Err(error) if caller.as_ref().is_some_and(|c| is_root(&c.record)) => return Err(error),
        Err(_) if presented && caller.is_none() => return Err(ApiError::InvalidToken),
        Err(_) => return Err(ApiError::PermissionDenied),
    };
    let access = endpoint.access();
    if !public(&endpoint) {
        let caller = match &mut caller {
            Some(caller) => caller,
            None if presented => return Err(ApiError::InvalidToken),
            None => return Err(ApiError::PermissionDenied),
        };
        if !is_root(&caller.record) {
            let acl = acl_for(&state, &caller.record.policies).await?;
            // Vault checks list permissions on the path with a trailing slash.
            let acl_path = if operation == Operation::List {
                format!("{}/", path.trim_end_matches('/'))
            } else {
                path.trim_end_matches('/').to_owned()
            };
            let granted = acl.capabilities(&acl_path);
            let allowed = match operation {
                Operation::Read | Operation::Head => granted.contains(&Capability::Read),
                Operation::List => granted.contains(&Capability::List),
                Operation::Delete => granted.contains(&Capability::Delete),
                Operation::Write => granted.contains(&Capability::Create) || granted.contains(&Capability::Update),
            };
            if !allowed || (access == Access::Sudo && !granted.contains(&Capability::Sudo)) {
                return Err(ApiError::PermissionDenied);
            }
            caller.sudo = granted.contains(&Capability::Sudo);
        }
    }
    if !endpoint.operations().contains(&operation) {
        return Err(ApiError::UnsupportedOperation);
    }
    let limit = if matches!(endpoint, Endpoint::Login(_)) { wire::LOGIN_BODY_LIMIT } else { wire::BODY_LIMIT };
    let body = wire::read_body(payload, limit).await?;
    let mount_of = |path: &str| mounts.iter().find(|m| m.path == path).cloned();
    match endpoint {
        Endpoint::Health => health(&state, &request, operation).await,
        Endpoint::Init => init(&state, operation).await,
        Endpoint::AuthList => Ok(wire::json(&auth_list(&mounts))),
        Endpoint::AuthMount(path) => {
            auth_mount(&state, operation, &path, mount_of(path.trim_end_matches('/')), &body).await
        }
        Endpoint::TokenLookupSelf => tokens::lookup_self(&state, caller),
        Endpoint::TokenRenewSelf => tokens::renew_self(&state, caller, &body).await,
        Endpoint::TokenRevokeSelf => tokens::revoke_self(&state, caller).await,
        Endpoint::TokenAdmin(action) => tokens::admin(&state, action, caller, &body).await,
        Endpoint::Login(mount) => {
            let mount = mount_of(&mount).ok_or(ApiError::Internal)?;
            let peer = request.peer_addr().map(|a| a.ip());
            let started = std::time::Instant::now();
            let result = if mount.kind == "kubernetes" {
                crate::kubernetes::login(&state, &mount, &body, peer).await
            } else {
                login::login(&state, &mount, &body, peer).await
            };
            let outcome = match &result {
                Ok(_) => "success",
                Err(ApiError::PermissionDenied | ApiError::LoginDenied(_) | ApiError::Forbidden(_)) => "denied",
                Err(_) => "failure",
            };
            state.metrics.record_login(&mount.path, outcome, started.elapsed());
            result
        }
        Endpoint::Metrics => {
            let format = request.query_string().split('&').find_map(|kv| kv.strip_prefix("format="));
            if format != Some("prometheus") {
                return Err(ApiError::BadRequest("only format=prometheus is supported".into()));
            }
            let text = state.metrics.render(&state.fetch_counts(), state.store.token_records());
            Ok(HttpResponse::Ok()
                .insert_header(("Content-Type", "text/plain; version=0.0.4"))
                .insert_header(("Cache-Control", "no-store"))
                .body(text))
        }
        Endpoint::Config(mount) => {
            mount_config(&state, operation, &mount_of(&mount).ok_or(ApiError::Internal)?, &body).await
        }
        Endpoint::Roles(mount) => list_roles(&state, &mount).await,
        Endpoint::Role(mount, name) => {
            role_endpoint(&state, operation, mount_of(&mount).ok_or(ApiError::Internal)?, &name, &body).await
        }
        Endpoint::Policies => list_policies(&state).await,
        Endpoint::Policy(name) => policy_endpoint(&state, operation, &name, &body).await,
        Endpoint::AuthTune(path) => tune(&state, operation, mount_of(path.trim_matches('/')), &body).await,
    }
}

/// `sys/auth/<path>/tune`: read or change a mount's TTLs and token type.
async fn tune(
    state: &Arc<AppState>,
    operation: Operation,
    mount: Option<Mount>,
    body: &Body,
) -> Result<HttpResponse, ApiError> {
    let mut mount = mount.ok_or_else(|| ApiError::BadRequest("cannot fetch sysview for path".into()))?;
    if operation == Operation::Read {
        let tune = &mount.tune;
        let effective = |value: u64, system: i64| if value > 0 { value as i64 } else { system };
        return Ok(wire::json(&Envelope::data(
            json!({
                "default_lease_ttl": effective(tune.default_lease_ttl, state.default_lease_ttl),
                "max_lease_ttl": effective(tune.max_lease_ttl, state.max_lease_ttl),
                "force_no_cache": false, "token_type": tune.token_type, "description": mount.description,
            }),
            "system",
        )));
    }
    for field in ["default_lease_ttl", "max_lease_ttl"] {
        if let Some(seconds) = crate::fields::duration(body, field)? {
            let seconds = u64::try_from(seconds).map_err(|_| ApiError::BadRequest(format!("invalid {field}")))?;
            if seconds as i64 > state.max_lease_ttl {
                return Err(ApiError::BadRequest(format!("{field} cannot be greater than the system max lease TTL")));
            }
            if field == "default_lease_ttl" {
                mount.tune.default_lease_ttl = seconds
            } else {
                mount.tune.max_lease_ttl = seconds
            }
        }
    }
    if mount.tune.max_lease_ttl > 0 && mount.tune.default_lease_ttl > mount.tune.max_lease_ttl {
        return Err(ApiError::BadRequest("backend max lease TTL cannot be less than the default lease TTL".into()));
    }
    if let Some(kind) = crate::fields::string(body, "token_type")? {
        if !MOUNT_TOKEN_TYPES.contains(&kind.as_str()) {
            return Err(ApiError::BadRequest(format!("invalid token type {kind:?}")));
        }
        mount.tune.token_type = kind;
    }
    if let Some(description) = crate::fields::string(body, "description")? {
        mount.description = description;
    }
    let store = state.store.clone();
    blocking(move || Ok(store.put_mount(&mount)?)).await?;
    state.forget_mounts();
    Ok(wire::no_content())
}

/// The merged ACL of a token's policies; unknown policy names grant nothing.
async fn acl_for(state: &Arc<AppState>, names: &[String]) -> Result<Acl, ApiError> {
    let mut policies = Vec::new();
    for name in names {
        if let Some(policy) = state.cached_policy(name) {
            policies.push(policy);
            continue;
        }
        let (store, key) = (state.store.clone(), name.clone());
        let stored = blocking(move || Ok(store.get_policy(&key)?)).await?;
        let text = match stored {
            Some(stored) => stored.policy,
            None if name == "default" => acl::DEFAULT_POLICY.to_owned(),
            None => continue,
        };
        // Stored policies were parsed when written; a failure here is a corrupt record.
        let policy = Arc::new(acl::parse(&text).map_err(|e| ApiError::internal("parse a stored policy", e))?);
        state.cache_policy(name, Some(policy.clone()));
        policies.push(policy);
    }
    Ok(Acl::new(policies.iter().map(|p| p.as_ref())))
}

async fn list_policies(state: &Arc<AppState>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let mut names = blocking(move || Ok(store.list_policies()?)).await?;
    for builtin in ["default", "root"] {
        if !names.iter().any(|n| n == builtin) {
            names.push(builtin.to_owned());
        }
    }
    names.sort();
    Ok(wire::json(&Envelope::data(json!({ "keys": names, "policies": names }), "system")))
}

async fn policy_endpoint(
    state: &Arc<AppState>,
    operation: Operation,
    name: &str,
    body: &Body,
) -> Result<HttpResponse, ApiError> {
    let name = name.trim().to_lowercase();
    if name.is_empty() || name.contains('/') {
        return Err(ApiError::BadRequest("invalid policy name".into()));
    }
    let (store, key) = (state.store.clone(), name.clone());
    match operation {
        Operation::Read => {
            if name == "root" {
                return Err(ApiError::NotFound);
            }
            let stored = blocking(move || Ok(store.get_policy(&key)?)).await?;
            let text = match stored {
                Some(policy) => policy.policy,
                None if name == "default" => acl::DEFAULT_POLICY.to_owned(),
                None => return Err(ApiError::NotFound),
            };
            Ok(wire::json(&Envelope::data(json!({"name": name, "policy": text}), "system")))
        }
        Operation::Delete => {
            match name.as_str() {
                "root" => return Err(ApiError::BadRequest("cannot delete root policy".into())),
                "default" => return Err(ApiError::BadRequest("cannot delete default policy".into())),
                _ => {}
            }
            blocking(move || Ok(store.delete_policy(&key)?)).await?;
            state.cache_policy(&name, None);
            Ok(wire::no_content())
        }
        _ => {
            if name == "root" {
                return Err(ApiError::BadRequest("cannot update root policy".into()));
            }
            let text = crate::fields::string(body, "policy")?
                .filter(|p| !p.trim().is_empty())
                .ok_or_else(|| ApiError::BadRequest("'policy' parameter not supplied or empty".into()))?;
            let parsed = acl::parse(&text).map_err(|e| ApiError::BadRequest(format!("failed to parse policy: {e}")))?;
            let record = jwtgate_store::Policy { name: name.clone(), policy: text };
            blocking(move || Ok(store.put_policy(&record)?)).await?;
            state.cache_policy(&name, Some(Arc::new(parsed)));
            Ok(wire::no_content())
        }
    }
}

pub fn is_root(record: &TokenRecord) -> bool {
    record.policies.iter().any(|p| p == "root")
}

async fn health(state: &Arc<AppState>, request: &HttpRequest, operation: Operation) -> Result<HttpResponse, ApiError> {
    let query: Vec<(String, String)> = request
        .query_string()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    let mut codes = [("activecode", 200u16), ("uninitcode", 501), ("sealedcode", 503)];
    for (name, code) in &mut codes {
        if let Some((_, value)) = query.iter().find(|(k, _)| k == name) {
            *code = value
                .parse::<u16>()
                .ok()
                .filter(|c| (100..1000).contains(c))
                .ok_or_else(|| ApiError::BadRequest("bad code value".into()))?;
        }
    }
    // jwtgate is never a standby, but clients send these; Vault parses them case-insensitively.
    for name in ["standbyok", "perfstandbyok"] {
        if let Some((_, value)) = query.iter().find(|(k, _)| k == name) {
            if !["true", "false", "1", "0", "t", "f", ""].contains(&value.to_ascii_lowercase().as_str()) {
                return Err(ApiError::BadRequest(format!("bad value for {name} parameter")));
            }
        }
    }
    let store = state.store.clone();
    let (initialized, status) = match blocking(move || Ok(store.is_initialized()?)).await {
        Ok(true) => (Some(true), codes[0].1),
        Ok(false) => (Some(false), codes[1].1),
        // The store cannot answer: report unavailable, as a sealed Vault does.
        Err(_) => (None, codes[2].1),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    response.insert_header(("Cache-Control", "no-store")).insert_header(("Content-Type", "application/json"));
    if operation == Operation::Head {
        return Ok(response.finish());
    }
    let body = json!({
        "initialized": initialized.unwrap_or(false), "sealed": initialized.is_none(), "standby": false, "performance_standby": false,
        "replication_performance_mode": "disabled", "replication_dr_mode": "disabled",
        "server_time_utc": state.now(), "version": concat!("jwtgate-", env!("CARGO_PKG_VERSION")),
        "cluster_name": "jwtgate", "cluster_id": "00000000-0000-0000-0000-000000000000"
    });
    Ok(response.body(body.to_string()))
}

async fn init(state: &Arc<AppState>, operation: Operation) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    if operation == Operation::Read {
        let initialized = blocking(move || Ok(store.is_initialized()?)).await?;
        return Ok(wire::json(&json!({ "initialized": initialized })));
    }
    let now = state.now();
    let root = blocking(move || initialize(&store, now, None)).await?;
    match root {
        Some(root_token) => Ok(wire::json(&json!({"keys": [], "keys_base64": [], "root_token": root_token}))),
        None => Err(ApiError::BadRequest("Vault is already initialized".into())),
    }
}

/// Marks the store initialised and issues the root token; `None` if it already was.
pub fn initialize(
    store: &jwtgate_store::Store,
    now: i64,
    root_token: Option<String>,
) -> Result<Option<String>, ApiError> {
    if !store.mark_initialized()? {
        return Ok(None);
    }
    if store.get_policy("default")?.is_none() {
        store.put_policy(&jwtgate_store::Policy { name: "default".into(), policy: acl::DEFAULT_POLICY.into() })?;
    }
    let token = root_token.unwrap_or_else(ids::service_token);
    let record = TokenRecord {
        accessor: ids::accessor(),
        policies: vec!["root".into()],
        display_name: "root".into(),
        path: "auth/token/root".into(),
        creation_time: now,
        expire_time: None,
        orphan: true,
        ..TokenRecord::default()
    };
    store.create_token(&token, &record)?;
    Ok(Some(token))
}

fn mount_json(mount: &Mount) -> Value {
    json!({
        "type": mount.kind, "description": mount.description, "accessor": mount.accessor, "local": false,
        "seal_wrap": false, "external_entropy_access": false, "options": null, "uuid": mount.uuid,
        "plugin_version": "", "running_plugin_version": concat!("v", env!("CARGO_PKG_VERSION"), "+jwtgate"),
        "running_sha256": "", "deprecation_status": "supported",
        "config": {"default_lease_ttl": mount.tune.default_lease_ttl, "max_lease_ttl": mount.tune.max_lease_ttl,
                   "force_no_cache": false, "token_type": mount.tune.token_type}
    })
}

fn auth_list(mounts: &[Mount]) -> Value {
    let mut map = Map::new();
    let token_mount = Mount {
        path: "token".into(),
        kind: "token".into(),
        accessor: "auth_token_00000000".into(),
        uuid: "00000000-0000-0000-0000-000000000000".into(),
        description: "token based credentials".into(),
        tune: Tune { token_type: "default-service".into(), ..Tune::default() },
    };
    for mount in std::iter::once(&token_mount).chain(mounts) {
        map.insert(format!("{}/", mount.path), mount_json(mount));
    }
    // Vault puts the map both at the top level and in `data`.
    let mut body = serde_json::to_value(Envelope::data(Value::Object(map.clone()), "system")).unwrap_or_default();
    if let Value::Object(envelope) = &mut body {
        for (key, value) in map {
            envelope.insert(key, value);
        }
    }
    body
}

async fn auth_mount(
    state: &Arc<AppState>,
    operation: Operation,
    path: &str,
    existing: Option<Mount>,
    body: &Body,
) -> Result<HttpResponse, ApiError> {
    let path = path.trim_matches('/').to_owned();
    match operation {
        Operation::Read => existing.map(|m| wire::json(&mount_json(&m))).ok_or(ApiError::NotFound),
        Operation::Delete => {
            let store = state.store.clone();
            if existing.is_some() {
                let mount = path.clone();
                blocking(move || Ok(store.delete_mount(&mount)?)).await?;
                state.set_validator(&path, None)?;
                state.forget_mounts();
                state.forget(&path, None);
            }
            Ok(wire::no_content())
        }
        _ => {
            let kind = match body.get("type") {
                Some(Value::String(kind)) if !kind.is_empty() => kind.clone(),
                _ => return Err(ApiError::BadRequest("backend type must be specified as a string".into())),
            };
            if kind != "jwt" && kind != "kubernetes" {
                return Err(ApiError::BadRequest(format!("plugin not found in the catalog: {kind}")));
            }
            if path.is_empty()
                || path == "token"
                || path
                    .split('/')
                    .any(|s| s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
            {
                return Err(ApiError::BadRequest(format!("invalid mount path {path:?}")));
            }
            if existing.is_some() {
                return Err(ApiError::BadRequest(format!("path is already in use at {path}/")));
            }
            let tune_body = crate::fields::object(body, "config")?.unwrap_or_default();
            let ttl = |field: &str| -> Result<u64, ApiError> {
                let seconds = crate::fields::duration(&tune_body, field)?.unwrap_or(0);
                u64::try_from(seconds).map_err(|_| ApiError::BadRequest(format!("invalid {field}")))
            };
            let token_type = crate::fields::string(&tune_body, "token_type")?
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "default-service".into());
            if !MOUNT_TOKEN_TYPES.contains(&token_type.as_str()) {
                return Err(ApiError::BadRequest(format!("invalid token type {token_type:?}")));
            }
            let mount = Mount {
                path: path.clone(),
                kind: kind.clone(),
                accessor: format!("auth_{kind}_{}", ids::hex8()),
                uuid: ids::uuid(),
                description: crate::fields::string(body, "description")?.unwrap_or_default(),
                tune: Tune {
                    default_lease_ttl: ttl("default_lease_ttl")?,
                    max_lease_ttl: ttl("max_lease_ttl")?,
                    token_type,
                },
            };
            let store = state.store.clone();
            blocking(move || Ok(store.put_mount(&mount)?)).await?;
            state.forget_mounts();
            Ok(wire::no_content())
        }
    }
}

async fn mount_config(
    state: &Arc<AppState>,
    operation: Operation,
    mount: &Mount,
    body: &Body,
) -> Result<HttpResponse, ApiError> {
    let (kind, mount) = (mount.kind.as_str(), mount.path.as_str());
    let existing = state.config(mount)?.map(|config| config.as_ref().clone());
    if operation == Operation::Read {
        let mut stored = config::read(&existing.ok_or(ApiError::NotFound)?);
        crate::kubernetes::hide_reviewer_jwt(&mut stored);
        return Ok(wire::json(&Envelope::data(Value::Object(stored), kind)));
    }
    let (stored, known): (_, &[&str]) = if kind == "kubernetes" {
        (crate::kubernetes::write_config(body)?, &crate::kubernetes::CONFIG_KNOWN)
    } else {
        let mut stored = config::write(body, existing.as_ref())?;
        crate::kubernetes::write_jwt_fields(body, &mut stored)?;
        (stored, &config::KNOWN)
    };
    let validator = if kind == "kubernetes" {
        crate::kubernetes::pem_validator(&stored, state)?
    } else if config::is_oidc_flow(&stored) {
        None
    } else {
        let validator = jwtgate_verifier::Validator::new(&config::key_config(&stored), state.fetcher.clone())
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        // Vault contacts discovery and JWKS URLs at write time; so do we, with a helpful error.
        validator.check_remote().await.map_err(|e| ApiError::BadRequest(e.to_string()))?;
        Some(Arc::new(validator))
    };
    let (store, key, value) = (state.store.clone(), mount.to_owned(), Value::Object(stored));
    blocking(move || Ok(store.put_config(&key, &value)?)).await?;
    state.forget(mount, None);
    state.set_validator(mount, validator)?;
    match wire::unknown_fields_warning(body, known) {
        Some(warning) => Ok(wire::json(&Envelope::data(Value::Null, kind).with_warnings(vec![warning]))),
        None => Ok(wire::no_content()),
    }
}

async fn list_roles(state: &Arc<AppState>, mount: &str) -> Result<HttpResponse, ApiError> {
    let (store, key) = (state.store.clone(), mount.to_owned());
    let roles = blocking(move || Ok(store.list_roles(&key)?)).await?;
    if roles.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(wire::json(&Envelope::data(json!({ "keys": roles }), "jwt")))
}

async fn role_endpoint(
    state: &Arc<AppState>,
    operation: Operation,
    mount: Mount,
    name: &str,
    body: &Body,
) -> Result<HttpResponse, ApiError> {
    let name = name.to_lowercase();
    if !role::valid_name(&name) {
        return Err(ApiError::BadRequest(format!(
            "invalid role name {:?}",
            name.chars().take(128).collect::<String>()
        )));
    }
    let existing = state.role(&mount.path, &name)?.map(|role| role.stored.clone());
    let store = state.store.clone();
    match operation {
        Operation::Read => {
            let stored = existing.ok_or(ApiError::NotFound)?;
            let shape = if mount.kind == "kubernetes" { stored } else { role::read(&stored) };
            Ok(wire::json(&Envelope::data(Value::Object(shape), &mount.kind)))
        }
        Operation::Delete => {
            let (mount_path, role_name) = (mount.path.clone(), name.clone());
            blocking(move || Ok(store.delete_role(&mount_path, &role_name)?)).await?;
            state.forget(&mount.path, Some(&name));
            Ok(wire::no_content())
        }
        _ => {
            let mount_max =
                if mount.tune.max_lease_ttl > 0 { mount.tune.max_lease_ttl as i64 } else { state.max_lease_ttl };
            let ((stored, mut warnings), known): (_, &[&str]) = if mount.kind == "kubernetes" {
                (crate::kubernetes::write_role(existing, body, mount_max)?, &crate::kubernetes::ROLE_KNOWN)
            } else {
                (role::write(existing, body, mount_max)?, &role::KNOWN)
            };
            let known: Vec<&str> = known.iter().chain(&role::TOKEN_FIELDS).copied().collect();
            warnings.extend(wire::unknown_fields_warning(body, &known));
            let value = Value::Object(stored);
            let (mount_path, role_name) = (mount.path.clone(), name.clone());
            blocking(move || Ok(store.put_role(&mount_path, &role_name, &value)?)).await?;
            state.forget(&mount.path, Some(&name));
            if warnings.is_empty() {
                Ok(wire::no_content())
            } else {
                Ok(wire::json(&Envelope::data(Value::Null, &mount.kind).with_warnings(warnings)))
            }
        }
    }
}
