//! Group commit for PostgreSQL submissions: concurrent write jobs share one
//! transaction and one `COMMIT`, each behind a guard of its own (`guard`:
//! none for the first, a savepoint left standing for the others).
//!
//! PostgreSQL shares WAL flushes between concurrent commits by itself, but
//! every transaction still costs its `BEGIN` and `COMMIT` round trips, a
//! backend wake-up per flush, and the audit chain's before-commit work
//! (`audit::chain`: locking a lane and updating its head). Profiled under
//! SOAP submit load these, not the inserts, were most of a submission's
//! database time. Here a few writer threads each take whatever jobs have
//! queued (up to [`MAX_BATCH`]), run them back to back on one connection in
//! one transaction, seal the audit rows of the whole batch at once and
//! commit once; while one thread waits for its commit the next runs its
//! batch.
//!
//! The guarantees are those of the SQLite writer (`writer`): a caller is
//! answered only after the batch it wrote in has committed, with
//! `synchronous_commit` as configured on the server (on by default); a job
//! that fails has its own writes undone and leaves the others' alone; a
//! failing `COMMIT` or a lost connection fails every job of the batch with
//! `DbError::Unavailable`, and nothing of that batch is stored.
//!
//! Only jobs handed over with `Db::write_batched` come here (submissions).
//! The dispatcher keeps its transactions on pooled connections: its record
//! and lease jobs run side by side, which one connection would serialise.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use diesel::connection::{SimpleConnection, TransactionManager};

use super::guard::Guard;
use super::writer::{MAX_BATCH, Outcome, OwnedJob, broken, owned_job};
use super::{DbConnection, DbError, Manager};

type Job = Box<dyn OwnedJob>;

/// The writer threads of one pool and their queue.
pub struct PgWriter {
    jobs: Sender<Job>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    commits: AtomicU64,
    transactions: AtomicU64,
}

impl PgWriter {
    /// Starts `threads` writer threads (at least one), each with a
    /// connection of its own, made by `manager` when first needed.
    pub(super) fn start(manager: &Manager, threads: usize) -> Arc<Self> {
        let (tx, rx) = channel();
        let rx = Arc::new(Mutex::new(rx));
        let counts = Arc::new(Counts::default());
        for n in 0..threads.max(1) {
            let (manager, rx, counts) = (manager.clone(), rx.clone(), counts.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("pg-writer-{n}"))
                .spawn(move || writer_thread(&manager, &rx, &counts));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "PostgreSQL writer thread not started");
            }
        }
        Arc::new(Self { jobs: tx, counts })
    }

    /// Commits so far and the write transactions they carried.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.counts.commits.load(Ordering::Relaxed),
            self.counts.transactions.load(Ordering::Relaxed),
        )
    }

    /// Queues `f`; resolves once its batch has ended: `Ok` only if it
    /// committed.
    pub async fn submit<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<diesel::result::Error> + From<DbError> + Send + 'static,
    {
        let stopped = || DbError::Unavailable("the PostgreSQL writer stopped".into());
        let (reply, answer) = tokio::sync::oneshot::channel();
        if self.jobs.send(owned_job(f, reply)).is_err() {
            return Err(stopped().into());
        }
        answer.await.unwrap_or_else(|_| Err(stopped().into()))
    }
}

/// One writer thread: takes what has queued, runs it as a batch; ends when
/// every handle on the writer is gone (its connection closes with it).
fn writer_thread(manager: &Manager, rx: &Mutex<Receiver<Job>>, counts: &Counts) {
    let mut conn: Option<DbConnection> = None;
    loop {
        let batch = {
            let rx = rx.lock().unwrap_or_else(PoisonError::into_inner);
            let Ok(first) = rx.recv() else { return };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            batch
        };
        run_batch(manager, &mut conn, batch, counts);
    }
}

fn connect(manager: &Manager, conn: &mut Option<DbConnection>) -> Result<(), String> {
    if conn.is_none() {
        let mut c = manager
            .establish()
            .map_err(|e| format!("writer connection: {e}"))?;
        // Lets an operator (and the tests) tell the writers' sessions in
        // pg_stat_activity from the pool's.
        c.batch_execute("SET application_name = 'machtigingen-writer'")
            .map_err(|e| format!("writer connection: {e}"))?;
        *conn = Some(c);
    }
    Ok(())
}

fn run_batch(manager: &Manager, slot: &mut Option<DbConnection>, jobs: Vec<Job>, counts: &Counts) {
    type Tm = DbConnection;
    let begun = connect(manager, slot).and_then(|()| match slot.as_mut() {
        Some(c) => <Tm as TransactionManager<Tm>>::begin_transaction(c).map_err(|e| e.to_string()),
        None => Err("no writer connection".into()),
    });
    if let Err(e) = begun {
        if broken(slot.as_mut()) {
            *slot = None;
        }
        for job in jobs {
            job.fail(e.clone());
        }
        return;
    }
    let hooks = super::hooks::mark();
    let before = super::hooks::before_mark();
    let size = jobs.len();
    let mut answers = Vec::with_capacity(size);
    let mut written = 0usize;
    let mut intact = true;
    for (n, job) in jobs.into_iter().enumerate() {
        match slot.as_mut() {
            Some(conn) if intact => {
                let guard = if n == 0 {
                    Guard::First
                } else {
                    Guard::Standing
                };
                let ran = job.run(conn, guard);
                answers.push(ran.answer);
                written += usize::from(ran.wrote);
                intact = ran.intact;
            }
            // The batch is lost (a savepoint would not end, the connection
            // went): the rest are not run at all.
            _ => job.fail("the batch was abandoned".into()),
        }
    }
    let outcome: Outcome = match slot.as_mut() {
        None => Err("writer connection lost".into()),
        Some(conn) => end(conn, intact, written, before),
    };
    super::hooks::before_discard(before);
    if outcome.is_ok() && written > 0 {
        counts.commits.fetch_add(1, Ordering::Relaxed);
        counts
            .transactions
            .fetch_add(size as u64, Ordering::Relaxed);
        batch_sizes().observe(size as f64);
    }
    // Whatever is left open after a failure dies with the connection:
    // PostgreSQL rolls back a session's transaction when it ends.
    if outcome.is_err() || broken(slot.as_mut()) {
        *slot = None;
    }
    if outcome.is_ok() {
        super::hooks::run(hooks);
    } else {
        super::hooks::discard(hooks);
    }
    for answer in answers {
        answer(&outcome);
    }
}

/// Seals the batch's before-commit work (the audit rows of all its jobs)
/// and commits; rolls back when the batch is not intact or wrote nothing.
fn end(conn: &mut DbConnection, intact: bool, written: usize, before: usize) -> Outcome {
    type Tm = DbConnection;
    if intact && written > 0 {
        if let Err(e) = super::hooks::before_run(conn, before) {
            let _ = <Tm as TransactionManager<Tm>>::rollback_transaction(conn);
            return Err(e.to_string());
        }
        return <Tm as TransactionManager<Tm>>::commit_transaction(conn).map_err(|e| e.to_string());
    }
    let rolled_back = <Tm as TransactionManager<Tm>>::rollback_transaction(conn);
    match (intact, rolled_back) {
        (true, Ok(())) => Ok(()),
        (false, _) => Err("the batch was rolled back".to_owned()),
        (true, Err(e)) => Err(e.to_string()),
    }
}

/// How many submissions each PostgreSQL batch commit carried.
fn batch_sizes() -> &'static prometheus::Histogram {
    static H: OnceLock<prometheus::Histogram> = OnceLock::new();
    H.get_or_init(|| {
        let h = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new(
                "postgres_group_commit_transactions",
                "Write transactions committed together in one PostgreSQL batch commit",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]),
        )
        .unwrap_or_else(|e| panic!("metric definition: {e}"));
        crate::metrics::register(Box::new(h.clone()));
        h
    })
}
