//! The `jwtgate` binary: `jwtgate server [--dev]`. Reads the command line, the clock and the
//! environment, installs logging, and wires the store, the verifier's fetcher and the API.

mod cli;
mod clock;
mod settings;

use actix_web::{web, App, HttpServer};
use jwtgate_store::{Options, Store};
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Printed on stdout, followed by the URL, once the listener is bound.
const READY_LINE: &str = "jwtgate listening on ";

const USAGE: &str = "\
usage: jwtgate <command> [options] [args]

Server:
  server [--config FILE] [--dev] [--dev-root-token-id ID] [--dev-listen-address ADDR]
         [--listen-address ADDR] [--data-dir DIR]
      --config FILE   TOML, JSON or YAML in Vault's layout (listener.tcp, storage.sled or
                      storage.postgresql (docs/ha.md), default_lease_ttl, max_lease_ttl,
                      log_level, log_format); JWTGATE_*
                      variables override it (JWTGATE_LISTENER__TCP__ADDRESS=...)
      --dev           a temporary store, already initialised, plain HTTP; prints the root token
      no flags        127.0.0.1:8200 over plain HTTP, state in ./jwtgate-data, waits for init

Client (the vault CLI's syntax; VAULT_ADDR/VAULT_TOKEN/VAULT_CACERT, JWTGATE_* first):
  auth enable|disable|list|tune   write  read  list  delete  login -method=jwt|kubernetes
  token lookup|renew|revoke       policy write|read|list|delete
  operator init                   status
  operator migrate -from sled:PATH -to postgresql:URL [-table NAME] [-tls-ca-file FILE]
                                  copy a stopped server's sled database into PostgreSQL
  operator export -from sled:PATH > FILE / operator import -to sled:PATH < FILE
                                  a stopped server's sled database as JSON lines, and back
  audit enable|list|disable       audit devices (file, socket)
  jwks to-pem [FILE|-]            a cluster's JWKS as PEM public keys, with their kids
  completion bash|zsh|fish
  Options before the path: -format=json, -field=NAME, -address=URL, -ca-cert=FILE, -path=P

The seed's procedure, with `vault` replaced by `jwtgate`:
  jwtgate server --dev --dev-root-token-id root &
  export VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=root
  jwtgate auth enable jwt
  jwtgate write auth/jwt/config oidc_discovery_url=https://kubernetes.default.svc.cluster.local \\
      oidc_discovery_ca_pem=@ca.crt
  jwtgate write auth/jwt/role/my-role role_type=jwt \\
      bound_audiences=https://kubernetes.default.svc.cluster.local user_claim=sub \\
      bound_subject=system:serviceaccount:default:default policies=default ttl=1h
  jwtgate write auth/jwt/login role=my-role jwt=@/var/run/secrets/kubernetes.io/serviceaccount/token

Chaining a cluster's keys without converting anything by hand:
  kubectl get --raw /openid/v1/jwks > jwks.json
  jwtgate write auth/jwt/config jwt_validation_jwks=@jwks.json
  # or, as PEM blocks: jwtgate jwks to-pem jwks.json > keys.pem
  #                    jwtgate write auth/jwt/config jwt_validation_pubkeys=@keys.pem
";

struct ServerArgs {
    dev: bool,
    root_token: Option<String>,
    listen: Option<String>,
    data_dir: Option<String>,
    config: Option<String>,
}

/// `server` flags as Vault's (Go's `flag` package): one dash or two, `--flag value` or
/// `--flag=value`, and a boolean flag takes `=false` (Go's `ParseBool`).
fn parse_server_args(args: &[String]) -> Result<ServerArgs, String> {
    use lexopt::prelude::*;
    let mut parsed = ServerArgs { dev: false, root_token: None, listen: None, data_dir: None, config: None };
    // lexopt reads `-dev` as three short flags; Go reads it as `--dev`.
    let normalised = args.iter().map(|a| {
        if a.len() > 2 && a.starts_with('-') && !a.starts_with("--") {
            format!("-{a}")
        } else {
            a.clone()
        }
    });
    let mut parser = lexopt::Parser::from_args(normalised);
    let text = |value: std::ffi::OsString| value.into_string().map_err(|_| "flag values must be UTF-8".to_owned());
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("dev") => {
                parsed.dev = match parser.optional_value() {
                    None => true,
                    Some(value) => {
                        let value = text(value)?;
                        jwtgate_core::request::parse_bool(&value)
                            .ok_or_else(|| format!("invalid boolean value {value:?} for --dev"))?
                    }
                }
            }
            Long(name @ ("dev-root-token-id" | "dev-listen-address" | "listen-address" | "data-dir" | "config")) => {
                let name = name.to_owned();
                let value = text(parser.value().map_err(|e| e.to_string())?)?;
                match name.as_str() {
                    "dev-root-token-id" => parsed.root_token = Some(value),
                    "data-dir" => parsed.data_dir = Some(value),
                    "config" => parsed.config = Some(value),
                    _ => parsed.listen = Some(value),
                }
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    Ok(parsed)
}

const OPERATOR_USAGE: &str =
    "usage: jwtgate operator migrate -from sled:PATH -to postgresql:URL [-table NAME] [-tls-ca-file FILE]
       jwtgate operator export -from sled:PATH > backup.jsonl
       jwtgate operator import -to sled:PATH < backup.jsonl";

/// `operator` flags, one dash or two, `-flag value` or `-flag=value`.
fn parse_operator_args(args: &[String]) -> Result<HashMap<String, String>, String> {
    let mut flags = HashMap::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let flag =
            arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')).ok_or_else(|| format!("unexpected {arg:?}"))?;
        let (name, value) = match flag.split_once('=') {
            Some((name, value)) => (name, value.to_owned()),
            None => (flag, args.next().ok_or_else(|| format!("-{flag} needs a value"))?.clone()),
        };
        if !["from", "to", "table", "tls-ca-file"].contains(&name) {
            return Err(format!("unknown flag -{name}"));
        }
        flags.insert(name.to_owned(), value);
    }
    Ok(flags)
}

/// The commands that open a store beside a stopped server: `migrate` (Vault's `vault operator
/// migrate`) copies a sled database into an empty PostgreSQL table; `export` and `import` write
/// and restore a sled database as JSON lines (PostgreSQL has its own tools: pg_dump).
fn operator(command: &str, args: &[String]) -> Result<String, String> {
    let flags = parse_operator_args(args).map_err(|e| format!("{e}\n{OPERATOR_USAGE}"))?;
    let flag = |name: &str| flags.get(name).cloned().ok_or_else(|| format!("-{name} is required\n{OPERATOR_USAGE}"));
    let sled_path = |name: &str| {
        let spec = flag(name)?;
        spec.strip_prefix("sled:").map(str::to_owned).ok_or_else(|| format!("-{name} must be sled:PATH, not {spec:?}"))
    };
    let existing = |path: &str| match std::path::Path::new(path).join("db").exists() {
        true => Store::open(&Options::new(path)).map_err(|e| e.to_string()),
        false => Err(format!("no jwtgate database at {path}")),
    };
    match command {
        "export" => {
            let path = sled_path("from")?;
            let exported = existing(&path)?.export(&mut std::io::stdout().lock()).map_err(|e| e.to_string())?;
            eprintln!("Success! Exported {exported} entries from sled:{path}.");
            Ok(String::new())
        }
        "import" => {
            let path = sled_path("to")?;
            let (_, imported) =
                Store::import(&Options::new(&path), std::io::stdin().lock()).map_err(|e| e.to_string())?;
            Ok(format!("Success! Imported {imported} entries into sled:{path}."))
        }
        _ => {
            let path = sled_path("from")?;
            let to = flag("to")?;
            // `postgresql:URL`, where the URL may be libpq's key=value form or itself postgresql://...
            let url = match to.starts_with("postgresql://") || to.starts_with("postgres://") {
                true => to.as_str(),
                false => to.strip_prefix("postgresql:").ok_or("-to must be postgresql:URL")?,
            };
            let source = existing(&path)?;
            let mut target = jwtgate_store::PostgresOptions::new(url);
            if let Some(table) = flags.get("table") {
                target.table = table.clone();
            }
            target.tls_ca_file = flags.get("tls-ca-file").map(Into::into);
            let copied = source.migrate_to(&target).map_err(|e| e.to_string())?;
            Ok(format!("Success! Migrated {copied} entries from sled:{path} to postgresql table {}.", target.table))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_server_args;

    /// Arguments, and `--dev`, the root token id and the listen address they give (or the error).
    type Case = (&'static [&'static str], Result<(bool, Option<&'static str>, Option<&'static str>), &'static str>);

    #[test]
    fn server_flags_read_as_go_reads_them() {
        let cases: &[Case] = &[
            (&[], Ok((false, None, None))),
            (&["--dev"], Ok((true, None, None))),
            (&["-dev"], Ok((true, None, None))),
            (&["--dev=false"], Ok((false, None, None))),
            (&["-dev=0"], Ok((false, None, None))),
            (&["--dev=true", "-dev-root-token-id", "root"], Ok((true, Some("root"), None))),
            (
                &["--dev-root-token-id=root", "--listen-address", "127.0.0.1:1"],
                Ok((false, Some("root"), Some("127.0.0.1:1"))),
            ),
            (&["--dev=maybe"], Err("invalid boolean value \"maybe\" for --dev")),
            (&["--config"], Err("missing argument for option '--config'")),
            (&["--nope"], Err("invalid option '--nope'")),
        ];
        for (args, expected) in cases {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let got = parse_server_args(&args).map(|p| (p.dev, p.root_token, p.listen));
            let expected = expected
                .map(|(dev, root, listen)| (dev, root.map(str::to_owned), listen.map(str::to_owned)))
                .map_err(str::to_owned);
            assert_eq!(got, expected, "{args:?}");
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("server") => match parse_server_args(&args[1..]) {
            Ok(server_args) => match run_server(server_args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("jwtgate: {error}");
                    ExitCode::FAILURE
                }
            },
            Err(error) => {
                eprintln!("jwtgate: {error}\n\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("operator") if args.get(1).is_some_and(|sub| ["migrate", "export", "import"].contains(&sub.as_str())) => {
            match operator(&args[1], &args[2..]) {
                Ok(done) => {
                    println!("{done}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("jwtgate operator {}: {error}", args[1]);
                    ExitCode::from(2)
                }
            }
        }
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some("completion") => match args.get(1).and_then(|shell| cli::completion(shell)) {
            Some(script) => {
                print!("{script}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("usage: jwtgate completion bash|zsh|fish");
                ExitCode::from(2)
            }
        },
        Some(command) => match cli::run(command, &args[1..]) {
            Some(Ok(text)) => {
                if !text.is_empty() {
                    println!("{text}");
                }
                ExitCode::SUCCESS
            }
            // Vault's exit codes: 1 for usage, 2 for API errors and "no value found".
            Some(Err(cli::Failure::Usage(message))) => {
                eprintln!("{message}");
                ExitCode::from(1)
            }
            Some(Err(cli::Failure::Error(message) | cli::Failure::NotFound(message))) => {
                eprintln!("{message}");
                ExitCode::from(2)
            }
            None => {
                eprintln!("jwtgate: unknown command {command:?}\n\n{USAGE}");
                ExitCode::from(1)
            }
        },
        None => {
            eprint!("{USAGE}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(settings: &settings::Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log_level).unwrap_or_else(|_| "info".into());
    // Colour codes only on a terminal: a log file or a pipe gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if settings.json_logs {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> Result<openssl::ssl::SslAcceptorBuilder, String> {
    use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod};
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).map_err(|e| e.to_string())?;
    builder
        .set_private_key_file(key, SslFiletype::PEM)
        .map_err(|e| format!("read tls_key_file {}: {e}", key.display()))?;
    builder.set_certificate_chain_file(cert).map_err(|e| format!("read tls_cert_file {}: {e}", cert.display()))?;
    builder.check_private_key().map_err(|e| format!("tls_key_file does not match tls_cert_file: {e}"))?;
    Ok(builder)
}

#[actix_web::main]
async fn run_server(args: ServerArgs) -> Result<(), String> {
    let mut settings = settings::Settings::load(args.config.as_deref(), std::env::vars().collect())?;
    if let Some(listen) = &args.listen {
        settings.address = listen.clone();
    }
    if let Some(dir) = &args.data_dir {
        settings.data_dir = dir.into();
    }
    if args.dev {
        settings.tls = None;
    }
    init_logging(&settings);
    // In dev mode the store lives in a temporary directory removed at exit.
    let temporary =
        if args.dev { Some(tempfile::tempdir().map_err(|e| format!("create a temporary store: {e}"))?) } else { None };
    let data_dir = temporary.as_ref().map_or_else(|| settings.data_dir.clone(), |dir| dir.path().join("data"));
    let store = match (&settings.postgresql, &temporary) {
        (Some(postgres), None) => Store::open_postgres(&jwtgate_store::PostgresOptions {
            connection_url: postgres.connection_url.clone(),
            table: postgres.table.clone(),
            max_connections: postgres.max_connections,
            connect_timeout: std::time::Duration::from_secs(postgres.connect_timeout),
            staleness: std::time::Duration::from_secs(postgres.staleness),
            tls_ca_file: postgres.tls_ca_file.clone(),
        }),
        _ => Store::open(&Options { fsync: settings.fsync, ..Options::new(&data_dir) }),
    };
    let store = Arc::new(store.map_err(|e| e.to_string())?);
    let clock: jwtgate_core::Clock = Arc::new(clock::now);
    let mut dev_root = None;
    if args.dev {
        let now = clock::unix_now();
        let root = jwtgate_core::initialize(&store, now, args.root_token.clone()).map_err(|e| e.to_string())?;
        dev_root = Some(root.or(args.root_token).unwrap_or_default());
        tracing::warn!("dev mode: plain HTTP and a temporary store");
    }
    let fetcher: Arc<dyn jwtgate_verifier::Fetch> = Arc::new(jwtgate_verifier::HttpsFetcher::default());
    let core_options = jwtgate_core::Options {
        system: jwtgate_core::SystemTtl {
            default_lease_ttl: settings.default_lease_ttl,
            max_lease_ttl: settings.max_lease_ttl,
        },
        unauthenticated_metrics: settings.unauthenticated_metrics,
        ..jwtgate_core::Options::default()
    };
    let core = jwtgate_core::Core::new(store.clone(), fetcher, clock, core_options).map_err(|e| e.to_string())?;
    let state = web::Data::new(core);
    spawn_sweeper(store.clone());
    spawn_audit_reopener(state.clone().into_inner())?;
    let server = HttpServer::new(move || App::new().app_data(state.clone()).configure(jwtgate_api::configure))
        .shutdown_timeout(10);
    let server = match &settings.tls {
        Some((cert, key)) => server.bind_openssl(&settings.address, tls_acceptor(cert, key)?),
        None => {
            if !args.dev {
                tracing::warn!("TLS is disabled: clients send tokens over plain HTTP");
            }
            server.bind(&settings.address)
        }
    };
    let server = server.map_err(|e| format!("listen on {}: {e}", settings.address))?;
    // The bound address, not the configured one: `:0` picks a free port.
    let address = server.addrs().first().map_or_else(|| settings.address.clone(), ToString::to_string);
    let server = server.run();
    let scheme = if settings.tls.is_some() { "https" } else { "http" };
    if let Some(root) = dev_root {
        println!("WARNING! dev mode is enabled! In this mode, jwtgate keeps its state in a temporary");
        println!("directory, listens on plain HTTP, and starts initialised with a root token.\n");
        println!("You may need to set the following environment variables:\n");
        println!("    $ export VAULT_ADDR='http://{address}'\n");
        println!("Root Token: {root}\n");
        println!("Development mode should NOT be used in production installations!");
    }
    // The ready line tests and scripts wait for: the server accepts connections from now on.
    println!("{READY_LINE}{scheme}://{address}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    tracing::info!(address = %format!("{scheme}://{address}"), storage = %store.path().display(), "jwtgate listening");
    server.await.map_err(|e| format!("server failed: {e}"))?;
    // In-flight requests have finished; every acknowledged write was flushed before its answer.
    tracing::info!("jwtgate stopped");
    drop(temporary);
    Ok(())
}

/// SIGHUP reopens the audit files, after log rotation renamed them.
fn spawn_audit_reopener(core: Arc<jwtgate_core::Core>) -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = signal(SignalKind::hangup()).map_err(|e| format!("listen for SIGHUP: {e}"))?;
    actix_web::rt::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reopening the audit devices");
            core.audit.reopen();
        }
    });
    Ok(())
}

/// Removes expired tokens in the background; lookups refuse them regardless. Replicas on one
/// database take turns: only the holder of the `sweep` lease sweeps, and a replica that dies
/// gives it up with its connection, so another takes it at its next tick.
fn spawn_sweeper(store: Arc<Store>) {
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(Duration::from_secs(10));
        let mut leading = false;
        loop {
            interval.tick().await;
            let store = store.clone();
            let swept = web::block(move || match store.lead("sweep")? {
                true => store.sweep_expired(clock::unix_now(), 10_000).map(Some),
                false => Ok(None),
            })
            .await;
            let now_leading = match swept {
                Ok(Ok(Some(_))) => true,
                Ok(Ok(None)) => false,
                _ => leading,
            };
            if now_leading != std::mem::replace(&mut leading, now_leading) {
                tracing::info!(
                    leading,
                    "this replica {} the expiry sweep",
                    if leading { "runs" } else { "no longer runs" }
                );
            }
            match swept {
                Ok(Ok(None | Some(0))) => {}
                Ok(Ok(Some(count))) => tracing::debug!(count, "swept expired tokens"),
                Ok(Err(error)) => tracing::warn!(%error, "failed to sweep expired tokens"),
                Err(error) => tracing::warn!(%error, "sweeper task failed"),
            }
        }
    });
}
