//! Public keys: parsing from PEM, X.509 certificates and JWKS, key hygiene, and verification.
//!
//! Keys are checked once, when a configuration is written, so that login only verifies.

use crate::error::KeyError;
use crate::json::{Json, Object};
use aws_lc_rs::signature::ParsedPublicKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Public};
use openssl::rsa::Rsa;
use openssl::x509::X509;
use std::fmt;
use std::sync::Arc;

/// The JWS algorithms a Kubernetes cluster or any OIDC issuer may sign with.
/// HMAC and `none` are not representable: a config key is never a shared secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    EdDSA,
}

impl Algorithm {
    /// Vault's default `jwt_supported_algs`: every asymmetric algorithm.
    pub const ALL: [Algorithm; 10] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::EdDSA,
    ];

    /// The JWS `alg` name, compared case-sensitively as RFC 7515 requires.
    pub fn from_jws(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|alg| alg.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// The aws-lc-rs verification algorithm for this JWS algorithm.
    fn aws_lc(self) -> &'static dyn aws_lc_rs::signature::VerificationAlgorithm {
        use aws_lc_rs::signature as sig;
        match self {
            Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
            Algorithm::ES256 => &sig::ECDSA_P256_SHA256_FIXED,
            Algorithm::ES384 => &sig::ECDSA_P384_SHA384_FIXED,
            Algorithm::ES512 => &sig::ECDSA_P521_SHA512_FIXED,
            Algorithm::EdDSA => &sig::ED25519,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a key is, which decides the algorithms it may verify (one family per key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa { bits: u32 },
    EcP256,
    EcP384,
    EcP521,
    Ed25519,
}

impl KeyKind {
    /// The algorithms a key of this kind may verify.
    fn algorithms(self) -> &'static [Algorithm] {
        use Algorithm::*;
        match self {
            KeyKind::Rsa { .. } => &[RS256, RS384, RS512, PS256, PS384, PS512],
            KeyKind::EcP256 => &[ES256],
            KeyKind::EcP384 => &[ES384],
            KeyKind::EcP521 => &[ES512],
            KeyKind::Ed25519 => &[EdDSA],
        }
    }

    fn accepts(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            KeyKind::Rsa { .. } => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            KeyKind::EcP256 => alg == ES256,
            KeyKind::EcP384 => alg == ES384,
            KeyKind::EcP521 => alg == ES512,
            KeyKind::Ed25519 => alg == EdDSA,
        }
    }
}

/// A verified-sound public key with its key id.
#[derive(Clone)]
pub struct PublicKey {
    kid: String,
    kind: KeyKind,
    /// One pre-parsed aws-lc key per algorithm of the key's family: parsing (and, for RSA, the
    /// Montgomery set-up) happens once here instead of on every verification.
    verifiers: Arc<[(Algorithm, ParsedPublicKey)]>,
    /// SubjectPublicKeyInfo DER, for PEM export and the Kubernetes kid.
    spki_der: Vec<u8>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey").field("kid", &self.kid).field("kind", &self.kind).finish()
    }
}

impl PublicKey {
    /// The key id: the JWK's own `kid`, else Kubernetes' derivation (base64url SHA-256 of SPKI DER).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The key as a PEM `PUBLIC KEY` block.
    pub fn to_pem(&self) -> String {
        let body = base64::engine::general_purpose::STANDARD.encode(&self.spki_der);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// Verifies `signature` over `signing_input`. A key never verifies an algorithm outside its family.
    pub(crate) fn verify(&self, alg: Algorithm, signing_input: &str, signature: &[u8]) -> bool {
        self.verifiers
            .iter()
            .find(|(candidate, _)| *candidate == alg)
            .is_some_and(|(_, key)| key.verify_sig(signing_input.as_bytes(), signature).is_ok())
    }

    /// Checks an openssl public key against the hygiene rules and prepares it for verification.
    pub(crate) fn from_openssl(key: &PKey<Public>, kid: Option<String>) -> Result<PublicKey, KeyError> {
        let spki_der = key.public_key_to_der().map_err(|e| KeyError::Decode(e.to_string()))?;
        let (kind, backend_bytes) = match key.id() {
            Id::RSA => {
                let rsa = key.rsa().map_err(|e| KeyError::Decode(e.to_string()))?;
                let bits = rsa.size() * 8;
                if bits < 2048 {
                    return Err(KeyError::RsaTooSmall { bits });
                }
                let e = rsa.e();
                if !e.is_bit_set(0) || e < &*BigNum::from_u32(3).map_err(decode)? {
                    return Err(KeyError::RsaExponent);
                }
                (KeyKind::Rsa { bits }, rsa.public_key_to_der_pkcs1().map_err(decode)?)
            }
            Id::EC => {
                let ec = key.ec_key().map_err(decode)?;
                let kind = match ec.group().curve_name() {
                    Some(Nid::X9_62_PRIME256V1) => KeyKind::EcP256,
                    Some(Nid::SECP384R1) => KeyKind::EcP384,
                    Some(Nid::SECP521R1) => KeyKind::EcP521,
                    other => {
                        let name = other.and_then(|nid| nid.short_name().ok()).unwrap_or("(unnamed)");
                        return Err(KeyError::UnsupportedCurve(name.to_owned()));
                    }
                };
                ec.check_key().map_err(|_| KeyError::Decode("EC point is not on its curve".into()))?;
                let mut ctx = BigNumContext::new().map_err(decode)?;
                let point = ec
                    .public_key()
                    .to_bytes(ec.group(), PointConversionForm::UNCOMPRESSED, &mut ctx)
                    .map_err(decode)?;
                (kind, point)
            }
            Id::ED25519 => (KeyKind::Ed25519, key.raw_public_key().map_err(decode)?),
            other => return Err(KeyError::UnsupportedKeyType(format!("{other:?}"))),
        };
        let verifiers = kind
            .algorithms()
            .iter()
            .map(|alg| {
                ParsedPublicKey::new(alg.aws_lc(), &backend_bytes)
                    .map(|parsed| (*alg, parsed))
                    .map_err(|e| KeyError::Decode(format!("key rejected for {alg}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let kid = kid.unwrap_or_else(|| kubernetes_kid(&spki_der));
        Ok(PublicKey { kid, kind, verifiers, spki_der })
    }
}

fn decode(error: openssl::error::ErrorStack) -> KeyError {
    KeyError::Decode(error.to_string())
}

/// Kubernetes' key id: base64url (no padding) of SHA-256 over the SubjectPublicKeyInfo DER.
pub fn kubernetes_kid(spki_der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(openssl::sha::sha256(spki_der))
}

/// Parses every PEM block in `text` into a key. Several blocks give several keys; outside the
/// blocks only blank lines and `#` comments are allowed (a `# kid: X` line names the next key),
/// so nothing is ever silently dropped.
pub fn parse_pem_keys(text: &str) -> Result<Vec<PublicKey>, KeyError> {
    let mut keys = Vec::new();
    let mut pending_kid = None;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if let Some(kid) = comment.trim().strip_prefix("kid:") {
                pending_kid = Some(kid.trim().to_owned()).filter(|kid| !kid.is_empty());
            }
            continue;
        }
        let Some(label) = line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----")) else {
            return Err(KeyError::TrailingData);
        };
        let end_marker = format!("-----END {label}-----");
        let mut block = format!("{line}\n");
        loop {
            let next = lines.next().ok_or_else(|| KeyError::UnterminatedPem(label.to_owned()))?.trim();
            block.push_str(next);
            block.push('\n');
            if next == end_marker {
                break;
            }
        }
        keys.push(parse_pem_block(label, &block, pending_kid.take())?);
    }
    if keys.is_empty() {
        return Err(KeyError::NoKeys);
    }
    Ok(keys)
}

fn parse_pem_block(label: &str, block: &str, kid: Option<String>) -> Result<PublicKey, KeyError> {
    let bad = |e: openssl::error::ErrorStack| KeyError::Decode(format!("invalid {label} block: {e}"));
    let key = match label {
        "PUBLIC KEY" => PKey::public_key_from_pem(block.as_bytes()).map_err(bad)?,
        "RSA PUBLIC KEY" => {
            PKey::from_rsa(Rsa::public_key_from_pem_pkcs1(block.as_bytes()).map_err(bad)?).map_err(bad)?
        }
        "CERTIFICATE" => X509::from_pem(block.as_bytes()).and_then(|cert| cert.public_key()).map_err(bad)?,
        label if label.contains("PRIVATE KEY") => return Err(KeyError::PrivateKey(label.to_owned())),
        other => return Err(KeyError::UnsupportedPemType(other.to_owned())),
    };
    PublicKey::from_openssl(&key, kid)
}

/// How to treat a key in a JWKS that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadKeys {
    /// Configuration given by an operator: any bad key is an error they should see.
    Refuse,
    /// A document fetched from an issuer: one odd key must not take the whole set down.
    Skip,
}

/// Parses a JWKS document (`{"keys":[...]}`, as `kubectl get --raw /openid/v1/jwks` prints).
pub fn parse_jwks(document: &str) -> Result<Vec<PublicKey>, KeyError> {
    parse_jwks_with(document.as_bytes(), BadKeys::Refuse)
}

pub(crate) fn parse_jwks_with(document: &[u8], bad_keys: BadKeys) -> Result<Vec<PublicKey>, KeyError> {
    let root = crate::json::parse_object(document).map_err(KeyError::Jwks)?;
    let Some(Json::Array(entries)) = root.get("keys") else {
        return Err(KeyError::Jwks("\"keys\" must be an array".to_owned()));
    };
    let mut keys = Vec::with_capacity(entries.len());
    for entry in entries {
        match parse_jwk(entry) {
            Ok(Some(key)) => keys.push(key),
            Ok(None) => {}
            Err(error) if bad_keys == BadKeys::Skip => {
                tracing::warn!(%error, "skipping unusable key in fetched JWKS");
            }
            Err(error) => return Err(error),
        }
    }
    Ok(keys)
}

/// One JWK; `Ok(None)` for an encryption key, which a signature verifier ignores.
fn parse_jwk(entry: &Json<'_>) -> Result<Option<PublicKey>, KeyError> {
    let Json::Object(jwk) = entry else {
        return Err(KeyError::Jwks("every entry of \"keys\" must be an object".to_owned()));
    };
    let kid = match jwk.get("kid") {
        None => None,
        Some(Json::Str(kid)) if kid.len() <= crate::jose::MAX_KID_BYTES => Some(kid.clone().into_owned()),
        Some(_) => return Err(KeyError::Jwks("\"kid\" must be a string of at most 256 bytes".into())),
    };
    let name = kid.clone().unwrap_or_default();
    let problem = |problem: &str| KeyError::Jwk { kid: name.clone(), problem: problem.to_owned() };
    let kty = string_member(jwk, "kty").ok_or_else(|| problem("\"kty\" is missing"))?;
    if kty == "oct" {
        return Err(KeyError::SymmetricJwk);
    }
    for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        if jwk.contains_key(private) {
            return Err(KeyError::PrivateKey(format!("JWK {name:?} has private member {private:?}")));
        }
    }
    match jwk.get("use") {
        None => {}
        Some(Json::Str(usage)) if usage == "sig" => {}
        Some(Json::Str(usage)) if usage == "enc" => return Ok(None),
        Some(_) => return Err(problem("\"use\" must be \"sig\"")),
    }
    let component = |member: &str| -> Result<Vec<u8>, KeyError> {
        let text = string_member(jwk, member).ok_or_else(|| problem(&format!("{member:?} is missing")))?;
        URL_SAFE_NO_PAD.decode(text).map_err(|_| problem(&format!("{member:?} is not base64url")))
    };
    let bad = |e: openssl::error::ErrorStack| problem(&e.to_string());
    let key = match kty {
        "RSA" => {
            let n = BigNum::from_slice(&component("n")?).map_err(bad)?;
            let e = BigNum::from_slice(&component("e")?).map_err(bad)?;
            PKey::from_rsa(Rsa::from_public_components(n, e).map_err(bad)?).map_err(bad)?
        }
        "EC" => {
            let crv = string_member(jwk, "crv").ok_or_else(|| problem("\"crv\" is missing"))?;
            let (nid, size) = match crv {
                "P-256" => (Nid::X9_62_PRIME256V1, 32),
                "P-384" => (Nid::SECP384R1, 48),
                "P-521" => (Nid::SECP521R1, 66),
                other => return Err(KeyError::UnsupportedCurve(other.to_owned())),
            };
            let (x, y) = (component("x")?, component("y")?);
            if x.len() != size || y.len() != size {
                return Err(problem("EC coordinates have the wrong length for the curve"));
            }
            let group = EcGroup::from_curve_name(nid).map_err(bad)?;
            let x = BigNum::from_slice(&x).map_err(bad)?;
            let y = BigNum::from_slice(&y).map_err(bad)?;
            let ec = EcKey::from_public_key_affine_coordinates(&group, &x, &y).map_err(bad)?;
            PKey::from_ec_key(ec).map_err(bad)?
        }
        "OKP" => match string_member(jwk, "crv") {
            Some("Ed25519") => PKey::public_key_from_raw_bytes(&component("x")?, Id::ED25519).map_err(bad)?,
            other => return Err(KeyError::UnsupportedCurve(other.unwrap_or("(none)").to_owned())),
        },
        other => return Err(KeyError::UnsupportedKeyType(other.to_owned())),
    };
    let key = PublicKey::from_openssl(&key, kid)?;
    // A key is used with exactly one algorithm family (rfc8725bis §3.1).
    match jwk.get("alg") {
        None => {}
        Some(Json::Str(alg)) => match Algorithm::from_jws(alg) {
            Some(alg) if key.kind.accepts(alg) => {}
            _ => return Err(problem(&format!("\"alg\" {alg:?} does not fit a {kty} key"))),
        },
        Some(_) => return Err(problem("\"alg\" must be a string")),
    }
    Ok(Some(key))
}

fn string_member<'a>(jwk: &'a Object<'_>, name: &str) -> Option<&'a str> {
    jwk.get(name).and_then(Json::as_str)
}

/// Renders keys as PEM blocks, each preceded by a `# kid: ...` comment line.
pub fn to_pem_with_kids(keys: &[PublicKey]) -> String {
    keys.iter().map(|key| format!("# kid: {}\n{}", key.kid, key.to_pem())).collect()
}
