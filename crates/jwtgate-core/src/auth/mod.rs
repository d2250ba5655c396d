//! Auth methods (Vault's credential backends). Each method implements [`AuthMethod`]: its
//! typed config and role records, their writes with Vault's checks and warnings, and `login`,
//! which says who logged in and with which role's token parameters. Only the core issues
//! tokens.
//!
//! Every enabled mount has one [`Runtime`]: the mount, its config, the validator built from
//! that config and its roles, built together from the store and swapped whole. One generation
//! counter, bumped by every change, keeps a build that began before a change from being
//! installed after it; [`Methods::invalidate`] is the entry point for changes made elsewhere.

pub mod jwt;
pub mod kubernetes;
pub mod review;

use crate::error::Error;
use crate::request::{unknown_fields_warning, Body, Operation, Response};
use crate::token::blocking;
use crate::token::issue::Login;
use crate::token::params::{TokenParams, FIELDS as TOKEN_FIELDS};
use crate::token::ttl::SystemTtl;
use crate::token::RoleParams;
use jwtgate_store::{Mount, Store};
use jwtgate_verifier::{Fetch, Review, Validator};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

/// The method types `sys/auth/<path>` can enable.
/// `oidc` is the same plugin as `jwt` in Vault (one binary, two names).
pub const METHOD_TYPES: [&str; 3] = ["jwt", "oidc", "kubernetes"];

/// What the methods reach outside the process with.
pub struct Services {
    pub fetcher: Arc<dyn Fetch>,
    /// Asks clusters about tokens (Kubernetes auth, `token_review` roles).
    pub reviewer: Arc<dyn Review>,
    /// The pod's own service-account token and CA, when jwtgate runs in a pod.
    pub local_service_account: review::LocalServiceAccount,
}

/// One auth method: how its records are written and read, and how a login is decided.
pub trait AuthMethod: Send + Sync + Sized + 'static {
    type Config: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;
    type Role: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;
    /// What a login needs of a role, derived once when the role is loaded.
    type Prepared: Send + Sync + 'static;
    const CONFIG_FIELDS: &'static [&'static str];
    /// Role fields besides the shared token fields.
    const ROLE_FIELDS: &'static [&'static str];
    const LOGIN_FIELDS: &'static [&'static str];
    /// Whether a config write contacts the key sources (Vault does for discovery and JWKS).
    const CHECKS_REMOTE: bool;

    /// A config write: Vault replaces the config whole, keeping what `existing` says it keeps.
    fn write_config(body: &Body, existing: Option<&Self::Config>) -> Result<Self::Config, Error>;
    fn read_config(config: &Self::Config) -> Map<String, Value>;
    /// The validator a config asks for (`None`: nothing is checked locally); errors are texts.
    fn validator(config: &Self::Config, fetcher: &Arc<dyn Fetch>) -> Result<Option<Validator>, String>;
    /// A role write merged into `existing`; returns the role and the warnings to send.
    fn write_role(
        existing: Option<Self::Role>,
        body: &Body,
        mount_max_ttl: i64,
    ) -> Result<(Self::Role, Vec<String>), Error>;
    fn read_role(role: &Self::Role) -> Map<String, Value>;
    fn prepare(role: &Self::Role) -> Self::Prepared;
    fn token_params(role: &Self::Role) -> &TokenParams;
    fn login<'a>(
        runtime: &'a Runtime<Self>,
        services: &'a Services,
        body: &'a Body,
        peer: Option<IpAddr>,
        now: SystemTime,
    ) -> impl Future<Output = Result<Login, Error>> + Send + 'a;
}

/// A role as loaded: the record and what logins derive from it.
pub struct LoadedRole<M: AuthMethod> {
    pub role: M::Role,
    pub prepared: M::Prepared,
}

/// One mount's state, built from the store in one piece.
pub struct Runtime<M: AuthMethod> {
    store: Arc<Store>,
    pub mount: Mount,
    pub config: Option<M::Config>,
    /// Built with the config; an error is reported by logins.
    pub validator: Result<Option<Arc<Validator>>, String>,
    roles: RwLock<HashMap<String, Arc<LoadedRole<M>>>>,
    generation: Arc<AtomicU64>,
}

impl<M: AuthMethod> Runtime<M> {
    fn load(
        store: Arc<Store>,
        mount: Mount,
        fetcher: &Arc<dyn Fetch>,
        generation: Arc<AtomicU64>,
    ) -> Result<Self, Error> {
        let config = match store.get_config(&mount.path)? {
            Some(value) => Some(decode::<M::Config>(value, "config")?),
            None => None,
        };
        let validator = match &config {
            Some(config) => M::validator(config, fetcher).map(|v| v.map(Arc::new)),
            None => Ok(None),
        };
        Ok(Runtime { store, mount, config, validator, roles: RwLock::new(HashMap::new()), generation })
    }

    /// A role by (lower-cased) name, loaded once and kept until a change.
    pub fn role(&self, name: &str) -> Result<Option<Arc<LoadedRole<M>>>, Error> {
        if let Some(role) = self.roles.read().unwrap_or_else(PoisonError::into_inner).get(name) {
            return Ok(Some(role.clone()));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let Some(value) = self.store.get_role(&self.mount.path, name)? else { return Ok(None) };
        let role = decode::<M::Role>(value, "role")?;
        let loaded = Arc::new(LoadedRole { prepared: M::prepare(&role), role });
        let mut roles = self.roles.write().unwrap_or_else(PoisonError::into_inner);
        if self.generation.load(Ordering::SeqCst) == generation {
            roles.insert(name.to_owned(), loaded.clone());
        }
        Ok(Some(loaded))
    }

    fn forget_roles(&self) {
        self.roles.write().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

/// A stored record in its current typed shape: fields an older version did not write take
/// their defaults. A record that does not decode is corrupt (500, logged), never a panic.
fn decode<T: DeserializeOwned>(value: Value, what: &str) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|e| Error::internal(&format!("decode a stored {what}"), e))
}

fn encode<T: Serialize>(record: &T) -> Result<Value, Error> {
    serde_json::to_value(record).map_err(|e| Error::internal("encode a record", e))
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A mount's runtime, whatever its method: what the core asks of it.
pub trait MountRuntime: Send + Sync {
    fn mount(&self) -> &Mount;
    fn read_config(&self) -> Result<Response, Error>;
    /// Checks a config write; returns the record to store and the warnings.
    fn check_config<'a>(
        &'a self,
        services: &'a Services,
        body: &'a Body,
    ) -> BoxFuture<'a, Result<(Value, Vec<String>), Error>>;
    fn read_role(&self, name: &str) -> Result<Response, Error>;
    /// Checks a role write against the stored role; returns the record and the warnings.
    fn check_role(&self, name: &str, body: &Body, mount_max_ttl: i64) -> Result<(Value, Vec<String>), Error>;
    fn login<'a>(
        &'a self,
        services: &'a Services,
        body: &'a Body,
        peer: Option<IpAddr>,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Login, Error>>;
    fn login_fields(&self) -> &'static [&'static str];
    fn token_params(&self, role: &str) -> Result<Option<TokenParams>, Error>;
    /// (attempts, failures) of the validator's key fetches, when it fetches.
    fn fetch_counts(&self) -> Option<(u64, u64)>;
    fn forget_roles(&self);
}

impl<M: AuthMethod> MountRuntime for Runtime<M> {
    fn mount(&self) -> &Mount {
        &self.mount
    }

    fn read_config(&self) -> Result<Response, Error> {
        let config = self.config.as_ref().ok_or(Error::NotFound)?;
        Ok(Response::data(Value::Object(M::read_config(config)), &self.mount.kind))
    }

    fn check_config<'a>(
        &'a self,
        services: &'a Services,
        body: &'a Body,
    ) -> BoxFuture<'a, Result<(Value, Vec<String>), Error>> {
        Box::pin(async move {
            let config = M::write_config(body, self.config.as_ref())?;
            let validator = M::validator(&config, &services.fetcher).map_err(Error::BadRequest)?;
            if let Some(validator) = validator.filter(|_| M::CHECKS_REMOTE) {
                // Vault contacts discovery and JWKS URLs at write time; so do we, with a helpful error.
                validator.check_remote().await.map_err(|e| Error::BadRequest(e.to_string()))?;
            }
            let warnings = unknown_fields_warning(body, M::CONFIG_FIELDS).into_iter().collect();
            Ok((encode(&config)?, warnings))
        })
    }

    fn read_role(&self, name: &str) -> Result<Response, Error> {
        let loaded = self.role(name)?.ok_or(Error::NotFound)?;
        Ok(Response::data(Value::Object(M::read_role(&loaded.role)), &self.mount.kind))
    }

    fn check_role(&self, name: &str, body: &Body, mount_max_ttl: i64) -> Result<(Value, Vec<String>), Error> {
        // Merged into the stored role as it is now, not as cached.
        let existing = match self.store.get_role(&self.mount.path, name)? {
            Some(value) => Some(decode::<M::Role>(value, "role")?),
            None => None,
        };
        let (role, mut warnings) = M::write_role(existing, body, mount_max_ttl)?;
        let known: Vec<&str> = M::ROLE_FIELDS.iter().chain(&TOKEN_FIELDS).copied().collect();
        warnings.extend(unknown_fields_warning(body, &known));
        Ok((encode(&role)?, warnings))
    }

    fn login<'a>(
        &'a self,
        services: &'a Services,
        body: &'a Body,
        peer: Option<IpAddr>,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Login, Error>> {
        Box::pin(M::login(self, services, body, peer, now))
    }

    fn login_fields(&self) -> &'static [&'static str] {
        M::LOGIN_FIELDS
    }

    fn token_params(&self, role: &str) -> Result<Option<TokenParams>, Error> {
        Ok(self.role(role)?.map(|loaded| M::token_params(&loaded.role).clone()))
    }

    fn fetch_counts(&self) -> Option<(u64, u64)> {
        let validator = self.validator.as_ref().ok()?.as_ref()?;
        let counts = validator.key_source().fetch_counts();
        Some((counts.attempts, counts.failures))
    }

    fn forget_roles(&self) {
        Runtime::forget_roles(self);
    }
}

/// The method registry: the one place a mount's type picks its implementation.
fn build(
    store: Arc<Store>,
    mount: Mount,
    fetcher: &Arc<dyn Fetch>,
    generation: Arc<AtomicU64>,
) -> Result<Arc<dyn MountRuntime>, Error> {
    Ok(match mount.kind.as_str() {
        "jwt" | "oidc" => Arc::new(Runtime::<jwt::Jwt>::load(store, mount, fetcher, generation)?),
        "kubernetes" => Arc::new(Runtime::<kubernetes::Kubernetes>::load(store, mount, fetcher, generation)?),
        other => return Err(Error::internal("load a mount", format!("unknown method type {other:?}"))),
    })
}

/// What changed in the store, for [`Methods::invalidate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// Mounts were enabled, disabled or tuned: everything is reloaded.
    Mounts,
    /// A mount's config.
    Config(&'a str),
    /// A mount's roles.
    Roles(&'a str),
}

/// The enabled auth mounts and their runtimes.
pub struct Methods {
    store: Arc<Store>,
    pub services: Services,
    pub system: SystemTtl,
    generation: Arc<AtomicU64>,
    table: RwLock<Table>,
}

#[derive(Default)]
struct Table {
    mounts: Option<Arc<Vec<Mount>>>,
    runtimes: HashMap<String, Arc<dyn MountRuntime>>,
}

impl Methods {
    pub fn new(store: Arc<Store>, services: Services, system: SystemTtl) -> Methods {
        Methods { store, services, system, generation: Arc::default(), table: RwLock::default() }
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The enabled mounts (read once from the store, then kept until a change).
    pub fn mounts(&self) -> Result<Arc<Vec<Mount>>, Error> {
        if let Some(mounts) = &self.table.read().unwrap_or_else(PoisonError::into_inner).mounts {
            return Ok(mounts.clone());
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let mounts = Arc::new(self.store.list_mounts()?);
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        if self.generation.load(Ordering::SeqCst) == generation {
            table.mounts = Some(mounts.clone());
        }
        Ok(mounts)
    }

    pub fn mount(&self, path: &str) -> Result<Option<Mount>, Error> {
        Ok(self.mounts()?.iter().find(|m| m.path == path).cloned())
    }

    /// The runtime of an enabled mount, built from the store on first use after a change.
    pub fn runtime(&self, path: &str) -> Result<Arc<dyn MountRuntime>, Error> {
        if let Some(runtime) = self.table.read().unwrap_or_else(PoisonError::into_inner).runtimes.get(path) {
            return Ok(runtime.clone());
        }
        let generation = self.generation.load(Ordering::SeqCst);
        // Disabled since the request was routed.
        let mount = self.mount(path)?.ok_or_else(|| Error::NoHandler(format!("auth/{path}")))?;
        let runtime = build(self.store.clone(), mount, &self.services.fetcher, self.generation.clone())?;
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        // A change since this build began: serve this request from it, but do not keep it.
        if self.generation.load(Ordering::SeqCst) == generation {
            table.runtimes.insert(path.to_owned(), runtime.clone());
        }
        Ok(runtime)
    }

    /// Call after the store changed (here or, later, in another process): nothing built from
    /// the old state is used by a request that starts after this returns.
    pub fn invalidate(&self, change: Change<'_>) {
        let mut table = self.table.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::SeqCst);
        match change {
            Change::Mounts => *table = Table::default(),
            Change::Config(path) => {
                table.runtimes.remove(path);
            }
            Change::Roles(path) => {
                if let Some(runtime) = table.runtimes.get(path) {
                    runtime.forget_roles();
                }
            }
        }
    }

    /// (mount, attempts, failures) of every mount whose validator fetches keys.
    pub fn fetch_counts(&self) -> Vec<(String, u64, u64)> {
        let table = self.table.read().unwrap_or_else(PoisonError::into_inner);
        let mut counts: Vec<(String, u64, u64)> = table
            .runtimes
            .iter()
            .filter_map(|(path, runtime)| runtime.fetch_counts().map(|(a, f)| (path.clone(), a, f)))
            .filter(|(_, attempts, _)| *attempts > 0)
            .collect();
        counts.sort();
        counts
    }

    /// `auth/<mount>/config`.
    pub async fn config(&self, operation: Operation, path: &str, body: &Body) -> Result<Response, Error> {
        let runtime = self.runtime(path)?;
        if operation == Operation::Read {
            return runtime.read_config();
        }
        let (record, warnings) = runtime.check_config(&self.services, body).await?;
        let (store, key) = (self.store.clone(), path.to_owned());
        blocking(move || Ok(store.put_config(&key, &record)?)).await?;
        self.invalidate(Change::Config(path));
        Ok(Response::written(warnings, &runtime.mount().kind))
    }

    /// `LIST auth/<mount>/role`.
    pub async fn list_roles(&self, path: &str) -> Result<Response, Error> {
        let (store, key) = (self.store.clone(), path.to_owned());
        let roles = blocking(move || Ok(store.list_roles(&key)?)).await?;
        if roles.is_empty() {
            return Err(Error::NotFound);
        }
        Ok(Response::data(json!({ "keys": roles }), "jwt"))
    }

    /// `auth/<mount>/role/<name>`.
    pub async fn role(&self, operation: Operation, path: &str, name: &str, body: &Body) -> Result<Response, Error> {
        let name = name.to_lowercase();
        if !valid_name(&name) {
            return Err(Error::BadRequest(format!(
                "invalid role name {:?}",
                name.chars().take(128).collect::<String>()
            )));
        }
        let runtime = self.runtime(path)?;
        let (store, mount_path, role_name) = (self.store.clone(), path.to_owned(), name.clone());
        let response = match operation {
            Operation::Read => return runtime.read_role(&name),
            Operation::Delete => {
                blocking(move || Ok(store.delete_role(&mount_path, &role_name)?)).await?;
                Response::NoContent
            }
            _ => {
                let (_, mount_max) = self.system.effective(Some(&runtime.mount().tune));
                let (record, warnings) = runtime.check_role(&name, body, mount_max)?;
                blocking(move || Ok(store.put_role(&mount_path, &role_name, &record)?)).await?;
                Response::written(warnings, &runtime.mount().kind)
            }
        };
        self.invalidate(Change::Roles(path));
        Ok(response)
    }
}

impl RoleParams for Methods {
    fn role_params(&self, mount: &str, role: &str) -> Result<Option<(Mount, TokenParams)>, Error> {
        if self.mount(mount)?.is_none() {
            return Ok(None);
        }
        let runtime = self.runtime(mount)?;
        Ok(runtime.token_params(role)?.map(|params| (runtime.mount().clone(), params)))
    }
}

/// The longest role, policy or mount name: stricter than Vault, which has no limit, so that
/// every key fits a database index (PostgreSQL's btree rows hold at most 2704 bytes).
pub const MAX_NAME_LEN: usize = 256;

/// Vault's `GenericNameRegex` with ASCII `\w`: `\w(([\w-.]+)?\w)?`, at most [`MAX_NAME_LEN`].
pub fn valid_name(name: &str) -> bool {
    if name.len() > MAX_NAME_LEN {
        return false;
    }
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let chars: Vec<char> = name.chars().collect();
    match chars.as_slice() {
        [] => false,
        [only] => word(*only),
        [first, middle @ .., last] => {
            word(*first) && word(*last) && middle.iter().all(|c| word(*c) || *c == '-' || *c == '.')
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn role_names() {
        let cases = [
            ("my-role", true),
            ("a", true),
            ("a.b_c-d", true),
            ("Prod", true),
            ("-a", false),
            ("a-", false),
            ("../admin", false),
            ("a/b", false),
            ("x\u{0}", false),
            ("", false),
            ("prоd", false),
            ("a b", false),
            (&"r".repeat(256), true),
            (&"r".repeat(257), false),
        ];
        for (name, ok) in cases {
            assert_eq!(super::valid_name(name), ok, "{name:?}");
        }
    }
}
