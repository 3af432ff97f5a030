//! Dispatcher metrics, registered once in the process-wide registry:
//! delivered / failed / retried / dead counts, delivery latency, queue depth
//! and the age of the oldest undelivered terugkoppeling (as this dispatcher
//! last saw them); and the database-wide outbox facts each `/metrics` scrape
//! reads ([`outbox_facts`]).

use std::sync::OnceLock;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
};

use super::{endpoints, queue};
use crate::db::schema::{
    terugkoppeling_deliveries as del, terugkoppeling_endpoints as ep, terugkoppeling_fanout as fan,
    terugkoppeling_state as st, terugkoppelingen as tk,
};
use crate::db::{DbConnection, DbResult};

pub struct DispatchMetrics {
    pub delivered: IntCounter,
    pub failed: IntCounter,
    pub retried: IntCounter,
    pub dead: IntCounter,
    pub latency: Histogram,
    pub queue_depth: IntGauge,
    pub oldest_age: IntGauge,
    /// Rounds started, by what woke the dispatcher.
    pub wakeups: IntCounterVec,
    /// Notifications of other instances' terugkoppelingen (PostgreSQL).
    pub notifications: IntCounter,
    /// Times the outbox listener had to connect again (PostgreSQL).
    pub listener_reconnects: IntCounter,
    /// Leases given back unsent: they waited too long in an endpoint's line.
    pub given_back: IntCounter,
    /// Where a round's time goes: `start` (waiting for a connection and
    /// `BEGIN`), `fan_out`, `lease`, `commit`, and the whole `round`.
    pub round_phases: HistogramVec,
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::new(name, help).unwrap_or_else(|e| panic!("metric definition: {e}"))
}

fn gauge(name: &str, help: &str) -> IntGauge {
    IntGauge::new(name, help).unwrap_or_else(|e| panic!("metric definition: {e}"))
}

pub fn get() -> &'static DispatchMetrics {
    static M: OnceLock<DispatchMetrics> = OnceLock::new();
    M.get_or_init(|| {
        let m = DispatchMetrics {
            delivered: counter(
                "terugkoppeling_delivered_total",
                "Terugkoppelingen delivered (2xx)",
            ),
            failed: counter(
                "terugkoppeling_failed_total",
                "Delivery attempts that failed",
            ),
            retried: counter(
                "terugkoppeling_retried_total",
                "Failed attempts scheduled for a retry",
            ),
            dead: counter(
                "terugkoppeling_dead_total",
                "Deliveries given up (dead letter)",
            ),
            latency: Histogram::with_opts(
                HistogramOpts::new(
                    "terugkoppeling_delivery_seconds",
                    "Callback request latency",
                )
                .buckets(vec![
                    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0,
                ]),
            )
            .unwrap_or_else(|e| panic!("metric definition: {e}")),
            queue_depth: gauge("terugkoppeling_queue_depth", "Deliveries waiting"),
            oldest_age: gauge(
                "terugkoppeling_oldest_undelivered_seconds",
                "Age of the oldest undelivered terugkoppeling",
            ),
            wakeups: IntCounterVec::new(
                Opts::new(
                    "terugkoppeling_wakeups_total",
                    "Dispatcher rounds by what started them: commit (this instance wrote a terugkoppeling), notify (another instance did, LISTEN/NOTIFY), attempt (a delivery finished), poll",
                ),
                &["cause"],
            )
            .unwrap_or_else(|e| panic!("metric definition: {e}")),
            notifications: counter(
                "terugkoppeling_notifications_total",
                "NOTIFYs of terugkoppelingen committed by other instances (PostgreSQL)",
            ),
            listener_reconnects: counter(
                "terugkoppeling_listener_reconnects_total",
                "Times the outbox listener connected again after losing its connection (PostgreSQL)",
            ),
            given_back: counter(
                "terugkoppeling_leases_given_back_total",
                "Leased deliveries given back unsent: they waited in an endpoint's line until an attempt could outlast the lease",
            ),
            round_phases: HistogramVec::new(
                HistogramOpts::new(
                    "terugkoppeling_round_phase_seconds",
                    "Time of a dispatcher round's fan-out-and-lease transaction by phase: start (waiting for a connection and BEGIN), fan_out, lease, commit; round is the whole",
                )
                .buckets(vec![
                    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0,
                ]),
                &["phase"],
            )
            .unwrap_or_else(|e| panic!("metric definition: {e}")),
        };
        for c in [
            Box::new(m.delivered.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(m.failed.clone()),
            Box::new(m.retried.clone()),
            Box::new(m.dead.clone()),
            Box::new(m.latency.clone()),
            Box::new(m.queue_depth.clone()),
            Box::new(m.oldest_age.clone()),
            Box::new(m.wakeups.clone()),
            Box::new(m.notifications.clone()),
            Box::new(m.listener_reconnects.clone()),
            Box::new(m.given_back.clone()),
            Box::new(m.round_phases.clone()),
        ] {
            crate::metrics::register(c);
        }
        m
    })
}

/// The outbox as the `/metrics` scrape reports it (database-wide).
#[derive(Debug, Default, Clone, Copy)]
pub struct OutboxFacts {
    /// Outbox rows above the fan-out low-water mark not yet turned into deliveries.
    pub unfanned: i64,
    pub waiting: i64,
    /// Dead letters: deliveries given up.
    pub dead: i64,
    /// Age of the oldest waiting delivery's terugkoppeling, 0 when none waits.
    pub oldest_waiting_secs: i64,
    pub endpoints_active: i64,
    pub endpoints_disabled: i64,
}

/// Counts by state. Every count is a range over an index (deliveries by
/// status, outbox rows above the low-water mark), so a scrape stays cheap as
/// the delivered history grows.
pub fn outbox_facts(conn: &mut DbConnection, now: NaiveDateTime) -> DbResult<OutboxFacts> {
    let count = |conn: &mut DbConnection, status: &str| -> DbResult<i64> {
        Ok(del::table
            .filter(del::status.eq(status))
            .count()
            .get_result(conn)?)
    };
    let waiting = count(conn, queue::WACHTEND)?;
    let dead = count(conn, queue::DOOD)?;
    let (_, oldest) = queue::depth(conn)?;
    let low: i64 = st::table
        .find(queue::LOW_WATER)
        .select(st::value)
        .first(conn)
        .optional()?
        .unwrap_or(0);
    let unfanned = tk::table
        .filter(tk::id.gt(low))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            // Repeated bound: see `queue`'s fan-out query.
            fan::table
                .filter(fan::terugkoppeling_id.eq(tk::id))
                .filter(fan::terugkoppeling_id.gt(low)),
        )))
        .count()
        .get_result(conn)?;
    let endpoints = |conn: &mut DbConnection, status: &str| -> DbResult<i64> {
        Ok(ep::table
            .filter(ep::status.eq(status))
            .count()
            .get_result(conn)?)
    };
    Ok(OutboxFacts {
        unfanned,
        waiting,
        dead,
        oldest_waiting_secs: oldest.map_or(0, |t| (now - t).num_seconds().max(0)),
        endpoints_active: endpoints(conn, endpoints::ACTIEF)?,
        endpoints_disabled: endpoints(conn, endpoints::UITGESCHAKELD)?,
    })
}
