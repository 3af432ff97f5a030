//! Gebruikersbeheer for the contact person (`gebruikersbeheer`): the party's
//! certificates with kind, validity and authorizations, and granting and
//! withdrawing authorizations — through `beheer`'s services, so the limits
//! (`BEH-001`) and the audit rows are the API's.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::layout::{self, Nav};
use super::{Person, PortalError};
use crate::beheer::{self, store::Contact};
use crate::identity::Caller;
use crate::problem::Problem;
use crate::registry::{CertStatus, Certificate, Scope, Scopes};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/beheer", web::get().to(page))
        .route(
            "/beheer/certificaten/{fingerprint}/autorisaties",
            web::post().to(change_scopes),
        )
        .route("/beheer/contact", web::post().to(set_contact));
}

/// One authorization as a checkbox.
struct Choice {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

/// One certificate as the page shows it.
struct Row {
    fingerprint: String,
    /// Short id for element ids (`cert-<first 16 hex>`).
    anchor: String,
    soort: &'static str,
    houder: String,
    status: &'static str,
    geldig_tot: String,
    autorisaties: Vec<&'static str>,
    /// What the contact person may change on this certificate; empty for a
    /// revoked one.
    choices: Vec<Choice>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "portaal/beheer.html")]
struct Beheer {
    nav: Nav,
    csrf: String,
    rows: Vec<Row>,
    notice: Option<&'static str>,
    contact: Contact,
    /// The notification addresses, one per line.
    notificatie: String,
    contact_error: Option<String>,
}

/// The key of the contact form's error (certificates use their fingerprint).
const CONTACT: &str = "contact";

#[derive(serde::Deserialize)]
struct Notice {
    gewijzigd: Option<String>,
}

/// The authorizations a contact person may set on `cert`: what its party
/// kind and certificate kind may hold, without `gebruikersbeheer`.
fn settable(cert: &Certificate) -> Vec<Scope> {
    Scope::ALL
        .into_iter()
        .filter(|s| *s != Scope::Gebruikersbeheer)
        .filter(|s| beheer::grantable(cert.party.kind, cert.kind, Scopes::from_iter([*s])).is_ok())
        .collect()
}

async fn render_page(
    state: &AppState,
    caller: Caller,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<(String, String)>,
) -> Result<HttpResponse, PortalError> {
    let nav = Nav::for_caller(&caller, "/portaal/beheer");
    let csrf = state.csrf.token(caller.fingerprint());
    let contact = beheer::contact(&state.db, caller.clone()).await?;
    let certs = beheer::certificates(&state.db, caller).await?;
    let contact_error = error
        .as_ref()
        .filter(|(k, _)| k == CONTACT)
        .map(|(_, e)| e.clone());
    let rows = certs
        .into_iter()
        .map(|c| {
            let choices = if c.status == CertStatus::Actief {
                settable(&c)
                    .into_iter()
                    .map(|s| Choice {
                        value: s.as_str(),
                        label: layout::scope_text(s),
                        checked: c.scopes.contains(s),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let error = error
                .as_ref()
                .filter(|(fp, _)| *fp == c.fingerprint)
                .map(|(_, e)| e.clone());
            Row {
                anchor: format!("cert-{}", c.fingerprint.get(..16).unwrap_or(&c.fingerprint)),
                soort: c.kind.as_str(),
                houder: c.holder.clone().unwrap_or_else(|| c.subject.clone()),
                status: c.status.as_str(),
                geldig_tot: layout::when(&c.not_after),
                autorisaties: c.scopes.iter().map(Scope::as_str).collect(),
                fingerprint: c.fingerprint,
                choices,
                error,
            }
        })
        .collect();
    let mut resp = layout::render(&Beheer {
        nav,
        csrf,
        rows,
        notice,
        notificatie: contact.notificatie_emails.join("\n"),
        contact,
        contact_error,
    });
    *resp.status_mut() = status;
    Ok(resp)
}

async fn page(
    Person(caller): Person,
    state: web::Data<AppState>,
    q: web::Query<Notice>,
) -> Result<HttpResponse, PortalError> {
    caller.require(Scope::Gebruikersbeheer)?;
    let notice = match q.gewijzigd.as_deref() {
        Some("contact") => Some("De contactgegevens zijn opgeslagen."),
        Some(_) => Some("De autorisaties zijn gewijzigd."),
        None => None,
    };
    render_page(&state, caller, StatusCode::OK, notice, None).await
}

/// The form's checkboxes are the wanted set: what is checked and not held is
/// granted, what is held, settable and unchecked is withdrawn.
async fn change_scopes(
    Person(caller): Person,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PortalError> {
    super::check_csrf(&state, &caller, &form)?;
    caller.require(Scope::Gebruikersbeheer)?;
    let fingerprint = path.into_inner();
    let mut wanted = Scopes::default();
    for (k, v) in form.iter() {
        if k == "autorisatie" {
            let scope: Scope = v.parse().map_err(|_| {
                PortalError(Problem::new(
                    crate::problem::Code::BadRequest,
                    format!("Onbekende autorisatie '{v}'."),
                ))
            })?;
            wanted.grant(scope);
        }
    }
    let certs = beheer::certificates(&state.db, caller.clone()).await?;
    let Some(cert) = certs.into_iter().find(|c| c.fingerprint == fingerprint) else {
        return Err(PortalError(Problem::new(
            crate::problem::Code::NotFound,
            "Certificaat niet gevonden.",
        )));
    };
    let settable: Scopes = settable(&cert).into_iter().collect();
    let grant = wanted.difference(cert.scopes);
    let withdraw = cert
        .scopes
        .difference(wanted)
        .iter()
        .filter(|s| settable.contains(*s))
        .collect::<Scopes>();
    match beheer::change_scopes(
        &state.db,
        caller.clone(),
        fingerprint.clone(),
        grant,
        withdraw,
    )
    .await
    {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header(("Location", "/portaal/beheer?gewijzigd=1"))
            .finish()),
        Err(e) => {
            let p = Problem::from(e);
            if p.code.is_client_fault() {
                let msg = format!("{} ({})", p.detail, p.code.as_str());
                let status = StatusCode::from_u16(p.code.status())
                    .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
                render_page(&state, caller, status, None, Some((fingerprint, msg))).await
            } else {
                Err(PortalError(p))
            }
        }
    }
}

/// The party's contact details and notification addresses (one per line).
async fn set_contact(
    Person(caller): Person,
    state: web::Data<AppState>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PortalError> {
    super::check_csrf(&state, &caller, &form)?;
    caller.require(Scope::Gebruikersbeheer)?;
    let field = |k: &str| Some(super::field(&form, k).to_owned()).filter(|v| !v.is_empty());
    let contact = Contact {
        contactpersoon_naam: field("naam"),
        contactpersoon_email: field("email"),
        contactpersoon_telefoon: field("telefoon"),
        notificatie_emails: field("notificatie")
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    match beheer::set_contact(&state.db, caller.clone(), contact).await {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header(("Location", "/portaal/beheer?gewijzigd=contact"))
            .finish()),
        Err(e) => {
            let p = Problem::from(e);
            if !p.code.is_client_fault() {
                return Err(PortalError(p));
            }
            let msg = format!("{} ({})", p.detail, p.code.as_str());
            let status = StatusCode::from_u16(p.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
            render_page(&state, caller, status, None, Some((CONTACT.into(), msg))).await
        }
    }
}
