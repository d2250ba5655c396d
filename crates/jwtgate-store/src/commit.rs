//! Group commit: concurrent writers share one flush.
//!
//! A writer applies its batch, takes a sequence number, and waits until a flush that started
//! after its sequence number was taken has finished. At most one flush runs at a time; the
//! writers that arrive while it runs are all covered by the next one.

use crate::engine::Engine;
use crate::error::StoreError;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};

#[derive(Debug)]
pub(crate) struct GroupCommit {
    /// Sequence number of the last applied write.
    applied: AtomicU64,
    state: Mutex<State>,
    done: Condvar,
    /// `storage.sled.fsync`: also `fdatasync` the data file after sled's flush.
    fsync: Option<PathBuf>,
    flushes: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    /// Every write with a sequence number up to this is durable.
    durable: u64,
    flushing: bool,
    /// The last flush failed: its error is reported to the writers it was meant to cover.
    failed_at: Option<(u64, String)>,
}

impl GroupCommit {
    pub(crate) fn new(fsync: Option<PathBuf>) -> GroupCommit {
        GroupCommit {
            applied: AtomicU64::new(0),
            state: Mutex::new(State::default()),
            done: Condvar::new(),
            fsync,
            flushes: AtomicU64::new(0),
        }
    }

    /// Called right after a write was applied; returns once that write is durable.
    pub(crate) fn commit(&self, engine: &dyn Engine) -> Result<(), StoreError> {
        let mine = self.applied.fetch_add(1, Ordering::SeqCst) + 1;
        let mut state = self.state.lock().map_err(|_| poisoned())?;
        loop {
            if state.durable >= mine {
                return Ok(());
            }
            if let Some((target, error)) = &state.failed_at {
                if *target >= mine {
                    return Err(StoreError::Engine(format!("flush failed: {error}")));
                }
            }
            if !state.flushing {
                state.flushing = true;
                // Everything applied up to now is covered by the flush about to start.
                let target = self.applied.load(Ordering::SeqCst);
                drop(state);
                let result = engine.flush().and_then(|()| self.sync_data());
                self.flushes.fetch_add(1, Ordering::Relaxed);
                state = self.state.lock().map_err(|_| poisoned())?;
                state.flushing = false;
                match result {
                    Ok(()) => state.durable = state.durable.max(target),
                    Err(error) => state.failed_at = Some((target, error.to_string())),
                }
                self.done.notify_all();
                continue;
            }
            state = self.done.wait(state).map_err(|_| poisoned())?;
        }
    }

    fn sync_data(&self) -> Result<(), StoreError> {
        let Some(path) = &self.fsync else { return Ok(()) };
        let io = |source| StoreError::Io { path: path.clone(), source };
        File::open(path).and_then(|file| file.sync_data()).map_err(io)
    }

    /// Flushes performed so far (for tests and metrics).
    pub(crate) fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }
}

fn poisoned() -> StoreError {
    StoreError::Engine("a writer panicked while holding the commit lock".into())
}
