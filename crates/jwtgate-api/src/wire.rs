//! Vault's response envelope and the body parsing Vault does: JSON whatever the Content-Type,
//! form-encoded bodies too, numbers kept exact.

use crate::error::ApiError;
use actix_web::http::header;
use actix_web::HttpResponse;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value};

/// A request body as a JSON object (empty when the body is empty).
pub type Body = Map<String, Value>;

/// Login bodies hold one JWT (Kubernetes tokens are 1–2 KiB).
pub const LOGIN_BODY_LIMIT: usize = 64 * 1024;
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Reads the payload up to `limit` bytes (413 past it, with or without Content-Length) and
/// parses it as Vault does.
pub async fn read_body(mut payload: actix_web::web::Payload, limit: usize) -> Result<Body, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => ApiError::PayloadTooLarge,
            other => ApiError::BadRequest(format!("error reading request body: {other}")),
        })?;
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    parse_body(&bytes)
}

/// JSON when it looks like JSON, else `application/x-www-form-urlencoded`.
pub fn parse_body(bytes: &[u8]) -> Result<Body, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ApiError::BadRequest("error parsing JSON".into()))?;
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Ok(Body::new());
    }
    if trimmed.starts_with('{') || trimmed.starts_with('[') || !trimmed.contains('=') {
        return match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(ApiError::BadRequest("error parsing JSON".into())),
        };
    }
    let mut body = Body::new();
    for pair in trimmed.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        body.insert(form_decode(key)?, Value::String(form_decode(value)?));
    }
    Ok(body)
}

fn form_decode(text: &str) -> Result<String, ApiError> {
    let bad = || ApiError::BadRequest("error parsing form body".into());
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// The `auth` block of a login or renewal.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Auth {
    pub client_token: String,
    pub accessor: String,
    pub policies: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub token_policies: Vec<String>,
    pub metadata: Map<String, Value>,
    pub lease_duration: i64,
    pub renewable: bool,
    pub entity_id: String,
    pub token_type: String,
    pub orphan: bool,
    pub mfa_requirement: Value,
    pub num_uses: i64,
}

/// Vault's envelope; every key is always present.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    pub request_id: String,
    pub lease_id: String,
    pub renewable: bool,
    pub lease_duration: i64,
    pub data: Value,
    pub wrap_info: Value,
    pub warnings: Option<Vec<String>>,
    pub auth: Option<Auth>,
    pub mount_type: String,
}

impl Envelope {
    pub fn data(data: Value, mount_type: &str) -> Envelope {
        Envelope {
            request_id: crate::ids::uuid(),
            lease_id: String::new(),
            renewable: false,
            lease_duration: 0,
            data,
            wrap_info: Value::Null,
            warnings: None,
            auth: None,
            mount_type: mount_type.to_owned(),
        }
    }

    pub fn auth(auth: Auth, mount_type: &str) -> Envelope {
        Envelope { auth: Some(auth), ..Envelope::data(Value::Null, mount_type) }
    }

    pub fn with_warnings(mut self, warnings: Vec<String>) -> Envelope {
        if !warnings.is_empty() {
            self.warnings = Some(warnings);
        }
        self
    }
}

/// 200 with a JSON body and Vault's headers.
pub fn json(body: &impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(serde_json::to_string(body).unwrap_or_default())
}

/// 204 for writes without data.
pub fn no_content() -> HttpResponse {
    HttpResponse::NoContent().insert_header((header::CACHE_CONTROL, "no-store")).finish()
}

/// Vault's warning for body fields a path does not take.
pub fn unknown_fields_warning(body: &Body, known: &[&str]) -> Option<String> {
    let mut unknown: Vec<&str> = body.keys().map(String::as_str).filter(|k| !known.contains(k)).collect();
    unknown.sort_unstable();
    (!unknown.is_empty()).then(|| format!("Endpoint ignored these unrecognized parameters: [{}]", unknown.join(" ")))
}
