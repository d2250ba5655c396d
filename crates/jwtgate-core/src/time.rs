//! Unix seconds: from the clock's reading, and in RFC 3339 (UTC) for token lookups.

/// Unix seconds of a clock reading (0 before the epoch).
pub fn unix(time: std::time::SystemTime) -> i64 {
    time.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// `2024-05-20T21:03:42Z`.
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil-from-days (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, (secs % 3600) / 60, secs % 60)
}

/// `2024-05-20T21:03:42.123456789Z`, as Vault stamps audit entries.
pub fn rfc3339_nanos(time: std::time::SystemTime) -> String {
    let since = time.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let seconds = rfc3339(since.as_secs() as i64);
    format!("{}.{:09}Z", seconds.trim_end_matches('Z'), since.subsec_nanos())
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_716_239_022), "2024-05-20T21:03:42Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        let time = std::time::UNIX_EPOCH + std::time::Duration::new(1_716_239_022, 5);
        assert_eq!(super::rfc3339_nanos(time), "2024-05-20T21:03:42.000000005Z");
    }
}
