//! Changing a Concept (`/portaal/aanvragen/{id}/wijzigen`,
//! `machtigingen:indienen`): the aanvraag form filled in from the stored
//! request, saved again as Concept or submitted through the same service as
//! `PUT /api/v1/machtigingsaanvragen/{id}` (`machtiging::service::modify`).
//! The stored document's attachments are kept unless ticked off, so a file
//! uploaded once need not be uploaded again.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::aanvraag::{self, Mode, Shown};
use super::upload::Posted;
use super::{Person, PortalError};
use crate::identity::Caller;
use crate::machtiging::model::{Aanvraag, Status};
use crate::machtiging::{intake, query};
use crate::problem::{Code, Problem};
use crate::registry::Scope;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/aanvragen/{id}/wijzigen", web::get().to(page))
        .route("/aanvragen/{id}/wijzigen", web::post().to(save));
}

/// The form's fields as the stored request fills them.
fn entered(a: &Aanvraag) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = vec![
        ("keuze".into(), format!("{}|{}", a.uzovi, a.verstrekking)),
        ("referentie".into(), a.referentie.clone()),
        ("bsn".into(), a.bsn.clone()),
        ("geboortedatum".into(), a.geboortedatum.to_string()),
        (
            "achternaam".into(),
            a.naam
                .as_ref()
                .map(|n| n.achternaam.clone())
                .unwrap_or_default(),
        ),
        ("zorgsoort".into(), a.zorgsoort.clone()),
        ("begindatum".into(), a.begindatum.to_string()),
        ("einddatum".into(), a.gewenste_einddatum.to_string()),
        (
            "toelichting".into(),
            a.toelichting.clone().unwrap_or_default(),
        ),
    ];
    for p in &a.prestaties {
        f.push(("prestatie".into(), p.code.clone()));
    }
    for q in &a.antwoorden {
        f.push((format!("vraag-{}", q.vraag_id), q.waarde.clone()));
    }
    f
}

/// The Concept with its stored attachments; anything but a Concept is
/// refused (`STA-001`) — a submitted request is the insurer's to judge.
async fn concept(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(Aanvraag, Mode), PortalError> {
    caller.require(Scope::MachtigingenIndienen)?;
    let (record, document) = query::document(&state.db, caller.clone(), id.into()).await?;
    if record.status != Status::Concept {
        return Err(PortalError(Problem::new(
            Code::StatusTransition,
            format!(
                "Alleen een concept kan hier worden gewijzigd; deze aanvraag is {}.",
                record.status.as_str()
            ),
        )));
    }
    let bestaand = intake::blocking(document.len(), move || {
        intake::stored_attachments(&document)
    })
    .await
    .map_err(Problem::from)?;
    let mode = Mode {
        wijzigen: Some(record.id.to_string()),
        bestaand,
    };
    Ok((record.aanvraag, mode))
}

async fn page(
    Person(caller): Person,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, PortalError> {
    let (aanvraag, mode) = concept(&state, &caller, &id).await?;
    let form = entered(&aanvraag);
    let shown = Shown {
        form: &form,
        findings: &[],
        melding: None,
        status: StatusCode::OK,
        attachments: &[],
    };
    aanvraag::render(&state, &caller, &mode, shown).await
}

async fn save(
    Person(caller): Person,
    state: web::Data<AppState>,
    id: web::Path<String>,
    posted: Posted,
) -> Result<HttpResponse, PortalError> {
    super::check_csrf(&state, &caller, &posted.fields)?;
    let (_, mode) = concept(&state, &caller, &id).await?;
    aanvraag::save(&state, caller, &mode, posted).await
}
