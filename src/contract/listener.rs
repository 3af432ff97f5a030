//! The contract listener: the public contract (WSDLs, XSDs, `openapi.json`
//! and a small index) over TLS with the server certificate but without a
//! client certificate, so a vendor can generate a client before onboarding.
//! It serves nothing else: GET (and HEAD) of those files only, no API, no
//! database. The mTLS listener keeps refusing certificate-less handshakes.

use actix_web::http::Method;
use actix_web::http::header::ALLOW;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::contract;
use crate::http::error::problem_response;
use crate::problem::{Code, Problem};

/// What the listener needs to fill in the service addresses.
#[derive(Debug, Clone)]
pub struct ContractState {
    /// `server.public_url` (empty: derived from the request).
    pub public_url: String,
    /// Port of the mTLS listener, for an address derived from the request.
    pub api_port: u16,
}

impl ContractState {
    /// The mTLS listener's origin as this caller reaches the platform.
    fn base(&self, req: &HttpRequest) -> String {
        if !self.public_url.is_empty() {
            return contract::base_or_placeholder(&self.public_url);
        }
        let info = req.connection_info();
        let host = info.host();
        // Strip a port (also after an IPv6 literal's closing bracket).
        let name = match host.rfind(':') {
            Some(i) if !host[i..].contains(']') => &host[..i],
            _ => host,
        };
        format!("https://{name}:{}", self.api_port)
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.default_service(web::to(serve));
}

async fn serve(req: HttpRequest, state: web::Data<ContractState>) -> HttpResponse {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut resp = problem_response(&Problem::new(
            Code::MethodNotAllowed,
            "Het contract kan alleen worden gelezen (GET).",
        ));
        resp.headers_mut().insert(
            ALLOW,
            actix_web::http::header::HeaderValue::from_static("GET, HEAD"),
        );
        return resp;
    }
    let base = state.base(&req);
    let files = contract::files(&base);
    let path = req.path().trim_start_matches('/');
    if path.is_empty() || path == "index.json" {
        let index = json!({
            "omschrijving": "Het publieke contract van machtigingen: WSDL's, XSD's en de OpenAPI-beschrijving. \
                             De diensten zelf vragen mutual TLS met een geregistreerd certificaat.",
            "dienst": base,
            "bestanden": files.iter().map(|f| format!("/{}", f.path)).collect::<Vec<_>>(),
        });
        return crate::http::error::json(actix_web::http::StatusCode::OK, &index);
    }
    match files.into_iter().find(|f| f.path == path) {
        Some(f) => HttpResponse::Ok()
            .content_type(contract::media_type(&f.path))
            .body(f.text),
        None => problem_response(&Problem::new(
            Code::NotFound,
            "Geen contractbestand op dit adres; zie / voor de lijst.",
        )),
    }
}
