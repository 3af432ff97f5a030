//! REST: the receiver check run by the platform against the caller's
//! registered callback (docs/callbacks.md §10) — start one, list and read
//! the stored reports. Only the caller's own party's runs.

use super::routes::Endpoint as Route;
use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::dispatch::check::platform::{self, Stored};
use crate::dispatch::check::{CaseReport, Report};
use crate::dispatch::render::timestamp;
use crate::http::auth::Authenticated;
use crate::http::error::json;
use crate::problem::Problem;
use crate::registry::Scope;
use crate::state::AppState;

pub(super) fn endpoints() -> Vec<Route> {
    vec![
        Route::new(Method::POST, "/terugkoppeling/abonnement/controle", || {
            web::post().to(controleren)
        }),
        Route::new(Method::GET, "/terugkoppeling/abonnement/controle", || {
            web::get().to(controles)
        }),
        Route::new(
            Method::GET,
            "/terugkoppeling/abonnement/controle/{id}",
            || web::get().to(controle),
        ),
    ]
}

// Not `ControleJson`: the OpenAPI document keys schemas by name, and that one
// is the authorization check's request (`POST /machtigingen/controle`).
/// One stored receiver check.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OntvangerControleJson {
    /// `TKC` + 32 hex digits.
    id: String,
    url: String,
    formaat: String,
    /// `lopend`, `geslaagd`, `niet-geslaagd` or `fout` (could not run; see `fout`).
    status: String,
    gestart: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    afgerond: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rapport: Option<Report>,
}

impl From<Stored> for OntvangerControleJson {
    fn from(s: Stored) -> Self {
        Self {
            rapport: s.report(),
            id: s.public_id.into(),
            url: s.url,
            formaat: s.format,
            status: s.status,
            gestart: timestamp(s.started_at),
            afgerond: s.finished_at.map(timestamp),
            fout: s.error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OntvangerControlesJson {
    /// Newest first, at most 20.
    controles: Vec<OntvangerControleJson>,
}

/// Run the receiver check against the caller's registered callback now
/// (synthetic callbacks marked `X-Machtigingen-Test: receiver-check`); the
/// answer is the stored report. At most `terugkoppeling.controles_per_uur`
/// (default 5) runs per party per hour.
#[utoipa::path(post, path = "/api/v1/terugkoppeling/abonnement/controle", tag = "terugkoppeling",
    responses((status = 200, body = OntvangerControleJson),
        (status = 409, description = "TKP-005: no registered callback"),
        (status = 422, description = "TKP-002: the callback host no longer passes the SSRF rule"),
        (status = 429, description = "TKP-006: too many checks this hour")))]
async fn controleren(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller.require(Scope::TerugkoppelingBeheren)?;
    let s = platform::run(&state.db, &state.config, &caller).await?;
    Ok(json(StatusCode::OK, &OntvangerControleJson::from(s)))
}

/// The caller's stored receiver checks, newest first (at most 20).
#[utoipa::path(get, path = "/api/v1/terugkoppeling/abonnement/controle", tag = "terugkoppeling",
    responses((status = 200, body = OntvangerControlesJson)))]
async fn controles(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller.require(Scope::TerugkoppelingBeheren)?;
    let rows = platform::list(&state.db, &caller).await?;
    Ok(json(
        StatusCode::OK,
        &OntvangerControlesJson {
            controles: rows.into_iter().map(OntvangerControleJson::from).collect(),
        },
    ))
}

/// One stored receiver check of the caller's party.
#[utoipa::path(get, path = "/api/v1/terugkoppeling/abonnement/controle/{id}", tag = "terugkoppeling",
    params(("id" = String, Path)), responses((status = 200, body = OntvangerControleJson), (status = 404)))]
async fn controle(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    caller.require(Scope::TerugkoppelingBeheren)?;
    let s = platform::get(&state.db, &caller, &id.into_inner().into()).await?;
    Ok(json(StatusCode::OK, &OntvangerControleJson::from(s)))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(controleren, controles, controle),
    components(schemas(OntvangerControleJson, OntvangerControlesJson, Report, CaseReport))
)]
pub struct Api;
