//! `sys/remount` (`vault auth move`) and `sys/remount/status/<id>`. Vault queues the move and
//! reports it by migration id; here the move is one store batch, finished when the call
//! returns, and its status is kept for the clients that poll it.

use crate::auth::{Change, Methods};
use crate::error::Error;
use crate::request::{Body, Response};
use crate::token::blocking;
use crate::{fields, ids};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

/// Vault's protected mounts: nothing moves from or to them.
const PROTECTED: [&str; 5] = ["audit/", "auth/token/", "sys/", "cubbyhole/", "identity/"];
/// Statuses kept, newest last (Vault keeps them in memory too).
const KEPT: usize = 100;

#[derive(Default)]
pub struct Migrations(Mutex<VecDeque<(String, Value)>>);

impl Migrations {
    fn record(&self, id: String, info: Value) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() == KEPT {
            kept.pop_front();
        }
        kept.push_back((id, info));
    }

    /// `sys/remount/status/<id>`.
    pub fn status(&self, id: &str) -> Result<Response, Error> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (_, info) = kept.iter().find(|(kept_id, _)| kept_id == id).ok_or(Error::NotFound)?;
        Ok(Response::data(json!({"migration_id": id, "migration_info": info}), "system"))
    }
}

/// Vault's `sanitizePath`: no leading slash, one trailing slash.
fn sanitise(path: &str) -> String {
    format!("{}/", path.trim_matches('/'))
}

/// `sys/remount`: moves an auth mount, its config and roles, revoking the tokens it issued.
pub async fn remount(methods: &Methods, migrations: &Migrations, body: &Body) -> Result<Response, Error> {
    // Strings, weakly decoded as Vault's field data is (`5` is the path `5/`).
    let text = |field: &str| fields::string(body, field).ok().flatten().filter(|t| !t.is_empty()).map(|t| sanitise(&t));
    let (Some(from), Some(to)) = (text("from"), text("to")) else {
        return Err(Error::BadRequest("both 'from' and 'to' path must be specified as a string".into()));
    };
    // Vault's order: the auth/non-auth boundary, protected mounts, the source, a conflict.
    match (from.starts_with("auth/"), to.starts_with("auth/")) {
        (true, false) => return Err(Error::BadRequest(format!("cannot remount auth mount to non-auth mount {to:?}"))),
        (false, true) => return Err(Error::BadRequest(format!("cannot remount to destination {to}"))),
        _ => {}
    }
    for protected in PROTECTED {
        if from.starts_with(protected) {
            return Err(Error::BadRequest(format!("cannot remount {from:?}")));
        }
        if to.starts_with(protected) {
            return Err(Error::BadRequest(format!("cannot remount to destination {to:?}")));
        }
    }
    // jwtgate serves auth mounts only, so any other source matches nothing.
    let mounts = methods.mounts()?;
    let source = from
        .strip_prefix("auth/")
        .and_then(|path| mounts.iter().find(|m| format!("{}/", m.path) == path))
        .ok_or_else(|| Error::BadRequest(format!("no matching mount at {from:?}")))?;
    let conflict = mounts
        .iter()
        .map(|m| format!("auth/{}/", m.path))
        .find(|existing| to.starts_with(existing.as_str()) || existing.starts_with(to.as_str()));
    if let Some(existing) = conflict {
        return Err(Error::BadRequest(format!("path already in use at {existing:?}")));
    }
    let target = to.trim_start_matches("auth/").trim_end_matches('/');
    if !super::valid_mount_path(target) {
        return Err(Error::BadRequest(format!("invalid mount path {target:?}")));
    }
    let mut moved = source.clone();
    moved.path = target.to_owned();
    let (store, old) = (methods.store().clone(), source.path.clone());
    let revoked = blocking(move || Ok(store.move_mount(&old, &moved)?)).await;
    methods.invalidate(Change::Mounts);
    let revoked = revoked?;
    tracing::info!(from = %from, to = %to, revoked, "auth mount moved");
    let id = ids::uuid();
    migrations.record(id.clone(), json!({"source_mount": from, "target_mount": to, "status": "success"}));
    let mut response = Response::data_also_at_top(json!({ "migration_id": id }), "system");
    if let Response::Logical(logical) = &mut response {
        logical.warnings.push(
            "Mount move has been queued. Progress will be reported in Vault's server log, tagged with the returned migration_id"
                .into(),
        );
    }
    Ok(response)
}
