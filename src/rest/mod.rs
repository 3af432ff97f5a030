//! The REST door under `/api/v1`: JSON (and XML for submitted documents),
//! errors as `application/problem+json`. Handlers are grouped by area; the
//! route table ([`endpoints`]) is data so it can be checked against the
//! OpenAPI document.

mod beheer;
mod beoordeling;
mod beoordeling_zoeken;
mod dto;
mod machtigingen;
pub mod openapi;
mod optin;
mod payloads;
pub mod routes;
mod terugkoppeling;
mod terugkoppeling_controle;
mod whoami;

use actix_web::web;

/// The prefix of every REST path.
pub const PREFIX: &str = "/api/v1";

/// Every mounted REST operation, paths below [`PREFIX`].
pub fn endpoints() -> Vec<routes::Endpoint> {
    let mut all = whoami::endpoints();
    all.extend(machtigingen::endpoints());
    all.extend(optin::endpoints());
    all.extend(beheer::endpoints());
    // Before `…/{id}`, which `…/zoeken` would match first.
    all.extend(beoordeling_zoeken::endpoints());
    all.extend(beoordeling::endpoints());
    all.extend(terugkoppeling::endpoints());
    all.extend(terugkoppeling_controle::endpoints());
    all.extend(openapi::endpoints());
    all
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    let endpoints = endpoints();
    cfg.service(web::scope(PREFIX).configure(|c| routes::mount(c, &endpoints)));
}
