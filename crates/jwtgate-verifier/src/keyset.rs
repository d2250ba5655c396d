//! Key sources, exactly one per mount (Vault's `authType()`), and how each finds candidate keys.
//!
//! Remote sets cache keys by kid, refresh on a miss, share one in-flight refresh, refresh at most
//! once per window per URL, and keep the last good set when a fetch fails.

use crate::error::{ConfigError, FetchError, TokenError};
use crate::fetch::{parse_ca_bundle, Fetch, FetchRequest};
use crate::jose::Jws;
use crate::json::Json;
use crate::keys::{parse_jwks, parse_jwks_with, parse_pem_keys, BadKeys, PublicKey};
use crate::KeyConfig;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

/// Where a mount's keys come from.
#[derive(Debug)]
pub enum KeySource {
    /// `jwt_validation_pubkeys` or `jwt_validation_jwks`: keys fixed at configuration time.
    Static(StaticKeys),
    /// `jwks_url`.
    Jwks(RemoteKeySet),
    /// `jwks_pairs`: several JWKS URLs, routed by kid.
    Pairs(Vec<RemoteKeySet>),
    /// `oidc_discovery_url`: the JWKS named by the issuer's discovery document.
    Discovery(DiscoveryKeySet),
}

impl KeySource {
    pub(crate) fn new(config: &KeyConfig, fetcher: Arc<dyn Fetch>) -> Result<KeySource, ConfigError> {
        let configured = [
            !config.jwt_validation_pubkeys.is_empty(),
            !config.jwt_validation_jwks.is_empty(),
            !config.jwks_url.is_empty(),
            !config.jwks_pairs.is_empty(),
            !config.oidc_discovery_url.is_empty(),
        ];
        if configured.iter().filter(|set| **set).count() != 1 {
            return Err(ConfigError::KeySourceCount);
        }
        let remote = |url: &str, ca_pem: &str, field: &'static str| -> Result<RemoteKeySet, ConfigError> {
            check_https(url, field)?;
            check_ca(ca_pem)?;
            Ok(RemoteKeySet::new(url, ca_pem, fetcher.clone(), config.refresh))
        };
        if !config.jwt_validation_pubkeys.is_empty() {
            let mut keys = Vec::new();
            for entry in &config.jwt_validation_pubkeys {
                keys.extend(parse_pem_keys(entry).map_err(ConfigError::PublicKey)?);
            }
            Ok(KeySource::Static(StaticKeys::new(keys)))
        } else if !config.jwt_validation_jwks.is_empty() {
            let keys = parse_jwks(&config.jwt_validation_jwks).map_err(ConfigError::InlineJwks)?;
            if keys.is_empty() {
                return Err(ConfigError::InlineJwks(crate::KeyError::NoKeys));
            }
            Ok(KeySource::Static(StaticKeys::new(keys)))
        } else if !config.jwks_pairs.is_empty() {
            if !config.jwks_ca_pem.is_empty() {
                return Err(ConfigError::PairsWithCa);
            }
            if !config.bound_issuer.is_empty() {
                return Err(ConfigError::PairsWithBoundIssuer);
            }
            let sets = config.jwks_pairs.iter().map(|pair| remote(&pair.jwks_url, &pair.jwks_ca_pem, "jwks_url"));
            Ok(KeySource::Pairs(sets.collect::<Result<_, _>>()?))
        } else if !config.jwks_url.is_empty() {
            Ok(KeySource::Jwks(remote(&config.jwks_url, &config.jwks_ca_pem, "jwks_url")?))
        } else {
            check_https(&config.oidc_discovery_url, "oidc_discovery_url")?;
            check_ca(&config.oidc_discovery_ca_pem)?;
            Ok(KeySource::Discovery(DiscoveryKeySet {
                issuer: config.oidc_discovery_url.clone(),
                ca_pem: config.oidc_discovery_ca_pem.clone(),
                fetcher,
                refresh: config.refresh,
                jwks: OnceLock::new(),
                discovery: tokio::sync::Mutex::new(None),
            }))
        }
    }

    pub(crate) async fn check_remote(&self) -> Result<(), ConfigError> {
        match self {
            KeySource::Static(_) => Ok(()),
            KeySource::Jwks(set) => set.check().await,
            KeySource::Pairs(sets) => {
                for set in sets {
                    set.check().await?;
                }
                Ok(())
            }
            KeySource::Discovery(discovery) => discovery.discover().await.map(drop).map_err(ConfigError::Discovery),
        }
    }

    pub(crate) async fn verify(&self, jws: &Jws<'_>, now: i64) -> Result<(), TokenError> {
        match self {
            KeySource::Static(keys) => keys.verify(jws).then_some(()).ok_or(TokenError::NoStaticKeyVerified),
            KeySource::Jwks(set) => set.verify(jws, now).await,
            KeySource::Discovery(discovery) => discovery.key_set(now).await?.verify(jws, now).await,
            KeySource::Pairs(sets) => verify_routed(sets, jws, now).await,
        }
    }

    /// Remote fetches attempted and failed so far, summed over this source's URLs.
    pub fn fetch_counts(&self) -> FetchCounts {
        let sets: Vec<&RemoteKeySet> = match self {
            KeySource::Static(_) => Vec::new(),
            KeySource::Jwks(set) => vec![set],
            KeySource::Pairs(sets) => sets.iter().collect(),
            KeySource::Discovery(discovery) => discovery.jwks.get().into_iter().collect(),
        };
        let mut counts = FetchCounts::default();
        for set in sets {
            counts.attempts += set.attempts.load(Ordering::Relaxed);
            counts.failures += set.failures.load(Ordering::Relaxed);
        }
        if let KeySource::Discovery(discovery) = self {
            counts.attempts += discovery_attempts(discovery);
        }
        counts
    }
}

fn discovery_attempts(discovery: &DiscoveryKeySet) -> u64 {
    discovery.discovery.try_lock().ok().and_then(|state| state.as_ref().map(|s| s.attempts)).unwrap_or(0)
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchCounts {
    pub attempts: u64,
    pub failures: u64,
}

/// How often a remote key set may be fetched again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Seconds between two fetches of one URL, whatever the number of unknown kids (default 10).
    pub min_interval_secs: i64,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy { min_interval_secs: 10 }
    }
}

fn check_https(url: &str, field: &'static str) -> Result<(), ConfigError> {
    if url.starts_with("https://") && url.len() > "https://".len() {
        Ok(())
    } else {
        Err(ConfigError::NotHttps { field, url: crate::error::truncate(url).to_string() })
    }
}

fn check_ca(ca_pem: &str) -> Result<(), ConfigError> {
    if ca_pem.is_empty() {
        return Ok(());
    }
    parse_ca_bundle(ca_pem).map(drop).map_err(|_| ConfigError::CaPem)
}

/// Keys fixed at configuration time, indexed by kid.
#[derive(Debug)]
pub struct StaticKeys {
    keys: Vec<PublicKey>,
    by_kid: HashMap<String, Vec<usize>>,
}

impl StaticKeys {
    fn new(keys: Vec<PublicKey>) -> StaticKeys {
        let mut by_kid: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, key) in keys.iter().enumerate() {
            by_kid.entry(key.kid().to_owned()).or_default().push(index);
        }
        StaticKeys { keys, by_kid }
    }

    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// The keys whose kid matches the token's; only when none does, every key in order
    /// (Vault's behaviour for static keys), so N chained clusters cost one verification.
    fn verify(&self, jws: &Jws<'_>) -> bool {
        let verifies = |key: &PublicKey| key.verify(jws.alg, jws.signing_input, &jws.signature);
        if let Some(indexes) = jws.kid.as_deref().and_then(|kid| self.by_kid.get(kid)) {
            return indexes.iter().any(|index| verifies(&self.keys[*index]));
        }
        self.keys.iter().any(verifies)
    }
}

/// A JWKS URL's keys, cached by kid.
#[derive(Debug)]
pub struct RemoteKeySet {
    url: String,
    ca_pem: String,
    fetcher: Arc<dyn Fetch>,
    policy: RefreshPolicy,
    keys: RwLock<Arc<Vec<PublicKey>>>,
    /// Held while a refresh runs: concurrent callers wait for it instead of fetching again.
    refresh: tokio::sync::Mutex<RefreshState>,
    /// Bumped after every completed fetch attempt, so waiters can tell one happened.
    attempts: AtomicU64,
    failures: AtomicU64,
}

#[derive(Debug, Default)]
struct RefreshState {
    last_attempt: Option<i64>,
    last_error: Option<FetchError>,
}

enum Refresh {
    /// A fetch completed (here or in a caller we waited for); look at the keys again.
    Done,
    /// The last fetch is too recent; the cached keys stand.
    RateLimited,
}

impl RemoteKeySet {
    fn new(url: &str, ca_pem: &str, fetcher: Arc<dyn Fetch>, policy: RefreshPolicy) -> RemoteKeySet {
        RemoteKeySet {
            url: url.to_owned(),
            ca_pem: ca_pem.to_owned(),
            fetcher,
            policy,
            keys: RwLock::new(Arc::new(Vec::new())),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
            attempts: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The keys currently cached.
    pub fn cached_keys(&self) -> Arc<Vec<PublicKey>> {
        self.keys.read().map(|keys| keys.clone()).unwrap_or_default()
    }

    async fn fetch(&self) -> Result<Vec<PublicKey>, FetchError> {
        let ca_pem = (!self.ca_pem.is_empty()).then_some(self.ca_pem.as_str());
        let body = self.fetcher.get(FetchRequest { url: &self.url, ca_pem }).await?;
        parse_jwks_with(&body, BadKeys::Skip).map_err(|e| FetchError::Transport(format!("failed to decode keys: {e}")))
    }

    /// Vault's config-time check: the URL must serve a JWKS.
    async fn check(&self) -> Result<(), ConfigError> {
        self.fetch().await.map(drop).map_err(|e| ConfigError::JwksUrl { url: self.url.clone(), problem: e.to_string() })
    }

    fn try_keys(&self, jws: &Jws<'_>) -> bool {
        let keys = self.cached_keys();
        let verifies = |key: &&PublicKey| key.verify(jws.alg, jws.signing_input, &jws.signature);
        match jws.kid.as_deref() {
            Some(kid) => keys.iter().filter(|key| key.kid() == kid).any(|key| verifies(&key)),
            None => keys.iter().any(|key| verifies(&key)),
        }
    }

    fn has_kid(&self, kid: &str) -> bool {
        self.cached_keys().iter().any(|key| key.kid() == kid)
    }

    async fn verify(&self, jws: &Jws<'_>, now: i64) -> Result<(), TokenError> {
        let seen = self.attempts.load(Ordering::Acquire);
        if self.try_keys(jws) {
            return Ok(());
        }
        // Unknown kid or failed verification: the issuer may have rotated its keys.
        match self.refresh(seen, now).await {
            Refresh::RateLimited => Err(TokenError::RemoteSignature),
            Refresh::Done if self.try_keys(jws) => Ok(()),
            Refresh::Done => match self.refresh.lock().await.last_error.clone() {
                Some(error) => Err(TokenError::KeyFetch(error.to_string())),
                None => Err(TokenError::RemoteSignature),
            },
        }
    }

    /// Fetches the set again unless a fetch completed since `seen` or the window is not over.
    async fn refresh(&self, seen: u64, now: i64) -> Refresh {
        let mut state = self.refresh.lock().await;
        if self.attempts.load(Ordering::Acquire) != seen {
            return Refresh::Done;
        }
        if state.last_attempt.is_some_and(|last| now.saturating_sub(last) < self.policy.min_interval_secs) {
            return Refresh::RateLimited;
        }
        state.last_attempt = Some(now);
        match self.fetch().await {
            Ok(keys) => {
                tracing::debug!(url = %self.url, keys = keys.len(), "fetched JWKS");
                if let Ok(mut cached) = self.keys.write() {
                    *cached = Arc::new(keys);
                }
                state.last_error = None;
            }
            Err(error) => {
                // The last good set stays: a broken or empty answer never replaces it.
                tracing::warn!(url = %self.url, %error, "JWKS fetch failed; keeping the cached keys");
                self.failures.fetch_add(1, Ordering::Relaxed);
                state.last_error = Some(error);
            }
        }
        self.attempts.fetch_add(1, Ordering::Release);
        Refresh::Done
    }
}

/// Several JWKS URLs: the token's kid picks the set (Vault plugin ≥ PR #381).
async fn verify_routed(sets: &[RemoteKeySet], jws: &Jws<'_>, now: i64) -> Result<(), TokenError> {
    let kid = jws.kid.as_deref().ok_or(TokenError::MissingKid)?;
    let owner = |sets: &[RemoteKeySet]| sets.iter().position(|set| set.has_kid(kid));
    if let Some(index) = owner(sets) {
        return sets[index].verify(jws, now).await;
    }
    let seen: Vec<u64> = sets.iter().map(|set| set.attempts.load(Ordering::Acquire)).collect();
    let refreshes = sets.iter().zip(seen).map(|(set, seen)| set.refresh(seen, now));
    futures_util::future::join_all(refreshes).await;
    if let Some(index) = owner(sets) {
        return sets[index].verify(jws, now).await;
    }
    let mut all_failed = true;
    for set in sets {
        all_failed &= set.refresh.lock().await.last_error.is_some();
    }
    if all_failed {
        return Err(TokenError::KeySetUnavailable(format!(
            "failed to refresh all {} JWKS caches - check network connectivity and JWKS endpoints",
            sets.len()
        )));
    }
    Err(TokenError::KidNotFound { kid: crate::error::truncate(kid).to_string() })
}

/// `oidc_discovery_url`: discovery is resolved on first use and then kept, as Vault does.
#[derive(Debug)]
pub struct DiscoveryKeySet {
    issuer: String,
    ca_pem: String,
    fetcher: Arc<dyn Fetch>,
    refresh: RefreshPolicy,
    jwks: OnceLock<RemoteKeySet>,
    discovery: tokio::sync::Mutex<Option<DiscoveryState>>,
}

#[derive(Debug)]
struct DiscoveryState {
    last_attempt: i64,
    last_error: String,
    attempts: u64,
}

impl DiscoveryKeySet {
    /// The issuer's JWKS key set, discovering it first if needed (rate-limited on failure).
    async fn key_set(&self, now: i64) -> Result<&RemoteKeySet, TokenError> {
        if let Some(set) = self.jwks.get() {
            return Ok(set);
        }
        let mut state = self.discovery.lock().await;
        if let Some(set) = self.jwks.get() {
            return Ok(set);
        }
        if let Some(previous) = state.as_ref() {
            if now.saturating_sub(previous.last_attempt) < self.refresh.min_interval_secs {
                return Err(TokenError::KeySetUnavailable(previous.last_error.clone()));
            }
        }
        let attempts = state.as_ref().map_or(0, |s| s.attempts) + 1;
        match self.discover().await {
            Ok(jwks_uri) => {
                let set = RemoteKeySet::new(&jwks_uri, &self.ca_pem, self.fetcher.clone(), self.refresh);
                *state = Some(DiscoveryState { last_attempt: now, last_error: String::new(), attempts });
                Ok(self.jwks.get_or_init(|| set))
            }
            Err(error) => {
                tracing::warn!(issuer = %self.issuer, %error, "OIDC discovery failed");
                *state = Some(DiscoveryState { last_attempt: now, last_error: error.clone(), attempts });
                Err(TokenError::KeySetUnavailable(error))
            }
        }
    }

    /// Fetches the discovery document and returns its `jwks_uri` after checking it.
    async fn discover(&self) -> Result<String, String> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/'));
        let ca_pem = (!self.ca_pem.is_empty()).then_some(self.ca_pem.as_str());
        let body =
            self.fetcher.get(FetchRequest { url: &url, ca_pem }).await.map_err(|e| format!("fetching {url}: {e}"))?;
        let document = crate::json::parse_object(&body).map_err(|e| format!("discovery document is not JSON: {e}"))?;
        match document.get("issuer") {
            Some(Json::Str(issuer)) if *issuer == self.issuer => {}
            Some(Json::Str(issuer)) => {
                return Err(format!(
                    "issuer did not match: the discovery document says {:?}, the configuration says {:?}",
                    crate::error::truncate(issuer),
                    self.issuer
                ))
            }
            _ => return Err("discovery document has no string \"issuer\"".to_owned()),
        }
        match document.get("jwks_uri") {
            Some(Json::Str(uri)) if uri.starts_with("https://") => Ok(uri.to_string()),
            Some(Json::Str(uri)) => Err(format!("jwks_uri {:?} is not https", crate::error::truncate(uri))),
            _ => Err("discovery document has no string \"jwks_uri\"".to_owned()),
        }
    }
}
