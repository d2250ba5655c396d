//! In-process tests of the HTTP API: status codes and Vault-shaped bodies for every endpoint
//! and error path, the access matrix, and hostile requests.

mod access;
mod admin;
mod audit;
mod hostile;
mod kubernetes;
mod login;
mod records;
mod wrapping;

use actix_web::http::StatusCode;
use actix_web::{test, web, App};
use jwtgate_core::{Core, Options as CoreOptions};
use jwtgate_store::{Options, Store};
use jwtgate_verifier::testkit::TestKey;
use jwtgate_verifier::HttpsFetcher;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

pub const NOW: i64 = 1_700_000_000;
pub const ROOT: &str = "root-token-for-tests";
pub const SUBJECT: &str = "system:serviceaccount:default:default";

pub fn key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::rsa(2048))
}

/// One server over a temporary store, initialised with the `ROOT` token.
pub struct Server {
    _dir: tempfile::TempDir,
    pub state: web::Data<Core>,
    /// The server's clock, in Unix seconds; tests move it.
    pub now: Arc<AtomicI64>,
}

pub fn test_clock(now: &Arc<AtomicI64>) -> jwtgate_core::Clock {
    let now = now.clone();
    Arc::new(move || SystemTime::UNIX_EPOCH + Duration::from_secs(now.load(Ordering::SeqCst) as u64))
}

/// A response: status and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
    pub content_type: String,
}

impl Default for Server {
    fn default() -> Server {
        Server::new()
    }
}

impl Server {
    pub fn new() -> Server {
        Server::configured(|_| {})
    }

    /// A server whose state `adjust` may change before it starts.
    pub fn configured(adjust: impl FnOnce(&mut CoreOptions)) -> Server {
        Server::build(true, adjust)
    }

    /// An uninitialised server.
    pub fn uninitialised() -> Server {
        Server::build(false, |_| {})
    }

    fn build(initialise: bool, adjust: impl FnOnce(&mut CoreOptions)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&Options::new(dir.path().join("db"))).unwrap());
        if initialise {
            jwtgate_core::initialize(&store, NOW, Some(ROOT.into())).unwrap();
        }
        Server::over(dir, store, adjust)
    }

    /// A server over an existing store in `dir` (a restart, or a restored backup).
    pub fn over(dir: tempfile::TempDir, store: Arc<Store>, adjust: impl FnOnce(&mut CoreOptions)) -> Server {
        let now = Arc::new(AtomicI64::new(NOW));
        let mut options = CoreOptions::default();
        adjust(&mut options);
        let state = Core::new(store, Arc::new(HttpsFetcher::default()), test_clock(&now), options).unwrap();
        Server { _dir: dir, state: web::Data::new(state), now }
    }

    /// Moves the server's clock forward.
    pub fn advance(&self, seconds: i64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
    }

    pub async fn raw(&self, request: test::TestRequest) -> Reply {
        let app = test::init_service(App::new().app_data(self.state.clone()).configure(jwtgate_api::configure)).await;
        let response = test::call_service(&app, request.to_request()).await;
        let status = response.status();
        let content_type =
            response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let bytes = test::read_body(response).await;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, body, text, content_type }
    }

    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        self.call_with(method, path, token, body, &[]).await
    }

    /// [`Server::call`] with extra headers.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = test::TestRequest::default()
            .method(actix_web::http::Method::from_bytes(method.as_bytes()).unwrap())
            .uri(&format!("/v1/{path}"))
            .peer_addr("127.0.0.1:40000".parse().unwrap());
        if let Some(token) = token {
            request = request.insert_header(("X-Vault-Token", token));
        }
        for (name, value) in headers {
            request = request.insert_header((*name, *value));
        }
        if let Some(body) = body {
            request = request.set_payload(body.to_string());
        }
        self.raw(request).await
    }

    /// Enables `jwt` at `mount`, trusts `key()`, and writes the seed's role as `my-role`.
    pub async fn with_jwt_mount(self, mount: &str) -> Server {
        assert_eq!(
            self.call("POST", &format!("sys/auth/{mount}"), Some(ROOT), Some(json!({"type": "jwt"}))).await.status,
            204
        );
        let config = json!({"jwt_validation_pubkeys": [key().public_pem()]});
        assert_eq!(self.call("PUT", &format!("auth/{mount}/config"), Some(ROOT), Some(config)).await.status, 204);
        let role = json!({"role_type": "jwt", "bound_audiences": "vault", "user_claim": "sub", "bound_subject": SUBJECT, "policies": "default", "ttl": "1h"});
        assert_eq!(self.call("PUT", &format!("auth/{mount}/role/my-role"), Some(ROOT), Some(role)).await.status, 204);
        self
    }

    /// Logs in at `mount` with a valid token; returns the client token.
    pub async fn login(&self, mount: &str) -> String {
        let reply = self
            .call("PUT", &format!("auth/{mount}/login"), None, Some(json!({"role": "my-role", "jwt": token()})))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body["auth"]["client_token"].as_str().unwrap().to_owned()
    }
}

/// A projected Kubernetes token for audience `vault`, valid at `NOW`.
pub fn token() -> String {
    key().token(&claims())
}

pub fn claims() -> Value {
    json!({
        "aud": ["vault"], "exp": NOW + 600, "iat": NOW, "nbf": NOW,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "kubernetes.io": {"namespace": "default", "pod": {"name": "app", "uid": "p-1"}, "serviceaccount": {"name": "default", "uid": "s-1"}},
        "sub": SUBJECT
    })
}

/// Asserts Vault's error shape: the status, and `errors == [message]` (or `[]`).
pub fn assert_error(reply: &Reply, status: u16, message: Option<&str>) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
    assert_eq!(reply.content_type, "application/json");
    let errors = reply.body["errors"].as_array().unwrap_or_else(|| panic!("no errors array: {}", reply.text));
    match message {
        Some(message) => assert_eq!(errors.first().and_then(Value::as_str), Some(message), "{}", reply.text),
        None => assert!(errors.is_empty(), "{}", reply.text),
    }
}
