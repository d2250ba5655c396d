//! Asking a cluster about a token (Kubernetes TokenReview), shared by the Kubernetes method's
//! login and the `token_review` check of JWT roles; and the reviewer settings both configs hold.

use super::Services;
use crate::error::Error;
use jwtgate_verifier::{ReviewRequest, ReviewedUser, ServiceAccount};
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

/// Where a pod's service-account token and CA are mounted.
pub const POD_SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// `kubernetes_host` as a base URL: a bare `host[:port]` means https; http is refused, since
/// the reviewer's bearer token would cross the network in clear.
pub fn host(raw: &str) -> Result<String, Error> {
    let raw = raw.trim().trim_end_matches('/');
    if raw.is_empty() {
        return Err(Error::BadRequest("no host provided".into()));
    }
    if raw.starts_with("http://") {
        return Err(Error::BadRequest(format!("kubernetes_host must be an https URL, got {raw:?}")));
    }
    let url = if raw.starts_with("https://") { raw.to_owned() } else { format!("https://{raw}") };
    let authority = &url["https://".len()..];
    if authority.is_empty() || authority.contains(['/', '?', '#', ' ']) {
        return Err(Error::BadRequest(format!("invalid kubernetes_host {raw:?}")));
    }
    Ok(url)
}

pub fn check_ca(pem: &str) -> Result<(), Error> {
    if pem.trim().is_empty() {
        return Ok(());
    }
    jwtgate_verifier::parse_ca_bundle(pem)
        .map(drop)
        .map_err(|_| Error::BadRequest("could not parse CA PEM value successfully".into()))
}

/// The read shape: the reviewer JWT is a secret, so only whether it is set is shown.
pub fn hide_reviewer_jwt(config: &mut Map<String, Value>) {
    if let Some(jwt) = config.remove("token_reviewer_jwt") {
        config.insert("token_reviewer_jwt_set".into(), json!(jwt.as_str().is_some_and(|j| !j.is_empty())));
    }
}

/// Where and as whom to ask a cluster about a token.
pub struct Reviewer<'a> {
    pub host: &'a str,
    pub ca: &'a str,
    pub token_reviewer_jwt: &'a str,
    /// Use the pod's own token and CA when the config names none.
    pub local: bool,
}

/// Asks the cluster about `jwt`. The reviewer is `token_reviewer_jwt`, else the pod's own
/// token when jwtgate runs in a pod, else the client's JWT itself.
pub async fn review(
    services: &Services,
    reviewer: &Reviewer<'_>,
    jwt: &str,
    audiences: &[String],
    now: SystemTime,
) -> Result<ReviewedUser, String> {
    let now = crate::time::unix(now);
    let local = &services.local_service_account;
    let bearer = match reviewer.token_reviewer_jwt {
        configured if !configured.is_empty() => configured.to_owned(),
        _ => reviewer.local.then(|| local.token(now)).flatten().unwrap_or_else(|| jwt.to_owned()),
    };
    let ca = match reviewer.ca {
        configured if !configured.is_empty() => Some(configured.to_owned()),
        _ => reviewer.local.then(|| local.ca(now)).flatten(),
    };
    let request = ReviewRequest { host: reviewer.host, ca_pem: ca.as_deref(), bearer: &bearer, token: jwt, audiences };
    services.reviewer.review(request).await.map_err(|e| e.to_string())
}

/// The `token_review` check of a JWT role, after offline validation: the cluster must still
/// vouch for the token and name the same service account.
pub async fn confirm_with_cluster(
    services: &Services,
    reviewer: &Reviewer<'_>,
    jwt: &str,
    claims: &Map<String, Value>,
    audiences: &[String],
    now: SystemTime,
) -> Result<(), Error> {
    if reviewer.host.is_empty() {
        return Err(Error::BadRequest(
            "the role sets token_review but the mount's config has no kubernetes_host".into(),
        ));
    }
    let account = ServiceAccount::from_claims(claims);
    let reviewed = review(services, reviewer, jwt, audiences, now).await.map_err(Error::LoginDenied)?;
    account.matches_review(&reviewed).map_err(Error::LoginDenied)
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
