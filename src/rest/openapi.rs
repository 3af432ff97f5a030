//! `GET /api/v1/openapi.json`: the OpenAPI 3 description of the REST door,
//! generated from the handlers' annotations (utoipa).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use utoipa::OpenApi;

use crate::http::auth::Authenticated;
use crate::http::error::json;

#[derive(OpenApi)]
#[openapi(info(
    title = "machtigingen REST API",
    version = "1",
    description = "REST mirror of the machtigingen SOAP services. Every call is mutual TLS with a registered \
                       certificate. Errors are application/problem+json with a stable `code` (docs/foutcodes.md)."
))]
struct ApiDoc;

/// The merged document of every area.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(super::machtigingen::Api::openapi());
    doc.merge(super::optin::Api::openapi());
    doc.merge(super::beheer::Api::openapi());
    doc.merge(super::beoordeling::Api::openapi());
    doc.merge(super::terugkoppeling::Api::openapi());
    doc.merge(super::terugkoppeling_controle::Api::openapi());
    doc
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(openapi));
}

async fn openapi(_: Authenticated) -> HttpResponse {
    json(StatusCode::OK, &document())
}
