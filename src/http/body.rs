//! Reading request bodies that are not JSON (XML documents, SOAP envelopes):
//! bounded by `server.body_limit` with a coded refusal, and a Content-Type
//! check, before anything parses them.

use actix_web::HttpRequest;
use actix_web::web::{Bytes, BytesMut, Payload};
use futures_util::StreamExt;

use crate::problem::{Code, Problem};

fn too_large(limit: usize) -> Problem {
    Problem::new(
        Code::BodyTooLarge,
        format!("Het bericht is groter dan {limit} bytes."),
    )
}

/// Reads the whole body, refusing as soon as it exceeds `limit` (a declared
/// Content-Length over the limit is refused without reading).
pub async fn read(req: &HttpRequest, mut payload: Payload, limit: usize) -> Result<Bytes, Problem> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(8192).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(crate::http::error::payload_error)?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The media type of the request without parameters, lowercased.
pub fn media_type(req: &HttpRequest) -> String {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// Refuses anything but an XML media type.
pub fn require_xml(req: &HttpRequest) -> Result<(), Problem> {
    match media_type(req).as_str() {
        "application/xml" | "text/xml" => Ok(()),
        other => Err(Problem::new(
            Code::UnsupportedMediaType,
            format!("Verwacht Content-Type application/xml, niet '{other}'."),
        )),
    }
}
