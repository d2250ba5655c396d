//! The storage engine underneath the typed store: a small ordered key-value interface, so that a
//! replicated engine can replace sled without touching the typed layer.

use crate::error::StoreError;

/// One write of a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

/// Writes applied atomically: all of them or none, even across a crash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch(pub Vec<Write>);

impl Batch {
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.0.push(Write::Put(key.into(), value.into()));
    }
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) {
        self.0.push(Write::Delete(key.into()));
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Key-value pairs returned by a scan, in key order.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// A compare-and-swap lost to a concurrent writer; the caller re-reads and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict;

/// What a replica knows of writes made by other processes sharing its engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coherence {
    /// The engine's change counter: bumped by every write to a cached keyspace, by any process.
    pub changes: u64,
    /// The counter was read within the staleness bound, so caches built since are current.
    pub fresh: bool,
}

/// An ordered key-value engine. Writes become durable only after [`Engine::flush`].
pub trait Engine: Send + Sync + std::fmt::Debug {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every pair whose key starts with `prefix`, in key order, at most `limit` of them.
    fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Result<Pairs, StoreError>;
    /// Pairs with `start <= key < end`, in key order, at most `limit` of them.
    fn scan_range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Pairs, StoreError>;
    /// Replaces `key`'s value if it is still `expected` (`None`: absent); `new: None` deletes.
    fn compare_and_swap(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<Result<(), Conflict>, StoreError>;
    fn apply(&self, batch: Batch) -> Result<(), StoreError>;
    /// Makes every write applied before this call survive a process crash.
    fn flush(&self) -> Result<(), StoreError>;
    /// Whether the engine holds no key at all.
    fn is_empty(&self) -> bool;
    /// How many keys start with `prefix` (a full scan; values are not copied).
    fn count_prefix(&self, prefix: &[u8]) -> Result<usize, StoreError>;
    /// Applies `batch` only if the engine holds no key, atomically with that check (replicas
    /// creating one database race here); `false`, nothing written, if it held one.
    fn apply_if_empty(&self, batch: Batch) -> Result<bool, StoreError>;
    /// How long a caller should wait for one call before giving up on the engine (a database
    /// server that hangs); `None` for an embedded engine.
    fn deadline(&self) -> Option<std::time::Duration> {
        None
    }
    /// `None` for an engine no other process writes: there is nothing to learn.
    fn coherence(&self) -> Option<Coherence> {
        None
    }
    /// Whether this process holds `job`'s lease (a job that runs on one replica at a time).
    /// The lease ends when the process dies; an engine of one process always holds it.
    fn lead(&self, _job: &str) -> Result<bool, StoreError> {
        Ok(true)
    }
}

/// sled 0.34.7, one tree: keyspaces are key prefixes, so a batch spanning them is atomic.
#[derive(Debug)]
pub(crate) struct SledEngine {
    pub(crate) db: sled::Db,
}

impl Engine for SledEngine {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(key)?.map(|value| value.to_vec()))
    }

    fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Result<Pairs, StoreError> {
        self.db
            .scan_prefix(prefix)
            .take(limit)
            .map(|entry| entry.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(StoreError::from))
            .collect()
    }

    fn scan_range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Pairs, StoreError> {
        self.db
            .range(start..end)
            .take(limit)
            .map(|entry| entry.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(StoreError::from))
            .collect()
    }

    fn compare_and_swap(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<Result<(), Conflict>, StoreError> {
        Ok(self.db.compare_and_swap(key, expected, new)?.map_err(|_| Conflict))
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        let mut sled_batch = sled::Batch::default();
        for write in batch.0 {
            match write {
                Write::Put(key, value) => sled_batch.insert(key, value),
                Write::Delete(key) => sled_batch.remove(key),
            }
        }
        Ok(self.db.apply_batch(sled_batch)?)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.db.is_empty()
    }

    fn count_prefix(&self, prefix: &[u8]) -> Result<usize, StoreError> {
        let mut count = 0;
        for entry in self.db.scan_prefix(prefix).keys() {
            entry?;
            count += 1;
        }
        Ok(count)
    }

    /// sled is opened by one process (its file lock), so nothing can write between the check
    /// and the batch.
    fn apply_if_empty(&self, batch: Batch) -> Result<bool, StoreError> {
        if !self.is_empty() {
            return Ok(false);
        }
        self.apply(batch).map(|()| true)
    }
}
