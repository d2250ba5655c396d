//! Vault-exact, stricter validation of Kubernetes service-account JWTs.
//!
//! Given a mount's key configuration ([`KeyConfig`] → [`Validator`]) and a role's claim rules
//! ([`ClaimPolicy`]), [`Validator::validate`] decides whether a token is valid and who it names.
//! This crate never reads the clock (`now` is a parameter), never serves HTTP and never stores
//! anything; remote key sets are fetched through the [`Fetch`] trait.

mod claims;
mod error;
mod fetch;
mod jose;
mod json;
mod keys;
mod keyset;
mod policy;
mod review;
mod service_account;
mod validate;

pub use claims::{glob, BoundClaimsType};
pub use error::{ConfigError, FetchError, KeyError, Malformed, TokenError};
pub use fetch::{parse_ca_bundle, BoxFuture, Fetch, FetchRequest, HttpsFetcher};
pub use jose::{MAX_KID_BYTES, MAX_TOKEN_BYTES};
pub use keys::{kubernetes_kid, parse_jwks, parse_pem_keys, to_pem_with_kids, Algorithm, KeyKind, PublicKey};
pub use keyset::{DiscoveryKeySet, FetchCounts, KeySource, RefreshPolicy, RemoteKeySet, StaticKeys};
pub use policy::{ClaimPolicy, Identity, Leeways};
pub use review::{interpret_review, HttpsReviewer, Review, ReviewError, ReviewRequest, ReviewedUser};
pub use service_account::{audiences, ServiceAccount, ServiceAccountPolicy, LEEWAY, LEGACY_ISSUER};
pub use validate::{unverified_claims, Validator};

pub(crate) use error::truncate;

/// A mount's key configuration: Vault's `auth/<mount>/config` key fields, plus
/// `jwt_validation_jwks` (a JWKS document given inline). Exactly one key source must be set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyConfig {
    /// PEM public keys or certificates; an entry may hold several PEM blocks.
    pub jwt_validation_pubkeys: Vec<String>,
    /// A JWKS document, as `kubectl get --raw /openid/v1/jwks` prints it (extension).
    pub jwt_validation_jwks: String,
    pub jwks_url: String,
    pub jwks_ca_pem: String,
    pub jwks_pairs: Vec<JwksPair>,
    pub oidc_discovery_url: String,
    pub oidc_discovery_ca_pem: String,
    /// Allowed `alg` values; empty means all ten asymmetric algorithms.
    pub jwt_supported_algs: Vec<String>,
    /// When non-empty, `iss` must equal it.
    pub bound_issuer: String,
    /// How often remote key sets may be fetched again.
    pub refresh: RefreshPolicy,
}

/// One element of `jwks_pairs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwksPair {
    pub jwks_url: String,
    pub jwks_ca_pem: String,
}

/// Test helpers shared with other crates' tests: key generation and token signing.
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
