//! Durable state for jwtgate on sled 0.34.7: mounts, mount configs, roles, ACL policies, tokens.
//!
//! Every mutation is durable before it returns (group commit over sled's flush, optionally
//! followed by `fdatasync`). Tokens are never stored in clear: records are keyed by a salted
//! HMAC-SHA256 of the token. No sled type appears in this API; the [`Engine`] trait underneath
//! is what another engine would implement.

mod backup;
mod commit;
mod engine;
mod error;
mod postgres;
mod records;
mod tokens;

pub use commit::Durable;
pub use engine::{Batch, Coherence, Conflict, Engine, Pairs, Write};
pub use error::StoreError;
pub use postgres::{PostgresEngine, PostgresOptions};
pub use records::{AuditDevice, KeyRing, Mount, Policy, RingKey, TokenRecord, Tune, RECORD_VERSION};
pub use tokens::UseOutcome;

use aws_lc_rs::hmac;
use base64::Engine as _;
use commit::GroupCommit;
use engine::SledEngine;
use serde_json::Value;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// The on-disk layout version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// The keyspaces replicas cache (mounts, configs, roles, policies, audit devices, meta): a
/// write to one of them bumps a shared engine's change counter. Token keyspaces are never
/// cached: every replica reads them from the engine.
pub const CACHED_KEYSPACES: [&str; 6] = ["mount/", "config/", "role/", "policy/", "audit/", "meta/"];

/// Separates a mount path from a name in keys; it never appears in either.
const SEP: char = '\u{1f}';

/// How to open the store.
#[derive(Debug, Clone)]
pub struct Options {
    /// The database directory (created 0700 if missing).
    pub path: PathBuf,
    /// `storage.sled.fsync`: `fdatasync` the data file after every flush. sled's flush uses
    /// `sync_file_range`, which survives a process crash but not necessarily a power loss.
    pub fsync: bool,
}

impl Options {
    pub fn new(path: impl Into<PathBuf>) -> Options {
        Options { path: path.into(), fsync: false }
    }
}

/// The typed store.
#[derive(Debug)]
pub struct Store {
    engine: Arc<dyn Engine>,
    commit: GroupCommit,
    hasher: hmac::Key,
    path: PathBuf,
    /// Stored token records: counted once at open, then kept up to date by every write.
    token_records: Arc<AtomicI64>,
    /// After a crash there is no saved count: the stored tokens are counted in the background
    /// when the gauge is first read, so that neither the start nor the logins of a server
    /// nobody scrapes pay for a scan of a million tokens.
    counting: Mutex<Counting>,
}

impl Store {
    /// Opens (or creates) the database at `options.path`.
    pub fn open(options: &Options) -> Result<Store, StoreError> {
        let path = options.path.clone();
        let io = |source| StoreError::Io { path: path.clone(), source };
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&path).map_err(io)?;
        // sled can read a damaged data file as an empty database, so an existing data file must
        // hold our schema, unless a marker says the very first open never finished.
        let marker = path.join(".creating");
        if !path.join("db").exists() {
            std::fs::write(&marker, b"").map_err(io)?;
        }
        let existed = !marker.exists() && std::fs::metadata(path.join("db")).is_ok_and(|meta| meta.len() > 0);
        let db = match open_sled(&path) {
            Ok(Ok(db)) => db,
            Ok(Err(sled::Error::Corruption { at, .. })) => {
                return Err(StoreError::Corrupt { path, detail: format!("sled reports corruption at {at:?}") })
            }
            Ok(Err(sled::Error::Io(source))) if is_lock_error(&source) => return Err(StoreError::Locked { path }),
            Ok(Err(sled::Error::Io(source))) => return Err(StoreError::Io { path, source }),
            Ok(Err(other)) => return Err(StoreError::Corrupt { path, detail: other.to_string() }),
            Err(panic) => {
                let detail = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "sled panicked while opening".into());
                return Err(StoreError::Corrupt { path, detail });
            }
        };
        restrict_permissions(&path)?;
        let store = Store::on_engine(Arc::new(SledEngine { db }), options, existed)?;
        if marker.exists() {
            std::fs::remove_file(&marker).map_err(|source| StoreError::Io { path: marker.clone(), source })?;
        }
        Ok(store)
    }

    /// The typed store on an opened engine: the schema checked (or created with a new salt
    /// when the engine is empty and did not hold data before), the group commit started.
    fn on_engine(engine: Arc<dyn Engine>, options: &Options, existed: bool) -> Result<Store, StoreError> {
        let path = options.path.clone();
        let fsync = options.fsync.then(|| path.join("db"));
        let commit = GroupCommit::start(engine.clone(), fsync);
        let salt = prepare_meta(engine.as_ref(), &commit, &path, existed)?;
        let hasher = hmac::Key::new(hmac::HMAC_SHA256, &salt);
        let token_records = Arc::new(AtomicI64::new(0));
        // Replicas sharing an engine each count only their own writes: no count is saved.
        let saved = match engine.coherence() {
            None => saved_count(engine.as_ref(), &commit)?,
            Some(_) => None,
        };
        let counting = match saved {
            Some(count) => {
                token_records.store(count, Ordering::Relaxed);
                Counting::Done
            }
            None if !existed => Counting::Done,
            None => Counting::NotStarted,
        };
        Ok(Store { engine, commit, hasher, path, token_records, counting: Mutex::new(counting) })
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What this replica knows of other replicas' writes (`None`: no other process writes).
    pub fn coherence(&self) -> Option<Coherence> {
        self.engine.coherence()
    }

    /// How long a request should wait for the store (`None`: sled, which does not hang).
    pub fn deadline(&self) -> Option<std::time::Duration> {
        self.engine.deadline()
    }

    /// Whether this process should run `job`, a job one replica at a time runs.
    pub fn lead(&self, job: &str) -> Result<bool, StoreError> {
        self.engine.lead(job)
    }

    /// Flushes performed so far (group commit makes this far fewer than writes).
    pub fn flush_count(&self) -> u64 {
        self.commit.flushes()
    }

    /// Applies `batch` and returns once it is durable.
    fn write(&self, batch: Batch) -> Result<(), StoreError> {
        self.engine.apply(batch)?;
        self.commit.commit()
    }

    /// Hands `batch` to the group commit, which applies it with the other batches waiting and
    /// flushes them together; the returned future resolves once it is applied and durable.
    fn write_deferred(&self, batch: Batch) -> Result<Durable, StoreError> {
        Ok(self.commit.queue(batch))
    }

    fn get_record<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        match self.engine.get(key.as_bytes())? {
            None => Ok(None),
            Some(bytes) => records::decode(key.as_bytes(), &bytes).map(Some),
        }
    }

    fn put_record<T: serde::Serialize>(&self, key: &str, record: &T) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        batch.put(key, records::encode(record));
        self.write(batch)
    }

    fn delete_key(&self, key: &str) -> Result<(), StoreError> {
        let mut batch = Batch::default();
        batch.delete(key);
        self.write(batch)
    }

    fn list_records<T: serde::de::DeserializeOwned>(&self, prefix: &str) -> Result<Vec<(String, T)>, StoreError> {
        self.engine
            .scan_prefix(prefix.as_bytes(), usize::MAX)?
            .into_iter()
            .map(|(key, value)| {
                let record = records::decode(&key, &value)?;
                Ok((String::from_utf8_lossy(&key[prefix.len()..]).into_owned(), record))
            })
            .collect()
    }

    // ---- meta ----

    /// Whether `operator init` has run.
    pub fn is_initialized(&self) -> Result<bool, StoreError> {
        Ok(self.engine.get(b"meta/initialized")?.is_some())
    }

    /// Marks the store initialised; `false` if it already was (init runs once).
    pub fn mark_initialized(&self) -> Result<bool, StoreError> {
        match self.engine.compare_and_swap(b"meta/initialized", None, Some(b"true"))? {
            Ok(()) => self.commit.commit().map(|()| true),
            Err(Conflict) => Ok(false),
        }
    }

    /// The batch-token key ring, created with one key on first use. Creation is idempotent:
    /// of processes or threads racing to create it, one ring wins and all of them use it.
    pub fn key_ring(&self, now: i64) -> Result<KeyRing, StoreError> {
        if let Some(ring) = self.get_record::<KeyRing>("meta/keyring")? {
            return Ok(ring);
        }
        let ring = KeyRing { keys: vec![new_ring_key(1, now)?] };
        match self.engine.compare_and_swap(b"meta/keyring", None, Some(&records::encode(&ring)))? {
            Ok(()) => self.commit.commit().map(|()| ring),
            Err(Conflict) => self
                .get_record::<KeyRing>("meta/keyring")?
                .ok_or_else(|| StoreError::Engine("the key ring vanished while it was created".into())),
        }
    }

    /// Adds a new newest key to the ring (old keys keep opening existing batch tokens).
    pub fn rotate_key_ring(&self, now: i64) -> Result<KeyRing, StoreError> {
        loop {
            let current = self.engine.get(b"meta/keyring")?;
            let mut ring: KeyRing = match &current {
                Some(bytes) => records::decode(b"meta/keyring", bytes)?,
                None => KeyRing::default(),
            };
            let id = ring.keys.iter().map(|k| k.id).max().map_or(1, |id| id + 1);
            ring.keys.push(new_ring_key(id, now)?);
            let encoded = records::encode(&ring);
            if self.engine.compare_and_swap(b"meta/keyring", current.as_deref(), Some(&encoded))?.is_ok() {
                self.commit.commit()?;
                return Ok(ring);
            }
        }
    }

    // ---- mounts, configs, roles, policies ----

    pub fn put_mount(&self, mount: &Mount) -> Result<(), StoreError> {
        self.put_record(&format!("mount/{}", mount.path), mount)
    }

    pub fn get_mount(&self, path: &str) -> Result<Option<Mount>, StoreError> {
        self.get_record(&format!("mount/{path}"))
    }

    pub fn list_mounts(&self) -> Result<Vec<Mount>, StoreError> {
        Ok(self.list_records::<Mount>("mount/")?.into_iter().map(|(_, mount)| mount).collect())
    }

    /// Removes a mount with its config and roles, and revokes every token it issued.
    /// Returns the number of tokens revoked.
    pub fn delete_mount(&self, path: &str) -> Result<usize, StoreError> {
        let revoked = self.revoke_mount_tokens(path)?;
        let mut batch = Batch::default();
        batch.delete(format!("mount/{path}"));
        batch.delete(format!("config/{path}"));
        for (key, _) in self.engine.scan_prefix(format!("role/{path}{SEP}").as_bytes(), usize::MAX)? {
            batch.delete(key);
        }
        self.write(batch)?;
        Ok(revoked)
    }

    /// Moves a mount with its config and roles to `mount.path` (`sys/remount`), in one batch,
    /// after revoking every token it issued, as Vault revokes a moved mount's leases. Returns
    /// the number of tokens revoked.
    pub fn move_mount(&self, from: &str, mount: &Mount) -> Result<usize, StoreError> {
        let mut revoked = self.revoke_mount_tokens(from)?;
        let mut batch = Batch::default();
        batch.delete(format!("mount/{from}"));
        batch.put(format!("mount/{}", mount.path), records::encode(mount));
        if let Some(config) = self.engine.get(format!("config/{from}").as_bytes())? {
            batch.delete(format!("config/{from}"));
            batch.put(format!("config/{}", mount.path), config);
        }
        let roles = format!("role/{from}{SEP}");
        for (key, value) in self.engine.scan_prefix(roles.as_bytes(), usize::MAX)? {
            batch.put(format!("role/{}{SEP}{}", mount.path, String::from_utf8_lossy(&key[roles.len()..])), value);
            batch.delete(key);
        }
        self.write(batch)?;
        // A login that raced the first revocation left its token under the old path.
        revoked += self.revoke_mount_tokens(from)?;
        Ok(revoked)
    }

    /// Stores a mount's auth config (the API's JSON shape) in place of the previous one.
    pub fn put_config(&self, mount: &str, config: &Value) -> Result<(), StoreError> {
        self.put_record(&format!("config/{mount}"), config)
    }

    pub fn get_config(&self, mount: &str) -> Result<Option<Value>, StoreError> {
        self.get_record(&format!("config/{mount}"))
    }

    pub fn put_role(&self, mount: &str, name: &str, role: &Value) -> Result<(), StoreError> {
        self.put_record(&format!("role/{mount}{SEP}{name}"), role)
    }

    pub fn get_role(&self, mount: &str, name: &str) -> Result<Option<Value>, StoreError> {
        self.get_record(&format!("role/{mount}{SEP}{name}"))
    }

    pub fn delete_role(&self, mount: &str, name: &str) -> Result<(), StoreError> {
        self.delete_key(&format!("role/{mount}{SEP}{name}"))
    }

    /// Role names of a mount, sorted.
    pub fn list_roles(&self, mount: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.list_records::<Value>(&format!("role/{mount}{SEP}"))?.into_iter().map(|(name, _)| name).collect())
    }

    pub fn put_policy(&self, policy: &Policy) -> Result<(), StoreError> {
        self.put_record(&format!("policy/{}", policy.name), policy)
    }

    pub fn get_policy(&self, name: &str) -> Result<Option<Policy>, StoreError> {
        self.get_record(&format!("policy/{name}"))
    }

    pub fn delete_policy(&self, name: &str) -> Result<(), StoreError> {
        self.delete_key(&format!("policy/{name}"))
    }

    /// Policy names, sorted.
    pub fn list_policies(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.list_records::<Policy>("policy/")?.into_iter().map(|(name, _)| name).collect())
    }

    // ---- audit devices ----

    /// Enables an audit device; `false` (nothing written) if its path is taken.
    pub fn add_audit_device(&self, device: &AuditDevice) -> Result<bool, StoreError> {
        let key = format!("audit/{}", device.path);
        match self.engine.compare_and_swap(key.as_bytes(), None, Some(&records::encode(device)))? {
            Ok(()) => self.commit.commit().map(|()| true),
            Err(Conflict) => Ok(false),
        }
    }

    pub fn delete_audit_device(&self, path: &str) -> Result<(), StoreError> {
        self.delete_key(&format!("audit/{path}"))
    }

    /// Every enabled audit device, by path.
    pub fn list_audit_devices(&self) -> Result<Vec<AuditDevice>, StoreError> {
        Ok(self.list_records::<AuditDevice>("audit/")?.into_iter().map(|(_, device)| device).collect())
    }

    fn hash(&self, secret: &str) -> String {
        hex::encode(hmac::sign(&self.hasher, secret.as_bytes()).as_ref())
    }
}

/// The live-token count a clean shutdown left, deleted durably before any write, so a later
/// crash never finds it stale.
fn saved_count(engine: &dyn Engine, commit: &GroupCommit) -> Result<Option<i64>, StoreError> {
    let Some(saved) = engine.get(b"meta/token_count")? else { return Ok(None) };
    let mut batch = Batch::default();
    batch.delete("meta/token_count");
    engine.apply(batch)?;
    commit.commit()?;
    Ok(std::str::from_utf8(&saved).ok().and_then(|text| text.parse::<i64>().ok()))
}

#[derive(Debug)]
enum Counting {
    /// `token_records` holds every stored token.
    Done,
    /// `token_records` holds only the writes since open.
    NotStarted,
    Running(std::thread::JoinHandle<()>),
}

impl Store {
    /// Starts counting the stored tokens in the background if nobody has yet: the count is
    /// added to the writes counted since open. Tokens created or revoked while it runs may be
    /// counted twice or missed: it is a gauge.
    pub(crate) fn start_counting(&self) {
        let mut counting = self.counting.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !matches!(*counting, Counting::NotStarted) {
            return;
        }
        let (engine, records) = (self.engine.clone(), self.token_records.clone());
        let count = move || match engine.count_prefix(b"token/") {
            Ok(count) => {
                records.fetch_add(i64::try_from(count).unwrap_or(i64::MAX), Ordering::Relaxed);
            }
            Err(error) => tracing::error!(%error, "counting the stored tokens failed; the gauge counts new ones"),
        };
        match std::thread::Builder::new().name("jwtgate-count".into()).spawn(count) {
            Ok(running) => *counting = Counting::Running(running),
            Err(error) => tracing::error!(%error, "could not start counting the stored tokens"),
        }
    }

    /// Waits for a running count; `false` if the count never started (the gauge is partial).
    pub(crate) fn finish_counting(&self) -> bool {
        let mut counting = self.counting.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if matches!(*counting, Counting::Running(_)) {
            if let Counting::Running(running) = std::mem::replace(&mut *counting, Counting::Done) {
                let _ = running.join();
            }
        }
        matches!(*counting, Counting::Done)
    }

    /// The gauge is now exact (an import replaced what was stored, after `finish_counting`).
    pub(crate) fn counted(&self) {
        *self.counting.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Counting::Done;
    }
}

impl Drop for Store {
    /// A clean shutdown leaves the live-token count, so the next open need not scan for it
    /// (unless it was never counted: the next open then counts when asked, as this one would).
    fn drop(&mut self) {
        if !self.finish_counting() || self.engine.coherence().is_some() {
            return;
        }
        let mut batch = Batch::default();
        batch.put("meta/token_count", self.token_records.load(Ordering::Relaxed).max(0).to_string());
        if self.engine.apply(batch).is_ok() {
            let _ = self.commit.commit();
        }
    }
}

/// Opens sled, waiting up to 5 s for the file lock: sled releases it from a background thread
/// shortly after the previous handle in this process was dropped.
fn open_sled(path: &Path) -> std::thread::Result<sled::Result<sled::Db>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        // sled's default page cache is 1 GiB; the OS page cache serves the rest as well.
        let config = sled::Config::new().path(path).cache_capacity(64 * 1024 * 1024);
        // sled reports some corruption by panicking while it recovers; the caller turns that into an error.
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| config.open()));
        match &opened {
            Ok(Err(sled::Error::Io(error))) if is_lock_error(error) && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            _ => return opened,
        }
    }
}

fn is_lock_error(error: &std::io::Error) -> bool {
    error.to_string().contains("could not acquire lock")
}

/// Checks the schema version, and creates the salt on first open.
fn prepare_meta(engine: &dyn Engine, commit: &GroupCommit, path: &Path, existed: bool) -> Result<Vec<u8>, StoreError> {
    let corrupt = |detail: &str| StoreError::Corrupt { path: path.to_owned(), detail: detail.into() };
    let mut schema = engine.get(b"meta/schema")?;
    if schema.is_none() {
        if existed {
            return Err(corrupt("the data file exists but sled recovered no jwtgate schema from it"));
        }
        let mut batch = Batch::default();
        batch.put("meta/schema", SCHEMA_VERSION.to_string());
        batch.put("meta/salt", hex::encode(random_bytes::<32>()?));
        if engine.apply_if_empty(batch)? {
            commit.commit()?;
        } else {
            // Another replica created the database just now (its salt wins), or this is data
            // without a schema.
            schema = Some(engine.get(b"meta/schema")?.ok_or_else(|| corrupt("data without a schema version"))?);
        }
    }
    if let Some(bytes) = schema {
        let found = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or_else(|| corrupt("meta/schema is not a number"))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::UnsupportedSchema { path: path.to_owned(), found, supported: SCHEMA_VERSION });
        }
    }
    let salt = engine.get(b"meta/salt")?.ok_or_else(|| StoreError::Corrupt {
        path: path.to_owned(),
        detail: "meta/salt is missing: token records cannot be found without it".into(),
    })?;
    hex::decode(&salt).map_err(|_| StoreError::Corrupt { path: path.to_owned(), detail: "meta/salt is not hex".into() })
}

fn new_ring_key(id: u32, created: i64) -> Result<RingKey, StoreError> {
    let secret = base64::engine::general_purpose::STANDARD.encode(random_bytes::<32>()?);
    Ok(RingKey { id, created, secret })
}

fn random_bytes<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| StoreError::Engine("the system random generator failed".into()))?;
    Ok(bytes)
}

/// 0700 on directories and 0600 on files below the database directory (CVE-2021-38553).
fn restrict_permissions(path: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io { path: path.to_owned(), source };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    for entry in std::fs::read_dir(path).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_type().map_err(io)?.is_dir() {
            restrict_permissions(&entry.path())?;
        } else {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
    }
    Ok(())
}
