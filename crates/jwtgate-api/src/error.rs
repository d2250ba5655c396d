//! The only place that knows HTTP status codes. Bodies are Vault's `{"errors":[...]}`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

/// Everything a handler can answer besides success.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
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

impl ApiError {
    /// Logs an internal failure once, at the point of handling, and hides it from the client.
    pub fn internal(context: &str, error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "failed to {context}");
        ApiError::Internal
    }
}

impl From<jwtgate_store::StoreError> for ApiError {
    fn from(error: jwtgate_store::StoreError) -> Self {
        ApiError::internal("use the store", error)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PermissionDenied | ApiError::InvalidToken | ApiError::Forbidden(_) | ApiError::LoginDenied(_) => {
                StatusCode::FORBIDDEN
            }
            ApiError::NotFound | ApiError::NoHandler(_) => StatusCode::NOT_FOUND,
            ApiError::UnsupportedOperation => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let errors: Vec<String> = match self {
            ApiError::NotFound => Vec::new(),
            ApiError::InvalidToken => vec!["permission denied".into(), "invalid token".into()],
            ApiError::LoginDenied(reason) => vec!["permission denied".into(), reason.clone()],
            other => vec![other.to_string()],
        };
        HttpResponse::build(self.status_code())
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(serde_json::json!({ "errors": errors }).to_string())
    }
}
