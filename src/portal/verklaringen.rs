//! The provider's consent statements (toestemmingsverklaringen, also called
//! machtigingsverklaringen) for software vendors acting as intermediaries,
//! for the contact person (`gebruikersbeheer`): the list, registering one
//! and withdrawing one — through `beheer::add_consent`, `consents` and
//! `revoke_consent`, the services behind `/api/v1/beheer/toestemmingsverklaringen`,
//! so a statement holds (or stops holding) on the vendor's next API call and
//! the audit rows are the API's.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;

use super::field;
use super::layout::{self, Nav};
use super::{Person, PortalError};
use crate::beheer;
use crate::identity::Caller;
use crate::ids::Requested;
use crate::problem::{Code, Problem};
use crate::registry::Scope;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/beheer/verklaringen", web::get().to(page))
        .route("/beheer/verklaringen", web::post().to(add))
        .route(
            "/beheer/verklaringen/{id}/intrekken",
            web::post().to(withdraw),
        );
}

/// One statement as the page shows it.
struct Regel {
    id: String,
    leverancier: String,
    geldig_tot: String,
    optin: bool,
    geregistreerd: String,
    /// `None` while it holds; the moment it was withdrawn otherwise.
    ingetrokken: Option<String>,
    /// Past its last day: no longer valid, though not withdrawn.
    verlopen: bool,
}

#[derive(Template)]
#[template(path = "portaal/verklaringen.html")]
struct Verklaringen {
    nav: Nav,
    csrf: String,
    regels: Vec<Regel>,
    melding: Option<&'static str>,
    fout: Option<String>,
    /// What was entered, kept after a refusal.
    leverancier: String,
    geldig_tot: String,
    optin: bool,
}

#[derive(serde::Deserialize)]
struct Notice {
    geregistreerd: Option<String>,
    ingetrokken: Option<String>,
}

async fn render(
    state: &AppState,
    caller: Caller,
    status: StatusCode,
    melding: Option<&'static str>,
    fout: Option<String>,
    form: &[(String, String)],
) -> Result<HttpResponse, PortalError> {
    caller.require(Scope::Gebruikersbeheer)?;
    let nav = Nav::for_caller(&caller, "/portaal/beheer/verklaringen");
    let csrf = state.csrf.token(caller.fingerprint());
    let today = chrono::Utc::now().date_naive();
    let regels = beheer::consents(&state.db, caller)
        .await?
        .into_iter()
        .map(|v| Regel {
            id: v.id.to_string(),
            geldig_tot: v
                .geldig_tot
                .map(|d| d.format("%d-%m-%Y").to_string())
                .unwrap_or_else(|| "onbepaald".into()),
            verlopen: v.geldig_tot.is_some_and(|d| d < today),
            optin: v.optin,
            geregistreerd: layout::when(&v.created_at),
            ingetrokken: v.revoked_at.as_ref().map(layout::when),
            leverancier: v.vendor,
        })
        .collect();
    let mut resp = layout::render(&Verklaringen {
        nav,
        csrf,
        regels,
        melding,
        fout,
        leverancier: field(form, "leverancier").to_owned(),
        geldig_tot: field(form, "geldig_tot").to_owned(),
        optin: field(form, "optin") == "ja",
    });
    *resp.status_mut() = status;
    Ok(resp)
}

async fn page(
    Person(caller): Person,
    state: web::Data<AppState>,
    q: web::Query<Notice>,
) -> Result<HttpResponse, PortalError> {
    let melding = if q.geregistreerd.is_some() {
        Some(
            "De toestemmingsverklaring is geregistreerd; de leverancier mag vanaf nu namens uw organisatie werken.",
        )
    } else if q.ingetrokken.is_some() {
        Some(
            "De toestemmingsverklaring is ingetrokken; de leverancier wordt vanaf het volgende verzoek geweigerd.",
        )
    } else {
        None
    };
    render(&state, caller, StatusCode::OK, melding, None, &[]).await
}

/// A refusal as shown next to the form, or the error page for a fault.
fn shown(p: Problem) -> Result<(String, StatusCode), PortalError> {
    if !p.code.is_client_fault() {
        return Err(PortalError(p));
    }
    let status = StatusCode::from_u16(p.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    Ok((format!("{} ({})", p.detail, p.code.as_str()), status))
}

async fn add(
    Person(caller): Person,
    state: web::Data<AppState>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PortalError> {
    super::check_csrf(&state, &caller, &form)?;
    let geldig_tot = match field(&form, "geldig_tot") {
        "" => Ok(None),
        s => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                Problem::new(
                    Code::BadRequest,
                    format!("'{s}' is geen datum (jjjj-mm-dd)."),
                )
            }),
    };
    let leverancier = field(&form, "leverancier").to_owned();
    let outcome = match geldig_tot {
        Ok(_) if leverancier.is_empty() => Err(Problem::new(
            Code::BadRequest,
            "Vul de leverancier in, bijvoorbeeld PLATFORM:pms-leverancier.",
        )),
        Ok(tot) => beheer::add_consent(
            &state.db,
            caller.clone(),
            leverancier,
            tot,
            field(&form, "optin") == "ja",
        )
        .await
        .map_err(Problem::from),
        Err(p) => Err(p),
    };
    match outcome {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header(("Location", "/portaal/beheer/verklaringen?geregistreerd=1"))
            .finish()),
        Err(p) => {
            let (fout, status) = shown(p)?;
            render(&state, caller, status, None, Some(fout), &form).await
        }
    }
}

/// Withdrawn at once: the vendor's next request for this provider is refused.
async fn withdraw(
    Person(caller): Person,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PortalError> {
    super::check_csrf(&state, &caller, &form)?;
    beheer::revoke_consent(&state.db, caller, Requested::from(id.into_inner())).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/portaal/beheer/verklaringen?ingetrokken=1"))
        .finish())
}
