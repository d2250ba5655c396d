//! Service-account signing keys as kube-apiserver uses them: RS256 for RSA, ES256/384/512 for
//! the NIST curves, kid = base64url(SHA-256(SPKI DER)), JWKs in the apiserver's member order.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::{hash, MessageDigest};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};
use serde::Serialize;
use std::str::FromStr;

/// The key families kube-apiserver signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    P256,
    P384,
    P521,
}

impl FromStr for KeyType {
    type Err = String;
    fn from_str(s: &str) -> Result<KeyType, String> {
        Ok(match s {
            "rsa" | "rsa2048" => KeyType::Rsa2048,
            "rsa3072" => KeyType::Rsa3072,
            "rsa4096" => KeyType::Rsa4096,
            "p256" | "ec" => KeyType::P256,
            "p384" => KeyType::P384,
            "p521" => KeyType::P521,
            other => return Err(format!("unknown key type {other:?} (rsa, rsa3072, rsa4096, p256, p384, p521)")),
        })
    }
}

/// A public key as the apiserver holds it for verification and publishes it in the JWKS.
#[derive(Clone)]
pub struct VerificationKey {
    pub key: PKey<Public>,
    pub kid: String,
    pub alg: &'static str,
}

/// The signing key, with its public half.
#[derive(Clone)]
pub struct SigningKey {
    key: PKey<Private>,
    pub public: VerificationKey,
}

impl SigningKey {
    pub fn generate(key_type: KeyType) -> SigningKey {
        let key = match key_type {
            KeyType::Rsa2048 => rsa(2048),
            KeyType::Rsa3072 => rsa(3072),
            KeyType::Rsa4096 => rsa(4096),
            KeyType::P256 => ec(Nid::X9_62_PRIME256V1),
            KeyType::P384 => ec(Nid::SECP384R1),
            KeyType::P521 => ec(Nid::SECP521R1),
        };
        SigningKey::from_private(key)
    }

    pub fn from_pem(pem: &[u8]) -> Result<SigningKey, String> {
        let key = PKey::private_key_from_pem(pem).map_err(|e| format!("not a PEM private key: {e}"))?;
        match key.id() {
            Id::RSA | Id::EC => Ok(SigningKey::from_private(key)),
            _ => Err("the signing key must be RSA or ECDSA".into()),
        }
    }

    fn from_private(key: PKey<Private>) -> SigningKey {
        let der = key.public_key_to_der().expect("public half of a generated key");
        let public = PKey::public_key_from_der(&der).expect("own SPKI DER");
        let alg = algorithm(&public);
        SigningKey { public: VerificationKey { kid: kid(&der), alg, key: public }, key }
    }

    /// A compact JWS with kube-apiserver's header `{"alg":..,"kid":..}` over `payload`.
    pub fn sign(&self, payload: &str) -> String {
        let header = format!(r#"{{"alg":"{}","kid":"{}"}}"#, self.public.alg, self.public.kid);
        let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
        let mut signer = Signer::new(digest(self.public.alg), &self.key).expect("signer for an own key");
        signer.update(input.as_bytes()).expect("hashing");
        let der = signer.sign_to_vec().expect("signing");
        let signature = match self.public.alg {
            "RS256" => der,
            alg => {
                let size = coordinate_size(alg);
                let sig = EcdsaSig::from_der(&der).expect("DER ECDSA signature");
                let mut raw = sig.r().to_vec_padded(size as i32).expect("r fits");
                raw.extend(sig.s().to_vec_padded(size as i32).expect("s fits"));
                raw
            }
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

impl VerificationKey {
    pub fn public_pem(&self) -> String {
        String::from_utf8(self.key.public_key_to_pem().expect("PEM of a public key")).expect("PEM is ASCII")
    }

    /// Checks a JWS signature (`signature` is the raw JOSE form) over `input`.
    pub fn verify(&self, alg: &str, input: &[u8], signature: &[u8]) -> bool {
        if alg != self.alg {
            return false;
        }
        let der = if alg == "RS256" {
            signature.to_vec()
        } else {
            let size = coordinate_size(alg);
            if signature.len() != 2 * size {
                return false;
            }
            let (r, s) = signature.split_at(size);
            let parts = (openssl::bn::BigNum::from_slice(r), openssl::bn::BigNum::from_slice(s));
            let (Ok(r), Ok(s)) = parts else { return false };
            match EcdsaSig::from_private_components(r, s).and_then(|sig| sig.to_der()) {
                Ok(der) => der,
                Err(_) => return false,
            }
        };
        let Ok(mut verifier) = Verifier::new(digest(alg), &self.key) else { return false };
        verifier.update(input).is_ok() && verifier.verify(&der).unwrap_or(false)
    }

    /// The JWK exactly as `/openid/v1/jwks` serves it.
    pub fn jwk(&self) -> Jwk {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        if let Ok(rsa) = self.key.rsa() {
            return Jwk::Rsa {
                r#use: "sig",
                kty: "RSA",
                kid: self.kid.clone(),
                alg: self.alg,
                n: b64(&rsa.n().to_vec()),
                e: b64(&rsa.e().to_vec()),
            };
        }
        let ec = self.key.ec_key().expect("RSA or EC");
        let size = coordinate_size(self.alg);
        let mut ctx = BigNumContext::new().expect("bignum context");
        let point =
            ec.public_key().to_bytes(ec.group(), PointConversionForm::UNCOMPRESSED, &mut ctx).expect("EC point");
        let (x, y) = point[1..].split_at(size);
        let crv = match self.alg {
            "ES384" => "P-384",
            "ES512" => "P-521",
            _ => "P-256",
        };
        Jwk::Ec { r#use: "sig", kty: "EC", kid: self.kid.clone(), crv, alg: self.alg, x: b64(x), y: b64(y) }
    }
}

/// A JWK; field order is the apiserver's serialisation order.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Jwk {
    Rsa {
        r#use: &'static str,
        kty: &'static str,
        kid: String,
        alg: &'static str,
        n: String,
        e: String,
    },
    Ec {
        r#use: &'static str,
        kty: &'static str,
        kid: String,
        crv: &'static str,
        alg: &'static str,
        x: String,
        y: String,
    },
}

/// Kubernetes' key id: base64url without padding of SHA-256 over the SPKI DER.
pub fn kid(spki_der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(hash(MessageDigest::sha256(), spki_der).expect("sha256"))
}

fn rsa(bits: u32) -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(bits).expect("RSA key generation")).expect("RSA PKey")
}

fn ec(curve: Nid) -> PKey<Private> {
    let group = EcGroup::from_curve_name(curve).expect("supported curve");
    PKey::from_ec_key(EcKey::generate(&group).expect("EC key generation")).expect("EC PKey")
}

fn algorithm(key: &PKey<Public>) -> &'static str {
    match key.ec_key().ok().and_then(|ec| ec.group().curve_name()) {
        None => "RS256",
        Some(Nid::SECP384R1) => "ES384",
        Some(Nid::SECP521R1) => "ES512",
        Some(_) => "ES256",
    }
}

fn digest(alg: &str) -> MessageDigest {
    match alg {
        "ES384" => MessageDigest::sha384(),
        "ES512" => MessageDigest::sha512(),
        _ => MessageDigest::sha256(),
    }
}

fn coordinate_size(alg: &str) -> usize {
    match alg {
        "ES384" => 48,
        "ES512" => 66,
        _ => 32,
    }
}
