//! One simulated cluster's state and the apiserver's decisions about service-account tokens:
//! TokenRequest, TokenReview, discovery and the objects tokens are bound to. Time is a
//! parameter (unix seconds); only the server reads the clock.

use crate::keys::{KeyType, SigningKey, VerificationKey};
use crate::time::rfc3339;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// kube-apiserver's leeway on `exp`/`nbf`/`iat` and on deletion timestamps.
const LEEWAY: i64 = 60;
/// The expiry kubelet asks for on projected tokens; such pod tokens get a year.
const WARN_ONLY_EXPIRATION: i64 = 3607;
const EXTENDED_EXPIRATION: i64 = 31_536_000;
const MIN_EXPIRATION: i64 = 600;
const MAX_EXPIRATION: i64 = 1 << 32;
const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";
pub const DISCOVERY_ROLE: &str = "system:service-account-issuer-discovery";
pub const REVIEWER_ROLE: &str = "system:auth-delegator";

/// What differs between clusters.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// Names the node (`<name>-control-plane`) and the kubeconfig entries.
    pub name: String,
    /// `--service-account-issuer`; empty means the server's own URL.
    pub issuer: String,
    /// `--api-audiences`; empty means `[issuer]`.
    pub api_audiences: Vec<String>,
    /// The Kubernetes minor version emulated (21..=33): `jti` and `node` claims from 30.
    pub minor: u32,
    pub key_type: KeyType,
    /// `--service-account-max-token-expiration` in seconds; 0 means no cap.
    pub max_token_expiration: i64,
    /// `--service-account-extend-token-expiration`.
    pub extend_token_expiration: bool,
}

impl Default for ClusterSpec {
    fn default() -> ClusterSpec {
        ClusterSpec {
            name: "kube-sim".into(),
            issuer: String::new(),
            api_audiences: Vec::new(),
            minor: 33,
            key_type: KeyType::Rsa2048,
            max_token_expiration: 0,
            extend_token_expiration: true,
        }
    }
}

/// An API failure, answered as a `Status` object.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { code, reason, message: message.into() }
    }
    pub fn not_found(resource: &str, name: &str) -> ApiError {
        ApiError::new(404, "NotFound", format!("{resource} \"{name}\" not found"))
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }
    pub fn status(&self) -> Value {
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code})
    }
}

/// Who a request is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum User {
    /// The kubeconfig's user: cluster-admin.
    Admin,
    ServiceAccount {
        namespace: String,
        name: String,
    },
    Anonymous,
}

impl User {
    pub fn username(&self) -> String {
        match self {
            User::Admin => "kubernetes-admin".into(),
            User::ServiceAccount { namespace, name } => format!("system:serviceaccount:{namespace}:{name}"),
            User::Anonymous => "system:anonymous".into(),
        }
    }
    fn groups(&self) -> Vec<String> {
        match self {
            User::Admin => vec!["system:masters".into(), "system:authenticated".into()],
            User::ServiceAccount { namespace, .. } => vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
            User::Anonymous => vec!["system:unauthenticated".into()],
        }
    }
}

#[derive(Debug, Clone)]
struct Pod {
    uid: String,
    service_account: String,
    node: String,
}

#[derive(Debug, Clone)]
struct Secret {
    uid: String,
    service_account: String,
    token: String,
}

/// A ClusterRoleBinding: role name and subjects as `(kind, name, namespace)`.
#[derive(Debug, Clone)]
struct Binding {
    role: String,
    subjects: Vec<(String, String, String)>,
}

/// What a request touches, for authorization.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Path(&'a str),
    Resource { group: &'a str, resource: &'a str, namespace: Option<&'a str> },
}

/// A token that passed review.
#[derive(Debug, Clone, PartialEq)]
pub struct Reviewed {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub audiences: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

pub struct Cluster {
    spec: ClusterSpec,
    signing: SigningKey,
    published: Vec<VerificationKey>,
    service_accounts: BTreeMap<(String, String), String>,
    pods: BTreeMap<(String, String), Pod>,
    secrets: BTreeMap<(String, String), Secret>,
    nodes: BTreeMap<String, String>,
    bindings: BTreeMap<String, Binding>,
}

impl Cluster {
    /// A cluster whose issuer is `spec.issuer`, or `default_issuer` when that is empty.
    pub fn new(mut spec: ClusterSpec, default_issuer: &str) -> Cluster {
        if spec.issuer.is_empty() {
            spec.issuer = default_issuer.to_owned();
        }
        if spec.api_audiences.is_empty() {
            spec.api_audiences = vec![spec.issuer.clone()];
        }
        let signing = SigningKey::generate(spec.key_type);
        let mut cluster = Cluster {
            published: vec![signing.public.clone()],
            signing,
            service_accounts: BTreeMap::new(),
            pods: BTreeMap::new(),
            secrets: BTreeMap::new(),
            nodes: BTreeMap::from([(format!("{}-control-plane", spec.name), uuid())]),
            bindings: BTreeMap::new(),
            spec,
        };
        for namespace in ["default", "kube-system", "kube-public"] {
            cluster.ensure_namespace(namespace);
        }
        cluster.bindings.insert(
            DISCOVERY_ROLE.into(),
            Binding {
                role: DISCOVERY_ROLE.into(),
                subjects: vec![("Group".into(), "system:serviceaccounts".into(), String::new())],
            },
        );
        cluster
    }

    pub fn spec(&self) -> &ClusterSpec {
        &self.spec
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// Uses `key` for signing from now on; it is published, and the old keys stay published
    /// unless `retire_old` (as when sa.pub lists only the new key).
    pub fn rotate(&mut self, key: SigningKey, retire_old: bool) {
        if retire_old {
            self.published.clear();
        }
        self.published.push(key.public.clone());
        self.signing = key;
    }

    /// Namespaces exist once used; each gets its `default` service account.
    fn ensure_namespace(&mut self, namespace: &str) {
        self.service_accounts.entry((namespace.into(), "default".into())).or_insert_with(uuid);
    }

    pub fn discovery_document(&self, jwks_uri: &str) -> String {
        let mut algs: Vec<&str> = self.published.iter().map(|k| k.alg).collect();
        algs.sort_unstable();
        algs.dedup();
        #[derive(serde::Serialize)]
        struct Discovery<'a> {
            issuer: &'a str,
            jwks_uri: &'a str,
            response_types_supported: [&'a str; 1],
            subject_types_supported: [&'a str; 1],
            id_token_signing_alg_values_supported: Vec<&'a str>,
        }
        let doc = Discovery {
            issuer: &self.spec.issuer,
            jwks_uri,
            response_types_supported: ["id_token"],
            subject_types_supported: ["public"],
            id_token_signing_alg_values_supported: algs,
        };
        serde_json::to_string(&doc).expect("serialisable")
    }

    pub fn jwks(&self) -> String {
        #[derive(serde::Serialize)]
        struct Jwks {
            keys: Vec<crate::keys::Jwk>,
        }
        serde_json::to_string(&Jwks { keys: self.published.iter().map(VerificationKey::jwk).collect() })
            .expect("serialisable")
    }

    /// Whether `user` may do `verb` on `target`. Discovery is for the groups bound to the
    /// discovery role (service accounts by default), TokenReview for the reviewer role,
    /// `/version` for everyone, the rest for the admin only.
    pub fn authorize(&self, user: &User, verb: &str, target: &Target) -> Result<(), ApiError> {
        let role = match target {
            Target::Path("/version") => return Ok(()),
            Target::Path("/.well-known/openid-configuration" | "/openid/v1/jwks") if verb == "get" => {
                Some(DISCOVERY_ROLE)
            }
            Target::Resource { group: "authentication.k8s.io", resource: "tokenreviews", .. } if verb == "create" => {
                Some(REVIEWER_ROLE)
            }
            _ => None,
        };
        if *user == User::Admin || role.is_some_and(|role| self.bound(user, role)) {
            return Ok(());
        }
        let who = user.username();
        let message = match target {
            Target::Path(path) => format!("forbidden: User \"{who}\" cannot {verb} path \"{path}\""),
            Target::Resource { group, resource, namespace } => {
                let qualified = if group.is_empty() { resource.to_string() } else { format!("{resource}.{group}") };
                let scope = match namespace {
                    Some(ns) => format!("in the namespace \"{ns}\""),
                    None => "at the cluster scope".into(),
                };
                format!("{qualified} is forbidden: User \"{who}\" cannot {verb} resource \"{resource}\" in API group \"{group}\" {scope}")
            }
        };
        Err(ApiError::new(403, "Forbidden", message))
    }

    fn bound(&self, user: &User, role: &str) -> bool {
        let groups = user.groups();
        let sa = match user {
            User::ServiceAccount { namespace, name } => Some((namespace.as_str(), name.as_str())),
            _ => None,
        };
        self.bindings.values().filter(|b| b.role == role).flat_map(|b| &b.subjects).any(|(kind, name, ns)| {
            match kind.as_str() {
                "Group" => groups.contains(name),
                "User" => *name == user.username(),
                "ServiceAccount" => sa == Some((ns.as_str(), name.as_str())),
                _ => false,
            }
        })
    }

    /// The request's user from its bearer token: the admin token, a valid service-account
    /// token for the API audiences, or nobody. An invalid token is a 401, as in Kubernetes.
    pub fn authenticate(&self, bearer: Option<&str>, admin_token: &str, now: i64) -> Result<User, ApiError> {
        let Some(token) = bearer else { return Ok(User::Anonymous) };
        if token == admin_token {
            return Ok(User::Admin);
        }
        match self.review_token(token, &[], now) {
            Ok(Some(r)) => Ok(User::ServiceAccount { namespace: r.namespace, name: r.name }),
            _ => Err(ApiError::new(401, "Unauthorized", "Unauthorized")),
        }
    }

    pub fn create_service_account(&mut self, namespace: &str, body: &Value, now: i64) -> Result<Value, ApiError> {
        let name = metadata_name(body)?;
        let key = (namespace.to_owned(), name.clone());
        if self.service_accounts.contains_key(&key) {
            return Err(ApiError::new(409, "AlreadyExists", format!("serviceaccounts \"{name}\" already exists")));
        }
        self.service_accounts.insert(key, uuid());
        self.ensure_namespace(namespace);
        Ok(self.service_account(namespace, &name, now).expect("just created"))
    }

    pub fn service_account(&self, namespace: &str, name: &str, now: i64) -> Result<Value, ApiError> {
        let uid = self
            .service_accounts
            .get(&(namespace.to_owned(), name.to_owned()))
            .ok_or_else(|| ApiError::not_found("serviceaccounts", name))?;
        Ok(json!({"kind": "ServiceAccount", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": namespace, "uid": uid, "creationTimestamp": rfc3339(now)}}))
    }

    pub fn delete_service_account(&mut self, namespace: &str, name: &str, now: i64) -> Result<Value, ApiError> {
        let object = self.service_account(namespace, name, now)?;
        self.service_accounts.remove(&(namespace.to_owned(), name.to_owned()));
        Ok(object)
    }

    /// Creates a pod (scheduled at once on the control-plane node); only its name and
    /// `spec.serviceAccountName` matter here.
    pub fn create_pod(&mut self, namespace: &str, body: &Value, now: i64) -> Result<Value, ApiError> {
        let name = metadata_name(body)?;
        let service_account = body["spec"]["serviceAccountName"].as_str().unwrap_or("default").to_owned();
        self.ensure_namespace(namespace);
        let key = (namespace.to_owned(), name.clone());
        if self.pods.contains_key(&key) {
            return Err(ApiError::new(409, "AlreadyExists", format!("pods \"{name}\" already exists")));
        }
        if !self.service_accounts.contains_key(&(namespace.to_owned(), service_account.clone())) {
            return Err(ApiError::new(
                403,
                "Forbidden",
                format!("pods \"{name}\" is forbidden: error looking up service account {namespace}/{service_account}: serviceaccount \"{service_account}\" not found"),
            ));
        }
        let node = self.nodes.keys().next().expect("one node").clone();
        self.pods.insert(key, Pod { uid: uuid(), service_account, node });
        Ok(self.pod(namespace, &name, now).expect("just created"))
    }

    pub fn pod(&self, namespace: &str, name: &str, now: i64) -> Result<Value, ApiError> {
        let pod =
            self.pods.get(&(namespace.to_owned(), name.to_owned())).ok_or_else(|| ApiError::not_found("pods", name))?;
        Ok(json!({"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": namespace, "uid": pod.uid, "creationTimestamp": rfc3339(now)},
            "spec": {"serviceAccountName": pod.service_account, "nodeName": pod.node},
            "status": {"phase": "Running"}}))
    }

    /// The pods of a namespace, or the one named.
    pub fn list_pods(&self, namespace: &str, name: &Option<String>, now: i64) -> Result<Value, ApiError> {
        let items: Vec<Value> = self
            .pods
            .keys()
            .filter(|(ns, pod)| ns == namespace && name.as_ref().is_none_or(|n| n == pod))
            .filter_map(|(_, pod)| self.pod(namespace, pod, now).ok())
            .collect();
        Ok(json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}))
    }

    /// Deletes at once, as `--grace-period=0 --force` would: no kubelet runs here.
    pub fn delete_pod(&mut self, namespace: &str, name: &str, now: i64) -> Result<Value, ApiError> {
        let object = self.pod(namespace, name, now)?;
        self.pods.remove(&(namespace.to_owned(), name.to_owned()));
        Ok(object)
    }

    /// A `kubernetes.io/service-account-token` Secret gets its legacy token at once (the
    /// tokens controller's job); other secrets are stored without data.
    pub fn create_secret(&mut self, namespace: &str, body: &Value, now: i64) -> Result<Value, ApiError> {
        let name = metadata_name(body)?;
        self.ensure_namespace(namespace);
        let key = (namespace.to_owned(), name.clone());
        if self.secrets.contains_key(&key) {
            return Err(ApiError::new(409, "AlreadyExists", format!("secrets \"{name}\" already exists")));
        }
        let service_account =
            body["metadata"]["annotations"]["kubernetes.io/service-account.name"].as_str().unwrap_or("").to_owned();
        let uid = uuid();
        let token = if body["type"] == "kubernetes.io/service-account-token" {
            let sa_uid = self
                .service_accounts
                .get(&(namespace.to_owned(), service_account.clone()))
                .ok_or_else(|| ApiError::not_found("serviceaccounts", &service_account))?;
            let claims = json!({
                "iss": LEGACY_ISSUER,
                "kubernetes.io/serviceaccount/namespace": namespace,
                "kubernetes.io/serviceaccount/secret.name": name,
                "kubernetes.io/serviceaccount/service-account.name": service_account,
                "kubernetes.io/serviceaccount/service-account.uid": sa_uid,
                "sub": format!("system:serviceaccount:{namespace}:{service_account}"),
            });
            self.signing.sign(&sorted_json(&claims))
        } else {
            String::new()
        };
        self.secrets.insert(key, Secret { uid, service_account, token });
        Ok(self.secret(namespace, &name, now).expect("just created"))
    }

    pub fn secret(&self, namespace: &str, name: &str, now: i64) -> Result<Value, ApiError> {
        let secret = self
            .secrets
            .get(&(namespace.to_owned(), name.to_owned()))
            .ok_or_else(|| ApiError::not_found("secrets", name))?;
        let mut object = json!({"kind": "Secret", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": namespace, "uid": secret.uid, "creationTimestamp": rfc3339(now)}});
        if !secret.token.is_empty() {
            object["type"] = json!("kubernetes.io/service-account-token");
            object["metadata"]["annotations"] = json!({"kubernetes.io/service-account.name": secret.service_account,
                "kubernetes.io/service-account.uid": self.service_accounts.get(&(namespace.to_owned(), secret.service_account.clone()))});
            object["data"] = json!({"token": STANDARD.encode(&secret.token), "namespace": STANDARD.encode(namespace)});
        }
        Ok(object)
    }

    pub fn delete_secret(&mut self, namespace: &str, name: &str, now: i64) -> Result<Value, ApiError> {
        let object = self.secret(namespace, name, now)?;
        self.secrets.remove(&(namespace.to_owned(), name.to_owned()));
        Ok(object)
    }

    pub fn create_cluster_role_binding(&mut self, body: &Value, now: i64) -> Result<Value, ApiError> {
        let name = metadata_name(body)?;
        if self.bindings.contains_key(&name) {
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("clusterrolebindings.rbac.authorization.k8s.io \"{name}\" already exists"),
            ));
        }
        let role = body["roleRef"]["name"].as_str().unwrap_or_default().to_owned();
        if body["roleRef"]["kind"] != "ClusterRole" || role.is_empty() {
            return Err(ApiError::new(
                422,
                "Invalid",
                format!("ClusterRoleBinding.rbac.authorization.k8s.io \"{name}\" is invalid: roleRef.kind: Unsupported value"),
            ));
        }
        let text = |v: &Value, field: &str| v[field].as_str().unwrap_or_default().to_owned();
        let subjects: Vec<_> = body["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| (text(s, "kind"), text(s, "name"), text(s, "namespace")))
            .collect();
        let mut object = body.clone();
        object["metadata"]["creationTimestamp"] = json!(rfc3339(now));
        object["metadata"]["uid"] = json!(uuid());
        self.bindings.insert(name, Binding { role, subjects });
        Ok(object)
    }

    /// TokenRequest (`POST .../serviceaccounts/<name>/token`), in the apiserver's order of
    /// checks. Returns the response object and a warning when the expiry was capped.
    pub fn token_request(
        &mut self,
        namespace: &str,
        name: &str,
        body: &Value,
        now: i64,
    ) -> Result<(Value, Option<String>), ApiError> {
        for (field, want) in [("name", name), ("namespace", namespace)] {
            if let Some(given) = body["metadata"][field].as_str().filter(|v| !v.is_empty() && *v != want) {
                return Err(ApiError::bad_request(format!(
                    "{field} in URL does not match {field} in TokenRequest body: {given}"
                )));
            }
        }
        let sa_uid = self
            .service_accounts
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
            .ok_or_else(|| ApiError::not_found("serviceaccounts", name))?;
        let spec = &body["spec"];
        let audiences: Vec<String> = match spec["audiences"].as_array() {
            Some(list) if !list.is_empty() => list.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
            _ => self.spec.api_audiences.clone(),
        };
        let requested = spec["expirationSeconds"].as_i64().unwrap_or(3600);
        let invalid = |detail: String| {
            ApiError::new(
                422,
                "Invalid",
                format!("TokenRequest.authentication.k8s.io \"{name}\" is invalid: spec.expirationSeconds: Invalid value: {requested}: {detail}"),
            )
        };
        if requested < MIN_EXPIRATION {
            return Err(invalid("may not specify a duration less than 10 minutes".into()));
        }
        if requested > MAX_EXPIRATION {
            return Err(invalid("may not specify a duration larger than 2^32 seconds".into()));
        }
        let bound = self.bind(namespace, name, &spec["boundObjectRef"])?;
        let mut expiration = requested;
        let mut warning = None;
        let cap = self.spec.max_token_expiration;
        if cap > 0 && expiration > cap && !(self.extends(&bound, expiration, &audiences)) {
            warning = Some(format!("requested expiration of {expiration} seconds shortened to {cap} seconds"));
            expiration = cap;
        }
        let mut private = Map::new();
        private.insert("namespace".into(), json!(namespace));
        private.insert("serviceaccount".into(), json!({"name": name, "uid": sa_uid}));
        let mut exp = now + expiration;
        if self.extends(&bound, expiration, &audiences) {
            exp = now + EXTENDED_EXPIRATION;
            private.insert("warnafter".into(), json!(now + WARN_ONLY_EXPIRATION));
        }
        match &bound {
            Bound::Pod { name: pod, uid, node, node_uid } => {
                private.insert("pod".into(), json!({"name": pod, "uid": uid}));
                if self.spec.minor >= 30 {
                    private.insert("node".into(), json!({"name": node, "uid": node_uid}));
                }
            }
            Bound::Secret { name: secret, uid } => {
                private.insert("secret".into(), json!({"name": secret, "uid": uid}));
            }
            Bound::Node { name: node, uid } => {
                private.insert("node".into(), json!({"name": node, "uid": uid}));
            }
            Bound::None => {}
        }
        let mut claims = json!({"aud": audiences, "exp": exp, "iat": now, "iss": self.spec.issuer, "nbf": now,
            "kubernetes.io": private, "sub": format!("system:serviceaccount:{namespace}:{name}")});
        if self.spec.minor >= 30 {
            claims["jti"] = json!(uuid());
        }
        let token = self.signing.sign(&sorted_json(&claims));
        let bound_ref = match &bound {
            Bound::None => Value::Null,
            _ => spec["boundObjectRef"].clone(),
        };
        let response = json!({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": rfc3339(now)},
            "spec": {"audiences": audiences, "expirationSeconds": expiration, "boundObjectRef": bound_ref},
            "status": {"token": token, "expirationTimestamp": rfc3339(now + expiration)}});
        Ok((response, warning))
    }

    fn extends(&self, bound: &Bound, expiration: i64, audiences: &[String]) -> bool {
        self.spec.extend_token_expiration
            && matches!(bound, Bound::Pod { .. })
            && expiration == WARN_ONLY_EXPIRATION
            && audiences.iter().all(|a| self.spec.api_audiences.contains(a))
    }

    fn bind(&self, namespace: &str, sa: &str, reference: &Value) -> Result<Bound, ApiError> {
        if reference.is_null() {
            return Ok(Bound::None);
        }
        let kind = reference["kind"].as_str().unwrap_or_default();
        let name = reference["name"].as_str().unwrap_or_default();
        let wanted_uid = reference["uid"].as_str().filter(|u| !u.is_empty());
        let conflict = |uid: &str| {
            ApiError::new(
                409,
                "Conflict",
                format!("the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated"),
            )
        };
        let key = (namespace.to_owned(), name.to_owned());
        let bound = match kind {
            "Pod" => {
                let pod = self.pods.get(&key).ok_or_else(|| ApiError::not_found("pods", name))?;
                if pod.service_account != sa {
                    return Err(ApiError::bad_request(format!(
                        "cannot bind token for serviceaccount \"{sa}\" to pod running with different serviceaccount name."
                    )));
                }
                let node_uid = self.nodes.get(&pod.node).cloned().unwrap_or_default();
                Bound::Pod { name: name.into(), uid: pod.uid.clone(), node: pod.node.clone(), node_uid }
            }
            "Secret" => {
                let secret = self.secrets.get(&key).ok_or_else(|| ApiError::not_found("secrets", name))?;
                Bound::Secret { name: name.into(), uid: secret.uid.clone() }
            }
            "Node" if self.spec.minor >= 31 => {
                let uid = self.nodes.get(name).ok_or_else(|| ApiError::not_found("nodes", name))?;
                Bound::Node { name: name.into(), uid: uid.clone() }
            }
            other => return Err(ApiError::bad_request(format!("cannot bind token to object of type {other}"))),
        };
        let live_uid = match &bound {
            Bound::Pod { uid, .. } | Bound::Secret { uid, .. } | Bound::Node { uid, .. } => uid.clone(),
            Bound::None => String::new(),
        };
        match wanted_uid {
            Some(uid) if uid != live_uid => Err(conflict(uid)),
            _ => Ok(bound),
        }
    }

    /// TokenReview: the `status` the apiserver answers for `token` and requested audiences.
    pub fn token_review(&self, token: &str, audiences: &[String], now: i64) -> Value {
        match self.review_token(token, audiences, now) {
            Ok(Some(r)) => {
                let user = User::ServiceAccount { namespace: r.namespace.clone(), name: r.name.clone() };
                json!({"authenticated": true, "audiences": r.audiences,
                    "user": {"username": user.username(), "uid": r.uid, "groups": user.groups(), "extra": r.extra}})
            }
            Ok(None) => json!({"user": {}}),
            Err(error) => json!({"user": {}, "error": format!("[invalid bearer token, {error}]")}),
        }
    }

    /// The service-account authenticator: `Ok(None)` when the token is not a service-account
    /// token of this cluster (the authenticator abstains), `Err` with Kubernetes' text when it
    /// is one but invalid.
    pub fn review_token(&self, token: &str, audiences: &[String], now: i64) -> Result<Option<Reviewed>, String> {
        let Some((header, claims, input, signature)) = split(token) else { return Ok(None) };
        let issuer = claims["iss"].as_str().unwrap_or_default();
        let legacy = issuer == LEGACY_ISSUER;
        if !legacy && issuer != self.spec.issuer {
            return Ok(None);
        }
        let alg = header["alg"].as_str().unwrap_or_default();
        let kid = header["kid"].as_str().unwrap_or_default();
        let candidates: Vec<_> = self.published.iter().filter(|k| kid.is_empty() || k.kid == kid).collect();
        if candidates.is_empty() {
            return Err("invalid signature, no keys found".into());
        }
        if !candidates.iter().any(|k| k.verify(alg, input.as_bytes(), &signature)) {
            return Err("go-jose/go-jose: error in cryptographic primitive".into());
        }
        let requested = if audiences.is_empty() { self.spec.api_audiences.clone() } else { audiences.to_vec() };
        let token_audiences: Vec<String> = match &claims["aud"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(list) => list.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
            _ => self.spec.api_audiences.clone(),
        };
        let common: Vec<String> = requested.iter().filter(|a| token_audiences.contains(a)).cloned().collect();
        if common.is_empty() {
            return Err(format!(
                "token audiences {} is invalid for the target audiences {}",
                go_quote(&token_audiences),
                go_quote(&requested)
            ));
        }
        let reviewed = if legacy { self.check_legacy(token, &claims)? } else { self.check_bound(&claims, now)? };
        Ok(Some(Reviewed { audiences: common, ..reviewed }))
    }

    fn check_bound(&self, claims: &Value, now: i64) -> Result<Reviewed, String> {
        let old = self.spec.minor <= 21;
        let time = |name: &str| claims[name].as_i64();
        if time("exp").is_some_and(|exp| now > exp + LEEWAY) {
            return Err(if old { "Token has expired." } else { "service account token has expired" }.into());
        }
        if time("nbf").is_some_and(|nbf| now < nbf - LEEWAY) {
            return Err(
                if old { "Token could not be validated." } else { "service account token is not valid yet" }.into()
            );
        }
        if time("iat").is_some_and(|iat| now < iat - LEEWAY) {
            return Err("service account token is issued in the future".into());
        }
        let private = &claims["kubernetes.io"];
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let namespace = text(&private["namespace"]);
        let name = text(&private["serviceaccount"]["name"]);
        let claimed_uid = text(&private["serviceaccount"]["uid"]);
        let invalidated = || "service account token has been invalidated".to_string();
        let uid = self.service_accounts.get(&(namespace.clone(), name.clone())).ok_or_else(invalidated)?;
        if *uid != claimed_uid {
            return Err(format!("service account UID ({uid}) does not match claim ({claimed_uid})"));
        }
        let mut extra = BTreeMap::new();
        if let Some(pod) = private.get("pod") {
            let live = self.pods.get(&(namespace.clone(), text(&pod["name"]))).ok_or_else(invalidated)?;
            if live.uid != text(&pod["uid"]) {
                return Err(format!("pod UID ({}) does not match claim ({})", live.uid, text(&pod["uid"])));
            }
            extra.insert("authentication.kubernetes.io/pod-name".into(), vec![text(&pod["name"])]);
            extra.insert("authentication.kubernetes.io/pod-uid".into(), vec![live.uid.clone()]);
        }
        if let Some(secret) = private.get("secret") {
            let live = self.secrets.get(&(namespace.clone(), text(&secret["name"]))).ok_or_else(invalidated)?;
            if live.uid != text(&secret["uid"]) {
                return Err(format!("secret UID ({}) does not match claim ({})", live.uid, text(&secret["uid"])));
            }
        }
        if let Some(node) = private.get("node") {
            if private.get("pod").is_none() {
                let live = self.nodes.get(&text(&node["name"])).ok_or_else(invalidated)?;
                if *live != text(&node["uid"]) {
                    return Err(format!("node UID ({live}) does not match claim ({})", text(&node["uid"])));
                }
            }
            extra.insert("authentication.kubernetes.io/node-name".into(), vec![text(&node["name"])]);
            extra.insert("authentication.kubernetes.io/node-uid".into(), vec![text(&node["uid"])]);
        }
        if let Some(jti) = claims["jti"].as_str() {
            extra.insert("authentication.kubernetes.io/credential-id".into(), vec![format!("JTI={jti}")]);
        }
        Ok(Reviewed { namespace, name, uid: uid.clone(), audiences: Vec::new(), extra })
    }

    fn check_legacy(&self, token: &str, claims: &Value) -> Result<Reviewed, String> {
        let text =
            |name: &str| claims[format!("kubernetes.io/serviceaccount/{name}")].as_str().unwrap_or_default().to_owned();
        let (namespace, secret_name, name, claimed_uid) =
            (text("namespace"), text("secret.name"), text("service-account.name"), text("service-account.uid"));
        if [&namespace, &secret_name, &name, &claimed_uid].iter().any(|v| v.is_empty()) {
            return Err("token is missing required claims".into());
        }
        if claims["sub"] != format!("system:serviceaccount:{namespace}:{name}") {
            return Err("sub claim does not match the service account".into());
        }
        let secret = self
            .secrets
            .get(&(namespace.clone(), secret_name))
            .ok_or_else(|| "Token has been invalidated".to_string())?;
        if secret.token != token {
            return Err("Token does not match server's copy".into());
        }
        let uid = self
            .service_accounts
            .get(&(namespace.clone(), name.clone()))
            .ok_or_else(|| "Token has been invalidated".to_string())?;
        if *uid != claimed_uid {
            return Err(format!("service account UID ({uid}) does not match claim ({claimed_uid})"));
        }
        Ok(Reviewed { namespace, name, uid: uid.clone(), audiences: Vec::new(), extra: BTreeMap::new() })
    }
}

enum Bound {
    None,
    Pod { name: String, uid: String, node: String, node_uid: String },
    Secret { name: String, uid: String },
    Node { name: String, uid: String },
}

fn metadata_name(body: &Value) -> Result<String, ApiError> {
    match body["metadata"]["name"].as_str() {
        Some(name) if !name.is_empty() => Ok(name.to_owned()),
        _ => Err(ApiError::new(422, "Invalid", "metadata.name: Required value: name or generateName is required")),
    }
}

/// Header, claims, signing input and signature of a compact JWS, if it is one.
fn split(token: &str) -> Option<(Value, Value, String, Vec<u8>)> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).ok();
    let header_json = serde_json::from_slice(&decode(header)?).ok()?;
    let claims = serde_json::from_slice(&decode(payload)?).ok()?;
    Some((header_json, claims, format!("{header}.{payload}"), decode(signature)?))
}

/// Compact JSON with object keys sorted at every level, as the apiserver's tokens are.
fn sorted_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<_, _> = map.iter().collect();
            let members: Vec<String> =
                sorted.into_iter().map(|(k, v)| format!("{}:{}", Value::String(k.clone()), sorted_json(v))).collect();
            format!("{{{}}}", members.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(sorted_json).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// Go's `%q` of a string slice: `["a" "b"]`.
fn go_quote(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|i| Value::String(i.clone()).to_string()).collect::<Vec<_>>().join(" "))
}

/// A random UUID v4, as Kubernetes uses for UIDs and `jti`.
pub fn uuid() -> String {
    let mut b = [0u8; 16];
    openssl::rand::rand_bytes(&mut b).expect("random bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}
