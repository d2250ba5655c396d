//! The [`Engine`] on PostgreSQL: one table of `bytea` keys and values, so the typed store, its
//! record versions and token HMACs are the same as on sled. A batch is one transaction and is
//! durable when its commit returns (PostgreSQL's `synchronous_commit`), so `flush` has nothing
//! left to do; compare-and-swap locks the row (`SELECT ... FOR UPDATE`), and an insert that
//! races another insert of the same key loses on the primary key.
//!
//! The `postgres` client is synchronous and runs its own small runtime per connection, which
//! cannot start on a thread that is already driving one (an actix worker): a call made there
//! moves to a thread of its own for its duration ([`off_runtime`]).

use crate::engine::{Batch, Coherence, Conflict, Engine, Pairs, Write};
use crate::error::StoreError;
use crate::{Options, Store, CACHED_KEYSPACES};
use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls, Transaction};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The layout of the two tables this build reads and writes (`<table>_meta`'s `schema` row).
pub const TABLE_SCHEMA: i64 = 1;

/// Held for a transaction by whoever creates the tables or first writes an empty database, so
/// that replicas starting together take turns (`$1`: the table's name).
const TABLE_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext($1))";

/// How often a replica reads the change counter when no notification arrives.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// `[storage.postgresql]`.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// `postgresql://user:password@host:port/database` or libpq's `key=value` form.
    pub connection_url: String,
    /// The table holding every key (created on first start).
    pub table: String,
    pub max_connections: usize,
    pub connect_timeout: Duration,
    /// How long a replica that cannot read the change counter keeps serving from its caches.
    pub staleness: Duration,
    /// `tls_ca_file`: connect over TLS only, verifying the server's certificate and host name
    /// against these CA certificates (PEM). Without it, no TLS.
    pub tls_ca_file: Option<std::path::PathBuf>,
}

impl PostgresOptions {
    pub fn new(connection_url: impl Into<String>) -> PostgresOptions {
        PostgresOptions {
            connection_url: connection_url.into(),
            table: "jwtgate_kv".into(),
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
            staleness: Duration::from_secs(60),
            tls_ca_file: None,
        }
    }
}

impl Store {
    /// Opens the store on PostgreSQL, creating its table if this is the first replica to start.
    pub fn open_postgres(options: &PostgresOptions) -> Result<Store, StoreError> {
        let engine = PostgresEngine::connect(options)?;
        let existed = !engine.is_empty();
        // Named in errors the way a path names a sled database; never with the password.
        let name = format!("postgresql table {}", options.table);
        Store::on_engine(std::sync::Arc::new(engine), &Options::new(name), existed)
    }
}

/// Opens connections: the parsed URL, and TLS when a CA file was given.
#[derive(Clone)]
struct Connector {
    config: postgres::Config,
    tls: Option<postgres_openssl::MakeTlsConnector>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Connector {{ tls: {} }}", self.tls.is_some())
    }
}

impl Connector {
    fn new(options: &PostgresOptions) -> Result<Connector, StoreError> {
        let mut config: postgres::Config = options
            .connection_url
            .parse()
            .map_err(|error| StoreError::Engine(format!("storage.postgresql.connection_url: {error}")))?;
        config.connect_timeout(options.connect_timeout);
        // Data a vanished server never acknowledges fails the connection instead of waiting for
        // TCP's retransmissions (minutes); an idle connection is probed, so a dead one is found.
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(options.connect_timeout);
        }
        config.keepalives(true);
        let Some(ca_file) = &options.tls_ca_file else { return Ok(Connector { config, tls: None }) };
        let tls_error = |error: openssl::error::ErrorStack| {
            StoreError::Engine(format!("storage.postgresql.tls_ca_file {}: {error}", ca_file.display()))
        };
        let mut builder = openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls()).map_err(tls_error)?;
        // The file's CAs replace the system roots; the host name is verified by the connector.
        builder.set_ca_file(ca_file).map_err(tls_error)?;
        builder.set_verify(openssl::ssl::SslVerifyMode::PEER);
        config.ssl_mode(postgres::config::SslMode::Require);
        Ok(Connector { config, tls: Some(postgres_openssl::MakeTlsConnector::new(builder.build())) })
    }

    fn connect(&self) -> Result<Client, postgres::Error> {
        match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        }
    }
}

#[derive(Debug)]
pub struct PostgresEngine {
    connector: Connector,
    table: String,
    max_connections: usize,
    pool: Mutex<Pool>,
    returned: Condvar,
    queries: Arc<Queries>,
    watch: Arc<Watch>,
    staleness: Duration,
    deadline: Duration,
    /// A job's lease is a session advisory lock held by a connection of its own: it ends when
    /// the connection does, so a replica that dies gives it up.
    leases: Mutex<Leases>,
}

#[derive(Default)]
struct Leases(HashMap<String, Client>);

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// The change counter as this replica last read it, kept by the watcher thread.
#[derive(Debug)]
struct Watch {
    changes: AtomicU64,
    /// Milliseconds after `epoch` of the last successful read.
    checked: AtomicU64,
    epoch: Instant,
    stop: AtomicBool,
}

impl Watch {
    fn checked_now(&self, changes: i64) {
        self.changes.store(u64::try_from(changes).unwrap_or(0), Ordering::SeqCst);
        let since = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.checked.store(since, Ordering::SeqCst);
    }

    fn age(&self) -> Duration {
        self.epoch.elapsed().saturating_sub(Duration::from_millis(self.checked.load(Ordering::SeqCst)))
    }
}

#[derive(Default)]
struct Pool {
    idle: Vec<Client>,
    open: usize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pool {{ idle: {}, open: {} }}", self.idle.len(), self.open)
    }
}

/// The statements, with the checked table name in them.
#[derive(Debug)]
struct Queries {
    get: String,
    range: String,
    from: String,
    count_range: String,
    count_from: String,
    lock: String,
    insert: String,
    update: String,
    delete: String,
    upsert_all: String,
    delete_all: String,
    any: String,
    changes: String,
    /// Bumps the change counter and notifies every listener when the transaction commits.
    announce: String,
    listen: String,
}

impl Queries {
    /// `table` is checked ([`checked_table`]) and quoted, so a reserved word is a name too.
    fn new(name: &str) -> Queries {
        let table = format!("\"{name}\"");
        let meta = format!("\"{name}_meta\"");
        Queries {
            changes: format!("SELECT value FROM {meta} WHERE name = 'changes'"),
            announce: format!(
                "WITH bumped AS (UPDATE {meta} SET value = value + 1 WHERE name = 'changes' RETURNING value) \
                 SELECT pg_notify('{name}_changes', value::text) FROM bumped"
            ),
            listen: format!("LISTEN \"{name}_changes\""),
            get: format!("SELECT value FROM {table} WHERE key = $1"),
            range: format!("SELECT key, value FROM {table} WHERE key >= $1 AND key < $2 ORDER BY key LIMIT $3"),
            from: format!("SELECT key, value FROM {table} WHERE key >= $1 ORDER BY key LIMIT $2"),
            count_range: format!("SELECT count(*) FROM {table} WHERE key >= $1 AND key < $2"),
            count_from: format!("SELECT count(*) FROM {table} WHERE key >= $1"),
            lock: format!("SELECT value FROM {table} WHERE key = $1 FOR UPDATE"),
            insert: format!("INSERT INTO {table} (key, value) VALUES ($1, $2)"),
            update: format!("UPDATE {table} SET value = $2 WHERE key = $1"),
            delete: format!("DELETE FROM {table} WHERE key = $1"),
            upsert_all: format!(
                "INSERT INTO {table} (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
            ),
            delete_all: format!("DELETE FROM {table} WHERE key = ANY($1)"),
            any: format!("SELECT EXISTS (SELECT 1 FROM {table})"),
        }
    }
}

/// A table name is put into statements, so only a plain lower-case identifier is accepted.
fn checked_table(table: &str) -> Result<&str, StoreError> {
    let mut chars = table.chars();
    let plain = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && table.len() <= 55;
    match plain {
        true => Ok(table),
        // `<table>_meta` and the `<table>_changes` channel must fit PostgreSQL's 63 bytes too.
        false => Err(StoreError::Engine(format!(
            "storage.postgresql.table {table:?} must be a lower-case identifier (a-z, 0-9, _; at most 55)"
        ))),
    }
}

/// Runs `work` where the client's runtime may block: here, or on a scoped thread when this
/// thread is inside an async runtime.
fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    std::thread::scope(|scope| scope.spawn(work).join()).unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// A refusal by the database is an engine error; a connection that failed, broke or is being
/// shut down (SQLSTATE classes 08 and 57P) is unavailability, which a retry may cure.
fn engine_error(error: postgres::Error) -> StoreError {
    match error.as_db_error() {
        Some(db) if ["08", "57P"].iter().any(|class| db.code().code().starts_with(class)) => {
            StoreError::Unavailable(format!("postgresql: {} ({})", db.message(), db.code().code()))
        }
        Some(db) => StoreError::Engine(format!("postgresql: {} ({})", db.message(), db.code().code())),
        None => {
            // The cause (a refused connection, a certificate that did not verify) is in the chain.
            let mut text = format!("postgresql: {error}");
            let mut cause = std::error::Error::source(&error);
            while let Some(inner) = cause {
                let inner_text = inner.to_string();
                if !text.contains(&inner_text) {
                    text.push_str(&format!(": {inner_text}"));
                }
                cause = inner.source();
            }
            StoreError::Unavailable(text)
        }
    }
}

/// Whether `key` is in a keyspace replicas cache, so that writing it must tell them.
fn cached(key: &[u8]) -> bool {
    CACHED_KEYSPACES.iter().any(|space| key.starts_with(space.as_bytes()))
}

/// A connection taken from the pool; it goes back when dropped (unless it broke).
struct Lease<'a> {
    engine: &'a PostgresEngine,
    client: Option<Client>,
}

impl std::ops::Deref for Lease<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("a lease holds its client until dropped")
    }
}

impl std::ops::DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("a lease holds its client until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut pool = self.engine.pool.lock().unwrap_or_else(PoisonError::into_inner);
        match self.client.take().filter(|client| !client.is_closed()) {
            Some(client) => pool.idle.push(client),
            None => pool.open -= 1,
        }
        drop(pool);
        self.engine.returned.notify_one();
    }
}

impl PostgresEngine {
    /// Connects once (so a wrong URL fails at start) and creates the table, under an advisory
    /// lock so that replicas starting together do not race.
    pub fn connect(options: &PostgresOptions) -> Result<PostgresEngine, StoreError> {
        off_runtime(|| PostgresEngine::connect_here(options))
    }

    fn connect_here(options: &PostgresOptions) -> Result<PostgresEngine, StoreError> {
        let table = checked_table(&options.table)?;
        let engine = PostgresEngine {
            connector: Connector::new(options)?,
            table: table.to_owned(),
            max_connections: options.max_connections.max(1),
            pool: Mutex::new(Pool::default()),
            returned: Condvar::new(),
            queries: Arc::new(Queries::new(table)),
            watch: Arc::new(Watch {
                changes: AtomicU64::new(0),
                checked: AtomicU64::new(0),
                epoch: Instant::now(),
                stop: AtomicBool::new(false),
            }),
            staleness: options.staleness,
            deadline: options.connect_timeout,
            leases: Mutex::new(Leases::default()),
        };
        engine.prepare_tables()?;
        let changes = engine.lease()?.query_one(&engine.queries.changes, &[]).map_err(engine_error)?;
        engine.watch.checked_now(changes.get(0));
        engine.start_watching()?;
        Ok(engine)
    }

    /// Creates (or checks) the tables under an advisory lock, so replicas starting together do
    /// not race, and refuses a layout newer than this build knows.
    fn prepare_tables(&self) -> Result<(), StoreError> {
        let table = &self.table;
        let mut client = self.lease()?;
        let mut schema = client.transaction().map_err(engine_error)?;
        schema.execute(TABLE_LOCK, &[table]).map_err(engine_error)?;
        schema
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS \"{table}\" (key bytea PRIMARY KEY, value bytea NOT NULL);
                 CREATE TABLE IF NOT EXISTS \"{table}_meta\" (name text PRIMARY KEY, value bigint NOT NULL);
                 INSERT INTO \"{table}_meta\" VALUES ('schema', {TABLE_SCHEMA}), ('changes', 0) ON CONFLICT (name) DO NOTHING"
            ))
            .map_err(engine_error)?;
        let found: i64 = schema
            .query_one(&format!("SELECT value FROM \"{table}_meta\" WHERE name = 'schema'"), &[])
            .map_err(engine_error)?
            .get(0);
        if found > TABLE_SCHEMA {
            return Err(StoreError::UnsupportedSchema {
                path: format!("postgresql table {table}").into(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
                supported: TABLE_SCHEMA as u32,
            });
        }
        // Layouts older than this build's would be migrated here; version 1 is the first.
        schema.commit().map_err(engine_error)
    }

    /// The watcher: listens for change notifications on a connection of its own and reads the
    /// counter on each one, at least every second, and after every reconnect. Notifications
    /// are hints (one sent while this listener was away is lost); the counter is the truth.
    fn start_watching(&self) -> Result<(), StoreError> {
        let (connector, queries, watch) = (self.connector.clone(), self.queries.clone(), self.watch.clone());
        let watching = move || {
            let mut reported = false;
            while !watch.stop.load(Ordering::SeqCst) {
                let mut client = match connector.connect() {
                    Ok(client) => client,
                    Err(error) => {
                        if !std::mem::replace(&mut reported, true) {
                            tracing::warn!(error = %engine_error(error), "the change watcher cannot reach postgresql");
                        }
                        std::thread::sleep(CHECK_EVERY / 4);
                        continue;
                    }
                };
                reported = false;
                // A database without LISTEN (some PostgreSQL-compatible ones) is only polled.
                let listening = client.batch_execute(&queries.listen).is_ok();
                while !watch.stop.load(Ordering::SeqCst) {
                    match client.query_one(&queries.changes, &[]) {
                        Ok(row) => watch.checked_now(row.get(0)),
                        Err(_) => break,
                    }
                    if !listening {
                        std::thread::sleep(CHECK_EVERY);
                        continue;
                    }
                    let mut notifications = client.notifications();
                    if notifications.timeout_iter(CHECK_EVERY).next().is_err() {
                        break;
                    }
                    // Several changes since: one read covers them all.
                    while let Ok(Some(_)) = notifications.iter().next() {}
                }
            }
        };
        std::thread::Builder::new()
            .name("jwtgate-watch".into())
            .spawn(watching)
            .map(drop)
            .map_err(|error| StoreError::Engine(format!("could not start the change watcher: {error}")))
    }

    /// Runs `work` in one transaction on a pooled connection, which commits if it returns `Ok`.
    fn transact<T>(
        &self,
        work: impl FnOnce(&mut Transaction<'_>) -> Result<T, postgres::Error> + Send,
    ) -> Result<T, StoreError>
    where
        T: Send,
    {
        off_runtime(|| {
            let mut client = self.lease()?;
            let mut transaction = client.transaction().map_err(engine_error)?;
            let value = work(&mut transaction).map_err(engine_error)?;
            transaction.commit().map_err(engine_error)?;
            Ok(value)
        })
    }

    fn lease(&self) -> Result<Lease<'_>, StoreError> {
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(client) = pool.idle.pop() {
                if client.is_closed() {
                    pool.open -= 1;
                    continue;
                }
                return Ok(Lease { engine: self, client: Some(client) });
            }
            if pool.open < self.max_connections {
                pool.open += 1;
                drop(pool);
                return match self.connector.connect() {
                    Ok(client) => Ok(Lease { engine: self, client: Some(client) }),
                    Err(error) => {
                        self.pool.lock().unwrap_or_else(PoisonError::into_inner).open -= 1;
                        self.returned.notify_one();
                        Err(engine_error(error))
                    }
                };
            }
            pool = self.returned.wait(pool).unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn pairs(rows: Vec<postgres::Row>) -> Pairs {
        rows.into_iter().map(|row| (row.get(0), row.get(1))).collect()
    }

    fn count(rows: &postgres::Row) -> usize {
        usize::try_from(rows.get::<_, i64>(0)).unwrap_or(0)
    }
}

/// The first key after every key that starts with `prefix`; `None` when there is none.
fn after_prefix(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl Engine for PostgresEngine {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        off_runtime(|| {
            let row = self.lease()?.query_opt(&self.queries.get, &[&key]).map_err(engine_error)?;
            Ok(row.map(|row| row.get(0)))
        })
    }

    fn scan_prefix(&self, prefix: &[u8], count: usize) -> Result<Pairs, StoreError> {
        match after_prefix(prefix) {
            Some(end) => self.scan_range(prefix, &end, count),
            None => off_runtime(|| {
                let rows = self.lease()?.query(&self.queries.from, &[&prefix, &limit(count)]).map_err(engine_error)?;
                Ok(Self::pairs(rows))
            }),
        }
    }

    fn scan_range(&self, start: &[u8], end: &[u8], count: usize) -> Result<Pairs, StoreError> {
        off_runtime(|| {
            let rows =
                self.lease()?.query(&self.queries.range, &[&start, &end, &limit(count)]).map_err(engine_error)?;
            Ok(Self::pairs(rows))
        })
    }

    fn compare_and_swap(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<Result<(), Conflict>, StoreError> {
        off_runtime(|| {
            let mut client = self.lease()?;
            let mut swap = client.transaction().map_err(engine_error)?;
            let current: Option<Vec<u8>> =
                swap.query_opt(&self.queries.lock, &[&key]).map_err(engine_error)?.map(|row| row.get(0));
            if current.as_deref() != expected {
                return Ok(Err(Conflict));
            }
            let written = match (expected, new) {
                (_, None) => swap.execute(&self.queries.delete, &[&key]),
                // Absent and not locked: a concurrent insert of the same key wins on the primary key.
                (None, Some(value)) => swap.execute(&self.queries.insert, &[&key, &value]),
                (Some(_), Some(value)) => swap.execute(&self.queries.update, &[&key, &value]),
            };
            let announced = match cached(key) {
                true => written.and_then(|_| swap.execute(&self.queries.announce, &[])),
                false => written,
            };
            match announced.and_then(|_| swap.commit()) {
                Ok(()) => Ok(Ok(())),
                Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(Err(Conflict)),
                Err(error) => Err(engine_error(error)),
            }
        })
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        let writes = Writes::of(batch);
        self.transact(|transaction| writes.run(transaction, &self.queries))
    }

    fn apply_if_empty(&self, batch: Batch) -> Result<bool, StoreError> {
        let writes = Writes::of(batch);
        self.transact(|transaction| {
            transaction.execute(TABLE_LOCK, &[&self.table])?;
            if transaction.query_one(&self.queries.any, &[])?.get::<_, bool>(0) {
                return Ok(false);
            }
            writes.run(transaction, &self.queries).map(|()| true)
        })
    }

    fn deadline(&self) -> Option<Duration> {
        Some(self.deadline)
    }

    fn coherence(&self) -> Option<Coherence> {
        Some(Coherence {
            changes: self.watch.changes.load(Ordering::SeqCst),
            fresh: self.watch.age() <= self.staleness,
        })
    }

    fn lead(&self, job: &str) -> Result<bool, StoreError> {
        off_runtime(|| {
            let mut leases = self.leases.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(client) = leases.0.get_mut(job) {
                if client.simple_query("SELECT 1").is_ok() {
                    return Ok(true);
                }
                leases.0.remove(job);
            }
            let mut client = self.connector.connect().map_err(engine_error)?;
            let name = format!("{}/{job}", self.table);
            let held: bool =
                client.query_one("SELECT pg_try_advisory_lock(hashtext($1))", &[&name]).map_err(engine_error)?.get(0);
            if held {
                leases.0.insert(job.to_owned(), client);
            }
            Ok(held)
        })
    }

    /// Every applied batch was committed, and a commit is durable when it returns.
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn is_empty(&self) -> bool {
        off_runtime(|| {
            let any = self.lease().and_then(|mut c| c.query_one(&self.queries.any, &[]).map_err(engine_error));
            // An engine that cannot answer is not taken for an empty one.
            any.is_ok_and(|row| !row.get::<_, bool>(0))
        })
    }

    fn count_prefix(&self, prefix: &[u8]) -> Result<usize, StoreError> {
        off_runtime(|| {
            let mut client = self.lease()?;
            let row = match after_prefix(prefix) {
                Some(end) => client.query_one(&self.queries.count_range, &[&prefix, &end]),
                None => client.query_one(&self.queries.count_from, &[&prefix]),
            };
            Ok(Self::count(&row.map_err(engine_error)?))
        })
    }
}

/// A batch as each key's last write (as if applied in order): one upsert of all puts and one
/// delete of all deletes.
struct Writes {
    put_keys: Vec<Vec<u8>>,
    put_values: Vec<Vec<u8>>,
    deleted: Vec<Vec<u8>>,
    announce: bool,
}

impl Writes {
    fn of(batch: Batch) -> Writes {
        let mut last: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        for write in batch.0 {
            match write {
                Write::Put(key, value) => last.insert(key, Some(value)),
                Write::Delete(key) => last.insert(key, None),
            };
        }
        let announce = last.keys().any(|key| cached(key));
        let mut writes = Writes { put_keys: Vec::new(), put_values: Vec::new(), deleted: Vec::new(), announce };
        for (key, value) in last {
            match value {
                Some(value) => {
                    writes.put_keys.push(key);
                    writes.put_values.push(value);
                }
                None => writes.deleted.push(key),
            }
        }
        writes
    }

    fn run(&self, transaction: &mut Transaction<'_>, queries: &Queries) -> Result<(), postgres::Error> {
        if !self.put_keys.is_empty() {
            transaction.execute(&queries.upsert_all, &[&self.put_keys, &self.put_values])?;
        }
        if !self.deleted.is_empty() {
            transaction.execute(&queries.delete_all, &[&self.deleted])?;
        }
        if self.announce {
            transaction.execute(&queries.announce, &[])?;
        }
        Ok(())
    }
}

impl Drop for PostgresEngine {
    fn drop(&mut self) {
        self.watch.stop.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_a_prefix_range() {
        let cases: [(&[u8], Option<&[u8]>); 4] =
            [(b"token/", Some(b"token0")), (b"a\xff", Some(b"b")), (b"\xff\xff", None), (b"", None)];
        for (prefix, end) in cases {
            assert_eq!(after_prefix(prefix).as_deref(), end, "{prefix:?}");
        }
    }

    #[test]
    fn only_plain_table_names_reach_a_statement() {
        for good in ["jwtgate_kv", "_t1", "kv"] {
            assert!(checked_table(good).is_ok(), "{good}");
        }
        for bad in ["", "KV", "1kv", "kv; drop table x", "kv-x", "\"kv\"", &"k".repeat(56)] {
            assert!(checked_table(bad).is_err(), "{bad}");
        }
    }
}
