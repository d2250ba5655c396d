//! The HTTPS front: kube-apiserver's paths for what jwtgate touches, answered from a
//! [`Cluster`], plus `/sim/v1/rotate` for key rotation (admin only).

use crate::cluster::{ApiError, Cluster, ClusterSpec, Target, User};
use crate::keys::{KeyType, SigningKey};
use crate::tls::ClusterCa;
use actix_web::dev::ServerHandle;
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::ssl::{SslAcceptor, SslMethod};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};

/// How to start a simulated cluster.
#[derive(Clone, Default)]
pub struct SimConfig {
    pub spec: ClusterSpec,
    /// Where to listen; `127.0.0.1:0` when empty.
    pub listen: String,
    /// The URL other parties use (discovery's `jwks_uri`, the default issuer); the local
    /// `https://127.0.0.1:<port>` when empty.
    pub external_url: String,
    /// The cluster CA; generated when `None`.
    pub ca: Option<ClusterCa>,
    /// Extra names or addresses for the serving certificate.
    pub extra_sans: Vec<String>,
    /// The kubeconfig user's bearer token; random when empty.
    pub admin_token: String,
    /// The service-account signing key; generated from `spec.key_type` when `None`.
    pub signing_key: Option<SigningKey>,
    /// No access log on stderr (a load generator running the simulator in its own process).
    pub quiet: bool,
}

/// A running simulated cluster.
pub struct Sim {
    /// The local URL (`https://127.0.0.1:<port>`), as the kubeconfig names it.
    pub url: String,
    pub ca: ClusterCa,
    pub admin_token: String,
    shared: Arc<Shared>,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    cluster: Mutex<Cluster>,
    admin_token: String,
    jwks_uri: String,
    name: String,
    quiet: bool,
}

impl Sim {
    /// Binds, builds the cluster and serves on a thread of its own.
    pub fn start(config: SimConfig) -> Result<Sim, String> {
        let (server, mut sim) = Sim::bind(config)?;
        sim.thread = Some(std::thread::spawn(move || {
            let _ = actix_web::rt::System::new().block_on(server);
        }));
        Ok(sim)
    }

    /// Binds and builds the server without running it (the binary runs it on its own system).
    pub fn bind(config: SimConfig) -> Result<(actix_web::dev::Server, Sim), String> {
        let listen = if config.listen.is_empty() { "127.0.0.1:0" } else { &config.listen };
        let listener = TcpListener::bind(listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let url = format!("https://127.0.0.1:{port}");
        let external_url = if config.external_url.is_empty() { url.clone() } else { config.external_url.clone() };
        let ca = config.ca.clone().unwrap_or_else(|| ClusterCa::generate(&config.spec.name));
        let mut cluster = Cluster::new(config.spec.clone(), &external_url);
        if let Some(key) = config.signing_key {
            cluster.rotate(key, true);
        }
        let mut sans: Vec<String> =
            ["127.0.0.1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        sans.push("kubernetes.default.svc.cluster.local".into());
        sans.extend(config.extra_sans.iter().cloned());
        for url in [&external_url, &cluster.spec().issuer] {
            if let Some(host) = host_of(url) {
                sans.push(host);
            }
        }
        let (cert, key) = ca.serving_cert(&sans)?;
        let mut tls = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).map_err(|e| e.to_string())?;
        tls.set_private_key(&key).map_err(|e| e.to_string())?;
        tls.set_certificate(&cert).map_err(|e| e.to_string())?;
        tls.add_extra_chain_cert(ca.cert.clone()).map_err(|e| e.to_string())?;
        let admin_token = if config.admin_token.is_empty() { random_token() } else { config.admin_token.clone() };
        let shared = Arc::new(Shared {
            cluster: Mutex::new(cluster),
            admin_token: admin_token.clone(),
            jwks_uri: format!("{external_url}/openid/v1/jwks"),
            name: config.spec.name.clone(),
            quiet: config.quiet,
        });
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(handle)))
            .workers(2)
            .disable_signals()
            .listen_openssl(listener, tls)
            .map_err(|e| e.to_string())?
            .run();
        let handle = server.handle();
        Ok((server, Sim { url, ca, admin_token, shared, handle, thread: None }))
    }

    /// A kubeconfig whose only context is this cluster, as its admin.
    pub fn kubeconfig(&self) -> String {
        let name = &self.shared.name;
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\nusers:\n- name: {name}-admin\n  user:\n    token: {token}\ncontexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}-admin\n    namespace: default\ncurrent-context: {name}\n",
            url = self.url,
            ca = STANDARD.encode(self.ca.cert_pem()),
            token = self.admin_token,
        )
    }

    /// Direct access to the cluster's state (tests use it to inspect and to rotate keys).
    pub fn cluster(&self) -> MutexGuard<'_, Cluster> {
        self.shared.cluster.lock().expect("cluster lock")
    }

    /// Stops serving and waits for the server thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(thread) = self.thread.take() {
            let handle = self.handle.clone();
            std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(false)))
                .join()
                .expect("stop thread");
            let _ = thread.join();
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn host_of(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let authority = rest.split('/').next()?;
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    };
    Some(host.trim_start_matches('[').trim_end_matches(']').to_owned()).filter(|h| !h.is_empty())
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    openssl::rand::rand_bytes(&mut bytes).expect("random bytes");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[allow(clippy::disallowed_methods)]
fn now() -> i64 {
    // The simulator is a server: it reads the clock here and passes `now` to the cluster.
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

async fn handle(request: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let path = request.path().to_owned();
    let response = respond(&request, &body, &shared).unwrap_or_else(|e| {
        HttpResponse::build(StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)).json(e.status())
    });
    // Paths and statuses only: never a token.
    if !shared.quiet {
        eprintln!("kube-sim[{}]: {} {} {}", shared.name, request.method(), path, response.status().as_u16());
    }
    response
}

fn respond(request: &HttpRequest, body: &[u8], shared: &Shared) -> Result<HttpResponse, ApiError> {
    let now = now();
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let mut cluster = shared.cluster.lock().expect("cluster lock");
    let user = cluster.authenticate(bearer, &shared.admin_token, now)?;
    let method = request.method();
    let verb = match *method {
        Method::GET => "get",
        Method::POST => "create",
        Method::DELETE => "delete",
        _ => "update",
    };
    let path = request.path().trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let resource = |group, resource, namespace| Target::Resource { group, resource, namespace };
    match (verb, segments.as_slice()) {
        // Legacy discovery (system:discovery: any authenticated user), for kubectl commands
        // that map kinds to resources (`delete pod`).
        ("get", ["api" | "apis", ..]) if user == User::Anonymous && segments.len() <= 3 => {
            Err(ApiError::new(403, "Forbidden", format!("forbidden: User \"system:anonymous\" cannot get path \"{path}\"")))
        }
        ("get", ["api"]) => Ok(HttpResponse::Ok().json(json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": request.connection_info().host()}]}))),
        ("get", ["apis"]) => Ok(HttpResponse::Ok().json(json!({"kind": "APIGroupList", "apiVersion": "v1",
            "groups": GROUPS.iter().map(|(group, _)| json!({"name": group,
                "versions": [{"groupVersion": format!("{group}/v1"), "version": "v1"}],
                "preferredVersion": {"groupVersion": format!("{group}/v1"), "version": "v1"}})).collect::<Vec<_>>()}))),
        ("get", ["api", "v1"]) => Ok(HttpResponse::Ok().json(resource_list("v1", CORE_RESOURCES))),
        ("get", ["apis", group, "v1"]) => {
            let (_, resources) = GROUPS.iter().find(|(g, _)| g == group).ok_or_else(not_found)?;
            Ok(HttpResponse::Ok().json(resource_list(&format!("{group}/v1"), resources)))
        }
        ("get", ["version"]) => {
            cluster.authorize(&user, verb, &Target::Path("/version"))?;
            let minor = cluster.spec().minor;
            Ok(HttpResponse::Ok().json(json!({"major": "1", "minor": minor.to_string(),
                "gitVersion": format!("v1.{minor}.0-kube-sim"), "platform": "linux/amd64"})))
        }
        ("get", [".well-known", "openid-configuration"]) => {
            cluster.authorize(&user, verb, &Target::Path("/.well-known/openid-configuration"))?;
            Ok(document("application/json", cluster.discovery_document(&shared.jwks_uri)))
        }
        ("get", ["openid", "v1", "jwks"]) => {
            cluster.authorize(&user, verb, &Target::Path("/openid/v1/jwks"))?;
            Ok(document("application/jwk-set+json", cluster.jwks()))
        }
        (_, ["api", "v1", "namespaces", ns, kind, rest @ ..]) => {
            let sub = match rest {
                [_, sub] => format!("{kind}/{sub}"),
                _ => kind.to_string(),
            };
            cluster.authorize(&user, verb, &resource("", &sub, Some(ns)))?;
            match (verb, *kind, rest) {
                ("create", "serviceaccounts", [name, "token"]) => {
                    let (object, warning) = cluster.token_request(ns, name, &decode(request, body)?, now)?;
                    let mut response = HttpResponse::Created();
                    if let Some(warning) = warning {
                        response.insert_header(("Warning", format!("299 - \"{warning}\"")));
                    }
                    Ok(response.json(object))
                }
                ("create", "serviceaccounts", []) => {
                    created(cluster.create_service_account(ns, &decode(request, body)?, now))
                }
                ("get", "serviceaccounts", [name]) => ok(cluster.service_account(ns, name, now)),
                ("delete", "serviceaccounts", [name]) => ok(cluster.delete_service_account(ns, name, now)),
                ("create", "pods", []) => created(cluster.create_pod(ns, &decode(request, body)?, now)),
                ("get", "pods", [name]) => ok(cluster.pod(ns, name, now)),
                ("delete", "pods", [name]) => ok(cluster.delete_pod(ns, name, now)),
                ("get", "pods", []) => ok(cluster.list_pods(ns, &field_selector_name(request), now)),
                ("create", "secrets", []) => created(cluster.create_secret(ns, &decode(request, body)?, now)),
                ("get", "secrets", [name]) => ok(cluster.secret(ns, name, now)),
                ("delete", "secrets", [name]) => ok(cluster.delete_secret(ns, name, now)),
                _ => Err(not_found()),
            }
        }
        ("create", ["apis", "rbac.authorization.k8s.io", "v1", "clusterrolebindings"]) => {
            cluster.authorize(&user, verb, &resource("rbac.authorization.k8s.io", "clusterrolebindings", None))?;
            created(cluster.create_cluster_role_binding(&decode(request, body)?, now))
        }
        ("create", ["apis", "authentication.k8s.io", "v1", "tokenreviews"]) => {
            cluster.authorize(&user, verb, &resource("authentication.k8s.io", "tokenreviews", None))?;
            let review = decode(request, body)?;
            let token = review["spec"]["token"].as_str().unwrap_or_default();
            let audiences: Vec<String> = review["spec"]["audiences"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect();
            let status = cluster.token_review(token, &audiences, now);
            let mut spec = review["spec"].clone();
            if spec["audiences"].is_null() {
                spec.as_object_mut().map(|s| s.remove("audiences"));
            }
            Ok(HttpResponse::Created().json(json!({"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"creationTimestamp": null}, "spec": spec, "status": status})))
        }
        ("create", ["sim", "v1", "rotate"]) => {
            if user != User::Admin {
                return Err(ApiError::new(403, "Forbidden", "only the cluster admin may rotate keys"));
            }
            let options = if body.is_empty() { json!({}) } else { decode(request, body)? };
            let key_type = match options["keyType"].as_str() {
                Some(name) => name.parse::<KeyType>().map_err(ApiError::bad_request)?,
                None => cluster.spec().key_type,
            };
            let key = SigningKey::generate(key_type);
            let kid = key.public.kid.clone();
            cluster.rotate(key, options["retireOld"].as_bool().unwrap_or(false));
            Ok(HttpResponse::Ok().json(json!({"kid": kid})))
        }
        _ => Err(not_found()),
    }
}

/// `(name, singular, kind, verbs, short names)` of the resources served.
type Resource = (&'static str, &'static str, &'static str, &'static [&'static str], &'static [&'static str]);

const CORE_RESOURCES: &[Resource] = &[
    ("pods", "pod", "Pod", &["create", "delete", "get", "list"], &["po"]),
    ("secrets", "secret", "Secret", &["create", "delete", "get"], &[]),
    ("serviceaccounts", "serviceaccount", "ServiceAccount", &["create", "delete", "get"], &["sa"]),
    ("serviceaccounts/token", "", "TokenRequest", &["create"], &[]),
];

const GROUPS: &[(&str, &[Resource])] = &[
    ("authentication.k8s.io", &[("tokenreviews", "tokenreview", "TokenReview", &["create"], &[])]),
    (
        "rbac.authorization.k8s.io",
        &[("clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", &["create"], &[])],
    ),
];

fn resource_list(group_version: &str, resources: &[Resource]) -> Value {
    let resources: Vec<Value> = resources
        .iter()
        .map(|(name, singular, kind, verbs, short)| {
            let namespaced = !group_version.contains('.');
            json!({"name": name, "singularName": singular, "namespaced": namespaced, "kind": kind, "verbs": verbs, "shortNames": short})
        })
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

/// The name in `?fieldSelector=metadata.name=NAME` (what `kubectl delete --wait` lists by).
fn field_selector_name(request: &HttpRequest) -> Option<String> {
    request.query_string().split('&').find_map(|pair| {
        let value = pair.strip_prefix("fieldSelector=")?.replace("%3D", "=").replace("%3d", "=");
        value.strip_prefix("metadata.name=").map(str::to_owned)
    })
}

fn not_found() -> ApiError {
    ApiError::new(404, "NotFound", "the server could not find the requested resource")
}

fn ok(result: Result<Value, ApiError>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(result?))
}

fn created(result: Result<Value, ApiError>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Created().json(result?))
}

fn document(content_type: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

/// The request object from JSON or from client-go's protobuf.
fn decode(request: &HttpRequest, body: &[u8]) -> Result<Value, ApiError> {
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.starts_with("application/vnd.kubernetes.protobuf") {
        return crate::proto::decode(body).map_err(|e| ApiError::new(415, "UnsupportedMediaType", e));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the object provided is unrecognized (not valid JSON: {e})")))
}
