//! Token operations. A token's record, accessor index, expiry index and mount index entries are
//! written in one atomic batch, so a crash never leaves half a token.
//!
//! Keyspaces (`H(x)` is the salted HMAC-SHA256 of `x`, hex):
//! `token/H(token)` → record; `accessor/H(accessor)` → `H(token)`;
//! `expiry/<20-digit expire time>/H(token)` → ""; `mount-token/<mount>\x1fH(token)` → "".

use crate::engine::{Batch, Conflict};
use crate::error::StoreError;
use crate::records::{self, TokenRecord};
use crate::{Store, SEP};

/// What using a token once did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseOutcome {
    /// The token has no use limit.
    Unlimited,
    /// This use was allowed; `n` uses remain.
    Remaining(i64),
    /// This use was allowed and was the last: the token is now revoked.
    LastUse,
    /// The token does not exist, is expired, or its uses are spent.
    Refused,
}

fn token_key(hash: &str) -> String {
    format!("token/{hash}")
}

fn expiry_key(expire_time: i64, hash: &str) -> String {
    format!("expiry/{:020}/{hash}", expire_time.max(0))
}

fn mount_key(mount: &str, hash: &str) -> String {
    format!("mount-token/{mount}{SEP}{hash}")
}

impl Store {
    /// Stores a new token with its indexes; durable when this returns.
    pub fn create_token(&self, token: &str, record: &TokenRecord) -> Result<(), StoreError> {
        let durable = self.create_token_deferred(token, record)?;
        self.commit.wait_for(&durable)
    }

    /// Stores a new token with its indexes now; the future resolves once that is durable.
    /// For async callers: nothing blocks, and concurrent creates share one flush.
    pub fn create_token_deferred(&self, token: &str, record: &TokenRecord) -> Result<crate::Durable, StoreError> {
        let hash = self.hash(token);
        let mut batch = Batch::default();
        batch.put(token_key(&hash), records::encode(record));
        batch.put(format!("accessor/{}", self.hash(&record.accessor)), hash.clone());
        if let Some(expire_time) = record.expire_time {
            batch.put(expiry_key(expire_time, &hash), "");
        }
        batch.put(mount_key(&record.mount, &hash), "");
        let existed = self.engine.get(token_key(&hash).as_bytes())?.is_some();
        let durable = self.write_deferred(batch)?;
        if !existed {
            self.token_records.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(durable)
    }

    fn read_token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.get_record(&token_key(hash))
    }

    /// The record of a live token: `None` if unknown, revoked, expired at `now`, or spent.
    pub fn lookup_token(&self, token: &str, now: i64) -> Result<Option<TokenRecord>, StoreError> {
        Ok(self.read_token(&self.hash(token))?.filter(|record| is_live(record, now)))
    }

    /// The record of a live token by its accessor.
    pub fn lookup_accessor(&self, accessor: &str, now: i64) -> Result<Option<TokenRecord>, StoreError> {
        let Some(hash) = self.accessor_target(accessor)? else { return Ok(None) };
        Ok(self.read_token(&hash)?.filter(|record| is_live(record, now)))
    }

    fn accessor_target(&self, accessor: &str) -> Result<Option<String>, StoreError> {
        let key = format!("accessor/{}", self.hash(accessor));
        Ok(self.engine.get(key.as_bytes())?.map(|hash| String::from_utf8_lossy(&hash).into_owned()))
    }

    /// Rewrites a live token's record with `update` (renewal); the expiry index follows.
    /// Returns the new record, or `None` if the token is not live.
    pub fn update_token<E>(
        &self,
        token: &str,
        now: i64,
        update: impl FnOnce(&TokenRecord) -> Result<TokenRecord, E>,
    ) -> Result<Option<Result<TokenRecord, E>>, StoreError> {
        self.update_hash(&self.hash(token), now, update)
    }

    /// [`Store::update_token`] for the token an accessor names.
    pub fn update_accessor<E>(
        &self,
        accessor: &str,
        now: i64,
        update: impl FnOnce(&TokenRecord) -> Result<TokenRecord, E>,
    ) -> Result<Option<Result<TokenRecord, E>>, StoreError> {
        match self.accessor_target(accessor)? {
            Some(hash) => self.update_hash(&hash, now, update),
            None => Ok(None),
        }
    }

    fn update_hash<E>(
        &self,
        hash: &str,
        now: i64,
        update: impl FnOnce(&TokenRecord) -> Result<TokenRecord, E>,
    ) -> Result<Option<Result<TokenRecord, E>>, StoreError> {
        let _guard = self.stripe(hash);
        let Some(current) = self.read_token(hash)?.filter(|record| is_live(record, now)) else {
            return Ok(None);
        };
        let updated = match update(&current) {
            Ok(updated) => updated,
            Err(error) => return Ok(Some(Err(error))),
        };
        let mut batch = Batch::default();
        if current.expire_time != updated.expire_time {
            if let Some(old) = current.expire_time {
                batch.delete(expiry_key(old, hash));
            }
            if let Some(new) = updated.expire_time {
                batch.put(expiry_key(new, hash), "");
            }
        }
        batch.put(token_key(hash), records::encode(&updated));
        self.write(batch)?;
        Ok(Some(Ok(updated)))
    }

    /// Revokes a token: never usable again once this returns. `false` if it did not exist.
    pub fn revoke_token(&self, token: &str) -> Result<bool, StoreError> {
        let hash = self.hash(token);
        self.revoke_hash(&hash)
    }

    /// Revokes the token an accessor names. `false` if there was none.
    pub fn revoke_accessor(&self, accessor: &str) -> Result<bool, StoreError> {
        match self.accessor_target(accessor)? {
            Some(hash) => self.revoke_hash(&hash),
            None => Ok(false),
        }
    }

    fn revoke_hash(&self, hash: &str) -> Result<bool, StoreError> {
        let _guard = self.stripe(hash);
        let Some(record) = self.read_token(hash)? else { return Ok(false) };
        let mut batch = Batch::default();
        self.delete_token_entries(&mut batch, hash, &record);
        self.write(batch)?;
        Ok(true)
    }

    /// Queues a token's deletion; the caller writes the batch. Counted now: a failed write is
    /// an error the caller reports, and the counter is only a gauge.
    fn delete_token_entries(&self, batch: &mut Batch, hash: &str, record: &TokenRecord) {
        self.token_records.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        batch.delete(token_key(hash));
        batch.delete(format!("accessor/{}", self.hash(&record.accessor)));
        if let Some(expire_time) = record.expire_time {
            batch.delete(expiry_key(expire_time, hash));
        }
        batch.delete(mount_key(&record.mount, hash));
    }

    /// Counts one use of a token. With `num_uses = n`, exactly `n` calls ever succeed, however
    /// many run at once: the decrement is a compare-and-swap, and the last use marks the
    /// record spent (-1) before its entries are deleted.
    pub fn use_token(&self, token: &str, now: i64) -> Result<UseOutcome, StoreError> {
        let hash = self.hash(token);
        let key = token_key(&hash);
        loop {
            let Some(bytes) = self.engine.get(key.as_bytes())? else { return Ok(UseOutcome::Refused) };
            let record: TokenRecord = records::decode(key.as_bytes(), &bytes)?;
            if !is_live(&record, now) {
                return Ok(UseOutcome::Refused);
            }
            if record.num_uses == 0 {
                return Ok(UseOutcome::Unlimited);
            }
            let remaining = record.num_uses - 1;
            let next = TokenRecord { num_uses: if remaining == 0 { -1 } else { remaining }, ..record.clone() };
            match self.engine.compare_and_swap(key.as_bytes(), Some(&bytes), Some(&records::encode(&next)))? {
                Err(Conflict) => continue,
                Ok(()) if remaining > 0 => {
                    self.commit.commit()?;
                    return Ok(UseOutcome::Remaining(remaining));
                }
                Ok(()) => {
                    // Spent is already durable-once-flushed and refused by every lookup; the
                    // deletion below only tidies up.
                    let _guard = self.stripe(&hash);
                    let mut batch = Batch::default();
                    self.delete_token_entries(&mut batch, &hash, &record);
                    self.write(batch)?;
                    return Ok(UseOutcome::LastUse);
                }
            }
        }
    }

    /// Revokes every token issued by `mount`; returns how many.
    pub fn revoke_mount_tokens(&self, mount: &str) -> Result<usize, StoreError> {
        let prefix = format!("mount-token/{mount}{SEP}");
        let mut revoked = 0;
        loop {
            let entries = self.engine.scan_prefix(prefix.as_bytes(), 1000)?;
            if entries.is_empty() {
                return Ok(revoked);
            }
            let mut batch = Batch::default();
            for (key, _) in entries {
                let hash = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                match self.read_token(&hash)? {
                    Some(record) => {
                        self.delete_token_entries(&mut batch, &hash, &record);
                        revoked += 1;
                    }
                    None => batch.delete(key),
                }
            }
            self.write(batch)?;
        }
    }

    /// Deletes up to `limit` tokens that expired at or before `now`; returns how many entries
    /// it removed. Meant for a background task; lookups refuse expired tokens regardless.
    pub fn sweep_expired(&self, now: i64, limit: usize) -> Result<usize, StoreError> {
        let end = format!("expiry/{:020}/~", now.max(0));
        let entries = self.engine.scan_range(b"expiry/", end.as_bytes(), limit)?;
        let mut batch = Batch::default();
        let mut removed = 0;
        for (key, _) in &entries {
            let text = String::from_utf8_lossy(key);
            let Some(hash) = text.rsplit('/').next() else { continue };
            let _guard = self.stripe(hash);
            match self.read_token(hash)? {
                Some(record) if record.expire_time.is_some_and(|at| at <= now) => {
                    self.delete_token_entries(&mut batch, hash, &record);
                    removed += 1;
                }
                // Missing record, or renewed since this entry was written: a stale entry.
                _ => batch.delete(key.clone()),
            }
        }
        if !batch.is_empty() {
            self.write(batch)?;
        }
        Ok(removed)
    }

    /// Stored token records, without scanning (a gauge for metrics: expired records count
    /// until the sweeper removes them).
    pub fn token_records(&self) -> i64 {
        self.token_records.load(std::sync::atomic::Ordering::Relaxed).max(0)
    }

    /// Number of stored token records (scans; for tests and benchmarks).
    pub fn token_count(&self) -> Result<usize, StoreError> {
        self.engine.count_prefix(b"token/")
    }
}

fn is_live(record: &TokenRecord, now: i64) -> bool {
    record.num_uses >= 0 && record.expire_time.is_none_or(|at| now < at)
}
