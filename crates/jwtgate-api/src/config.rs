//! `auth/<mount>/config`: full replacement on write, Vault's read shape, and the conversion to
//! the verifier's `KeyConfig`.

use crate::error::ApiError;
use crate::fields;
use crate::wire::Body;
use jwtgate_verifier::{JwksPair, KeyConfig};
use serde_json::{json, Map, Value};

pub const KNOWN: [&str; 20] = [
    "kubernetes_host",
    "kubernetes_ca_cert",
    "token_reviewer_jwt",
    "oidc_discovery_url",
    "oidc_discovery_ca_pem",
    "oidc_client_id",
    "oidc_client_secret",
    "oidc_response_mode",
    "oidc_response_types",
    "jwks_url",
    "jwks_ca_pem",
    "jwks_pairs",
    "jwt_validation_pubkeys",
    "jwt_validation_jwks",
    "jwt_supported_algs",
    "bound_issuer",
    "default_role",
    "provider_config",
    "namespace_in_state",
    "unsupported_critical_cert_extensions",
];

/// The stored config (read shape plus the write-only client secret) from a write body.
pub fn write(body: &Body, existing: Option<&Map<String, Value>>) -> Result<Map<String, Value>, ApiError> {
    let text = |field: &str| -> Result<String, ApiError> { Ok(fields::string(body, field)?.unwrap_or_default()) };
    let list = |field: &str| -> Result<Vec<String>, ApiError> { Ok(fields::strings(body, field)?.unwrap_or_default()) };
    let pairs = match body.get("jwks_pairs") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if items.iter().all(Value::is_object) => items.clone(),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "invalid jwks_pairs: jwks_pairs must be provided as a list of json objects with the fields jwks_url and jwks_ca_pem".into(),
            ))
        }
    };
    let response_mode = text("oidc_response_mode")?;
    if !["", "query", "form_post"].contains(&response_mode.as_str()) {
        return Err(ApiError::BadRequest(format!("invalid response_mode: {response_mode:?}")));
    }
    let response_types = list("oidc_response_types")?;
    if response_types.iter().any(|t| t != "code" && t != "id_token") {
        return Err(ApiError::BadRequest(format!(
            "invalid response_types {response_types:?}. 'code' and 'id_token' are allowed"
        )));
    }
    // Kept from the existing config when omitted; true for a brand-new one.
    let namespace_in_state = match fields::boolean(body, "namespace_in_state")? {
        Some(flag) => flag,
        None => existing.and_then(|c| c.get("namespace_in_state")).and_then(Value::as_bool).unwrap_or(true),
    };
    let config = json!({
        "oidc_discovery_url": text("oidc_discovery_url")?,
        "oidc_discovery_ca_pem": text("oidc_discovery_ca_pem")?,
        "oidc_client_id": text("oidc_client_id")?,
        "oidc_client_secret": text("oidc_client_secret")?,
        "oidc_response_mode": response_mode,
        "oidc_response_types": response_types,
        "default_role": text("default_role")?.to_lowercase(),
        "jwt_validation_pubkeys": list("jwt_validation_pubkeys")?,
        "jwt_validation_jwks": text("jwt_validation_jwks")?,
        "jwt_supported_algs": list("jwt_supported_algs")?,
        "jwks_url": text("jwks_url")?,
        "jwks_pairs": pairs,
        "jwks_ca_pem": text("jwks_ca_pem")?,
        "bound_issuer": text("bound_issuer")?,
        "provider_config": fields::object(body, "provider_config")?.unwrap_or_default(),
        "namespace_in_state": namespace_in_state,
        "unsupported_critical_cert_extensions": list("unsupported_critical_cert_extensions")?,
    });
    let Value::Object(config) = config else { return Err(ApiError::Internal) };
    let (id, secret) = (&config["oidc_client_id"], &config["oidc_client_secret"]);
    if (id == "") != (secret == "") {
        return Err(ApiError::BadRequest("both 'oidc_client_id' and 'oidc_client_secret' must be set for OIDC".into()));
    }
    if id != "" && config["oidc_discovery_url"] == "" {
        return Err(ApiError::BadRequest("'oidc_discovery_url' must be set for OIDC".into()));
    }
    Ok(config)
}

/// The read shape: everything but the client secret.
pub fn read(stored: &Map<String, Value>) -> Map<String, Value> {
    let mut out = stored.clone();
    out.remove("oidc_client_secret");
    out
}

/// Whether the mount is in Vault's OIDC-flow mode, where JWT login is refused.
pub fn is_oidc_flow(stored: &Map<String, Value>) -> bool {
    stored.get("oidc_client_id").and_then(Value::as_str).is_some_and(|id| !id.is_empty())
}

/// The verifier's key configuration.
pub fn key_config(stored: &Map<String, Value>) -> KeyConfig {
    let text = |field: &str| stored.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
    let list = |field: &str| -> Vec<String> {
        stored
            .get(field)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let jwks_pairs = stored
        .get("jwks_pairs")
        .and_then(Value::as_array)
        .map(|pairs| {
            pairs
                .iter()
                .map(|pair| JwksPair {
                    jwks_url: pair.get("jwks_url").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    jwks_ca_pem: pair.get("jwks_ca_pem").and_then(Value::as_str).unwrap_or_default().to_owned(),
                })
                .collect()
        })
        .unwrap_or_default();
    KeyConfig {
        jwt_validation_pubkeys: list("jwt_validation_pubkeys"),
        jwt_validation_jwks: text("jwt_validation_jwks"),
        jwks_url: text("jwks_url"),
        jwks_ca_pem: text("jwks_ca_pem"),
        jwks_pairs,
        oidc_discovery_url: text("oidc_discovery_url"),
        oidc_discovery_ca_pem: text("oidc_discovery_ca_pem"),
        jwt_supported_algs: list("jwt_supported_algs"),
        bound_issuer: text("bound_issuer"),
        refresh: jwtgate_verifier::RefreshPolicy::default(),
    }
}
