//! Instances wake each other on PostgreSQL: a listener connection per
//! dispatcher that `LISTEN`s on `machtigingen_outbox`, which a trigger on the
//! outbox notifies when a transaction that wrote terugkoppelingen commits
//! (migration 000019). Without it a dispatcher learns of another instance's
//! terugkoppelingen only at its next poll; polling stays, for whatever a
//! lost connection missed.
//!
//! diesel has no asynchronous `LISTEN`: [`diesel::PgConnection::notifications_iter`]
//! reads what has arrived (libpq's `PQconsumeInput` + `PQnotifies`, one
//! non-blocking read) but cannot wait on the socket. So the listener is a
//! thread of its own that checks every [`CHECK`] — a few microseconds of CPU
//! each — on a connection outside the pool, opened with the pool's URL and
//! TLS settings. A broken connection is opened again with a growing pause
//! ([`BACKOFF_MIN`] to [`BACKOFF_MAX`]); every (re)connection wakes the
//! dispatcher once, since a notification may have gone by unheard.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::PgConnection;
use diesel::connection::SimpleConnection;
use tokio::sync::watch;

use crate::db::{Db, DbError};

/// The channel the outbox trigger notifies.
pub const CHANNEL: &str = "machtigingen_outbox";

/// How often the listener looks for notifications that have arrived.
const CHECK: Duration = Duration::from_millis(5);

/// How often an idle listener checks that its connection still answers
/// (a dead peer is otherwise only noticed by TCP, much later).
const KEEPALIVE: Duration = Duration::from_secs(15);

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Stops the listener thread when dropped (with the dispatcher's task).
#[derive(Debug)]
pub struct Listener {
    stop: Arc<AtomicBool>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts listening on PostgreSQL; `None` on SQLite (one process: its
/// commits wake its dispatcher directly). The receiver changes whenever
/// another instance (or any other writer) committed terugkoppelingen.
pub fn start(db: &Db) -> Option<(Listener, watch::Receiver<u64>)> {
    if db.backend() != crate::db::Backend::Postgres {
        return None;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = watch::channel(0u64);
    let (db, flag) = (db.clone(), stop.clone());
    let spawned = std::thread::Builder::new()
        .name("outbox-listen".into())
        .spawn(move || run(&db, &flag, &tx));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "outbox listener not started; other instances' terugkoppelingen are found by polling");
        return None;
    }
    Some((Listener { stop }, rx))
}

fn wake(tx: &watch::Sender<u64>) {
    tx.send_modify(|n| *n = n.wrapping_add(1));
}

fn run(db: &Db, stop: &AtomicBool, tx: &watch::Sender<u64>) {
    let mut backoff = BACKOFF_MIN;
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        let connected = db
            .dedicated_pg()
            .unwrap_or_else(|| Err(DbError::Invalid("not PostgreSQL".into())))
            .and_then(|mut c| {
                c.batch_execute(&format!("LISTEN {CHANNEL}"))?;
                Ok(c)
            });
        match connected {
            Ok(mut c) => {
                if !first {
                    super::metrics::get().listener_reconnects.inc();
                    tracing::info!("outbox listener connected again");
                }
                first = false;
                wake(tx);
                match listen(&mut c, stop, tx, &mut backoff) {
                    Ok(()) => return,
                    Err(e) => tracing::warn!(
                        error = %e,
                        pause_ms = backoff.as_millis() as u64,
                        "outbox listener lost its connection; polling covers the gap"
                    ),
                }
            }
            Err(e) => tracing::warn!(
                error = %e,
                pause_ms = backoff.as_millis() as u64,
                "outbox listener cannot connect; polling covers the gap"
            ),
        }
        pause(backoff, stop);
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Sleeps `d` in steps, returning early once stopped.
fn pause(d: Duration, stop: &AtomicBool) {
    let until = Instant::now() + d;
    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
        std::thread::sleep(CHECK.max(Duration::from_millis(50)).min(d));
    }
}

/// Relays notifications until stopped (`Ok`) or the connection fails.
fn listen(
    c: &mut PgConnection,
    stop: &AtomicBool,
    tx: &watch::Sender<u64>,
    backoff: &mut Duration,
) -> Result<(), DbError> {
    let own = crate::db::instance();
    let mut checked = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let mut others = 0u64;
        for n in c.notifications_iter() {
            let n = n?;
            if n.payload != own {
                others += 1;
            }
        }
        if others > 0 {
            super::metrics::get().notifications.inc_by(others);
            wake(tx);
        }
        if checked.elapsed() >= KEEPALIVE {
            c.batch_execute("SELECT 1")?;
            checked = Instant::now();
            // Healthy for a while: the next loss starts from a short pause.
            *backoff = BACKOFF_MIN;
        }
        std::thread::sleep(CHECK);
    }
    Ok(())
}
