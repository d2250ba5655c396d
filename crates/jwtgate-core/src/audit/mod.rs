//! Audit devices (`sys/audit`, `sys/audit/<path>`, `sys/audit-hash/<path>`): every request is
//! recorded before it is handled and its response after, in Vault's entry format, on every
//! enabled device. Fail closed: when devices are enabled and none of them can write the
//! request entry, the request is refused (500) and nothing happens.

pub mod entry;
mod sink;
pub mod trail;

use crate::error::Error;
use crate::fields;
use crate::request::{parse_bool, Body, Response};
use crate::token::blocking;
use aws_lc_rs::hmac;
use entry::Format;
use jwtgate_store::{AuditDevice, Store};
use serde_json::{json, Map, Value};
use sink::{Discard, FileSink, Sink, SocketKind, SocketSink, Stdout};
use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

/// One enabled device, ready to write.
pub struct Device {
    pub record: AuditDevice,
    pub format: Format,
    sink: Box<dyn Sink>,
}

/// The enabled devices, swapped whole on every change so a request writes both of its
/// entries to the devices it started with.
pub struct Audit {
    store: Arc<Store>,
    devices: RwLock<Arc<Vec<Arc<Device>>>>,
}

/// Options every device takes; each type adds its own.
const COMMON_OPTIONS: [&str; 5] = ["log_raw", "hmac_accessor", "elide_list_responses", "format", "prefix"];
const FILE_OPTIONS: [&str; 3] = ["file_path", "path", "mode"];
const SOCKET_OPTIONS: [&str; 3] = ["address", "socket_type", "write_timeout"];

impl Audit {
    /// Opens every stored device. One that cannot open now still counts as enabled and fails
    /// every write, so requests are refused rather than left unrecorded.
    pub fn load(store: Arc<Store>) -> Result<Audit, jwtgate_store::StoreError> {
        let devices = Audit::open_stored(&store, &[])?;
        Ok(Audit { store, devices: RwLock::new(Arc::new(devices)) })
    }

    /// Takes up the devices now stored (another replica enabled or disabled one); a device
    /// whose record is unchanged stays open as it is.
    pub fn reload(&self) -> Result<(), jwtgate_store::StoreError> {
        let next = Audit::open_stored(&self.store, &self.devices())?;
        *self.devices.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        Ok(())
    }

    fn open_stored(store: &Store, open: &[Arc<Device>]) -> Result<Vec<Arc<Device>>, jwtgate_store::StoreError> {
        let mut devices = Vec::new();
        for record in store.list_audit_devices()? {
            if let Some(device) = open.iter().find(|device| device.record == record) {
                devices.push(device.clone());
                continue;
            }
            let device = Device::open(record.clone()).unwrap_or_else(|error| {
                tracing::error!(device = %record.path, %error, "audit device failed to open; requests are refused");
                // Stored options were checked at enable; a corrupt record still loads, broken.
                let format = format(&record).unwrap_or(Format {
                    key: hmac::Key::new(hmac::HMAC_SHA256, record.salt.as_bytes()),
                    log_raw: false,
                    hmac_accessor: true,
                    elide_list_responses: false,
                    jsonx: false,
                    prefix: String::new(),
                });
                Device { format, record, sink: Box::new(Broken) }
            });
            devices.push(Arc::new(device));
        }
        Ok(devices)
    }

    /// The devices now enabled.
    pub fn devices(&self) -> Arc<Vec<Arc<Device>>> {
        self.devices.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Writes one entry (built per device: each hashes with its own key) to every device.
    /// Succeeds when there are none or when at least one device wrote it.
    pub fn write(devices: &[Arc<Device>], build: impl Fn(usize, &Format) -> Vec<u8>) -> Result<(), Error> {
        let mut written = devices.is_empty();
        for (index, device) in devices.iter().enumerate() {
            match device.sink.write(&build(index, &device.format)) {
                Ok(()) => written = true,
                Err(error) => tracing::error!(device = %device.record.path, %error, "audit device failed to write"),
            }
        }
        match written {
            true => Ok(()),
            false => Err(Error::internal("write an audit entry", "no audit device could write it")),
        }
    }

    /// Reopens every file device (SIGHUP, after log rotation renamed the files).
    pub fn reopen(&self) {
        for device in self.devices().iter() {
            if let Err(error) = device.sink.reopen() {
                tracing::error!(device = %device.record.path, %error, "audit device failed to reopen");
            }
        }
    }

    /// `GET sys/audit`.
    pub fn list(&self) -> Response {
        let mut listed = Map::new();
        for device in self.devices().iter() {
            let AuditDevice { path, kind, description, options, .. } = &device.record;
            listed.insert(
                format!("{path}/"),
                json!({"type": kind, "description": description, "options": options, "path": format!("{path}/"), "local": false}),
            );
        }
        Response::data_also_at_top(Value::Object(listed), "system")
    }

    /// `PUT sys/audit/<path>`: checks the options and opens the device before anything is
    /// stored, so a device that cannot write is never enabled.
    pub async fn enable(&self, path: &str, body: &Body) -> Result<Response, Error> {
        let path = path.trim_matches('/').to_owned();
        if path.is_empty() {
            return Err(Error::BadRequest("path is required".into()));
        }
        if path.len() > crate::auth::MAX_NAME_LEN {
            return Err(Error::BadRequest(format!("path is longer than {} bytes", crate::auth::MAX_NAME_LEN)));
        }
        let kind = fields::string(body, "type")?.unwrap_or_default();
        if fields::boolean(body, "local")?.unwrap_or(false) {
            return Err(Error::BadRequest("local audit devices are not supported by jwtgate".into()));
        }
        let options = options(body)?;
        let known: &[&str] = match kind.as_str() {
            "file" => &FILE_OPTIONS,
            "socket" => &SOCKET_OPTIONS,
            "" => return Err(Error::BadRequest("a type must be specified".into())),
            other => return Err(Error::BadRequest(format!("unknown backend type: {other:?}"))),
        };
        if let Some(unknown) =
            options.keys().find(|k| !known.contains(&k.as_str()) && !COMMON_OPTIONS.contains(&k.as_str()))
        {
            return Err(Error::BadRequest(format!("unknown option {unknown:?} for a {kind:?} audit device")));
        }
        let taken = self.devices().iter().any(|d| {
            let other = &d.record.path;
            other == &path || path.starts_with(&format!("{other}/")) || other.starts_with(&format!("{path}/"))
        });
        if taken {
            return Err(Error::BadRequest("path already in use".into()));
        }
        let mut salt = [0u8; 32];
        aws_lc_rs::rand::fill(&mut salt).map_err(|e| Error::internal("draw an audit salt", e))?;
        let description = fields::string(body, "description")?.unwrap_or_default();
        let record = AuditDevice { path, kind, description, options, salt: hex::encode(salt) };
        let device = blocking(move || Device::open(record)).await?;
        let (store, stored) = (self.store.clone(), device.record.clone());
        if !blocking(move || Ok(store.add_audit_device(&stored)?)).await? {
            return Err(Error::BadRequest("path already in use".into()));
        }
        let mut devices = self.devices.write().unwrap_or_else(PoisonError::into_inner);
        let mut next = devices.as_ref().clone();
        next.push(Arc::new(device));
        *devices = Arc::new(next);
        Ok(Response::NoContent)
    }

    /// `DELETE sys/audit/<path>`: 204 whether or not it was enabled, as Vault.
    pub async fn disable(&self, path: &str) -> Result<Response, Error> {
        let (store, key) = (self.store.clone(), path.trim_matches('/').to_owned());
        let removed = key.clone();
        blocking(move || Ok(store.delete_audit_device(&key)?)).await?;
        let mut devices = self.devices.write().unwrap_or_else(PoisonError::into_inner);
        let next: Vec<Arc<Device>> = devices.iter().filter(|d| d.record.path != removed).cloned().collect();
        *devices = Arc::new(next);
        Ok(Response::NoContent)
    }

    /// `sys/audit-hash/<path>`: the device's hash of `input`, to find a token's entries.
    pub fn hash(&self, path: &str, body: &Body) -> Result<Response, Error> {
        let path = path.trim_matches('/');
        let input = fields::string(body, "input")?
            .filter(|i| !i.is_empty())
            .ok_or_else(|| Error::BadRequest("the \"input\" parameter is empty".into()))?;
        let devices = self.devices();
        let device = devices
            .iter()
            .find(|d| d.record.path == path)
            .ok_or_else(|| Error::BadRequest(format!("unknown audit backend {path}/")))?;
        // `log_raw` devices write clear text; the hash is still the device's HMAC.
        Ok(Response::data_also_at_top(json!({ "hash": device.format.hmac(&input) }), "system"))
    }
}

impl Device {
    fn open(record: AuditDevice) -> Result<Device, Error> {
        let format = format(&record)?;
        let options = &record.options;
        let sink: Box<dyn Sink> =
            match record.kind.as_str() {
                "file" => {
                    let target = options.get("file_path").or_else(|| options.get("path")).cloned().unwrap_or_default();
                    let mode = match options.get("mode").map(String::as_str) {
                        None | Some("") => Some(0o600),
                        Some(text) => match u32::from_str_radix(text, 8) {
                            Ok(0) => None,
                            Ok(mode) if mode <= 0o777 => Some(mode),
                            _ => return Err(Error::BadRequest(format!("invalid mode {text:?}"))),
                        },
                    };
                    match target.as_str() {
                        "" => return Err(Error::BadRequest("file_path is required".into())),
                        "stdout" => Box::new(Stdout),
                        "discard" => Box::new(Discard),
                        file => Box::new(FileSink::open(file.into(), mode).map_err(|e| {
                            Error::BadRequest(format!("sanity check failed; unable to open {file:?} for writing: {e}"))
                        })?),
                    }
                }
                "socket" => {
                    let address = options
                        .get("address")
                        .filter(|a| !a.is_empty())
                        .ok_or_else(|| Error::BadRequest("address is required".into()))?;
                    let kind = options.get("socket_type").map_or("tcp", String::as_str);
                    let kind = SocketKind::parse(kind)
                        .ok_or_else(|| Error::BadRequest(format!("unsupported socket_type {kind:?}")))?;
                    let timeout = match options.get("write_timeout") {
                        None => 2,
                        Some(text) => fields::parse_duration(text)
                            .filter(|t| *t > 0)
                            .ok_or_else(|| Error::BadRequest(format!("invalid write_timeout {text:?}")))?,
                    };
                    let timeout = Duration::from_secs(timeout.unsigned_abs());
                    Box::new(SocketSink::connect(kind, address.clone(), timeout).map_err(|e| {
                        Error::BadRequest(format!("error connecting to the audit socket {address:?}: {e}"))
                    })?)
                }
                other => return Err(Error::BadRequest(format!("unknown backend type: {other:?}"))),
            };
        Ok(Device { record, format, sink })
    }
}

fn format(record: &AuditDevice) -> Result<Format, Error> {
    let flag = |name: &str, default: bool| match record.options.get(name) {
        None => Ok(default),
        Some(text) => parse_bool(text).ok_or_else(|| Error::BadRequest(format!("unable to parse {name:?}: {text:?}"))),
    };
    let jsonx = match record.options.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("jsonx") => true,
        Some(other) => return Err(Error::BadRequest(format!("unsupported \"format\": {other}"))),
    };
    let salt = hex::decode(&record.salt).map_err(|e| Error::internal("read an audit salt", e))?;
    Ok(Format {
        key: hmac::Key::new(hmac::HMAC_SHA256, &salt),
        log_raw: flag("log_raw", false)?,
        hmac_accessor: flag("hmac_accessor", true)?,
        elide_list_responses: flag("elide_list_responses", false)?,
        jsonx,
        prefix: record.options.get("prefix").cloned().unwrap_or_default(),
    })
}

/// `options`: a map whose values Vault reads as strings.
fn options(body: &Body) -> Result<BTreeMap<String, String>, Error> {
    let Some(value) = body.get("options").filter(|v| !v.is_null()) else { return Ok(BTreeMap::new()) };
    let map = value.as_object().ok_or_else(|| Error::BadRequest("options must be a map".into()))?;
    map.iter()
        .map(|(key, value)| {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Bool(_) | Value::Number(_) => value.to_string(),
                _ => return Err(Error::BadRequest(format!("option {key:?} must be a string"))),
            };
            Ok((key.clone(), text))
        })
        .collect()
}

/// A stored device that could not be opened: every write fails.
struct Broken;

impl Sink for Broken {
    fn write(&self, _: &[u8]) -> std::io::Result<()> {
        Err(std::io::Error::other("the audit device could not be opened"))
    }
}
