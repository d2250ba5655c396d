//! System paths (`sys/*`): health, init, auth mounts and their tuning.

pub mod info;
pub mod remount;

use crate::auth::{Change, Methods, METHOD_TYPES};
use crate::error::Error;
use crate::request::{Body, Operation, Request, Response};
use crate::token::blocking;
use crate::{acl, fields, ids};
use jwtgate_store::{Mount, Store, TokenRecord, Tune};
use serde_json::{json, Map, Value};

/// The token types a mount can be tuned to (Vault's `config.token_type`).
const MOUNT_TOKEN_TYPES: [&str; 4] = ["default-service", "default-batch", "service", "batch"];

/// `sys/health`: status codes chosen by the query, as Vault's.
pub async fn health(store: &std::sync::Arc<Store>, request: &Request, now: i64) -> Result<Response, Error> {
    let mut codes = [("activecode", 200u16), ("uninitcode", 501), ("sealedcode", 503)];
    for (name, code) in &mut codes {
        if let Some(value) = request.query(name) {
            *code = value
                .parse::<u16>()
                .ok()
                .filter(|c| (100..1000).contains(c))
                .ok_or_else(|| Error::BadRequest("bad code value".into()))?;
        }
    }
    // jwtgate is never a standby, but clients send these; Vault parses them case-insensitively.
    for name in ["standbyok", "perfstandbyok"] {
        if let Some(value) = request.query(name) {
            if !["true", "false", "1", "0", "t", "f", ""].contains(&value.to_ascii_lowercase().as_str()) {
                return Err(Error::BadRequest(format!("bad value for {name} parameter")));
            }
        }
    }
    let store = store.clone();
    let (initialized, status) = match blocking(move || Ok(store.is_initialized()?)).await {
        Ok(true) => (Some(true), codes[0].1),
        Ok(false) => (Some(false), codes[1].1),
        // The store cannot answer: report unavailable, as a sealed Vault does.
        Err(_) => (None, codes[2].1),
    };
    if request.operation == Operation::Head {
        return Ok(Response::Status(status));
    }
    let body = json!({
        "initialized": initialized.unwrap_or(false), "sealed": initialized.is_none(), "standby": false, "performance_standby": false,
        "replication_performance_mode": "disabled", "replication_dr_mode": "disabled",
        "server_time_utc": now, "version": concat!("jwtgate-", env!("CARGO_PKG_VERSION")),
        "cluster_name": "jwtgate", "cluster_id": "00000000-0000-0000-0000-000000000000"
    });
    Ok(Response::Json { status, body })
}

/// `sys/init`.
pub async fn init(store: &std::sync::Arc<Store>, operation: Operation, now: i64) -> Result<Response, Error> {
    let store = store.clone();
    if operation == Operation::Read {
        let initialized = blocking(move || Ok(store.is_initialized()?)).await?;
        return Ok(Response::json(json!({ "initialized": initialized })));
    }
    match blocking(move || initialize(&store, now, None)).await? {
        Some(root_token) => Ok(Response::json(json!({"keys": [], "keys_base64": [], "root_token": root_token}))),
        None => Err(Error::BadRequest("Vault is already initialized".into())),
    }
}

/// Marks the store initialised and issues the root token; `None` if it already was.
pub fn initialize(store: &Store, now: i64, root_token: Option<String>) -> Result<Option<String>, Error> {
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
    let builtin = mount.kind == "token";
    let mut config = json!({"default_lease_ttl": mount.tune.default_lease_ttl, "max_lease_ttl": mount.tune.max_lease_ttl,
                            "force_no_cache": false, "token_type": mount.tune.token_type});
    if !mount.tune.listing_visibility.is_empty() {
        config["listing_visibility"] = json!(mount.tune.listing_visibility);
    }
    let mut entry = json!({
        "type": mount.kind, "description": mount.description, "accessor": mount.accessor, "local": false,
        "seal_wrap": false, "external_entropy_access": false, "options": if builtin { Value::Null } else { json!({}) },
        "uuid": mount.uuid, "plugin_version": "",
        "running_plugin_version": concat!("v", env!("CARGO_PKG_VERSION"), "+jwtgate"), "running_sha256": "",
        "config": config,
    });
    if !builtin {
        entry["deprecation_status"] = json!("supported");
    }
    entry
}

/// The token store's mount accessor (it has no record).
pub const TOKEN_MOUNT_ACCESSOR: &str = "auth_token_00000000";

/// The token store's own mount, then every enabled one.
fn with_token_mount(mounts: &[Mount]) -> Vec<Mount> {
    let token_mount = Mount {
        path: "token".into(),
        kind: "token".into(),
        accessor: TOKEN_MOUNT_ACCESSOR.into(),
        uuid: "00000000-0000-0000-0000-000000000000".into(),
        description: "token based credentials".into(),
        tune: Tune { token_type: "default-service".into(), ..Tune::default() },
    };
    std::iter::once(token_mount).chain(mounts.iter().cloned()).collect()
}

/// `sys/auth`: the token mount and every enabled one.
pub fn auth_list(mounts: &[Mount]) -> Response {
    let mut map = Map::new();
    for mount in with_token_mount(mounts) {
        map.insert(format!("{}/", mount.path), mount_json(&mount));
    }
    match Response::data(Value::Object(map), "system") {
        Response::Logical(mut logical) => {
            logical.data_at_top_level = true;
            Response::Logical(logical)
        }
        other => other,
    }
}

/// `sys/auth/<path>`: read, enable, disable.
pub async fn auth_mount(methods: &Methods, operation: Operation, path: &str, body: &Body) -> Result<Response, Error> {
    let path = path.trim_matches('/').to_owned();
    let existing = methods.mount(&path)?;
    let store = methods.store().clone();
    match operation {
        Operation::Read => existing
            .map(|m| Response::data_also_at_top(mount_json(&m), "system"))
            .ok_or_else(|| Error::BadRequest(format!("No auth engine at {path}/"))),
        Operation::Delete => {
            if existing.is_some() {
                let mount = path.clone();
                blocking(move || Ok(store.delete_mount(&mount)?)).await?;
                methods.invalidate(Change::Mounts);
            }
            Ok(Response::NoContent)
        }
        _ => {
            let kind = match body.get("type") {
                Some(Value::String(kind)) if !kind.is_empty() => kind.clone(),
                _ => return Err(Error::BadRequest("backend type must be specified as a string".into())),
            };
            if !METHOD_TYPES.contains(&kind.as_str()) {
                return Err(Error::BadRequest(format!("plugin not found in the catalog: {kind}")));
            }
            if path == "token" {
                return Err(Error::BadRequest("path is already in use at token/".into()));
            }
            if !valid_mount_path(&path) {
                return Err(Error::BadRequest(format!("invalid mount path {path:?}")));
            }
            if existing.is_some() {
                return Err(Error::BadRequest(format!("path is already in use at {path}/")));
            }
            // Replication and seal wrapping do not exist here: refused, never stored and ignored.
            for flag in ["local", "seal_wrap", "external_entropy_access"] {
                if fields::boolean(body, flag)? == Some(true) {
                    return Err(Error::BadRequest(format!("{flag} is not supported by jwtgate")));
                }
            }
            if fields::object(body, "options")?.is_some_and(|o| o.contains_key("version")) {
                return Err(Error::BadRequest(format!("auth method {kind:?} does not allow setting a version")));
            }
            let tune_body = fields::object(body, "config")?.unwrap_or_default();
            let ttl = |field: &str| -> Result<u64, Error> {
                let seconds = fields::duration(&tune_body, field)?.unwrap_or(0);
                u64::try_from(seconds).map_err(|_| Error::BadRequest(format!("invalid {field}")))
            };
            let token_type = fields::string(&tune_body, "token_type")?
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "default-service".into());
            if !MOUNT_TOKEN_TYPES.contains(&token_type.as_str()) {
                return Err(Error::BadRequest("invalid value for 'token_type'".into()));
            }
            let (default_lease_ttl, max_lease_ttl) = (ttl("default_lease_ttl")?, ttl("max_lease_ttl")?);
            if max_lease_ttl > 0 && default_lease_ttl > max_lease_ttl {
                return Err(Error::BadRequest("given default lease TTL greater than given max lease TTL".into()));
            }
            let mount = Mount {
                path: path.clone(),
                kind: kind.clone(),
                accessor: format!("auth_{kind}_{}", ids::hex8()),
                uuid: ids::uuid(),
                description: fields::string(body, "description")?.unwrap_or_default(),
                tune: Tune {
                    default_lease_ttl,
                    max_lease_ttl,
                    token_type,
                    listing_visibility: listing_visibility(&tune_body)?.unwrap_or_default(),
                },
            };
            blocking(move || Ok(store.put_mount(&mount)?)).await?;
            methods.invalidate(Change::Mounts);
            Ok(Response::NoContent)
        }
    }
}

/// Segments of letters, digits, `-`, `_` and `.`, at most `MAX_NAME_LEN` in all: stricter
/// than Vault, which takes any bytes of any length.
fn valid_mount_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= crate::auth::MAX_NAME_LEN
        && path.split('/').all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
}

/// `sys/auth/<path>/tune`: read or change a mount's TTLs and token type.
pub async fn tune(methods: &Methods, operation: Operation, path: &str, body: &Body) -> Result<Response, Error> {
    let path = path.trim_matches('/');
    let token_mount = (path == "token").then(|| with_token_mount(&[]).remove(0));
    let mut mount = match token_mount {
        Some(mount) if operation == Operation::Read => mount,
        Some(_) => return Err(Error::BadRequest("tuning the token store is not supported by jwtgate".into())),
        None => methods
            .mount(path)?
            .ok_or_else(|| Error::BadRequest(format!("cannot fetch sysview for path \"auth/{path}/\"")))?,
    };
    let system = methods.system;
    if operation == Operation::Read {
        let (default_lease_ttl, max_lease_ttl) = system.effective(Some(&mount.tune));
        let mut data = json!({
            "default_lease_ttl": default_lease_ttl, "max_lease_ttl": max_lease_ttl,
            "force_no_cache": false, "token_type": mount.tune.token_type, "description": mount.description,
        });
        if !mount.tune.listing_visibility.is_empty() {
            data["listing_visibility"] = json!(mount.tune.listing_visibility);
        }
        return Ok(Response::data_also_at_top(data, "system"));
    }
    if let Some(visibility) = listing_visibility(body)? {
        mount.tune.listing_visibility = visibility;
    }
    // The vault CLI sends every tune field, empty unless given: only a value is refused.
    for unsupported in UNSUPPORTED_TUNE_FIELDS {
        let given = match body.get(*unsupported) {
            None | Some(Value::Null) => false,
            Some(Value::String(text)) => !text.is_empty(),
            Some(Value::Array(items)) => !items.is_empty(),
            Some(Value::Object(map)) => !map.is_empty(),
            Some(_) => true,
        };
        if given {
            return Err(Error::BadRequest(format!("{unsupported} is not supported by jwtgate")));
        }
    }
    for field in ["default_lease_ttl", "max_lease_ttl"] {
        if let Some(seconds) = fields::duration(body, field)? {
            let seconds = u64::try_from(seconds).map_err(|_| Error::BadRequest(format!("invalid {field}")))?;
            if seconds as i64 > system.max_lease_ttl {
                return Err(Error::BadRequest(format!("{field} cannot be greater than the system max lease TTL")));
            }
            if field == "default_lease_ttl" {
                mount.tune.default_lease_ttl = seconds
            } else {
                mount.tune.max_lease_ttl = seconds
            }
        }
    }
    if mount.tune.max_lease_ttl > 0 && mount.tune.default_lease_ttl > mount.tune.max_lease_ttl {
        return Err(Error::BadRequest(format!(
            "backend max lease TTL of {} would be less than backend default lease TTL of {}",
            mount.tune.max_lease_ttl, mount.tune.default_lease_ttl
        )));
    }
    if let Some(kind) = fields::string(body, "token_type")? {
        if !MOUNT_TOKEN_TYPES.contains(&kind.as_str()) {
            return Err(Error::BadRequest("invalid value for 'token_type'".into()));
        }
        mount.tune.token_type = kind;
    }
    if let Some(description) = fields::string(body, "description")? {
        mount.description = description;
    }
    let store = methods.store().clone();
    blocking(move || Ok(store.put_mount(&mount)?)).await?;
    methods.invalidate(Change::Mounts);
    Ok(Response::NoContent)
}

/// Tune fields Vault honours and jwtgate cannot (no audit devices, no plugins, no header
/// passing yet): refused rather than accepted and dropped.
const UNSUPPORTED_TUNE_FIELDS: &[&str] = &[
    "audit_non_hmac_request_keys",
    "audit_non_hmac_response_keys",
    "passthrough_request_headers",
    "allowed_response_headers",
    "plugin_version",
    "options",
];

/// `listing_visibility`: `unauth` or hidden (`""`/`hidden`), as Vault accepts.
fn listing_visibility(body: &Body) -> Result<Option<String>, Error> {
    match fields::string(body, "listing_visibility")?.as_deref() {
        None => Ok(None),
        Some("" | "hidden") => Ok(Some(String::new())),
        Some("unauth") => Ok(Some("unauth".into())),
        Some(other) => Err(Error::BadRequest(format!("invalid listing_visibility {other}"))),
    }
}
