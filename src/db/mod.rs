//! Storage: one diesel connection type over SQLite (embedded default) and
//! PostgreSQL, a bounded r2d2 pool, and the embedded migrations of both backends.
//!
//! Handlers never hold a connection on the async executor: [`Db::run`] moves the
//! work to tokio's blocking pool, and a pool timeout becomes
//! [`DbError::Unavailable`] (answered as 503) instead of a hang. Writes go
//! through [`write_tx`] (inside `Db::run`) or [`Db::write`] (an owned job); on
//! SQLite both join the file's group commit ([`writer`]).

mod checkpoint;
mod guard;
mod hooks;
pub mod pg_prepared;
pub mod pg_writer;
pub mod schema;
pub mod writer;

pub use hooks::{BeforeCommit, before_commit, on_commit};

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use crate::config::Backend;
use crate::config::DatabaseConfig;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// One connection to either backend; queries written against it run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The row asked for does not exist (or is not visible to the caller).
    #[error("not found")]
    NotFound,
    /// No connection could be had in time: database down, locked or overloaded.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness constraint refused the write.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Query(diesel::result::Error),
    /// A stored value could not be interpreted (a bug or a hand-edited row).
    #[error("stored data invalid: {0}")]
    Invalid(String),
}

/// An id column holding what is not an id of its kind.
impl From<crate::ids::Malformed> for DbError {
    fn from(e: crate::ids::Malformed) -> Self {
        Self::Invalid(e.to_string())
    }
}

impl From<diesel::result::Error> for DbError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => Self::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Self::Conflict(info.message().to_owned())
            }
            // SQLite reports a lock it waited busy_timeout for as a generic error;
            // PostgreSQL a dropped connection as ClosedConnection. Both mean
            // "try again later", not "your request is wrong".
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                Self::Unavailable(info.message().to_owned())
            }
            Error::DatabaseError(_, ref info) if means_unavailable(info.message()) => {
                Self::Unavailable(info.message().to_owned())
            }
            other => Self::Query(other),
        }
    }
}

/// Messages of "the database cannot serve you now" that diesel reports with
/// no specific kind: SQLite's lock, and PostgreSQL shutting down or
/// restarting (SQLSTATE class 57P; diesel does not expose SQLSTATE) while
/// the connection still looks open, or libpq finding a pooled connection
/// already broken when it sends the next statement (diesel's
/// `UnableToSendCommand`, which also covers statements we got wrong, so
/// matched by message).
fn means_unavailable(message: &str) -> bool {
    const MARKERS: [&str; 6] = [
        "database is locked",
        "database is busy",
        "terminating connection",
        "the database system is",
        "server closed the connection",
        "no connection to the server",
    ];
    MARKERS.iter().any(|m| message.contains(m))
}

impl From<r2d2::PoolError> for DbError {
    fn from(e: r2d2::PoolError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// Makes connections for the pool and prepares each for its backend.
#[derive(Debug, Clone)]
pub struct Manager {
    backend: Backend,
    url: String,
    busy_timeout_ms: u64,
}

impl Manager {
    fn establish(&self) -> diesel::ConnectionResult<DbConnection> {
        match self.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url)?;
                // Short OLTP statements never repay JIT compilation, and a
                // planner estimate above jit_above_cost (a correlated
                // subquery per candidate row, say) made the dispatcher's
                // 2 ms lease query take 140 ms of compiling.
                conn.batch_execute("SET jit = off")
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                // Names this process in the outbox's NOTIFY (migration
                // 000019), so its own listener can skip what it wrote itself.
                conn.batch_execute(&format!("SET machtigingen.instance = '{}'", instance()))
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Pg(conn))
            }
            Backend::Sqlite => {
                let path = sqlite_path(&self.url);
                let mut conn = SqliteConnection::establish(path)?;
                // WAL lets readers proceed while one writer commits; synchronous=FULL
                // makes a commit durable before we answer success (power loss too);
                // busy_timeout bounds how long a writer waits for the lock.
                // No mmap: a connection unmaps the whole file whenever it
                // starts reading after another connection's commit, and with
                // commits every millisecond that unmapping (a TLB shootdown on
                // every core) and the faults after it cost query by id a fifth
                // of its CPU (docs/benchmarks.md, 2026-12-07 evening).
                conn.batch_execute(&format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {}; PRAGMA mmap_size = 0; PRAGMA temp_store = MEMORY;",
                    self.busy_timeout_ms
                ))
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        self.establish().map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::connection::TransactionManager;
        <DbConnection as TransactionManager<DbConnection>>::is_broken_transaction_manager(conn)
    }
}

/// This process's name among the instances on one PostgreSQL database: 12
/// random hex digits, set as `machtigingen.instance` on every connection.
pub fn instance() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let mut b = [0u8; 6];
        // Without randomness the time serves: the name only tells this
        // process's notifications from others'.
        if openssl::rand::rand_bytes(&mut b).is_err() {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            b.copy_from_slice(&t.to_be_bytes()[10..16]);
        }
        hex::encode(b)
    })
}

fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://").unwrap_or(url)
}

/// The shared pool. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    /// How the pool connects, for connections of their own ([`Db::dedicated_pg`]).
    manager: Manager,
    backend: Backend,
    /// SQLite: the group-commit writer of this file (see [`writer`]).
    writer: Option<Arc<writer::GroupWriter>>,
    /// PostgreSQL: the batch writer of submissions ([`pg_writer`]), unless
    /// `database.pg_batch_writers` is 0.
    pg_writer: Option<Arc<pg_writer::PgWriter>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Db {
    /// Opens the pool. For SQLite the database file's directory is created; the
    /// pool is built lazily so a database that is down at start makes `ready`
    /// report it rather than the process refusing to start.
    pub fn open(config: &DatabaseConfig) -> DbResult<Self> {
        let backend = Backend::from_url(&config.url)
            .ok_or_else(|| DbError::Unavailable("unsupported database URL".into()))?;
        let manager = Manager {
            backend,
            url: config.url.clone(),
            busy_timeout_ms: config.busy_timeout_ms,
        };
        let mut writer = None;
        if backend == Backend::Sqlite {
            let path = Path::new(sqlite_path(&config.url));
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            if let Some(dir) = dir {
                std::fs::create_dir_all(dir)
                    .map_err(|e| DbError::Unavailable(format!("{}: {e}", dir.display())))?;
            }
            // The file may not exist yet; its directory does now.
            let file = dir
                .and_then(|d| std::fs::canonicalize(d).ok())
                .zip(path.file_name())
                .map_or_else(|| path.to_path_buf(), |(d, name)| d.join(name));
            writer = Some(writer::GroupWriter::for_file(manager.clone(), file));
        }
        let writers = config.batch_writers();
        let pg_writer = (backend == Backend::Postgres && writers > 0).then(|| {
            tracing::info!(writers, "PostgreSQL batch writers for submissions");
            pg_writer::PgWriter::start(&manager, writers)
        });
        let pool = r2d2::Pool::builder()
            .max_size(config.pool_size)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(config.connect_timeout_secs.max(1)))
            .test_on_check_out(false)
            .error_handler(Box::new(r2d2::LoggingErrorHandler))
            .build_unchecked(manager.clone());
        Ok(Self {
            pool,
            manager,
            backend,
            writer,
            pg_writer,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// PostgreSQL: a connection of its own, outside the pool, set up like
    /// the pooled ones (for `LISTEN`, which holds a connection for good).
    /// `None` on SQLite.
    pub fn dedicated_pg(&self) -> Option<DbResult<PgConnection>> {
        if self.backend != Backend::Postgres {
            return None;
        }
        Some(match self.manager.establish() {
            Ok(DbConnection::Pg(c)) => Ok(c),
            Ok(DbConnection::Sqlite(_)) => Err(DbError::Invalid("not PostgreSQL".into())),
            Err(e) => Err(DbError::Unavailable(e.to_string())),
        })
    }

    /// A connection for synchronous code (CLI, migrations, blocking closures).
    pub fn conn(&self) -> DbResult<r2d2::PooledConnection<Manager>> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` with a pooled connection on the blocking thread pool. `f`'s
    /// error type only has to absorb [`DbError`] (pool timeout, task failure).
    /// On SQLite, [`write_tx`] inside `f` joins this file's group commit.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let _writer = writer::enter(writer);
            let mut conn = pool.get().map_err(DbError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| DbError::Unavailable(format!("blocking task failed: {e}")))?
    }

    /// Runs `f` as one write transaction and resolves once it has committed
    /// (all of `f`'s writes) or failed (none of them). On SQLite `f` runs on
    /// the file's writer thread together with whatever else is queued, one
    /// commit for all ([`writer`]); keep reads that need no transaction out
    /// of `f`, in [`Db::run`] before it, so they run in parallel.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        match &self.writer {
            Some(w) => w.submit(f).await,
            None => self.run(move |c| write_tx(c, f)).await,
        }
    }

    /// Runs `read`, then, when it returns something to write, `write` with it
    /// as one write transaction; resolves once that has committed. With a
    /// writer thread (SQLite) the write is an owned job there after the
    /// read's blocking task has ended: written from inside that task it
    /// waited its turn through the writer lock's hand-over, which cost a
    /// search page 26 % of its CPU and query by id 23 % (docs/benchmarks.md,
    /// 2026-12-07 evening). Without one (PostgreSQL) it runs on the read's
    /// own connection: a second task there only added a hop.
    pub async fn read_then_write<T, R, E, F, W>(&self, read: F, write: W) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<(T, Option<R>), E> + Send + 'static,
        W: FnOnce(&mut DbConnection, R) -> DbResult<()> + Send + 'static,
        T: Send + 'static,
        R: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        if self.writer.is_none() {
            return self
                .run(move |c| {
                    let (value, pending) = read(c)?;
                    if let Some(p) = pending {
                        write_tx(c, |c| write(c, p)).map_err(E::from)?;
                    }
                    Ok(value)
                })
                .await;
        }
        let (value, pending) = self.run(read).await?;
        if let Some(p) = pending {
            self.write(move |c| write(c, p))
                .await
                .map_err(|e: DbError| E::from(e))?;
        }
        Ok(value)
    }

    /// [`Db::write`] for submissions: on PostgreSQL too, `f` shares one
    /// transaction and one commit with the other jobs queued at the moment,
    /// in a savepoint of its own ([`pg_writer`]); on SQLite it is
    /// [`Db::write`]. Resolves once the batch has committed (`Ok`) or
    /// failed. Keep `f` to the inserts: every statement in it holds up the
    /// rest of its batch.
    pub async fn write_batched<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        match &self.pg_writer {
            Some(w) => w.submit(f).await,
            None => self.write(f).await,
        }
    }

    /// SQLite: (commits, write transactions in them) of this file's group
    /// commit so far; `None` on PostgreSQL.
    pub fn group_commit_stats(&self) -> Option<(u64, u64)> {
        self.writer.as_ref().map(|w| w.stats())
    }

    /// PostgreSQL: (commits, write transactions in them) of the batch
    /// writer of [`Db::write_batched`]; `None` on SQLite or when it is off.
    pub fn pg_batch_stats(&self) -> Option<(u64, u64)> {
        self.pg_writer.as_ref().map(|w| w.stats())
    }

    /// Applies pending migrations of this backend; returns how many ran.
    /// On a connection of its own, not the pool's: a migration that runs
    /// outside diesel's transaction (SQLite's 000022 turns foreign keys off
    /// and opens its own) and fails half-way must not hand the pool a
    /// connection still in it. Dropping this one rolls it back.
    pub fn migrate(&self) -> DbResult<usize> {
        let mut conn = self
            .manager
            .establish()
            .map_err(|e| DbError::Unavailable(e.to_string()))?;
        run_migrations(&mut conn)
    }

    /// `SELECT 1` through the pool: the readiness probe.
    pub async fn ping(&self) -> DbResult<()> {
        self.run(|c| c.batch_execute("SELECT 1").map_err(DbError::from))
            .await
    }
}

pub fn run_migrations(conn: &mut DbConnection) -> DbResult<usize> {
    let applied = match conn {
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        DbConnection::Pg(c) => c
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.len()),
    };
    applied.map_err(|e| DbError::Unavailable(format!("migration failed: {e}")))
}

/// Current time in UTC without offset: both backends store `TIMESTAMP` columns
/// as UTC wall-clock, truncated to microseconds (PostgreSQL's precision) so a
/// value reads back equal on both.
pub fn now() -> chrono::NaiveDateTime {
    use chrono::{SubsecRound, Utc};
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// Executes a write on the backend's own connection. Through the
/// two-backend connection every bound value passes its bind collector, which
/// cost a SQLite insert about as much again as the insert itself (callgrind,
/// docs/benchmarks.md): a submission's hot inserts go here instead (the audit
/// log's rows, written per backend anyway, take their connection in
/// `audit::chain`).
pub fn execute<Q>(conn: &mut DbConnection, q: Q) -> DbResult<usize>
where
    Q: diesel::query_dsl::methods::ExecuteDsl<SqliteConnection>
        + diesel::query_dsl::methods::ExecuteDsl<PgConnection>,
{
    Ok(match conn {
        DbConnection::Sqlite(c) => {
            <Q as diesel::query_dsl::methods::ExecuteDsl<SqliteConnection>>::execute(q, c)?
        }
        DbConnection::Pg(c) => {
            <Q as diesel::query_dsl::methods::ExecuteDsl<PgConnection>>::execute(q, c)?
        }
    })
}

/// The in-process queue of SQLite writers outside [`Db::run`] (see [`write_tx`]).
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Whether `conn` is inside a transaction (of its own or of a caller).
pub fn in_transaction(conn: &mut DbConnection) -> Result<bool, diesel::result::Error> {
    use diesel::connection::TransactionManager;
    Ok(
        <DbConnection as TransactionManager<DbConnection>>::transaction_manager_status_mut(conn)
            .transaction_depth()?
            .is_some(),
    )
}

/// Runs `f` in one write transaction: all of it is committed on `Ok` (and
/// durable when this returns), none of it on `Err`.
///
/// On SQLite inside [`Db::run`], `f` runs on the file's group-commit writer
/// ([`writer`]) and gets that connection, not `conn`: it sees its own batch's
/// writes, and reads made on `conn` before the call are outside the
/// transaction, as they always were. Elsewhere (CLI, tests holding a
/// connection) the transaction starts on `conn` with `BEGIN IMMEDIATE`, so the
/// write lock is taken up front and a concurrent writer waits `busy_timeout`
/// instead of failing halfway with a stale snapshot.
pub fn write_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error> + From<DbError>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let nested = in_transaction(conn)?;
    let hooks = hooks::mark();
    let before = hooks::before_mark();
    if nested {
        // Inside an outer write transaction the lock is already held: a
        // savepoint keeps this part all-or-nothing.
        let result = conn.transaction(f);
        if result.is_err() {
            hooks::discard(hooks);
            hooks::before_discard(before);
        }
        return result;
    }
    if matches!(conn, DbConnection::Sqlite(_)) {
        if let Some(w) = writer::current() {
            return w.write(f);
        }
    }
    // SQLite outside `Db::run` (CLI, tests) has one writer at a time too. Left
    // to SQLite, waiting writers poll with growing sleeps (its busy handler);
    // queueing them on a mutex in this process hands the write lock over at
    // once. Other processes on the same file still meet the busy timeout.
    let _writer = match conn {
        DbConnection::Sqlite(c) => {
            let guard = SQLITE_WRITER
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
            Some(guard)
        }
        DbConnection::Pg(c) => {
            AnsiTransactionManager::begin_transaction(c)?;
            None
        }
    };
    let _before = hooks::BeforeGuard(before);
    let result = f(conn).and_then(|value| {
        hooks::before_run(conn, before)?;
        Ok(value)
    });
    match result {
        Ok(value) => {
            if let Err(e) =
                <DbConnection as TransactionManager<DbConnection>>::commit_transaction(conn)
            {
                hooks::discard(hooks);
                return Err(e.into());
            }
            hooks::run(hooks);
            Ok(value)
        }
        Err(e) => {
            hooks::discard(hooks);
            // The caller's error is the one worth reporting; a failed rollback
            // leaves the connection broken and r2d2 discards it.
            let _ = <DbConnection as TransactionManager<DbConnection>>::rollback_transaction(conn);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error};

    use super::DbError;

    struct Info(&'static str);

    impl DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn map(message: &'static str) -> DbError {
        Error::DatabaseError(DatabaseErrorKind::Unknown, Box::new(Info(message))).into()
    }

    #[test]
    fn shutdown_and_lock_messages_mean_unavailable_others_do_not() {
        for m in [
            "terminating connection due to immediate shutdown command",
            "terminating connection due to administrator command",
            "FATAL:  the database system is shutting down",
            "the database system is starting up",
            "server closed the connection unexpectedly",
            "no connection to the server\n",
            "database is locked",
        ] {
            assert!(matches!(map(m), DbError::Unavailable(_)), "{m}");
        }
        assert!(matches!(
            map("column \"x\" does not exist"),
            DbError::Query(_)
        ));
    }
}
