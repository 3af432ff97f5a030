//! A portal form as posted: `multipart/form-data` when it carries files
//! (attachments, a CSR file), `application/x-www-form-urlencoded` otherwise.
//! Both become the same list of text fields, so the CSRF check and the
//! field reader are the ones every form uses; files are kept apart.
//!
//! Bounds: the whole multipart body is held to `server.body_limit`, the
//! limit every door puts on a request body (`REQ-002` past it), and its text
//! fields to the urlencoded form's 64 KiB. Past a bound reading stops and
//! [`Posted::too_large`] is set, so the page can show the refusal next to
//! the file field with what was entered before it; nothing is stored.

use actix_multipart::Multipart;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;

use super::PortalError;
use crate::problem::{Code, Problem};
use crate::state::AppState;

/// Text fields of a multipart form together, as the urlencoded form's limit.
pub const TEXT_LIMIT: usize = 64 * 1024;

/// One file of a multipart form.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The form field it came in.
    pub field: String,
    /// The file name as the browser sent it (without a path).
    pub naam: String,
    /// The part's media type, lowercase, without parameters.
    pub media_type: String,
    pub inhoud: Vec<u8>,
}

/// A posted portal form.
#[derive(Debug, Default)]
pub struct Posted {
    pub fields: Vec<(String, String)>,
    pub files: Vec<Upload>,
    /// The body passed a bound: reading stopped there.
    pub too_large: bool,
}

impl Posted {
    /// The refusal for a body past its bound, for the page to show.
    pub fn too_large_problem(limit: usize) -> Problem {
        Problem::new(
            Code::BodyTooLarge,
            format!(
                "Het formulier met de bestanden is groter dan {}; er is niets opgeslagen. \
                 Kies kleinere bestanden (bijlagen samen ten hoogste 20 MB).",
                if limit >= 1024 * 1024 {
                    format!("{} MB", limit / (1024 * 1024))
                } else {
                    format!("{} kB", limit / 1024)
                }
            ),
        )
    }
}

impl FromRequest for Posted {
    // actix's own error: the urlencoded reader's refusal is already the
    // portal's page (the scope's `FormConfig`).
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let multipart = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
        if !multipart {
            let form = web::Form::<Vec<(String, String)>>::from_request(req, payload);
            return Box::pin(async move {
                let form = form.await?;
                Ok(Posted {
                    fields: form.into_inner(),
                    ..Posted::default()
                })
            });
        }
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(TEXT_LIMIT, |s| s.config.server.body_limit);
        let parts = Multipart::new(req.headers(), payload.take());
        Box::pin(async move { read(parts, limit).await.map_err(actix_web::Error::from) })
    }
}

fn unreadable(e: impl std::fmt::Display) -> PortalError {
    PortalError(Problem::new(
        Code::BadRequest,
        format!("Het formulier kon niet worden gelezen: {e}"),
    ))
}

async fn read(mut parts: Multipart, limit: usize) -> Result<Posted, PortalError> {
    let mut posted = Posted::default();
    let (mut total, mut text) = (0usize, 0usize);
    while let Some(part) = parts.next().await {
        let mut part = part.map_err(unreadable)?;
        let name = part.name().unwrap_or("").to_owned();
        let filename = part
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(|f| f.rsplit(['/', '\\']).next().unwrap_or(f).to_owned());
        let media_type = part
            .content_type()
            .map(|m| m.essence_str().to_ascii_lowercase())
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let mut bytes = Vec::new();
        while let Some(chunk) = part.next().await {
            let chunk = chunk.map_err(unreadable)?;
            total += chunk.len();
            if filename.is_none() {
                text += chunk.len();
            }
            if total > limit || text > TEXT_LIMIT {
                posted.too_large = true;
                return Ok(posted);
            }
            bytes.extend_from_slice(&chunk);
        }
        match filename {
            // A file input left empty still sends a part without a name.
            Some(naam) if naam.is_empty() && bytes.is_empty() => {}
            Some(naam) => posted.files.push(Upload {
                field: name,
                naam,
                media_type,
                inhoud: bytes,
            }),
            None => {
                let value = String::from_utf8(bytes).map_err(unreadable)?;
                posted.fields.push((name, value));
            }
        }
    }
    Ok(posted)
}

/// One attachment on its way into a document: where it came from (a file
/// field, or `bestaand` for one kept from the stored Concept) and its
/// `Bijlage` element.
pub struct Attachment {
    pub origin: String,
    pub xml: String,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A `Bijlage` element; the values are passed on as given, so the XSD and
/// JVC judge them exactly as they judge the API's (a media type that is
/// not allowed is `JVC-J04`, a kind that is not a code `XSD-001`).
pub fn bijlage(soort: &str, naam: &str, media_type: &str, inhoud_base64: &str) -> String {
    format!(
        "<Bijlage><Soort>{}</Soort><Naam>{}</Naam><MediaType>{}</MediaType>\
         <Inhoud>{inhoud_base64}</Inhoud></Bijlage>",
        esc(soort),
        esc(naam),
        esc(media_type),
    )
}

impl Upload {
    /// This file as a `Bijlage` of kind `soort`.
    pub fn attachment(&self, soort: &str) -> Attachment {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.inhoud);
        Attachment {
            origin: self.field.clone(),
            xml: bijlage(soort, &self.naam, &self.media_type, &b64),
        }
    }
}

/// The `Bijlagen` element of these attachments; empty without any.
pub fn bijlagen(list: &[Attachment]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let mut x = String::from("<Bijlagen>");
    for a in list {
        x.push_str(&a.xml);
    }
    x.push_str("</Bijlagen>");
    x
}

/// Which attachment a finding's location (`…/Bijlagen/Bijlage[n]/…`)
/// concerns, as its origin; `None` for the attachments as a whole.
pub fn origin_of<'a>(location: &str, list: &'a [Attachment]) -> Option<&'a str> {
    let n = location
        .split("Bijlage[")
        .nth(1)?
        .split(']')
        .next()?
        .parse::<usize>()
        .ok()?;
    list.get(n.checked_sub(1)?).map(|a| a.origin.as_str())
}
