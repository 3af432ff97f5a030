//! The JSON body extractor of the REST door. Like `web::Json`, but every
//! refusal is a coded problem (415 `REQ-003` for another media type, 400
//! `REQ-004` for a missing or unreadable body), and a number with a zero
//! fraction (`3.0`) is read as the integer it is: JSON Schema, and so the
//! OpenAPI document, counts it as an integer, and so do we. A body that is
//! not a JSON object is refused: every body the document describes is one.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::problem::{Code, Problem};
use crate::state::AppState;

/// The largest JSON body, whatever `server.body_limit` allows for documents.
const JSON_LIMIT: usize = 1 << 20;

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

fn is_json(req: &HttpRequest) -> bool {
    let media = super::body::media_type(req);
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// Rewrites numbers like `3.0` as integers, everywhere in the value.
fn integral(v: &mut Value) {
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64() {
                // Within ±2^53 a float with a zero fraction is that integer exactly.
                if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 {
                    *v = Value::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral),
        Value::Object(map) => map.values_mut().for_each(integral),
        _ => {}
    }
}

fn unreadable(e: impl std::fmt::Display) -> Problem {
    Problem::new(
        Code::BadRequest,
        format!("JSON kan niet worden gelezen: {e}"),
    )
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(JSON_LIMIT, |s| s.config.server.body_limit.min(JSON_LIMIT));
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !json {
                return Err(Problem::new(
                    Code::UnsupportedMediaType,
                    "Verwacht Content-Type application/json.",
                ));
            }
            let too_large = || {
                Problem::new(
                    Code::BodyTooLarge,
                    format!("Het bericht is groter dan {limit} bytes."),
                )
            };
            if declared.is_some_and(|n| n > limit) {
                return Err(too_large());
            }
            let mut body = Vec::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(super::error::payload_error)?;
                if body.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            let mut value: Value = serde_json::from_slice(&body).map_err(unreadable)?;
            // Every body of the OpenAPI document is an object, but serde's
            // derive also reads a struct from an array of its fields in order.
            if !value.is_object() {
                return Err(unreadable("een JSON-object verwacht"));
            }
            integral(&mut value);
            serde_json::from_value(value).map(Json).map_err(unreadable)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integral_floats_become_integers_and_others_stay() {
        let mut v = serde_json::json!({"a": [3.0, -6308.0, 2.5], "b": {"c": 1e3}, "d": 1e300});
        integral(&mut v);
        assert_eq!(v["a"][0], serde_json::json!(3));
        assert_eq!(v["a"][1], serde_json::json!(-6308));
        assert_eq!(v["a"][2], serde_json::json!(2.5));
        assert_eq!(v["b"]["c"], serde_json::json!(1000));
        assert!(v["d"].is_f64());
    }
}
