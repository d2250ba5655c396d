//! Several `jwtgate server` replicas on one real PostgreSQL (issue 14, docs/ha.md): tokens and
//! configuration shared, a change made through one replica in force on the others within a
//! second, exact use counts, one init, one sweeper, `kill -9` of a replica under load, a
//! database outage, TLS to the database, and hostile names stored nowhere.

mod support;

use jwtgate_testkit::postgres::PgServer;
use jwtgate_verifier::testkit::{TestCa, TestKey};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{configure, kubernetes_token, start_with_env, Running};

/// `count` replicas on `postgres`, started at the same moment.
fn replicas(postgres: &PgServer, dir: &Path, count: usize, settings: &[(&str, &str)]) -> Vec<Running> {
    let mut env: Vec<(String, String)> =
        vec![("JWTGATE_STORAGE__POSTGRESQL__CONNECTION_URL".into(), postgres.url.clone())];
    env.extend(settings.iter().map(|(name, value)| (name.to_string(), value.to_string())));
    let starting: Vec<_> = (0..count)
        .map(|n| {
            let (env, log) = (env.clone(), dir.join(format!("replica-{n}.log")));
            std::thread::spawn(move || {
                let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                start_with_env(&[], &env, &log)
            })
        })
        .collect();
    starting.into_iter().map(|replica| replica.join().unwrap()).collect()
}

fn init(replica: &Running) -> String {
    let (status, init) = replica.call("PUT", "sys/init", None, Some(&json!({})));
    assert_eq!(status, 200, "{init}");
    init["root_token"].as_str().unwrap().to_owned()
}

fn login(replica: &Running, role: &str, key: &TestKey) -> (u16, Value) {
    replica.call("PUT", "auth/jwt/login", None, Some(&json!({"role": role, "jwt": kubernetes_token(key)})))
}

fn client_token(answer: &Value) -> String {
    answer["auth"]["client_token"].as_str().unwrap_or_else(|| panic!("no client token in {answer}")).to_owned()
}

fn lookup_self(replica: &Running, token: &str) -> u16 {
    replica.call("GET", "auth/token/lookup-self", Some(token), None).0
}

/// Whether `holds` becomes true within `within`, polling.
fn within(within: Duration, mut holds: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if holds() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn three_replicas_share_tokens_and_a_change_on_one_is_in_force_on_the_others_within_a_second() {
    let Some(postgres) = PgServer::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let [a, b, c]: [Running; 3] = replicas(&postgres, dir.path(), 3, &[]).try_into().ok().unwrap();
    let key = TestKey::rsa(2048);
    let root = init(&a);
    configure(&a, &root, &key);

    // Login on A, lookup on B, revoke on C: then A refuses it.
    let client = client_token(&login(&a, "my-role", &key).1);
    assert_eq!(lookup_self(&b, &client), 200);
    assert_eq!(c.call("PUT", "auth/token/revoke", Some(&root), Some(&json!({"token": client}))).0, 204);
    assert_eq!(lookup_self(&a, &client), 403, "a revocation on C is refused by A as soon as it returned");

    // A role changed on B is in force on A within a second (A has it cached).
    assert_eq!(login(&a, "my-role", &key).1["auth"]["lease_duration"], 3600);
    let role = json!({"role_type": "jwt", "bound_audiences": "vault", "user_claim": "sub", "bound_subject": "system:serviceaccount:default:default", "policies": "default", "ttl": "2h"});
    assert_eq!(b.call("PUT", "auth/jwt/role/my-role", Some(&root), Some(&role)).0, 204);
    assert!(within(SECOND, || login(&a, "my-role", &key).1["auth"]["lease_duration"] == 7200), "role change on A");

    // A policy changed on B is in force on A within a second (A has it cached).
    let policy = |path: &str| json!({"policy": format!("path \"{path}\" {{ capabilities = [\"read\"] }}")});
    assert_eq!(b.call("PUT", "sys/policies/acl/reader", Some(&root), Some(&policy("sys/auth"))).0, 204);
    let (_, created) = a.call("POST", "auth/token/create", Some(&root), Some(&json!({"policies": ["reader"]})));
    let reader = client_token(&created);
    assert_eq!(a.call("GET", "sys/auth", Some(&reader), None).0, 200);
    assert_eq!(b.call("PUT", "sys/policies/acl/reader", Some(&root), Some(&policy("sys/nothing"))).0, 204);
    assert!(within(SECOND, || a.call("GET", "sys/auth", Some(&reader), None).0 == 403), "policy change on A");

    // A mount disabled on C: its tokens are refused everywhere at once, its logins within a second.
    let issued = client_token(&login(&a, "my-role", &key).1);
    assert_eq!(c.call("DELETE", "sys/auth/jwt", Some(&root), None).0, 204);
    for replica in [&a, &b, &c] {
        assert_eq!(lookup_self(replica, &issued), 403);
    }
    assert!(within(SECOND, || login(&a, "my-role", &key).0 != 200), "login on a disabled mount on A");
    assert!((400..500).contains(&login(&b, "my-role", &key).0));
    for replica in [a, b, c] {
        let logs = replica.stop();
        assert!(!logs.contains(&root) && !logs.contains(&issued), "a token reached the logs");
    }
}

#[test]
fn fifty_concurrent_uses_of_a_one_use_token_over_three_replicas_succeed_once() {
    let Some(postgres) = PgServer::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let replicas = Arc::new(replicas(&postgres, dir.path(), 3, &[]));
    let root = init(&replicas[0]);
    for round in 0..3 {
        let (status, created) =
            replicas[1].call("POST", "auth/token/create", Some(&root), Some(&json!({"num_uses": 1})));
        assert_eq!(status, 200, "{created}");
        let token = client_token(&created);
        let barrier = Arc::new(std::sync::Barrier::new(50));
        let uses: Vec<_> = (0..50)
            .map(|n| {
                let (replicas, barrier, token) = (replicas.clone(), barrier.clone(), token.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    lookup_self(&replicas[n % 3], &token)
                })
            })
            .collect();
        let statuses: Vec<u16> = uses.into_iter().map(|u| u.join().unwrap()).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "round {round}: {statuses:?}");
        assert!(statuses.iter().all(|s| [200, 403].contains(s)), "{statuses:?}");
    }
}

#[test]
fn replicas_started_together_on_an_empty_database_initialise_it_once() {
    let Some(postgres) = PgServer::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let replicas = Arc::new(replicas(&postgres, dir.path(), 3, &[]));
    let barrier = Arc::new(std::sync::Barrier::new(3));
    let inits: Vec<_> = (0..3)
        .map(|n| {
            let (replicas, barrier) = (replicas.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                replicas[n].call("PUT", "sys/init", None, Some(&json!({})))
            })
        })
        .collect();
    let answers: Vec<(u16, Value)> = inits.into_iter().map(|i| i.join().unwrap()).collect();
    let roots: Vec<String> =
        answers.iter().filter(|(s, _)| *s == 200).map(|(_, a)| a["root_token"].as_str().unwrap().to_owned()).collect();
    assert_eq!(roots.len(), 1, "one root token: {answers:?}");
    assert!(answers
        .iter()
        .filter(|(s, _)| *s != 200)
        .all(|(s, a)| *s == 400 && a["errors"][0] == "Vault is already initialized"));
    // One salt (the root token hashes alike everywhere) and one key ring (a batch token sealed
    // by one replica opens on the others).
    let (_, batch) = replicas[2].call(
        "POST",
        "auth/token/create",
        Some(&roots[0]),
        Some(&json!({"type": "batch", "policies": ["default"]})),
    );
    let batch = client_token(&batch);
    for replica in replicas.iter() {
        assert_eq!(lookup_self(replica, &roots[0]), 200);
        assert_eq!(lookup_self(replica, &batch), 200);
        assert_eq!(replica.call("GET", "sys/health", None, None).0, 200);
    }
}

#[test]
fn the_expiry_sweep_runs_on_one_replica_and_moves_within_30_seconds_when_it_dies() {
    let Some(postgres) = PgServer::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let runs = |replica: &Running| replica.log().contains("this replica runs the expiry sweep");
    let first = replicas(&postgres, dir.path(), 1, &[]).pop().unwrap();
    assert!(within(5 * SECOND, || runs(&first)), "the first replica takes the sweep");
    let later = tempfile::tempdir().unwrap();
    let second = replicas(&postgres, later.path(), 1, &[]).pop().unwrap();
    std::thread::sleep(2 * SECOND);
    assert!(!runs(&second), "one sweeper at a time");
    first.kill();
    let killed = Instant::now();
    assert!(within(30 * SECOND, || runs(&second)), "the survivor takes the sweep over");
    eprintln!("the sweep moved {:?} after the kill", killed.elapsed());
}

#[test]
fn kill_9_of_one_replica_under_load_loses_no_acknowledged_token() {
    let Some(postgres) = PgServer::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let replicas: Vec<Arc<Running>> = replicas(&postgres, dir.path(), 3, &[]).into_iter().map(Arc::new).collect();
    let key = Arc::new(TestKey::rsa(2048));
    let root = init(&replicas[0]);
    configure(&replicas[0], &root, &key);
    let (acknowledged, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
    let load: Vec<_> = (0..6)
        .map(|n| {
            let (replica, key, acknowledged, stop) =
                (replicas[n % 3].clone(), key.clone(), acknowledged.clone(), stop.clone());
            std::thread::spawn(move || {
                let body = json!({"role": "my-role", "jwt": kubernetes_token(&key)});
                while !stop.load(Ordering::SeqCst) {
                    match replica.try_call("PUT", "auth/jwt/login", None, Some(&body)) {
                        Ok((200, answer)) => acknowledged.lock().unwrap().push((n % 3, client_token(&answer))),
                        Ok((status, answer)) => panic!("login answered {status}: {answer}"),
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(2 * SECOND);
    let killed_pid = replicas[1].pid();
    assert!(std::process::Command::new("kill").args(["-KILL", &killed_pid.to_string()]).status().unwrap().success());
    let at_kill = acknowledged.lock().unwrap().len();
    std::thread::sleep(2 * SECOND);
    stop.store(true, Ordering::SeqCst);
    load.into_iter().for_each(|thread| thread.join().unwrap());
    let tokens = acknowledged.lock().unwrap().clone();
    assert!(tokens.iter().filter(|(on, _)| *on == 1).count() > 0, "the victim acknowledged logins before it died");
    assert!(tokens.len() > at_kill, "the survivors kept serving after the kill");
    let restarted = replicas_on(&postgres, &dir.path().join("restarted.log"));
    for (_, token) in &tokens {
        for replica in [&replicas[0], &replicas[2], &restarted] {
            assert_eq!(lookup_self(replica, token), 200, "an acknowledged token is valid on every live replica");
        }
    }
    eprintln!(
        "{} tokens acknowledged, {at_kill} before the kill; all valid on the survivors and the restart",
        tokens.len()
    );
}

/// One initialised replica with the seed's `my-role` and a `batch` role issuing batch tokens.
fn one_replica_with_a_batch_role(postgres: &PgServer, dir: &Path, settings: &[(&str, &str)]) -> (Running, TestKey) {
    let replica = replicas(postgres, dir, 1, settings).pop().unwrap();
    let key = TestKey::rsa(2048);
    let root = init(&replica);
    configure(&replica, &root, &key);
    let batch_role = json!({"role_type": "jwt", "bound_audiences": "vault", "user_claim": "sub", "bound_subject": "system:serviceaccount:default:default", "token_type": "batch"});
    assert_eq!(replica.call("PUT", "auth/jwt/role/batch", Some(&root), Some(&batch_role)).0, 204);
    (replica, key)
}

fn replicas_on(postgres: &PgServer, log: &Path) -> Running {
    start_with_env(&[], &[("JWTGATE_STORAGE__POSTGRESQL__CONNECTION_URL", postgres.url.as_str())], log)
}

#[test]
fn a_database_outage_answers_503_fast_serves_batch_tokens_until_the_staleness_bound_and_recovers() {
    let Some(postgres) = PgServer::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let staleness = Duration::from_secs(6);
    let settings =
        [("JWTGATE_STORAGE__POSTGRESQL__STALENESS", "6s"), ("JWTGATE_STORAGE__POSTGRESQL__CONNECT_TIMEOUT", "2s")];
    let (replica, key) = one_replica_with_a_batch_role(&postgres, dir.path(), &settings);
    let kept = client_token(&login(&replica, "my-role", &key).1);
    let revoked = client_token(&login(&replica, "my-role", &key).1);
    assert_eq!(replica.call("PUT", "auth/token/revoke-self", Some(&revoked), None).0, 204);
    let batch = client_token(&login(&replica, "batch", &key).1);

    postgres.stop_now();
    let stopped = Instant::now();
    let started = Instant::now();
    let (status, refused) = login(&replica, "my-role", &key);
    assert_eq!(status, 503, "{refused}");
    assert!(refused["errors"][0].as_str().unwrap().starts_with("storage unavailable"), "{refused}");
    assert!(started.elapsed() < 3 * SECOND, "fast, within the connect timeout: {:?}", started.elapsed());
    assert_eq!(replica.call("GET", "sys/health", None, None).0, 503);
    assert_eq!(lookup_self(&replica, &kept), 503, "a service token is read from the database");
    // Batch tokens are written nowhere: served from cached configuration through the outage...
    assert_eq!(login(&replica, "batch", &key).0, 200);
    assert_eq!(lookup_self(&replica, &batch), 200);
    // ...until the staleness bound.
    std::thread::sleep((staleness + 2 * SECOND).saturating_sub(stopped.elapsed()));
    let (status, stale) = login(&replica, "batch", &key);
    assert_eq!(status, 503, "{stale}");
    assert!(stale["errors"][0].as_str().unwrap().contains("storage.postgresql.staleness"), "{stale}");
    assert_eq!(lookup_self(&replica, &batch), 503);

    postgres.start_again();
    assert!(within(15 * SECOND, || login(&replica, "my-role", &key).0 == 200), "service resumes without a restart");
    assert_eq!(login(&replica, "batch", &key).0, 200);
    assert_eq!(replica.call("GET", "sys/health", None, None).0, 200);
    assert_eq!(lookup_self(&replica, &kept), 200, "no acknowledged token lost");
    assert_eq!(lookup_self(&replica, &revoked), 403, "no acknowledged revocation undone");
    let logs = replica.stop();
    assert!(!logs.contains(&kept) && !logs.contains(&batch), "a token reached the logs");
}

#[test]
fn tls_to_the_database_verifies_its_certificate_against_the_ca_file() {
    let ca = TestCa::new("database CA");
    let Some(postgres) = PgServer::start_with(|dir| {
        let write = |name: &str, contents: &[u8]| {
            let path = dir.join(name);
            std::fs::write(&path, contents).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
            path.display().to_string()
        };
        let cert = write("server.crt", &ca.cert.to_pem().unwrap());
        let key = write("server.key", &ca.key.private_key_to_pem_pkcs8().unwrap());
        // Only TLS connections are let in.
        let hba = write("hba.conf", b"local all all trust\nhostssl all all 127.0.0.1/32 trust\n");
        vec!["ssl=on".into(), format!("ssl_cert_file={cert}"), format!("ssl_key_file={key}"), format!("hba_file={hba}")]
    }) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (right, wrong) = (dir.path().join("ca.pem"), dir.path().join("other-ca.pem"));
    std::fs::write(&right, &ca.ca_pem).unwrap();
    std::fs::write(&wrong, TestCa::new("another CA").ca_pem).unwrap();
    let refused = |ca_file: Option<&Path>| {
        let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_jwtgate"));
        server.args(["server", "--listen-address", "127.0.0.1:0"]);
        server.env("JWTGATE_STORAGE__POSTGRESQL__CONNECTION_URL", &postgres.url);
        if let Some(ca_file) = ca_file {
            server.env("JWTGATE_STORAGE__POSTGRESQL__TLS_CA_FILE", ca_file);
        }
        let output = server.output().unwrap();
        assert!(!output.status.success(), "started without a verified TLS connection");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let plain = refused(None);
    assert!(plain.contains("no encryption"), "without a CA file there is no TLS: {plain}");
    let other = refused(Some(&wrong));
    assert!(other.contains("certificate verify failed"), "a certificate of another CA is refused: {other}");
    let server =
        replicas(&postgres, dir.path(), 1, &[("JWTGATE_STORAGE__POSTGRESQL__TLS_CA_FILE", right.to_str().unwrap())])
            .pop()
            .unwrap();
    let root = init(&server);
    assert_eq!(lookup_self(&server, &root), 200);
}

/// The storage hazards of shared/spec/security-catalogue.md (E65's role names, odd bytes in
/// keys, many mounts) on the PostgreSQL backend: 4xx, and nothing stored.
#[test]
fn hostile_names_are_refused_and_stored_nowhere_on_postgresql() {
    let Some(postgres) = PgServer::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let replica = replicas(&postgres, dir.path(), 1, &[]).pop().unwrap();
    let key = TestKey::rsa(2048);
    let root = init(&replica);
    configure(&replica, &root, &key);
    let role = json!({"role_type": "jwt", "bound_audiences": "vault", "user_claim": "sub", "bound_subject": "x"});
    let long = "r".repeat(10_000);
    for name in ["../admin", "a/b", "%2e%2e", "x%00", "a%1Fb", "tr%20", long.as_str()] {
        let (status, answer) = replica.call("PUT", &format!("auth/jwt/role/{name}"), Some(&root), Some(&role));
        assert!((400..500).contains(&status), "{}: {status} {answer}", &name[..name.len().min(20)]);
    }
    for path in ["a%1Fb", "a%00b", "token", &"m".repeat(2_000)] {
        let (status, answer) =
            replica.call("POST", &format!("sys/auth/{path}"), Some(&root), Some(&json!({"type": "jwt"})));
        assert!((400..500).contains(&status), "{}: {status} {answer}", &path[..path.len().min(20)]);
    }
    let (_, roles) = replica.call("LIST", "auth/jwt/role", Some(&root), None);
    assert_eq!(roles["data"]["keys"], json!(["my-role"]), "no hostile role was stored");
    // Many mounts: each stored once, listed in order, and all gone when disabled.
    for n in 0..100 {
        assert_eq!(
            replica.call("POST", &format!("sys/auth/m{n:03}"), Some(&root), Some(&json!({"type": "jwt"}))).0,
            204
        );
    }
    let (_, mounts) = replica.call("GET", "sys/auth", Some(&root), None);
    let names: Vec<&String> = mounts["data"].as_object().unwrap().keys().collect();
    assert_eq!(names.len(), 102, "jwt/, token/ and the 100: {names:?}");
    let mut client = postgres::Client::connect(&postgres.url, postgres::NoTls).unwrap();
    let stored = |client: &mut postgres::Client, prefix: &str| -> i64 {
        let pattern = format!("{prefix}%");
        client.query_one("SELECT count(*) FROM jwtgate_kv WHERE key LIKE $1::text::bytea", &[&pattern]).unwrap().get(0)
    };
    assert_eq!(stored(&mut client, "mount/"), 101);
    assert_eq!(stored(&mut client, "role/"), 1, "only my-role");
    for n in 0..100 {
        assert_eq!(replica.call("DELETE", &format!("sys/auth/m{n:03}"), Some(&root), None).0, 204);
    }
    assert_eq!(stored(&mut client, "mount/"), 1);
}

#[test]
fn operator_migrate_moves_a_sled_database_to_postgresql_with_its_tokens_valid() {
    let Some(postgres) = PgServer::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = TestKey::rsa(2048);
    let sled = support::start(&["--data-dir", data.to_str().unwrap()], &dir.path().join("sled.log"));
    let (root, client) = support::initialise_and_log_in(&sled, &key);
    let (_, batch) =
        sled.call("POST", "auth/token/create", Some(&root), Some(&json!({"type": "batch", "policies": ["default"]})));
    let batch = client_token(&batch);
    let migrate = |from: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_jwtgate"))
            .args([
                "operator",
                "migrate",
                "-from",
                from,
                "-to",
                &format!("postgresql:{}", postgres.url),
                "-table",
                "moved",
            ])
            .output()
            .unwrap()
    };
    let sled_path = format!("sled:{}", data.display());
    let busy = migrate(&sled_path);
    assert!(!busy.status.success() && String::from_utf8_lossy(&busy.stderr).contains("in use by another process"));
    sled.stop();
    let moved = migrate(&sled_path);
    let said = String::from_utf8_lossy(&moved.stdout);
    assert!(moved.status.success(), "{said}{}", String::from_utf8_lossy(&moved.stderr));
    assert!(said.starts_with("Success! Migrated ") && said.contains("to postgresql table moved"), "{said}");
    assert!(!said.contains("postgresql://"), "the URL (and any password in it) is not repeated: {said}");
    let again = migrate(&sled_path);
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"), "a second migration is refused");

    let replica = start_with_env(
        &[],
        &[
            ("JWTGATE_STORAGE__POSTGRESQL__CONNECTION_URL", &postgres.url),
            ("JWTGATE_STORAGE__POSTGRESQL__TABLE", "moved"),
        ],
        &dir.path().join("postgres.log"),
    );
    assert_eq!(replica.call("GET", "sys/health", None, None).0, 200, "initialised");
    for token in [&root, &client, &batch] {
        assert_eq!(lookup_self(&replica, token), 200, "tokens stay hashed and valid");
    }
    assert_eq!(login(&replica, "my-role", &key).0, 200, "mounts, configs and roles moved too");
    assert_eq!(replica.call("PUT", "auth/token/revoke-self", Some(&client), None).0, 204);
}

#[test]
fn postgresql_stopped_and_restarted_under_load_loses_nothing_acknowledged() {
    let Some(postgres) = PgServer::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let settings = [("JWTGATE_STORAGE__POSTGRESQL__CONNECT_TIMEOUT", "2s")];
    let replicas: Vec<Arc<Running>> = replicas(&postgres, dir.path(), 2, &settings).into_iter().map(Arc::new).collect();
    let key = Arc::new(TestKey::rsa(2048));
    let root = init(&replicas[0]);
    configure(&replicas[0], &root, &key);
    std::thread::sleep(SECOND);
    // (token, revoked?) for every acknowledged login; a revocation answered 503 leaves its token in doubt.
    let (outcomes, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
    let slowest_refusal = Arc::new(Mutex::new(Duration::ZERO));
    let load: Vec<_> = (0..4)
        .map(|n| {
            let (replica, key, outcomes, stop, slowest) =
                (replicas[n % 2].clone(), key.clone(), outcomes.clone(), stop.clone(), slowest_refusal.clone());
            std::thread::spawn(move || {
                let (mut refused, mut i) = (0, 0);
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let begun = Instant::now();
                    let (status, answer) = login(&replica, "my-role", &key);
                    if status == 503 {
                        refused += 1;
                        let mut slowest = slowest.lock().unwrap();
                        *slowest = (*slowest).max(begun.elapsed());
                        continue;
                    }
                    assert_eq!(status, 200, "{answer}");
                    let token = client_token(&answer);
                    let revoke = i % 2 == 0;
                    let revoked = revoke && {
                        let status = replica.call("PUT", "auth/token/revoke-self", Some(&token), None).0;
                        assert!([204, 503].contains(&status), "revoke answered {status}");
                        if status == 503 {
                            continue;
                        }
                        true
                    };
                    outcomes.lock().unwrap().push((token, revoked));
                }
                refused
            })
        })
        .collect();
    std::thread::sleep(SECOND + SECOND / 2);
    postgres.stop_now();
    let before_outage = outcomes.lock().unwrap().len();
    std::thread::sleep(3 * SECOND);
    postgres.start_again();
    let restarted = Instant::now();
    assert!(within(15 * SECOND, || outcomes.lock().unwrap().len() > before_outage + 50), "logins resume");
    eprintln!("service resumed {:?} after the database came back", restarted.elapsed());
    stop.store(true, Ordering::SeqCst);
    let refused: usize = load.into_iter().map(|thread| thread.join().unwrap()).sum();
    assert!(refused > 0, "the outage was seen");
    let slowest = *slowest_refusal.lock().unwrap();
    assert!(slowest < 3 * SECOND, "a refusal is fast (connect timeout 2 s): {slowest:?}");
    let outcomes = outcomes.lock().unwrap().clone();
    for (token, revoked) in &outcomes {
        for replica in &replicas {
            let expected = if *revoked { 403 } else { 200 };
            assert_eq!(lookup_self(replica, token), expected, "revoked: {revoked}");
        }
    }
    eprintln!("{} logins acknowledged ({before_outage} before the outage), {refused} refused with 503, slowest refusal {slowest:?}", outcomes.len());
}

#[test]
fn a_replica_refuses_a_table_layout_newer_than_it_knows() {
    let Some(postgres) = PgServer::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    drop(replicas(&postgres, dir.path(), 1, &[]));
    let mut client = postgres::Client::connect(&postgres.url, postgres::NoTls).unwrap();
    client.execute("UPDATE jwtgate_kv_meta SET value = 2 WHERE name = 'schema'", &[]).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_jwtgate"))
        .args(["server", "--listen-address", "127.0.0.1:0"])
        .env("JWTGATE_STORAGE__POSTGRESQL__CONNECTION_URL", &postgres.url)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        said.contains(
            "postgresql table jwtgate_kv has schema version 2, but this jwtgate supports up to 1; upgrade jwtgate"
        ),
        "{said}"
    );
}

/// A database that hangs (every PostgreSQL process stopped with SIGSTOP: connections open, the
/// kernel acknowledging, nothing answering) is answered 503 within the connect timeout, never
/// with a hang, and service resumes when it wakes.
#[test]
fn a_hung_database_is_answered_503_within_the_connect_timeout() {
    let Some(postgres) = PgServer::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let settings = [("JWTGATE_STORAGE__POSTGRESQL__CONNECT_TIMEOUT", "2s")];
    let (replica, key) = one_replica_with_a_batch_role(&postgres, dir.path(), &settings);
    let kept = client_token(&login(&replica, "my-role", &key).1);
    assert_eq!(login(&replica, "batch", &key).0, 200);

    let frozen = postgres.freeze();
    for attempt in 0..3 {
        let begun = Instant::now();
        let (status, answer) = login(&replica, "my-role", &key);
        assert_eq!(status, 503, "attempt {attempt}: {answer}");
        assert!(begun.elapsed() < 3 * SECOND, "attempt {attempt} took {:?}", begun.elapsed());
        let begun = Instant::now();
        assert_eq!(lookup_self(&replica, &kept), 503);
        assert!(begun.elapsed() < 3 * SECOND, "a lookup took {:?}", begun.elapsed());
    }
    assert_eq!(login(&replica, "batch", &key).0, 200, "batch logins need no database");
    postgres.thaw(&frozen);
    assert!(within(15 * SECOND, || login(&replica, "my-role", &key).0 == 200), "service resumes");
    assert_eq!(lookup_self(&replica, &kept), 200);
}

/// The connection URL can carry the database password: it is never logged (at trace level),
/// nor repeated by a failing start.
#[test]
fn the_database_password_never_reaches_a_log_or_an_error() {
    let Some(postgres) = PgServer::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let with_password = postgres.url.replace("jwtgate@", "jwtgate:SECRETPASSWORD@");
    let replica = start_with_env(
        &[],
        &[("JWTGATE_STORAGE__POSTGRESQL__CONNECTION_URL", &with_password)],
        &dir.path().join("replica.log"),
    );
    let root = init(&replica);
    assert_eq!(lookup_self(&replica, &root), 200);
    let logs = replica.stop();
    assert!(!logs.contains("SECRETPASSWORD"), "{logs}");
    let unreachable = format!("postgresql://jwtgate:SECRETPASSWORD@127.0.0.1:{}/postgres", postgres.port + 1);
    let failed = std::process::Command::new(env!("CARGO_BIN_EXE_jwtgate"))
        .args(["server", "--listen-address", "127.0.0.1:0"])
        .env("JWTGATE_STORAGE__POSTGRESQL__CONNECTION_URL", &unreachable)
        .env("JWTGATE_LOG_LEVEL", "trace")
        .output()
        .unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&failed.stdout), String::from_utf8_lossy(&failed.stderr));
    assert!(!failed.status.success() && said.contains("storage unavailable"), "{said}");
    assert!(!said.contains("SECRETPASSWORD"), "{said}");
}
