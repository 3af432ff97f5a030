//! The REST door under `/api/v1`: JSON (and XML for submitted documents),
//! errors as `application/problem+json`. Handlers are grouped by area.

mod beheer;
mod beoordeling;
mod machtigingen;
pub mod openapi;
mod optin;
mod terugkoppeling;
mod terugkoppeling_controle;
mod whoami;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .configure(whoami::configure)
            .configure(machtigingen::configure)
            .configure(optin::configure)
            .configure(beheer::configure)
            .configure(beoordeling::configure)
            .configure(terugkoppeling::configure)
            .configure(terugkoppeling_controle::configure)
            .configure(openapi::configure),
    );
}
