//! "Mijn gegevens", for every person: the certificate, its authorizations,
//! the party and who its contact person is — what `whoami` answers the API,
//! read through the same services.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::layout::{self, Nav};
use super::{Person, PortalError};
use crate::beheer::{self, ContactPerson};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/gegevens", web::get().to(page));
}

#[derive(Template)]
#[template(path = "portaal/gegevens.html")]
struct Gegevens {
    nav: Nav,
    soort: &'static str,
    houder: Option<String>,
    onderwerp: String,
    serienummer: String,
    vingerafdruk: String,
    geldig_vanaf: String,
    geldig_tot: String,
    autorisaties: Vec<(&'static str, &'static str)>,
    partij_naam: String,
    partij_soort: &'static str,
    partij_id: String,
    contactpersoon: Option<ContactPerson>,
}

async fn page(
    Person(caller): Person,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PortalError> {
    let contactpersoon = beheer::contact_person(&state.db, &caller).await?;
    let c = &caller.certificate;
    Ok(layout::render(&Gegevens {
        nav: Nav::for_caller(&caller, "/portaal/gegevens"),
        soort: c.kind.as_str(),
        houder: c.holder.clone(),
        onderwerp: c.subject.clone(),
        serienummer: c.serial.clone(),
        vingerafdruk: c.fingerprint.clone(),
        geldig_vanaf: layout::when(&c.not_before),
        geldig_tot: layout::when(&c.not_after),
        autorisaties: c
            .scopes
            .iter()
            .map(|s| (s.as_str(), layout::scope_text(s)))
            .collect(),
        partij_naam: c.party.name.clone(),
        partij_soort: c.party.kind.as_str(),
        partij_id: c.party.reference.to_string(),
        contactpersoon,
    }))
}
