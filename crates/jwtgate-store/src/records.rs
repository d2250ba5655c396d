//! What is stored, and how records are versioned: every value is `{"v":N,"data":...}` and is
//! upgraded to the current shape on read, so old databases keep opening.

use crate::error::StoreError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The record version this build writes.
pub const RECORD_VERSION: u32 = 1;

/// An enabled auth method (`sys/auth/<path>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Without the trailing slash, e.g. `jwt` or `jwt/cluster-a`.
    pub path: String,
    /// `jwt` or `kubernetes`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `auth_<type>_<8 hex>`.
    pub accessor: String,
    pub uuid: String,
    pub description: String,
    pub tune: Tune,
}

/// A mount's tuning (`sys/auth/<path>/tune`); 0 means the system value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tune {
    pub default_lease_ttl: u64,
    pub max_lease_ttl: u64,
    /// `default-service`, `default-batch`, `service` or `batch`.
    pub token_type: String,
    /// `unauth` lists the mount in `sys/internal/ui/mounts` without a token; `""` hidden.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub listing_visibility: String,
}

/// An enabled audit device (`sys/audit/<path>`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDevice {
    /// Without the trailing slash.
    pub path: String,
    /// `file` or `socket`.
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub options: BTreeMap<String, String>,
    /// The device's own HMAC key (32 random bytes, hex): never the one that keys token records,
    /// so an audit line never equals a database key.
    pub salt: String,
}

impl std::fmt::Debug for AuditDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditDevice").field("path", &self.path).field("type", &self.kind).finish_non_exhaustive()
    }
}

/// An ACL policy in Vault's HCL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    pub policy: String,
}

/// A service token. The token itself is never stored: records are keyed by its salted HMAC.
/// Empty fields are left out on disk (every login writes one of these) and default on read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenRecord {
    pub accessor: String,
    pub policies: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
    pub display_name: String,
    /// The request path that created it, e.g. `auth/jwt/login`.
    pub path: String,
    /// The auth mount that issued it (`""` for the token store); revoked with that mount.
    pub mount: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub role: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub entity_id: String,
    /// Unix seconds.
    pub creation_time: i64,
    pub creation_ttl: i64,
    /// Absolute Unix seconds; `None` never expires (root tokens).
    pub expire_time: Option<i64>,
    #[serde(skip_serializing_if = "is_zero")]
    pub explicit_max_ttl: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub period: i64,
    /// Remaining uses: 0 unlimited, -1 spent (revocation in progress).
    #[serde(skip_serializing_if = "is_zero")]
    pub num_uses: i64,
    pub renewable: bool,
    pub orphan: bool,
    /// The parent token's stored key (its salted HMAC); empty for orphans. Revoking the parent
    /// revokes this token, and a token whose parent is gone is not live.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub parent: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bound_cidrs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_renewal_time: Option<i64>,
    /// A response-wrapping token's wrapped answer, sealed under a key only the token derives
    /// (base64); empty for every other token.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub wrapped: String,
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

/// Secrets that seal self-contained batch tokens; the newest key seals, every key opens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRing {
    pub keys: Vec<RingKey>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingKey {
    pub id: u32,
    pub created: i64,
    /// 32 random bytes, base64.
    pub secret: String,
}

impl std::fmt::Debug for RingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingKey").field("id", &self.id).field("created", &self.created).finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct EnvelopeOut<'a, T> {
    v: u32,
    data: &'a T,
}

#[derive(Deserialize)]
struct EnvelopeIn {
    v: u32,
    data: serde_json::Value,
}

#[derive(Deserialize)]
struct Current<T> {
    data: T,
}

/// How every current-version record starts (`encode` writes `v` first).
const CURRENT_PREFIX: &[u8] = b"{\"v\":1,\"data\":";

pub(crate) fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    serde_json::to_vec(&EnvelopeOut { v: RECORD_VERSION, data: record }).unwrap_or_default()
}

/// Decodes a record of any known version into the current shape.
pub(crate) fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    let error = |detail: String| StoreError::Decode { key: String::from_utf8_lossy(key).into_owned(), detail };
    // The hot path: a current record decodes in one pass.
    if bytes.starts_with(CURRENT_PREFIX) {
        return serde_json::from_slice::<Current<T>>(bytes).map(|c| c.data).map_err(|e| error(e.to_string()));
    }
    let envelope: EnvelopeIn = serde_json::from_slice(bytes).map_err(|e| error(e.to_string()))?;
    match envelope.v {
        // Version 1 is the current shape; older shapes get an arm here that upgrades them.
        1 => serde_json::from_value(envelope.data).map_err(|e| error(e.to_string())),
        newer => Err(error(format!("record version {newer} is newer than this jwtgate supports ({RECORD_VERSION})"))),
    }
}
