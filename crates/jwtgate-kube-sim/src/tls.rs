//! The cluster CA and the apiserver's serving certificate.

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName};
use openssl::x509::{X509Builder, X509NameBuilder, X509};
use std::net::IpAddr;

/// A CA certificate and its key, in PEM.
#[derive(Clone)]
pub struct ClusterCa {
    pub cert: X509,
    pub key: PKey<Private>,
}

impl ClusterCa {
    pub fn generate(name: &str) -> ClusterCa {
        let key = p256();
        let cert = build(&format!("{name}-ca"), &key, None, &[]).expect("CA certificate");
        ClusterCa { cert, key }
    }

    pub fn from_pem(cert: &[u8], key: &[u8]) -> Result<ClusterCa, String> {
        let cert = X509::from_pem(cert).map_err(|e| format!("CA certificate: {e}"))?;
        let key = PKey::private_key_from_pem(key).map_err(|e| format!("CA key: {e}"))?;
        Ok(ClusterCa { cert, key })
    }

    pub fn cert_pem(&self) -> String {
        String::from_utf8(self.cert.to_pem().expect("PEM")).expect("ASCII")
    }

    pub fn key_pem(&self) -> String {
        String::from_utf8(self.key.private_key_to_pem_pkcs8().expect("PEM")).expect("ASCII")
    }

    /// A serving certificate for `sans` (IP addresses or DNS names) signed by this CA.
    pub fn serving_cert(&self, sans: &[String]) -> Result<(X509, PKey<Private>), String> {
        let key = p256();
        let cert = build("kube-apiserver", &key, Some(self), sans).map_err(|e| e.to_string())?;
        Ok((cert, key))
    }
}

fn p256() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
    PKey::from_ec_key(EcKey::generate(&group).expect("EC key")).expect("PKey")
}

fn build(
    cn: &str,
    key: &PKey<Private>,
    ca: Option<&ClusterCa>,
    sans: &[String],
) -> Result<X509, openssl::error::ErrorStack> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", cn)?;
    let name = name.build();
    let mut builder = X509Builder::new()?;
    builder.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(ca.map_or(&name, |ca| ca.cert.subject_name()))?;
    builder.set_pubkey(key)?;
    let (not_before, not_after) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(365)?);
    builder.set_not_before(&not_before)?;
    builder.set_not_after(&not_after)?;
    match ca {
        None => {
            builder.append_extension(BasicConstraints::new().critical().ca().build()?)?;
            builder.append_extension(KeyUsage::new().critical().key_cert_sign().digital_signature().build()?)?;
        }
        Some(_) => {
            builder.append_extension(KeyUsage::new().critical().digital_signature().key_encipherment().build()?)?;
            builder.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
            let mut san = SubjectAlternativeName::new();
            for entry in sans {
                if entry.parse::<IpAddr>().is_ok() {
                    san.ip(entry);
                } else {
                    san.dns(entry);
                }
            }
            let extension = san.build(&builder.x509v3_context(ca.map(|c| c.cert.as_ref()), None))?;
            builder.append_extension(extension)?;
        }
    }
    builder.sign(ca.map_or(key, |ca| &ca.key), MessageDigest::sha256())?;
    Ok(builder.build())
}
