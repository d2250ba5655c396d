//! `jwtgate-bench SERVER_BINARY [--quick] [--scenario NAME] [--out FILE]`: starts the jwtgate
//! server per scenario, drives logins with a fixed number of keep-alive HTTP/1.1 clients, and
//! reports logins/s, latency percentiles, server CPU per login against one raw signature verify
//! measured in the same run, RSS and errors. Run through `cargo xtask bench`.

use jwtgate_kube_sim::{Sim, SimConfig};
use jwtgate_verifier::testkit::{jwks, Reply, TestKey, TestServer};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROOT: &str = "bench-root";

/// One scenario: how the server is started and configured, and how hard it is driven.
struct Scenario {
    name: &'static str,
    clients: usize,
    durable: bool,
    batch: bool,
    /// Extra cluster keys chained beside the signing one.
    extra_keys: usize,
    jwks_url: bool,
    /// Live tokens created before the measurement.
    prefill: usize,
    /// vault-benchmark's `jwt_auth` shape: random mount, ES256, no `exp`/`iat`.
    vault_benchmark: bool,
    /// Logins that ask a (simulated) cluster through TokenReview.
    kubernetes: Kube,
    /// Tokens minted by kube-sim (the TokenReview scenarios and their baseline).
    sim_tokens: bool,
    /// A `file` audit device records every login (compared with `service-sled-64`).
    audit: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kube {
    No,
    /// A `kubernetes` mount: TokenReview only.
    Method,
    /// A JWT role with `token_review=true`: offline validation, then TokenReview.
    TokenReview,
}

const fn scenario(name: &'static str, clients: usize) -> Scenario {
    Scenario {
        name,
        clients,
        durable: false,
        batch: false,
        extra_keys: 0,
        jwks_url: false,
        prefill: 0,
        vault_benchmark: false,
        kubernetes: Kube::No,
        sim_tokens: false,
        audit: false,
    }
}

impl Scenario {
    /// Tokens from a simulated cluster; `Kube::No` is the offline baseline with the same tokens.
    fn with(self, kubernetes: Kube) -> Scenario {
        Scenario { kubernetes, sim_tokens: true, ..self }
    }
}

fn scenarios(quick: bool) -> Vec<Scenario> {
    vec![
        Scenario { durable: true, ..scenario("service-sled-64", 64) },
        Scenario { durable: true, audit: true, ..scenario("audit-file-64", 64) },
        Scenario { durable: true, ..scenario("service-sled-1", 1) },
        Scenario { batch: true, ..scenario("batch-64", 64) },
        scenario("static-1-key-64", 64),
        Scenario { extra_keys: 49, ..scenario("static-50-keys-64", 64) },
        Scenario { jwks_url: true, ..scenario("jwks-url-64", 64) },
        Scenario {
            durable: true,
            prefill: if quick { 100_000 } else { 1_000_000 },
            ..scenario("prefilled-sled-64", 64)
        },
        Scenario { vault_benchmark: true, ..scenario("vault-benchmark-jwt-64", 64) },
        // TokenReview against kube-sim, which runs inside this load generator on the same cores.
        scenario("jwt-sim-8", 8).with(Kube::No),
        scenario("kubernetes-method-8", 8).with(Kube::Method),
        scenario("jwt-token-review-8", 8).with(Kube::TokenReview),
    ]
}

struct Server {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
    started_in: Duration,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

fn start_server(binary: &str, durable: bool) -> Server {
    let dir = tempfile::tempdir().unwrap();
    // The server picks a free port and names it in its ready line.
    let any_port = "127.0.0.1:0";
    let mut command = Command::new(binary);
    command.arg("server").env("JWTGATE_LOG_LEVEL", "warn").stdout(Stdio::piped()).stderr(Stdio::null());
    if durable {
        command.args(["--data-dir", dir.path().join("data").to_str().unwrap(), "--listen-address", any_port]);
    } else {
        command.args(["--dev", "--dev-root-token-id", ROOT, "--dev-listen-address", any_port]);
    }
    let begun = Instant::now();
    let mut child = command.spawn().expect("start the jwtgate server");
    let (url, _) = jwtgate_testkit::wait_ready(&mut child, Duration::from_secs(60)).expect("the server did not start");
    let address = url.trim_start_matches("http://").to_owned();
    Server { child, address, _dir: dir, started_in: begun.elapsed() }
}

/// A keep-alive HTTP/1.1 connection.
struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    fn open(address: &str) -> Connection {
        let stream = TcpStream::connect(address).unwrap();
        stream.set_nodelay(true).unwrap();
        Connection { reader: BufReader::new(stream) }
    }

    fn call(&mut self, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
        let token = token.map(|t| format!("X-Vault-Token: {t}\r\n")).unwrap_or_default();
        let request = format!("{method} /v1/{path} HTTP/1.1\r\nHost: bench\r\n{token}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        self.reader.get_mut().write_all(request.as_bytes()).unwrap();
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line).unwrap();
        let status = status_line.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body).unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

fn now() -> i64 {
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Kubernetes-shaped tokens for several service accounts (vault-benchmark's shape on request).
fn mint(key: &TestKey, count: usize, vault_benchmark: bool) -> Vec<String> {
    let now = now();
    (0..count)
        .map(|i| {
            let claims = if vault_benchmark {
                json!({"aud": "vault", "nbf": now - 10, "iss": "vault-benchmark", "sub": format!("user-{i}")})
            } else {
                json!({"aud": ["vault"], "exp": now + 3600, "iat": now, "nbf": now, "iss": "https://kubernetes.default.svc.cluster.local",
                    "jti": format!("00000000-0000-4000-8000-{i:012}"),
                    "kubernetes.io": {"namespace": "default", "pod": {"name": format!("app-{i}"), "uid": format!("p-{i}")},
                                      "serviceaccount": {"name": format!("sa-{}", i % 8), "uid": format!("s-{}", i % 8)}},
                    "sub": format!("system:serviceaccount:default:sa-{}", i % 8)})
            };
            key.token(&claims)
        })
        .collect()
}

/// Configures the scenario's mount; returns the mount path and the tokens to log in with.
fn configure(
    server: &Server,
    scenario: &Scenario,
    keys: &(TestKey, TestKey),
    jwks_server: &Option<TestServer>,
    sim: Option<&Sim>,
) -> (String, Vec<String>) {
    let mut admin = Connection::open(&server.address);
    let root = if scenario.durable {
        let (_, init) = admin.call("PUT", "sys/init", None, "{}");
        serde_json::from_str::<Value>(&init).unwrap()["root_token"].as_str().unwrap().to_owned()
    } else {
        ROOT.to_owned()
    };
    if let Some(sim) = sim {
        return configure_kubernetes(&mut admin, &root, scenario.kubernetes, sim);
    }
    if scenario.audit {
        let file = server._dir.path().join("audit.log");
        let device = json!({"type": "file", "options": {"file_path": file}});
        let (status, text) = admin.call("PUT", "sys/audit/file", Some(&root), &device.to_string());
        assert_eq!(status, 204, "{text}");
    }
    let mount = if scenario.vault_benchmark { format!("bench-{:08x}", std::process::id()) } else { "jwt".to_owned() };
    let key = if scenario.vault_benchmark { &keys.1 } else { &keys.0 };
    let (status, _) =
        admin.call("POST", &format!("sys/auth/{mount}"), Some(&root), &json!({"type": "jwt"}).to_string());
    assert_eq!(status, 204);
    let config = match jwks_server {
        Some(jwks_server) => {
            json!({"jwks_url": format!("{}/jwks", jwks_server.base_url), "jwks_ca_pem": jwks_server.ca_pem})
        }
        None => {
            let mut pems: Vec<String> = (0..scenario.extra_keys).map(|_| TestKey::p256().public_pem()).collect();
            pems.push(key.public_pem());
            json!({"jwt_validation_pubkeys": pems})
        }
    };
    let (status, text) = admin.call("PUT", &format!("auth/{mount}/config"), Some(&root), &config.to_string());
    assert_eq!(status, 204, "{text}");
    let role = if scenario.vault_benchmark {
        json!({"role_type": "jwt", "bound_audiences": "vault", "user_claim": "sub", "token_policies": "default", "token_ttl": "1h"})
    } else {
        json!({"role_type": "jwt", "bound_audiences": "vault", "user_claim": "sub", "token_policies": "default", "token_ttl": "1h",
               "bound_claims": {"/kubernetes.io/namespace": "default"}, "token_type": if scenario.batch { "batch" } else { "default" }})
    };
    let (status, text) = admin.call("PUT", &format!("auth/{mount}/role/bench"), Some(&root), &role.to_string());
    assert_eq!(status, 204, "{text}");
    (mount, mint(key, 256, scenario.vault_benchmark))
}

/// A reviewer bound to system:auth-delegator, the mount for `kind`, and 256 tokens of
/// `default/default` for audience `vault`.
fn configure_kubernetes(admin: &mut Connection, root: &str, kind: Kube, sim: &Sim) -> (String, Vec<String>) {
    let now = now();
    let (reviewer, jwks, tokens) = {
        let mut cluster = sim.cluster();
        cluster.create_service_account("default", &json!({"metadata": {"name": "reviewer"}}), now).unwrap();
        let binding = json!({"metadata": {"name": "reviewer"}, "roleRef": {"kind": "ClusterRole", "name": "system:auth-delegator"},
            "subjects": [{"kind": "ServiceAccount", "name": "reviewer", "namespace": "default"}]});
        cluster.create_cluster_role_binding(&binding, now).unwrap();
        let mut token = |name: &str, audiences: Value| {
            let body = json!({"spec": {"audiences": audiences, "expirationSeconds": 7200}});
            let (response, _) = cluster.token_request("default", name, &body, now).unwrap();
            response["status"]["token"].as_str().unwrap().to_owned()
        };
        let reviewer = token("reviewer", json!([]));
        let tokens: Vec<String> = (0..256).map(|_| token("default", json!(["vault"]))).collect();
        (reviewer, cluster.jwks(), tokens)
    };
    let review =
        json!({"kubernetes_host": sim.url, "kubernetes_ca_cert": sim.ca.cert_pem(), "token_reviewer_jwt": reviewer});
    let (mount_type, mut config, role) = match kind {
        Kube::Method => (
            "kubernetes",
            review,
            json!({"bound_service_account_names": "default", "bound_service_account_namespaces": "default",
                   "audience": "vault", "token_policies": "default", "token_ttl": "1h"}),
        ),
        reviewed => (
            "jwt",
            review,
            json!({"role_type": "jwt", "bound_audiences": "vault", "user_claim": "sub", "token_policies": "default",
                   "token_ttl": "1h", "token_review": reviewed == Kube::TokenReview}),
        ),
    };
    if mount_type == "jwt" {
        config["jwt_validation_jwks"] = json!(jwks);
    }
    let (status, text) = admin.call("POST", "sys/auth/kube", Some(root), &json!({"type": mount_type}).to_string());
    assert_eq!(status, 204, "{text}");
    let (status, text) = admin.call("PUT", "auth/kube/config", Some(root), &config.to_string());
    assert_eq!(status, 204, "{text}");
    let (status, text) = admin.call("PUT", "auth/kube/role/bench", Some(root), &role.to_string());
    assert_eq!(status, 204, "{text}");
    ("kube".into(), tokens)
}

/// `utime + stime` of a process, in microseconds.
fn cpu_micros(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    // The kernel's USER_HZ is 100 on Linux.
    ticks * 10_000
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

struct Figures {
    logins_per_sec: f64,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    cpu_per_login_us: f64,
    idle_rss_mb: f64,
    load_rss_mb: f64,
    errors: usize,
    started_in: Duration,
}

fn drive(
    server: &Server,
    mount: &str,
    tokens: Vec<String>,
    clients: usize,
    warmup: Duration,
    measure: Duration,
) -> Figures {
    let idle_rss_mb = rss_mb(server.child.id());
    let tokens = Arc::new(tokens);
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let path = format!("auth/{mount}/login");
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let (tokens, stop, measuring, address, path) =
                (tokens.clone(), stop.clone(), measuring.clone(), server.address.clone(), path.clone());
            std::thread::spawn(move || {
                let mut connection = Connection::open(&address);
                let (mut latencies, mut errors, mut i) = (Vec::new(), 0usize, client);
                while !stop.load(Ordering::Relaxed) {
                    let body = json!({"role": "bench", "jwt": tokens[i % tokens.len()]}).to_string();
                    let begun = Instant::now();
                    let (status, _) = connection.call("PUT", &path, None, &body);
                    if measuring.load(Ordering::Relaxed) {
                        latencies.push(begun.elapsed());
                        errors += usize::from(status != 200);
                    }
                    i += clients;
                }
                (latencies, errors)
            })
        })
        .collect();
    std::thread::sleep(warmup);
    let pid = server.child.id();
    let cpu_before = cpu_micros(pid);
    measuring.store(true, Ordering::Relaxed);
    let begun = Instant::now();
    std::thread::sleep(measure);
    measuring.store(false, Ordering::Relaxed);
    let elapsed = begun.elapsed();
    let cpu = cpu_micros(pid) - cpu_before;
    let load_rss_mb = rss_mb(pid);
    stop.store(true, Ordering::Relaxed);
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for thread in threads {
        let (l, e) = thread.join().unwrap();
        latencies.extend(l);
        errors += e;
    }
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let count = latencies.len().max(1) as f64;
    Figures {
        logins_per_sec: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
        max: latencies.last().copied().unwrap_or_default(),
        cpu_per_login_us: cpu as f64 / count,
        idle_rss_mb,
        load_rss_mb,
        errors,
        started_in: server.started_in,
    }
}

/// Microseconds of one raw signature verify (pre-parsed aws-lc key, one core): the physical limit.
fn raw_verify_us(key: &TestKey) -> f64 {
    let token = mint(key, 1, false).remove(0);
    let (input, signature) = token.rsplit_once('.').unwrap();
    let signature = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature).unwrap()
    };
    let parsed = key.parsed_public_key();
    let mut best = f64::MAX;
    for _ in 0..10 {
        let begun = Instant::now();
        let mut calls = 0u32;
        while begun.elapsed() < Duration::from_millis(50) {
            assert!(parsed.verify_sig(input.as_bytes(), &signature).is_ok());
            calls += 1;
        }
        best = best.min(begun.elapsed().as_secs_f64() * 1e6 / f64::from(calls));
    }
    best
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let binary =
        args.first().cloned().expect("usage: jwtgate-bench SERVER_BINARY [--quick] [--scenario NAME] [--out FILE]");
    let quick = args.iter().any(|a| a == "--quick");
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let only = value("--scenario");
    let out = value("--out").unwrap_or_else(|| "target/bench/results.json".into());
    let (warmup, measure) = if quick {
        (Duration::from_millis(500), Duration::from_secs(3))
    } else {
        (Duration::from_secs(2), Duration::from_secs(10))
    };
    let keys = (TestKey::rsa(2048), TestKey::p256());
    let rs256 = raw_verify_us(&keys.0);
    let es256 = raw_verify_us(&keys.1);
    println!("raw verify on one core, this run: RS256 {rs256:.1} µs, ES256 {es256:.1} µs\n");
    println!("| scenario | clients | logins/s | p50 | p90 | p99 | max | server CPU/login | ÷ raw verify | idle RSS | load RSS | start | errors |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut results = Vec::new();
    for scenario in scenarios(quick).into_iter().filter(|s| only.as_deref().is_none_or(|o| o == s.name)) {
        let jwks_server = scenario.jwks_url.then(|| {
            let document = jwks(&[&keys.0]);
            TestServer::start(move |_| Reply::json(document.clone()))
        });
        let sim = scenario.sim_tokens.then(|| Sim::start(SimConfig::default()).expect("kube-sim"));
        let mut server = start_server(&binary, scenario.durable);
        let (mount, tokens) = configure(&server, &scenario, &keys, &jwks_server, sim.as_ref());
        if scenario.prefill > 0 {
            // Fill with real logins, then restart so the start time covers a full store.
            let filled = prefill(&server, &mount, &tokens, scenario.prefill);
            eprintln!("{}: prefilled {filled} live tokens", scenario.name);
            let data = server._dir.path().to_owned();
            let _ = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status();
            let _ = server.child.wait();
            let restarted = restart(&binary, &data, &server.address);
            server.child = restarted.0;
            server.started_in = restarted.1;
        }
        let figures = drive(&server, &mount, tokens, scenario.clients, warmup, measure);
        let raw = if scenario.vault_benchmark { es256 } else { rs256 };
        let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
        println!(
            "| {} | {} | {:.0} | {} | {} | {} | {} | {:.1} µs | {:.2} | {:.1} MB | {:.1} MB | {:.2} s | {} |",
            scenario.name,
            scenario.clients,
            figures.logins_per_sec,
            ms(figures.p50),
            ms(figures.p90),
            ms(figures.p99),
            ms(figures.max),
            figures.cpu_per_login_us,
            figures.cpu_per_login_us / raw,
            figures.idle_rss_mb,
            figures.load_rss_mb,
            figures.started_in.as_secs_f64(),
            figures.errors
        );
        results.push(json!({
            "scenario": scenario.name, "clients": scenario.clients, "logins_per_sec": figures.logins_per_sec,
            "p50_ms": figures.p50.as_secs_f64() * 1e3, "p90_ms": figures.p90.as_secs_f64() * 1e3, "p99_ms": figures.p99.as_secs_f64() * 1e3,
            "max_ms": figures.max.as_secs_f64() * 1e3, "server_cpu_us_per_login": figures.cpu_per_login_us,
            "cpu_per_login_over_raw_verify": figures.cpu_per_login_us / raw, "idle_rss_mb": figures.idle_rss_mb,
            "load_rss_mb": figures.load_rss_mb, "start_seconds": figures.started_in.as_secs_f64(), "errors": figures.errors,
        }));
    }
    let rate = |name: &str| results.iter().find(|r| r["scenario"] == name).and_then(|r| r["logins_per_sec"].as_f64());
    if let (Some(audited), Some(plain)) = (rate("audit-file-64"), rate("service-sled-64")) {
        println!("\nlogins/s with a file audit device: {:.0}% of without (target ≥ 85%)", 100.0 * audited / plain);
    }
    let report = json!({"quick": quick, "raw_verify_us": {"RS256": rs256, "ES256": es256}, "scenarios": results});
    if let Some(parent) = std::path::Path::new(&out).parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(&out, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("\nresults written to {out}");
}

/// Creates `count` live tokens through real logins (64 clients).
fn prefill(server: &Server, mount: &str, tokens: &[String], count: usize) -> usize {
    let per_client = count.div_ceil(64);
    let threads: Vec<_> = (0..64)
        .map(|client| {
            let (address, path, tokens) = (server.address.clone(), format!("auth/{mount}/login"), tokens.to_vec());
            std::thread::spawn(move || {
                let mut connection = Connection::open(&address);
                let mut ok = 0;
                for i in 0..per_client {
                    let body = json!({"role": "bench", "jwt": tokens[(client + i) % tokens.len()]}).to_string();
                    ok += usize::from(connection.call("PUT", &path, None, &body).0 == 200);
                }
                ok
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).sum()
}

/// Starts the server again on the same data directory and address; returns it and its start time.
fn restart(binary: &str, dir: &std::path::Path, address: &str) -> (Child, Duration) {
    let begun = Instant::now();
    let child = Command::new(binary)
        .args(["server", "--data-dir", dir.join("data").to_str().unwrap(), "--listen-address", address])
        .env("JWTGATE_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while TcpStream::connect(address).is_err() {
        std::thread::sleep(Duration::from_millis(10));
    }
    (child, begun.elapsed())
}
