//! The state gauges, refilled on each scrape: certificate expiry, CRL age and
//! next update, database reachability, outbox depth, callback endpoints,
//! registered certificates close to expiry, e-mail notifications by state,
//! and the age of the oldest row of
//! each table the retention purge deletes from.
//!
//! Database-wide facts are the same on every instance; aggregate them with
//! `max`, not `sum` (docs/operations.md).

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use diesel::prelude::*;
use prometheus::core::Collector;
use prometheus::{IntGauge, IntGaugeVec};

use super::facts::{self, TlsFacts};
use crate::config::Config;
use crate::db::schema::certificates;
use crate::db::{Db, DbConnection, DbError};
use crate::metrics::{def, gauge_vec};

/// How far ahead a registered certificate counts as expiring.
pub const EXPIRING_WITHIN_DAYS: i64 = 30;

/// A scrape waits this long for the database before calling it unreachable.
const DB_TIMEOUT: Duration = Duration::from_secs(3);

struct Gauges {
    cert_expiry: IntGaugeVec,
    cert_file_errors: IntGaugeVec,
    crl_age: IntGaugeVec,
    crl_next_update: IntGaugeVec,
    database_up: IntGauge,
    outbox_depth: IntGaugeVec,
    outbox_oldest: IntGauge,
    endpoints: IntGaugeVec,
    registered_expiring: IntGauge,
    retention_oldest: IntGaugeVec,
    email: IntGaugeVec,
    /// Scrapes may overlap; one refill at a time keeps a reset from
    /// interleaving with another scrape's values.
    refill: Mutex<()>,
}

fn gauges() -> &'static Gauges {
    static G: OnceLock<Gauges> = OnceLock::new();
    G.get_or_init(|| {
        let g = Gauges {
        cert_expiry: gauge_vec(
            "certificate_expiry_seconds",
            "Seconds until notAfter of the configured certificates (negative: expired)",
            &["kind", "subject"],
        ),
        cert_file_errors: gauge_vec(
            "certificate_file_errors",
            "Configured certificate/CRL files that could not be read, by configuration key",
            &["key"],
        ),
        crl_age: gauge_vec(
            "crl_age_seconds",
            "Seconds since each configured CRL's lastUpdate",
            &["issuer"],
        ),
        crl_next_update: gauge_vec(
            "crl_next_update_seconds",
            "Seconds until each configured CRL's nextUpdate (negative: overdue)",
            &["issuer"],
        ),
        database_up: def(IntGauge::new(
            "database_up",
            "1 when the database answered the scrape's queries, else 0",
        )),
        outbox_depth: gauge_vec(
            "outbox_depth",
            "Terugkoppelingen by delivery state: te_verdelen (not yet fanned out), wachtend, dood (dead letters)",
            &["state"],
        ),
        outbox_oldest: def(IntGauge::new(
            "outbox_oldest_undelivered_seconds",
            "Age of the oldest terugkoppeling still waiting for delivery (0: none)",
        )),
        endpoints: gauge_vec(
            "terugkoppeling_endpoints",
            "Callback endpoints by status (actief, uitgeschakeld)",
            &["status"],
        ),
        registered_expiring: def(IntGauge::new(
            "registered_certificates_expiring",
            "Active registered client certificates whose notAfter is within 30 days",
        )),
        retention_oldest: gauge_vec(
            "retention_oldest_seconds",
            "Age of the oldest row of each table the retention purge deletes from (0: empty)",
            &["table"],
        ),
        email: gauge_vec(
            "email_berichten",
            "E-mail notifications by state: wachtend, verzonden, dood (dead letters, docs/email.md)",
            &["state"],
        ),
        refill: Mutex::new(()),
        };
        // Registered on first use: every scrape refills (and so creates) them
        // before the registry is rendered.
        for c in collectors(&g) {
            crate::metrics::register(c);
        }
        g
    })
}

fn collectors(g: &Gauges) -> Vec<Box<dyn Collector>> {
    vec![
        Box::new(g.cert_expiry.clone()),
        Box::new(g.cert_file_errors.clone()),
        Box::new(g.crl_age.clone()),
        Box::new(g.crl_next_update.clone()),
        Box::new(g.database_up.clone()),
        Box::new(g.outbox_depth.clone()),
        Box::new(g.outbox_oldest.clone()),
        Box::new(g.endpoints.clone()),
        Box::new(g.registered_expiring.clone()),
        Box::new(g.retention_oldest.clone()),
        Box::new(g.email.clone()),
    ]
}

/// What the database says, read in one pooled connection.
struct DbFacts {
    outbox: crate::dispatch::metrics::OutboxFacts,
    registered_expiring: i64,
    oldest: Vec<(crate::retention::Table, Option<chrono::NaiveDateTime>)>,
    email: crate::email::store::Facts,
}

fn read_db(conn: &mut DbConnection, now: chrono::NaiveDateTime) -> Result<DbFacts, DbError> {
    let registered_expiring = certificates::table
        .filter(certificates::status.eq(crate::registry::CertStatus::Actief.as_str()))
        .filter(certificates::not_after.gt(now))
        .filter(certificates::not_after.le(now + chrono::Duration::days(EXPIRING_WITHIN_DAYS)))
        .count()
        .get_result(conn)?;
    Ok(DbFacts {
        outbox: crate::dispatch::metrics::outbox_facts(conn, now)?,
        registered_expiring,
        oldest: crate::retention::store::oldest(conn)?,
        email: crate::email::store::facts(conn)?,
    })
}

/// Refreshes every state gauge and returns the registry rendered for
/// `/metrics` (whose handler calls it).
pub async fn refresh(config: &std::sync::Arc<Config>, db: &Db) -> String {
    let cfg = config.clone();
    let tls = tokio::task::spawn_blocking(move || facts::read(&cfg))
        .await
        .unwrap_or_default();
    let now = chrono::Utc::now().naive_utc();
    let from_db = tokio::time::timeout(DB_TIMEOUT, db.run(move |c| read_db(c, now))).await;
    let from_db = match from_db {
        Ok(Ok(f)) => Some(f),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: database query failed");
            None
        }
        Err(_) => {
            tracing::warn!("metrics: database query timed out");
            None
        }
    };
    fill(&tls, from_db.as_ref(), now)
}

/// Refills the gauges and renders the registry under one lock, so a scrape
/// overlapping another (of another instance's state, in tests) cannot show
/// the other's values.
fn fill(tls: &TlsFacts, db: Option<&DbFacts>, at: chrono::NaiveDateTime) -> String {
    let g = gauges();
    let _one = g.refill.lock().unwrap_or_else(|p| p.into_inner());
    let now = facts::now();
    g.cert_expiry.reset();
    for c in &tls.certs {
        g.cert_expiry
            .with_label_values(&[c.kind.as_str(), &c.subject])
            .set(c.not_after - now);
    }
    g.cert_file_errors.reset();
    // Every key is present (0 when readable), so an alert sees it change.
    for key in facts::FILE_KEYS {
        g.cert_file_errors.with_label_values(&[key]).set(0);
    }
    for p in &tls.problems {
        g.cert_file_errors.with_label_values(&[p.key]).inc();
    }
    g.crl_age.reset();
    g.crl_next_update.reset();
    for c in &tls.crls {
        g.crl_age
            .with_label_values(&[&c.issuer])
            .set(now - c.last_update);
        if let Some(next) = c.next_update {
            g.crl_next_update
                .with_label_values(&[&c.issuer])
                .set(next - now);
        }
    }
    g.outbox_depth.reset();
    g.endpoints.reset();
    g.retention_oldest.reset();
    g.email.reset();
    match db {
        Some(f) => {
            g.database_up.set(1);
            let o = &f.outbox;
            for (state, n) in [
                ("te_verdelen", o.unfanned),
                ("wachtend", o.waiting),
                ("dood", o.dead),
            ] {
                g.outbox_depth.with_label_values(&[state]).set(n);
            }
            g.outbox_oldest.set(o.oldest_waiting_secs);
            for (status, n) in [
                ("actief", o.endpoints_active),
                ("uitgeschakeld", o.endpoints_disabled),
            ] {
                g.endpoints.with_label_values(&[status]).set(n);
            }
            g.registered_expiring.set(f.registered_expiring);
            for (state, n) in [
                ("wachtend", f.email.wachtend),
                ("verzonden", f.email.verzonden),
                ("dood", f.email.dood),
            ] {
                g.email.with_label_values(&[state]).set(n);
            }
            for (table, oldest) in &f.oldest {
                let age = oldest.map_or(0, |t| (at - t).num_seconds().max(0));
                g.retention_oldest
                    .with_label_values(&[table.name()])
                    .set(age);
            }
        }
        None => g.database_up.set(0),
    }
    crate::metrics::render()
}
