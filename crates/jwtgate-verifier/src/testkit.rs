//! Test helpers: keys of every supported family, token signing with arbitrary (even hostile)
//! headers, and an in-process HTTPS server with its own CA for remote key-set tests.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Signer};
use openssl::ssl::{SslAcceptor, SslMethod};
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509Builder, X509NameBuilder, X509};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A private key of one of the supported families.
#[derive(Clone)]
pub struct TestKey {
    pub key: PKey<Private>,
}

impl TestKey {
    pub fn rsa(bits: u32) -> TestKey {
        TestKey { key: PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap() }
    }
    pub fn ec(curve: Nid) -> TestKey {
        let group = EcGroup::from_curve_name(curve).unwrap();
        TestKey { key: PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap() }
    }
    pub fn p256() -> TestKey {
        TestKey::ec(Nid::X9_62_PRIME256V1)
    }
    pub fn ed25519() -> TestKey {
        TestKey { key: PKey::generate_ed25519().unwrap() }
    }

    pub fn spki_der(&self) -> Vec<u8> {
        self.key.public_key_to_der().unwrap()
    }
    /// The kid Kubernetes derives for this key.
    pub fn kid(&self) -> String {
        crate::kubernetes_kid(&self.spki_der())
    }
    pub fn public_pem(&self) -> String {
        String::from_utf8(self.key.public_key_to_pem().unwrap()).unwrap()
    }
    pub fn private_pem(&self) -> String {
        String::from_utf8(self.key.private_key_to_pem_pkcs8().unwrap()).unwrap()
    }

    /// The default algorithm Kubernetes would sign with for this key.
    pub fn alg(&self) -> &'static str {
        match self.key.id() {
            Id::RSA => "RS256",
            Id::ED25519 => "EdDSA",
            _ => match self.key.ec_key().unwrap().group().curve_name() {
                Some(Nid::SECP384R1) => "ES384",
                Some(Nid::SECP521R1) => "ES512",
                _ => "ES256",
            },
        }
    }

    /// The public JWK, as kube-apiserver publishes it (`use`, `kty`, `kid`, `alg`, ...).
    pub fn jwk(&self) -> Value {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        match self.key.id() {
            Id::RSA => {
                let rsa = self.key.rsa().unwrap();
                json!({"use":"sig","kty":"RSA","kid":self.kid(),"alg":"RS256","n":b64(&rsa.n().to_vec()),"e":b64(&rsa.e().to_vec())})
            }
            Id::ED25519 => {
                json!({"use":"sig","kty":"OKP","kid":self.kid(),"crv":"Ed25519","alg":"EdDSA","x":b64(&self.key.raw_public_key().unwrap())})
            }
            _ => {
                let ec = self.key.ec_key().unwrap();
                let (crv, size) = match ec.group().curve_name() {
                    Some(Nid::SECP384R1) => ("P-384", 48),
                    Some(Nid::SECP521R1) => ("P-521", 66),
                    _ => ("P-256", 32),
                };
                let mut ctx = BigNumContext::new().unwrap();
                let point = ec.public_key().to_bytes(ec.group(), PointConversionForm::UNCOMPRESSED, &mut ctx).unwrap();
                let (x, y) = point[1..].split_at(size);
                json!({"use":"sig","kty":"EC","kid":self.kid(),"crv":crv,"alg":self.alg(),"x":b64(x),"y":b64(y)})
            }
        }
    }

    /// The public key parsed once by aws-lc for this key's default algorithm: the fastest
    /// possible verify, which benchmarks use as the physical limit.
    pub fn parsed_public_key(&self) -> aws_lc_rs::signature::ParsedPublicKey {
        use aws_lc_rs::signature::{ParsedPublicKey, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256};
        if self.alg() == "RS256" {
            ParsedPublicKey::new(
                &RSA_PKCS1_2048_8192_SHA256,
                self.key.rsa().unwrap().public_key_to_der_pkcs1().unwrap(),
            )
            .unwrap()
        } else {
            let ec = self.key.ec_key().unwrap();
            let mut ctx = BigNumContext::new().unwrap();
            let point = ec.public_key().to_bytes(ec.group(), PointConversionForm::UNCOMPRESSED, &mut ctx).unwrap();
            ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).unwrap()
        }
    }

    /// Signs `header` and `payload` exactly as given (no normalisation), with `alg`.
    pub fn sign_raw(&self, alg: &str, header: &str, payload: &str) -> String {
        let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
        let signature = self.signature(alg, signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// A token with Kubernetes' header `{"alg":..,"kid":..}` and the given claims.
    pub fn token(&self, claims: &Value) -> String {
        let header = json!({"alg": self.alg(), "kid": self.kid()});
        self.sign_raw(self.alg(), &header.to_string(), &claims.to_string())
    }

    pub fn signature(&self, alg: &str, message: &[u8]) -> Vec<u8> {
        let digest = |bits: &str| match bits {
            "384" => MessageDigest::sha384(),
            "512" => MessageDigest::sha512(),
            _ => MessageDigest::sha256(),
        };
        match alg {
            "EdDSA" => {
                let mut signer = Signer::new_without_digest(&self.key).unwrap();
                signer.sign_oneshot_to_vec(message).unwrap()
            }
            rs if rs.starts_with("RS") || rs.starts_with("PS") => {
                let bits = &rs[2..];
                let mut signer = Signer::new(digest(bits), &self.key).unwrap();
                if rs.starts_with("PS") {
                    signer.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
                    signer.set_rsa_mgf1_md(digest(bits)).unwrap();
                    signer.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH).unwrap();
                }
                signer.update(message).unwrap();
                signer.sign_to_vec().unwrap()
            }
            es => {
                let bits = &es[2..];
                let size = match bits {
                    "384" => 48,
                    "512" => 66,
                    _ => 32,
                };
                let mut signer = Signer::new(digest(bits), &self.key).unwrap();
                signer.update(message).unwrap();
                let der = signer.sign_to_vec().unwrap();
                let sig = EcdsaSig::from_der(&der).unwrap();
                let mut raw = sig.r().to_vec_padded(size).unwrap();
                raw.extend(sig.s().to_vec_padded(size).unwrap());
                raw
            }
        }
    }
}

/// A JWKS document holding these keys' public JWKs.
pub fn jwks(keys: &[&TestKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string()
}

/// A CA and a leaf certificate for 127.0.0.1/localhost signed by it.
pub struct TestCa {
    pub ca_pem: String,
    pub cert: X509,
    pub key: PKey<Private>,
}

impl TestCa {
    pub fn new(common_name: &str) -> TestCa {
        let ca_key = TestKey::p256().key;
        let ca = build_cert(common_name, &ca_key, None, true);
        let key = TestKey::p256().key;
        let cert = build_cert("127.0.0.1", &key, Some((&ca, &ca_key)), false);
        TestCa { ca_pem: String::from_utf8(ca.to_pem().unwrap()).unwrap(), cert, key }
    }
}

fn build_cert(cn: &str, key: &PKey<Private>, issuer: Option<(&X509, &PKey<Private>)>, is_ca: bool) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut builder = X509Builder::new().unwrap();
    builder.set_version(2).unwrap();
    let serial = BigNum::from_u32(rand_u32()).unwrap().to_asn1_integer().unwrap();
    builder.set_serial_number(&serial).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(issuer.map_or(&name, |(ca, _)| ca.subject_name())).unwrap();
    builder.set_pubkey(key).unwrap();
    builder.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    builder.set_not_after(&Asn1Time::days_from_now(30).unwrap()).unwrap();
    if is_ca {
        builder.append_extension(BasicConstraints::new().critical().ca().build().unwrap()).unwrap();
    } else {
        let san = SubjectAlternativeName::new()
            .ip("127.0.0.1")
            .dns("localhost")
            .build(&builder.x509v3_context(None, None))
            .unwrap();
        builder.append_extension(san).unwrap();
    }
    builder.sign(issuer.map_or(key, |(_, k)| k), MessageDigest::sha256()).unwrap();
    builder.build()
}

fn rand_u32() -> u32 {
    let mut bytes = [0u8; 4];
    openssl::rand::rand_bytes(&mut bytes).unwrap();
    u32::from_le_bytes(bytes) >> 1
}

/// What the test server answers for one request.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    /// Sleep before answering (slow server).
    pub delay: Duration,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn json(body: impl Into<String>) -> Reply {
        Reply {
            status: 200,
            body: body.into().into_bytes(),
            content_type: "application/json",
            delay: Duration::ZERO,
            headers: Vec::new(),
        }
    }
    pub fn status(status: u16, body: &str) -> Reply {
        Reply { status, ..Reply::json(body) }
    }
}

type Handler = dyn Fn(&str) -> Reply + Send + Sync;

/// An HTTPS server on 127.0.0.1 with its own CA, answering GETs through a handler.
pub struct TestServer {
    pub base_url: String,
    pub ca_pem: String,
    requests: Arc<AtomicUsize>,
    handler: Arc<Mutex<Arc<Handler>>>,
    stop: Arc<AtomicBool>,
}

impl TestServer {
    pub fn start(handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> TestServer {
        let ca = TestCa::new("jwtgate test CA");
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
        acceptor.set_private_key(&ca.key).unwrap();
        acceptor.set_certificate(&ca.cert).unwrap();
        let acceptor = Arc::new(acceptor.build());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let requests = Arc::new(AtomicUsize::new(0));
        let handler: Arc<Mutex<Arc<Handler>>> = Arc::new(Mutex::new(Arc::new(handler)));
        let stop = Arc::new(AtomicBool::new(false));
        let (requests2, handler2, stop2) = (requests.clone(), handler.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (acceptor, requests, handler) = (acceptor.clone(), requests2.clone(), handler2.clone());
                std::thread::spawn(move || {
                    let Ok(mut tls) = acceptor.accept(stream) else {
                        return;
                    };
                    let mut reader = BufReader::new(&mut tls);
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).is_err() {
                        return;
                    }
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).map_or(true, |n| n == 0) || line == "\r\n" {
                            break;
                        }
                    }
                    let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    requests.fetch_add(1, Ordering::SeqCst);
                    let handler = handler.lock().unwrap().clone();
                    let reply = handler(&path);
                    std::thread::sleep(reply.delay);
                    let mut head = format!(
                        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
                        reply.status,
                        reply.content_type,
                        reply.body.len()
                    );
                    for (name, value) in &reply.headers {
                        head.push_str(&format!("{name}: {value}\r\n"));
                    }
                    head.push_str("\r\n");
                    let _ = tls.write_all(head.as_bytes());
                    let _ = tls.write_all(&reply.body);
                    let _ = tls.shutdown();
                });
            }
        });
        TestServer { base_url, ca_pem: ca.ca_pem, requests, handler, stop }
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Replaces the handler (e.g. to rotate keys or take the server "down").
    pub fn set_handler(&self, handler: impl Fn(&str) -> Reply + Send + Sync + 'static) {
        *self.handler.lock().unwrap() = Arc::new(handler);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.base_url.trim_start_matches("https://"));
    }
}
