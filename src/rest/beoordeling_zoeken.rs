//! REST for an insurer's search of its own requests under
//! `/api/v1/beoordeling/machtigingsaanvragen` (`beoordeling::zoeken`): a
//! query string without patient data, or a JSON body that may name a patient
//! so a BSN never appears in a URL. Paged like the provider's search
//! (`vervolg`, `totaalIsMinimum`).

use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::machtigingen::{VerzekerdeZoek, parse_status};
use super::routes::Endpoint;
use crate::beoordeling::zoeken::{self, Zoekvraag};
use crate::http::auth::Authenticated;
use crate::http::error::json;
use crate::machtiging::query::{Page, Paging};
use crate::problem::Problem;
use crate::state::AppState;

pub(super) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::GET, "/beoordeling/machtigingsaanvragen", || {
            web::get().to(zoeken_query)
        }),
        Endpoint::new(
            Method::POST,
            "/beoordeling/machtigingsaanvragen/zoeken",
            || web::post().to(zoeken_body),
        ),
    ]
}

/// One request found, as a result list shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AanvraagSamenvattingJson {
    machtigingsaanvraag_id: String,
    /// The provider (AGB praktijk) the request is of.
    agb_praktijk: String,
    /// The provider's own reference.
    referentie: String,
    status: String,
    verstrekking: String,
    begindatum: NaiveDate,
    #[serde(serialize_with = "crate::json_time::utc")]
    aangemaakt_op: NaiveDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    machtigingsnummer: Option<String>,
}

/// One page of an insurer's search, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AanvraagZoekresultaatJson {
    /// The number of matches, exact up to 1000. With `totaalIsMinimum` there
    /// are more than 1000 and `totaal` is 1000.
    totaal: i64,
    /// `true`: more matches than `totaal` ("meer dan 1000").
    totaal_is_minimum: bool,
    /// The number of this page (1-based), counted along the `vervolg` chain.
    pagina: i64,
    pagina_grootte: i64,
    resultaten: Vec<AanvraagSamenvattingJson>,
    /// Send this back as `vervolg`, with the same criteria, for the next page;
    /// absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    vervolg: Option<String>,
}

impl From<Page> for AanvraagZoekresultaatJson {
    fn from(p: Page) -> Self {
        Self {
            totaal: p.total,
            totaal_is_minimum: p.total_is_minimum,
            pagina: p.page,
            pagina_grootte: p.page_size,
            vervolg: p.next,
            resultaten: p
                .items
                .into_iter()
                .map(|r| AanvraagSamenvattingJson {
                    machtigingsaanvraag_id: r.id,
                    agb_praktijk: r.provider_agb,
                    referentie: r.referentie,
                    status: r.status.as_str().to_owned(),
                    verstrekking: r.verstrekking,
                    begindatum: r.begindatum,
                    aangemaakt_op: r.created_at,
                    machtigingsnummer: r.machtigingsnummer,
                })
                .collect(),
        }
    }
}

/// An insurer's search criteria without a patient (query string).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AanvraagZoekQuery {
    /// A status; `Concept` matches nothing (a Concept is never sent to you).
    status: Option<String>,
    /// Created on or after this day.
    aangemaakt_vanaf: Option<NaiveDate>,
    /// Created on or before this day.
    aangemaakt_tot: Option<NaiveDate>,
    /// A Verstrekking code.
    verstrekking: Option<String>,
    /// One provider (AGB praktijk).
    agb_praktijk: Option<String>,
    /// The `vervolg` of the previous page; absent for the first page.
    vervolg: Option<String>,
    /// Results per page, 1–100 (default 20).
    pagina_grootte: Option<i64>,
}

/// An insurer's search criteria, possibly with a patient (JSON body).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AanvraagZoekBody {
    /// A status; `Concept` matches nothing (a Concept is never sent to you).
    status: Option<String>,
    /// Created on or after this day.
    aangemaakt_vanaf: Option<NaiveDate>,
    /// Created on or before this day.
    aangemaakt_tot: Option<NaiveDate>,
    /// A Verstrekking code.
    verstrekking: Option<String>,
    /// One provider (AGB praktijk).
    agb_praktijk: Option<String>,
    /// The patient: both BSN and geboortedatum must match.
    verzekerde: Option<VerzekerdeZoek>,
    /// The `vervolg` of the previous page; absent for the first page.
    vervolg: Option<String>,
    /// Results per page, 1–100 (default 20).
    pagina_grootte: Option<i64>,
}

/// `ZoekenAanvragen` without patient criteria (query string): the requests
/// addressed to your UZOVI, newest first; follow `vervolg` for the next page.
#[utoipa::path(get, path = "/api/v1/beoordeling/machtigingsaanvragen", tag = "beoordeling",
    params(AanvraagZoekQuery), responses((status = 200, body = AanvraagZoekresultaatJson),
        (status = 400, description = "REQ-004, REQ-006 (vervolg unreadable)"),
        (status = 403, description = "AUTZ-001 (no beoordelen), BEO-003 (not an insurer)")))]
async fn zoeken_query(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    q: web::Query<AanvraagZoekQuery>,
) -> Result<HttpResponse, Problem> {
    let q = q.into_inner();
    let vraag = Zoekvraag {
        status: parse_status(q.status)?,
        vanaf: q.aangemaakt_vanaf,
        tot: q.aangemaakt_tot,
        verstrekking: q.verstrekking,
        provider_agb: q.agb_praktijk,
        patient: None,
    };
    let paging = Paging {
        size: q.pagina_grootte,
        token: q.vervolg,
        page: None,
    };
    let page = zoeken::search(&state.db, caller, vraag, paging).await?;
    Ok(json(StatusCode::OK, &AanvraagZoekresultaatJson::from(page)))
}

/// `ZoekenAanvragen`, also by patient (BSN + geboortedatum), in a JSON body
/// so the BSN never appears in a URL or an access log.
#[utoipa::path(post, path = "/api/v1/beoordeling/machtigingsaanvragen/zoeken", tag = "beoordeling",
    request_body = AanvraagZoekBody, responses((status = 200, body = AanvraagZoekresultaatJson),
        (status = 400, description = "REQ-004, REQ-006 (vervolg unreadable)"),
        (status = 403, description = "AUTZ-001 (no beoordelen), BEO-003 (not an insurer)")))]
async fn zoeken_body(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    b: crate::http::json::Json<AanvraagZoekBody>,
) -> Result<HttpResponse, Problem> {
    let b = b.into_inner();
    let vraag = Zoekvraag {
        status: parse_status(b.status)?,
        vanaf: b.aangemaakt_vanaf,
        tot: b.aangemaakt_tot,
        verstrekking: b.verstrekking,
        provider_agb: b.agb_praktijk,
        patient: b.verzekerde.map(VerzekerdeZoek::into_parts),
    };
    let paging = Paging {
        size: b.pagina_grootte,
        token: b.vervolg,
        page: None,
    };
    let page = zoeken::search(&state.db, caller, vraag, paging).await?;
    Ok(json(StatusCode::OK, &AanvraagZoekresultaatJson::from(page)))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(zoeken_query, zoeken_body),
    components(schemas(AanvraagZoekresultaatJson, AanvraagSamenvattingJson, AanvraagZoekBody))
)]
pub struct Api;
