//! The HTTPS front through a real TLS client that trusts only the cluster CA.

use jwtgate_kube_sim::{Sim, SimConfig};
use serde_json::{json, Value};

pub struct Client {
    agent: ureq::Agent,
    pub base: String,
}

impl Client {
    pub fn new(sim: &Sim) -> Client {
        use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
        let ca = Certificate::from_pem(sim.ca.cert_pem().as_bytes()).unwrap().to_owned();
        let tls =
            TlsConfig::builder().provider(TlsProvider::NativeTls).root_certs(RootCerts::new_with_certs(&[ca])).build();
        let agent = ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).build().into();
        Client { agent, base: sim.url.clone() }
    }

    /// Status, selected headers and body.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Vec<(String, String)>, String) {
        let url = format!("{}{path}", self.base);
        let auth = bearer.map(|t| format!("Bearer {t}"));
        let mut response = match (method, body) {
            ("GET", _) => {
                let mut request = self.agent.get(&url);
                if let Some(auth) = &auth {
                    request = request.header("Authorization", auth);
                }
                request.call().unwrap()
            }
            ("DELETE", _) => {
                let mut request = self.agent.delete(&url);
                if let Some(auth) = &auth {
                    request = request.header("Authorization", auth);
                }
                request.call().unwrap()
            }
            _ => {
                let mut request = self.agent.post(&url).header("Content-Type", "application/json");
                if let Some(auth) = &auth {
                    request = request.header("Authorization", auth);
                }
                request.send(body.map(Value::to_string).unwrap_or_default()).unwrap()
            }
        };
        let headers = ["content-type", "cache-control", "warning"]
            .iter()
            .filter_map(|h| response.headers().get(*h).map(|v| (h.to_string(), v.to_str().unwrap().to_owned())))
            .collect();
        let status = response.status().as_u16();
        (status, headers, response.body_mut().read_to_string().unwrap())
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers.iter().find(|(h, _)| h == name).map_or("", |(_, v)| v.as_str())
}

#[test]
fn discovery_documents_and_who_may_read_them() {
    let sim = Sim::start(SimConfig::default()).unwrap();
    let client = Client::new(&sim);
    let admin = Some(sim.admin_token.as_str());
    let (status, headers, body) = client.call("GET", "/.well-known/openid-configuration", admin, None);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), "application/json");
    assert_eq!(header(&headers, "cache-control"), "public, max-age=3600");
    let url = &sim.url;
    assert_eq!(
        body,
        format!(
            r#"{{"issuer":"{url}","jwks_uri":"{url}/openid/v1/jwks","response_types_supported":["id_token"],"subject_types_supported":["public"],"id_token_signing_alg_values_supported":["RS256"]}}"#
        )
    );
    let (status, headers, jwks) = client.call("GET", "/openid/v1/jwks", admin, None);
    assert_eq!((status, header(&headers, "content-type")), (200, "application/jwk-set+json"));
    assert!(jwks.starts_with(r#"{"keys":[{"use":"sig","kty":"RSA","kid":""#), "{jwks}");

    // Anonymous: 403 until the seed's binding; an invalid bearer: 401; any service account: allowed.
    let (status, _, body) = client.call("GET", "/.well-known/openid-configuration", None, None);
    assert_eq!(status, 403);
    let status_object: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        status_object["message"],
        r#"forbidden: User "system:anonymous" cannot get path "/.well-known/openid-configuration""#
    );
    assert_eq!(status_object["reason"], "Forbidden");
    assert_eq!(client.call("GET", "/openid/v1/jwks", Some("garbage"), None).0, 401);
    let token = sa_token(&client, admin, "default", "default");
    assert_eq!(client.call("GET", "/openid/v1/jwks", Some(&token), None).0, 200);
    assert_eq!(client.call("GET", "/version", None, None).0, 200);
    // API discovery is for authenticated users.
    for path in ["/api", "/apis", "/api/v1", "/apis/authentication.k8s.io/v1"] {
        assert_eq!(client.call("GET", path, None, None).0, 403, "{path}");
        let (status, _, body) = client.call("GET", path, Some(&token), None);
        assert_eq!(status, 200, "{path}: {body}");
    }
    assert_eq!(client.call("GET", "/apis/apps/v1", admin, None).0, 404);
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "oidc-reviewer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:service-account-issuer-discovery"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:unauthenticated"}]});
    assert_eq!(
        client.call("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", admin, Some(&binding)).0,
        201
    );
    assert_eq!(client.call("GET", "/.well-known/openid-configuration", None, None).0, 200);
    assert_eq!(
        client.call("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", admin, Some(&binding)).0,
        409
    );
}

pub fn sa_token(client: &Client, admin: Option<&str>, namespace: &str, name: &str) -> String {
    let (status, _, body) = client.call(
        "POST",
        &format!("/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"),
        admin,
        Some(&json!({"spec": {}})),
    );
    assert_eq!(status, 201, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["status"]["token"].as_str().unwrap().to_owned()
}

#[test]
fn token_review_needs_the_reviewer_role() {
    let sim = Sim::start(SimConfig::default()).unwrap();
    let client = Client::new(&sim);
    let admin = Some(sim.admin_token.as_str());
    assert_eq!(
        client
            .call(
                "POST",
                "/api/v1/namespaces/default/serviceaccounts",
                admin,
                Some(&json!({"metadata": {"name": "reviewer"}}))
            )
            .0,
        201
    );
    let reviewer = sa_token(&client, admin, "default", "reviewer");
    let subject = sa_token(&client, admin, "default", "default");
    let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": subject}});
    let (status, _, body) =
        client.call("POST", "/apis/authentication.k8s.io/v1/tokenreviews", Some(&reviewer), Some(&review));
    assert_eq!(status, 403);
    assert!(body.contains(r#"tokenreviews.authentication.k8s.io is forbidden: User \"system:serviceaccount:default:reviewer\" cannot create resource \"tokenreviews\" in API group \"authentication.k8s.io\" at the cluster scope"#), "{body}");
    let binding = json!({"metadata": {"name": "reviewer-delegator"}, "roleRef": {"kind": "ClusterRole", "name": "system:auth-delegator"},
        "subjects": [{"kind": "ServiceAccount", "name": "reviewer", "namespace": "default"}]});
    assert_eq!(
        client.call("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", admin, Some(&binding)).0,
        201
    );
    let (status, _, body) =
        client.call("POST", "/apis/authentication.k8s.io/v1/tokenreviews", Some(&reviewer), Some(&review));
    assert_eq!(status, 201, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["kind"], "TokenReview");
    assert_eq!(answer["status"]["authenticated"], true);
    assert_eq!(answer["status"]["user"]["username"], "system:serviceaccount:default:default");
    // Pods and their deletion, as the scenarios use them through kubectl's raw API.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"serviceAccountName": "reviewer"}});
    assert_eq!(client.call("POST", "/api/v1/namespaces/default/pods", admin, Some(&pod)).0, 201);
    assert_eq!(client.call("POST", "/api/v1/namespaces/default/pods", admin, Some(&pod)).0, 409);
    assert_eq!(client.call("DELETE", "/api/v1/namespaces/default/pods/p", admin, None).0, 200);
    assert_eq!(client.call("GET", "/api/v1/namespaces/default/pods/p", admin, None).0, 404);
    // Only the admin manages objects; a malformed body is a 400.
    assert_eq!(client.call("POST", "/api/v1/namespaces/default/pods", Some(&reviewer), Some(&pod)).0, 403);
    let (status, _, _) = client.call("POST", "/apis/authentication.k8s.io/v1/tokenreviews", admin, None);
    assert_eq!(status, 400);
    assert_eq!(client.call("GET", "/api/v1/nodes", admin, None).0, 404);
}

#[test]
fn rotation_publishes_the_new_key_and_signs_with_it() {
    let sim = Sim::start(SimConfig::default()).unwrap();
    let client = Client::new(&sim);
    let admin = Some(sim.admin_token.as_str());
    let before = sa_token(&client, admin, "default", "default");
    let (status, _, body) = client.call("POST", "/sim/v1/rotate", admin, Some(&json!({"keyType": "p256"})));
    assert_eq!(status, 200, "{body}");
    let kid = serde_json::from_str::<Value>(&body).unwrap()["kid"].as_str().unwrap().to_owned();
    let (_, _, jwks) = client.call("GET", "/openid/v1/jwks", admin, None);
    let keys: Value = serde_json::from_str(&jwks).unwrap();
    assert_eq!(keys["keys"].as_array().unwrap().len(), 2);
    let after = sa_token(&client, admin, "default", "default");
    let (header, _, _) = crate::parts(&after);
    assert_eq!(header, format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#));
    assert_ne!(crate::parts(&before).0, header);
    assert_eq!(client.call("POST", "/sim/v1/rotate", Some(&after), None).0, 403);
    let (_, _, doc) = client.call("GET", "/.well-known/openid-configuration", admin, None);
    assert!(doc.contains(r#""id_token_signing_alg_values_supported":["ES256","RS256"]"#), "{doc}");
}
