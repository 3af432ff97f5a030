//! WAL checkpoints for SQLite off the write path.
//!
//! Left to SQLite, the commit that pushes the WAL past 1000 pages copies them
//! into the database file and syncs it, while holding the write lock: every
//! write queued behind it waits (the p99 of submit at half load was 40–110 ms
//! on two cores). The group-commit writer connection therefore has automatic
//! checkpoints off, and this thread, with a connection of its own, runs a
//! `PASSIVE` checkpoint shortly after commits: it copies what no reader still
//! needs and never blocks the writer, and the WAL restarts from the beginning
//! once a checkpoint has caught up.

use std::sync::Weak;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;

use super::Manager;

/// How often the checkpointer looks for new commits.
const INTERVAL: Duration = Duration::from_millis(200);

/// What the checkpointer watches: commits of the writer since it last ran.
pub(super) trait Commits: Send + Sync + 'static {
    fn commits(&self) -> &AtomicU64;
}

/// Starts the checkpointer of one database file; it stops when `owner` is gone.
pub(super) fn spawn<T: Commits>(manager: Manager, owner: Weak<T>) {
    let spawned = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || run(&manager, &owner));
    if let Err(e) = spawned {
        // Without it the WAL only grows until the next start; say so.
        tracing::error!(error = %e, "SQLite checkpoint thread not started");
    }
}

fn run<T: Commits>(manager: &Manager, owner: &Weak<T>) {
    let mut seen = 0;
    let mut conn = None;
    loop {
        std::thread::sleep(INTERVAL);
        let Some(owner) = owner.upgrade() else {
            return;
        };
        let now = owner.commits().load(Ordering::Relaxed);
        drop(owner);
        if now == seen {
            continue;
        }
        if conn.is_none() {
            conn = manager.establish().ok();
        }
        let Some(c) = conn.as_mut() else {
            continue;
        };
        match c.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
            Ok(()) => seen = now,
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
                conn = None;
            }
        }
    }
}
