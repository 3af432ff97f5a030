//! REST for insurers under `/api/v1/beoordeling` (inbox, the request,
//! decisions, revisions of a grant, their own catalog) and `/api/v1/machtigingen/controle` (the
//! validity check for providers and insurers). JSON only.

use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::dto::{BeslissingJson, DetailsJson};
use super::routes::Endpoint;
use crate::beoordeling::controle::{self, Controle, Uitkomst};
use crate::beoordeling::{self, Beoordeling, Besluit, Herzien, herziening, store::InboxEntry};
use crate::catalog::InsurerCatalog;
use crate::http::auth::Authenticated;
use crate::http::error::json;
use crate::machtiging::model::{Outcome, Soort, Status, ToegekendePrestatie, Vraag, parse_euro};
use crate::machtiging::query::Details;
use crate::problem::{Code, Problem};
use crate::state::AppState;

pub(super) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::GET, "/beoordeling/inbox", || web::get().to(inbox)),
        Endpoint::new(Method::POST, "/beoordeling/inbox/ontvangst", || {
            web::post().to(ontvangst)
        }),
        Endpoint::new(
            Method::GET,
            "/beoordeling/machtigingsaanvragen/{id}",
            || web::get().to(aanvraag),
        ),
        Endpoint::new(
            Method::POST,
            "/beoordeling/machtigingsaanvragen/{id}/beoordeling",
            || web::post().to(beoordelen),
        ),
        Endpoint::new(
            Method::POST,
            "/beoordeling/machtigingsaanvragen/{id}/herziening",
            || web::post().to(herzien),
        ),
        Endpoint::new(Method::GET, "/beoordeling/catalogus", || {
            web::get().to(catalogus)
        }),
        Endpoint::new(Method::PUT, "/beoordeling/catalogus", || {
            web::put().to(catalogus_vervangen)
        }),
        Endpoint::new(Method::POST, "/machtigingen/controle", || {
            web::post().to(controleren)
        }),
    ]
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MaxQuery {
    /// At most 500 (default 100).
    maximum: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboxJson {
    items: Vec<InboxEntry>,
}

/// `OphalenInbox`: new and changed requests for the caller's UZOVI, oldest
/// first; they come again until acknowledged.
#[utoipa::path(get, path = "/api/v1/beoordeling/inbox", tag = "beoordeling", params(MaxQuery),
    responses((status = 200, body = InboxJson), (status = 403, description = "AUTZ-001, BEO-003")))]
async fn inbox(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    q: web::Query<MaxQuery>,
) -> Result<HttpResponse, Problem> {
    let items = beoordeling::inbox(&state.db, caller, q.maximum.unwrap_or(100)).await?;
    Ok(json(StatusCode::OK, &InboxJson { items }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InboxOntvangstJson {
    /// At most 500 per call (as `BevestigenInbox`).
    #[schema(max_items = 500)]
    inbox_ids: Vec<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BevestigdJson {
    bevestigd: usize,
}

/// `BevestigenInbox`: acknowledge entries by `inboxId`.
#[utoipa::path(post, path = "/api/v1/beoordeling/inbox/ontvangst", tag = "beoordeling",
    request_body = InboxOntvangstJson, responses((status = 200, body = BevestigdJson)))]
async fn ontvangst(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    body: crate::http::json::Json<InboxOntvangstJson>,
) -> Result<HttpResponse, Problem> {
    let ids = body.into_inner().inbox_ids;
    if ids.len() > 500 {
        return Err(Problem::new(Code::BadRequest, "Hoogstens 500 per keer."));
    }
    let n = beoordeling::acknowledge(&state.db, caller, ids).await?;
    Ok(json(StatusCode::OK, &BevestigdJson { bevestigd: n }))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DossierJson {
    machtigingsaanvraag: DetailsJson,
    /// The Machtigingsaanvraag document as submitted (XML).
    document: String,
}

/// `RaadplegenAanvraag`: the request, its document and history.
#[utoipa::path(get, path = "/api/v1/beoordeling/machtigingsaanvragen/{id}", tag = "beoordeling",
    params(("id" = String, Path)), responses((status = 200, body = DossierJson), (status = 404)))]
async fn aanvraag(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let d = beoordeling::get(&state.db, caller, id.into_inner().into()).await?;
    Ok(json(
        StatusCode::OK,
        &DossierJson {
            machtigingsaanvraag: DetailsJson::from(Details {
                record: d.record,
                history: d.history,
            }),
            document: d.document,
        },
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VraagInvoerJson {
    vraag_id: String,
    tekst: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToegekendJson {
    code: String,
    aantal: u32,
    /// Euro, e.g. `"1250.00"`.
    #[schema(pattern = r"^[0-9]{1,9}(\.[0-9]{1,2})?$")]
    bedrag: Option<String>,
}

/// A decision. `status` picks which other fields apply.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BeoordelingJson {
    /// `InBehandeling`, `AanvullendeInformatieGevraagd`, `Toegekend`,
    /// `DeelsToegekend` or `Afgewezen`.
    status: String,
    #[serde(default)]
    vragen: Vec<VraagInvoerJson>,
    /// Given by the insurer (1-15 letters/digits) or generated.
    machtigingsnummer: Option<String>,
    geldig_van: Option<NaiveDate>,
    geldig_tot: Option<NaiveDate>,
    /// For Toegekend: empty grants everything requested.
    #[serde(default)]
    toegekende_prestaties: Vec<ToegekendJson>,
    reden_code: Option<String>,
    reden_tekst: Option<String>,
}

impl BeoordelingJson {
    fn into_domain(self) -> Result<Beoordeling, Problem> {
        let outcome = |o| {
            let mut prestaties = Vec::new();
            for p in &self.toegekende_prestaties {
                let bedrag_centen = match &p.bedrag {
                    None => None,
                    Some(b) => Some(parse_euro(b).ok_or_else(|| {
                        Problem::new(
                            Code::BadRequest,
                            format!("Bedrag '{b}' is geen euro-bedrag."),
                        )
                    })?),
                };
                prestaties.push(ToegekendePrestatie {
                    code: p.code.clone(),
                    aantal: p.aantal,
                    bedrag_centen,
                });
            }
            Ok::<_, Problem>(Beoordeling::Besluit(Besluit {
                uitkomst: o,
                machtigingsnummer: self.machtigingsnummer.clone(),
                geldig_van: self.geldig_van,
                geldig_tot: self.geldig_tot,
                prestaties,
                reden_code: self.reden_code.clone(),
                reden_tekst: self.reden_tekst.clone(),
            }))
        };
        match Status::parse(&self.status) {
            Some(Status::InBehandeling) => Ok(Beoordeling::InBehandeling),
            Some(Status::AanvullendeInformatieGevraagd) => Ok(Beoordeling::Vragen(
                self.vragen
                    .iter()
                    .map(|v| Vraag {
                        vraag_id: v.vraag_id.clone(),
                        tekst: v.tekst.clone(),
                    })
                    .collect(),
            )),
            Some(Status::Toegekend) => outcome(Outcome::Toegekend),
            Some(Status::DeelsToegekend) => outcome(Outcome::DeelsToegekend),
            Some(Status::Afgewezen) => outcome(Outcome::Afgewezen),
            _ => Err(Problem::new(
                Code::BadRequest,
                format!(
                    "Status '{}' kan een verzekeraar niet vastleggen.",
                    self.status
                ),
            )),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BeoordeeldJson {
    machtigingsaanvraag_id: String,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    beslissing: Option<BeslissingJson>,
}

/// `VastleggenBeoordeling`: only legal transitions; the provider's
/// terugkoppeling is written in the same transaction.
#[utoipa::path(post, path = "/api/v1/beoordeling/machtigingsaanvragen/{id}/beoordeling", tag = "beoordeling",
    params(("id" = String, Path)), request_body = BeoordelingJson,
    responses((status = 200, body = BeoordeeldJson), (status = 404), (status = 409, description = "STA-001, BEO-002"), (status = 422, description = "BEO-001")))]
async fn beoordelen(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: crate::http::json::Json<BeoordelingJson>,
) -> Result<HttpResponse, Problem> {
    let id = id.into_inner();
    let b = body.into_inner().into_domain()?;
    let (status, beslissing) = beoordeling::decide(&state.db, caller, id.clone().into(), b).await?;
    Ok(json(
        StatusCode::OK,
        &BeoordeeldJson {
            machtigingsaanvraag_id: id,
            status: status.as_str().to_owned(),
            beslissing: beslissing.map(BeslissingJson::from),
        },
    ))
}

/// A revision of a grant. `soort` picks which date applies.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HerzieningInvoerJson {
    /// `Herroeping`, `Inkorting` or `Verlenging`.
    soort: String,
    /// Inkorting, Verlenging: the new end of the validity.
    geldig_tot: Option<NaiveDate>,
    /// Herroeping: the first day it is no longer valid, today or later
    /// (default: today).
    ingangsdatum: Option<NaiveDate>,
    /// Required (HER-001).
    reden_code: Option<String>,
    /// Required (HER-001).
    reden_tekst: Option<String>,
}

/// `HerzienenMachtiging`: the insurer that granted it revokes, shortens or
/// extends a granted machtiging, with a reason; the provider's
/// terugkoppeling is written in the same transaction.
#[utoipa::path(post, path = "/api/v1/beoordeling/machtigingsaanvragen/{id}/herziening", tag = "beoordeling",
    params(("id" = String, Path)), request_body = HerzieningInvoerJson,
    responses((status = 200, body = BeoordeeldJson), (status = 404), (status = 409, description = "STA-001"),
        (status = 422, description = "HER-001, HER-002, HER-003, HER-004")))]
async fn herzien(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: crate::http::json::Json<HerzieningInvoerJson>,
) -> Result<HttpResponse, Problem> {
    let id = id.into_inner();
    let b = body.into_inner();
    let soort = Soort::parse(&b.soort).ok_or_else(|| {
        Problem::new(
            Code::BadRequest,
            format!("Soort '{}' is geen herziening.", b.soort),
        )
    })?;
    let h = Herzien {
        soort,
        geldig_tot: b.geldig_tot,
        ingangsdatum: b.ingangsdatum,
        reden_code: b.reden_code,
        reden_tekst: b.reden_tekst,
    };
    let (status, beslissing) = herziening::revise(&state.db, caller, id.clone().into(), h).await?;
    Ok(json(
        StatusCode::OK,
        &BeoordeeldJson {
            machtigingsaanvraag_id: id,
            status: status.as_str().to_owned(),
            beslissing: Some(BeslissingJson::from(beslissing)),
        },
    ))
}

/// The insurer's own catalog, with its automatic rules.
#[utoipa::path(get, path = "/api/v1/beoordeling/catalogus", tag = "beoordeling",
    responses((status = 200, body = InsurerCatalog)))]
async fn catalogus(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    Ok(json(
        StatusCode::OK,
        &beoordeling::catalog(&state.db, caller).await?,
    ))
}

/// Replace the insurer's own catalog (format of `docs/examples/catalogus.json`,
/// one insurer).
#[utoipa::path(put, path = "/api/v1/beoordeling/catalogus", tag = "beoordeling",
    request_body = InsurerCatalog, responses((status = 200, body = InsurerCatalog), (status = 400), (status = 403, description = "BEO-004")))]
async fn catalogus_vervangen(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    body: crate::http::json::Json<InsurerCatalog>,
) -> Result<HttpResponse, Problem> {
    let c = beoordeling::replace_catalog(&state.db, caller, body.into_inner()).await?;
    Ok(json(StatusCode::OK, &c))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControleJson {
    uzovi: String,
    machtigingsnummer: String,
    bsn: String,
    prestatie: String,
    datum: NaiveDate,
}

/// `ControlerenMachtiging`: valid or not, and why.
#[utoipa::path(post, path = "/api/v1/machtigingen/controle", tag = "beoordeling",
    request_body = ControleJson, responses((status = 200, body = Uitkomst)))]
async fn controleren(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    body: crate::http::json::Json<ControleJson>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let u = controle::check(
        &state.db,
        caller,
        Controle {
            uzovi: b.uzovi,
            machtigingsnummer: b.machtigingsnummer,
            bsn: b.bsn,
            prestatie: b.prestatie,
            datum: b.datum,
        },
    )
    .await?;
    Ok(json(StatusCode::OK, &u))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        inbox,
        ontvangst,
        aanvraag,
        beoordelen,
        herzien,
        catalogus,
        catalogus_vervangen,
        controleren
    ),
    components(schemas(
        InboxJson,
        InboxOntvangstJson,
        BevestigdJson,
        DossierJson,
        BeoordelingJson,
        VraagInvoerJson,
        ToegekendJson,
        BeoordeeldJson,
        HerzieningInvoerJson,
        ControleJson
    ))
)]
pub struct Api;
