//! The Kubernetes auth method (Vault's vault-plugin-auth-kubernetes; kubernetes-tokens.md
//! §4.3): its config, its roles, login by TokenReview; and the same TokenReview check for JWT
//! roles with `token_review = true`. Login refusals are 403, as in Vault.

use crate::error::ApiError;
use crate::fields;
use crate::login::{self, Issue};
use crate::state::AppState;
use crate::wire::Body;
use actix_web::HttpResponse;
use jwtgate_store::Mount;
use jwtgate_verifier::{glob, KeyConfig, ReviewRequest, ReviewedUser, Validator};
use serde_json::{json, Map, Value};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub const CONFIG_KNOWN: [&str; 8] = [
    "kubernetes_host",
    "kubernetes_ca_cert",
    "token_reviewer_jwt",
    "disable_local_ca_jwt",
    "pem_keys",
    "issuer",
    "disable_iss_validation",
    "use_annotations_as_alias_metadata",
];

const LOGIN_KNOWN: [&str; 2] = ["role", "jwt"];
/// Where a pod's service-account token and CA are mounted.
pub const POD_SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The issuer Vault checks when `disable_iss_validation=false` and no `issuer` is set.
const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";
/// Kubernetes' leeway on `exp` and `nbf`.
const LEEWAY: i64 = 60;

/// `kubernetes_host` as a base URL: a bare `host[:port]` means https; http is refused, since
/// the reviewer's bearer token would cross the network in clear.
pub fn host(raw: &str) -> Result<String, ApiError> {
    let raw = raw.trim().trim_end_matches('/');
    if raw.is_empty() {
        return Err(ApiError::BadRequest("no host provided".into()));
    }
    if raw.starts_with("http://") {
        return Err(ApiError::BadRequest(format!("kubernetes_host must be an https URL, got {raw:?}")));
    }
    let url = if raw.starts_with("https://") { raw.to_owned() } else { format!("https://{raw}") };
    let authority = &url["https://".len()..];
    if authority.is_empty() || authority.contains(['/', '?', '#', ' ']) {
        return Err(ApiError::BadRequest(format!("invalid kubernetes_host {raw:?}")));
    }
    Ok(url)
}

fn check_ca(pem: &str) -> Result<(), ApiError> {
    if pem.trim().is_empty() {
        return Ok(());
    }
    jwtgate_verifier::parse_ca_bundle(pem)
        .map(drop)
        .map_err(|_| ApiError::BadRequest("could not parse CA PEM value successfully".into()))
}

/// The stored config of a `kubernetes` mount (full replacement, as Vault's write).
pub fn write_config(body: &Body) -> Result<Map<String, Value>, ApiError> {
    let text = |field: &str| -> Result<String, ApiError> { Ok(fields::string(body, field)?.unwrap_or_default()) };
    let kubernetes_host = host(&text("kubernetes_host")?)?;
    let ca = text("kubernetes_ca_cert")?;
    check_ca(&ca)?;
    // `pem_keys` are parsed by `pem_validator` before the config is stored.
    let pem_keys = fields::strings(body, "pem_keys")?.unwrap_or_default();
    if fields::boolean(body, "use_annotations_as_alias_metadata")? == Some(true) {
        return Err(ApiError::BadRequest("use_annotations_as_alias_metadata is not supported by jwtgate".into()));
    }
    let config = json!({
        "kubernetes_host": kubernetes_host,
        "kubernetes_ca_cert": ca,
        "token_reviewer_jwt": text("token_reviewer_jwt")?.trim(),
        "disable_local_ca_jwt": fields::boolean(body, "disable_local_ca_jwt")?.unwrap_or(false),
        "pem_keys": pem_keys,
        "issuer": text("issuer")?,
        "disable_iss_validation": fields::boolean(body, "disable_iss_validation")?.unwrap_or(true),
        "use_annotations_as_alias_metadata": false,
    });
    Ok(config.as_object().cloned().unwrap_or_default())
}

/// The JWT mount's TokenReview fields, checked; empty when none is given.
pub fn write_jwt_fields(body: &Body, config: &mut Map<String, Value>) -> Result<(), ApiError> {
    let given = |field: &str| -> Result<String, ApiError> { Ok(fields::string(body, field)?.unwrap_or_default()) };
    let (raw_host, ca, reviewer) =
        (given("kubernetes_host")?, given("kubernetes_ca_cert")?, given("token_reviewer_jwt")?);
    if !raw_host.is_empty() {
        config.insert("kubernetes_host".into(), json!(host(&raw_host)?));
    }
    if !ca.is_empty() {
        check_ca(&ca)?;
        config.insert("kubernetes_ca_cert".into(), json!(ca));
    }
    if !reviewer.is_empty() {
        config.insert("token_reviewer_jwt".into(), json!(reviewer.trim()));
    }
    Ok(())
}

/// The read shape: the reviewer JWT is a secret, so only whether it is set is shown.
pub fn hide_reviewer_jwt(config: &mut Map<String, Value>) {
    if let Some(jwt) = config.remove("token_reviewer_jwt") {
        config.insert("token_reviewer_jwt_set".into(), json!(jwt.as_str().is_some_and(|j| !j.is_empty())));
    }
}

/// The validator for `pem_keys` (local signature checks); `None` when there are none. A key
/// that does not parse is a 400.
pub fn pem_validator(config: &Map<String, Value>, state: &AppState) -> Result<Option<Arc<Validator>>, ApiError> {
    let keys = login::strings(config, "pem_keys");
    if keys.is_empty() {
        return Ok(None);
    }
    let key_config = KeyConfig { jwt_validation_pubkeys: keys, ..KeyConfig::default() };
    let validator =
        Validator::new(&key_config, state.fetcher.clone()).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(Some(Arc::new(validator)))
}

/// Fields a Kubernetes role accepts besides the token fields.
pub const ROLE_KNOWN: [&str; 7] = [
    "name",
    "bound_service_account_names",
    "bound_service_account_namespaces",
    "bound_service_account_namespace_selector",
    "audience",
    "alias_name_source",
    "alias_metadata",
];

fn role_defaults() -> Map<String, Value> {
    let value = json!({
        "bound_service_account_names": [], "bound_service_account_namespaces": [],
        "bound_service_account_namespace_selector": "", "audience": "", "alias_name_source": "serviceaccount_uid",
        "token_policies": [], "token_ttl": 0, "token_max_ttl": 0, "token_explicit_max_ttl": 0, "token_period": 0,
        "token_num_uses": 0, "token_no_default_policy": false, "token_bound_cidrs": [], "token_type": "default",
        "alias_metadata": {}
    });
    value.as_object().cloned().unwrap_or_default()
}

/// Applies a role write (merging into the existing role) with Vault's checks.
pub fn write_role(
    existing: Option<Map<String, Value>>,
    body: &Body,
    mount_max_ttl: i64,
) -> Result<(Map<String, Value>, Vec<String>), ApiError> {
    let bad = |text: String| Err(ApiError::BadRequest(text));
    let mut role = existing.unwrap_or_else(role_defaults);
    for field in ["bound_service_account_names", "bound_service_account_namespaces"] {
        if let Some(list) = fields::strings(body, field)? {
            let list: Vec<String> = list.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
            role.insert(field.into(), json!(list));
        }
    }
    if fields::string(body, "bound_service_account_namespace_selector")?.is_some_and(|s| !s.is_empty()) {
        return bad("bound_service_account_namespace_selector is not supported by jwtgate: list the namespaces".into());
    }
    if let Some(metadata) = fields::object(body, "alias_metadata")? {
        role.insert("alias_metadata".into(), Value::Object(metadata));
    }
    if let Some(audience) = fields::string(body, "audience")? {
        role.insert("audience".into(), json!(audience.trim()));
    }
    if let Some(source) = fields::string(body, "alias_name_source")? {
        let source = if source.is_empty() { "serviceaccount_uid".to_owned() } else { source };
        if source != "serviceaccount_uid" && source != "serviceaccount_name" {
            return bad(format!("invalid alias_name_source: {source:?}"));
        }
        role.insert("alias_name_source".into(), json!(source));
    }
    let names = login::strings(&role, "bound_service_account_names");
    let namespaces = login::strings(&role, "bound_service_account_namespaces");
    if names.is_empty() {
        return bad("\"bound_service_account_names\" can not be empty".into());
    }
    if namespaces.is_empty() {
        return bad("\"bound_service_account_namespaces\" can not be empty".into());
    }
    for list in [&names, &namespaces] {
        if list.len() > 1 && list.iter().any(|entry| entry == "*") {
            return bad("can not mix \"*\" with values".into());
        }
    }
    crate::role::write_token_fields(&mut role, body)?;
    let mut warnings = Vec::new();
    if role["token_max_ttl"].as_i64().unwrap_or(0) > mount_max_ttl {
        warnings.push("token max ttl is greater than the system or backend mount's maximum TTL value; issued tokens' max TTL value will be truncated".into());
    }
    if role["audience"].as_str().unwrap_or_default().is_empty() {
        warnings.push("This role does not specify an audience; any audience is accepted. Set \"audience\" to the one your pods request.".into());
    }
    Ok((role, warnings))
}

/// The service account a token names, from the bound (`kubernetes.io`) or the legacy claims.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Claimed {
    namespace: String,
    name: String,
    uid: String,
    secret_name: String,
}

fn claimed(claims: &Map<String, Value>) -> Claimed {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
    let legacy = |name: &str| text(claims.get(&format!("kubernetes.io/serviceaccount/{name}")));
    match claims.get("kubernetes.io").filter(|v| v.is_object()) {
        Some(private) => Claimed {
            namespace: text(private.get("namespace")),
            name: text(private.pointer("/serviceaccount/name")),
            uid: text(private.pointer("/serviceaccount/uid")),
            secret_name: text(private.pointer("/secret/name")),
        },
        None => Claimed {
            namespace: legacy("namespace"),
            name: legacy("service-account.name"),
            uid: legacy("service-account.uid"),
            secret_name: legacy("secret.name"),
        },
    }
}

fn audiences(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

/// `auth/<kubernetes mount>/login`.
pub async fn login(
    state: &Arc<AppState>,
    mount: &Mount,
    body: &Body,
    peer: Option<IpAddr>,
) -> Result<HttpResponse, ApiError> {
    let bad = |text: String| ApiError::BadRequest(text);
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
    let cached = state.role(&mount.path, &role_name)?.ok_or_else(|| bad(format!("invalid role name {shown:?}")))?;
    let role = &cached.stored;
    login::check_bound_cidrs(role, peer)?;
    let config = state.config(&mount.path)?.ok_or_else(|| bad("could not load backend configuration".into()))?;
    let refuse = |reason: String| {
        tracing::info!(mount = %mount.path, role = %shown, %reason, "login refused");
        ApiError::Forbidden(reason)
    };

    let validator = match state.validator(&mount.path) {
        Some(validator) => Some(validator),
        None => {
            // First login after a restart: pem_keys are parsed once.
            let validator = pem_validator(&config, state)?;
            if validator.is_some() {
                state.set_validator(&mount.path, validator.clone())?;
            }
            validator
        }
    };
    let claims = match validator {
        Some(validator) => {
            validator.verify_signature(&jwt, (state.clock)()).await.map_err(|e| refuse(e.to_string()))?
        }
        // Without pem_keys Vault checks no signature locally: TokenReview is the authority.
        None => jwtgate_verifier::unverified_claims(&jwt).map_err(|e| refuse(e.to_string()))?,
    };
    if config.get("disable_iss_validation") == Some(&Value::Bool(false)) {
        let expected = config.get("issuer").and_then(Value::as_str).filter(|i| !i.is_empty()).unwrap_or(LEGACY_ISSUER);
        if claims.get("iss").and_then(Value::as_str) != Some(expected) {
            return Err(refuse("error validating token: invalid issuer (iss) claim".into()));
        }
    }
    let now = state.now();
    let time = |name: &str| claims.get(name).and_then(Value::as_i64);
    if time("exp").is_some_and(|exp| now > exp + LEEWAY) {
        return Err(refuse("error validating token: invalid expiration time (exp) claim: token is expired".into()));
    }
    if time("nbf").is_some_and(|nbf| now < nbf - LEEWAY) {
        return Err(refuse("error validating token: invalid not before (nbf) claim: token not yet valid".into()));
    }
    let role_audience = role.get("audience").and_then(Value::as_str).unwrap_or_default();
    let token_audiences = audiences(&claims);
    if !role_audience.is_empty() && !token_audiences.iter().any(|a| a == role_audience) {
        return Err(refuse(
            "error validating token: invalid audience (aud) claim: audience claim does not match any expected audience"
                .into(),
        ));
    }
    let sa = claimed(&claims);
    let matches = |field: &str, value: &str| {
        let patterns = login::strings(role, field);
        patterns.iter().any(|p| p == "*") || patterns.iter().any(|p| glob(p, value))
    };
    if !matches("bound_service_account_names", &sa.name) {
        return Err(refuse("service account name not authorized".into()));
    }
    if !matches("bound_service_account_namespaces", &sa.namespace) {
        return Err(refuse("namespace not authorized".into()));
    }
    if sa.uid.is_empty() {
        return Err(refuse("could not parse UID from claims".into()));
    }
    let asked = if role_audience.is_empty() { token_audiences } else { vec![role_audience.to_owned()] };
    let reviewed = review(state, &config, &jwt, &asked).await.map_err(|e| denied(mount, &shown, e))?;
    compare(&sa, &reviewed).map_err(|e| denied(mount, &shown, e))?;

    let alias = match role.get("alias_name_source").and_then(Value::as_str) {
        Some("serviceaccount_name") => format!("{}/{}", sa.namespace, sa.name),
        _ => sa.uid.clone(),
    };
    let metadata = vec![
        ("service_account_name".to_owned(), sa.name.clone()),
        ("service_account_namespace".to_owned(), sa.namespace.clone()),
        ("service_account_secret_name".to_owned(), sa.secret_name.clone()),
        ("service_account_uid".to_owned(), sa.uid.clone()),
    ];
    let display = format!("{}-{}-{}", mount.path.replace('/', "-"), sa.namespace, sa.name);
    let issued = Issue { role_name, alias_name: &alias, metadata, display };
    login::issue(state, mount, role, issued, body, &LOGIN_KNOWN).await
}

/// A TokenReview refusal: 403 `permission denied`, with the reason, as Vault's login answers.
fn denied(mount: &Mount, role: &str, reason: String) -> ApiError {
    tracing::info!(mount = %mount.path, %role, %reason, "login refused by TokenReview");
    ApiError::LoginDenied(reason)
}

/// The reviewed user must be the token's own service account (Vault's checks and texts).
fn compare(sa: &Claimed, reviewed: &ReviewedUser) -> Result<(), String> {
    if sa.name != reviewed.name {
        return Err("JWT names did not match".into());
    }
    if sa.uid != reviewed.uid {
        return Err("JWT UIDs did not match".into());
    }
    if sa.namespace != reviewed.namespace {
        return Err("JWT namepaces did not match".into());
    }
    Ok(())
}

/// Asks the cluster named by `config` about `jwt`. The reviewer is `token_reviewer_jwt`, else
/// the pod's own token when jwtgate runs in a pod, else the client's JWT itself.
async fn review(
    state: &AppState,
    config: &Map<String, Value>,
    jwt: &str,
    audiences: &[String],
) -> Result<ReviewedUser, String> {
    let text = |field: &str| config.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
    let host = text("kubernetes_host");
    let local = config.get("disable_local_ca_jwt") != Some(&Value::Bool(true));
    let now = state.now();
    let bearer = match text("token_reviewer_jwt") {
        configured if !configured.is_empty() => configured,
        _ => local.then(|| state.local_service_account.token(now)).flatten().unwrap_or_else(|| jwt.to_owned()),
    };
    let ca = match text("kubernetes_ca_cert") {
        configured if !configured.is_empty() => Some(configured),
        _ => local.then(|| state.local_service_account.ca(now)).flatten(),
    };
    let request = ReviewRequest { host: &host, ca_pem: ca.as_deref(), bearer: &bearer, token: jwt, audiences };
    state.reviewer.review(request).await.map_err(|e| e.to_string())
}

/// The `token_review` check of a JWT role, after offline validation: the cluster must still
/// vouch for the token and name the same service account.
pub async fn confirm_with_cluster(
    state: &AppState,
    config: &Map<String, Value>,
    jwt: &str,
    claims: &Map<String, Value>,
    audiences: &[String],
) -> Result<(), ApiError> {
    if config.get("kubernetes_host").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(ApiError::BadRequest(
            "the role sets token_review but the mount's config has no kubernetes_host".into(),
        ));
    }
    let sa = claimed(claims);
    let reviewed = review(state, config, jwt, audiences).await.map_err(ApiError::LoginDenied)?;
    compare(&sa, &reviewed).map_err(ApiError::LoginDenied)
}

/// The pod's own service-account token and CA, for when jwtgate runs in a pod and the config
/// names no reviewer: re-read every minute (kubelet rotates the token) and every hour (CA).
#[derive(Debug)]
pub struct LocalServiceAccount {
    dir: PathBuf,
    cache: Mutex<[Option<FileRead>; 2]>,
}

/// When a file was read, and what it held.
type FileRead = (i64, Option<String>);

impl LocalServiceAccount {
    pub fn new(dir: impl Into<PathBuf>) -> LocalServiceAccount {
        LocalServiceAccount { dir: dir.into(), cache: Mutex::new([None, None]) }
    }

    pub fn token(&self, now: i64) -> Option<String> {
        self.read(0, "token", 60, now)
    }

    pub fn ca(&self, now: i64) -> Option<String> {
        self.read(1, "ca.crt", 3600, now)
    }

    fn read(&self, slot: usize, file: &str, max_age: i64, now: i64) -> Option<String> {
        let mut cache = self.cache.lock().ok()?;
        if let Some((read_at, value)) = &cache[slot] {
            if now - read_at < max_age {
                return value.clone();
            }
        }
        let value =
            std::fs::read_to_string(self.dir.join(file)).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        cache[slot] = Some((now, value.clone()));
        value
    }
}

impl Default for LocalServiceAccount {
    fn default() -> LocalServiceAccount {
        LocalServiceAccount::new(POD_SERVICE_ACCOUNT_DIR)
    }
}
