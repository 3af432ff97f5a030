//! Supplying the information the insurer asked for
//! (`POST /portaal/aanvragen/{id}/aanvullen`, `machtigingen:indienen`): an
//! answer per open question, a remark and attachments, posted as
//! `multipart/form-data`. The form becomes the same `AanvullendeInformatie`
//! document `POST /api/v1/machtigingsaanvragen/{id}/aanvullende-informatie`
//! takes and goes through the same intake and service
//! (`machtiging::service::supply_information`); a finding is shown next to
//! the field it concerns on the request's page.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::aanvragen::{self, AanvulFouten};
use super::upload::{self, Attachment, Posted};
use super::{Person, PortalError, field};
use crate::error::Finding;
use crate::ids::Requested;
use crate::machtiging::{intake, query, service};
use crate::problem::{Code, Problem};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/aanvragen/{id}/aanvullen", web::post().to(supply));
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The kind the other attachments are sent as when none is entered.
pub const DEFAULT_SOORT: &str = "aanvulling";

/// The answers in the order of the open questions that have one: the
/// document's `Antwoord[n]` is the n-th of these.
fn answers<'a>(form: &'a [(String, String)], vragen: &'a [String]) -> Vec<(&'a str, &'a str)> {
    vragen
        .iter()
        .filter_map(|id| {
            let w = field(form, &format!("antwoord-{id}"));
            (!w.is_empty()).then_some((id.as_str(), w))
        })
        .collect()
}

fn document(answered: &[(&str, &str)], toelichting: &str, list: &[Attachment]) -> String {
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <AanvullendeInformatie xmlns=\"urn:machtigingen:machtigingen:v1\">",
    );
    if !answered.is_empty() {
        x.push_str("<Antwoorden>");
        for (id, w) in answered {
            x.push_str(&format!(
                "<Antwoord><VraagId>{}</VraagId><Waarde>{}</Waarde></Antwoord>",
                esc(id),
                esc(w)
            ));
        }
        x.push_str("</Antwoorden>");
    }
    if !toelichting.is_empty() {
        x.push_str(&format!("<Toelichting>{}</Toelichting>", esc(toelichting)));
    }
    x.push_str(&upload::bijlagen(list));
    x.push_str("</AanvullendeInformatie>\n");
    x
}

/// Where each finding goes: a question's answer, the remark, the file field,
/// or above the form.
fn place(findings: &[Finding], answered: &[(&str, &str)]) -> AanvulFouten {
    let mut out = AanvulFouten::default();
    for f in findings {
        let text = format!("{} ({})", f.message, f.code.as_str());
        let loc = f.location.as_deref().unwrap_or("");
        let question = loc
            .split("Antwoord[")
            .nth(1)
            .and_then(|r| r.split(']').next())
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| answered.get(n.checked_sub(1)?))
            .map(|(id, _)| (*id).to_owned());
        if loc.contains("Bijlage") {
            out.bijlagen.push(text);
        } else if let Some(id) = question {
            out.antwoorden.push((id, text));
        } else if loc.contains("Toelichting") {
            out.toelichting.push(text);
        } else {
            out.algemeen.push(text);
        }
    }
    out
}

async fn supply(
    Person(caller): Person,
    state: web::Data<AppState>,
    id: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, PortalError> {
    super::check_csrf(&state, &caller, &posted.fields)?;
    let id = id.into_inner();
    let form = posted.fields;
    // The open questions as the request stands: answers are read for these.
    let details = query::get(&state.db, caller.clone(), Requested::from(id.clone())).await?;
    let vragen: Vec<String> = details
        .record
        .open_vragen
        .iter()
        .map(|v| v.vraag_id.clone())
        .collect();
    let answered = answers(&form, &vragen);
    let soort = match field(&form, "bijlage-soort") {
        "" => DEFAULT_SOORT,
        s => s,
    };
    let list: Vec<Attachment> = posted
        .files
        .iter()
        .filter(|f| f.field == "bijlage")
        .map(|f| f.attachment(soort))
        .collect();
    let result = if posted.too_large {
        Err(Posted::too_large_problem(state.config.server.body_limit))
    } else {
        let xml = document(&answered, field(&form, "toelichting"), &list).into_bytes();
        match intake::blocking(xml.len(), move || intake::aanvulling(&xml)).await {
            Ok((info, doc)) => service::supply_information(
                &state.db,
                caller.clone(),
                Requested::from(id.clone()),
                info,
                doc,
            )
            .await
            .map_err(Problem::from),
            Err(e) => Err(Problem::from(e)),
        }
    };
    match result {
        Ok(c) => Ok(HttpResponse::SeeOther()
            .insert_header((
                "Location",
                format!("/portaal/aanvragen/{}?aangevuld=1", c.id),
            ))
            .finish()),
        Err(p) if p.code.is_client_fault() && p.code != Code::NotFound => {
            let mut findings = p.findings.clone();
            if findings.is_empty() {
                findings.push(Finding {
                    code: p.code,
                    // A body past its bound concerns the files.
                    location: (p.code == Code::BodyTooLarge)
                        .then(|| "/AanvullendeInformatie/Bijlagen".to_owned()),
                    message: p.detail.clone(),
                });
            }
            let mut fouten = place(&findings, &answered);
            fouten.melding = Some(format!("{} ({})", p.detail, p.code.as_str()));
            fouten.entered = form;
            let status = StatusCode::from_u16(p.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let mut resp = aanvragen::render_detail(&state, caller, id, None, None, fouten).await?;
            *resp.status_mut() = status;
            Ok(resp)
        }
        Err(p) => Err(PortalError(p)),
    }
}
