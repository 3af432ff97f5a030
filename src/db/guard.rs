//! How one job of a shared write transaction is kept apart from the others:
//! should it fail, its writes go and theirs stay.
//!
//! The SQLite writer releases a savepoint per job; that is in-process and
//! costs next to nothing. On PostgreSQL each `SAVEPOINT` and `RELEASE` is a
//! round trip, and the submission batches (`pg_writer`) paid two per
//! submission for a failure that almost never comes. There the first job of
//! a batch runs with no savepoint at all (if it fails, the transaction holds
//! nothing else yet: it is rolled back and begun anew), and every later job
//! opens a savepoint that is never released: `COMMIT` ends them all, and
//! `ROLLBACK TO` the newest of that name undoes only the job that opened it.
//! A released savepoint's subtransaction stays counted until `COMMIT` as
//! well, so a batch (at most `MAX_BATCH` jobs, 63 savepoints) holds no more
//! of them than before, within the 64 a PostgreSQL backend keeps in shared
//! memory before every snapshot in the server has to look further.

use diesel::connection::{SimpleConnection, TransactionManager};
use diesel::result::QueryResult;

use super::DbConnection;

type Tm = DbConnection;

/// The savepoint every later job of a PostgreSQL batch opens; a name may be
/// reused, and a rollback goes to the newest savepoint of that name.
const STANDING: &str = "batch_job";

/// How a job's writes are kept apart from the rest of its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Guard {
    /// A savepoint through diesel's transaction manager, released after the
    /// job (SQLite).
    Savepoint,
    /// The first job of a PostgreSQL batch: none; on failure the whole
    /// transaction, which holds only this job's writes, starts over.
    First,
    /// A later job of a PostgreSQL batch: a savepoint left standing until
    /// the batch's `COMMIT`.
    Standing,
}

impl Guard {
    /// Before the job; returns the transaction depth to come back to.
    pub(super) fn open(self, conn: &mut DbConnection) -> QueryResult<u32> {
        let at = depth(conn)?;
        match self {
            Guard::Savepoint => <Tm as TransactionManager<Tm>>::begin_transaction(conn)?,
            Guard::First => {}
            Guard::Standing => conn.batch_execute(&format!("SAVEPOINT {STANDING}"))?,
        }
        Ok(at)
    }

    /// After a job that succeeded.
    pub(super) fn keep(self, conn: &mut DbConnection) -> QueryResult<()> {
        match self {
            Guard::Savepoint => <Tm as TransactionManager<Tm>>::commit_transaction(conn),
            Guard::First | Guard::Standing => Ok(()),
        }
    }

    /// After a job that failed (or panicked): undoes its writes and leaves
    /// the batch's transaction open at depth `at`, as it was before the job.
    pub(super) fn undo(self, conn: &mut DbConnection, at: u32) -> QueryResult<()> {
        // A job that panicked may have left transactions of its own open
        // (diesel's savepoints above ours): they go first, or a rollback
        // would end one of them instead of the job's writes.
        let floor = match self {
            Guard::Savepoint => at + 1,
            Guard::First | Guard::Standing => at,
        };
        while depth(conn)? > floor {
            <Tm as TransactionManager<Tm>>::rollback_transaction(conn)?;
        }
        match self {
            Guard::Savepoint => <Tm as TransactionManager<Tm>>::rollback_transaction(conn),
            Guard::First => {
                <Tm as TransactionManager<Tm>>::rollback_transaction(conn)?;
                <Tm as TransactionManager<Tm>>::begin_transaction(conn)
            }
            Guard::Standing => conn.batch_execute(&format!("ROLLBACK TO SAVEPOINT {STANDING}")),
        }
    }
}

/// Diesel's transaction depth on `conn` (0: none open).
fn depth(conn: &mut DbConnection) -> QueryResult<u32> {
    Ok(
        <Tm as TransactionManager<Tm>>::transaction_manager_status_mut(conn)
            .transaction_depth()?
            .map_or(0, |d| d.get()),
    )
}
