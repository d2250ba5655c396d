//! The store on a real PostgreSQL: Debian's `postgresql` (initdb and pg_ctl), a server of the
//! test's own in a temporary directory, run as the unprivileged `postgres` user when the tests
//! run as root, on a free port, stopped at the end. Without PostgreSQL these tests skip loudly,
//! and fail under `CI=true`.

use crate::*;
use jwtgate_store::{Batch, Conflict, Engine, PostgresEngine, PostgresOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

pub struct PgServer {
    _dir: TempDir,
    data: PathBuf,
    bin: PathBuf,
    pub url: String,
}

/// initdb and pg_ctl: Debian keeps them under /usr/lib/postgresql/<version>/bin.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// Runs a PostgreSQL program as the `postgres` user when we are root (initdb refuses root).
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl PgServer {
    /// A fresh server, or `None` (said on stderr) where PostgreSQL is not installed.
    pub fn start() -> Option<PgServer> {
        let Some(bin) = postgres_bin() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL (Debian's postgresql package) is required under CI=true"
            );
            eprintln!("SKIPPED: PostgreSQL is not installed (apt-get install postgresql)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        if is_root() {
            run(
                {
                    let mut chown = Command::new("chown");
                    chown.args(["postgres:postgres"]).arg(dir.path());
                    chown
                },
                "chown the server's directory",
            );
        }
        let mut initdb = as_postgres(&bin.join("initdb"));
        initdb.args(["-A", "trust", "-U", "jwtgate", "-E", "UTF8", "--no-sync", "-D"]).arg(&data);
        run(initdb, "initdb");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let options = format!("-p {port} -k {} -c listen_addresses=127.0.0.1", dir.path().display());
        let mut start = as_postgres(&bin.join("pg_ctl"));
        start
            .args(["-w", "-t", "60", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(dir.path().join("log"))
            .args(["-o", &options, "start"]);
        run(start, "pg_ctl start");
        // Stopped by drop, and by this watchdog when the test process is gone (the shared
        // server is a static, which is never dropped).
        let pg_ctl = bin.join("pg_ctl");
        let stop = format!(
            "while kill -0 {} 2>/dev/null; do sleep 1; done; {} {} -m immediate -D {} stop",
            std::process::id(),
            if is_root() { "runuser -u postgres --" } else { "" },
            pg_ctl.display(),
            data.display()
        );
        // Outlives this process on purpose: it is what stops the server after the tests.
        #[allow(clippy::zombie_processes)]
        let _watchdog = Command::new("sh")
            .args(["-c", &stop])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("postgresql://jwtgate@127.0.0.1:{port}/postgres");
        Some(PgServer { _dir: dir, data, bin, url })
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let mut stop = as_postgres(&self.bin.join("pg_ctl"));
        stop.args(["-w", "-m", "immediate", "-D"]).arg(&self.data).arg("stop");
        let _ = stop.output();
    }
}

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
