//! Work to do once a write transaction has committed, such as waking the
//! dispatcher for a terugkoppeling just written (`outbox`).
//!
//! Code inside a transaction registers a hook with [`on_commit`]; the commit
//! paths in this module's parent run the hooks of the transactions they
//! committed and drop those of transactions (or savepoints) that rolled back,
//! so a hook never announces a write that did not happen. Hooks live in a
//! thread-local: a transaction's closure and its commit run on one thread
//! (the caller's, or the SQLite writer thread for owned jobs).
//!
//! Work that must happen *inside* a transaction, as its last statements
//! before `COMMIT`, is registered with [`before_commit`]: an item and the
//! function that takes all items of its kind at once. The audit log chains
//! its rows there on PostgreSQL (`audit::chain`): the lock on a chain's head
//! is then held only for the commit itself, and never while the transaction
//! waits for another lock. Only the PostgreSQL commit path of `write_tx`
//! runs them; SQLite's single writer needs no such step.

use std::any::Any;
use std::cell::RefCell;

use super::{DbConnection, DbResult};

/// Takes every item of its kind registered in the committing transaction,
/// in the order they were registered.
pub type BeforeCommit = fn(&mut DbConnection, Vec<Box<dyn Any>>) -> DbResult<()>;

thread_local! {
    static HOOKS: RefCell<Vec<fn()>> = const { RefCell::new(Vec::new()) };
    static BEFORE: RefCell<Vec<(BeforeCommit, Box<dyn Any>)>> = const { RefCell::new(Vec::new()) };
}

/// Hands `item` to `take` just before the current transaction commits
/// (PostgreSQL). Dropped, never taken, when the transaction or the savepoint
/// it was registered in rolls back.
pub fn before_commit(take: BeforeCommit, item: Box<dyn Any>) {
    BEFORE.with(|b| b.borrow_mut().push((take, item)));
}

/// Where the before-commit items of a transaction or savepoint begin.
pub(super) fn before_mark() -> usize {
    BEFORE.with(|b| b.borrow().len())
}

/// Forgets the items registered since `mark`.
pub(super) fn before_discard(mark: usize) {
    BEFORE.with(|b| b.borrow_mut().truncate(mark));
}

/// Runs the before-commit work registered since `mark`: each kind's function
/// once, with its items.
pub(super) fn before_run(conn: &mut DbConnection, mark: usize) -> DbResult<()> {
    let items: Vec<(BeforeCommit, Box<dyn Any>)> = BEFORE.with(|b| {
        let mut b = b.borrow_mut();
        let from = mark.min(b.len());
        b.drain(from..).collect()
    });
    let mut kinds: Vec<(BeforeCommit, Vec<Box<dyn Any>>)> = Vec::new();
    for (take, item) in items {
        match kinds
            .iter_mut()
            .find(|(t, _)| std::ptr::fn_addr_eq(*t, take))
        {
            Some((_, list)) => list.push(item),
            None => kinds.push((take, vec![item])),
        }
    }
    kinds
        .into_iter()
        .try_for_each(|(take, list)| take(conn, list))
}

/// Drops the before-commit items of a transaction however it ends (an error
/// or a panic in its closure), so none leaks into the thread's next one.
pub(super) struct BeforeGuard(pub(super) usize);

impl Drop for BeforeGuard {
    fn drop(&mut self) {
        before_discard(self.0);
    }
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
