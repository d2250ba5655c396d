//! The Kubernetes auth method (Vault's vault-plugin-auth-kubernetes; kubernetes-tokens.md
//! §4.3): its config, its roles, login by TokenReview (`super::review`). Login refusals are
//! 403, as in Vault. The decisions about a token's claims are the verifier's
//! ([`ServiceAccountPolicy`]).

use super::review::{check_ca, hide_reviewer_jwt, host, review, Reviewer};
use super::{AuthMethod, Runtime, Services};
use crate::error::Error;
use crate::fields;
use crate::request::Body;
use crate::token::issue::Login;
use crate::token::params::TokenParams;
use jwtgate_verifier::{Fetch, KeyConfig, ServiceAccount, ServiceAccountPolicy, Validator};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

const CONFIG_FIELDS: [&str; 8] = [
    "kubernetes_host",
    "kubernetes_ca_cert",
    "token_reviewer_jwt",
    "disable_local_ca_jwt",
    "pem_keys",
    "issuer",
    "disable_iss_validation",
    "use_annotations_as_alias_metadata",
];

/// Fields a Kubernetes role accepts besides the token fields.
const ROLE_FIELDS: [&str; 7] = [
    "name",
    "bound_service_account_names",
    "bound_service_account_namespaces",
    "bound_service_account_namespace_selector",
    "audience",
    "alias_name_source",
    "alias_metadata",
];

/// A Kubernetes mount's config as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KubernetesConfig {
    pub kubernetes_host: String,
    pub kubernetes_ca_cert: String,
    pub token_reviewer_jwt: String,
    pub disable_local_ca_jwt: bool,
    pub pem_keys: Vec<String>,
    pub issuer: String,
    pub disable_iss_validation: bool,
    pub use_annotations_as_alias_metadata: bool,
}

impl Default for KubernetesConfig {
    fn default() -> KubernetesConfig {
        KubernetesConfig {
            kubernetes_host: String::new(),
            kubernetes_ca_cert: String::new(),
            token_reviewer_jwt: String::new(),
            disable_local_ca_jwt: false,
            pem_keys: Vec::new(),
            issuer: String::new(),
            disable_iss_validation: true,
            use_annotations_as_alias_metadata: false,
        }
    }
}

/// A Kubernetes role as stored, in its read shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KubernetesRole {
    pub bound_service_account_names: Vec<String>,
    pub bound_service_account_namespaces: Vec<String>,
    pub bound_service_account_namespace_selector: String,
    pub audience: String,
    pub alias_name_source: String,
    pub alias_metadata: Map<String, Value>,
    #[serde(flatten)]
    pub token: TokenParams,
}

impl Default for KubernetesRole {
    fn default() -> KubernetesRole {
        KubernetesRole {
            bound_service_account_names: Vec::new(),
            bound_service_account_namespaces: Vec::new(),
            bound_service_account_namespace_selector: String::new(),
            audience: String::new(),
            alias_name_source: "serviceaccount_uid".into(),
            alias_metadata: Map::new(),
            token: TokenParams::default(),
        }
    }
}

pub struct Kubernetes;

impl AuthMethod for Kubernetes {
    type Config = KubernetesConfig;
    type Role = KubernetesRole;
    type Prepared = ();
    const CONFIG_FIELDS: &'static [&'static str] = &CONFIG_FIELDS;
    const ROLE_FIELDS: &'static [&'static str] = &ROLE_FIELDS;
    const LOGIN_FIELDS: &'static [&'static str] = &["role", "jwt"];
    const CHECKS_REMOTE: bool = false;

    /// Full replacement, as Vault's write.
    fn write_config(body: &Body, _existing: Option<&KubernetesConfig>) -> Result<KubernetesConfig, Error> {
        let text = |field: &str| -> Result<String, Error> { Ok(fields::string(body, field)?.unwrap_or_default()) };
        let kubernetes_host = host(&text("kubernetes_host")?)?;
        let kubernetes_ca_cert = text("kubernetes_ca_cert")?;
        check_ca(&kubernetes_ca_cert)?;
        if fields::boolean(body, "use_annotations_as_alias_metadata")? == Some(true) {
            return Err(Error::BadRequest("use_annotations_as_alias_metadata is not supported by jwtgate".into()));
        }
        Ok(KubernetesConfig {
            kubernetes_host,
            kubernetes_ca_cert,
            token_reviewer_jwt: text("token_reviewer_jwt")?.trim().to_owned(),
            disable_local_ca_jwt: fields::boolean(body, "disable_local_ca_jwt")?.unwrap_or(false),
            // Parsed by `validator` before the config is stored.
            pem_keys: fields::strings(body, "pem_keys")?.unwrap_or_default(),
            issuer: text("issuer")?,
            disable_iss_validation: fields::boolean(body, "disable_iss_validation")?.unwrap_or(true),
            use_annotations_as_alias_metadata: false,
        })
    }

    fn read_config(config: &KubernetesConfig) -> Map<String, Value> {
        let mut out = match serde_json::to_value(config) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        hide_reviewer_jwt(&mut out);
        out
    }

    /// `pem_keys` are checked locally; without them TokenReview is the only authority.
    fn validator(config: &KubernetesConfig, fetcher: &Arc<dyn Fetch>) -> Result<Option<Validator>, String> {
        if config.pem_keys.is_empty() {
            return Ok(None);
        }
        let key_config = KeyConfig { jwt_validation_pubkeys: config.pem_keys.clone(), ..KeyConfig::default() };
        Validator::new(&key_config, fetcher.clone()).map(Some).map_err(|e| e.to_string())
    }

    fn write_role(
        existing: Option<KubernetesRole>,
        body: &Body,
        mount_max_ttl: i64,
    ) -> Result<(KubernetesRole, Vec<String>), Error> {
        let bad = |text: String| Err(Error::BadRequest(text));
        let mut role = existing.unwrap_or_default();
        for (field, slot) in [
            ("bound_service_account_names", &mut role.bound_service_account_names),
            ("bound_service_account_namespaces", &mut role.bound_service_account_namespaces),
        ] {
            if let Some(list) = fields::strings(body, field)? {
                *slot = list.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
            }
        }
        if fields::string(body, "bound_service_account_namespace_selector")?.is_some_and(|s| !s.is_empty()) {
            return bad(
                "bound_service_account_namespace_selector is not supported by jwtgate: list the namespaces".into()
            );
        }
        if let Some(metadata) = fields::object(body, "alias_metadata")? {
            role.alias_metadata = metadata;
        }
        if let Some(audience) = fields::string(body, "audience")? {
            role.audience = audience.trim().to_owned();
        }
        if let Some(source) = fields::string(body, "alias_name_source")? {
            let source = if source.is_empty() { "serviceaccount_uid".to_owned() } else { source };
            if source != "serviceaccount_uid" && source != "serviceaccount_name" {
                return bad(format!("invalid alias_name_source: {source:?}"));
            }
            role.alias_name_source = source;
        }
        if role.bound_service_account_names.is_empty() {
            return bad("\"bound_service_account_names\" can not be empty".into());
        }
        if role.bound_service_account_namespaces.is_empty() {
            return bad("\"bound_service_account_namespaces\" can not be empty".into());
        }
        for list in [&role.bound_service_account_names, &role.bound_service_account_namespaces] {
            if list.len() > 1 && list.iter().any(|entry| entry == "*") {
                return bad("can not mix \"*\" with values".into());
            }
        }
        role.token.write(body)?;
        let mut warnings = Vec::new();
        if role.token.token_max_ttl > mount_max_ttl {
            warnings.push("token max ttl is greater than the system or backend mount's maximum TTL value; issued tokens' max TTL value will be truncated".into());
        }
        if role.audience.is_empty() {
            warnings.push("This role does not specify an audience; any audience is accepted. Set \"audience\" to the one your pods request.".into());
        }
        Ok((role, warnings))
    }

    /// As stored (deprecated names included, as Vault's Kubernetes method shows them).
    fn read_role(role: &KubernetesRole) -> Map<String, Value> {
        match serde_json::to_value(role) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    fn prepare(_role: &KubernetesRole) {}

    fn token_params(role: &KubernetesRole) -> &TokenParams {
        &role.token
    }

    fn login<'a>(
        runtime: &'a Runtime<Self>,
        services: &'a Services,
        body: &'a Body,
        peer: Option<IpAddr>,
        now: SystemTime,
    ) -> impl Future<Output = Result<Login, Error>> + Send + 'a {
        login(runtime, services, body, peer, now)
    }
}

/// `auth/<kubernetes mount>/login`.
async fn login(
    runtime: &Runtime<Kubernetes>,
    services: &Services,
    body: &Body,
    peer: Option<IpAddr>,
    now: SystemTime,
) -> Result<Login, Error> {
    let bad = |text: String| Error::BadRequest(text);
    let mount = &runtime.mount;
    let role_name = match fields::string(body, "role") {
        Ok(Some(name)) if !name.is_empty() => name.to_lowercase(),
        Ok(_) => return Err(bad("missing role".into())),
        Err(_) => return Err(bad("error parsing JSON".into())),
    };
    let jwt = match fields::string(body, "jwt") {
        Ok(Some(jwt)) if !jwt.trim().is_empty() => jwt.trim().to_owned(),
        Ok(_) => return Err(bad("missing jwt".into())),
        Err(_) => return Err(bad("error parsing JSON".into())),
    };
    let shown: String = role_name.chars().take(128).collect();
    let loaded = runtime.role(&role_name)?.ok_or_else(|| bad(format!("invalid role name {shown:?}")))?;
    let role = &loaded.role;
    if !crate::token::peer_allowed(&role.token.token_bound_cidrs, peer) {
        return Err(Error::PermissionDenied);
    }
    let config = runtime.config.as_ref().ok_or_else(|| bad("could not load backend configuration".into()))?;
    let refuse = |reason: String| {
        tracing::info!(mount = %mount.path, role = %shown, %reason, "login refused");
        Error::Forbidden(reason)
    };
    let claims = match &runtime.validator {
        Ok(Some(validator)) => validator.verify_signature(&jwt, now).await.map_err(|e| refuse(e.to_string()))?,
        // Without pem_keys Vault checks no signature locally: TokenReview is the authority.
        Ok(None) => jwtgate_verifier::unverified_claims(&jwt).map_err(|e| refuse(e.to_string()))?,
        Err(e) => return Err(bad(e.clone())),
    };
    let policy = ServiceAccountPolicy {
        issuer: (!config.disable_iss_validation).then(|| config.issuer.clone()),
        audience: role.audience.clone(),
        names: role.bound_service_account_names.clone(),
        namespaces: role.bound_service_account_namespaces.clone(),
    };
    let account = policy.check(&claims, crate::time::unix(now)).map_err(refuse)?;
    let reviewer = Reviewer {
        host: &config.kubernetes_host,
        ca: &config.kubernetes_ca_cert,
        token_reviewer_jwt: &config.token_reviewer_jwt,
        local: !config.disable_local_ca_jwt,
    };
    let reviewed = review(services, &reviewer, &jwt, &policy.review_audiences(&claims), now)
        .await
        .map_err(|e| denied(&mount.path, &shown, e))?;
    account.matches_review(&reviewed).map_err(|e| denied(&mount.path, &shown, e))?;

    let alias_name = match role.alias_name_source.as_str() {
        "serviceaccount_name" => format!("{}/{}", account.namespace, account.name),
        _ => account.uid.clone(),
    };
    let display_name = format!("{}-{}-{}", mount.path.replace('/', "-"), account.namespace, account.name);
    let ServiceAccount { namespace, name, uid, secret_name } = account;
    Ok(Login {
        role_name,
        alias_name,
        metadata: vec![
            ("service_account_name".to_owned(), name),
            ("service_account_namespace".to_owned(), namespace),
            ("service_account_secret_name".to_owned(), secret_name),
            ("service_account_uid".to_owned(), uid),
        ],
        display_name,
        params: role.token.clone(),
    })
}

/// A TokenReview refusal: 403 `permission denied`, with the reason, as Vault's login answers.
fn denied(mount: &str, role: &str, reason: String) -> Error {
    tracing::info!(mount = %mount, %role, %reason, "login refused by TokenReview");
    Error::LoginDenied(reason)
}
