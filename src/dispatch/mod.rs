//! Feedback push: the dispatcher that delivers terugkoppelingen from the
//! outbox to the providers' registered callbacks (docs/callbacks.md).
//!
//! One tokio task per instance ([`spawn`]) loops: fan out new outbox rows into
//! deliveries, lease due deliveries (respecting FIFO per subject and the
//! per-endpoint concurrency limit), send each in its own task, record the
//! outcome. Leases expire, so deliveries held by a crashed instance are taken
//! over; delivery is therefore at least once and receivers deduplicate on
//! `webhook-id`.

pub mod endpoints;
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
use queue::{Completion, Leased, Policy};
use render::{Format, Message};
use transport::{Target, Transport};

/// How often the gauges and the fan-out low-water mark are refreshed.
const HOUSEKEEPING: Duration = Duration::from_secs(5);

struct Shared {
    db: Db,
    owner: String,
    transport: Transport,
    policy: Policy,
    /// Deliveries in flight per endpoint, in this instance.
    in_flight: Mutex<HashMap<i64, usize>>,
    wake: Notify,
}

/// Starts the dispatcher on the current tokio runtime. The handle is aborted
/// on shutdown; a delivery cut short keeps its lease until it expires and is
/// then sent again.
pub fn spawn(db: Db, config: &TerugkoppelingConfig) -> Option<tokio::task::JoinHandle<()>> {
    let timing = match config.timing() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "dispatcher not started");
            return None;
        }
    };
    let transport = Transport::from_config(config);
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
    loop {
        if let Err(e) = round(&shared, s).await {
            tracing::warn!(error = %e, "dispatcher round failed; retrying");
        }
        if last_housekeeping.is_none_or(|t| t.elapsed() >= HOUSEKEEPING) {
            last_housekeeping = Some(Instant::now());
            housekeeping(&shared).await;
        }
        // Woken early when a delivery finishes: the next terugkoppeling of
        // that subject may now be due.
        let _ = tokio::time::timeout(s.poll, shared.wake.notified()).await;
    }
}

async fn round(shared: &Arc<Shared>, s: Settings) -> Result<(), DbError> {
    let batch = s.batch;
    while shared
        .db
        .run(move |c| queue::fan_out(c, batch.max(100), now()))
        .await?
        > 0
    {}
    let (free, total_free) = {
        let map = shared
            .in_flight
            .lock()
            .map_err(|_| DbError::Invalid("poisoned".into()))?;
        let free: HashMap<i64, usize> = map
            .iter()
            .map(|(k, v)| (*k, s.per_endpoint.saturating_sub(*v)))
            .collect();
        let used: usize = map.values().sum();
        (free, (batch as usize).saturating_sub(used))
    };
    if total_free == 0 {
        return Ok(());
    }
    let (owner, per, lease) = (shared.owner.clone(), s.per_endpoint, s.lease);
    let leased = shared
        .db
        .run(move |c| queue::lease(c, &owner, total_free as i64, lease, &free, per, now()))
        .await?;
    for l in leased {
        if let Ok(mut map) = shared.in_flight.lock() {
            *map.entry(l.endpoint.id).or_default() += 1;
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            let endpoint = l.endpoint.id;
            deliver(&shared, l).await;
            if let Ok(mut map) = shared.in_flight.lock() {
                if let Some(n) = map.get_mut(&endpoint) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        map.remove(&endpoint);
                    }
                }
            }
            shared.wake.notify_one();
        });
    }
    Ok(())
}

async fn deliver(shared: &Shared, l: Leased) {
    let m = metrics::get();
    let target = Target {
        endpoint_id: l.endpoint.id,
        url: l.endpoint.url.clone(),
        format: Format::parse(&l.endpoint.format).unwrap_or(Format::Json),
        ca_bundle: l.endpoint.ca_bundle.clone(),
        secrets: l.endpoint.signing_secrets(now()),
        version: l.endpoint.updated_at,
    };
    let payload: serde_json::Value =
        serde_json::from_str(&l.payload).unwrap_or(serde_json::Value::Null);
    let message = Message {
        id: &l.public_id,
        event_type: &l.event_type,
        created_at: l.created_at,
        payload: &payload,
    };
    let outcome = shared.transport.send(&target, &message).await;
    m.latency.observe(outcome.latency.as_secs_f64());
    let (owner, policy) = (shared.owner.clone(), shared.policy.clone());
    let (l2, o2) = (l.clone(), outcome.clone());
    let result = shared
        .db
        .run(move |c| queue::complete(c, &owner, &l2, &o2, &policy, now()))
        .await;
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
