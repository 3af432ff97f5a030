//! The operations listener (plain HTTP, localhost by default, no client
//! certificate): liveness, readiness (database reachable) and metrics.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use super::error::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health/live", web::get().to(live))
        .route("/health/ready", web::get().to(ready))
        .route("/metrics", web::get().to(metrics));
}

async fn live() -> HttpResponse {
    json(StatusCode::OK, &json!({"status": "ok"}))
}

async fn ready(state: web::Data<AppState>) -> HttpResponse {
    match state.db.ping().await {
        Ok(()) => json(StatusCode::OK, &json!({"status": "ok", "database": "ok"})),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"status": "unavailable", "database": "unreachable"}),
            )
        }
    }
}

async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::render())
}
