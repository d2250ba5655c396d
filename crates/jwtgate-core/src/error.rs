//! Everything the core can answer besides success. The HTTP adapter maps each kind to its one
//! status code; [`Error::messages`] is the body's `errors` list.

/// A refused or failed request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// 400 with Vault's text.
    #[error("{0}")]
    BadRequest(String),
    /// 403 `permission denied`.
    #[error("permission denied")]
    PermissionDenied,
    /// 403 with a specific text (`bad token`).
    #[error("{0}")]
    Forbidden(String),
    /// 403 for a login the cluster refused (TokenReview): `permission denied` and the reason.
    #[error("permission denied: {0}")]
    LoginDenied(String),
    /// 403 for an unknown, revoked or expired client token (Vault ≥ 1.15 wording).
    #[error("permission denied")]
    InvalidToken,
    /// 404 `{"errors":[]}`: a missing item or an empty list.
    #[error("not found")]
    NotFound,
    /// 404 for a path nothing serves.
    #[error("no handler for route {0:?}. route entry not found.")]
    NoHandler(String),
    /// 404 for an `X-Vault-Namespace` other than the root, as a Vault without that namespace.
    #[error("namespace not found")]
    NamespaceNotFound,
    /// 405 `unsupported operation`.
    #[error("unsupported operation")]
    UnsupportedOperation,
    /// 413.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 501 / 503 and friends are answered by their handlers; this is the storage-failure case.
    #[error("{0}")]
    Unavailable(String),
    /// 500: logged once where it happens; the client sees no internals.
    #[error("internal error")]
    Internal,
}

impl Error {
    /// Logs an internal failure once, at the point of handling, and hides it from the client.
    pub fn internal(context: &str, error: impl std::fmt::Display) -> Error {
        tracing::error!(%error, "failed to {context}");
        Error::Internal
    }

    /// Vault's `errors` list for this error.
    pub fn messages(&self) -> Vec<String> {
        match self {
            Error::NotFound => Vec::new(),
            Error::InvalidToken => vec!["permission denied".into(), "invalid token".into()],
            Error::LoginDenied(reason) => vec!["permission denied".into(), reason.clone()],
            other => vec![other.to_string()],
        }
    }
}

impl From<jwtgate_store::StoreError> for Error {
    fn from(error: jwtgate_store::StoreError) -> Self {
        match error {
            // The database is down or unreachable: 503 now, and service resumes when it is back.
            jwtgate_store::StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "storage unavailable");
                Error::Unavailable(format!("storage unavailable: {detail}"))
            }
            error => Error::internal("use the store", error),
        }
    }
}
