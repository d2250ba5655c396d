//! Prometheus metrics: logins by mount and outcome, login latency, key-set fetches, live tokens.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the login latency histogram, in seconds.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Debug, Default)]
pub struct Metrics {
    logins: Mutex<BTreeMap<(String, &'static str), u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Metrics {
    /// `outcome` is `success`, `failure` (400) or `denied` (403).
    pub fn record_login(&self, mount: &str, outcome: &'static str, elapsed: Duration) {
        if let Ok(mut logins) = self.logins.lock() {
            *logins.entry((mount.to_owned(), outcome)).or_default() += 1;
        }
        let seconds = elapsed.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The exposition text. `fetches` is (mount, attempts, failures) per remote key source.
    pub fn render(&self, fetches: &[(String, u64, u64)], live_tokens: i64) -> String {
        let mut out = String::new();
        out.push_str("# HELP jwtgate_logins_total Login attempts by auth mount and outcome.\n# TYPE jwtgate_logins_total counter\n");
        if let Ok(logins) = self.logins.lock() {
            for ((mount, outcome), count) in logins.iter() {
                let _ = writeln!(out, "jwtgate_logins_total{{mount=\"{mount}\",outcome=\"{outcome}\"}} {count}");
            }
        }
        out.push_str("# HELP jwtgate_login_duration_seconds Time to answer a login.\n# TYPE jwtgate_login_duration_seconds histogram\n");
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "jwtgate_login_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "jwtgate_login_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "jwtgate_login_duration_seconds_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "jwtgate_login_duration_seconds_count {count}");
        out.push_str("# HELP jwtgate_keyset_fetches_total JWKS and discovery fetches by auth mount.\n# TYPE jwtgate_keyset_fetches_total counter\n");
        for (mount, attempts, _) in fetches {
            let _ = writeln!(out, "jwtgate_keyset_fetches_total{{mount=\"{mount}\"}} {attempts}");
        }
        out.push_str("# HELP jwtgate_keyset_fetch_failures_total Failed key-set fetches by auth mount.\n# TYPE jwtgate_keyset_fetch_failures_total counter\n");
        for (mount, _, failures) in fetches {
            let _ = writeln!(out, "jwtgate_keyset_fetch_failures_total{{mount=\"{mount}\"}} {failures}");
        }
        out.push_str("# HELP jwtgate_tokens_live Stored service tokens (expired ones until the sweeper removes them).\n# TYPE jwtgate_tokens_live gauge\n");
        let _ = writeln!(out, "jwtgate_tokens_live {live_tokens}");
        out
    }
}
