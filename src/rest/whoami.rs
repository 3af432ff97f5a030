//! `GET /api/v1/whoami`: the authenticated party, certificate and
//! authorizations — the first call an integrator makes.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::http::auth::Authenticated;
use crate::http::error::json;
use crate::registry::{CertKind, PartyKind, PartyRef, Scopes};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/whoami", web::get().to(whoami));
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WhoAmI<'a> {
    partij: Partij<'a>,
    certificaat: Certificaat<'a>,
    autorisaties: Scopes,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Partij<'a> {
    soort: PartyKind,
    id: &'a PartyRef,
    naam: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Certificaat<'a> {
    soort: CertKind,
    vingerafdruk: &'a str,
    serienummer: &'a str,
    onderwerp: &'a str,
    geldig_tot: chrono::NaiveDateTime,
}

async fn whoami(Authenticated(caller): Authenticated) -> HttpResponse {
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
