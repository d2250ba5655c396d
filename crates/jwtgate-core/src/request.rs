//! The typed request and response every stage of the pipeline sees: no HTTP types, so a later
//! stage (audit) can record and HMAC fields, and another transport can drive the same core.

use crate::error::Error;
use serde::Serialize;
use serde_json::{Map, Value};
use std::net::IpAddr;

/// A request body as a JSON object (empty when the body is empty).
pub type Body = Map<String, Value>;

/// Login bodies hold one JWT (Kubernetes tokens are 1–2 KiB).
pub const LOGIN_BODY_LIMIT: usize = 64 * 1024;
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The operation, from the HTTP method (PUT and POST alike; `LIST` or `GET ?list=true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Read,
    Write,
    Delete,
    List,
    Head,
}

impl Operation {
    pub fn from_method(method: &str, list_query: bool) -> Option<Operation> {
        Some(match method {
            "GET" if list_query => Operation::List,
            "GET" => Operation::Read,
            "PUT" | "POST" => Operation::Write,
            "DELETE" => Operation::Delete,
            "LIST" => Operation::List,
            "HEAD" => Operation::Head,
            _ => return None,
        })
    }
}

/// One Vault request, as the transport received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// A UUID, answered as the envelope's `request_id`.
    pub id: String,
    pub operation: Operation,
    /// After `/v1/`, as sent.
    pub path: String,
    /// `X-Vault-Token` or `Authorization: Bearer`.
    pub token: Option<String>,
    pub peer: Option<IpAddr>,
    /// The peer's port (0 when unknown), for audit entries.
    pub peer_port: u16,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The raw body; parsed (JSON, or form-encoded) only once the request is admitted.
    pub body: Vec<u8>,
    /// `X-Vault-Namespace`: only the root namespace exists here.
    pub namespace: Option<String>,
    /// `X-Vault-Wrap-TTL`: the answer is to come back wrapped, for this long.
    pub wrap_ttl: Option<String>,
}

impl Request {
    /// The first value of a query parameter (names compared case-insensitively, as Vault's
    /// health handler does).
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A fresh request id.
pub fn new_id() -> String {
    crate::ids::uuid()
}

/// Query parameters, percent- and `+`-decoded.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// Go's `strconv.ParseBool`, which Vault uses for `?list=`.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// JSON when it looks like JSON, else `application/x-www-form-urlencoded`, whatever the
/// Content-Type (as Vault).
pub fn parse_body(bytes: &[u8]) -> Result<Body, Error> {
    let text = std::str::from_utf8(bytes).map_err(|_| Error::BadRequest("error parsing JSON".into()))?;
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Ok(Body::new());
    }
    if trimmed.starts_with('{') || trimmed.starts_with('[') || !trimmed.contains('=') {
        return match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(Error::BadRequest("error parsing JSON".into())),
        };
    }
    if !well_formed_form(trimmed) {
        return Err(Error::BadRequest("error parsing form body".into()));
    }
    let mut body = Body::new();
    for (key, value) in form_urlencoded::parse(trimmed.as_bytes()) {
        if key.contains('\u{FFFD}') || value.contains('\u{FFFD}') {
            return Err(Error::BadRequest("error parsing form body".into()));
        }
        // A repeated key is a list, as Go's form values are.
        let value = Value::String(value.into_owned());
        match body.get_mut(key.as_ref()) {
            Some(Value::Array(items)) => items.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
            None => {
                body.insert(key.into_owned(), value);
            }
        }
    }
    Ok(body)
}

/// Go's form parser refuses a `%` not followed by two hex digits; `form_urlencoded` passes it.
fn well_formed_form(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'%')
        .all(|(i, _)| bytes.get(i + 1..i + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)))
}

/// The `auth` block of a login, a created token or a renewal.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Auth {
    pub client_token: String,
    /// Not in Vault's `auth` block; audit entries show it.
    #[serde(skip)]
    pub display_name: String,
    pub accessor: String,
    pub policies: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub token_policies: Vec<String>,
    /// `null` when empty, as Vault sends it.
    pub metadata: Value,
    pub lease_duration: i64,
    pub renewable: bool,
    pub entity_id: String,
    pub token_type: String,
    pub orphan: bool,
    pub mfa_requirement: Value,
    pub num_uses: i64,
}

/// What a handled request answers. Moved once per request, so its size does not matter.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Response {
    /// Vault's envelope around data, an auth block and warnings.
    Logical(Logical),
    /// 204: a write without data.
    NoContent,
    /// A JSON document outside the envelope (`sys/init`, `sys/health`, a mount's read).
    Json { status: u16, body: Value },
    /// `sys/health` answered to HEAD: a status and no body.
    Status(u16),
    /// Prometheus text.
    Text { content_type: &'static str, body: String },
}

/// The envelope's content.
#[derive(Debug, Clone, PartialEq)]
pub struct Logical {
    pub data: Value,
    pub auth: Option<Auth>,
    pub warnings: Vec<String>,
    pub mount_type: String,
    /// `sys/auth` repeats `data`'s keys at the top level, as Vault's list does.
    pub data_at_top_level: bool,
    /// A wrapped answer's wrapping token (and nothing else is set); `null` otherwise.
    pub wrap_info: Value,
}

impl Logical {
    /// Vault's envelope as sent: every key always present, in Vault's order.
    pub fn envelope(self, request_id: &str) -> String {
        let Logical { data, auth, warnings, mount_type, data_at_top_level, wrap_info } = self;
        let top_level = match &data {
            Value::Object(map) if data_at_top_level => map.clone(),
            _ => Map::new(),
        };
        let envelope = Envelope {
            request_id,
            lease_id: "",
            renewable: false,
            lease_duration: 0,
            data,
            wrap_info,
            warnings: (!warnings.is_empty()).then_some(warnings),
            auth,
            mount_type,
            top_level,
        };
        serde_json::to_string(&envelope).unwrap_or_default()
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    request_id: &'a str,
    lease_id: &'static str,
    renewable: bool,
    lease_duration: i64,
    data: Value,
    wrap_info: Value,
    warnings: Option<Vec<String>>,
    auth: Option<Auth>,
    mount_type: String,
    #[serde(flatten)]
    top_level: Map<String, Value>,
}

impl Response {
    fn logical(data: Value, auth: Option<Auth>, warnings: Vec<String>, mount_type: &str) -> Response {
        Response::Logical(Logical {
            data,
            auth,
            warnings,
            mount_type: mount_type.to_owned(),
            data_at_top_level: false,
            wrap_info: Value::Null,
        })
    }

    pub fn data(data: Value, mount_type: &str) -> Response {
        Response::logical(data, None, Vec::new(), mount_type)
    }

    /// As [`Response::data`], with `data`'s keys repeated at the top level (Vault's older sys
    /// endpoints answer both ways, and clients read either).
    pub fn data_also_at_top(data: Value, mount_type: &str) -> Response {
        Response::Logical(Logical {
            data,
            auth: None,
            warnings: Vec::new(),
            mount_type: mount_type.to_owned(),
            data_at_top_level: true,
            wrap_info: Value::Null,
        })
    }

    pub fn auth(auth: Auth, mount_type: &str, warnings: Vec<String>) -> Response {
        Response::logical(Value::Null, Some(auth), warnings, mount_type)
    }

    /// 204, or the warnings in an envelope when there are any (Vault's write answers).
    pub fn written(warnings: Vec<String>, mount_type: &str) -> Response {
        if warnings.is_empty() {
            return Response::NoContent;
        }
        Response::logical(Value::Null, None, warnings, mount_type)
    }

    pub fn json(body: Value) -> Response {
        Response::Json { status: 200, body }
    }
}

/// Vault's warning for body fields a path does not take.
pub fn unknown_fields_warning(body: &Body, known: &[&str]) -> Option<String> {
    let mut unknown: Vec<&str> = body.keys().map(String::as_str).filter(|k| !known.contains(k)).collect();
    unknown.sort_unstable();
    (!unknown.is_empty()).then(|| format!("Endpoint ignored these unrecognized parameters: [{}]", unknown.join(" ")))
}
