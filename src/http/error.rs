//! Rendering a [`Problem`] as `application/problem+json` (RFC 9457) with the
//! stable `code` and the findings; plus the actix error handlers that turn the
//! framework's own refusals (bad JSON, body too large, no route) into problems.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;

use crate::problem::{Code, Finding, Problem};

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: Code,
    #[serde(skip_serializing_if = "<[Finding]>::is_empty")]
    findings: &'a [Finding],
}

pub const PROBLEM_JSON: &str = "application/problem+json";

pub fn problem_response(p: &Problem) -> HttpResponse {
    let body = ProblemBody {
        kind: format!("urn:machtigingen:foutcode:{}", p.code.as_str()),
        title: p.code.title(),
        status: p.code.status(),
        detail: &p.detail,
        code: p.code,
        findings: &p.findings,
    };
    let status = StatusCode::from_u16(p.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = HttpResponse::build(status);
    resp.content_type(PROBLEM_JSON);
    if p.code == Code::Unavailable {
        resp.insert_header(("Retry-After", "5"));
    }
    resp.body(serde_json::to_string(&body).unwrap_or_default())
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        problem_response(self)
    }
}

/// JSON bodies that do not parse, or are too large.
pub fn json_error(err: actix_web::error::JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let p = match &err {
        E::OverflowKnownLength { .. } | E::Overflow { .. } => {
            Problem::new(Code::BodyTooLarge, "Het bericht is groter dan toegestaan.")
        }
        E::ContentType => Problem::new(
            Code::UnsupportedMediaType,
            "Verwacht Content-Type application/json.",
        ),
        other => Problem::new(
            Code::BadRequest,
            format!("JSON kan niet worden gelezen: {other}"),
        ),
    };
    p.into()
}

pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &HttpRequest,
) -> actix_web::Error {
    Problem::new(
        Code::BadRequest,
        format!("Ongeldige queryparameters: {err}"),
    )
    .into()
}

pub fn path_error(err: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    Problem::new(Code::BadRequest, format!("Ongeldig pad: {err}")).into()
}

/// Raw bodies over the limit.
pub fn payload_error(err: actix_web::error::PayloadError) -> Problem {
    use actix_web::error::PayloadError as E;
    match err {
        E::Overflow => Problem::new(Code::BodyTooLarge, "Het bericht is groter dan toegestaan."),
        other => Problem::new(
            Code::BadRequest,
            format!("Het bericht kon niet worden gelezen: {other}"),
        ),
    }
}

/// Fallback for unknown routes.
pub async fn not_found() -> HttpResponse {
    problem_response(&Problem::new(Code::NotFound, "Geen resource op dit adres."))
}

/// The error-handler configs every JSON scope uses.
pub fn configure_extractors(cfg: &mut web::ServiceConfig, body_limit: usize) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(body_limit.min(1 << 20))
            .error_handler(json_error),
    )
    .app_data(web::QueryConfig::default().error_handler(query_error))
    .app_data(web::PathConfig::default().error_handler(path_error))
    .app_data(web::PayloadConfig::default().limit(body_limit));
}

/// Plain JSON success response.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(ContentType::json())
        .body(serde_json::to_string(body).unwrap_or_default())
}
