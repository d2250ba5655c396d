//! The Kubernetes auth method and `token_review` JWT roles against kube-sim, which answers
//! TokenReview as kube-apiserver does: revocation (deleted pod, deleted or recreated service
//! account), audiences, name and namespace globs, reviewer permissions, an unreachable or
//! silent apiserver, legacy tokens, local `pem_keys`, and the pod's own reviewer token.

use crate::{Reply, Server, ROOT};
use jwtgate_kube_sim::{Cluster, ClusterSpec, Sim, SimConfig};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::sync::atomic::Ordering;

#[allow(clippy::disallowed_methods)]
fn wall_clock() -> i64 {
    // kube-sim signs with the real clock, so the server under test must agree with it.
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn sa_token(cluster: &mut Cluster, namespace: &str, name: &str, spec: Value) -> String {
    let (response, _) = cluster.token_request(namespace, name, &json!({ "spec": spec }), wall_clock()).unwrap();
    response["status"]["token"].as_str().unwrap().to_owned()
}

fn create_sa(cluster: &mut Cluster, namespace: &str, name: &str) {
    cluster.create_service_account(namespace, &json!({"metadata": {"name": name}}), wall_clock()).unwrap();
}

fn bind_reviewer(cluster: &mut Cluster, name: &str) {
    let binding = json!({"metadata": {"name": format!("{name}-delegator")}, "roleRef": {"kind": "ClusterRole", "name": "system:auth-delegator"},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": "default"}]});
    cluster.create_cluster_role_binding(&binding, wall_clock()).unwrap();
}

fn pod(cluster: &mut Cluster, name: &str) {
    cluster.create_pod("default", &json!({"metadata": {"name": name}}), wall_clock()).unwrap();
}

/// A simulated cluster with a reviewer service account bound to system:auth-delegator.
struct Kube {
    sim: Sim,
    reviewer: String,
}

impl Kube {
    fn start() -> Kube {
        let sim = Sim::start(SimConfig::default()).unwrap();
        let reviewer = {
            let mut cluster = sim.cluster();
            create_sa(&mut cluster, "default", "jwtgate-reviewer");
            bind_reviewer(&mut cluster, "jwtgate-reviewer");
            sa_token(&mut cluster, "default", "jwtgate-reviewer", json!({"expirationSeconds": 86_400}))
        };
        Kube { sim, reviewer }
    }

    fn config(&self) -> Value {
        json!({"kubernetes_host": self.sim.url, "kubernetes_ca_cert": self.sim.ca.cert_pem(), "token_reviewer_jwt": self.reviewer})
    }

    fn pod_token(&self, pod_name: &str, audience: &str) -> String {
        let mut cluster = self.sim.cluster();
        pod(&mut cluster, pod_name);
        let spec = json!({"audiences": [audience], "expirationSeconds": 600, "boundObjectRef": {"kind": "Pod", "name": pod_name}});
        sa_token(&mut cluster, "default", "default", spec)
    }
}

async fn server_with_kubernetes_mount(config: Value, role: Value) -> Server {
    let server = Server::new();
    server.now.store(wall_clock(), Ordering::SeqCst);
    let enable = server.call("POST", "sys/auth/kubernetes", Some(ROOT), Some(json!({"type": "kubernetes"}))).await;
    assert_eq!(enable.status, 204, "{}", enable.text);
    let written = server.call("PUT", "auth/kubernetes/config", Some(ROOT), Some(config)).await;
    assert_eq!(written.status, 204, "{}", written.text);
    let written = server.call("PUT", "auth/kubernetes/role/app", Some(ROOT), Some(role)).await;
    assert_eq!(written.status.as_u16() / 100, 2, "{}", written.text);
    server
}

fn app_role() -> Value {
    json!({"bound_service_account_names": "default", "bound_service_account_namespaces": "default", "audience": "vault",
        "token_policies": "default", "token_ttl": "1h"})
}

async fn login(server: &Server, token: &str) -> Reply {
    server.call("PUT", "auth/kubernetes/login", None, Some(json!({"role": "app", "jwt": token}))).await
}

fn assert_refused(reply: &Reply, want: &str) {
    assert_eq!(reply.status, 403, "{}", reply.text);
    let errors = reply.body["errors"].to_string();
    assert!(errors.contains(want), "wanted {want:?} in {errors}");
}

#[actix_web::test]
async fn a_valid_token_logs_in_with_service_account_metadata() {
    let kube = Kube::start();
    let server = server_with_kubernetes_mount(kube.config(), app_role()).await;
    let token = kube.pod_token("web", "vault");
    let reply = login(&server, &token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let auth = &reply.body["auth"];
    let sa_uid = kube.sim.cluster().service_account("default", "default", 0).unwrap()["metadata"]["uid"].clone();
    assert_eq!(auth["metadata"]["service_account_uid"], sa_uid);
    assert_eq!(auth["metadata"]["service_account_name"], "default");
    assert_eq!(auth["metadata"]["service_account_namespace"], "default");
    assert_eq!(auth["metadata"]["service_account_secret_name"], "");
    assert_eq!(auth["metadata"]["role"], "app");
    assert_eq!(auth["policies"], json!(["default"]));
    assert_eq!(auth["lease_duration"], 3600);
    let client = auth["client_token"].as_str().unwrap();
    let lookup = server.call("GET", "auth/token/lookup-self", Some(client), None).await;
    assert_eq!(lookup.body["data"]["display_name"], "kubernetes-default-default");
    assert_eq!(lookup.body["data"]["path"], "auth/kubernetes/login");
    let renewed = server.call("PUT", "auth/token/renew-self", Some(client), Some(json!({"increment": "30m"}))).await;
    assert_eq!(renewed.status, 200, "{}", renewed.text);
    assert_eq!(renewed.body["auth"]["lease_duration"], 1800);
    // The config read never shows the reviewer's JWT.
    let read = server.call("GET", "auth/kubernetes/config", Some(ROOT), None).await;
    assert_eq!(read.body["data"]["token_reviewer_jwt_set"], true);
    assert!(read.body["data"].get("token_reviewer_jwt").is_none());
    assert!(!read.text.contains(&kube.reviewer));
    assert_eq!(read.body["data"]["disable_iss_validation"], true);
}

#[actix_web::test]
async fn revoked_and_mismatched_tokens_are_refused() {
    type Mutate = fn(&mut Cluster);
    let cases: &[(&str, Mutate, &str)] = &[
        (
            "pod deleted",
            |c| drop(c.delete_pod("default", "web", 0)),
            "[invalid bearer token, service account token has been invalidated]",
        ),
        (
            "service account deleted",
            |c| drop(c.delete_service_account("default", "default", 0)),
            "service account token has been invalidated",
        ),
        (
            "service account recreated",
            |c| {
                c.delete_service_account("default", "default", 0).unwrap();
                c.create_service_account("default", &json!({"metadata": {"name": "default"}}), 0).unwrap();
            },
            "does not match claim",
        ),
    ];
    for (name, mutate, want) in cases {
        let kube = Kube::start();
        let server = server_with_kubernetes_mount(kube.config(), app_role()).await;
        let token = kube.pod_token("web", "vault");
        assert_eq!(login(&server, &token).await.status, 200, "{name}: before");
        mutate(&mut kube.sim.cluster());
        let reply = login(&server, &token).await;
        assert_refused(&reply, want);
        assert_eq!(reply.body["errors"][0], "permission denied", "{name}");
    }
}

#[actix_web::test]
async fn audiences_names_and_namespaces() {
    let kube = Kube::start();
    {
        let mut cluster = kube.sim.cluster();
        // `team-a/default` comes with the namespace.
        for (namespace, name) in [("team-a", "app-web"), ("other", "app-web")] {
            create_sa(&mut cluster, namespace, name);
        }
    }
    let globbed = json!({"bound_service_account_names": "app-*", "bound_service_account_namespaces": "team-*", "audience": "vault"});
    let server = server_with_kubernetes_mount(kube.config(), globbed).await;
    let token = |namespace: &str, name: &str, audience: &str| {
        sa_token(&mut kube.sim.cluster(), namespace, name, json!({"audiences": [audience], "expirationSeconds": 600}))
    };
    let cases = [
        ("team-a", "app-web", "vault", None),
        ("team-a", "default", "vault", Some("service account name not authorized")),
        ("other", "app-web", "vault", Some("namespace not authorized")),
        (
            "team-a",
            "app-web",
            "other",
            Some("invalid audience (aud) claim: audience claim does not match any expected audience"),
        ),
    ];
    for (namespace, name, audience, want) in cases {
        let reply = login(&server, &token(namespace, name, audience)).await;
        match want {
            None => assert_eq!(reply.status, 200, "{namespace}/{name}: {}", reply.text),
            Some(want) => assert_refused(&reply, want),
        }
    }
    // A role without an audience sends the token's own audiences to TokenReview.
    // Omitted fields keep their values on a role write (merge), so the audience is cleared explicitly.
    let open = json!({"bound_service_account_names": "*", "bound_service_account_namespaces": "*", "audience": ""});
    let written = server.call("PUT", "auth/kubernetes/role/app", Some(ROOT), Some(open)).await;
    assert_eq!(written.status, 200, "{}", written.text);
    assert!(written.text.contains("does not specify an audience"), "{}", written.text);
    assert_eq!(login(&server, &token("other", "app-web", "anything")).await.status, 200);
}

#[actix_web::test]
async fn reviewer_permissions_and_an_unreachable_apiserver() {
    let kube = Kube::start();
    let unprivileged = {
        let mut cluster = kube.sim.cluster();
        create_sa(&mut cluster, "default", "nobody");
        sa_token(&mut cluster, "default", "nobody", json!({}))
    };
    let token = kube.pod_token("web", "vault");
    let mut config = kube.config();
    config["token_reviewer_jwt"] = json!(unprivileged);
    let server = server_with_kubernetes_mount(config.clone(), app_role()).await;
    assert_refused(
        &login(&server, &token).await,
        "the token reviewer may not create TokenReviews (it needs system:auth-delegator)",
    );

    // No reviewer configured and not in a pod: the client's own token is the bearer. A token
    // for audience `vault` cannot authenticate to the apiserver at all; one for the API
    // audiences can, and then needs system:auth-delegator itself.
    config["token_reviewer_jwt"] = json!("");
    config["disable_local_ca_jwt"] = json!(true);
    assert_eq!(server.call("PUT", "auth/kubernetes/config", Some(ROOT), Some(config.clone())).await.status, 204);
    assert_refused(&login(&server, &token).await, "lookup failed: service account unauthorized; this could mean it has been deleted or recreated with a new token");
    let any_audience = json!({"bound_service_account_names": "default", "bound_service_account_namespaces": "default", "audience": ""});
    assert_eq!(server.call("PUT", "auth/kubernetes/role/app", Some(ROOT), Some(any_audience)).await.status, 200);
    let api_token = sa_token(&mut kube.sim.cluster(), "default", "default", json!({}));
    assert_refused(&login(&server, &api_token).await, "may not create TokenReviews");
    bind_reviewer(&mut kube.sim.cluster(), "default");
    assert_eq!(login(&server, &api_token).await.status, 200);
    assert_eq!(server.call("PUT", "auth/kubernetes/role/app", Some(ROOT), Some(app_role())).await.status, 204);

    // Nothing listens: a prompt, clear refusal.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    config["kubernetes_host"] = json!(format!("127.0.0.1:{closed_port}"));
    assert_eq!(server.call("PUT", "auth/kubernetes/config", Some(ROOT), Some(config.clone())).await.status, 204);
    assert_refused(
        &login(&server, &token).await,
        &format!("cannot reach the Kubernetes API at https://127.0.0.1:{closed_port}"),
    );

    // Accepts but never answers: the reviewer's timeout ends the login.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let server = Server::configured(|state| {
        state.reviewer =
            std::sync::Arc::new(jwtgate_verifier::HttpsReviewer::new(std::time::Duration::from_millis(500)))
    });
    server.now.store(wall_clock(), Ordering::SeqCst);
    assert_eq!(
        server.call("POST", "sys/auth/kubernetes", Some(ROOT), Some(json!({"type": "kubernetes"}))).await.status,
        204
    );
    config["kubernetes_host"] = json!(format!("https://127.0.0.1:{silent_port}"));
    assert_eq!(server.call("PUT", "auth/kubernetes/config", Some(ROOT), Some(config)).await.status, 204);
    assert_eq!(server.call("PUT", "auth/kubernetes/role/app", Some(ROOT), Some(app_role())).await.status, 204);
    assert_refused(&login(&server, &token).await, "cannot reach the Kubernetes API");
    drop(silent);
}

#[actix_web::test]
async fn legacy_tokens_expiry_and_local_keys() {
    let kube = Kube::start();
    let legacy = {
        let mut cluster = kube.sim.cluster();
        let secret = json!({"metadata": {"name": "default-token", "annotations": {"kubernetes.io/service-account.name": "default"}},
            "type": "kubernetes.io/service-account-token"});
        let created = cluster.create_secret("default", &secret, 0).unwrap();
        let encoded = created["data"]["token"].as_str().unwrap();
        String::from_utf8(base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded).unwrap()).unwrap()
    };
    // Legacy tokens carry no aud: the role must not require one.
    let role = json!({"bound_service_account_names": "default", "bound_service_account_namespaces": "default"});
    let mut config = kube.config();
    config["pem_keys"] = json!([kube.sim.cluster().signing_key().public.public_pem()]);
    let server = server_with_kubernetes_mount(config, role).await;
    let reply = login(&server, &legacy).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["auth"]["metadata"]["service_account_secret_name"], "default-token");
    kube.sim.cluster().delete_secret("default", "default-token", 0).unwrap();
    assert_refused(&login(&server, &legacy).await, "Token has been invalidated");

    // pem_keys: another cluster's token fails the local signature check before any review.
    let twin = Sim::start(SimConfig { spec: ClusterSpec::default(), ..SimConfig::default() }).unwrap();
    let foreign = sa_token(&mut twin.cluster(), "default", "default", json!({}));
    let reply = login(&server, &foreign).await;
    assert_refused(&reply, "error verifying token signature");

    // Past exp plus Kubernetes' 60 s leeway.
    let token = kube.pod_token("web", "vault");
    server.advance(600 + 61 + 5);
    assert_refused(&login(&server, &token).await, "token is expired");
}

#[actix_web::test]
async fn the_pods_own_token_is_the_reviewer_and_is_re_read() {
    let kube = Kube::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), format!("{}\n", kube.reviewer)).unwrap();
    std::fs::write(dir.path().join("ca.crt"), kube.sim.ca.cert_pem()).unwrap();
    let path = dir.path().to_owned();
    let server =
        Server::configured(move |state| state.local_service_account = jwtgate_core::LocalServiceAccount::new(path));
    server.now.store(wall_clock(), Ordering::SeqCst);
    assert_eq!(
        server.call("POST", "sys/auth/kubernetes", Some(ROOT), Some(json!({"type": "kubernetes"}))).await.status,
        204
    );
    let config = json!({"kubernetes_host": kube.sim.url});
    assert_eq!(server.call("PUT", "auth/kubernetes/config", Some(ROOT), Some(config)).await.status, 204);
    assert_eq!(server.call("PUT", "auth/kubernetes/role/app", Some(ROOT), Some(app_role())).await.status, 204);
    let token = kube.pod_token("web", "vault");
    assert_eq!(login(&server, &token).await.status, 200);
    // kubelet rotates the file: the new (unprivileged) token is used after a minute, not before.
    let unprivileged = {
        let mut cluster = kube.sim.cluster();
        create_sa(&mut cluster, "default", "nobody");
        sa_token(&mut cluster, "default", "nobody", json!({"expirationSeconds": 86_400}))
    };
    std::fs::write(dir.path().join("token"), unprivileged).unwrap();
    assert_eq!(login(&server, &token).await.status, 200);
    server.advance(61);
    assert_refused(&login(&server, &token).await, "may not create TokenReviews");
}

#[actix_web::test]
async fn jwt_roles_with_token_review_refuse_deleted_pods() {
    let kube = Kube::start();
    let server = Server::new();
    server.now.store(wall_clock(), Ordering::SeqCst);
    assert_eq!(server.call("POST", "sys/auth/jwt", Some(ROOT), Some(json!({"type": "jwt"}))).await.status, 204);
    let mut config = kube.config();
    config["jwt_validation_jwks"] = json!(kube.sim.cluster().jwks());
    assert_eq!(server.call("PUT", "auth/jwt/config", Some(ROOT), Some(config)).await.status, 204);
    let read = server.call("GET", "auth/jwt/config", Some(ROOT), None).await;
    assert_eq!(read.body["data"]["token_reviewer_jwt_set"], true, "{}", read.text);
    assert_eq!(read.body["data"]["kubernetes_host"], json!(kube.sim.url));
    let role = json!({"role_type": "jwt", "bound_audiences": "vault", "user_claim": "sub", "policies": "default"});
    for (name, review) in [("offline", false), ("reviewed", true)] {
        let mut role = role.clone();
        role["token_review"] = json!(review);
        assert_eq!(server.call("PUT", &format!("auth/jwt/role/{name}"), Some(ROOT), Some(role)).await.status, 204);
    }
    let token = kube.pod_token("web", "vault");
    let jwt_login = |role: &'static str| {
        let body = json!({"role": role, "jwt": token.clone()});
        server.call("PUT", "auth/jwt/login", None, Some(body))
    };
    assert_eq!(jwt_login("offline").await.status, 200);
    assert_eq!(jwt_login("reviewed").await.status, 200);
    kube.sim.cluster().delete_pod("default", "web", 0).unwrap();
    // The gap: offline validation still accepts the deleted pod's token; TokenReview does not.
    assert_eq!(jwt_login("offline").await.status, 200);
    assert_refused(&jwt_login("reviewed").await, "service account token has been invalidated");
    let read = server.call("GET", "auth/jwt/role/reviewed", Some(ROOT), None).await;
    assert_eq!(read.body["data"]["token_review"], true);
}

#[actix_web::test]
async fn config_and_role_validation() {
    let server = Server::new();
    assert_eq!(server.call("POST", "sys/auth/k8s", Some(ROOT), Some(json!({"type": "kubernetes"}))).await.status, 204);
    let cases = [
        (json!({}), "no host provided"),
        (json!({"kubernetes_host": "http://10.0.0.1"}), "kubernetes_host must be an https URL"),
        (json!({"kubernetes_host": "https://k8s/path?x"}), "invalid kubernetes_host"),
        (
            json!({"kubernetes_host": "k8s:6443", "kubernetes_ca_cert": "not a pem"}),
            "could not parse CA PEM value successfully",
        ),
        (
            json!({"kubernetes_host": "k8s:6443", "pem_keys": ["-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"]}),
            "error parsing public key",
        ),
        (json!({"kubernetes_host": "k8s:6443", "use_annotations_as_alias_metadata": true}), "not supported"),
    ];
    for (body, want) in cases {
        let reply = server.call("PUT", "auth/k8s/config", Some(ROOT), Some(body.clone())).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        assert!(reply.body["errors"][0].as_str().unwrap().contains(want), "{body}: {}", reply.text);
    }
    let ok =
        server.call("PUT", "auth/k8s/config", Some(ROOT), Some(json!({"kubernetes_host": "k8s.example:6443"}))).await;
    assert_eq!(ok.status, 204, "{}", ok.text);
    let read = server.call("GET", "auth/k8s/config", Some(ROOT), None).await;
    assert_eq!(read.body["data"]["kubernetes_host"], "https://k8s.example:6443");
    assert_eq!(read.body["data"]["token_reviewer_jwt_set"], false);
    let roles = [
        (json!({"bound_service_account_namespaces": "default"}), "\"bound_service_account_names\" can not be empty"),
        (json!({"bound_service_account_names": "default"}), "\"bound_service_account_namespaces\" can not be empty"),
        (
            json!({"bound_service_account_names": ["*", "a"], "bound_service_account_namespaces": "x"}),
            "can not mix \"*\" with values",
        ),
        (
            json!({"bound_service_account_names": "a", "bound_service_account_namespaces": "x", "alias_name_source": "pod"}),
            "invalid alias_name_source",
        ),
        (
            json!({"bound_service_account_names": "a", "bound_service_account_namespaces": "x", "token_policies": "root"}),
            "auth methods cannot create root tokens",
        ),
    ];
    for (body, want) in roles {
        let reply = server.call("PUT", "auth/k8s/role/r", Some(ROOT), Some(body.clone())).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        assert!(reply.body["errors"][0].as_str().unwrap().contains(want), "{body}: {}", reply.text);
    }
    let role = json!({"bound_service_account_names": "a,b", "bound_service_account_namespaces": "x", "audience": "vault", "ttl": "10m"});
    assert_eq!(server.call("PUT", "auth/k8s/role/r", Some(ROOT), Some(role)).await.status, 204);
    let read = server.call("GET", "auth/k8s/role/r", Some(ROOT), None).await;
    assert_eq!(read.body["data"]["bound_service_account_names"], json!(["a", "b"]));
    assert_eq!(read.body["data"]["token_ttl"], 600);
    assert_eq!(read.body["data"]["alias_name_source"], "serviceaccount_uid");
    assert_eq!(read.body["mount_type"], "kubernetes");
    // Login input errors, in Vault's words.
    for (body, status, want) in [
        (json!({"jwt": "x"}), 400, "missing role"),
        (json!({"role": "r"}), 400, "missing jwt"),
        (json!({"role": "nope", "jwt": "x"}), 400, "invalid role name \"nope\""),
        (json!({"role": "r", "jwt": "not.a.jwt"}), 403, "malformed token"),
    ] {
        let reply = server.call("PUT", "auth/k8s/login", None, Some(body)).await;
        assert_eq!(reply.status.as_u16(), status, "{}", reply.text);
        assert!(reply.body["errors"][0].as_str().unwrap().contains(want), "{}", reply.text);
    }
}

#[actix_web::test]
async fn a_kubernetes_login_and_the_calls_around_it_are_audited_without_secrets() {
    let kube = Kube::start();
    let server = server_with_kubernetes_mount(kube.config(), app_role()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.log");
    let device = json!({"type": "file", "options": {"file_path": file}});
    assert_eq!(server.call("PUT", "sys/audit/file", Some(ROOT), Some(device)).await.status, 204);
    assert_eq!(server.call("PUT", "auth/kubernetes/config", Some(ROOT), Some(kube.config())).await.status, 204);
    assert_eq!(
        server.call("PUT", "auth/kubernetes/role/app", Some(ROOT), Some(app_role())).await.status.as_u16() / 100,
        2
    );
    let jwt = kube.pod_token("web", "vault");
    let reply = login(&server, &jwt).await;
    let (client, accessor) =
        (reply.body["auth"]["client_token"].as_str().unwrap(), reply.body["auth"]["accessor"].as_str().unwrap());
    let calls = [
        ("GET", "auth/token/lookup-self", Some(client), None),
        ("PUT", "auth/token/renew-self", Some(client), Some(json!({"increment": "30m"}))),
        ("PUT", "auth/token/revoke-accessor", Some(ROOT), Some(json!({"accessor": accessor}))),
    ];
    for (method, path, token, body) in calls {
        assert_eq!(server.call(method, path, token, body).await.status.as_u16() / 100, 2, "{path}");
    }
    let text = std::fs::read_to_string(&file).unwrap();
    for secret in [jwt.as_str(), client, accessor, kube.reviewer.as_str()] {
        assert!(!text.contains(secret), "a secret in clear in the audit log");
    }
    let entries: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let expected = [
        ("auth/kubernetes/config", "update", "kubernetes"),
        ("auth/kubernetes/role/app", "update", "kubernetes"),
        ("auth/kubernetes/login", "update", "kubernetes"),
        ("auth/token/lookup-self", "read", "token"),
        ("auth/token/renew-self", "update", "token"),
        ("auth/token/revoke-accessor", "update", "token"),
    ];
    for (index, (path, operation, mount_type)) in expected.iter().enumerate() {
        let (request, response) = (&entries[2 * index], &entries[2 * index + 1]);
        assert_eq!((&request["type"], &response["type"]), (&json!("request"), &json!("response")), "{path}");
        for entry in [request, response] {
            assert_eq!(entry["request"]["path"], *path);
            assert_eq!(entry["request"]["operation"], *operation, "{path}");
            assert_eq!(entry["request"]["mount_type"], *mount_type, "{path}");
        }
    }
    // Who logged in: the service account, readable in the login's response entry.
    let issued = &entries[5]["response"]["auth"];
    assert_eq!(issued["display_name"], "kubernetes-default-default");
    assert_eq!(issued["metadata"]["service_account_name"], "default");
    assert_eq!(issued["metadata"]["service_account_namespace"], "default");
    assert_eq!(issued["metadata"]["role"], "app");
    // The renewal is made by the logged-in token, named by its hash.
    assert_eq!(entries[8]["auth"]["client_token"], issued["client_token"]);
}
