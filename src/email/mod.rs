//! E-mail notifications through an SMTP relay (docs/email.md): a disabled
//! callback, an opt-in registration waiting, questions of the insurer, a
//! decision, a certificate about to expire — told to the party's registered
//! addresses with a link to the portal, never with patient data.
//!
//! One tokio task per instance ([`spawn`], only when `email.relay` is set)
//! loops in rounds. Each round first queues mails for what happened since
//! the last ([`sources`]: the outbox of terugkoppelingen from a cursor,
//! disabled endpoints, expiring certificates) in `email_berichten`, each
//! under a key naming its trigger, then leases due mails, sends each in one
//! SMTP conversation and records the outcome before leasing again. The
//! retry schedule is configuration, as for callbacks; a 5xx refusal ends a
//! mail at once as a dead letter.
//!
//! Delivery is at least once: a crash after the relay accepted a mail and
//! before its outcome committed sends it again when the lease expires, with
//! the same Message-ID (derived from the row), so a relay or mailbox that
//! deduplicates on it shows it once.

pub mod compose;
pub mod metrics;
pub mod smtp;
pub mod sources;
pub mod store;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::db::{Db, DbError, now};
use store::{Completion, Leased, Outcome, Policy};

/// Mails sent per round.
const BATCH: i64 = 16;

struct Notifier {
    db: Db,
    relay: smtp::Relay,
    owner: String,
    policy: Policy,
    context: sources::Context,
    lease: Duration,
    poll: Duration,
    verloop_interval: Duration,
}

/// Starts the notifier when a relay is configured; `None` when notifications
/// are off (or the relay cannot be set up, which is logged).
pub fn spawn(db: Db, config: &Config) -> Option<tokio::task::JoinHandle<()>> {
    // Registered also when off: the counters read 0 and alerts on them resolve.
    metrics::get();
    let c = &config.email;
    if !c.enabled() {
        return None;
    }
    let timing = match c.timing() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "e-mail notifier not started");
            return None;
        }
    };
    let relay = match smtp::Relay::new(c, timing.timeout) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "e-mail notifier not started");
            return None;
        }
    };
    let mut id = [0u8; 6];
    let _ = openssl::rand::rand_bytes(&mut id);
    let settle = if db.backend() == crate::db::Backend::Postgres {
        chrono::TimeDelta::seconds(10)
    } else {
        chrono::TimeDelta::zero()
    };
    let notifier = Notifier {
        db,
        relay,
        owner: format!("mailer-{}", hex::encode(id)),
        policy: Policy {
            schedule: timing.retry_schedule.clone(),
            jitter: c.jitter,
        },
        context: sources::Context {
            portal: c.portal_base(&config.server.public_url),
            verloop_dagen: c.verloop_dagen,
            settle,
        },
        lease: timing.lease,
        poll: timing.poll_interval,
        verloop_interval: timing.verloop_interval,
    };
    tracing::info!(
        instance = %notifier.owner,
        relay = %c.relay,
        port = c.port,
        "e-mail notifier started"
    );
    Some(tokio::spawn(run(Arc::new(notifier))))
}

async fn run(n: Arc<Notifier>) {
    let mut written = crate::outbox::subscribe();
    let mut last_certs: Option<Instant> = None;
    let ctx = n.context.clone();
    if let Err(e) = n.db.write(move |c| sources::init(c, now())).await {
        tracing::warn!(error = %e, "e-mail notifier could not start its cursor; retrying");
    }
    loop {
        let certs = last_certs.is_none_or(|t| t.elapsed() >= n.verloop_interval);
        let ctx2 = ctx.clone();
        let collected =
            n.db.write(move |c| {
                let t = now();
                sources::init(c, t)?;
                let mut q = sources::outbox(c, &ctx2, t)?;
                q += sources::disabled_endpoints(c, &ctx2, t)?;
                if certs {
                    q += sources::expiring_certificates(c, &ctx2, t)?;
                }
                Ok::<_, DbError>(q)
            })
            .await;
        match collected {
            Ok(q) => {
                if certs {
                    last_certs = Some(Instant::now());
                }
                if q > 0 {
                    tracing::info!(queued = q, "e-mails queued");
                }
            }
            Err(e) => tracing::warn!(error = %e, "queueing e-mails failed; retrying"),
        }
        // Sends until nothing is due, so a burst does not wait a poll per batch.
        loop {
            match send_due(&n).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "sending e-mails failed; retrying");
                    break;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(n.poll) => {}
            _ = written.changed() => {}
        }
    }
}

/// Leases due mails, sends them, records each outcome. Returns how many
/// were leased.
async fn send_due(n: &Arc<Notifier>) -> Result<usize, DbError> {
    let (owner, lease) = (n.owner.clone(), n.lease);
    let leased: Vec<Leased> =
        n.db.write(move |c| store::lease(c, &owner, BATCH, lease, now()))
            .await?;
    let count = leased.len();
    let sends = leased.into_iter().map(|m| {
        let n = n.clone();
        async move {
            let outcome = n.relay.send(&m).await;
            (m, outcome)
        }
    });
    for (m, outcome) in futures_util::future::join_all(sends).await {
        record(n, m, outcome).await;
    }
    Ok(count)
}

async fn record(n: &Arc<Notifier>, m: Leased, outcome: Outcome) {
    let (owner, policy) = (n.owner.clone(), n.policy.clone());
    let (id, soort) = (m.id, m.soort.clone());
    let o = outcome.clone();
    let r =
        n.db.write(move |c| store::complete(c, &owner, &m, &o, &policy, now()))
            .await;
    let metrics = metrics::get();
    match (&outcome, r) {
        (_, Ok(Completion::Sent)) => metrics.sent.inc(),
        (Outcome::Transient(e) | Outcome::Permanent(e), Ok(c)) => {
            metrics.failed.inc();
            if c == Completion::Dead {
                metrics.dead.inc();
                tracing::warn!(email = id, soort = %soort, error = %e, "e-mail given up (dead letter)");
            } else {
                tracing::info!(email = id, soort = %soort, error = %e, result = ?c, "e-mail not sent");
            }
        }
        (Outcome::Sent, Ok(c)) => {
            tracing::warn!(email = id, result = ?c, "e-mail sent but no longer ours to record")
        }
        (_, Err(e)) => tracing::error!(
            email = id,
            error = %e,
            "recording an e-mail attempt failed; its lease will expire and it is sent again"
        ),
    }
}
