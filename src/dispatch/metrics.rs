//! Dispatcher metrics, registered once in the process-wide registry:
//! delivered / failed / retried / dead counts, delivery latency, queue depth
//! and the age of the oldest undelivered terugkoppeling.

use std::sync::OnceLock;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge};

pub struct DispatchMetrics {
    pub delivered: IntCounter,
    pub failed: IntCounter,
    pub retried: IntCounter,
    pub dead: IntCounter,
    pub latency: Histogram,
    pub queue_depth: IntGauge,
    pub oldest_age: IntGauge,
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
        };
        for c in [
            Box::new(m.delivered.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(m.failed.clone()),
            Box::new(m.retried.clone()),
            Box::new(m.dead.clone()),
            Box::new(m.latency.clone()),
            Box::new(m.queue_depth.clone()),
            Box::new(m.oldest_age.clone()),
        ] {
            crate::metrics::register(c);
        }
        m
    })
}
