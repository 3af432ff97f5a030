//! Downloading a request's attachment (bijlage): for the practice's staff
//! (`machtigingen:raadplegen`, `/portaal/aanvragen/{id}/bijlagen/{n}`) and
//! for the insurer's assessor (`beoordelen`, `/portaal/beoordeling/{id}/bijlagen/{n}`).
//! The access checks and audit rows are those of reading the request
//! (`machtiging::bijlage`, `beoordeling::bijlage`), so another party's
//! request is the same 404 the API gives. Numbers past the request's own
//! attachments name the supplements' (`machtiging::aanvulling`), in the
//! order supplied.
//!
//! The file is always offered as a download (`Content-Disposition:
//! attachment`), never shown inline: the content is the submitter's, so the
//! browser must not render it on the portal's origin. The media type is the
//! declared one only when it is one the intake accepts (JVC-J04), and
//! `nosniff` keeps the browser from guessing another.

use actix_web::{HttpResponse, web};

use super::{Person, PortalError};
use crate::beoordeling;
use crate::catalog::ALLOWED_MEDIA_TYPES;
use crate::ids::Requested;
use crate::machtiging::bijlage::{self, Attachment};
use crate::problem::{Code, Problem};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/aanvragen/{id}/bijlagen/{n}", web::get().to(for_staff))
        .route(
            "/beoordeling/{id}/bijlagen/{n}",
            web::get().to(for_assessor),
        );
}

/// The attachment's number from the path; anything else names none.
fn number(n: &str) -> Result<usize, PortalError> {
    n.parse::<usize>()
        .ok()
        .filter(|n| (1..=1000).contains(n))
        .ok_or_else(|| PortalError(Problem::new(Code::NotFound, "Bijlage niet gevonden.")))
}

async fn for_staff(
    Person(caller): Person,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PortalError> {
    let (id, n) = path.into_inner();
    let n = number(&n)?;
    let a = bijlage::for_provider(&state.db, caller, Requested::from(id), n).await?;
    Ok(download(a, n))
}

async fn for_assessor(
    Person(caller): Person,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, PortalError> {
    let (id, n) = path.into_inner();
    let n = number(&n)?;
    let a = beoordeling::bijlage::get(&state.db, caller, Requested::from(id), n).await?;
    Ok(download(a, n))
}

fn download(a: Attachment, n: usize) -> HttpResponse {
    let media_type = if ALLOWED_MEDIA_TYPES.contains(&a.bijlage.media_type.as_str()) {
        a.bijlage.media_type.as_str()
    } else {
        "application/octet-stream"
    };
    HttpResponse::Ok()
        .insert_header(("Content-Type", media_type))
        .insert_header((
            "Content-Disposition",
            content_disposition(&a.bijlage.naam, n),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(a.content)
}

/// `attachment` with an ASCII `filename` any browser takes and the name as
/// given in `filename*` (RFC 6266/8187). Both keep only the last path
/// segment and drop control characters, quotes and backslashes, so the name
/// neither escapes the header nor names a directory.
pub fn content_disposition(naam: &str, n: usize) -> String {
    let base = naam.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\\' | '/'))
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_owned();
    let ascii: String = clean
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ' | '(' | ')') {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    let ascii = ascii.trim().to_owned();
    let fallback = format!("bijlage-{n}");
    let ascii = if ascii.trim_matches(['_', '.', ' ']).is_empty() {
        fallback.clone()
    } else {
        ascii
    };
    let mut encoded = String::new();
    for b in clean.bytes().take(400) {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    if encoded.is_empty() {
        encoded = fallback;
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn a_filename_never_escapes_the_header_or_names_a_directory() {
        assert_eq!(
            content_disposition("vooraanzicht.jpg", 1),
            "attachment; filename=\"vooraanzicht.jpg\"; filename*=UTF-8''vooraanzicht.jpg"
        );
        let h = content_disposition("../../etc/pa\"ss\r\nX-Evil: 1.pdf", 2);
        assert!(!h.contains('\r') && !h.contains('\n'), "{h}");
        assert!(h.starts_with("attachment; filename=\"pass"), "{h}");
        assert!(!h.contains(".."), "{h}");
        let h = content_disposition("verwijzing ü.pdf", 1);
        assert!(h.contains("filename=\"verwijzing _.pdf\""), "{h}");
        assert!(
            h.contains("filename*=UTF-8''verwijzing%20%C3%BC.pdf"),
            "{h}"
        );
        assert_eq!(
            content_disposition("\"\"", 3),
            "attachment; filename=\"bijlage-3\"; filename*=UTF-8''bijlage-3"
        );
    }
}
