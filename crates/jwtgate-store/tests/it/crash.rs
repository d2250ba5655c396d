//! Crash test: a child process creates and revokes tokens, printing each only after the store
//! call returned; it is killed with SIGKILL at random moments. After every kill the store must
//! reopen, hold every acknowledged token, and keep every acknowledged revocation.
//! `JWTGATE_CRASH_ITERATIONS` (default 30) and `JWTGATE_CRASH_SEED` control the run.

use crate::*;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A small deterministic generator, so a failing seed can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let reopen = || Store::open(&Options::new(&path));
    survives_kill_9(path.to_str().unwrap(), &reopen, 30);
}

#[test]
fn acknowledged_writes_survive_kill_9_on_postgresql() {
    let Some(server) = crate::postgres::PgServer::start() else { return };
    let reopen = || Store::open_postgres(&jwtgate_store::PostgresOptions::new(&server.url));
    survives_kill_9(&server.url, &reopen, 10);
}

/// `target`: the child's database, a sled path or a PostgreSQL URL.
fn survives_kill_9(target: &str, reopen: &dyn Fn() -> Result<Store, jwtgate_store::StoreError>, default: usize) {
    let iterations: usize =
        std::env::var("JWTGATE_CRASH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let seed: u64 = std::env::var("JWTGATE_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        let mut bytes = [0u8; 8];
        aws_lc_rs::rand::fill(&mut bytes).unwrap();
        u64::from_le_bytes(bytes) | 1
    });
    let mut random = XorShift(seed);
    let mut live: BTreeSet<String> = BTreeSet::new();
    let mut revoked: BTreeSet<String> = BTreeSet::new();
    let mut acknowledged_total = 0;
    let mut order: Vec<String> = Vec::new();

    for iteration in 0..iterations {
        let context = format!("iteration {iteration}, seed {seed} (rerun with JWTGATE_CRASH_SEED={seed})");
        let mut child =
            Command::new(env!("CARGO_BIN_EXE_store-crash-child")).arg(target).stdout(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader =
            std::thread::spawn(move || BufReader::new(stdout).lines().map_while(Result::ok).collect::<Vec<String>>());
        std::thread::sleep(Duration::from_millis(30 + random.next() % 300));
        child.kill().unwrap();
        child.wait().unwrap();
        let lines = reader.join().unwrap();
        let opened = lines.iter().any(|l| l == "opened");
        let created_now = lines.iter().filter(|l| l.starts_with("created")).count();
        for line in lines {
            match line.split_once(' ') {
                Some(("created", token)) => {
                    live.insert(token.to_owned());
                    order.push(token.to_owned());
                    acknowledged_total += 1;
                }
                // In doubt until acknowledged: either outcome is correct after a kill.
                Some(("revoking", token)) => {
                    live.remove(token);
                }
                Some(("revoked", token)) => {
                    revoked.insert(token.to_owned());
                }
                // A line cut by the kill was never acknowledged.
                _ => {}
            }
        }
        let store = reopen().unwrap_or_else(|e| {
            panic!("{context}: reopen failed (the killed child had opened: {opened}, created {created_now}): {e}")
        });
        let lost: Vec<usize> = order
            .iter()
            .enumerate()
            .filter(|(_, t)| live.contains(*t) && store.lookup_token(t, NOW).unwrap().is_none())
            .map(|(i, _)| i)
            .collect();
        assert!(
            lost.is_empty(),
            "{context}: {} acknowledged tokens lost, at positions {:?} of {}",
            lost.len(),
            &lost[..lost.len().min(20)],
            order.len()
        );
        for token in &revoked {
            assert!(store.lookup_token(token, NOW).unwrap().is_none(), "{context}: revoked token {token} is back");
        }
        // No count was saved by a clean shutdown: the gauge's count runs beside the open and,
        // with nothing written meanwhile, lands on the stored number.
        let stored = store.token_count().unwrap() as i64;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while store.token_records() != stored && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(store.token_records(), stored, "{context}: the live-token gauge after a crash");
    }
    assert!(acknowledged_total > iterations, "the child acknowledged only {acknowledged_total} tokens");
    eprintln!(
        "crash test: {iterations} kills, {acknowledged_total} acknowledged tokens, {} revocations, seed {seed}",
        revoked.len()
    );
}
