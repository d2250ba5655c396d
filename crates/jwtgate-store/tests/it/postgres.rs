//! The store on a real PostgreSQL (`jwtgate_testkit::postgres`). Without PostgreSQL these
//! tests skip loudly, and fail under `CI=true`.

use crate::*;
use jwtgate_store::{Batch, Conflict, Engine, PostgresEngine, PostgresOptions};
pub use jwtgate_testkit::postgres::PgServer;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// One server for the tests of this binary that do not need their own.
fn shared() -> Option<&'static PgServer> {
    static SERVER: OnceLock<Option<PgServer>> = OnceLock::new();
    SERVER.get_or_init(PgServer::start).as_ref()
}

fn options(url: &str, table: &str) -> PostgresOptions {
    PostgresOptions { table: table.into(), ..PostgresOptions::new(url) }
}

/// A store on a table no other test uses, on the shared server.
pub fn fresh_store() -> Option<Store> {
    static TABLES: AtomicUsize = AtomicUsize::new(0);
    let server = shared()?;
    let table = format!("t{}_{}", std::process::id(), TABLES.fetch_add(1, Ordering::Relaxed));
    Some(Store::open_postgres(&options(&server.url, &table)).unwrap())
}

#[test]
fn tokens_written_by_one_store_are_read_by_another_on_the_same_table() {
    let Some(server) = PgServer::start() else { return };
    let first = Arc::new(Store::open_postgres(&options(&server.url, "kv")).unwrap());
    create_concurrently(&first, 8, 25);
    store_revokes(&first, "hvs.0-0");
    // A second replica (or a restart) on the same table: same salt, same tokens.
    let second = Store::open_postgres(&options(&server.url, "kv")).unwrap();
    assert_eq!(second.token_count().unwrap(), 199);
    for (t, i) in (0..8).flat_map(|t| (0..25).map(move |i| (t, i))).skip(1) {
        assert!(second.lookup_token(&format!("hvs.{t}-{i}"), NOW).unwrap().is_some(), "hvs.{t}-{i}");
        assert!(second.lookup_accessor(&format!("a{t}-{i}"), NOW).unwrap().is_some(), "a{t}-{i}");
    }
    assert!(second.lookup_token("hvs.0-0", NOW).unwrap().is_none(), "a revocation on one is seen by the other");
}

fn store_revokes(store: &Store, token: &str) {
    store.revoke_token(token).unwrap();
    assert!(store.lookup_token(token, NOW).unwrap().is_none());
}

#[test]
fn compare_and_swap_of_an_absent_key_has_exactly_one_winner() {
    let Some(server) = shared() else { return };
    let engine = Arc::new(PostgresEngine::connect(&options(&server.url, "cas_race")).unwrap());
    let barrier = Arc::new(std::sync::Barrier::new(16));
    let racers: Vec<_> = (0..16u8)
        .map(|n| {
            let (engine, barrier) = (engine.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                engine.compare_and_swap(b"race", None, Some(&[n])).unwrap()
            })
        })
        .collect();
    let outcomes: Vec<Result<(), Conflict>> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    let winner = engine.get(b"race").unwrap().unwrap();
    // The winner's value is in place; a swap from a stale value loses, from the current wins.
    assert_eq!(engine.compare_and_swap(b"race", Some(&[99]), None).unwrap(), Err(Conflict));
    assert_eq!(engine.compare_and_swap(b"race", Some(&winner), None).unwrap(), Ok(()));
    assert_eq!(engine.get(b"race").unwrap(), None);
}

#[test]
fn a_batch_is_applied_in_order_and_scans_keep_byte_order() {
    let Some(server) = shared() else { return };
    let engine = PostgresEngine::connect(&options(&server.url, "order")).unwrap();
    let mut batch = Batch::default();
    for key in [&b"p/\xff"[..], b"p/b", b"p/a", b"p0", b"o/z", b"p/\x00"] {
        batch.put(key, key);
    }
    batch.put("p/b", "second");
    batch.delete("p/a");
    batch.put("p/a", "again");
    batch.delete("o/z");
    engine.apply(batch).unwrap();
    let keys: Vec<Vec<u8>> = engine.scan_prefix(b"p/", usize::MAX).unwrap().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, vec![b"p/\x00".to_vec(), b"p/a".to_vec(), b"p/b".to_vec(), b"p/\xff".to_vec()]);
    assert_eq!(engine.get(b"p/b").unwrap().as_deref(), Some(&b"second"[..]));
    assert_eq!(engine.get(b"p/a").unwrap().as_deref(), Some(&b"again"[..]));
    assert_eq!(engine.get(b"o/z").unwrap(), None);
    assert_eq!(engine.scan_prefix(b"p/", 2).unwrap().len(), 2);
    assert_eq!(engine.scan_range(b"p/a", b"p/c", 10).unwrap().len(), 2);
    assert_eq!(engine.count_prefix(b"p").unwrap(), 5);
    assert!(!engine.is_empty());
}

#[test]
fn a_table_name_that_is_not_a_plain_identifier_is_refused() {
    let Some(server) = shared() else { return };
    let refused = Store::open_postgres(&options(&server.url, "kv; drop table kv")).unwrap_err();
    assert!(refused.to_string().contains("lower-case identifier"), "{refused}");
}

#[test]
fn replicas_creating_one_database_together_share_one_salt() {
    let Some(server) = shared() else { return };
    let barrier = Arc::new(std::sync::Barrier::new(6));
    let replicas: Vec<Store> = (0..6)
        .map(|_| {
            let (barrier, url) = (barrier.clone(), server.url.clone());
            std::thread::spawn(move || {
                barrier.wait();
                Store::open_postgres(&options(&url, "init_race")).unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|replica| replica.join().unwrap())
        .collect();
    replicas[0].create_token("hvs.shared", &record("acc", 3600)).unwrap();
    for replica in &replicas {
        assert!(replica.lookup_token("hvs.shared", NOW).unwrap().is_some(), "every replica hashes alike");
    }
}

#[test]
fn a_table_layout_newer_than_this_build_is_refused_by_name() {
    let Some(server) = shared() else { return };
    drop(Store::open_postgres(&options(&server.url, "too_new")).unwrap());
    let mut client = ::postgres::Client::connect(&server.url, ::postgres::NoTls).unwrap();
    client.execute("UPDATE too_new_meta SET value = 7 WHERE name = 'schema'", &[]).unwrap();
    let refused = Store::open_postgres(&options(&server.url, "too_new")).unwrap_err().to_string();
    assert!(refused.contains("postgresql table too_new has schema version 7"), "{refused}");
    assert!(refused.contains("supports up to 1; upgrade jwtgate"), "{refused}");
}

/// Waits up to `within` for `replica` to have read a counter other than `before`.
fn sees_a_change(replica: &Store, before: u64, within: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if replica.coherence().unwrap().changes != before {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

#[test]
fn a_write_to_a_cached_keyspace_reaches_the_other_replicas_and_a_token_write_does_not() {
    let Some(server) = shared() else { return };
    let (writer, reader) = (
        Store::open_postgres(&options(&server.url, "feed")).unwrap(),
        Store::open_postgres(&options(&server.url, "feed")).unwrap(),
    );
    let second = std::time::Duration::from_secs(1);
    let before = reader.coherence().unwrap();
    assert!(before.fresh);
    writer.create_token("hvs.feed", &record("feed", 3600)).unwrap();
    writer.revoke_token("hvs.feed").unwrap();
    assert!(!sees_a_change(&reader, before.changes, 2 * second), "tokens are never cached, so never announced");
    writer.put_role("jwt", "r", &serde_json::json!({"x": 1})).unwrap();
    assert!(sees_a_change(&reader, before.changes, second), "a role write is seen within a second");
    let after_role = reader.coherence().unwrap().changes;
    writer.delete_policy("p").unwrap();
    assert!(sees_a_change(&reader, after_role, second), "a delete is a change too");
}

#[test]
fn one_replica_leads_a_job_and_another_takes_over_when_it_is_gone() {
    let Some(server) = shared() else { return };
    let first = Store::open_postgres(&options(&server.url, "lease")).unwrap();
    let second = Store::open_postgres(&options(&server.url, "lease")).unwrap();
    assert!(first.lead("sweep").unwrap());
    assert!(first.lead("sweep").unwrap(), "a lease is kept");
    assert!(!second.lead("sweep").unwrap());
    assert!(second.lead("other").unwrap(), "jobs have leases of their own");
    drop(first);
    // The server releases the lock once it has seen the connection close: not at once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !second.lead("sweep").unwrap() {
        assert!(std::time::Instant::now() < deadline, "the lease ends with its holder's connection");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
