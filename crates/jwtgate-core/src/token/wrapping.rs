//! Response wrapping (`X-Vault-Wrap-TTL`, `sys/wrapping/*`): an answer is sealed into the
//! record of a new single-use token, and only that token unwraps it, once. The answer is
//! encrypted under a key derived from the wrapping token, which is never stored, so the store
//! alone cannot read a wrapped token.

use crate::error::Error;
use crate::fields;
use crate::ids;
use crate::request::{Body, Logical, Response};
use crate::token::{blocking, Tokens};
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jwtgate_store::TokenRecord;
use serde_json::{json, Value};

/// The policy every wrapping token holds (built in, as Vault's).
pub const POLICY: &str = "response-wrapping";

/// Its text, as Vault shows it.
pub const POLICY_TEXT: &str = r#"
path "cubbyhole/response" {
    capabilities = ["create", "read"]
}

path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

path "auth/token/revoke-self" {
    capabilities = ["update"]
}
"#;

const KEY_LABEL: &[u8] = b"jwtgate response wrapping v1";
const NOT_VALID: &str = "wrapping token is not valid or does not exist";

/// `sys/wrapping/<action>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrapAction {
    Wrap,
    Unwrap,
    Lookup,
    Rewrap,
}

/// The wrap TTL a request asks for: `None` when absent, empty or zero (Vault does not wrap).
pub fn requested_ttl(header: Option<&str>) -> Result<Option<i64>, Error> {
    let Some(text) = header.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    let ttl = fields::parse_duration(text).ok_or_else(|| {
        Error::BadRequest(format!("error parsing X-Vault-Wrap-TTL header: time: invalid duration {text:?}"))
    })?;
    if ttl < 0 {
        return Err(Error::BadRequest(
            "error parsing X-Vault-Wrap-TTL header: requested wrap ttl cannot be negative".into(),
        ));
    }
    Ok((ttl > 0).then_some(ttl))
}

/// The token a `sys/wrapping/*` call names: the body's, else the one it was sent with.
pub fn named_token(body: &Body, presented: Option<&str>) -> Result<Option<String>, Error> {
    let named = fields::string(body, "token")?.filter(|t| !t.is_empty());
    Ok(named.or_else(|| presented.map(str::to_owned)))
}

impl Tokens {
    /// Wraps an answer: stores it sealed under a new single-use token, and answers that
    /// token's `wrap_info` in its place.
    pub async fn wrap(
        &self,
        answer: Logical,
        request_id: &str,
        creation_path: &str,
        ttl: i64,
        now: i64,
    ) -> Result<Response, Error> {
        let wrapped_accessor = answer.auth.as_ref().map(|auth| auth.accessor.clone()).unwrap_or_default();
        self.store_wrapped(answer.envelope(request_id), creation_path, ttl, &wrapped_accessor, now).await
    }

    async fn store_wrapped(
        &self,
        envelope: String,
        creation_path: &str,
        ttl: i64,
        wrapped_accessor: &str,
        now: i64,
    ) -> Result<Response, Error> {
        let token = ids::service_token();
        let record = TokenRecord {
            accessor: ids::accessor(),
            policies: vec![POLICY.to_owned()],
            display_name: "token".into(),
            path: creation_path.to_owned(),
            creation_time: now,
            creation_ttl: ttl,
            expire_time: Some(now + ttl),
            explicit_max_ttl: ttl,
            num_uses: 1,
            orphan: true,
            wrapped: seal(&token, envelope.as_bytes())?,
            ..TokenRecord::default()
        };
        let (store, stored, created) = (self.store.clone(), token.clone(), record.clone());
        blocking(move || Ok(store.create_token(&stored, &created)?)).await?;
        let mut wrap_info = json!({
            "token": token, "accessor": record.accessor, "ttl": ttl,
            "creation_time": crate::time::rfc3339(now), "creation_path": creation_path,
        });
        if !wrapped_accessor.is_empty() {
            wrap_info["wrapped_accessor"] = json!(wrapped_accessor);
        }
        Ok(Response::Logical(Logical {
            data: Value::Null,
            auth: None,
            warnings: Vec::new(),
            mount_type: String::new(),
            data_at_top_level: false,
            wrap_info,
        }))
    }

    /// `sys/wrapping/unwrap`: the wrapped answer, exactly once.
    pub async fn unwrap(&self, token: Option<String>, now: i64) -> Result<Response, Error> {
        let token = token.ok_or_else(|| Error::Forbidden("error validating wrapping token: token is empty".into()))?;
        let (_, envelope) = self.take(&token, now).await?;
        let body = serde_json::from_slice(&envelope).map_err(|e| Error::internal("read a wrapped answer", e))?;
        Ok(Response::Json { status: 200, body })
    }

    /// `sys/wrapping/rewrap`: the same answer under a new wrapping token; the old one is spent.
    pub async fn rewrap(&self, token: Option<String>, now: i64) -> Result<Response, Error> {
        let token = token.ok_or_else(|| Error::BadRequest(NOT_VALID.into()))?;
        let (record, envelope) = self.take(&token, now).await?;
        let answer: Value =
            serde_json::from_slice(&envelope).map_err(|e| Error::internal("read a wrapped answer", e))?;
        let accessor = answer.pointer("/auth/accessor").and_then(Value::as_str).unwrap_or_default().to_owned();
        self.store_wrapped(answer.to_string(), &record.path, record.creation_ttl, &accessor, now).await
    }

    /// Refuses a missing token, or one that is not a live wrapping token; spends nothing.
    pub async fn validate_wrapping(&self, token: Option<&str>, now: i64) -> Result<(), Error> {
        self.wrapping_record(token, now).await.map(drop)
    }

    async fn wrapping_record(&self, token: Option<&str>, now: i64) -> Result<TokenRecord, Error> {
        let token = token.ok_or_else(|| Error::Forbidden("error validating wrapping token: token is empty".into()))?;
        let record = self.lookup(token, now).await?.filter(|r| !r.wrapped.is_empty());
        record.ok_or_else(|| Error::BadRequest(NOT_VALID.into()))
    }

    /// `sys/wrapping/lookup`: when and where the wrapping token was made; nothing is spent.
    pub async fn wrap_lookup(&self, token: Option<String>, now: i64) -> Result<Response, Error> {
        let record = self.wrapping_record(token.as_deref(), now).await?;
        Ok(Response::data(
            json!({
                "creation_path": record.path,
                "creation_time": crate::time::rfc3339(record.creation_time),
                "creation_ttl": record.creation_ttl,
            }),
            "system",
        ))
    }

    /// Removes the wrapping token and opens its answer.
    async fn take(&self, token: &str, now: i64) -> Result<(TokenRecord, Vec<u8>), Error> {
        let (store, taken) = (self.store.clone(), token.to_owned());
        let record = blocking(move || Ok(store.take_wrapped(&taken, now)?)).await?;
        let record = record.ok_or_else(|| Error::BadRequest(NOT_VALID.into()))?;
        let envelope = open(token, &record.wrapped).ok_or_else(|| Error::BadRequest(NOT_VALID.into()))?;
        Ok((record, envelope))
    }
}

/// AES-256-GCM under HMAC-SHA256(token, label): base64(nonce ‖ ciphertext ‖ tag).
fn seal(token: &str, plain: &[u8]) -> Result<String, Error> {
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|e| Error::internal("draw a nonce", e))?;
    let mut sealed = plain.to_vec();
    key(token)
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut sealed)
        .map_err(|e| Error::internal("seal a wrapped answer", e))?;
    Ok(STANDARD.encode([nonce.as_slice(), &sealed].concat()))
}

fn open(token: &str, wrapped: &str) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(wrapped).ok()?;
    let nonce = Nonce::try_assume_unique_for_key(bytes.get(..NONCE_LEN)?).ok()?;
    let mut sealed = bytes[NONCE_LEN..].to_vec();
    Some(key(token).open_in_place(nonce, Aad::empty(), &mut sealed).ok()?.to_vec())
}

fn key(token: &str) -> LessSafeKey {
    let secret =
        aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, token.as_bytes()), KEY_LABEL);
    // A 32-byte HMAC output is always a valid AES-256 key.
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, secret.as_ref()).unwrap_or_else(|_| unreachable!()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_ttl_headers_parse_as_vault_parses_them() {
        type Parsed = Result<Option<i64>, &'static str>;
        let cases: [(Option<&str>, Parsed); 8] = [
            (None, Ok(None)),
            (Some(""), Ok(None)),
            (Some("0"), Ok(None)),
            (Some("1"), Ok(Some(1))),
            (Some("5m"), Ok(Some(300))),
            (Some("1000h"), Ok(Some(3_600_000))),
            (Some("abc"), Err(r#"error parsing X-Vault-Wrap-TTL header: time: invalid duration "abc""#)),
            (Some("-5"), Err("error parsing X-Vault-Wrap-TTL header: requested wrap ttl cannot be negative")),
        ];
        for (header, expected) in cases {
            let got = requested_ttl(header).map_err(|e| e.to_string());
            assert_eq!(got, expected.map_err(str::to_owned), "{header:?}");
        }
    }

    #[test]
    fn only_the_wrapping_token_opens_its_answer() {
        let sealed = seal("jgs.wrapping", b"{\"data\":{}}").unwrap();
        assert_eq!(open("jgs.wrapping", &sealed).as_deref(), Some(b"{\"data\":{}}".as_slice()));
        assert_eq!(open("jgs.other", &sealed), None);
        assert_eq!(open("jgs.wrapping", "bm9ub25jZQ=="), None);
        assert_ne!(seal("jgs.wrapping", b"x").unwrap(), seal("jgs.wrapping", b"x").unwrap(), "fresh nonces");
    }
}
