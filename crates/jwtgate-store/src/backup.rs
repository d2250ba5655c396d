//! Backup as JSON lines: a header line, then one `{"key":...,"value":...}` line per entry.
//! Tokens stay hashed. The export holds the salt and the batch-token key ring, so it must be
//! protected like the database itself.

use crate::engine::Batch;
use crate::error::StoreError;
use crate::Store;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};

#[derive(Serialize, Deserialize)]
struct Header {
    jwtgate_backup: u32,
    schema: u32,
}

#[derive(Serialize, Deserialize)]
struct Line {
    key: String,
    value: String,
}

impl Store {
    /// Writes every entry; returns how many.
    pub fn export(&self, out: &mut impl Write) -> Result<usize, StoreError> {
        let io = |source| StoreError::Io { path: self.path.clone(), source };
        let header = Header { jwtgate_backup: 1, schema: crate::SCHEMA_VERSION };
        writeln!(out, "{}", serde_json::to_string(&header).unwrap_or_default()).map_err(io)?;
        let mut count = 0;
        for (key, value) in self.engine.scan_prefix(b"", usize::MAX)? {
            let line = Line {
                key: String::from_utf8_lossy(&key).into_owned(),
                value: String::from_utf8_lossy(&value).into_owned(),
            };
            writeln!(out, "{}", serde_json::to_string(&line).unwrap_or_default()).map_err(io)?;
            count += 1;
        }
        out.flush().map_err(io)?;
        Ok(count)
    }

    /// Creates the database at `options.path` from a backup; the path must hold no data yet.
    /// Everything is parsed before anything is written. Returns the opened store and the number
    /// of entries imported.
    pub fn import(options: &crate::Options, input: impl BufRead) -> Result<(Store, usize), StoreError> {
        let count = Store::open(options)?.import_entries(input)?;
        // Reopen: the imported salt replaces the one this open generated.
        Ok((Store::open(options)?, count))
    }

    fn import_entries(&self, input: impl BufRead) -> Result<usize, StoreError> {
        let fresh =
            self.engine.scan_prefix(b"", 3)?.iter().all(|(key, _)| key == b"meta/schema" || key == b"meta/salt");
        if !fresh {
            return Err(StoreError::Import { line: 0, detail: "the target database is not empty".into() });
        }
        let mut lines = input.lines().enumerate();
        let header = match lines.next() {
            Some((_, Ok(text))) => serde_json::from_str::<Header>(&text).ok(),
            _ => None,
        };
        match header {
            Some(header) if header.jwtgate_backup == 1 && header.schema <= crate::SCHEMA_VERSION => {}
            _ => {
                return Err(StoreError::Import {
                    line: 1,
                    detail: "not a jwtgate backup of a supported version".into(),
                })
            }
        }
        let mut batch = Batch::default();
        for (index, text) in lines {
            let error = |detail: String| StoreError::Import { line: index + 1, detail };
            let text = text.map_err(|e| error(e.to_string()))?;
            if text.trim().is_empty() {
                continue;
            }
            let line: Line = serde_json::from_str(&text).map_err(|e| error(e.to_string()))?;
            batch.put(line.key, line.value);
        }
        let count = batch.0.len();
        let tokens =
            batch.0.iter().filter(|w| matches!(w, crate::Write::Put(key, _) if key.starts_with(b"token/"))).count();
        self.finish_counting();
        self.write(batch)?;
        // The gauge counts what was imported (and what a clean shutdown will persist).
        self.token_records.store(i64::try_from(tokens).unwrap_or(i64::MAX), std::sync::atomic::Ordering::Relaxed);
        self.counted();
        Ok(count)
    }
}

/// Entries copied per transaction by [`Store::migrate_to`].
const MIGRATE_CHUNK: usize = 5_000;

impl Store {
    /// Copies every entry to an empty PostgreSQL table (`jwtgate operator migrate`). The salt
    /// moves with the tokens, so they stay hashed and valid. The schema version is written
    /// last: a copy that was cut short is refused by a server (data without a schema), never
    /// served half-empty; drop the table and run it again. Returns how many entries it copied.
    pub fn migrate_to(&self, target: &crate::PostgresOptions) -> Result<usize, StoreError> {
        let engine = crate::PostgresEngine::connect(target)?;
        if !crate::Engine::is_empty(&engine) {
            return Err(StoreError::Engine(format!(
                "the postgresql table {} is not empty: migrate only into a new table",
                target.table
            )));
        }
        let (mut copied, mut start, mut schema) = (0, Vec::new(), Batch::default());
        loop {
            // Every key starts with an ASCII keyspace name, so all of them sort before 0xff.
            let chunk = self.engine.scan_range(&start, &[0xff], MIGRATE_CHUNK)?;
            let Some((last, _)) = chunk.last() else { break };
            start = [last.as_slice(), &[0]].concat();
            let mut batch = Batch::default();
            for (key, value) in chunk {
                match key.as_slice() {
                    b"meta/schema" => schema.put(key, value),
                    // The saved live-token count is one process's own; replicas count on demand.
                    b"meta/token_count" => {}
                    _ => batch.put(key, value),
                }
            }
            copied += batch.0.len();
            crate::Engine::apply(&engine, batch)?;
        }
        copied += schema.0.len();
        crate::Engine::apply(&engine, schema)?;
        Ok(copied)
    }
}
