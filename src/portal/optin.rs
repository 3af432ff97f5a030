//! The opt-in handler's pages (`optin:afhandelen`): subscribe to and
//! unsubscribe from the opt-in service, the inbox of patients' registrations, and marking each
//! *Verwerkt* or *Afgewezen* with a reason — through `optin::service`, so the
//! patient portal's terugkoppeling and the audit rows are the API's.

use super::field;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::layout::{self, Nav};
use super::{Person, PortalError};
use crate::identity::Caller;
use crate::ids::Requested;
use crate::optin::store::Record;
use crate::optin::{Afhandeling, OptinError, RegStatus, service};
use crate::problem::{Code, Problem};
use crate::registry::Scope;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/optin", web::get().to(page))
        .route("/optin/aanmelden", web::post().to(subscribe))
        .route("/optin/afmelden", web::post().to(unsubscribe))
        .route("/optin/{id}/afhandelen", web::post().to(handle));
}

/// One registration as a row.
struct Row {
    id: String,
    referentie: String,
    patient: String,
    bsn: String,
    toestemming: &'static str,
    gegeven_op: String,
    status: &'static str,
    open: bool,
    reden: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "portaal/optin.html")]
struct Optin {
    nav: Nav,
    csrf: String,
    aangemeld: bool,
    email: String,
    rows: Vec<Row>,
    melding: Option<String>,
}

fn row(r: Record, error: Option<&(String, String)>) -> Row {
    let id = r.id.to_string();
    Row {
        error: error.filter(|(e, _)| *e == id).map(|(_, m)| m.clone()),
        id,
        referentie: r.registratie.referentie,
        patient: r.registratie.naam.achternaam,
        bsn: r.registratie.bsn,
        toestemming: r.registratie.toestemming.as_str(),
        gegeven_op: layout::when(&r.registratie.gegeven_op),
        status: r.status.as_str(),
        open: r.status == RegStatus::NogNietVerwerkt,
        reden: r.reden_tekst.unwrap_or_default(),
    }
}

async fn render(
    state: &AppState,
    caller: Caller,
    melding: Option<String>,
    error: Option<(String, String)>,
    status: StatusCode,
) -> Result<HttpResponse, PortalError> {
    caller.require(Scope::OptinAfhandelen)?;
    let nav = Nav::for_caller(&caller, "/portaal/optin");
    let csrf = state.csrf.token(caller.fingerprint());
    let sub = match service::subscription(&state.db, caller.clone()).await {
        Ok(a) => Some(a),
        Err(OptinError::Refused(r)) if r.code == Code::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    let records = service::list(&state.db, caller, None, 100).await?;
    let mut resp = layout::render(&Optin {
        nav,
        csrf,
        aangemeld: sub.as_ref().is_some_and(|a| a.active()),
        email: sub.and_then(|a| a.notificatie_email).unwrap_or_default(),
        rows: records
            .into_iter()
            .map(|r| row(r, error.as_ref()))
            .collect(),
        melding,
    });
    *resp.status_mut() = status;
    Ok(resp)
}

async fn page(
    Person(caller): Person,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PortalError> {
    render(&state, caller, None, None, StatusCode::OK).await
}

async fn subscribe(
    Person(caller): Person,
    state: web::Data<AppState>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PortalError> {
    super::check_csrf(&state, &caller, &form)?;
    caller.require(Scope::OptinAfhandelen)?;
    let email = Some(field(&form, "email").to_owned()).filter(|e| !e.is_empty());
    service::subscribe(&state.db, caller, email).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/portaal/optin"))
        .finish())
}

/// `AfmeldenDienstOptin`: patients' portals can no longer register consent
/// for the practice; registrations already received stay on the page.
async fn unsubscribe(
    Person(caller): Person,
    state: web::Data<AppState>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PortalError> {
    super::check_csrf(&state, &caller, &form)?;
    caller.require(Scope::OptinAfhandelen)?;
    service::unsubscribe(&state.db, caller).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/portaal/optin"))
        .finish())
}

async fn handle(
    Person(caller): Person,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PortalError> {
    super::check_csrf(&state, &caller, &form)?;
    let id = id.into_inner();
    let status = match field(&form, "status") {
        "Verwerkt" => RegStatus::Verwerkt,
        "Afgewezen" => RegStatus::Afgewezen,
        _ => {
            return Err(PortalError(Problem::new(
                Code::BadRequest,
                "Kies Verwerkt of Afgewezen.",
            )));
        }
    };
    let opt = |k: &str| Some(field(&form, k).to_owned()).filter(|s| !s.is_empty());
    let a = Afhandeling {
        status,
        reden_code: opt("reden_code"),
        reden_tekst: opt("reden_tekst"),
    };
    match service::handle(&state.db, caller.clone(), Requested::from(id.clone()), a).await {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header(("Location", "/portaal/optin"))
            .finish()),
        Err(e) => {
            let p = Problem::from(e);
            if !p.code.is_client_fault() || p.code == Code::NotFound {
                return Err(PortalError(p));
            }
            let msg = format!("{} ({})", p.detail, p.code.as_str());
            let status = StatusCode::from_u16(p.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
            render(&state, caller, None, Some((id, msg)), status).await
        }
    }
}
