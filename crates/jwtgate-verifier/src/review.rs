//! Kubernetes TokenReview: asking the cluster whether a service-account token is still valid
//! (shared/spec/kubernetes-tokens.md §4.2). Offline validation cannot see a deleted pod or a
//! recreated service account; the apiserver can.

use crate::fetch::{AgentCache, BoxFuture};
use serde_json::{json, Value};
use std::time::Duration;

/// One review: where, as whom, of which token, for which audiences.
#[derive(Debug, Clone, Copy)]
pub struct ReviewRequest<'a> {
    /// `https://host[:port]`, without a trailing slash.
    pub host: &'a str,
    /// PEM CA bundle replacing the system roots; `None` uses the system roots.
    pub ca_pem: Option<&'a str>,
    /// The reviewer's bearer token (it needs `system:auth-delegator`).
    pub bearer: &'a str,
    /// The token under review.
    pub token: &'a str,
    /// `spec.audiences`; empty asks for the apiserver's own audiences.
    pub audiences: &'a [String],
}

/// The service account the apiserver says the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewedUser {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// Why a review did not vouch for the token. Texts follow Vault's Kubernetes auth method
/// (`lookup failed: ...`), with the cause named where Vault's is vague.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    #[error("lookup failed: cannot reach the Kubernetes API at {host}: {reason}")]
    Transport { host: String, reason: String },
    #[error("lookup failed: service account unauthorized; this could mean it has been deleted or recreated with a new token")]
    Unauthorized,
    #[error("lookup failed: the token reviewer may not create TokenReviews (it needs system:auth-delegator): {0}")]
    Forbidden(String),
    #[error("lookup failed: the Kubernetes API answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("lookup failed: {0}")]
    Refused(String),
    #[error("lookup failed: service account jwt not valid")]
    NotAuthenticated,
    #[error("lookup failed: unexpected username format")]
    Username,
    #[error("lookup failed: username returned is not a service account")]
    NotServiceAccount,
    #[error("lookup failed: the reviewed audiences {0:?} are not among those asked for")]
    Audiences(Vec<String>),
    #[error("lookup failed: invalid TokenReview response: {0}")]
    Response(String),
}

/// Asks an apiserver for a TokenReview. Implementations bound the time a review may take.
pub trait Review: Send + Sync + std::fmt::Debug {
    fn review<'a>(&'a self, request: ReviewRequest<'a>) -> BoxFuture<'a, Result<ReviewedUser, ReviewError>>;
}

/// TokenReview over HTTPS with openssl (through ureq's native-tls), JSON both ways. Agents
/// are kept per CA bundle, so TLS set-up and connections are reused across logins.
#[derive(Debug, Clone)]
pub struct HttpsReviewer {
    /// Total time for connect, TLS, request and response (default 10 s).
    pub timeout: Duration,
    agents: AgentCache,
}

impl Default for HttpsReviewer {
    fn default() -> Self {
        HttpsReviewer::new(Duration::from_secs(10))
    }
}

const MAX_RESPONSE: u64 = 1024 * 1024;

impl HttpsReviewer {
    pub fn new(timeout: Duration) -> HttpsReviewer {
        HttpsReviewer { timeout, agents: AgentCache::default() }
    }

    fn review_blocking(
        &self,
        host: &str,
        ca_pem: Option<&str>,
        bearer: &str,
        body: &str,
    ) -> Result<(u16, Vec<u8>), ReviewError> {
        let transport = |reason: String| ReviewError::Transport { host: host.to_owned(), reason };
        let mut response = self
            .agents
            .get(ca_pem, self.timeout)
            .map_err(|e| transport(e.to_string()))?
            .post(&format!("{host}/apis/authentication.k8s.io/v1/tokenreviews"))
            .header("Authorization", &format!("Bearer {}", bearer.trim()))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .send(body)
            .map_err(|e| transport(e.to_string()))?;
        let status = response.status().as_u16();
        let bytes = response.body_mut().with_config().limit(MAX_RESPONSE).read_to_vec().map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => ReviewError::Response(format!("larger than {MAX_RESPONSE} bytes")),
            other => transport(other.to_string()),
        })?;
        Ok((status, bytes))
    }
}

impl Review for HttpsReviewer {
    fn review<'a>(&'a self, request: ReviewRequest<'a>) -> BoxFuture<'a, Result<ReviewedUser, ReviewError>> {
        let this = self.clone();
        let (host, ca, bearer) =
            (request.host.to_owned(), request.ca_pem.map(str::to_owned), request.bearer.to_owned());
        let audiences = request.audiences.to_vec();
        let mut spec = json!({"token": request.token});
        if !audiences.is_empty() {
            spec["audiences"] = json!(audiences);
        }
        let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}).to_string();
        Box::pin(async move {
            let (status, bytes) =
                tokio::task::spawn_blocking(move || this.review_blocking(&host, ca.as_deref(), &bearer, &body))
                    .await
                    .map_err(|e| ReviewError::Response(e.to_string()))??;
            interpret_review(status, &bytes, &audiences)
        })
    }
}

/// Vault's reading of a TokenReview answer, plus the audience check the API asks clients to make.
pub fn interpret_review(status: u16, body: &[u8], asked: &[String]) -> Result<ReviewedUser, ReviewError> {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = || {
        parsed["message"].as_str().map(str::to_owned).unwrap_or_else(|| {
            crate::truncate(String::from_utf8_lossy(&body[..body.len().min(200)]).trim()).to_string()
        })
    };
    match status {
        200..=206 => {}
        401 => return Err(ReviewError::Unauthorized),
        403 => return Err(ReviewError::Forbidden(message())),
        other => return Err(ReviewError::Status { status: other, message: message() }),
    }
    if parsed["kind"] != "TokenReview" {
        return Err(ReviewError::Response("not a TokenReview".into()));
    }
    let review = &parsed["status"];
    if let Some(error) = review["error"].as_str().filter(|e| !e.is_empty()) {
        return Err(ReviewError::Refused(error.to_owned()));
    }
    if review["authenticated"] != true {
        return Err(ReviewError::NotAuthenticated);
    }
    let username = review["user"]["username"].as_str().unwrap_or_default();
    let parts: Vec<&str> = username.split(':').collect();
    if parts.len() != 4 {
        return Err(ReviewError::Username);
    }
    if parts[0] != "system" || parts[1] != "serviceaccount" {
        return Err(ReviewError::NotServiceAccount);
    }
    if let Some(granted) = review["audiences"].as_array() {
        let granted: Vec<String> = granted.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect();
        if !asked.is_empty() && !granted.iter().any(|a| asked.contains(a)) {
            return Err(ReviewError::Audiences(granted));
        }
    }
    Ok(ReviewedUser {
        namespace: parts[2].to_owned(),
        name: parts[3].to_owned(),
        uid: review["user"]["uid"].as_str().unwrap_or_default().to_owned(),
    })
}
