//! One request's way through the audit devices: what is known of it as the pipeline learns
//! it (mount, caller, body), the request entry written before the request is handled, and the
//! response entry after. With no device enabled every call is a no-op.

use super::entry::{operation_name, Caller, MountInfo, RequestInfo, ResponseInfo};
use super::{Audit, Device};
use crate::error::Error;
use crate::request::{parse_body, Body, Request, Response};
use jwtgate_store::TokenRecord;
use serde_json::{json, Value};
use std::sync::Arc;

pub struct Trail {
    devices: Arc<Vec<Arc<Device>>>,
    info: RequestInfo,
    caller: Option<Caller>,
    request_written: bool,
    /// Enabling or disabling a device goes ahead when no device can write, so an operator
    /// can replace a failing one without a restart; the failure is still logged.
    recovery: bool,
    /// Each device's serialised `request` part, shared by both entries.
    sections: Vec<Vec<u8>>,
}

impl Trail {
    pub fn new(devices: Arc<Vec<Arc<Device>>>, request: &Request) -> Trail {
        let info = if devices.is_empty() {
            RequestInfo::default()
        } else {
            RequestInfo {
                id: request.id.clone(),
                operation: operation_name(request.operation),
                path: request.path.clone(),
                remote_address: request.peer.map(|ip| ip.to_string()).unwrap_or_default(),
                remote_port: request.peer_port,
                wrap_ttl: crate::token::wrapping::requested_ttl(request.wrap_ttl.as_deref()).ok().flatten(),
                ..RequestInfo::default()
            }
        };
        Trail { devices, info, caller: None, request_written: false, recovery: false, sections: Vec::new() }
    }

    /// Whether any device is enabled (the pipeline skips gathering what no one records).
    pub fn is_on(&self) -> bool {
        !self.devices.is_empty()
    }

    pub fn mount(&mut self, mount: MountInfo) {
        self.info.mount = mount;
    }

    /// Marks a request that changes the audit devices themselves.
    pub fn recovery(&mut self) {
        self.recovery = true;
    }

    /// The token the request came with, once authenticated.
    pub fn caller(&mut self, token: &str, record: &TokenRecord) {
        if self.is_on() {
            self.caller = Some(caller(token, record));
        }
    }

    /// Writes the request entry, before the request is handled: if no device takes it, the
    /// request is refused and nothing happens.
    pub fn request(&mut self, body: &Body, time: impl FnOnce() -> String) -> Result<(), Error> {
        if !self.is_on() {
            return Ok(());
        }
        let time = &time();
        self.request_written = true;
        self.serialise_sections(Some(body));
        let (caller, info, sections) = (self.caller.as_ref(), &self.info, &self.sections);
        let written =
            Audit::write(&self.devices, |i, format| format.line(time, caller, true, info, &sections[i], None, None));
        if self.recovery {
            return Ok(());
        }
        written
    }

    /// Writes the response entry (and, for a request refused before it was handled, its
    /// request entry first). A success that no device could record becomes a 500.
    pub fn finish(mut self, request: &Request, result: Result<Response, Error>, time: &str) -> Result<Response, Error> {
        if !self.is_on() {
            return result;
        }
        let error = result.as_ref().err().map(ToString::to_string);
        let allowed = !matches!(result, Err(Error::PermissionDenied | Error::InvalidToken));
        if !self.request_written {
            self.serialise_sections(parse_body(&request.body).ok().as_ref());
            let (caller, info, sections) = (self.caller.as_ref(), &self.info, &self.sections);
            let written = Audit::write(&self.devices, |i, f| {
                f.line(time, caller, allowed, info, &sections[i], None, error.as_deref())
            });
            if result.is_ok() {
                written?;
            }
        }
        let response = result.as_ref().map(response_info).unwrap_or_default();
        let (caller, info, sections) = (self.caller.as_ref(), &self.info, &self.sections);
        let written = Audit::write(&self.devices, |i, format| {
            format.line(time, caller, allowed, info, &sections[i], Some(&response), error.as_deref())
        });
        match result {
            Ok(answer) if self.recovery => Ok(answer),
            Ok(answer) => written.map(|()| answer),
            Err(refused) => Err(refused),
        }
    }

    fn serialise_sections(&mut self, body: Option<&Body>) {
        let (caller, info) = (self.caller.as_ref(), &self.info);
        self.sections = self.devices.iter().map(|d| d.format.request_section(info, caller, body)).collect();
    }
}

fn caller(token: &str, record: &TokenRecord) -> Caller {
    Caller {
        client_token: token.to_owned(),
        accessor: record.accessor.clone(),
        display_name: record.display_name.clone(),
        policies: record.policies.clone(),
        metadata: if record.meta.is_empty() { Value::Null } else { json!(record.meta) },
        entity_id: record.entity_id.clone(),
        token_type: if token.starts_with(crate::token::batch::PREFIX) { "batch" } else { "service" },
        token_ttl: record.creation_ttl,
        token_issue_time: crate::time::rfc3339(record.creation_time),
    }
}

fn response_info(response: &Response) -> ResponseInfo<'_> {
    match response {
        Response::Logical(logical) => ResponseInfo {
            auth: logical.auth.as_ref().map(|auth| Caller {
                client_token: auth.client_token.clone(),
                accessor: auth.accessor.clone(),
                display_name: auth.display_name.clone(),
                policies: auth.policies.clone(),
                metadata: auth.metadata.clone(),
                entity_id: auth.entity_id.clone(),
                token_type: if auth.token_type == "batch" { "batch" } else { "service" },
                token_ttl: auth.lease_duration,
                token_issue_time: String::new(),
            }),
            data: Some(&logical.data),
            wrap_info: Some(&logical.wrap_info).filter(|w| !w.is_null()),
            warnings: &logical.warnings,
        },
        Response::Json { body, .. } => ResponseInfo { data: Some(body), ..ResponseInfo::default() },
        _ => ResponseInfo::default(),
    }
}
