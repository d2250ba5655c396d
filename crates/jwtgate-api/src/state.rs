//! Shared server state: the store, per-mount validators, the clock, system TTLs.

use crate::error::ApiError;
use jwtgate_store::Store;
use jwtgate_verifier::{Fetch, Validator};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// A stored role and the verifier's view of it.
pub struct CachedRole {
    pub stored: serde_json::Map<String, serde_json::Value>,
    pub policy: jwtgate_verifier::ClaimPolicy,
}

/// Reads the clock; the server passes the real one, tests a fixed one.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Vault's system default and maximum lease TTL: 768h.
pub const SYSTEM_TTL: i64 = 768 * 3600;

pub struct AppState {
    pub store: Arc<Store>,
    pub fetcher: Arc<dyn Fetch>,
    pub clock: Clock,
    pub default_lease_ttl: i64,
    pub max_lease_ttl: i64,
    /// Serve `sys/metrics` without a token (Vault's `unauthenticated_metrics_access`).
    pub unauthenticated_metrics: bool,
    /// One validator per mount, swapped whole when its config is written.
    validators: RwLock<HashMap<String, Arc<Validator>>>,
    pub metrics: crate::metrics::Metrics,
    /// Seals and opens batch tokens with the store's key ring.
    pub sealer: crate::batch::Sealer,
    /// Mounts, configs and roles as last written: every request reads them, so they are read
    /// from memory; every write through this process replaces or drops the cached copy.
    mounts: RwLock<Option<Arc<Vec<jwtgate_store::Mount>>>>,
    configs: RwLock<HashMap<String, Arc<serde_json::Map<String, serde_json::Value>>>>,
    roles: RwLock<HashMap<(String, String), Arc<CachedRole>>>,
    /// Asks clusters about tokens (Kubernetes auth, `token_review` roles).
    pub reviewer: Arc<dyn jwtgate_verifier::Review>,
    /// The pod's own service-account token and CA, when jwtgate runs in a pod.
    pub local_service_account: crate::kubernetes::LocalServiceAccount,
    /// Parsed ACL policies by name, dropped when a policy is written or deleted.
    policies: RwLock<HashMap<String, Arc<crate::acl::Policy>>>,
}

impl AppState {
    /// Loads (or creates) the batch-token key ring.
    pub fn new(
        store: Arc<Store>,
        fetcher: Arc<dyn Fetch>,
        clock: Clock,
    ) -> Result<AppState, jwtgate_store::StoreError> {
        let now = clock().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let sealer = crate::batch::Sealer::new(&store.key_ring(now)?);
        Ok(AppState {
            sealer,
            store,
            fetcher,
            clock,
            default_lease_ttl: SYSTEM_TTL,
            max_lease_ttl: SYSTEM_TTL,
            unauthenticated_metrics: false,
            validators: RwLock::new(HashMap::new()),
            metrics: crate::metrics::Metrics::default(),
            mounts: RwLock::new(None),
            configs: RwLock::new(HashMap::new()),
            roles: RwLock::new(HashMap::new()),
            policies: RwLock::new(HashMap::new()),
            reviewer: Arc::new(jwtgate_verifier::HttpsReviewer::default()),
            local_service_account: crate::kubernetes::LocalServiceAccount::default(),
        })
    }

    /// The enabled mounts (read once from the store, then kept by `forget_mount`).
    pub fn mounts(&self) -> Result<Arc<Vec<jwtgate_store::Mount>>, ApiError> {
        if let Some(mounts) = self.mounts.read().map_err(|_| ApiError::Internal)?.as_ref() {
            return Ok(mounts.clone());
        }
        let mounts = Arc::new(self.store.list_mounts()?);
        *self.mounts.write().map_err(|_| ApiError::Internal)? = Some(mounts.clone());
        Ok(mounts)
    }

    /// Call after a mount is created, changed or removed.
    pub fn forget_mounts(&self) {
        if let Ok(mut mounts) = self.mounts.write() {
            *mounts = None;
        }
    }

    /// A mount's stored config, cached.
    pub fn config(&self, mount: &str) -> Result<Option<Arc<serde_json::Map<String, serde_json::Value>>>, ApiError> {
        if let Some(config) = self.configs.read().map_err(|_| ApiError::Internal)?.get(mount) {
            return Ok(Some(config.clone()));
        }
        let Some(config) = self.store.get_config(mount)?.and_then(|v| v.as_object().cloned()) else { return Ok(None) };
        let config = Arc::new(config);
        self.configs.write().map_err(|_| ApiError::Internal)?.insert(mount.to_owned(), config.clone());
        Ok(Some(config))
    }

    /// A role with its claim policy, cached.
    pub fn role(&self, mount: &str, name: &str) -> Result<Option<Arc<CachedRole>>, ApiError> {
        let key = (mount.to_owned(), name.to_owned());
        if let Some(role) = self.roles.read().map_err(|_| ApiError::Internal)?.get(&key) {
            return Ok(Some(role.clone()));
        }
        let Some(stored) = self.store.get_role(mount, name)?.and_then(|v| v.as_object().cloned()) else {
            return Ok(None);
        };
        let role = Arc::new(CachedRole { policy: crate::role::claim_policy(&stored), stored });
        self.roles.write().map_err(|_| ApiError::Internal)?.insert(key, role.clone());
        Ok(Some(role))
    }

    /// Drops cached configs and roles of `mount` (`role: None` drops all its roles).
    pub fn forget(&self, mount: &str, role: Option<&str>) {
        if role.is_none() {
            if let Ok(mut configs) = self.configs.write() {
                configs.remove(mount);
            }
        }
        if let Ok(mut roles) = self.roles.write() {
            roles.retain(|(m, r), _| m != mount || role.is_some_and(|name| name != r));
        }
    }

    /// (mount, attempts, failures) of every mount whose validator fetches keys.
    pub fn fetch_counts(&self) -> Vec<(String, u64, u64)> {
        let Ok(validators) = self.validators.read() else { return Vec::new() };
        let mut counts: Vec<(String, u64, u64)> = validators
            .iter()
            .map(|(mount, validator)| {
                let counts = validator.key_source().fetch_counts();
                (mount.clone(), counts.attempts, counts.failures)
            })
            .filter(|(_, attempts, _)| *attempts > 0)
            .collect();
        counts.sort();
        counts
    }

    pub fn cached_policy(&self, name: &str) -> Option<Arc<crate::acl::Policy>> {
        self.policies.read().ok()?.get(name).cloned()
    }

    pub fn cache_policy(&self, name: &str, policy: Option<Arc<crate::acl::Policy>>) {
        if let Ok(mut policies) = self.policies.write() {
            match policy {
                Some(policy) => policies.insert(name.to_owned(), policy),
                None => policies.remove(name),
            };
        }
    }

    /// Unix seconds now.
    pub fn now(&self) -> i64 {
        (self.clock)().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
    }

    pub fn validator(&self, mount: &str) -> Option<Arc<Validator>> {
        self.validators.read().ok()?.get(mount).cloned()
    }

    pub fn set_validator(&self, mount: &str, validator: Option<Arc<Validator>>) -> Result<(), ApiError> {
        let mut validators = self.validators.write().map_err(|_| ApiError::Internal)?;
        match validator {
            Some(validator) => validators.insert(mount.to_owned(), validator),
            None => validators.remove(mount),
        };
        Ok(())
    }
}
