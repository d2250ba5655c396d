//! Server configuration: `--config FILE` (TOML, JSON or YAML, chosen by extension) in Vault's
//! layout, then `JWTGATE_*` environment overrides (`JWTGATE_LISTENER__TCP__ADDRESS`,
//! `JWTGATE_STORAGE__SLED__PATH`, `JWTGATE_STORAGE__POSTGRESQL__CONNECTION_URL`,
//! `JWTGATE_LOG_LEVEL`, ...). Unknown keys are errors naming the key.

use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    listener: Option<RawListener>,
    storage: Option<RawStorage>,
    default_lease_ttl: Option<String>,
    max_lease_ttl: Option<String>,
    log_level: Option<String>,
    log_format: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListener {
    tcp: Option<RawTcp>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTcp {
    address: Option<String>,
    tls_cert_file: Option<PathBuf>,
    tls_key_file: Option<PathBuf>,
    tls_disable: Option<bool>,
    telemetry: Option<RawTelemetry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTelemetry {
    unauthenticated_metrics_access: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    sled: Option<RawSled>,
    postgresql: Option<RawPostgres>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPostgres {
    connection_url: Option<String>,
    max_connections: Option<usize>,
    table: Option<String>,
    connect_timeout: Option<String>,
    staleness: Option<String>,
    tls_ca_file: Option<PathBuf>,
}

/// `[storage.postgresql]`: the store on PostgreSQL instead of sled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Postgres {
    pub connection_url: String,
    pub max_connections: usize,
    pub table: String,
    /// Seconds.
    pub connect_timeout: u64,
    /// Seconds a replica that cannot reach the database serves from its caches.
    pub staleness: u64,
    pub tls_ca_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSled {
    path: Option<PathBuf>,
    fsync: Option<bool>,
}

/// Validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub address: String,
    /// `None` means plain HTTP (`tls_disable = true`, or dev mode).
    pub tls: Option<(PathBuf, PathBuf)>,
    pub data_dir: PathBuf,
    pub fsync: bool,
    /// Set: the store is on PostgreSQL and `data_dir` is not used.
    pub postgresql: Option<Postgres>,
    pub default_lease_ttl: i64,
    pub max_lease_ttl: i64,
    pub log_level: String,
    pub json_logs: bool,
    /// `listener.tcp.telemetry.unauthenticated_metrics_access`: serve `sys/metrics` without a token.
    pub unauthenticated_metrics: bool,
}

/// The CLI's own variables share the `JWTGATE_` prefix; a shell set up for the client must still
/// start the server, so these are not server settings (any other unknown `JWTGATE_*` is an error).
pub const CLIENT_VARIABLES: &[&str] = &[
    "JWTGATE_ADDR",
    "JWTGATE_TOKEN",
    "JWTGATE_CACERT",
    "JWTGATE_CAPATH",
    "JWTGATE_CLIENT_CERT",
    "JWTGATE_CLIENT_KEY",
    "JWTGATE_SKIP_VERIFY",
    "JWTGATE_FORMAT",
    "JWTGATE_NAMESPACE",
];

impl Settings {
    /// Defaults of `jwtgate server` without a config file: TLS off is not a default, so a plain
    /// listener is only used when the command line asked for it.
    pub fn defaults() -> Settings {
        Settings {
            address: "127.0.0.1:8200".into(),
            tls: None,
            data_dir: "./jwtgate-data".into(),
            fsync: false,
            postgresql: None,
            default_lease_ttl: jwtgate_core::SYSTEM_TTL,
            max_lease_ttl: jwtgate_core::SYSTEM_TTL,
            log_level: "info".into(),
            json_logs: false,
            unauthenticated_metrics: false,
        }
    }

    /// Reads `file` (if any) and the `JWTGATE_*` environment.
    pub fn load(file: Option<&str>, environment: Vec<(String, String)>) -> Result<Settings, String> {
        let mut builder = config::Config::builder();
        if let Some(file) = file {
            builder = builder.add_source(config::File::with_name(file).required(true));
        }
        let environment: config::Map<String, String> = environment
            .into_iter()
            .filter(|(k, _)| k.starts_with("JWTGATE_") && !CLIENT_VARIABLES.contains(&k.as_str()))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("JWTGATE").prefix_separator("_").separator("__").source(Some(environment)),
        );
        let raw: Raw = builder.build().and_then(|c| c.try_deserialize()).map_err(|e| {
            format!("invalid configuration{}: {e}", file.map(|f| format!(" in {f}")).unwrap_or_default())
        })?;
        Settings::from_raw(raw, file.is_some())
    }

    fn from_raw(raw: Raw, from_file: bool) -> Result<Settings, String> {
        let mut settings = Settings::defaults();
        let duration = |field: &str, value: Option<String>, default: i64| -> Result<i64, String> {
            match value {
                None => Ok(default),
                Some(text) => jwtgate_core::parse_duration(&text)
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("invalid configuration: {field} = {text:?} is not a positive duration")),
            }
        };
        settings.max_lease_ttl = duration("max_lease_ttl", raw.max_lease_ttl, settings.max_lease_ttl)?;
        // An unset default follows a lowered maximum.
        let default = settings.default_lease_ttl.min(settings.max_lease_ttl);
        settings.default_lease_ttl = duration("default_lease_ttl", raw.default_lease_ttl, default)?;
        if settings.default_lease_ttl > settings.max_lease_ttl {
            return Err("invalid configuration: default_lease_ttl is greater than max_lease_ttl".into());
        }
        if let Some(level) = raw.log_level {
            settings.log_level = level;
        }
        settings.json_logs = match raw.log_format.as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                return Err(format!("invalid configuration: log_format = {other:?} (expected \"text\" or \"json\")"))
            }
        };
        let storage = raw.storage.unwrap_or_default();
        if storage.sled.is_some() && storage.postgresql.is_some() {
            return Err("invalid configuration: storage.sled and storage.postgresql are both set; choose one".into());
        }
        if let Some(sled) = storage.sled {
            if let Some(path) = sled.path {
                settings.data_dir = path;
            }
            settings.fsync = sled.fsync.unwrap_or(false);
        }
        if let Some(postgres) = storage.postgresql {
            let connection_url = postgres
                .connection_url
                .filter(|url| !url.is_empty())
                .ok_or("invalid configuration: storage.postgresql.connection_url is required")?;
            let connect_timeout = duration("storage.postgresql.connect_timeout", postgres.connect_timeout, 5)?;
            let staleness = duration("storage.postgresql.staleness", postgres.staleness, 60)?;
            settings.postgresql = Some(Postgres {
                connection_url,
                max_connections: postgres.max_connections.filter(|n| *n > 0).unwrap_or(16),
                table: postgres.table.unwrap_or_else(|| "jwtgate_kv".into()),
                connect_timeout: u64::try_from(connect_timeout).unwrap_or(5),
                staleness: u64::try_from(staleness).unwrap_or(60),
                tls_ca_file: postgres.tls_ca_file,
            });
        }
        let tcp = raw.listener.and_then(|l| l.tcp).unwrap_or_default();
        settings.unauthenticated_metrics =
            tcp.telemetry.as_ref().and_then(|t| t.unauthenticated_metrics_access).unwrap_or(false);
        if let Some(address) = tcp.address {
            settings.address = address;
        }
        settings.tls =
            match (tcp.tls_disable.unwrap_or(false), tcp.tls_cert_file, tcp.tls_key_file) {
                (true, _, _) => None,
                (false, Some(cert), Some(key)) => Some((cert, key)),
                // Without a config file the command line decides (see main); with one, TLS is required.
                (false, None, None) if !from_file => None,
                (false, _, _) => return Err(
                    "invalid configuration: listener.tcp needs tls_cert_file and tls_key_file, or tls_disable = true"
                        .into(),
                ),
            };
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::Settings;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    #[test]
    fn the_three_formats_read_the_same_layout() {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            write(&dir, "c.toml", "default_lease_ttl = \"1h\"\nlog_format = \"json\"\n[listener.tcp]\naddress = \"0.0.0.0:8300\"\ntls_cert_file = \"/c.pem\"\ntls_key_file = \"/k.pem\"\n[listener.tcp.telemetry]\nunauthenticated_metrics_access = true\n[storage.sled]\npath = \"/var/lib/jwtgate\"\nfsync = true\n"),
            write(&dir, "c.json", r#"{"default_lease_ttl":"1h","log_format":"json","listener":{"tcp":{"address":"0.0.0.0:8300","tls_cert_file":"/c.pem","tls_key_file":"/k.pem","telemetry":{"unauthenticated_metrics_access":true}}},"storage":{"sled":{"path":"/var/lib/jwtgate","fsync":true}}}"#),
            write(&dir, "c.yaml", "default_lease_ttl: 1h\nlog_format: json\nlistener:\n  tcp:\n    address: 0.0.0.0:8300\n    tls_cert_file: /c.pem\n    tls_key_file: /k.pem\n    telemetry:\n      unauthenticated_metrics_access: true\nstorage:\n  sled:\n    path: /var/lib/jwtgate\n    fsync: true\n"),
        ];
        for file in files {
            let settings = Settings::load(Some(&file), Vec::new()).unwrap();
            assert_eq!(settings.address, "0.0.0.0:8300", "{file}");
            assert_eq!(settings.tls, Some(("/c.pem".into(), "/k.pem".into())));
            assert_eq!((settings.data_dir.to_str().unwrap(), settings.fsync), ("/var/lib/jwtgate", true));
            assert_eq!((settings.default_lease_ttl, settings.max_lease_ttl), (3600, 768 * 3600));
            assert!(settings.json_logs);
            assert!(settings.unauthenticated_metrics);
        }
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(&dir, "c.toml", "[listener.tcp]\naddress = \"127.0.0.1:1\"\ntls_disable = true\n");
        let env = vec![
            ("JWTGATE_LISTENER__TCP__ADDRESS".to_owned(), "127.0.0.1:2".to_owned()),
            ("JWTGATE_LOG_LEVEL".to_owned(), "debug".to_owned()),
            ("JWTGATE_MAX_LEASE_TTL".to_owned(), "48h".to_owned()),
            ("OTHER".to_owned(), "ignored".to_owned()),
        ];
        let env = env
            .into_iter()
            .chain(super::CLIENT_VARIABLES.iter().map(|name| (name.to_string(), "https://127.0.0.1:8200".to_owned())));
        let env = env.collect();
        let settings = Settings::load(Some(&file), env).unwrap();
        assert_eq!(
            (settings.address.as_str(), settings.log_level.as_str(), settings.max_lease_ttl),
            ("127.0.0.1:2", "debug", 172_800)
        );
        assert_eq!(settings.tls, None);
    }

    #[test]
    fn postgresql_storage_from_the_file_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            &dir,
            "pg.toml",
            "[listener.tcp]\ntls_disable = true\n[storage.postgresql]\nconnection_url = \"postgresql://jwtgate@db:5432/jwtgate\"\nmax_connections = 4\nconnect_timeout = \"2s\"\nstaleness = \"30s\"\ntls_ca_file = \"/etc/db-ca.pem\"\n",
        );
        let settings = Settings::load(Some(&file), Vec::new()).unwrap();
        let expected = super::Postgres {
            connection_url: "postgresql://jwtgate@db:5432/jwtgate".into(),
            max_connections: 4,
            table: "jwtgate_kv".into(),
            connect_timeout: 2,
            staleness: 30,
            tls_ca_file: Some("/etc/db-ca.pem".into()),
        };
        assert_eq!(settings.postgresql, Some(expected));
        let env = vec![("JWTGATE_STORAGE__POSTGRESQL__CONNECTION_URL".to_owned(), "postgresql://h/db".to_owned())];
        let from_env = Settings::load(None, env).unwrap().postgresql.unwrap();
        assert_eq!(
            (from_env.connection_url.as_str(), from_env.max_connections, from_env.connect_timeout, from_env.staleness),
            ("postgresql://h/db", 16, 5, 60)
        );
        assert_eq!(from_env.tls_ca_file, None);
    }

    #[test]
    fn mistakes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("unknown.toml", "ui = true\n", "unknown field `ui`"),
            ("nested.toml", "[listener.tcp]\nadress = \"x\"\n", "unknown field `adress`"),
            ("tls.toml", "[listener.tcp]\naddress = \"127.0.0.1:1\"\n", "needs tls_cert_file and tls_key_file"),
            ("ttl.toml", "max_lease_ttl = \"soon\"\n", "max_lease_ttl = \"soon\" is not a positive duration"),
            ("format.toml", "log_format = \"xml\"\n", "log_format = \"xml\""),
            (
                "both.toml",
                "[storage.sled]\npath = \"/d\"\n[storage.postgresql]\nconnection_url = \"postgresql://h/db\"\n",
                "choose one",
            ),
            ("nourl.toml", "[storage.postgresql]\ntable = \"kv\"\n", "connection_url is required"),
            (
                "pgtimeout.toml",
                "[storage.postgresql]\nconnection_url = \"postgresql://h/db\"\nconnect_timeout = \"soon\"\n",
                "connect_timeout = \"soon\"",
            ),
        ];
        for (name, text, needle) in cases {
            let error = Settings::load(Some(&write(&dir, name, text)), Vec::new()).unwrap_err();
            assert!(error.contains(needle), "{name}: {error}");
        }
        let typo = Settings::load(None, vec![("JWTGATE_LOG_LEVL".to_owned(), "debug".to_owned())]).unwrap_err();
        assert!(typo.contains("log_levl"), "{typo}");
        let missing = Settings::load(Some("/nonexistent/jwtgate.toml"), Vec::new()).unwrap_err();
        assert!(missing.contains("/nonexistent/jwtgate.toml"), "{missing}");
    }
}
