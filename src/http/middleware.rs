//! Per-request observation: a tracing span carrying the request id and the
//! client certificate's fingerprint, the `X-Request-Id` response header, and the
//! request metrics by route pattern (plus the SOAP operation and fault class a
//! handler put in the response's [`metrics::Outcome`]). Never logs a body or a
//! query string (a search may carry a BSN there).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

use crate::identity::PeerIdentity;
use crate::metrics;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A caller-supplied request id is kept when it is short and plain, so a
/// vendor can correlate; anything else is replaced (no log injection).
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(new_request_id)
}

pub fn new_request_id() -> String {
    let mut bytes = [0u8; 12];
    if openssl::rand::rand_bytes(&mut bytes).is_err() {
        // Without randomness a counter still gives unique ids for correlation.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes[..8].copy_from_slice(&n.to_be_bytes());
    }
    hex::encode(bytes)
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    let method = metrics::method_label(req.method());
    let fingerprint = req
        .conn_data::<PeerIdentity>()
        .and_then(|p| p.fingerprint.as_deref())
        .map(|f| f.get(..16).unwrap_or(f).to_owned())
        .unwrap_or_else(|| "-".into());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        fingerprint = %fingerprint,
        method = %req.method(),
        path = %req.path(),
    );
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let _enter = span.enter();
    match result {
        Ok(mut res) => {
            let route = res
                .request()
                .match_pattern()
                .unwrap_or_else(|| "<unmatched>".into());
            let status = res.status().as_u16();
            let outcome = res
                .response()
                .extensions()
                .get::<metrics::Outcome>()
                .copied()
                .unwrap_or_default();
            metrics::request(&route, method, status, elapsed.as_secs_f64(), outcome);
            tracing::info!(
                status,
                latency_ms = elapsed.as_secs_f64() * 1000.0,
                "request finished"
            );
            if let Ok(v) = HeaderValue::from_str(&id) {
                res.headers_mut().insert(REQUEST_ID, v);
            }
            Ok(res)
        }
        Err(e) => {
            let status = e.as_response_error().status_code().as_u16();
            metrics::request(
                "<error>",
                method,
                status,
                elapsed.as_secs_f64(),
                metrics::Outcome::default(),
            );
            tracing::warn!(status, error = %e, "request failed");
            Err(e)
        }
    }
}
