//! Work to do once a write transaction has committed, such as waking the
//! dispatcher for a terugkoppeling just written (`outbox`).
//!
//! Code inside a transaction registers a hook with [`on_commit`]; the commit
//! paths in this module's parent run the hooks of the transactions they
//! committed and drop those of transactions (or savepoints) that rolled back,
//! so a hook never announces a write that did not happen. Hooks live in a
//! thread-local: a transaction's closure and its commit run on one thread
//! (the caller's, or the SQLite writer thread for owned jobs).

use std::cell::RefCell;

thread_local! {
    static HOOKS: RefCell<Vec<fn()>> = const { RefCell::new(Vec::new()) };
}

/// Runs `hook` after the current transaction commits (once, however often
/// it is registered in one transaction).
pub fn on_commit(hook: fn()) {
    HOOKS.with(|h| {
        let mut h = h.borrow_mut();
        if !h.contains(&hook) {
            h.push(hook);
        }
    });
}

/// Where the hooks of a transaction or savepoint about to start begin.
pub(super) fn mark() -> usize {
    HOOKS.with(|h| h.borrow().len())
}

/// Forgets the hooks registered since `mark` (their writes rolled back).
pub(super) fn discard(mark: usize) {
    HOOKS.with(|h| h.borrow_mut().truncate(mark));
}

/// Runs (and forgets) the hooks registered since `mark` (their writes
/// committed).
pub(super) fn run(mark: usize) {
    let hooks: Vec<fn()> = HOOKS.with(|h| {
        let mut h = h.borrow_mut();
        let from = mark.min(h.len());
        h.drain(from..).collect()
    });
    for hook in hooks {
        hook();
    }
}
