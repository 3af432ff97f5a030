//! `GET /api/v1/whoami`: the authenticated party, certificate and
//! authorizations — the first call an integrator makes.

use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::routes::Endpoint;
use crate::http::auth::Authenticated;
use crate::http::error::json;
use crate::registry::{CertKind, PartyKind, PartyRef, Scopes};

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
    #[serde(serialize_with = "crate::json_time::utc")]
    geldig_tot: chrono::NaiveDateTime,
}

/// The authenticated party, certificate and authorizations.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "whoami",
    responses((status = 200, body = WhoAmI)))]
pub(super) async fn whoami(Authenticated(caller): Authenticated) -> HttpResponse {
    let c = &caller.certificate;
    json(
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
                geldig_tot: c.not_after,
            },
            autorisaties: c.scopes,
        },
    )
}
