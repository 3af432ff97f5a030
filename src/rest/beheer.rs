//! Gebruikersbeheer under `/api/v1/beheer`: the contact person's management of
//! its own party's certificates, contact details, consent statements for
//! software vendors, and the change history. JSON only.

use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::routes::Endpoint;
use crate::audit::AuditRecord;
use crate::beheer::{self, store::Contact};
use crate::http::auth::Authenticated;
use crate::http::error::json;
use crate::problem::{Code, Problem};
use crate::registry::consent::Verklaring;
use crate::registry::{CertKind, Certificate, Scope, Scopes};
use crate::state::AppState;

pub(super) fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint::new(Method::GET, "/beheer/certificaten", || {
            web::get().to(certificaten)
        }),
        Endpoint::new(Method::POST, "/beheer/certificaten", || {
            web::post().to(aanvragen)
        }),
        Endpoint::new(
            Method::POST,
            "/beheer/certificaten/{fp}/autorisaties",
            || web::post().to(autorisaties),
        ),
        Endpoint::new(
            Method::PUT,
            "/beheer/certificaten/{fp}/ip-allowlist",
            || web::put().to(allowlist),
        ),
        Endpoint::new(Method::POST, "/beheer/certificaten/{fp}/intrekking", || {
            web::post().to(intrekken)
        }),
        Endpoint::new(Method::GET, "/beheer/contact", || web::get().to(contact)),
        Endpoint::new(Method::PUT, "/beheer/contact", || {
            web::put().to(contact_wijzigen)
        }),
        Endpoint::new(Method::GET, "/beheer/toestemmingsverklaringen", || {
            web::get().to(verklaringen)
        }),
        Endpoint::new(Method::POST, "/beheer/toestemmingsverklaringen", || {
            web::post().to(verklaring_registreren)
        }),
        Endpoint::new(
            Method::DELETE,
            "/beheer/toestemmingsverklaringen/{id}",
            || web::delete().to(verklaring_intrekken),
        ),
        Endpoint::new(Method::GET, "/beheer/historie", || web::get().to(historie)),
    ]
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificaatJson {
    vingerafdruk: String,
    soort: String,
    onderwerp: String,
    /// The person holding a persoonlijk certificate; absent for a systeem
    /// certificate or one registered from another CA.
    #[serde(skip_serializing_if = "Option::is_none")]
    houder: Option<String>,
    serienummer: String,
    #[serde(serialize_with = "crate::json_time::utc")]
    geldig_van: NaiveDateTime,
    #[serde(serialize_with = "crate::json_time::utc")]
    geldig_tot: NaiveDateTime,
    status: String,
    #[schema(value_type = Vec<String>)]
    autorisaties: Scopes,
    ip_allowlist: Vec<String>,
}

impl From<Certificate> for CertificaatJson {
    fn from(c: Certificate) -> Self {
        Self {
            vingerafdruk: c.fingerprint,
            soort: c.kind.as_str().to_owned(),
            onderwerp: c.subject,
            houder: c.holder,
            serienummer: c.serial,
            geldig_van: c.not_before,
            geldig_tot: c.not_after,
            status: c.status.as_str().to_owned(),
            autorisaties: c.scopes,
            ip_allowlist: c.ip_allowlist.iter().map(ToString::to_string).collect(),
        }
    }
}

fn scopes(names: &[String]) -> Result<Scopes, Problem> {
    names
        .iter()
        .map(|n| {
            n.parse::<Scope>().map_err(|_| {
                Problem::new(Code::BadRequest, format!("Onbekende autorisatie '{n}'."))
            })
        })
        .collect()
}

fn cert(c: Certificate) -> HttpResponse {
    json(StatusCode::OK, &CertificaatJson::from(c))
}

/// The party's certificates.
#[utoipa::path(get, path = "/api/v1/beheer/certificaten", tag = "beheer",
    responses((status = 200, body = Vec<CertificaatJson>), (status = 403, description = "AUTZ-001")))]
async fn certificaten(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let list = beheer::certificates(&state.db, caller).await?;
    let body: Vec<CertificaatJson> = list.into_iter().map(CertificaatJson::from).collect();
    Ok(json(StatusCode::OK, &body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AanvraagJson {
    /// PKCS#10 CSR (PEM). RSA ≥ 2048 or EC P-256/384/521.
    csr: String,
    /// `systeem` (default: the party's software) or `persoonlijk` (a
    /// colleague, named in `houder`).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    soort: Option<String>,
    /// The colleague a persoonlijk certificate is for (1-64 characters; the
    /// certificate's common name). Required for, and only for, `persoonlijk`.
    #[serde(default)]
    houder: Option<String>,
    /// Authorizations: what the party's kind may hold on this kind of
    /// certificate; never `gebruikersbeheer` (BEH-001).
    #[serde(default)]
    autorisaties: Vec<String>,
    /// A systeem certificate's allowed addresses.
    #[serde(default)]
    ip_allowlist: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UitgegevenJson {
    certificaat: CertificaatJson,
    /// The signed certificate (PEM).
    pem: String,
}

/// Request a systeem certificate, or a persoonlijk certificate for a
/// colleague: the platform CA signs the CSR (subject built by the platform,
/// key usage clientAuth) and registers it with the chosen authorizations.
#[utoipa::path(post, path = "/api/v1/beheer/certificaten", tag = "beheer", request_body = AanvraagJson,
    responses((status = 201, body = UitgegevenJson), (status = 400, description = "REQ-004"), (status = 422, description = "BEH-001, BEH-002"), (status = 403, description = "AUTZ-001, BEH-006"), (status = 503, description = "BEH-003")))]
async fn aanvragen(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    body: crate::http::json::Json<AanvraagJson>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let kind = match b.soort.as_deref() {
        None => CertKind::Systeem,
        Some(s) => s.parse::<CertKind>().map_err(|_| {
            Problem::new(
                Code::BadRequest,
                format!("Soort '{s}' is geen persoonlijk of systeem."),
            )
        })?,
    };
    let (c, pem) = beheer::request_certificate(
        &state.db,
        caller,
        state.config.pki.clone(),
        beheer::CertificateRequest {
            csr: b.csr.into_bytes(),
            kind,
            holder: b.houder,
            scopes: scopes(&b.autorisaties)?,
            ip_allowlist: b.ip_allowlist,
        },
    )
    .await?;
    Ok(json(
        StatusCode::CREATED,
        &UitgegevenJson {
            certificaat: c.into(),
            pem,
        },
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutorisatiesJson {
    #[serde(default)]
    toekennen: Vec<String>,
    #[serde(default)]
    intrekken: Vec<String>,
}

/// Grant and withdraw authorizations of one of the party's certificates;
/// effective on that certificate's next request.
#[utoipa::path(post, path = "/api/v1/beheer/certificaten/{fp}/autorisaties", tag = "beheer",
    params(("fp" = String, Path, description = "SHA-256 fingerprint, hex")), request_body = AutorisatiesJson,
    responses((status = 200, body = CertificaatJson), (status = 404), (status = 422, description = "BEH-001")))]
async fn autorisaties(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    fp: web::Path<String>,
    body: crate::http::json::Json<AutorisatiesJson>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let c = beheer::change_scopes(
        &state.db,
        caller,
        fp.into_inner(),
        scopes(&b.toekennen)?,
        scopes(&b.intrekken)?,
    )
    .await?;
    Ok(cert(c))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowlistJson {
    /// CIDRs or addresses; empty: any address.
    netwerken: Vec<String>,
}

/// Set a systeem certificate's IP allow-list.
#[utoipa::path(put, path = "/api/v1/beheer/certificaten/{fp}/ip-allowlist", tag = "beheer",
    params(("fp" = String, Path)), request_body = AllowlistJson, responses((status = 200, body = CertificaatJson), (status = 404)))]
async fn allowlist(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    fp: web::Path<String>,
    body: crate::http::json::Json<AllowlistJson>,
) -> Result<HttpResponse, Problem> {
    let c = beheer::set_allowlist(
        &state.db,
        caller,
        fp.into_inner(),
        body.into_inner().netwerken,
    )
    .await?;
    Ok(cert(c))
}

/// Revoke one of the party's certificates, effective at once.
#[utoipa::path(post, path = "/api/v1/beheer/certificaten/{fp}/intrekking", tag = "beheer",
    params(("fp" = String, Path)), responses((status = 200, body = CertificaatJson), (status = 404), (status = 409, description = "BEH-004")))]
async fn intrekken(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    fp: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let c = beheer::revoke(&state.db, caller, fp.into_inner(), state.config.pki.clone()).await?;
    Ok(cert(c))
}

/// Contact person and notification addresses.
#[utoipa::path(get, path = "/api/v1/beheer/contact", tag = "beheer", responses((status = 200, body = Contact)))]
async fn contact(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    Ok(json(
        StatusCode::OK,
        &beheer::contact(&state.db, caller).await?,
    ))
}

#[utoipa::path(put, path = "/api/v1/beheer/contact", tag = "beheer",
    request_body = Contact,
    responses((status = 200, body = Contact)))]
async fn contact_wijzigen(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    body: crate::http::json::Json<Contact>,
) -> Result<HttpResponse, Problem> {
    let c = beheer::set_contact(&state.db, caller, body.into_inner()).await?;
    Ok(json(StatusCode::OK, &c))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerklaringJson {
    /// The vendor's party reference, e.g. `PLATFORM:pms-leverancier`.
    leverancier: String,
    /// Last day it is valid; open-ended when absent.
    geldig_tot: Option<NaiveDate>,
    /// The vendor may also read, fetch and handle this provider's opt-in
    /// registrations and receives their terugkoppelingen (`optin.registratie`).
    /// Default `false`.
    #[serde(default)]
    optin: bool,
}

/// The provider's consent statements.
#[utoipa::path(get, path = "/api/v1/beheer/toestemmingsverklaringen", tag = "beheer", responses((status = 200, body = Vec<Verklaring>)))]
async fn verklaringen(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    Ok(json(
        StatusCode::OK,
        &beheer::consents(&state.db, caller).await?,
    ))
}

/// Register a consent statement: the vendor may act for this provider.
#[utoipa::path(post, path = "/api/v1/beheer/toestemmingsverklaringen", tag = "beheer", request_body = VerklaringJson,
    responses((status = 201, body = Verklaring), (status = 422, description = "BEH-005")))]
async fn verklaring_registreren(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    body: crate::http::json::Json<VerklaringJson>,
) -> Result<HttpResponse, Problem> {
    let b = body.into_inner();
    let v = beheer::add_consent(&state.db, caller, b.leverancier, b.geldig_tot, b.optin).await?;
    Ok(json(StatusCode::CREATED, &v))
}

/// Withdraw a consent statement, effective on the vendor's next request.
#[utoipa::path(delete, path = "/api/v1/beheer/toestemmingsverklaringen/{id}", tag = "beheer",
    params(("id" = String, Path)), responses((status = 204), (status = 404)))]
async fn verklaring_intrekken(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    beheer::revoke_consent(&state.db, caller, id.into_inner().into()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The party's change history (who, what, before/after).
#[utoipa::path(get, path = "/api/v1/beheer/historie", tag = "beheer", responses((status = 200, body = Vec<AuditRecord>)))]
async fn historie(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    Ok(json(
        StatusCode::OK,
        &beheer::history(&state.db, caller).await?,
    ))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        certificaten,
        aanvragen,
        autorisaties,
        allowlist,
        intrekken,
        contact,
        contact_wijzigen,
        verklaringen,
        verklaring_registreren,
        verklaring_intrekken,
        historie
    ),
    components(schemas(
        CertificaatJson,
        AanvraagJson,
        UitgegevenJson,
        AutorisatiesJson,
        AllowlistJson,
        VerklaringJson
    ))
)]
pub struct Api;
