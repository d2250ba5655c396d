//! Compact JWS parsing, stricter than the JOSE libraries (security catalogue §1 A and C).
//!
//! Only the compact serialisation of a signed JWT is accepted: three base64url segments,
//! no JSON serialisation, no JWE, no header features whose meaning we would have to honour.

use crate::error::{Malformed, TokenError};
use crate::json::{Json, Object};
use crate::Algorithm;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Tokens above this size are refused before any decoding (Kubernetes tokens are 1–2 KiB).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// A `kid` is only ever a map key; anything longer than this is hostile.
pub const MAX_KID_BYTES: usize = 256;

/// The parts of a compact JWS the validator needs, decoded once.
#[derive(Debug)]
pub(crate) struct Jws<'a> {
    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
    pub alg: Algorithm,
    pub kid: Option<String>,
    /// The decoded payload: parsed only after the signature verifies.
    pub payload: Vec<u8>,
}

/// Splits and decodes a compact JWS. No signature is checked here.
pub(crate) fn parse(token: &str) -> Result<Jws<'_>, TokenError> {
    let token = token.trim_matches(|c: char| c.is_ascii_whitespace());
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Malformed::TooLong.into());
    }
    if token.starts_with('{') {
        return Err(Malformed::JsonSerialization.into());
    }
    let mut segments = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (segments.next(), segments.next(), segments.next(), segments.next())
    else {
        return Err(if token.matches('.').count() == 4 { Malformed::Jwe.into() } else { Malformed::NotCompact.into() });
    };
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];

    let header_bytes = decode_segment(header_b64, "header")?;
    let header = crate::json::parse_object(&header_bytes).map_err(Malformed::Header)?;
    let (alg, kid) = check_header(&header)?;

    let payload = decode_segment(payload_b64, "payload")?;

    let signature = decode_segment(signature_b64, "signature")?;
    if signature.is_empty() {
        return Err(TokenError::Unsigned);
    }
    Ok(Jws { signing_input, signature, alg, kid, payload })
}

/// Decodes one segment. The decoder refuses every byte outside the base64url alphabet (padding,
/// whitespace, `+`, `/`, quotes), which is the character check rfc8725bis asks for.
fn decode_segment(segment: &str, part: &'static str) -> Result<Vec<u8>, Malformed> {
    URL_SAFE_NO_PAD.decode(segment).map_err(|error| match error {
        base64::DecodeError::InvalidByte(..) | base64::DecodeError::InvalidPadding => Malformed::BadCharacter,
        _ => Malformed::Base64 { part },
    })
}

/// Refuses header members whose semantics a plain JWS verifier cannot honour.
fn check_header(header: &Object<'_>) -> Result<(Algorithm, Option<String>), TokenError> {
    // RFC 7515 §4.1.11: a recipient that does not understand `crit` must reject.
    for refused in ["crit", "b64", "zip", "enc"] {
        if header.contains_key(refused) {
            return Err(TokenError::UnsupportedHeader { member: refused });
        }
    }
    match header.get("typ") {
        None => {}
        Some(Json::Str(typ)) if typ.eq_ignore_ascii_case("JWT") => {}
        Some(_) => return Err(TokenError::UnsupportedHeader { member: "typ" }),
    }
    // A nested JWT (`cty: JWT`) would need a second verification we never do.
    if header.contains_key("cty") {
        return Err(TokenError::UnsupportedHeader { member: "cty" });
    }
    let alg = match header.get("alg") {
        Some(Json::Str(alg)) => Algorithm::from_jws(alg).ok_or(TokenError::UnexpectedAlgorithm)?,
        Some(_) => return Err(Malformed::Header("\"alg\" is not a string".to_owned()).into()),
        None => return Err(Malformed::Header("\"alg\" is missing".to_owned()).into()),
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Json::Str(kid)) if kid.len() > MAX_KID_BYTES => return Err(Malformed::KidTooLong.into()),
        // Legacy tokens carried `"kid":""`; it selects nothing.
        Some(Json::Str(kid)) if kid.is_empty() => None,
        Some(Json::Str(kid)) => Some(kid.clone().into_owned()),
        Some(_) => return Err(Malformed::Header("\"kid\" is not a string".to_owned()).into()),
    };
    Ok((alg, kid))
}
