//! REST mirror of the machtigingen service under `/api/v1`: submit and modify
//! take the same XML document as SOAP (`application/xml`), everything else is
//! JSON. A search by patient goes in a POST body, never in a URL.

use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::dto::{BeslissingJson, DetailsJson};
use super::routes::Endpoint;
use crate::http::auth::Authenticated;
use crate::http::body;
use crate::http::error::json;
use crate::machtiging::intake;
use crate::machtiging::model::Status;
use crate::machtiging::query::{self, NamedCatalog, Page, Paging};
use crate::machtiging::search::Criteria;
use crate::machtiging::service::{self, Confirmation};
use crate::problem::{Code, Problem};
use crate::state::AppState;

pub(super) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::POST, "/machtigingsaanvragen", || {
            web::post().to(indienen)
        }),
        Endpoint::new(Method::GET, "/machtigingsaanvragen", || {
            web::get().to(zoeken_query)
        }),
        Endpoint::new(Method::POST, "/machtigingsaanvragen/zoeken", || {
            web::post().to(zoeken_body)
        }),
        Endpoint::new(Method::GET, "/machtigingsaanvragen/{id}", || {
            web::get().to(raadplegen)
        }),
        Endpoint::new(Method::PUT, "/machtigingsaanvragen/{id}", || {
            web::put().to(wijzigen)
        }),
        Endpoint::new(
            Method::POST,
            "/machtigingsaanvragen/{id}/intrekking",
            || web::post().to(intrekken),
        ),
        Endpoint::new(
            Method::POST,
            "/machtigingsaanvragen/{id}/aanvullende-informatie",
            || web::post().to(aanvullen),
        ),
        Endpoint::new(Method::GET, "/verstrekkingen", || {
            web::get().to(verstrekkingen)
        }),
    ]
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ConceptParam {
    /// `true`: save as Concept (draft) instead of submitting.
    #[serde(default)]
    #[param(required = false)]
    concept: bool,
}

/// The answer to a submission or a change.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BevestigingJson {
    machtigingsaanvraag_id: String,
    status: String,
    /// True for a resubmission of an identical earlier request.
    herhaald: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    beslissing: Option<BeslissingJson>,
}

impl From<Confirmation> for BevestigingJson {
    fn from(c: Confirmation) -> Self {
        Self {
            machtigingsaanvraag_id: c.id.into(),
            status: c.status.as_str().to_owned(),
            herhaald: c.repeated,
            beslissing: c.beslissing.map(BeslissingJson::from),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SamenvattingJson {
    machtigingsaanvraag_id: String,
    referentie: String,
    status: String,
    uzovi: String,
    verstrekking: String,
    begindatum: NaiveDate,
    #[serde(serialize_with = "crate::json_time::utc")]
    aangemaakt_op: NaiveDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    machtigingsnummer: Option<String>,
}

/// One page of a search, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZoekresultaatJson {
    /// The number of matches, exact up to 1000. With `totaalIsMinimum` there
    /// are more than 1000 and `totaal` is 1000.
    totaal: i64,
    /// `true`: more matches than `totaal` ("meer dan 1000").
    totaal_is_minimum: bool,
    /// The number of this page (1-based), counted along the `vervolg` chain.
    pagina: i64,
    pagina_grootte: i64,
    resultaten: Vec<SamenvattingJson>,
    /// Send this back as `vervolg`, with the same criteria, for the next page;
    /// absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    vervolg: Option<String>,
}

impl From<Page> for ZoekresultaatJson {
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
                .map(|r| SamenvattingJson {
                    machtigingsaanvraag_id: r.id,
                    referentie: r.referentie,
                    status: r.status.as_str().to_owned(),
                    uzovi: r.uzovi,
                    verstrekking: r.verstrekking,
                    begindatum: r.begindatum,
                    aangemaakt_op: r.created_at,
                    machtigingsnummer: r.machtigingsnummer,
                })
                .collect(),
        }
    }
}

/// Search criteria without a patient (query string).
#[allow(deprecated)]
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ZoekQuery {
    referentie: Option<String>,
    status: Option<String>,
    aangemaakt_vanaf: Option<NaiveDate>,
    aangemaakt_tot: Option<NaiveDate>,
    /// The `vervolg` of the previous page; absent for the first page.
    vervolg: Option<String>,
    /// Deprecated: use `vervolg`. A page number (1-based) that starts
    /// within the first 1000 results; further is `400 REQ-006`. Not with `vervolg`.
    #[deprecated = "use vervolg"]
    pagina: Option<i64>,
    /// Results per page, 1–100 (default 20).
    pagina_grootte: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerzekerdeZoek {
    bsn: String,
    geboortedatum: NaiveDate,
}

impl VerzekerdeZoek {
    /// The patient as a search criterion.
    pub(super) fn into_parts(self) -> (String, NaiveDate) {
        (self.bsn, self.geboortedatum)
    }
}

/// Search criteria, possibly with a patient (JSON body).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ZoekBody {
    machtigingsaanvraag_id: Option<String>,
    referentie: Option<String>,
    status: Option<String>,
    aangemaakt_vanaf: Option<NaiveDate>,
    aangemaakt_tot: Option<NaiveDate>,
    verzekerde: Option<VerzekerdeZoek>,
    /// The `vervolg` of the previous page; absent for the first page.
    vervolg: Option<String>,
    /// Deprecated: use `vervolg`. A page number (1-based) that starts
    /// within the first 1000 results; further is `400 REQ-006`. Not with `vervolg`.
    #[schema(deprecated)]
    pagina: Option<i64>,
    /// Results per page, 1–100 (default 20).
    pagina_grootte: Option<i64>,
}

pub(super) fn parse_status(s: Option<String>) -> Result<Option<Status>, Problem> {
    s.map(|s| {
        Status::parse(&s)
            .ok_or_else(|| Problem::new(Code::BadRequest, format!("Onbekende status '{s}'.")))
    })
    .transpose()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IntrekkingJson {
    reden: Option<String>,
}

async fn xml_body(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<web::Bytes, Problem> {
    body::require_xml(req)?;
    body::read(req, payload, state.config.server.body_limit).await
}

/// Submit a Machtigingsaanvraag (XML). 201 with the new id; 200 with the
/// original id for an identical resubmission.
#[utoipa::path(post, path = "/api/v1/machtigingsaanvragen", tag = "machtigingsaanvragen",
    params(ConceptParam),
    request_body(content = String, content_type = "application/xml", description = "Machtigingsaanvraag (schemas/machtigingen-v1.xsd)"),
    responses((status = 201, body = BevestigingJson), (status = 200, body = BevestigingJson, description = "identical resubmission"),
        (status = 400, description = "XML-*, XSD-001"), (status = 409, description = "DUP-001"), (status = 422, description = "JVC-000 with findings")))]
async fn indienen(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    query: web::Query<ConceptParam>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let bytes = xml_body(&req, payload, &state).await?;
    let concept = query.concept;
    let submission =
        intake::blocking(bytes.len(), move || intake::submission(&bytes, concept)).await?;
    let confirmation = service::submit(&state.db, caller, submission).await?;
    let status = if confirmation.repeated {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let location = format!("/api/v1/machtigingsaanvragen/{}", confirmation.id);
    let mut resp = json(status, &BevestigingJson::from(confirmation));
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    Ok(resp)
}

/// Replace the content of a Concept or of a request the insurer has not
/// started on. Without `concept=true` a Concept is submitted.
#[utoipa::path(put, path = "/api/v1/machtigingsaanvragen/{id}", tag = "machtigingsaanvragen",
    params(("id" = String, Path), ConceptParam),
    request_body(content = String, content_type = "application/xml"),
    responses((status = 200, body = BevestigingJson), (status = 404), (status = 409, description = "STA-001")))]
async fn wijzigen(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ConceptParam>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let bytes = xml_body(&req, payload, &state).await?;
    let concept = query.concept;
    let submission =
        intake::blocking(bytes.len(), move || intake::submission(&bytes, concept)).await?;
    let c = service::modify(&state.db, caller, id.into_inner().into(), submission).await?;
    Ok(json(StatusCode::OK, &BevestigingJson::from(c)))
}

/// Withdraw a request that is not final yet.
#[utoipa::path(post, path = "/api/v1/machtigingsaanvragen/{id}/intrekking", tag = "machtigingsaanvragen",
    params(("id" = String, Path)), request_body = IntrekkingJson,
    responses((status = 200, body = BevestigingJson), (status = 404), (status = 409, description = "STA-001")))]
async fn intrekken(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: crate::http::json::Json<IntrekkingJson>,
) -> Result<HttpResponse, Problem> {
    let reden = body.into_inner().reden;
    let c = service::withdraw(&state.db, caller, id.into_inner().into(), reden).await?;
    Ok(json(StatusCode::OK, &BevestigingJson::from(c)))
}

/// Answer the insurer's questions (XML `AanvullendeInformatie`).
#[utoipa::path(post, path = "/api/v1/machtigingsaanvragen/{id}/aanvullende-informatie", tag = "machtigingsaanvragen",
    params(("id" = String, Path)),
    request_body(content = String, content_type = "application/xml", description = "AanvullendeInformatie"),
    responses((status = 200, body = BevestigingJson), (status = 404), (status = 409, description = "STA-001")))]
async fn aanvullen(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let bytes = xml_body(&req, payload, &state).await?;
    let (info, document) =
        intake::blocking(bytes.len(), move || intake::aanvulling(&bytes)).await?;
    let c = service::supply_information(&state.db, caller, id.into_inner().into(), info, document)
        .await?;
    Ok(json(StatusCode::OK, &BevestigingJson::from(c)))
}

/// Status, history and decision of one request.
#[utoipa::path(get, path = "/api/v1/machtigingsaanvragen/{id}", tag = "machtigingsaanvragen",
    params(("id" = String, Path)), responses((status = 200, body = DetailsJson), (status = 404)))]
async fn raadplegen(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let d = query::get(&state.db, caller, id.into_inner().into()).await?;
    Ok(json(StatusCode::OK, &DetailsJson::from(d)))
}

/// Search without patient criteria (query string). Newest first; follow
/// `vervolg` for the next page.
#[utoipa::path(get, path = "/api/v1/machtigingsaanvragen", tag = "machtigingsaanvragen",
    params(ZoekQuery), responses((status = 200, body = ZoekresultaatJson),
        (status = 400, description = "REQ-004, REQ-006 (vervolg unreadable, with pagina, or pagina past the first 1000)")))]
#[allow(deprecated)] // reads the deprecated `pagina` on purpose
async fn zoeken_query(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    q: web::Query<ZoekQuery>,
) -> Result<HttpResponse, Problem> {
    let q = q.into_inner();
    let criteria = Criteria {
        referentie: q.referentie,
        status: parse_status(q.status)?,
        vanaf: q.aangemaakt_vanaf,
        tot: q.aangemaakt_tot,
        ..Default::default()
    };
    let paging = Paging {
        size: q.pagina_grootte,
        token: q.vervolg,
        page: q.pagina,
    };
    let page = query::search(&state.db, caller, criteria, paging).await?;
    Ok(json(StatusCode::OK, &ZoekresultaatJson::from(page)))
}

/// Search, also by patient (BSN + geboortedatum), in a JSON body so the BSN
/// never appears in a URL or an access log.
#[utoipa::path(post, path = "/api/v1/machtigingsaanvragen/zoeken", tag = "machtigingsaanvragen",
    request_body = ZoekBody, responses((status = 200, body = ZoekresultaatJson),
        (status = 400, description = "REQ-004, REQ-006 (vervolg unreadable, with pagina, or pagina past the first 1000)")))]
async fn zoeken_body(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    b: crate::http::json::Json<ZoekBody>,
) -> Result<HttpResponse, Problem> {
    let b = b.into_inner();
    let criteria = Criteria {
        id: b.machtigingsaanvraag_id,
        referentie: b.referentie,
        status: parse_status(b.status)?,
        vanaf: b.aangemaakt_vanaf,
        tot: b.aangemaakt_tot,
        patient: b.verzekerde.map(|v| (v.bsn, v.geboortedatum)),
        ..Default::default()
    };
    let paging = Paging {
        size: b.pagina_grootte,
        token: b.vervolg,
        page: b.pagina,
    };
    let page = query::search(&state.db, caller, criteria, paging).await?;
    Ok(json(StatusCode::OK, &ZoekresultaatJson::from(page)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UzoviQuery {
    /// Only this insurer's catalog.
    uzovi: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerzekeraarJson {
    uzovi: String,
    naam: String,
    /// The catalog entries (`docs/examples/catalogus.json` shows the shape);
    /// automatic decision rules are the insurer's and not shown.
    #[schema(value_type = Vec<crate::catalog::Verstrekking>)]
    verstrekkingen: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerstrekkingenJson {
    verzekeraars: Vec<VerzekeraarJson>,
}

fn public_catalog(n: NamedCatalog) -> VerzekeraarJson {
    let verstrekkingen = n
        .catalog
        .verstrekkingen
        .into_iter()
        .map(|mut v| {
            v.regels.clear();
            let mut value = serde_json::to_value(v).unwrap_or_default();
            if let Some(o) = value.as_object_mut() {
                o.remove("regels");
            }
            value
        })
        .collect();
    VerzekeraarJson {
        uzovi: n.catalog.uzovi,
        naam: n.naam,
        verstrekkingen,
    }
}

/// Which verstrekkingen each insurer accepts.
#[utoipa::path(get, path = "/api/v1/verstrekkingen", tag = "machtigingsaanvragen",
    params(UzoviQuery), responses((status = 200, body = VerstrekkingenJson)))]
async fn verstrekkingen(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    q: web::Query<UzoviQuery>,
) -> Result<HttpResponse, Problem> {
    let list = query::verstrekkingen(&state.db, caller, q.into_inner().uzovi).await?;
    Ok(json(
        StatusCode::OK,
        &VerstrekkingenJson {
            verzekeraars: list.into_iter().map(public_catalog).collect(),
        },
    ))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        indienen,
        wijzigen,
        intrekken,
        aanvullen,
        raadplegen,
        zoeken_query,
        zoeken_body,
        verstrekkingen
    ),
    components(schemas(
        BevestigingJson,
        DetailsJson,
        ZoekresultaatJson,
        ZoekBody,
        IntrekkingJson,
        VerstrekkingenJson
    ))
)]
pub struct Api;
