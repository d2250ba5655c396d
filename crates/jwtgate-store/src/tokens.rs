//! Token operations. A token's record, accessor index, expiry index and mount index entries are
//! written in one atomic batch, so a crash never leaves half a token.
//!
//! Keyspaces (`H(x)` is the salted HMAC-SHA256 of `x`, hex):
//! `token/H(token)` → record; `accessor/H(accessor)` → `H(token)`;
//! `expiry/<20-digit expire time>/H(token)` → ""; `mount-token/<mount>\x1fH(token)` → "";
//! `child/H(parent)\x1fH(token)` → "" (Vault's token hierarchy).

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

fn child_key(parent: &str, hash: &str) -> String {
    format!("child/{parent}{SEP}{hash}")
}

fn children_prefix(parent: &str) -> String {
    format!("child/{parent}{SEP}")
}

/// Deeper chains are refused at creation, so liveness checks and revocations stay bounded.
pub const MAX_TOKEN_DEPTH: usize = 64;

impl Store {
    /// Stores a new token with its indexes; durable when this returns.
    pub fn create_token(&self, token: &str, record: &TokenRecord) -> Result<(), StoreError> {
        let durable = self.create_token_deferred(token, record)?;
        self.commit.wait_for(&durable)
    }

    /// Stores a new token with its indexes now; the future resolves once that is durable.
    /// For async callers: nothing blocks, and concurrent creates share one flush.
    pub fn create_token_deferred(&self, token: &str, record: &TokenRecord) -> Result<crate::Durable, StoreError> {
        self.write_token(token, record, Batch::default())
    }

    /// Stores a new token as a child of the live token `parent`: revoking the parent revokes it.
    /// `Ok(false)` (nothing stored) if the parent is not live or the chain would be too deep.
    pub fn create_child_token(
        &self,
        token: &str,
        record: &TokenRecord,
        parent: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let parent_hash = self.hash(parent);
        let Some(parent_record) = self.read_token(&parent_hash)?.filter(|r| is_live(r, now)) else { return Ok(false) };
        if self.depth(&parent_record, now)?.is_none_or(|depth| depth + 1 >= MAX_TOKEN_DEPTH) {
            return Ok(false);
        }
        let hash = self.hash(token);
        let mut batch = Batch::default();
        batch.put(child_key(&parent_hash, &hash), "");
        let record = TokenRecord { parent: parent_hash, orphan: false, ..record.clone() };
        let durable = self.write_token(token, &record, batch)?;
        self.commit.wait_for(&durable)?;
        // A revocation of the parent that scanned its children before this child existed
        // would leave it behind: the liveness check refuses it, and this tidies it now.
        if self.read_token(&record.parent)?.is_none() {
            self.revoke_hash(&hash)?;
            self.commit.commit()?;
            return Ok(false);
        }
        Ok(true)
    }

    fn write_token(&self, token: &str, record: &TokenRecord, mut batch: Batch) -> Result<crate::Durable, StoreError> {
        let hash = self.hash(token);
        batch.put(token_key(&hash), records::encode(record));
        batch.put(format!("accessor/{}", self.hash(&record.accessor)), hash.clone());
        if let Some(expire_time) = record.expire_time {
            batch.put(expiry_key(expire_time, &hash), "");
        }
        batch.put(mount_key(&record.mount, &hash), "");
        let durable = self.write_deferred(batch)?;
        // A token is random, so it is new: no read on the login path to find out.
        self.token_records.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(durable)
    }

    fn read_token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.get_record(&token_key(hash))
    }

    /// The record of a live token: `None` if unknown, revoked, expired at `now`, spent, or a
    /// descendant of a token that is not live.
    pub fn lookup_token(&self, token: &str, now: i64) -> Result<Option<TokenRecord>, StoreError> {
        self.live_in_chain(self.read_token(&self.hash(token))?, now)
    }

    /// The record of a live token by its accessor.
    pub fn lookup_accessor(&self, accessor: &str, now: i64) -> Result<Option<TokenRecord>, StoreError> {
        let Some(hash) = self.accessor_target(accessor)? else { return Ok(None) };
        self.live_in_chain(self.read_token(&hash)?, now)
    }

    fn live_in_chain(&self, record: Option<TokenRecord>, now: i64) -> Result<Option<TokenRecord>, StoreError> {
        match record.filter(|r| is_live(r, now)) {
            Some(record) if self.depth(&record, now)?.is_some() => Ok(Some(record)),
            _ => Ok(None),
        }
    }

    /// How many live ancestors `record` has; `None` if one of them is not live. Orphans (every
    /// login token) cost nothing here.
    fn depth(&self, record: &TokenRecord, now: i64) -> Result<Option<usize>, StoreError> {
        let mut parent = record.parent.clone();
        let mut depth = 0;
        while !parent.is_empty() {
            match self.read_token(&parent)?.filter(|r| is_live(r, now)) {
                Some(ancestor) if depth < MAX_TOKEN_DEPTH => parent = ancestor.parent,
                _ => return Ok(None),
            }
            depth += 1;
        }
        Ok(Some(depth))
    }

    /// The key a token's record is stored under (its salted HMAC): what a child's `parent`
    /// holds. Batch tokens carry it sealed.
    pub fn token_key(&self, token: &str) -> String {
        self.hash(token)
    }

    /// Whether the token stored under `key` and all its ancestors are live: a batch child's
    /// check on every use.
    pub fn chain_live(&self, key: &str, now: i64) -> Result<bool, StoreError> {
        let probe = TokenRecord { parent: key.to_owned(), ..TokenRecord::default() };
        Ok(self.depth(&probe, now)?.is_some())
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

    /// Revokes a token and its descendants, deepest first: an interrupted revocation leaves
    /// the named token live (so the call can be repeated), never a live child of a revoked
    /// parent. The caller commits.
    fn revoke_hash(&self, hash: &str) -> Result<bool, StoreError> {
        // (token, whether it has child entries): only those need their entries tidied after.
        let mut tree = vec![(hash.to_owned(), false)];
        let mut next = 0;
        while next < tree.len() {
            let prefix = children_prefix(&tree[next].0);
            let children = self.engine.scan_prefix(prefix.as_bytes(), usize::MAX)?;
            tree[next].1 = !children.is_empty();
            tree.extend(
                children
                    .into_iter()
                    .map(|(key, _)| (String::from_utf8_lossy(&key[prefix.len()..]).into_owned(), false)),
            );
            next += 1;
        }
        let mut revoked = false;
        for (member, has_children) in tree.iter().rev() {
            revoked = self.revoke_one(member)?;
            if *has_children {
                self.tidy_children(member)?;
            }
        }
        Ok(revoked)
    }

    /// Child entries left by a crash between a child's removal and its index cleanup.
    fn tidy_children(&self, hash: &str) -> Result<(), StoreError> {
        let prefix = children_prefix(hash);
        let entries = self.engine.scan_prefix(prefix.as_bytes(), usize::MAX)?;
        if !entries.is_empty() {
            let mut batch = Batch::default();
            for (key, _) in entries {
                batch.delete(key);
            }
            self.engine.apply(batch)?;
        }
        Ok(())
    }

    /// `revoke-orphan`: revokes the token only; its children become orphans first (so an
    /// interrupted call leaves the parent live to repeat it). `false` if it did not exist.
    pub fn revoke_orphan(&self, token: &str) -> Result<bool, StoreError> {
        let hash = self.hash(token);
        if self.read_token(&hash)?.is_none() {
            return Ok(false);
        }
        let prefix = children_prefix(&hash);
        for (key, _) in self.engine.scan_prefix(prefix.as_bytes(), usize::MAX)? {
            let child = token_key(&String::from_utf8_lossy(&key[prefix.len()..]));
            while let Some(bytes) = self.engine.get(child.as_bytes())? {
                let record: TokenRecord = records::decode(child.as_bytes(), &bytes)?;
                let orphaned = records::encode(&TokenRecord { parent: String::new(), orphan: true, ..record });
                if self.engine.compare_and_swap(child.as_bytes(), Some(&bytes), Some(&orphaned))?.is_ok() {
                    break;
                }
            }
            let mut batch = Batch::default();
            batch.delete(key);
            self.engine.apply(batch)?;
        }
        let revoked = self.revoke_one(&hash)?;
        self.commit.commit()?;
        Ok(revoked)
    }

    /// Removes one token whatever a concurrent writer does to it.
    fn revoke_one(&self, hash: &str) -> Result<bool, StoreError> {
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
        if !record.parent.is_empty() {
            batch.delete(child_key(&record.parent, hash));
        }
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

    /// Removes a live response-wrapping token and returns its record: for any one token, at
    /// most one call ever gets it (the removal is a compare-and-swap). `None` for any other
    /// token, which is left as it is.
    pub fn take_wrapped(&self, token: &str, now: i64) -> Result<Option<TokenRecord>, StoreError> {
        let hash = self.hash(token);
        let key = token_key(&hash);
        loop {
            let Some((bytes, record)) = self.read_live(&key, now)? else { return Ok(None) };
            if record.wrapped.is_empty() {
                return Ok(None);
            }
            if self.remove_token(&hash, &bytes, &record)? {
                self.commit.commit()?;
                return Ok(Some(record));
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
                        // Its descendants go with it, as in Vault; then the token itself
                        // (lost to a concurrent writer: the next sweep looks again).
                        let prefix = children_prefix(hash);
                        for (child, _) in self.engine.scan_prefix(prefix.as_bytes(), usize::MAX)? {
                            self.revoke_hash(&String::from_utf8_lossy(&child[prefix.len()..]))?;
                        }
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

    /// The accessors of every live token (`auth/token/accessors`; scans).
    pub fn accessors(&self, now: i64) -> Result<Vec<String>, StoreError> {
        let mut accessors = Vec::new();
        for (key, bytes) in self.engine.scan_prefix(b"token/", usize::MAX)? {
            let record: TokenRecord = records::decode(&key, &bytes)?;
            if is_live(&record, now) && !record.accessor.is_empty() {
                accessors.push(record.accessor);
            }
        }
        accessors.sort();
        Ok(accessors)
    }

    /// Revokes every token (and its descendants) created on a path starting with `prefix`
    /// (`sys/leases/revoke-prefix`; scans). Returns how many were named.
    pub fn revoke_path_prefix(&self, prefix: &str) -> Result<usize, StoreError> {
        let mut named = Vec::new();
        for (key, bytes) in self.engine.scan_prefix(b"token/", usize::MAX)? {
            let record: TokenRecord = records::decode(&key, &bytes)?;
            if record.path.starts_with(prefix) {
                named.push(String::from_utf8_lossy(&key["token/".len()..]).into_owned());
            }
        }
        for hash in &named {
            self.revoke_hash(hash)?;
        }
        self.commit.commit()?;
        Ok(named.len())
    }

    /// Stored token records, without scanning (a gauge for metrics: expired records count
    /// until the sweeper removes them). After a crash the first call starts a background
    /// count; until it lands only the tokens written since the start are counted.
    pub fn token_records(&self) -> i64 {
        self.start_counting();
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
