//! The operator's door: the operations listener (plain HTTP, localhost by
//! default, no client certificate) with liveness, readiness and metrics, and
//! the facts they report (`facts`: certificate files; `state`: the gauges
//! refilled on each scrape).
//!
//! Ready means: the database answers, the server certificate has not
//! expired, and no CRL is past its nextUpdate (a CA that stopped publishing
//! may have revoked certificates this server still accepts). A 503 names each
//! reason in its JSON body, so the operator sees why without reading logs.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

pub mod facts;
pub mod state;

use crate::http::error::json;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health/live", web::get().to(live))
        .route("/health/ready", web::get().to(ready))
        .route("/metrics", web::get().to(metrics));
}

async fn live() -> HttpResponse {
    json(StatusCode::OK, &json!({"status": "ok"}))
}

async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let mut reasons = Vec::new();
    let database = match state.db.ping().await {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            reasons.push(json!({"check": "database", "reason": "unreachable"}));
            "unreachable"
        }
    };
    let config = state.config.clone();
    let tls = web::block(move || facts::read(&config))
        .await
        .unwrap_or_default();
    let tls_reasons = facts::not_ready_reasons(&tls, facts::now());
    for r in &tls_reasons {
        tracing::warn!(reason = %r, "readiness check failed");
    }
    reasons.extend(tls_reasons);
    if reasons.is_empty() {
        json(
            StatusCode::OK,
            &json!({"status": "ok", "database": database}),
        )
    } else {
        json(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"status": "unavailable", "database": database, "reasons": reasons}),
        )
    }
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let text = crate::ops::state::refresh(&state.config, &state.db).await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text)
}
