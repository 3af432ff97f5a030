//! Feedback push: the dispatcher that delivers terugkoppelingen from the
//! outbox to the providers' registered callbacks (docs/callbacks.md).
//!
//! One tokio task per instance ([`spawn`]) loops in rounds, each one write
//! transaction: record the outcomes of attempts finished since the last
//! round, fan out new outbox rows into deliveries, lease due deliveries
//! (respecting FIFO per subject and the per-endpoint concurrency limit); then
//! it sends each leased delivery in its own task. Leases expire, so deliveries held by a crashed instance are taken
//! over; delivery is therefore at least once and receivers deduplicate on
//! `webhook-id`.

pub mod check;
pub mod cursor;
pub mod endpoints;
pub mod intermediary;
pub mod listen;
pub mod metrics;
pub mod queue;
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
use queue::{Completion, Leased, Policy};
use render::{Body, Format, Message};
use transport::{AttemptOutcome, Target, Transport};

/// Finished attempts recorded per write transaction.
const RECORD_CHUNK: usize = 16;

/// How often the gauges and the fan-out low-water mark are refreshed.
const HOUSEKEEPING: Duration = Duration::from_secs(5);

/// How long after a higher outbox row a lower one may still commit on
/// PostgreSQL and be fanned out without waiting for the full rescan.
const PG_COMMIT_LAG: Duration = Duration::from_secs(1);

struct Shared {
    db: Db,
    owner: String,
    transport: Transport,
    policy: Policy,
    /// Deliveries in flight per endpoint, in this instance.
    in_flight: Mutex<HashMap<i64, usize>>,
    /// Attempts made since the last round, recorded by the next.
    finished: Mutex<Vec<Finished>>,
    wake: Notify,
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
    let shared = Arc::new(Shared {
        db,
        owner: format!("dispatcher-{}", hex::encode(id)),
        transport,
        policy: Policy {
            schedule: timing.retry_schedule.clone(),
            jitter: config.jitter,
            disable_after: timing.disable_after,
        },
        in_flight: Mutex::new(HashMap::new()),
        finished: Mutex::new(Vec::new()),
        wake: Notify::new(),
    });
    let settings = Settings {
        batch: config.batch_size,
        per_endpoint: config.concurrency_per_endpoint,
        poll: timing.poll_interval,
        lease: timing.lease,
    };
    metrics::get();
    tracing::info!(instance = %shared.owner, "terugkoppeling dispatcher started");
    Some(tokio::spawn(run(shared, settings)))
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    batch: i64,
    per_endpoint: usize,
    poll: Duration,
    lease: Duration,
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
    // transactions at once): rounds start from the cursor of a second ago,
    // and the full scan still runs with the housekeeping for transactions
    // longer than that. SQLite commits rows in id order (one writer), and
    // after the first round the cursor misses nothing.
    let postgres = shared.db.backend() == crate::db::Backend::Postgres;
    let mut cursor = cursor::Cursor::new(if postgres {
        PG_COMMIT_LAG
    } else {
        Duration::ZERO
    });
    loop {
        let housekeeping_due = last_housekeeping.is_none_or(|t| t.elapsed() >= HOUSEKEEPING);
        let full_scan = last_housekeeping.is_none() || (postgres && housekeeping_due);
        let after = if full_scan {
            0
        } else {
            cursor.start(Instant::now())
        };
        match round(&shared, s, after).await {
            Ok(last) => cursor.handled(Instant::now(), last),
            Err(e) => tracing::warn!(error = %e, "dispatcher round failed; retrying"),
        }
        if housekeeping_due {
            last_housekeeping = Some(Instant::now());
            housekeeping(&shared).await;
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

/// One round: record the attempts that finished since the last round, fan
/// out new outbox rows after `after`, lease what is due into the free slots;
/// then send what was leased. Returns the last outbox row fanned out.
///
/// Under load a round records and leases dozens at once, in a few write
/// transactions instead of one per delivery. An attempt is recorded in the
/// round after it finished; a crash in between sends it again once its lease
/// expires (delivery is at least once anyway).
async fn round(shared: &Arc<Shared>, s: Settings, after: i64) -> Result<i64, DbError> {
    let finished: Vec<Finished> = shared
        .finished
        .lock()
        .map(|mut f| std::mem::take(&mut *f))
        .unwrap_or_default();
    let finished_endpoints: Vec<i64> = finished.iter().map(|f| f.leased.endpoint.id).collect();
    // Slots of finished attempts are free for this round's lease: their
    // outcome is recorded first, in the same transaction.
    let (free, total_free) = {
        let map = shared
            .in_flight
            .lock()
            .map_err(|_| DbError::Invalid("poisoned".into()))?;
        let mut held = map.clone();
        for endpoint in &finished_endpoints {
            if let Some(n) = held.get_mut(endpoint) {
                *n = n.saturating_sub(1);
            }
        }
        let free: HashMap<i64, usize> = held
            .iter()
            .map(|(k, v)| (*k, s.per_endpoint.saturating_sub(*v)))
            .collect();
        let used: usize = held.values().sum();
        (free, (s.batch as usize).saturating_sub(used))
    };
    let (owner, policy, per, lease) = (
        shared.owner.clone(),
        shared.policy.clone(),
        s.per_endpoint,
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
    let recording = chunks.into_iter().map(|chunk| {
        let (owner, policy) = (owner.clone(), policy.clone());
        let db = shared.db.clone();
        async move {
            let ids: Vec<TerugkoppelingId> =
                chunk.iter().map(|f| f.leased.public_id.clone()).collect();
            let recorded = db
                .write(move |c| {
                    Ok::<_, DbError>(
                        chunk
                            .into_iter()
                            .map(|f| {
                                let r = queue::complete(
                                    c,
                                    &owner,
                                    &f.leased,
                                    &f.outcome,
                                    &policy,
                                    now(),
                                );
                                (f, r)
                            })
                            .collect::<Vec<_>>(),
                    )
                })
                .await;
            (ids, recorded)
        }
    });
    let lease_owner = owner.clone();
    let leasing = shared.db.write(move |c| {
        let owner = lease_owner;
        let mut last_fanned = after;
        loop {
            let (handled, upto) = queue::fan_out(c, last_fanned, batch.max(100), now())?;
            last_fanned = upto;
            if handled == 0 {
                break;
            }
        }
        let leased = if total_free == 0 {
            Vec::new()
        } else {
            queue::lease(c, &owner, total_free as i64, lease, &free, per, now())?
        };
        Ok::<_, DbError>((last_fanned, leased))
    });
    let (recorded, leased) = tokio::join!(futures_util::future::join_all(recording), leasing);
    // Finished attempts are done with their slots whatever was recorded; an
    // attempt whose record failed keeps its lease until it runs out and is
    // then sent again.
    release_slots(shared, &finished_endpoints);
    for (ids, r) in recorded {
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
    let (last_fanned, leased) = leased?;
    for l in leased {
        if let Ok(mut map) = shared.in_flight.lock() {
            *map.entry(l.endpoint.id).or_default() += 1;
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            let outcome = send(&shared, &l).await;
            if let Ok(mut f) = shared.finished.lock() {
                f.push(Finished { leased: l, outcome });
            }
            shared.wake.notify_one();
        });
    }
    Ok(last_fanned)
}

/// An attempt that has been made and is still to be recorded.
struct Finished {
    leased: Leased,
    outcome: AttemptOutcome,
}

/// Frees one slot per endpoint id in `done`.
fn release_slots(shared: &Shared, done: &[i64]) {
    if let Ok(mut map) = shared.in_flight.lock() {
        for endpoint in done {
            if let Some(n) = map.get_mut(endpoint) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    map.remove(endpoint);
                }
            }
        }
    }
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

async fn housekeeping(shared: &Shared) {
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
