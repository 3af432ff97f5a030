//! Group commit for SQLite: every write transaction of this process on one
//! database file runs on a single writer connection, and the transactions
//! that queue up while one commits are committed together, with one `fsync`.
//!
//! SQLite has one writer at a time, and with `synchronous = FULL` each commit
//! waits for the disk. Committing one request per transaction makes the
//! durable flush, not the work, the limit on every write path (submit,
//! decisions, callback bookkeeping). Here a caller runs its own closure on its
//! own thread (so closures may borrow, as before), inside a savepoint of the
//! open batch transaction; when nobody else is queued for the writer, or the
//! batch is full, the caller that finished last commits for all. Every caller
//! returns only after the batch it wrote in has committed, so a success answer
//! still means durable. A failing closure rolls back its own savepoint and
//! leaves the others' writes alone; a failing `COMMIT` fails the whole batch,
//! and each of its callers gets `DbError::Unavailable` (nothing of it stored).
//!
//! Hot paths hand over *owned* jobs instead ([`GroupWriter::submit`], behind
//! `Db::write`): a dedicated writer thread runs whatever has queued back to
//! back and commits once, and the async caller awaits the result without a
//! blocking thread of its own. On two cores this matters: with callers taking
//! turns on the lock, every hand-over waits for the next caller's thread to
//! be scheduled.
//!
//! PostgreSQL shares WAL flushes between concurrent commits by itself; only
//! submissions are batched there, by `pg_writer`, to save round trips.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};

use super::guard::Guard;
use super::{DbConnection, DbError, Manager};

/// Most transactions committed together; bounds the latency one commit adds.
pub(super) const MAX_BATCH: usize = 64;

/// What a batch came to, for the callers that wrote in it.
pub(super) type Outcome = Result<(), String>;

type Panic = Box<dyn Any + Send + 'static>;

/// The writer of one SQLite database file.
pub struct GroupWriter {
    manager: Manager,
    /// Callers waiting for `state`: while there are any, a finished caller
    /// leaves the batch open for them instead of committing.
    queued: AtomicUsize,
    state: Mutex<State>,
    /// Batches committed (for the checkpointer) and the write transactions
    /// they carried.
    commits: AtomicU64,
    transactions: AtomicU64,
    /// Owned jobs for the writer thread (started with the writer).
    jobs: Sender<Box<dyn OwnedJob>>,
}

/// A write handed to a writer thread: it runs behind a [`Guard`] and
/// answers its caller once the batch has ended.
pub(super) trait OwnedJob: Send {
    /// Runs the job; returns how to answer once the batch has ended, whether
    /// its writes stand, and whether its guard ended cleanly.
    fn run(self: Box<Self>, conn: &mut DbConnection, guard: Guard) -> Ran;
    /// Answers without running (no connection, no transaction).
    fn fail(self: Box<Self>, message: String);
}

pub(super) struct Ran {
    pub(super) answer: Box<dyn FnOnce(&Outcome) + Send>,
    pub(super) wrote: bool,
    pub(super) intact: bool,
}

struct Typed<T, E, F> {
    f: F,
    reply: tokio::sync::oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> OwnedJob for Typed<T, E, F>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<diesel::result::Error> + From<DbError> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut DbConnection, guard: Guard) -> Ran {
        let Typed { f, reply } = *self;
        let (result, intact, panic) = run_guarded(conn, guard, f);
        if panic.is_some() {
            // The caller gets an error; the writer thread goes on.
            tracing::error!("a database write panicked; its transaction was rolled back");
        }
        let wrote = result.is_ok() && intact;
        Ran {
            answer: Box::new(move |outcome: &Outcome| {
                let answer = match (result, outcome) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Ok(_), Err(m)) => Err(not_committed(m).into()),
                    (Err(e), _) => Err(e),
                };
                let _ = reply.send(answer);
            }),
            wrote,
            intact,
        }
    }

    fn fail(self: Box<Self>, message: String) {
        let _ = self.reply.send(Err(DbError::Unavailable(message).into()));
    }
}

/// `f` as an owned job that answers on `reply`.
pub(super) fn owned_job<T, E, F>(
    f: F,
    reply: tokio::sync::oneshot::Sender<Result<T, E>>,
) -> Box<dyn OwnedJob>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<diesel::result::Error> + From<DbError> + Send + 'static,
{
    Box::new(Typed { f, reply })
}

fn not_committed(message: &str) -> DbError {
    DbError::Unavailable(format!("write not committed: {message}"))
}

#[derive(Default)]
struct State {
    conn: Option<DbConnection>,
    /// A batch transaction is open on `conn`.
    open: bool,
    /// Closures of the open batch whose writes stand.
    written: usize,
    /// Callers whose closures ran in the open batch, waiting for its end.
    waiting: Vec<SyncSender<Outcome>>,
}

/// One writer per database file in the process: two pools on one file (the
/// server and a test's own handle) must not contend through SQLite's
/// sleeping busy handler.
static WRITERS: Mutex<Option<HashMap<PathBuf, Weak<GroupWriter>>>> = Mutex::new(None);

impl GroupWriter {
    /// The writer of the file `manager` connects to, shared with any other
    /// pool of this process on the same file.
    pub(super) fn for_file(manager: Manager, file: PathBuf) -> Arc<Self> {
        let mut writers = WRITERS.lock().unwrap_or_else(PoisonError::into_inner);
        let map = writers.get_or_insert_with(HashMap::new);
        map.retain(|_, w| w.strong_count() > 0);
        if let Some(w) = map.get(&file).and_then(Weak::upgrade) {
            return w;
        }
        let (tx, rx) = channel();
        let w = Arc::new(Self {
            manager,
            queued: AtomicUsize::new(0),
            state: Mutex::new(State::default()),
            commits: AtomicU64::new(0),
            transactions: AtomicU64::new(0),
            jobs: tx,
        });
        super::checkpoint::spawn(w.manager.clone(), Arc::downgrade(&w));
        let weak = Arc::downgrade(&w);
        let spawned = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_thread(&weak, &rx));
        if let Err(e) = spawned {
            // Owned jobs then fail with 503; writes on callers' threads work.
            tracing::error!(error = %e, "SQLite writer thread not started");
        }
        map.insert(file, Arc::downgrade(&w));
        w
    }

    /// Commits so far and the write transactions they carried (including
    /// read-only ones that ended in a committing batch).
    pub fn stats(&self) -> (u64, u64) {
        (
            self.commits.load(Ordering::Relaxed),
            self.transactions.load(Ordering::Relaxed),
        )
    }

    /// Hands `f` to the writer thread; resolves once its batch has ended:
    /// `Ok` only if it committed.
    pub async fn submit<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<diesel::result::Error> + From<DbError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Box<dyn OwnedJob> = Box::new(Typed { f, reply });
        if self.jobs.send(job).is_err() {
            return Err(DbError::Unavailable("the SQLite writer thread stopped".into()).into());
        }
        answer.await.unwrap_or_else(|_| {
            Err(DbError::Unavailable("the SQLite writer thread stopped".into()).into())
        })
    }

    /// The writer thread's turn: `first` and whatever else has queued, in one
    /// batch, then the commit and the answers.
    fn run_owned(&self, first: Box<dyn OwnedJob>, rx: &Receiver<Box<dyn OwnedJob>>) {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.queued.fetch_sub(1, Ordering::SeqCst);
        if let Err(e) = self.open(&mut st) {
            first.fail(e.to_string());
            return;
        }
        let hooks = super::hooks::mark();
        let mut answers = Vec::new();
        let mut intact = true;
        let mut next = Some(first);
        while let Some(job) = next.take() {
            let Some(conn) = st.conn.as_mut() else {
                job.fail("writer connection lost".into());
                intact = false;
                break;
            };
            let ran = job.run(conn, Guard::Savepoint);
            answers.push(ran.answer);
            if ran.wrote {
                st.written += 1;
            }
            if !ran.intact {
                intact = false;
                break;
            }
            if answers.len() + st.waiting.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        // Callers on their own threads may have joined the batch before us
        // (they are in `waiting`); ending it here answers them too.
        let outcome = self.end_counted(&mut st, intact, answers.len());
        drop(st);
        if outcome.is_ok() {
            super::hooks::run(hooks);
        } else {
            super::hooks::discard(hooks);
        }
        for answer in answers {
            answer(&outcome);
        }
    }

    /// Runs `f` in the open batch (opening one if needed) and returns once
    /// that batch has ended: `Ok` only if it committed.
    pub fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<diesel::result::Error> + From<DbError>,
    {
        self.queued.fetch_add(1, Ordering::SeqCst);
        // A panic inside a closure is caught below, so a poisoned lock only
        // means a panic in this module's own bookkeeping; the state is still
        // consistent enough to end the batch.
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.queued.fetch_sub(1, Ordering::SeqCst);
        self.open(&mut st)?;
        let Some(conn) = st.conn.as_mut() else {
            return Err(DbError::Unavailable("no writer connection".into()).into());
        };
        let hooks = super::hooks::mark();
        let (result, intact, panic) = run_guarded(conn, Guard::Savepoint, f);
        if result.is_ok() && intact {
            st.written += 1;
        }
        let outcome = if !intact {
            // The savepoint could not be released or rolled back: the batch
            // is in an unknown state, so none of it may commit.
            Some(self.end(&mut st, false))
        } else if self.queued.load(Ordering::SeqCst) == 0 || st.waiting.len() + 1 >= MAX_BATCH {
            Some(self.end(&mut st, true))
        } else {
            None
        };
        let outcome = match outcome {
            Some(o) => {
                drop(st);
                o
            }
            None => {
                let (tx, rx) = sync_channel(1);
                st.waiting.push(tx);
                drop(st);
                rx.recv()
                    .unwrap_or_else(|_| Err("the batch was abandoned".into()))
            }
        };
        if result.is_ok() && outcome.is_ok() {
            super::hooks::run(hooks);
        } else {
            super::hooks::discard(hooks);
        }
        if let Some(p) = panic {
            resume_unwind(p);
        }
        // A closure's own error stands whatever the batch did; it waited for
        // the batch so that a row it collided with is committed (or gone)
        // when it looks again.
        let value = result?;
        match outcome {
            Ok(()) => Ok(value),
            Err(m) => Err(not_committed(&m).into()),
        }
    }

    fn open(&self, st: &mut State) -> Result<(), DbError> {
        if st.open {
            return Ok(());
        }
        if st.conn.is_none() {
            let mut conn = self
                .manager
                .establish()
                .map_err(|e| DbError::Unavailable(format!("writer connection: {e}")))?;
            // Checkpoints run on their own thread (see `checkpoint`).
            conn.batch_execute("PRAGMA wal_autocheckpoint = 0")
                .map_err(|e| DbError::Unavailable(format!("writer connection: {e}")))?;
            st.conn = Some(conn);
        }
        let Some(DbConnection::Sqlite(c)) = st.conn.as_mut() else {
            return Err(DbError::Invalid("group commit is for SQLite only".into()));
        };
        // IMMEDIATE takes the write lock now: another process on the file
        // makes us wait busy_timeout here rather than fail halfway.
        if let Err(e) = AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE") {
            if broken(st.conn.as_mut()) {
                st.conn = None;
            }
            return Err(e.into());
        }
        st.open = true;
        Ok(())
    }

    /// Commits (or rolls back) the open batch and tells its waiting callers;
    /// the caller ending it is one more transaction of the batch.
    fn end(&self, st: &mut State, commit: bool) -> Outcome {
        self.end_counted(st, commit, 1)
    }

    /// [`Self::end`] for a caller that ran `own` transactions in the batch.
    fn end_counted(&self, st: &mut State, commit: bool, own: usize) -> Outcome {
        let size = st.waiting.len() + own;
        batch_sizes().observe(size as f64);
        let outcome = match st.conn.as_mut() {
            None => Err("writer connection lost".to_owned()),
            Some(conn) if commit && st.written > 0 => {
                let committed =
                    <DbConnection as TransactionManager<DbConnection>>::commit_transaction(conn)
                        .map_err(|e| e.to_string());
                if committed.is_ok() {
                    self.commits.fetch_add(1, Ordering::Relaxed);
                    self.transactions.fetch_add(size as u64, Ordering::Relaxed);
                }
                committed
            }
            Some(conn) => {
                let rolled_back =
                    <DbConnection as TransactionManager<DbConnection>>::rollback_transaction(conn);
                match (commit, rolled_back) {
                    (true, Ok(())) => Ok(()),
                    (false, _) => Err("the batch was rolled back".to_owned()),
                    (true, Err(e)) => Err(e.to_string()),
                }
            }
        };
        // Anything still open (a savepoint that would not go, a failed
        // rollback) dies with the connection: SQLite rolls back on close.
        if outcome.is_err() || broken(st.conn.as_mut()) {
            st.conn = None;
        }
        st.open = false;
        st.written = 0;
        for w in st.waiting.drain(..) {
            let _ = w.send(outcome.clone());
        }
        outcome
    }
}

impl super::checkpoint::Commits for GroupWriter {
    fn commits(&self) -> &AtomicU64 {
        &self.commits
    }
}

/// The writer thread: waits for owned jobs until every handle on the writer
/// is gone.
fn writer_thread(writer: &Weak<GroupWriter>, rx: &Receiver<Box<dyn OwnedJob>>) {
    while let Ok(job) = rx.recv() {
        match writer.upgrade() {
            Some(w) => w.run_owned(job, rx),
            None => job.fail("the database was closed".into()),
        }
    }
}

/// Runs `f` behind `guard`. Returns its result, whether the guard ended
/// cleanly (its writes kept or undone), and a caught panic to resume later.
fn run_guarded<T, E, F>(
    conn: &mut DbConnection,
    guard: Guard,
    f: F,
) -> (Result<T, E>, bool, Option<Panic>)
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error> + From<DbError>,
{
    let hooks = super::hooks::mark();
    let before = super::hooks::before_mark();
    let at = match guard.open(conn) {
        Ok(at) => at,
        Err(e) => return (Err(e.into()), false, None),
    };
    let (result, intact, panic) = match catch_unwind(AssertUnwindSafe(|| f(&mut *conn))) {
        Ok(Ok(v)) => match guard.keep(conn) {
            Ok(()) => (Ok(v), true, None),
            Err(e) => (Err(e.into()), false, None),
        },
        Ok(Err(e)) => {
            let intact = guard.undo(conn, at).is_ok();
            (Err(e), intact, None)
        }
        Err(p) => {
            let intact = guard.undo(conn, at).is_ok();
            let e = DbError::Invalid("a write panicked".into());
            (Err(e.into()), intact, Some(p))
        }
    };
    if result.is_err() {
        super::hooks::discard(hooks);
        super::hooks::before_discard(before);
    }
    (result, intact, panic)
}

/// Whether the connection's transaction manager is unusable or still inside
/// a transaction it should not be in.
pub(super) fn broken(conn: Option<&mut DbConnection>) -> bool {
    conn.is_some_and(|c| {
        <DbConnection as TransactionManager<DbConnection>>::is_broken_transaction_manager(c)
    })
}

/// How many write transactions each SQLite commit carried: the operator's
/// view of how much group commit saves (a `_count` of commits, a `_sum` of
/// transactions).
fn batch_sizes() -> &'static prometheus::Histogram {
    static H: OnceLock<prometheus::Histogram> = OnceLock::new();
    H.get_or_init(|| {
        let h = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new(
                "sqlite_group_commit_transactions",
                "Write transactions committed together in one SQLite commit",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]),
        )
        .unwrap_or_else(|e| panic!("metric definition: {e}"));
        crate::metrics::register(Box::new(h.clone()));
        h
    })
}

thread_local! {
    /// The writer of the database the current blocking closure works on (set
    /// by `Db::run`), so `write_tx` finds it without every caller passing it.
    static CURRENT: RefCell<Option<Arc<GroupWriter>>> = const { RefCell::new(None) };
}

/// Makes `writer` current on this thread until the guard is dropped.
pub(super) fn enter(writer: Option<Arc<GroupWriter>>) -> Scope {
    Scope {
        previous: CURRENT.with(|c| c.replace(writer)),
    }
}

pub(super) fn current() -> Option<Arc<GroupWriter>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Restores the previous writer when dropped.
pub(super) struct Scope {
    previous: Option<Arc<GroupWriter>>,
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}
