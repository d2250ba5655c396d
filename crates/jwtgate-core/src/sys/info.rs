//! The status and discovery endpoints real clients probe: `sys/seal-status`, `sys/leader`,
//! `sys/capabilities*` and `sys/internal/ui/mounts`.

use super::mount_json;
use crate::acl::Acl;
use crate::error::Error;
use crate::fields;
use crate::request::{Body, Response};
use crate::token::blocking;
use jwtgate_store::{Mount, Store};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// `sys/seal-status`. jwtgate has no seal: once initialised it is unsealed, with one key share
/// as a dev-mode Vault reports.
pub async fn seal_status(store: &Arc<Store>) -> Result<Response, Error> {
    let store = store.clone();
    let initialized = blocking(move || Ok(store.is_initialized()?)).await?;
    let shares = u8::from(initialized);
    Ok(Response::json(json!({
        "type": "shamir", "initialized": initialized, "sealed": !initialized, "t": shares, "n": shares,
        "progress": 0, "nonce": "", "version": concat!("jwtgate-", env!("CARGO_PKG_VERSION")),
        "build_date": "", "migration": false, "cluster_name": "jwtgate",
        "cluster_id": "00000000-0000-0000-0000-000000000000", "recovery_seal": false, "storage_type": "sled"
    })))
}

/// `sys/leader`: one node, no HA, as a Vault without an HA backend answers.
pub fn leader() -> Response {
    Response::json(json!({
        "ha_enabled": false, "is_self": false, "active_time": "0001-01-01T00:00:00Z", "leader_address": "",
        "leader_cluster_address": "", "performance_standby": false, "performance_standby_last_remote_wal": 0
    }))
}

/// The paths a `sys/capabilities*` request asks about (`paths`, or the older `path`).
pub fn capability_paths(body: &Body) -> Result<Vec<String>, Error> {
    let paths = match fields::strings(body, "paths")? {
        Some(paths) if !paths.is_empty() => paths,
        _ => fields::strings(body, "path")?.unwrap_or_default(),
    };
    if paths.is_empty() {
        return Err(Error::BadRequest("missing paths".into()));
    }
    Ok(paths)
}

/// Each path's capabilities for a token with `policies` (`root`, or `deny` when none), and
/// `capabilities` for the first path as older clients read it.
pub fn capabilities(acl: Option<&Acl>, paths: &[String]) -> Response {
    let mut data = Map::new();
    for path in paths {
        let names: Vec<&str> = match acl {
            None => vec!["root"],
            Some(acl) => {
                let mut names: Vec<&str> = acl.capabilities(path).into_iter().map(|c| c.name()).collect();
                names.sort_unstable();
                if names.is_empty() || names.contains(&"deny") {
                    names = vec!["deny"];
                }
                names
            }
        };
        if paths.len() == 1 {
            data.insert("capabilities".into(), json!(names));
        }
        data.insert(path.clone(), json!(names));
    }
    Response::data_also_at_top(Value::Object(data), "system")
}

/// `sys/internal/ui/mounts[/auth/<path>]`: the auth mounts the caller can reach (all for
/// root; none without a token, as no mount is tuned `listing_visibility=unauth`).
pub fn ui_mounts(mounts: &[Mount], acl: Option<Option<&Acl>>, one: Option<&str>) -> Result<Response, Error> {
    let visible = |mount: &Mount| match acl {
        None => false,
        Some(None) => true,
        Some(Some(acl)) => acl.reaches(&format!("auth/{}/", mount.path)),
    };
    let all = super::with_token_mount(mounts);
    if let Some(path) = one {
        let path = path.trim_matches('/');
        let mount = path
            .strip_prefix("auth/")
            .and_then(|p| all.iter().find(|m| m.path == p.trim_matches('/')))
            .filter(|m| visible(m))
            .ok_or(Error::PermissionDenied)?;
        let mut entry = mount_json(mount);
        entry["path"] = json!(format!("{}/", mount.path));
        return Ok(Response::data(entry, "system"));
    }
    let mut auth = Map::new();
    for mount in all.iter().filter(|m| visible(m)) {
        auth.insert(format!("{}/", mount.path), mount_json(mount));
    }
    Ok(Response::data(json!({"auth": auth, "secret": {}}), "system"))
}
