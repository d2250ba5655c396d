//! Token operations. A token's record, accessor index, expiry index and mount index entries are
//! written in one atomic batch, so a crash never leaves half a token.
//!
//! Keyspaces (`H(x)` is the salted HMAC-SHA256 of `x`, hex):
//! `token/H(token)` → record; `accessor/H(accessor)` → `H(token)`;
//! `expiry/<20-digit expire time>/H(token)` → ""; `mount-token/<mount>\x1fH(token)` → "".

use crate::engine::Batch;
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
        update: impl Fn(&TokenRecord) -> Result<TokenRecord, E>,
    ) -> Result<Option<Result<TokenRecord, E>>, StoreError> {
        self.update_hash(&self.hash(token), now, update)
    }

    /// [`Store::update_token`] for the token an accessor names.
    pub fn update_accessor<E>(
        &self,
        accessor: &str,
        now: i64,
        update: impl Fn(&TokenRecord) -> Result<TokenRecord, E>,
    ) -> Result<Option<Result<TokenRecord, E>>, StoreError> {
        match self.accessor_target(accessor)? {
            Some(hash) => self.update_hash(&hash, now, update),
            None => Ok(None),
        }
    }

    /// A compare-and-swap loop: a concurrent use, renewal or revocation makes this one re-read
    /// and re-run `update`, so no read-modify-write of a token writes back a stale record.
    fn update_hash<E>(
        &self,
        hash: &str,
        now: i64,
        update: impl Fn(&TokenRecord) -> Result<TokenRecord, E>,
    ) -> Result<Option<Result<TokenRecord, E>>, StoreError> {
        let key = token_key(hash);
        loop {
            let Some((bytes, current)) = self.read_live(&key, now)? else { return Ok(None) };
            let updated = match update(&current) {
                Ok(updated) => updated,
                Err(error) => return Ok(Some(Err(error))),
            };
            let moved = current.expire_time != updated.expire_time;
            // The new expiry entry goes in first: a crash or a lost race leaves a stale entry
            // that the sweep tidies, never a live token the sweep cannot find.
            if let Some(new) = updated.expire_time.filter(|_| moved) {
                let mut batch = Batch::default();
                batch.put(expiry_key(new, hash), "");
                self.engine.apply(batch)?;
            }
            if self.engine.compare_and_swap(key.as_bytes(), Some(&bytes), Some(&records::encode(&updated)))?.is_err() {
                continue;
            }
            if let Some(old) = current.expire_time.filter(|_| moved) {
                let mut batch = Batch::default();
                batch.delete(expiry_key(old, hash));
                self.engine.apply(batch)?;
            }
            self.commit.commit()?;
            return Ok(Some(Ok(updated)));
        }
    }

    /// A token's stored bytes and record, when it is live at `now`.
    fn read_live(&self, key: &str, now: i64) -> Result<Option<(Vec<u8>, TokenRecord)>, StoreError> {
        let Some(bytes) = self.engine.get(key.as_bytes())? else { return Ok(None) };
        let record: TokenRecord = records::decode(key.as_bytes(), &bytes)?;
        Ok(is_live(&record, now).then_some((bytes, record)))
    }

    /// Revokes a token: never usable again once this returns. `false` if it did not exist.
    pub fn revoke_token(&self, token: &str) -> Result<bool, StoreError> {
        let revoked = self.revoke_hash(&self.hash(token))?;
        self.commit.commit()?;
        Ok(revoked)
    }

    /// Revokes the token an accessor names. `false` if there was none.
    pub fn revoke_accessor(&self, accessor: &str) -> Result<bool, StoreError> {
        let Some(hash) = self.accessor_target(accessor)? else { return Ok(false) };
        let revoked = self.revoke_hash(&hash)?;
        self.commit.commit()?;
        Ok(revoked)
    }

    /// Removes a token whatever a concurrent writer does to it; the caller commits.
    fn revoke_hash(&self, hash: &str) -> Result<bool, StoreError> {
        let key = token_key(hash);
        loop {
            let Some(bytes) = self.engine.get(key.as_bytes())? else { return Ok(false) };
            let record: TokenRecord = records::decode(key.as_bytes(), &bytes)?;
            if self.remove_token(hash, &bytes, &record)? {
                return Ok(true);
            }
        }
    }

    /// Deletes the record if it still is `bytes` (compare-and-swap), then its index entries.
    /// `false` when a concurrent writer changed or removed it first. Index entries left by a
    /// crash in between point at nothing and are tidied by the sweep and by mount removal.
    fn remove_token(&self, hash: &str, bytes: &[u8], record: &TokenRecord) -> Result<bool, StoreError> {
        if self.engine.compare_and_swap(token_key(hash).as_bytes(), Some(bytes), None)?.is_err() {
            return Ok(false);
        }
        self.token_records.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        let mut batch = Batch::default();
        batch.delete(format!("accessor/{}", self.hash(&record.accessor)));
        if let Some(expire_time) = record.expire_time {
            batch.delete(expiry_key(expire_time, hash));
        }
        batch.delete(mount_key(&record.mount, hash));
        self.engine.apply(batch)?;
        Ok(true)
    }

    /// Counts one use of a token. With `num_uses = n`, exactly `n` calls ever succeed, however
    /// many run at once: the decrement is a compare-and-swap, and the last use marks the
    /// record spent (-1) before its entries are deleted.
    pub fn use_token(&self, token: &str, now: i64) -> Result<UseOutcome, StoreError> {
        let hash = self.hash(token);
        let key = token_key(&hash);
        loop {
            let Some((bytes, record)) = self.read_live(&key, now)? else { return Ok(UseOutcome::Refused) };
            if record.num_uses == 0 {
                return Ok(UseOutcome::Unlimited);
            }
            let remaining = record.num_uses - 1;
            let next = records::encode(&TokenRecord {
                num_uses: if remaining == 0 { -1 } else { remaining },
                ..record.clone()
            });
            if self.engine.compare_and_swap(key.as_bytes(), Some(&bytes), Some(&next))?.is_err() {
                continue;
            }
            if remaining > 0 {
                self.commit.commit()?;
                return Ok(UseOutcome::Remaining(remaining));
            }
            // Spent is already refused by every lookup; removing it only tidies up, and a
            // concurrent revocation may have done that first.
            self.remove_token(&hash, &next, &record)?;
            self.commit.commit()?;
            return Ok(UseOutcome::LastUse);
        }
    }

    /// Revokes every token issued by `mount`; returns how many.
    pub fn revoke_mount_tokens(&self, mount: &str) -> Result<usize, StoreError> {
        let prefix = format!("mount-token/{mount}{SEP}");
        let mut revoked = 0;
        loop {
            let entries = self.engine.scan_prefix(prefix.as_bytes(), 1000)?;
            if entries.is_empty() {
                self.commit.commit()?;
                return Ok(revoked);
            }
            for (key, _) in entries {
                let hash = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
                if self.revoke_hash(&hash)? {
                    revoked += 1;
                } else {
                    let mut batch = Batch::default();
                    batch.delete(key);
                    self.engine.apply(batch)?;
                }
            }
        }
    }

    /// Deletes up to `limit` tokens that expired at or before `now`; returns how many entries
    /// it removed. Meant for a background task; lookups refuse expired tokens regardless.
    pub fn sweep_expired(&self, now: i64, limit: usize) -> Result<usize, StoreError> {
        let end = format!("expiry/{:020}/~", now.max(0));
        let entries = self.engine.scan_range(b"expiry/", end.as_bytes(), limit)?;
        let mut removed = 0;
        for (key, _) in &entries {
            let text = String::from_utf8_lossy(key);
            let Some(hash) = text.rsplit('/').next() else { continue };
            let token = token_key(hash);
            let stale = match self.engine.get(token.as_bytes())? {
                None => true,
                Some(bytes) => {
                    let record: TokenRecord = records::decode(token.as_bytes(), &bytes)?;
                    if record.expire_time.is_some_and(|at| at <= now) {
                        // Lost to a concurrent writer: the next sweep looks again.
                        removed += usize::from(self.remove_token(hash, &bytes, &record)?);
                        false
                    } else {
                        // Renewed since this entry was written (a renewal writes its new entry first).
                        true
                    }
                }
            };
            if stale {
                let mut batch = Batch::default();
                batch.delete(key.clone());
                self.engine.apply(batch)?;
            }
        }
        if !entries.is_empty() {
            self.commit.commit()?;
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
