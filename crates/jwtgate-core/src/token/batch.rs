//! Batch tokens: self-contained, sealed with AES-256-GCM under the newest key of the store's
//! key ring. `jgb.` + base64url(key id (4 bytes) ‖ nonce (12) ‖ ciphertext ‖ tag). Nothing is
//! written at login; expiry and bound CIDRs are checked on every use.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jwtgate_store::{KeyRing, TokenRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const PREFIX: &str = "jgb.";
const AAD: &[u8] = b"jwtgate batch token v1";

/// What a batch token carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Payload {
    policies: Vec<String>,
    meta: BTreeMap<String, String>,
    display_name: String,
    path: String,
    mount: String,
    role: String,
    entity_id: String,
    creation_time: i64,
    expire_time: i64,
    bound_cidrs: Vec<String>,
    /// The parent's stored key; empty for orphans (every login token).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    parent: String,
}

/// The ring's keys, ready to seal (newest) and open (any).
pub struct Sealer {
    keys: Vec<(u32, LessSafeKey)>,
}

impl Sealer {
    pub fn new(ring: &KeyRing) -> Sealer {
        let mut keys: Vec<(u32, LessSafeKey)> = ring
            .keys
            .iter()
            .filter_map(|key| {
                let secret = STANDARD.decode(&key.secret).ok()?;
                Some((key.id, LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &secret).ok()?)))
            })
            .collect();
        keys.sort_by_key(|(id, _)| *id);
        Sealer { keys }
    }

    /// Seals `record` (its expiry is required) into a batch token.
    pub fn seal(&self, record: &TokenRecord) -> Option<String> {
        let (id, key) = self.keys.last()?;
        let payload = Payload {
            policies: record.policies.clone(),
            meta: record.meta.clone(),
            display_name: record.display_name.clone(),
            path: record.path.clone(),
            mount: record.mount.clone(),
            role: record.role.clone(),
            entity_id: record.entity_id.clone(),
            creation_time: record.creation_time,
            expire_time: record.expire_time?,
            bound_cidrs: record.bound_cidrs.clone(),
            parent: record.parent.clone(),
        };
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).ok()?;
        let mut sealed = serde_json::to_vec(&payload).ok()?;
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad(*id)), &mut sealed).ok()?;
        let mut bytes = id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Some(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Opens a batch token that is authentic and unexpired at `now`.
    pub fn open(&self, token: &str, now: i64) -> Option<TokenRecord> {
        let bytes = URL_SAFE_NO_PAD.decode(token.strip_prefix(PREFIX)?).ok()?;
        if bytes.len() < 4 + NONCE_LEN + 16 {
            return None;
        }
        let id = u32::from_be_bytes(bytes[..4].try_into().ok()?);
        let (_, key) = self.keys.iter().find(|(key_id, _)| *key_id == id)?;
        let nonce = Nonce::try_assume_unique_for_key(&bytes[4..4 + NONCE_LEN]).ok()?;
        let mut sealed = bytes[4 + NONCE_LEN..].to_vec();
        let plain = key.open_in_place(nonce, Aad::from(aad(id)), &mut sealed).ok()?;
        let payload: Payload = serde_json::from_slice(plain).ok()?;
        (now < payload.expire_time).then(|| TokenRecord {
            accessor: String::new(),
            policies: payload.policies,
            meta: payload.meta,
            display_name: payload.display_name,
            path: payload.path,
            mount: payload.mount,
            role: payload.role,
            entity_id: payload.entity_id,
            creation_time: payload.creation_time,
            creation_ttl: payload.expire_time - payload.creation_time,
            expire_time: Some(payload.expire_time),
            renewable: false,
            orphan: payload.parent.is_empty(),
            bound_cidrs: payload.bound_cidrs,
            parent: payload.parent,
            ..TokenRecord::default()
        })
    }
}

fn aad(id: u32) -> Vec<u8> {
    let mut aad = AAD.to_vec();
    aad.extend_from_slice(&id.to_be_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use jwtgate_store::RingKey;

    fn ring(ids: &[u32]) -> KeyRing {
        KeyRing {
            keys: ids
                .iter()
                .map(|id| RingKey { id: *id, created: 0, secret: STANDARD.encode([*id as u8; 32]) })
                .collect(),
        }
    }

    fn record() -> TokenRecord {
        TokenRecord {
            policies: vec!["default".into()],
            meta: [("role".to_owned(), "r".to_owned())].into(),
            mount: "jwt".into(),
            creation_time: 100,
            expire_time: Some(200),
            ..TokenRecord::default()
        }
    }

    #[test]
    fn seal_open_expire_tamper_rotate() {
        let sealer = Sealer::new(&ring(&[1]));
        let token = sealer.seal(&record()).unwrap();
        assert!(token.starts_with("jgb."));
        let opened = sealer.open(&token, 150).unwrap();
        assert_eq!(
            (opened.policies, opened.expire_time, opened.renewable),
            (vec!["default".to_owned()], Some(200), false)
        );
        assert_eq!(sealer.open(&token, 200), None, "expired");
        let mut bytes = URL_SAFE_NO_PAD.decode(&token[4..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(sealer.open(&format!("jgb.{}", URL_SAFE_NO_PAD.encode(&bytes)), 150), None, "tampered");
        assert_eq!(Sealer::new(&ring(&[2])).open(&token, 150), None, "unknown key");
        // After a rotation the old key still opens old tokens; new ones use the new key.
        let rotated = Sealer::new(&ring(&[1, 2]));
        assert!(rotated.open(&token, 150).is_some());
        let fresh = rotated.seal(&record()).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(&fresh[4..]).unwrap()[..4], 2u32.to_be_bytes());
        for junk in ["jgb.", "jgb.AAAA", "jgs.abc", "jgb.!!!"] {
            assert_eq!(sealer.open(junk, 150), None, "{junk}");
        }
    }
}
