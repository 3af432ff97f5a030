//! Feedback push: the dispatcher that delivers terugkoppelingen from the
//! outbox to the providers' registered callbacks (docs/callbacks.md).
//!
//! One tokio task per instance ([`spawn`]) loops in rounds: it starts
//! recording the outcomes of attempts finished since the last round (in the
//! background, [`record`]), fans out new outbox rows into deliveries and
//! leases due deliveries in one write transaction (respecting FIFO per
//! subject); then it sends what it leased, at most
//! `concurrency_per_endpoint` at a time per endpoint, the rest waiting in the
//! endpoint's line here and sent as soon as a slot frees, without waiting for
//! the next round. Leases expire, so deliveries held by a crashed instance
//! are taken over; delivery is therefore at least once and receivers
//! deduplicate on `webhook-id`.

pub mod check;
pub mod cursor;
pub mod endpoints;
pub mod intermediary;
pub mod lease;
mod line;
pub mod listen;
pub mod metrics;
pub mod queue;
pub mod record;
pub mod registration;
pub mod render;
pub mod schedule;
pub mod signature;
pub mod ssrf;
pub mod transport;
pub mod view;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::config::TerugkoppelingConfig;
use crate::db::{Db, DbError, now};
use crate::ids::TerugkoppelingId;
use lease::Leased;
use record::{Completion, Policy};
use render::{Body, Format, Message};
use transport::{AttemptOutcome, Target, Transport};

/// Finished attempts recorded per write transaction.
const RECORD_CHUNK: usize = 16;

/// Deliveries leased per endpoint, as a multiple of
/// `concurrency_per_endpoint`: the ones beyond it wait in the endpoint's line
/// in this instance. Without the line, a slot freed by a finished attempt
/// stayed empty until the next round had recorded it and leased again — on
/// PostgreSQL a round is a dozen round trips, so four slots delivered about
/// 1,800 callbacks/s however fast the receiver was.
const LOOKAHEAD: usize = 8;

/// Room left in a lease for a delivery taken from the line: it is sent only
/// if its whole attempt (connect and request timeouts) ends this long before
/// the lease does; otherwise the lease is given back.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// How often the gauges and the fan-out low-water mark are refreshed.
const HOUSEKEEPING: Duration = Duration::from_secs(5);

/// How long after a higher outbox row a lower one may still commit on
/// PostgreSQL and be fanned out without waiting for the full rescan. Every
/// round re-reads the rows of this window (one index probe each), so it is
/// kept short; a commit later than this (a stalled WAL flush) is found by
/// the rescan within [`HOUSEKEEPING`], and FIFO holds either way (the lease
/// checks for it).
const PG_COMMIT_LAG: Duration = Duration::from_millis(250);

struct Shared {
    db: Db,
    owner: String,
    transport: Transport,
    policy: Policy,
    /// Deliveries leased here per endpoint: being sent or in its line.
    held: Mutex<HashMap<i64, usize>>,
    /// Per endpoint: how many are being sent, and the line behind them.
    lines: Mutex<HashMap<i64, line::Line>>,
    /// Attempts made since the last round, recorded by the next.
    finished: Mutex<Vec<Finished>>,
    /// Leases to give back (delivery, endpoint): waited too long in a line.
    returned: Mutex<Vec<(i64, i64)>>,
    wake: Notify,
    settings: Settings,
}

/// Starts the dispatcher on the current tokio runtime. The handle is aborted
/// on shutdown; a delivery cut short keeps its lease until it expires and is
/// then sent again.
pub fn spawn(db: Db, config: &TerugkoppelingConfig) -> Option<tokio::task::JoinHandle<()>> {
    spawn_with(db, config, crate::tls::reload::platform_identity(config))
}

/// [`spawn`] with the platform identity the TLS reloader keeps current, so a
/// rotated client certificate is presented from the next callback on.
pub fn spawn_with(
    db: Db,
    config: &TerugkoppelingConfig,
    identity: crate::tls::reload::SharedIdentity,
) -> Option<tokio::task::JoinHandle<()>> {
    let timing = match config.timing() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "dispatcher not started");
            return None;
        }
    };
    let transport = Transport::with_identity(config, identity);
    if let Some(e) = transport.identity_error() {
        tracing::error!(error = %e, "dispatcher not started: no client certificate for callbacks");
        return None;
    }
    let mut id = [0u8; 6];
    let _ = openssl::rand::rand_bytes(&mut id);
    // The longest an attempt may take; a line is kept only where a delivery
    // at its end can still be sent within the lease.
    let attempt = timing.connect_timeout + timing.timeout;
    let lookahead = if timing.lease >= attempt * 2 + LEASE_MARGIN {
        LOOKAHEAD
    } else {
        1
    };
    let settings = Settings {
        batch: config.batch_size,
        per_endpoint: config.concurrency_per_endpoint,
        held_per_endpoint: config.concurrency_per_endpoint.saturating_mul(lookahead),
        poll: timing.poll_interval,
        lease: timing.lease,
        attempt,
    };
    let shared = Arc::new(Shared {
        db,
        owner: format!("dispatcher-{}", hex::encode(id)),
        transport,
        policy: Policy {
            schedule: timing.retry_schedule.clone(),
            jitter: config.jitter,
            disable_after: timing.disable_after,
        },
        held: Mutex::new(HashMap::new()),
        lines: Mutex::new(HashMap::new()),
        finished: Mutex::new(Vec::new()),
        returned: Mutex::new(Vec::new()),
        wake: Notify::new(),
        settings,
    });
    metrics::get();
    tracing::info!(instance = %shared.owner, "terugkoppeling dispatcher started");
    Some(tokio::spawn(run(shared, settings)))
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    batch: i64,
    /// Sent at the same time per endpoint.
    per_endpoint: usize,
    /// Leased at the same time per endpoint (sent or in its line).
    held_per_endpoint: usize,
    poll: Duration,
    lease: Duration,
    /// The longest one attempt may take (connect and request timeouts).
    attempt: Duration,
}

async fn run(shared: Arc<Shared>, s: Settings) {
    let mut last_housekeeping: Option<Instant> = None;
    let mut written = crate::outbox::subscribe();
    // Other instances' commits, on PostgreSQL; on SQLite (or without a
    // listener thread) a channel that never changes.
    let (_listener, mut notified) = match listen::start(&shared.db) {
        Some((l, rx)) => (Some(l), rx),
        None => (None, tokio::sync::watch::channel(0u64).1),
    };
    let m = metrics::get();
    // Where a round starts looking for new outbox rows. Rescanning from the
    // low-water mark every round cost a probe per terugkoppeling of the last
    // five minutes. On PostgreSQL a row can commit after a higher one (two
    // transactions at once): rounds start from the cursor of 250 ms ago,
    // and the full scan still runs with the housekeeping (in the background,
    // off the rounds' path) for transactions longer than that. SQLite commits rows in id order (one writer), and
    // after the first round the cursor misses nothing.
    let postgres = shared.db.backend() == crate::db::Backend::Postgres;
    let mut cursor = cursor::Cursor::new(if postgres {
        PG_COMMIT_LAG
    } else {
        Duration::ZERO
    });
    let mut housekeeper: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        let housekeeping_due = last_housekeeping.is_none_or(|t| t.elapsed() >= HOUSEKEEPING);
        let after = if last_housekeeping.is_none() {
            0
        } else {
            cursor.start(Instant::now())
        };
        match round(&shared, s, after).await {
            Ok(last) => cursor.handled(Instant::now(), last),
            Err(e) => tracing::warn!(error = %e, "dispatcher round failed; retrying"),
        }
        // Housekeeping reads up to five minutes of the outbox (30 ms with
        // 20,000 rows): in the rounds' path it held up every callback
        // behind it. One at a time.
        if housekeeping_due && housekeeper.as_ref().is_none_or(|h| h.is_finished()) {
            let full_scan = postgres && last_housekeeping.is_some();
            last_housekeeping = Some(Instant::now());
            let shared = shared.clone();
            housekeeper = Some(tokio::spawn(async move {
                housekeeping(&shared, full_scan, s.batch.max(100)).await;
            }));
        }
        // Woken early when a delivery finishes (its outcome is to be
        // recorded, and the next terugkoppeling of that subject may now be
        // due), when this process committed a new terugkoppeling, and on
        // PostgreSQL when another instance did (LISTEN/NOTIFY, `listen`);
        // the poll finds retries that came due and whatever a lost listener
        // connection missed.
        let cause = tokio::select! {
            () = tokio::time::sleep(s.poll) => "poll",
            () = shared.wake.notified() => "attempt",
            _ = written.changed() => "commit",
            Ok(()) = notified.changed() => "notify",
        };
        m.wakeups.with_label_values(&[cause]).inc();
    }
}

/// One round: start recording the attempts that finished since the last
/// round (in the background), fan out new outbox rows after `after`, lease
/// what is due into the free slots; then start or line up what was leased.
/// Returns the last outbox row fanned out.
///
/// Under load a round records and leases dozens at once, in a few write
/// transactions instead of one per delivery. An attempt is recorded in the
/// round after it finished; a crash in between sends it again once its lease
/// expires (delivery is at least once anyway).
async fn round(shared: &Arc<Shared>, s: Settings, after: i64) -> Result<i64, DbError> {
    let finished: Vec<Finished> = take(&shared.finished);
    let returned: Vec<(i64, i64)> = take(&shared.returned);
    let done_endpoints: Vec<i64> = finished
        .iter()
        .map(|f| f.leased.endpoint.id)
        .chain(returned.iter().map(|(_, e)| *e))
        .collect();
    // Slots of finished attempts and given-back leases are free for this
    // round's lease: their outcome is recorded first, in the same
    // transaction on SQLite.
    let (free, total_free) = {
        let map = shared
            .held
            .lock()
            .map_err(|_| DbError::Invalid("poisoned".into()))?;
        let mut held = map.clone();
        for endpoint in &done_endpoints {
            if let Some(n) = held.get_mut(endpoint) {
                *n = n.saturating_sub(1);
            }
        }
        let free: HashMap<i64, usize> = held
            .iter()
            .map(|(k, v)| (*k, s.held_per_endpoint.saturating_sub(*v)))
            .collect();
        let used: usize = held.values().sum();
        (free, (s.batch as usize).saturating_sub(used))
    };
    let (owner, policy, per, lease) = (
        shared.owner.clone(),
        shared.policy.clone(),
        s.held_per_endpoint,
        s.lease,
    );
    let batch = s.batch;
    // Recording and leasing are separate write jobs, started together. On
    // SQLite they meet in one batch of the writer and share its commit; on
    // PostgreSQL the chunks run on connections of their own at once (one
    // connection doing every statement of a round, round trip by round
    // trip, delivered 300/s). A lease that runs before a completion commits
    // just does not see that subject's next terugkoppeling as due yet: the
    // next round does.
    let mut chunks: Vec<Vec<Finished>> = Vec::new();
    for f in finished {
        match chunks.last_mut() {
            Some(chunk) if chunk.len() < RECORD_CHUNK => chunk.push(f),
            _ => chunks.push(vec![f]),
        }
    }
    let recording: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let (owner, policy) = (owner.clone(), policy.clone());
            let db = shared.db.clone();
            async move {
                let ids: Vec<TerugkoppelingId> =
                    chunk.iter().map(|f| f.leased.public_id.clone()).collect();
                let recorded = db
                    .write(move |c| {
                        let items: Vec<_> = chunk.iter().map(|f| (&f.leased, &f.outcome)).collect();
                        let results = record::complete_all(c, &owner, &items, &policy, now())?;
                        Ok::<_, DbError>(chunk.into_iter().zip(results).collect::<Vec<_>>())
                    })
                    .await;
                (ids, recorded)
            }
        })
        .collect();
    // Recording is off the round's path: the next round (a new
    // terugkoppeling to fan out and send) need not wait for the commit of
    // the attempts before it. It wakes the loop when done, for the next
    // terugkoppeling of a subject that only then becomes due.
    if !recording.is_empty() {
        let recorder = shared.clone();
        tokio::spawn(async move {
            for (ids, r) in futures_util::future::join_all(recording).await {
                match r {
                    Ok(results) => {
                        for (f, r) in results {
                            report(&f, r);
                        }
                    }
                    Err(e) => tracing::error!(
                        terugkoppelingen = ?ids,
                        error = %e,
                        "recording delivery attempts failed; their leases will expire and they are sent again"
                    ),
                }
            }
            recorder.wake.notify_one();
        });
    }
    let giving_back = async {
        if returned.is_empty() {
            return;
        }
        let owner = owner.clone();
        let ids: Vec<i64> = returned.iter().map(|(d, _)| *d).collect();
        let r = shared
            .db
            .write(move |c| record::give_back(c, &owner, &ids, now()))
            .await;
        match r {
            Ok(n) => {
                metrics::get().given_back.inc_by(n as u64);
                tracing::info!(
                    given_back = n,
                    "deliveries waited too long in an endpoint's line to be sent within their lease; leases given back"
                )
            }
            Err(e) => tracing::warn!(error = %e, "giving back leases failed; they run out instead"),
        }
    };
    let lease_owner = owner.clone();
    let leased_at = Instant::now();
    let phases = &metrics::get().round_phases;
    let leasing = shared.db.write(move |c| {
        let owner = lease_owner;
        phases
            .with_label_values(&["start"])
            .observe(leased_at.elapsed().as_secs_f64());
        lease::round_settings(c)?;
        let t = Instant::now();
        let (_, last_fanned) = fan_out_all(c, after, batch.max(100))?;
        phases
            .with_label_values(&["fan_out"])
            .observe(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let leased = if total_free == 0 {
            Vec::new()
        } else {
            lease::lease(c, &owner, total_free as i64, lease, &free, per, now())?
        };
        phases
            .with_label_values(&["lease"])
            .observe(t.elapsed().as_secs_f64());
        Ok::<_, DbError>((last_fanned, leased, Instant::now()))
    });
    let (leased, ()) = tokio::join!(leasing, giving_back);
    let leased = leased.map(|(last_fanned, leased, done)| {
        phases
            .with_label_values(&["commit"])
            .observe(done.elapsed().as_secs_f64());
        phases
            .with_label_values(&["round"])
            .observe(leased_at.elapsed().as_secs_f64());
        (last_fanned, leased)
    });
    // Finished attempts are done with their slots whatever was recorded; an
    // attempt whose record failed keeps its lease until it runs out and is
    // then sent again.
    line::release_slots(shared, &done_endpoints);
    let (last_fanned, leased) = leased?;
    for l in leased {
        if let Ok(mut map) = shared.held.lock() {
            *map.entry(l.endpoint.id).or_default() += 1;
        }
        line::start_or_line_up(shared, l, leased_at);
    }
    Ok(last_fanned)
}

/// Everything in `m`, leaving it empty.
fn take<T>(m: &Mutex<Vec<T>>) -> Vec<T> {
    m.lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default()
}

/// An attempt that has been made and is still to be recorded.
struct Finished {
    leased: Leased,
    outcome: AttemptOutcome,
}

async fn send(shared: &Shared, l: &Leased) -> AttemptOutcome {
    let target = Target {
        endpoint_id: l.endpoint.id,
        url: l.endpoint.url.clone(),
        format: Format::parse(&l.endpoint.format).unwrap_or(Format::Json),
        ca_bundle: l.endpoint.ca_bundle.clone(),
        secrets: l.endpoint.signing_secrets(now()),
        version: l.endpoint.updated_at,
    };
    let on_behalf = intermediary::on_behalf(&l.recipient, &l.endpoint.party);
    let outcome = match crate::outbox::Event::decode(&l.event_type, &l.payload) {
        Ok(event) => {
            let message = Message {
                id: l.public_id.as_str(),
                created_at: l.created_at,
                body: Body::Event(&event),
                zorgaanbieder: on_behalf.as_deref(),
            };
            shared.transport.send(&target, &message).await
        }
        // Not sent: retried and finally a dead letter, like a refusal.
        Err(e) => AttemptOutcome::error(format!("rendering: {e}"), Duration::ZERO),
    };
    metrics::get()
        .latency
        .observe(outcome.latency.as_secs_f64());
    outcome
}

/// Metrics and logs for a recorded attempt.
fn report(f: &Finished, result: Result<Completion, DbError>) {
    let (m, l, outcome) = (metrics::get(), &f.leased, &f.outcome);
    match result {
        Ok(Completion::Delivered) => m.delivered.inc(),
        Ok(c) => {
            m.failed.inc();
            match c {
                Completion::Retry => m.retried.inc(),
                Completion::Dead => m.dead.inc(),
                _ => {}
            }
            tracing::info!(
                terugkoppeling = %l.public_id,
                endpoint = l.endpoint.id,
                status = ?outcome.status,
                error = outcome.error.as_deref().unwrap_or(""),
                result = ?c,
                "callback not delivered"
            );
        }
        Err(e) => tracing::error!(
            terugkoppeling = %l.public_id,
            error = %e,
            "recording a delivery attempt failed; the lease will expire and it is sent again"
        ),
    }
}

/// Fans out every outbox row after `after` not yet fanned out, `page` at a
/// time; returns how many and the last one.
fn fan_out_all(
    c: &mut crate::db::DbConnection,
    after: i64,
    page: i64,
) -> Result<(usize, i64), DbError> {
    let (mut total, mut last) = (0, after);
    loop {
        let (handled, upto) = queue::fan_out(c, last, page, now())?;
        last = upto;
        total += handled;
        // A short page was the last: asking again costs the round four
        // statements to find nothing (a row committing meanwhile wakes it).
        if (handled as i64) < page {
            return Ok((total, last));
        }
    }
}

/// Gauges and the low-water mark; with `full_scan` (PostgreSQL) also the
/// fan-out of rows that committed after higher ones by more than the
/// rounds' lag (long transactions), waking the loop to send them.
async fn housekeeping(shared: &Shared, full_scan: bool, page: i64) {
    if full_scan {
        let r = shared
            .db
            .write(move |c| {
                lease::round_settings(c)?;
                fan_out_all(c, 0, page)
            })
            .await;
        match r {
            Ok((0, _)) => {}
            Ok(_) => shared.wake.notify_one(),
            Err(e) => tracing::warn!(error = %e, "dispatcher fan-out scan failed"),
        }
    }
    let r = shared
        .db
        .run(|c| {
            queue::advance_low_water(c, now())?;
            queue::depth(c)
        })
        .await;
    match r {
        Ok((n, oldest)) => {
            let m = metrics::get();
            m.queue_depth.set(n);
            m.oldest_age
                .set(oldest.map_or(0, |t| (now() - t).num_seconds().max(0)));
        }
        Err(e) => tracing::warn!(error = %e, "dispatcher housekeeping failed"),
    }
}
