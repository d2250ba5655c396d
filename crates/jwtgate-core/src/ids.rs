//! Random identifiers: request ids, tokens, accessors, mount accessors.

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The system generator failing is unrecoverable: nothing secret may be issued without it.
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        std::process::abort();
    }
    bytes
}

/// `n` base62 characters from a CSPRNG (rejection sampling keeps them uniform).
pub fn base62(n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for byte in random_bytes::<64>() {
            if out.len() < n && byte < 248 {
                out.push(char::from(BASE62[usize::from(byte % 62)]));
            }
        }
    }
    out
}

/// A random UUID v4.
pub fn uuid() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// 8 lowercase hex characters, for mount accessors (`auth_jwt_1a2b3c4d`).
pub fn hex8() -> String {
    hex::encode(random_bytes::<4>())
}

/// A service token: jwtgate's prefix and 32 base62 characters (190 bits).
pub fn service_token() -> String {
    format!("jgs.{}", base62(32))
}

/// An accessor: 24 base62 characters, as Vault's.
pub fn accessor() -> String {
    base62(24)
}
