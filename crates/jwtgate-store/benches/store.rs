//! `cargo bench -p jwtgate-store [-- --quick]`: durable token creates per second and p99 with
//! 1, 16 and 64 concurrent writers, against raw sled insert+flush in the same run; and token
//! lookups in an empty store against one holding 1,000,000 live tokens (100,000 with --quick).

use jwtgate_store::{Options, Store, TokenRecord};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NOW: i64 = 1_700_000_000;

fn record(i: u64) -> TokenRecord {
    TokenRecord {
        accessor: format!("accessor-{i:020}"),
        policies: vec!["default".into(), "k8s-app".into()],
        meta: [("role".to_owned(), "my-role".to_owned())].into(),
        display_name: "jwt-system:serviceaccount:default:default".into(),
        path: "auth/jwt/login".into(),
        mount: "jwt".into(),
        role: "my-role".into(),
        creation_time: NOW,
        creation_ttl: 3600,
        expire_time: Some(NOW + 3600),
        renewable: true,
        orphan: true,
        ..TokenRecord::default()
    }
}

struct Run {
    ops_per_sec: f64,
    p99: Duration,
}

/// Runs `op` on `writers` threads for `duration`; returns throughput and p99 latency.
fn drive(writers: usize, duration: Duration, op: impl Fn(usize, u64) + Send + Sync + 'static) -> Run {
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..writers)
        .map(|writer| {
            let (op, stop) = (op.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let begun = Instant::now();
                    op(writer, i);
                    latencies.push(begun.elapsed());
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let mut latencies: Vec<Duration> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let elapsed = started.elapsed();
    latencies.sort();
    let p99 = latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
    Run { ops_per_sec: latencies.len() as f64 / elapsed.as_secs_f64(), p99 }
}

fn durable_creates(writers: usize, duration: Duration) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&Options::new(dir.path().join("db"))).unwrap());
    let value = record(0);
    let run = drive(writers, duration, move |writer, i| {
        store.create_token(&format!("hvs.bench-{writer}-{i}"), &value).unwrap();
    });
    drop(dir);
    run
}

fn raw_sled(writers: usize, duration: Duration) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::open(dir.path().join("raw")).unwrap();
    // The same bytes a token record takes, under a key of the same length.
    let value = serde_json::to_vec(&record(0)).unwrap();
    let run = drive(writers, duration, move |writer, i| {
        db.insert(format!("token/{writer:04}{i:060}"), value.as_slice()).unwrap();
        db.flush().unwrap();
    });
    drop(dir);
    run
}

/// Median lookup time of existing tokens in a store holding `live` tokens.
fn lookup_cost(live: u64) -> (Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&Options::new(dir.path().join("db"))).unwrap());
    let fill_started = Instant::now();
    let writers = 64u64;
    let threads: Vec<_> = (0..writers)
        .map(|writer| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut i = writer;
                while i < live.max(1) {
                    store.create_token(&format!("hvs.fill-{i}"), &record(i)).unwrap();
                    i += writers;
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let fill_time = fill_started.elapsed();
    let mut samples = Vec::new();
    let mut i = 0u64;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        let token = format!("hvs.fill-{}", (i * 7919) % live.max(1));
        let begun = Instant::now();
        assert!(store.lookup_token(&token, NOW).unwrap().is_some());
        samples.push(begun.elapsed());
        i += 1;
    }
    samples.sort();
    (samples[samples.len() / 2], fill_time)
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("store benchmark: run with `cargo bench -p jwtgate-store`");
        return;
    }
    let quick = std::env::args().any(|arg| arg == "--quick");
    let duration = Duration::from_secs(if quick { 1 } else { 4 });
    println!("| writers | durable creates/s | p99 | raw sled insert+flush/s | raw p99 | store / raw |");
    println!("|---|---|---|---|---|---|");
    for writers in [1, 16, 64] {
        let store = durable_creates(writers, duration);
        let raw = raw_sled(writers, duration);
        println!(
            "| {writers} | {:.0} | {:.2} ms | {:.0} | {:.2} ms | {:.2} |",
            store.ops_per_sec,
            store.p99.as_secs_f64() * 1e3,
            raw.ops_per_sec,
            raw.p99.as_secs_f64() * 1e3,
            store.ops_per_sec / raw.ops_per_sec
        );
    }
    let big = if quick { 100_000 } else { 1_000_000 };
    let (empty, _) = lookup_cost(1);
    let (full, fill_time) = lookup_cost(big);
    println!(
        "\nlookup (median): store with 1 token {:.1} µs, with {big} tokens {:.1} µs, ratio {:.2} (filling took {:.0} s, {:.0} creates/s at 64 writers)",
        empty.as_secs_f64() * 1e6,
        full.as_secs_f64() * 1e6,
        full.as_secs_f64() / empty.as_secs_f64(),
        fill_time.as_secs_f64(),
        big as f64 / fill_time.as_secs_f64()
    );
}
