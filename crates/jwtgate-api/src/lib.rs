//! jwtgate's HTTP transport on actix-web: it turns an HTTP request into the core's typed
//! [`Request`] (token header, peer, query, a size-limited body), hands it to
//! [`Core::handle`], and encodes the [`Response`] in Vault's envelope. The status codes of
//! errors are decided here and nowhere else.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use jwtgate_core::request::{parse_bool, parse_query};
use jwtgate_core::{Core, Error, Operation, Request, Response};
use serde_json::json;

/// Mounts every Vault path under `/v1/`.
pub fn configure(config: &mut web::ServiceConfig) {
    config.route("/v1/{path:.*}", web::route().to(dispatch));
}

/// An error answered over HTTP.
#[derive(Debug)]
pub struct HttpError(pub Error);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The one mapping from the core's errors to HTTP statuses.
pub fn status(error: &Error) -> StatusCode {
    match error {
        Error::BadRequest(_) => StatusCode::BAD_REQUEST,
        Error::PermissionDenied | Error::InvalidToken | Error::Forbidden(_) | Error::LoginDenied(_) => {
            StatusCode::FORBIDDEN
        }
        Error::NotFound | Error::NoHandler(_) | Error::NamespaceNotFound => StatusCode::NOT_FOUND,
        Error::UnsupportedOperation => StatusCode::METHOD_NOT_ALLOWED,
        Error::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl actix_web::ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        status(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(json!({ "errors": self.0.messages() }).to_string())
    }
}

impl From<Error> for HttpError {
    fn from(error: Error) -> HttpError {
        HttpError(error)
    }
}

/// The client token from `X-Vault-Token` or `Authorization: Bearer`.
fn client_token(request: &HttpRequest) -> Option<String> {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    header("X-Vault-Token")
        .filter(|t| !t.is_empty())
        .or_else(|| header("Authorization").and_then(|v| v.strip_prefix("Bearer ")).map(str::trim))
        .map(str::to_owned)
}

fn header(request: &HttpRequest, name: &str) -> Option<String> {
    request.headers().get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
}

/// `/v1/{path}`: every Vault path goes through here.
async fn dispatch(
    core: web::Data<Core>,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    let query = parse_query(request.query_string());
    let list = match query.iter().find(|(k, _)| k == "list") {
        Some((_, value)) => parse_bool(value).ok_or_else(|| Error::BadRequest("invalid list parameter".into()))?,
        None => false,
    };
    let operation = Operation::from_method(request.method().as_str(), list).ok_or(Error::UnsupportedOperation)?;
    let path = path.into_inner();
    let body = read_body(payload, core.body_limit(&path)).await?;
    let admitted = Request {
        id: jwtgate_core::request::new_id(),
        operation,
        path,
        token: client_token(&request),
        peer: request.peer_addr().map(|a| a.ip()),
        peer_port: request.peer_addr().map_or(0, |a| a.port()),
        query,
        body,
        namespace: header(&request, "X-Vault-Namespace"),
        wrap_ttl: header(&request, "X-Vault-Wrap-TTL"),
    };
    let id = admitted.id.clone();
    Ok(encode(core.handle(admitted).await?, &id))
}

/// Reads the payload up to `limit` bytes (413 past it, with or without Content-Length).
async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => Error::PayloadTooLarge,
            other => Error::BadRequest(format!("error reading request body: {other}")),
        })?;
        if bytes.len() + chunk.len() > limit {
            return Err(Error::PayloadTooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn encode(response: Response, request_id: &str) -> HttpResponse {
    let json = |status: u16, body: String| {
        HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body)
    };
    match response {
        Response::Logical(logical) => json(200, logical.envelope(request_id)),
        Response::NoContent => HttpResponse::NoContent().insert_header((header::CACHE_CONTROL, "no-store")).finish(),
        Response::Json { status, body } => json(status, body.to_string()),
        Response::Status(status) => json(status, String::new()),
        Response::Text { content_type, body } => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, content_type))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body),
    }
}
