//! REST mirror of the opt-in service under `/api/v1/optin`: the portal posts
//! the same `Toestemmingsregistratie` XML as over SOAP; everything else is
//! JSON. A registration carries a BSN, so it is never in a URL.

use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::routes::Endpoint;
use crate::http::auth::Authenticated;
use crate::http::body;
use crate::http::error::json;
use crate::machtiging::intake;
use crate::optin::service::{self, Confirmation};
use crate::optin::store::{Abonnement, Record};
use crate::optin::{Afhandeling, Naam, RegStatus, xml};
use crate::problem::{Code, Problem};
use crate::state::AppState;
use crate::validation::{self, El, SchemaSet};

pub(super) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::GET, "/optin/abonnement", || {
            web::get().to(abonnement)
        }),
        Endpoint::new(Method::PUT, "/optin/abonnement", || {
            web::put().to(aanmelden)
        }),
        Endpoint::new(Method::DELETE, "/optin/abonnement", || {
            web::delete().to(afmelden)
        }),
        Endpoint::new(Method::POST, "/optin/registraties", || {
            web::post().to(registreren)
        }),
        Endpoint::new(Method::GET, "/optin/registraties", || web::get().to(lijst)),
        Endpoint::new(Method::GET, "/optin/registraties/{id}", || {
            web::get().to(raadplegen)
        }),
        Endpoint::new(Method::POST, "/optin/registraties/{id}/afhandeling", || {
            web::post().to(afhandelen)
        }),
        Endpoint::new(Method::GET, "/optin/inbox", || web::get().to(ophalen)),
        Endpoint::new(Method::POST, "/optin/inbox/ontvangst", || {
            web::post().to(bevestigen)
        }),
    ]
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AbonnementJson {
    agb_zorgaanbieder: String,
    actief: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    notificatie_email: Option<String>,
    #[serde(serialize_with = "crate::json_time::utc")]
    aangemeld_op: NaiveDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "crate::json_time::utc_opt")]
    afgemeld_op: Option<NaiveDateTime>,
}

impl From<Abonnement> for AbonnementJson {
    fn from(a: Abonnement) -> Self {
        Self {
            actief: a.active(),
            agb_zorgaanbieder: a.provider_agb,
            notificatie_email: a.notificatie_email,
            aangemeld_op: a.aangemeld_op,
            afgemeld_op: a.afgemeld_op,
        }
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AanmeldenJson {
    notificatie_email: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistratieBevestigingJson {
    registratie_id: String,
    status: String,
    herhaald: bool,
}

impl From<Confirmation> for RegistratieBevestigingJson {
    fn from(c: Confirmation) -> Self {
        Self {
            registratie_id: c.id.into(),
            status: c.status.as_str().to_owned(),
            herhaald: c.repeated,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PatientJson {
    bsn: String,
    geboortedatum: NaiveDate,
    naam: Naam,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistratieJson {
    registratie_id: String,
    referentie: String,
    patient: PatientJson,
    agb_zorgaanbieder: String,
    toestemming: String,
    #[serde(serialize_with = "crate::json_time::utc")]
    gegeven_op: NaiveDateTime,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reden_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reden_tekst: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "crate::json_time::utc_opt")]
    afgehandeld_op: Option<NaiveDateTime>,
    #[serde(serialize_with = "crate::json_time::utc")]
    ontvangen_op: NaiveDateTime,
}

impl From<Record> for RegistratieJson {
    fn from(r: Record) -> Self {
        let g = r.registratie;
        Self {
            registratie_id: r.id.into(),
            referentie: g.referentie,
            patient: PatientJson {
                bsn: g.bsn,
                geboortedatum: g.geboortedatum,
                naam: g.naam,
            },
            agb_zorgaanbieder: g.agb_zorgaanbieder,
            toestemming: g.toestemming.as_str().to_owned(),
            gegeven_op: g.gegeven_op,
            status: r.status.as_str().to_owned(),
            reden_code: r.reden_code,
            reden_tekst: r.reden_tekst,
            afgehandeld_op: r.afgehandeld_op,
            ontvangen_op: r.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistratiesJson {
    registraties: Vec<RegistratieJson>,
}

fn list_json(items: Vec<Record>) -> HttpResponse {
    json(
        StatusCode::OK,
        &RegistratiesJson {
            registraties: items.into_iter().map(RegistratieJson::from).collect(),
        },
    )
}

/// The provider's subscription.
#[utoipa::path(get, path = "/api/v1/optin/abonnement", tag = "optin",
    responses((status = 200, body = AbonnementJson), (status = 404)))]
async fn abonnement(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let a = service::subscription(&state.db, caller).await?;
    Ok(json(StatusCode::OK, &AbonnementJson::from(a)))
}

/// `AanmeldenDienstOptin`: subscribe (again). Push delivery needs a callback
/// for event type `optin.registratie` (docs/callbacks.md).
#[utoipa::path(put, path = "/api/v1/optin/abonnement", tag = "optin",
    request_body = AanmeldenJson, responses((status = 200, body = AbonnementJson), (status = 403, description = "AUTZ-001, OPT-005")))]
async fn aanmelden(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    body: crate::http::json::Json<AanmeldenJson>,
) -> Result<HttpResponse, Problem> {
    let email = body.into_inner().notificatie_email;
    let a = service::subscribe(&state.db, caller, email).await?;
    Ok(json(StatusCode::OK, &AbonnementJson::from(a)))
}

/// `AfmeldenDienstOptin`.
#[utoipa::path(delete, path = "/api/v1/optin/abonnement", tag = "optin",
    responses((status = 200, body = AbonnementJson), (status = 404)))]
async fn afmelden(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let a = service::unsubscribe(&state.db, caller).await?;
    Ok(json(StatusCode::OK, &AbonnementJson::from(a)))
}

/// `RegistrerenToestemming` (portal): XML `Toestemmingsregistratie`.
#[utoipa::path(post, path = "/api/v1/optin/registraties", tag = "optin",
    request_body(content = String, content_type = "application/xml", description = "Toestemmingsregistratie (schemas/optin-v1.xsd)"),
    responses((status = 201, body = RegistratieBevestigingJson), (status = 200, body = RegistratieBevestigingJson, description = "identical resubmission"),
        (status = 400, description = "XML-*, XSD-001"), (status = 409, description = "DUP-001"), (status = 422, description = "OPT-001..003")))]
async fn registreren(
    req: HttpRequest,
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    body::require_xml(&req)?;
    let bytes = body::read(&req, payload, state.config.server.body_limit).await?;
    let registratie = intake::blocking(bytes.len(), move || {
        let doc = validation::document(&bytes, SchemaSet::Optin, "Toestemmingsregistratie")?;
        let root = doc
            .get_root_element()
            .map(El::new)
            .ok_or_else(|| Problem::new(Code::XmlNotWellFormed, "Geen root-element."))?;
        Ok::<_, Problem>(xml::registratie(&root)?)
    })
    .await?;
    let c = service::register(&state.db, caller, registratie).await?;
    let status = if c.repeated {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let location = format!("/api/v1/optin/registraties/{}", c.id);
    let mut resp = json(status, &RegistratieBevestigingJson::from(c));
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    Ok(resp)
}

/// `RaadplegenToestemming`: the portal its own, the provider those for it.
#[utoipa::path(get, path = "/api/v1/optin/registraties/{id}", tag = "optin",
    params(("id" = String, Path)), responses((status = 200, body = RegistratieJson), (status = 404)))]
async fn raadplegen(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let r = service::get(&state.db, caller, id.into_inner().into()).await?;
    Ok(json(StatusCode::OK, &RegistratieJson::from(r)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LijstQuery {
    status: Option<String>,
    /// At most 100 (default 50), newest first.
    maximum: Option<i64>,
}

/// Registrations: a portal its own, a provider those addressed to it.
#[utoipa::path(get, path = "/api/v1/optin/registraties", tag = "optin",
    params(LijstQuery), responses((status = 200, body = RegistratiesJson)))]
async fn lijst(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    q: web::Query<LijstQuery>,
) -> Result<HttpResponse, Problem> {
    let q = q.into_inner();
    let status = q
        .status
        .map(|s| {
            RegStatus::parse(&s)
                .ok_or_else(|| Problem::new(Code::BadRequest, format!("Onbekende status '{s}'.")))
        })
        .transpose()?;
    let items = service::list(&state.db, caller, status, q.maximum.unwrap_or(50)).await?;
    Ok(list_json(items))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MaxQuery {
    /// At most 100 (default 50).
    maximum: Option<i64>,
}

/// `OphalenToestemmingen` (provider, pull): oldest unacknowledged first; they
/// come again until acknowledged.
#[utoipa::path(get, path = "/api/v1/optin/inbox", tag = "optin",
    params(MaxQuery), responses((status = 200, body = RegistratiesJson)))]
async fn ophalen(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    q: web::Query<MaxQuery>,
) -> Result<HttpResponse, Problem> {
    let items = service::fetch(&state.db, caller, q.maximum.unwrap_or(50)).await?;
    Ok(list_json(items))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistratieOntvangstJson {
    /// At most 100 per call (as `BevestigenOntvangst`).
    #[schema(max_items = 100)]
    registratie_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BevestigdJson {
    bevestigd: usize,
}

/// `BevestigenOntvangst`: acknowledge fetched registrations.
#[utoipa::path(post, path = "/api/v1/optin/inbox/ontvangst", tag = "optin",
    request_body = RegistratieOntvangstJson, responses((status = 200, body = BevestigdJson)))]
async fn bevestigen(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    body: crate::http::json::Json<RegistratieOntvangstJson>,
) -> Result<HttpResponse, Problem> {
    let ids = body.into_inner().registratie_ids;
    if ids.len() > 100 {
        return Err(Problem::new(
            Code::BadRequest,
            "Hoogstens 100 registraties per keer.",
        ));
    }
    let n =
        service::acknowledge(&state.db, caller, ids.into_iter().map(Into::into).collect()).await?;
    Ok(json(StatusCode::OK, &BevestigdJson { bevestigd: n }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AfhandelingJson {
    /// `Verwerkt` or `Afgewezen`.
    status: String,
    reden_code: Option<String>,
    reden_tekst: Option<String>,
}

/// `AfhandelenToestemming` (provider).
#[utoipa::path(post, path = "/api/v1/optin/registraties/{id}/afhandeling", tag = "optin",
    params(("id" = String, Path)), request_body = AfhandelingJson,
    responses((status = 200, body = RegistratieBevestigingJson), (status = 404), (status = 409, description = "STA-001"), (status = 422, description = "OPT-004")))]
async fn afhandelen(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: crate::http::json::Json<AfhandelingJson>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let status = RegStatus::parse(&b.status).ok_or_else(|| {
        Problem::new(
            Code::BadRequest,
            format!("Onbekende status '{}'.", b.status),
        )
    })?;
    let a = Afhandeling {
        status,
        reden_code: b.reden_code,
        reden_tekst: b.reden_tekst,
    };
    let c = service::handle(&state.db, caller, id.into_inner().into(), a).await?;
    Ok(json(StatusCode::OK, &RegistratieBevestigingJson::from(c)))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        abonnement,
        aanmelden,
        afmelden,
        registreren,
        raadplegen,
        lijst,
        ophalen,
        bevestigen,
        afhandelen
    ),
    components(schemas(
        AbonnementJson,
        AanmeldenJson,
        RegistratieBevestigingJson,
        RegistratieJson,
        RegistratiesJson,
        RegistratieOntvangstJson,
        BevestigdJson,
        AfhandelingJson
    ))
)]
pub struct Api;
