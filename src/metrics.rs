//! Prometheus metrics, served in text format on the ops listener at `/metrics`.
//! One process-wide registry: metrics are facts about the process, and a global
//! keeps the hot paths free of handles being passed around.
//!
//! Counters and histograms are updated where things happen (requests, purge,
//! dispatcher); the state gauges — certificate expiry, CRLs, outbox depth,
//! database reachability — are refilled on each scrape by `ops::state`, which registers them here, so they
//! are as fresh as the scrape and cost nothing between scrapes. Labels are
//! closed sets (route patterns, operation names, fault codes, configured
//! certificates): never an id, a party or a BSN.

use std::sync::OnceLock;

use prometheus::core::Collector;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Whether a failed request was the caller's mistake or ours; a SOAP 1.1
/// client fault is an HTTP 500 on the wire, so the status alone cannot tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultClass {
    Client,
    Server,
}

impl FaultClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
        }
    }

    fn of_status(status: u16) -> Option<Self> {
        match status {
            500.. => Some(Self::Server),
            400.. => Some(Self::Client),
            _ => None,
        }
    }
}

/// What a handler knows about its request that the route pattern does not:
/// put in the response's extensions, read by the observing middleware.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome {
    /// The SOAP operation (one of the contract's names), when known.
    pub operation: Option<&'static str>,
    pub fault: Option<FaultClass>,
    /// The foutcode of a fault (a closed set, see docs/foutcodes.md).
    pub code: Option<&'static str>,
}

struct Metrics {
    registry: Registry,
    /// Process metrics keep their conventional unprefixed names
    /// (`process_cpu_seconds_total`, …), so they live in their own registry.
    process: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    faults: IntCounterVec,
    auth_refusals: IntCounterVec,
    purge_runs: IntCounterVec,
    purged: IntCounterVec,
    purge_last_success: IntGauge,
}

pub fn def<T>(r: prometheus::Result<T>) -> T {
    // Metric definitions are constants; a failure is a programming error
    // found by the first test that starts a server.
    r.unwrap_or_else(|e| panic!("metric definition: {e}"))
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    def(IntCounterVec::new(Opts::new(name, help), labels))
}

pub fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    def(IntGaugeVec::new(Opts::new(name, help), labels))
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let registry = Registry::new_custom(Some("machtigingen".into()), None)
            .unwrap_or_else(|_| Registry::new());
        let requests = counter_vec(
            "http_requests_total",
            "HTTP requests by route pattern, method, SOAP operation, status and fault class",
            &["route", "method", "operation", "status", "fault"],
        );
        let latency = def(HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route pattern and SOAP operation",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["route", "operation"],
        ));
        let faults = counter_vec(
            "faults_total",
            "Faults and problems answered, by route, SOAP operation, class (client/server) and foutcode",
            &["route", "operation", "class", "code"],
        );
        let auth_refusals = counter_vec(
            "auth_refusals_total",
            "Requests refused by identity checks, by reason",
            &["reason"],
        );
        let purge_runs = counter_vec(
            "retention_purge_runs_total",
            "Retention purge runs by result (ok/error)",
            &["result"],
        );
        let purged = counter_vec(
            "retention_purged_total",
            "Rows removed by the retention purge, by kind",
            &["kind"],
        );
        let purge_last_success = IntGauge::new(
            "retention_purge_last_success_timestamp_seconds",
            "Unix time of the last successful retention purge",
        );
        let purge_last_success = def(purge_last_success);
        // Both results exist from the start, so `increase(…{result="error"})` has a base.
        for result in ["ok", "error"] {
            purge_runs.with_label_values(&[result]);
        }
        let build_info = gauge_vec(
            "build_info",
            "Always 1; the labels say which build is running",
            &["version", "profile"],
        );
        let profile = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), profile])
            .set(1);
        let collectors: [Box<dyn Collector>; 8] = [
            Box::new(requests.clone()),
            Box::new(latency.clone()),
            Box::new(faults.clone()),
            Box::new(auth_refusals.clone()),
            Box::new(purge_runs.clone()),
            Box::new(purged.clone()),
            Box::new(purge_last_success.clone()),
            Box::new(build_info),
        ];
        for c in collectors {
            // Registration only fails for duplicate names, which the fixed set above excludes.
            let _ = registry.register(c);
        }
        let process = Registry::new();
        #[cfg(target_os = "linux")]
        {
            let _ = process.register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ));
        }
        Metrics {
            registry,
            process,
            requests,
            latency,
            faults,
            auth_refusals,
            purge_runs,
            purged,
            purge_last_success,
        }
    })
}

/// Counts one finished request. `outcome` is what the handler added; without
/// it the fault class follows the status.
pub fn request(route: &str, method: &str, status: u16, seconds: f64, outcome: Outcome) {
    let m = metrics();
    let operation = outcome.operation.unwrap_or("");
    let fault = outcome.fault.or_else(|| FaultClass::of_status(status));
    let fault_label = fault.map_or("", FaultClass::as_str);
    m.requests
        .with_label_values(&[
            route,
            method,
            operation,
            status.to_string().as_str(),
            fault_label,
        ])
        .inc();
    m.latency
        .with_label_values(&[route, operation])
        .observe(seconds);
    if let Some(class) = fault {
        m.faults
            .with_label_values(&[route, operation, class.as_str(), outcome.code.unwrap_or("")])
            .inc();
    }
}

/// The request methods worth a label value; anything else is "other", so a
/// client cannot mint label values.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

pub fn auth_refusal(reason: &str) {
    metrics().auth_refusals.with_label_values(&[reason]).inc();
}

/// Records one retention purge run: rows removed per kind, or a failure.
pub fn purge(result: Result<&[(&str, usize)], ()>) {
    let m = metrics();
    match result {
        Ok(kinds) => {
            m.purge_runs.with_label_values(&["ok"]).inc();
            for (kind, n) in kinds {
                m.purged
                    .with_label_values(&[kind])
                    .inc_by(u64::try_from(*n).unwrap_or(u64::MAX));
            }
            m.purge_last_success.set(chrono::Utc::now().timestamp());
        }
        Err(()) => m.purge_runs.with_label_values(&["error"]).inc(),
    }
}

/// Registers an extra collector (e.g. the dispatcher's gauges).
pub fn register(collector: Box<dyn Collector>) {
    if let Err(e) = metrics().registry.register(collector) {
        tracing::warn!(error = %e, "metric registration failed");
    }
}

/// The registries in Prometheus text exposition format.
pub fn render() -> String {
    let m = metrics();
    let mut families = m.process.gather();
    families.extend(m.registry.gather());
    let mut buf = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&families, &mut buf) {
        tracing::error!(error = %e, "metrics encoding failed");
    }
    String::from_utf8(buf).unwrap_or_default()
}
