//! Group commit: concurrent writers share one flush.
//!
//! A writer applies its batch and takes a sequence number; one flusher thread flushes whenever
//! writes are waiting, and every writer whose number is covered by a finished flush is released.
//! Synchronous writers wait on a condition variable; async writers await a [`Durable`] future,
//! so an async server never parks a thread per request.
//!
//! Async writers (logins) hand their batch over instead of applying it: the flusher applies
//! every batch queued since its last flush as one batch, then flushes. sled writes its log
//! buffer twice for every atomic batch however small, so one batch per group instead of one
//! per login is most of a durable login's cost (see docs/performance.md).

use crate::engine::{Batch, Engine};
use crate::error::StoreError;
use std::fs::File;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};

#[derive(Debug)]
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the flusher (work arrived) and the synchronous writers (a flush finished).
    changed: Condvar,
    /// `storage.sled.fsync`: also `fdatasync` the data file after sled's flush.
    fsync: Option<PathBuf>,
}

#[derive(Debug, Default)]
struct State {
    /// Sequence number of the last applied write.
    applied: u64,
    /// Every write up to this has its answer: durable, or covered by a failed flush.
    answered: u64,
    /// Writes whose flush failed (first, last, error); they are never reported durable.
    failed: Vec<(u64, u64, StoreError)>,
    flushes: u64,
    /// Batches handed over by [`GroupCommit::queue`], numbered up to `applied`, not yet applied.
    queued: Vec<Batch>,
    wakers: Vec<(u64, Waker)>,
    stopping: bool,
}

impl State {
    fn outcome(&self, ticket: u64) -> Option<Result<(), StoreError>> {
        if ticket > self.answered {
            return None;
        }
        match self.failed.iter().find(|(first, last, _)| (*first..=*last).contains(&ticket)) {
            Some((_, _, error)) => Some(Err(error.retold())),
            None => Some(Ok(())),
        }
    }
}

/// A write's place in the commit order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

impl GroupCommit {
    /// Starts the flusher thread over `engine`.
    pub(crate) fn start(engine: Arc<dyn Engine>, fsync: Option<PathBuf>) -> GroupCommit {
        let shared = Arc::new(Shared { state: Mutex::new(State::default()), changed: Condvar::new(), fsync });
        let flusher = shared.clone();
        std::thread::Builder::new()
            .name("jwtgate-commit".into())
            .spawn(move || flusher.run(engine.as_ref()))
            .map(drop)
            .unwrap_or_else(|error| tracing::error!(%error, "failed to start the commit thread"));
        GroupCommit { shared }
    }

    /// Called right after a write was applied: its place in the commit order.
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.number(None))
    }

    /// Hands `batch` to the flusher, which applies it with the others queued before its next
    /// flush; the future resolves once it is durable (or its apply or flush failed).
    pub(crate) fn queue(&self, batch: Batch) -> Durable {
        Durable { shared: self.shared.clone(), ticket: self.number(Some(batch)) }
    }

    /// The next place in the commit order (for a batch the flusher is to apply, or one already
    /// applied), and the flusher woken.
    fn number(&self, queued: Option<Batch>) -> u64 {
        let mut state = self.shared.lock();
        state.applied += 1;
        state.queued.extend(queued);
        let number = state.applied;
        drop(state);
        self.shared.changed.notify_all();
        number
    }

    /// Blocks until `ticket`'s write is durable.
    pub(crate) fn wait(&self, ticket: Ticket) -> Result<(), StoreError> {
        let mut state = self.shared.lock();
        loop {
            if let Some(outcome) = state.outcome(ticket.0) {
                return outcome;
            }
            state = self.shared.changed.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Applied just now, durable before returning.
    pub(crate) fn commit(&self) -> Result<(), StoreError> {
        self.wait(self.ticket())
    }

    /// Blocks until a deferred write is durable.
    pub(crate) fn wait_for(&self, durable: &Durable) -> Result<(), StoreError> {
        self.wait(Ticket(durable.ticket))
    }

    /// Flushes performed so far (for tests and metrics).
    pub(crate) fn flushes(&self) -> u64 {
        self.shared.lock().flushes
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.changed.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A writer that panicked cannot corrupt counters; keep going.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The flusher: whenever applied writes are not yet durable, flush once for all of them.
    fn run(&self, engine: &dyn Engine) {
        let mut state = self.lock();
        loop {
            while state.applied == state.answered && !state.stopping {
                state = self.changed.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if state.applied == state.answered && state.stopping {
                return;
            }
            // Everything applied or queued up to now is covered by the flush about to start.
            let target = state.applied;
            let queued = std::mem::take(&mut state.queued);
            drop(state);
            let result = apply_all(engine, queued).and_then(|()| engine.flush()).and_then(|()| self.sync_data());
            state = self.lock();
            state.flushes += 1;
            if let Err(error) = result {
                tracing::error!(%error, "applying or flushing failed; the writes it covered are reported as failed");
                let first = state.answered + 1;
                state.failed.push((first, target, error));
                // Only recent failures can still have waiters.
                if state.failed.len() > 64 {
                    state.failed.remove(0);
                }
            }
            state.answered = target;
            let ready: Vec<Waker> = {
                let covered = state.answered;
                let (ready, waiting): (Vec<_>, Vec<_>) =
                    state.wakers.drain(..).partition(|(ticket, _)| *ticket <= covered);
                state.wakers = waiting;
                ready.into_iter().map(|(_, waker)| waker).collect()
            };
            self.changed.notify_all();
            drop(state);
            ready.into_iter().for_each(Waker::wake);
            state = self.lock();
        }
    }

    fn sync_data(&self) -> Result<(), StoreError> {
        let Some(path) = &self.fsync else { return Ok(()) };
        let io = |source| StoreError::Io { path: path.clone(), source };
        File::open(path).and_then(|file| file.sync_data()).map_err(io)
    }
}

/// The queued batches as one atomic batch, in the order they were queued (a later write of a
/// key wins, as if they had been applied one by one).
fn apply_all(engine: &dyn Engine, queued: Vec<Batch>) -> Result<(), StoreError> {
    let writes: Vec<_> = queued.into_iter().flat_map(|batch| batch.0).collect();
    match writes.is_empty() {
        true => Ok(()),
        false => engine.apply(Batch(writes)),
    }
}

/// Resolves when a write is durable (or its flush failed).
#[derive(Debug)]
pub struct Durable {
    shared: Arc<Shared>,
    ticket: u64,
}

impl Future for Durable {
    type Output = Result<(), StoreError>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.shared.lock();
        match state.outcome(self.ticket) {
            Some(outcome) => Poll::Ready(outcome),
            None => {
                state.wakers.push((self.ticket, context.waker().clone()));
                Poll::Pending
            }
        }
    }
}
