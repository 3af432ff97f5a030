//! Prometheus metrics, served in text format on the ops listener at `/metrics`.
//! One process-wide registry: metrics are facts about the process, and a global
//! keeps the hot paths free of handles being passed around.

use std::sync::OnceLock;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    auth_refusals: IntCounterVec,
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let registry = Registry::new_custom(Some("machtigingen".into()), None)
            .unwrap_or_else(|_| Registry::new());
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route pattern and status",
            ),
            &["route", "status"],
        )
        .unwrap_or_else(|e| panic!("metric definition: {e}"));
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route pattern",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["route"],
        )
        .unwrap_or_else(|e| panic!("metric definition: {e}"));
        let auth_refusals = IntCounterVec::new(
            Opts::new(
                "auth_refusals_total",
                "Requests refused by identity checks, by reason",
            ),
            &["reason"],
        )
        .unwrap_or_else(|e| panic!("metric definition: {e}"));
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(auth_refusals.clone()),
        ] {
            // Registration only fails for duplicate names, which the fixed set above excludes.
            let _ = registry.register(c);
        }
        Metrics {
            registry,
            requests,
            latency,
            auth_refusals,
        }
    })
}

/// Counts one finished request.
pub fn request(route: &str, status: u16, seconds: f64) {
    let m = metrics();
    m.requests
        .with_label_values(&[route, status.to_string().as_str()])
        .inc();
    m.latency.with_label_values(&[route]).observe(seconds);
}

pub fn auth_refusal(reason: &str) {
    metrics().auth_refusals.with_label_values(&[reason]).inc();
}

/// Registers an extra collector (e.g. the dispatcher's gauges).
pub fn register(collector: Box<dyn prometheus::core::Collector>) {
    if let Err(e) = metrics().registry.register(collector) {
        tracing::warn!(error = %e, "metric registration failed");
    }
}

/// The registry in Prometheus text exposition format.
pub fn render() -> String {
    let mut buf = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&metrics().registry.gather(), &mut buf) {
        tracing::error!(error = %e, "metrics encoding failed");
    }
    String::from_utf8(buf).unwrap_or_default()
}
