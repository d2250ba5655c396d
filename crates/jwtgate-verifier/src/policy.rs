//! What a role binds: the domain form of a Vault JWT role's claim rules.

use crate::claims::BoundClaimsType;
use serde_json::{Map, Value};

/// A role's claim rules. Defaults are Vault's defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClaimPolicy {
    /// `bound_subject`: when non-empty, `sub` must equal it byte for byte.
    pub bound_subject: String,
    /// `bound_audiences`: when non-empty, some `aud` entry must equal one of them. When empty, a
    /// token carrying any `aud` is refused (Vault ≥ 1.17, CVE-2024-5798).
    pub bound_audiences: Vec<String>,
    /// `bound_claims`: claim name or JSON pointer to a value or list of values.
    pub bound_claims: Map<String, Value>,
    /// `bound_claims_type`: `string` (default) or `glob`.
    pub bound_claims_type: BoundClaimsType,
    /// `user_claim`: the claim whose string value names the identity (required by Vault).
    pub user_claim: String,
    /// `user_claim_json_pointer`: read `user_claim` as a JSON pointer.
    pub user_claim_json_pointer: bool,
    /// `groups_claim`: empty for none; a leading `/` makes it a JSON pointer.
    pub groups_claim: String,
    /// `claim_mappings`: (claim or pointer, metadata key) pairs.
    pub claim_mappings: Vec<(String, String)>,
    /// Leeways in seconds as stored by Vault: 0 means the default, negative means none.
    pub leeways: Leeways,
}

/// Vault's three leeways, in seconds, with Vault's encoding (0 = default, < 0 = none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Leeways {
    /// `clock_skew_leeway`: default 60 s.
    pub clock_skew: i64,
    /// `expiration_leeway`: default 150 s; only used when the token has no `exp`.
    pub expiration: i64,
    /// `not_before_leeway`: default 150 s; only used when the token has neither `nbf` nor `iat`.
    pub not_before: i64,
}

impl Leeways {
    pub(crate) fn effective(configured: i64, default: i64) -> i64 {
        match configured {
            0 => default,
            negative if negative < 0 => 0,
            positive => positive,
        }
    }
}

/// Who the token says the caller is, read from the verified payload only.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The `user_claim` value: the identity alias name.
    pub alias_name: String,
    /// `claim_mappings` results, in mapping order (the API adds `role`).
    pub metadata: Vec<(String, String)>,
    /// `groups_claim` values, empty strings removed.
    pub groups: Vec<String>,
    /// The verified payload, kept as bytes: most logins never need the whole claim set.
    pub(crate) payload: Vec<u8>,
}

impl Identity {
    /// Every verified claim, for extensions that need more (e.g. the TokenReview check).
    pub fn claims(&self) -> Map<String, Value> {
        // The payload was parsed strictly before this identity existed; it parses again.
        serde_json::from_slice(&self.payload).unwrap_or_default()
    }
}
