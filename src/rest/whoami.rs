//! `GET /api/v1/whoami`: the authenticated party, certificate (with its
//! holder) and authorizations, and who the party's contact person is — the
//! first call an integrator makes, and a person's "Mijn Gegevens".

use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::routes::Endpoint;
use crate::beheer;
use crate::http::auth::Authenticated;
use crate::http::error::json;
use crate::problem::Problem;
use crate::registry::{CertKind, PartyKind, PartyRef, Scopes};
use crate::state::AppState;

pub(super) fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::new(Method::GET, "/whoami", || {
        web::get().to(whoami)
    })]
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct WhoAmI<'a> {
    partij: Partij<'a>,
    certificaat: Certificaat<'a>,
    #[schema(value_type = Vec<String>)]
    autorisaties: Scopes,
    /// The party's contact person, who manages its certificates and
    /// authorizations; absent while none is registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    contactpersoon: Option<Contactpersoon>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Contactpersoon {
    #[serde(skip_serializing_if = "Option::is_none")]
    naam: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    telefoon: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Partij<'a> {
    #[schema(value_type = String)]
    soort: PartyKind,
    /// Party reference, e.g. `AGB:03123456`.
    #[schema(value_type = String)]
    id: &'a PartyRef,
    naam: &'a str,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Certificaat<'a> {
    #[schema(value_type = String)]
    soort: CertKind,
    vingerafdruk: &'a str,
    serienummer: &'a str,
    onderwerp: &'a str,
    /// The person holding a persoonlijk certificate, when the platform
    /// issued it for a named person.
    #[serde(skip_serializing_if = "Option::is_none")]
    houder: Option<&'a str>,
    #[serde(serialize_with = "crate::json_time::utc")]
    geldig_tot: chrono::NaiveDateTime,
}

/// The authenticated party, certificate and authorizations, and the party's
/// contact person.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "whoami",
    responses((status = 200, body = WhoAmI)))]
pub(super) async fn whoami(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    let contact = beheer::contact_person(&state.db, &caller).await?;
    let c = &caller.certificate;
    Ok(json(
        StatusCode::OK,
        &WhoAmI {
            partij: Partij {
                soort: c.party.kind,
                id: &c.party.reference,
                naam: &c.party.name,
            },
            certificaat: Certificaat {
                soort: c.kind,
                vingerafdruk: &c.fingerprint,
                serienummer: &c.serial,
                onderwerp: &c.subject,
                houder: c.holder.as_deref(),
                geldig_tot: c.not_after,
            },
            autorisaties: c.scopes,
            contactpersoon: contact.map(|p| Contactpersoon {
                naam: p.naam,
                email: p.email,
                telefoon: p.telefoon,
            }),
        },
    ))
}
