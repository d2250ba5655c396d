//! `auth/<jwt mount>/config`: full replacement on write, Vault's read shape, and the
//! conversion to the verifier's `KeyConfig`.

use crate::error::Error;
use crate::fields;
use crate::request::Body;
use jwtgate_verifier::{JwksPair, KeyConfig};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const FIELDS: [&str; 20] = [
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

/// A JWT mount's config as stored (the read shape plus the write-only client secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JwtConfig {
    pub oidc_discovery_url: String,
    pub oidc_discovery_ca_pem: String,
    pub oidc_client_id: String,
    pub oidc_client_secret: String,
    pub oidc_response_mode: String,
    pub oidc_response_types: Vec<String>,
    pub default_role: String,
    pub jwt_validation_pubkeys: Vec<String>,
    pub jwt_validation_jwks: String,
    pub jwt_supported_algs: Vec<String>,
    pub jwks_url: String,
    /// Objects with `jwks_url` and `jwks_ca_pem`, kept as given.
    pub jwks_pairs: Vec<Value>,
    pub jwks_ca_pem: String,
    pub bound_issuer: String,
    pub provider_config: Map<String, Value>,
    pub namespace_in_state: bool,
    pub unsupported_critical_cert_extensions: Vec<String>,
    /// The TokenReview fields of `token_review` roles: stored only when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_ca_cert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_reviewer_jwt: Option<String>,
}

impl Default for JwtConfig {
    fn default() -> JwtConfig {
        JwtConfig {
            oidc_discovery_url: String::new(),
            oidc_discovery_ca_pem: String::new(),
            oidc_client_id: String::new(),
            oidc_client_secret: String::new(),
            oidc_response_mode: String::new(),
            oidc_response_types: Vec::new(),
            default_role: String::new(),
            jwt_validation_pubkeys: Vec::new(),
            jwt_validation_jwks: String::new(),
            jwt_supported_algs: Vec::new(),
            jwks_url: String::new(),
            jwks_pairs: Vec::new(),
            jwks_ca_pem: String::new(),
            bound_issuer: String::new(),
            provider_config: Map::new(),
            // True for a new config (Vault's default).
            namespace_in_state: true,
            unsupported_critical_cert_extensions: Vec::new(),
            kubernetes_host: None,
            kubernetes_ca_cert: None,
            token_reviewer_jwt: None,
        }
    }
}

impl JwtConfig {
    /// A config write, with Vault's checks; `namespace_in_state` is kept from `existing`
    /// when omitted.
    pub fn write(body: &Body, existing: Option<&JwtConfig>) -> Result<JwtConfig, Error> {
        let text = |field: &str| -> Result<String, Error> { Ok(fields::string(body, field)?.unwrap_or_default()) };
        let list =
            |field: &str| -> Result<Vec<String>, Error> { Ok(fields::strings(body, field)?.unwrap_or_default()) };
        let jwks_pairs = match body.get("jwks_pairs") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) if items.iter().all(Value::is_object) => items.clone(),
            Some(_) => {
                return Err(Error::BadRequest(
                    "invalid jwks_pairs: jwks_pairs must be provided as a list of json objects with the fields jwks_url and jwks_ca_pem".into(),
                ))
            }
        };
        let oidc_response_mode = text("oidc_response_mode")?;
        if !["", "query", "form_post"].contains(&oidc_response_mode.as_str()) {
            return Err(Error::BadRequest(format!("invalid response_mode: {oidc_response_mode:?}")));
        }
        let oidc_response_types = list("oidc_response_types")?;
        if oidc_response_types.iter().any(|t| t != "code" && t != "id_token") {
            return Err(Error::BadRequest(format!(
                "invalid response_types {oidc_response_types:?}. 'code' and 'id_token' are allowed"
            )));
        }
        let namespace_in_state = match fields::boolean(body, "namespace_in_state")? {
            Some(flag) => flag,
            None => existing.is_none_or(|c| c.namespace_in_state),
        };
        let config = JwtConfig {
            oidc_discovery_url: text("oidc_discovery_url")?,
            oidc_discovery_ca_pem: text("oidc_discovery_ca_pem")?,
            oidc_client_id: text("oidc_client_id")?,
            oidc_client_secret: text("oidc_client_secret")?,
            oidc_response_mode,
            oidc_response_types,
            default_role: text("default_role")?.to_lowercase(),
            // Stored trimmed, as Vault reads them back.
            jwt_validation_pubkeys: list("jwt_validation_pubkeys")?.into_iter().map(|k| k.trim().to_owned()).collect(),
            jwt_validation_jwks: text("jwt_validation_jwks")?,
            jwt_supported_algs: list("jwt_supported_algs")?,
            jwks_url: text("jwks_url")?,
            jwks_pairs,
            jwks_ca_pem: text("jwks_ca_pem")?,
            bound_issuer: text("bound_issuer")?,
            provider_config: provider_config(body)?,
            namespace_in_state,
            unsupported_critical_cert_extensions: list("unsupported_critical_cert_extensions")?,
            kubernetes_host: None,
            kubernetes_ca_cert: None,
            token_reviewer_jwt: None,
        };
        if config.oidc_client_id.is_empty() != config.oidc_client_secret.is_empty() {
            return Err(Error::BadRequest(
                "both 'oidc_client_id' and 'oidc_client_secret' must be set for OIDC".into(),
            ));
        }
        if !config.oidc_client_id.is_empty() && config.oidc_discovery_url.is_empty() {
            return Err(Error::BadRequest("'oidc_discovery_url' must be set for OIDC".into()));
        }
        config.with_review_fields(body)
    }

    /// The TokenReview fields, checked; left out when not given.
    fn with_review_fields(mut self, body: &Body) -> Result<JwtConfig, Error> {
        let given = |field: &str| -> Result<Option<String>, Error> {
            Ok(fields::string(body, field)?.filter(|v| !v.is_empty()))
        };
        if let Some(host) = given("kubernetes_host")? {
            self.kubernetes_host = Some(crate::auth::review::host(&host)?);
        }
        if let Some(ca) = given("kubernetes_ca_cert")? {
            crate::auth::review::check_ca(&ca)?;
            self.kubernetes_ca_cert = Some(ca);
        }
        if let Some(reviewer) = given("token_reviewer_jwt")? {
            self.token_reviewer_jwt = Some(reviewer.trim().to_owned());
        }
        Ok(self)
    }

    /// The read shape: everything but the secrets (the reviewer JWT shows only as set).
    pub fn read(&self) -> Map<String, Value> {
        let Ok(Value::Object(mut out)) = serde_json::to_value(self) else { return Map::new() };
        out.remove("oidc_client_secret");
        crate::auth::review::hide_reviewer_jwt(&mut out);
        out
    }

    /// Where `token_review` roles ask: the TokenReview fields, else the pod's own.
    pub fn reviewer(&self) -> crate::auth::review::Reviewer<'_> {
        crate::auth::review::Reviewer {
            host: self.kubernetes_host.as_deref().unwrap_or_default(),
            ca: self.kubernetes_ca_cert.as_deref().unwrap_or_default(),
            token_reviewer_jwt: self.token_reviewer_jwt.as_deref().unwrap_or_default(),
            local: true,
        }
    }

    /// Whether the mount is in Vault's OIDC-flow mode, where JWT login is refused.
    pub fn is_oidc_flow(&self) -> bool {
        !self.oidc_client_id.is_empty()
    }

    /// The verifier's key configuration.
    pub fn key_config(&self) -> KeyConfig {
        let text = |pair: &Value, field: &str| pair.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
        KeyConfig {
            jwt_validation_pubkeys: self.jwt_validation_pubkeys.clone(),
            jwt_validation_jwks: self.jwt_validation_jwks.clone(),
            jwks_url: self.jwks_url.clone(),
            jwks_ca_pem: self.jwks_ca_pem.clone(),
            jwks_pairs: self
                .jwks_pairs
                .iter()
                .map(|pair| JwksPair { jwks_url: text(pair, "jwks_url"), jwks_ca_pem: text(pair, "jwks_ca_pem") })
                .collect(),
            oidc_discovery_url: self.oidc_discovery_url.clone(),
            oidc_discovery_ca_pem: self.oidc_discovery_ca_pem.clone(),
            jwt_supported_algs: self.jwt_supported_algs.clone(),
            bound_issuer: self.bound_issuer.clone(),
            refresh: jwtgate_verifier::RefreshPolicy::default(),
        }
    }
}

/// Vault's provider-specific group lookups (`azure`, `gsuite`, ...) need the OIDC flow, which
/// jwtgate does not serve: any provider is refused rather than stored and ignored.
fn provider_config(body: &Body) -> Result<Map<String, Value>, Error> {
    let config = fields::object(body, "provider_config")?.unwrap_or_default();
    match config.get("provider") {
        None if config.is_empty() => Ok(config),
        Some(Value::String(name)) => {
            Err(Error::BadRequest(format!("invalid provider_config: provider {name:?} not found in custom providers")))
        }
        _ => Err(Error::BadRequest("invalid provider_config: 'provider' field not found in provider_config".into())),
    }
}
