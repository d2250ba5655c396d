//! One error enum per operation. `Display` is Vault's text wherever Vault has one, so the API
//! layer can return it verbatim; no variant ever carries the token itself.

use std::fmt;

/// Why a token was refused at login. Every variant is a client error (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("error validating token: error verifying token signature: malformed token: {0}")]
    Malformed(#[from] Malformed),
    #[error("error validating token: unsupported JWS header parameter {member:?}")]
    UnsupportedHeader { member: &'static str },
    #[error("error validating token: invalid algorithm (alg) header parameter: token must be signed")]
    Unsigned,
    #[error(
        "error validating token: invalid algorithm (alg) header parameter: token signed with unexpected algorithm"
    )]
    UnexpectedAlgorithm,
    #[error("error validating token: error verifying token signature: no known key successfully validated the token signature")]
    NoStaticKeyVerified,
    #[error("error validating token: error verifying token signature: failed to verify id token signature")]
    RemoteSignature,
    #[error("error validating token: error verifying token signature: fetching keys oidc: {0}")]
    KeyFetch(String),
    #[error("error validating token: error searching for key set with kid : token missing kid header parameter")]
    MissingKid,
    #[error("error validating token: error searching for key set with kid {kid}: no key found with kid {kid} in any JWKS endpoint")]
    KidNotFound { kid: String },
    #[error("error configuring token validator: keyset configuration error: {0}")]
    KeySetUnavailable(String),
    #[error("error validating token: ambiguous claim: key {key:?} collides with registered claim {registered:?} under case folding")]
    AmbiguousClaim { key: String, registered: &'static str },
    #[error("error validating token: invalid {claim} claim: {problem}")]
    ClaimType { claim: &'static str, problem: &'static str },
    #[error("error validating token: invalid issuer (iss) claim")]
    Issuer,
    #[error("error validating token: invalid subject (sub) claim")]
    Subject,
    #[error(
        "error validating token: invalid audience (aud) claim: audience claim does not match any expected audience"
    )]
    Audience,
    #[error("error validating token: no issued at (iat), not before (nbf), or expiration time (exp) claims in token")]
    NoTimeClaims,
    #[error("error validating token: invalid not before (nbf) claim: token not yet valid")]
    NotYetValid,
    #[error("error validating token: invalid expiration time (exp) claim: token is expired")]
    Expired,
    #[error("error validating token: invalid issued at (iat) claim: token issued in the future")]
    IssuedInFuture,
    #[error("audience claim found in JWT but no audiences bound to the role")]
    AudienceWithoutBound,
    #[error("claim {0:?} not found in token")]
    UserClaimMissing(String),
    #[error("claim {0:?} could not be converted to string")]
    UserClaimNotString(String),
    #[error("error converting claim '{0}' to string")]
    MappingNotString(String),
    #[error("failed to fetch groups: {0:?} claim not found in token")]
    GroupsMissing(String),
    #[error("{0:?} claim could not be converted to string list")]
    GroupsNotList(String),
    #[error("value {0} in groups claim could not be parsed as string")]
    GroupNotString(String),
    #[error("error validating claims: claim {0:?} is missing")]
    BoundClaimMissing(String),
    #[error("error validating claims: claim {0:?} does not match any associated bound claim values")]
    BoundClaimMismatch(String),
    #[error("error validating claims: received claim is not a string, bool, int or list: {0}")]
    BoundClaimUnsupported(String),
    #[error("error validating token: claim {claim:?} contains a control character")]
    ControlCharacter { claim: String },
}

/// How a token failed to parse, before any key was consulted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    #[error("token is larger than {} bytes", crate::jose::MAX_TOKEN_BYTES)]
    TooLong,
    #[error("compact JWS format must have three parts")]
    NotCompact,
    #[error("JWS JSON serialization is not supported")]
    JsonSerialization,
    #[error("JWE (encrypted) tokens are not supported")]
    Jwe,
    #[error("token contains characters outside the base64url alphabet")]
    BadCharacter,
    #[error("{part} is not canonical unpadded base64url")]
    Base64 { part: &'static str },
    #[error("invalid header: {0}")]
    Header(String),
    #[error("invalid payload: {0}")]
    Payload(String),
    #[error("kid is longer than {} bytes", crate::jose::MAX_KID_BYTES)]
    KidTooLong,
}

/// Why a key could not be accepted into a key set (configuration time).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("data does not contain any valid public keys")]
    NoKeys,
    #[error("private keys are refused: configure only the public key (PEM block {0:?})")]
    PrivateKey(String),
    #[error("unsupported PEM block type {0:?}")]
    UnsupportedPemType(String),
    #[error("unexpected trailing data after parsed PEM block")]
    TrailingData,
    #[error("unterminated PEM block {0:?}")]
    UnterminatedPem(String),
    #[error("RSA key of {bits} bits is too small: at least 2048 bits are required")]
    RsaTooSmall { bits: u32 },
    #[error("RSA public exponent must be odd and at least 3")]
    RsaExponent,
    #[error("unsupported elliptic curve {0}: only P-256, P-384 and P-521 are accepted")]
    UnsupportedCurve(String),
    #[error("unsupported key type {0}: only RSA, EC and Ed25519 public keys are accepted")]
    UnsupportedKeyType(String),
    #[error("symmetric (oct) keys are refused: Kubernetes never signs with a shared secret")]
    SymmetricJwk,
    #[error("JWK {kid:?}: {problem}")]
    Jwk { kid: String, problem: String },
    #[error("invalid JWKS document: {0}")]
    Jwks(String),
    #[error("{0}")]
    Decode(String),
}

/// Why a mount's key configuration was refused (Vault's `auth/<mount>/config` texts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("exactly one of 'jwt_validation_pubkeys', 'jwt_validation_jwks', 'jwks_url', 'jwks_pairs' or 'oidc_discovery_url' must be set")]
    KeySourceCount,
    #[error("error parsing public key: {0}")]
    PublicKey(KeyError),
    #[error("error parsing jwt_validation_jwks: {0}")]
    InlineJwks(KeyError),
    #[error("invalid jwt_supported_algs: unsupported signing algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    #[error("CA PEMs must be provided as part of the 'jwks_pairs' when using multiple JWKS URLs")]
    PairsWithCa,
    #[error("Bound issuer is not supported for use with 'jwks_pairs'")]
    PairsWithBoundIssuer,
    #[error("could not parse CA PEM value successfully")]
    CaPem,
    #[error("{field} must be an https URL, got {url:?}")]
    NotHttps { field: &'static str, url: String },
    #[error("error checking oidc discovery URL: {0}")]
    Discovery(String),
    #[error("error checking jwks URL {url}: {problem}")]
    JwksUrl { url: String, problem: String },
}

/// Why fetching a remote document failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    #[error("get keys failed: {status} {body}")]
    Status { status: u16, body: String },
    #[error("get keys failed {0}")]
    Transport(String),
    #[error("response body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("could not parse CA PEM value successfully")]
    CaPem,
    #[error("refusing non-https URL {0:?}")]
    NotHttps(String),
}

/// Limits a string reflected into an error or log to 128 characters.
pub(crate) fn truncate(text: &str) -> Truncated<'_> {
    Truncated(text)
}

pub(crate) struct Truncated<'a>(&'a str);

impl fmt::Display for Truncated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const LIMIT: usize = 128;
        match self.0.char_indices().nth(LIMIT) {
            None => f.write_str(self.0),
            Some((end, _)) => write!(f, "{}...", &self.0[..end]),
        }
    }
}

impl fmt::Debug for Truncated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string(), f)
    }
}
