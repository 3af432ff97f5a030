//! The assessor's work list (`beoordelen`): the insurer's requests searched
//! by status, period, verstrekking, provider (AGB) and patient (BSN +
//! birth date), newest first, 20 a page along the `vervolg` token, with the
//! total capped as the API caps it ("meer dan 1000") — through
//! `beoordeling::zoeken`, the service behind `ZoekenAanvragen` and
//! `GET /api/v1/beoordeling/machtigingsaanvragen`, so every request on a page
//! is audited as found (`beoordeling.zoeken`). The criteria travel in a POST
//! form, so a patient's BSN never appears in a URL, the browser's history or
//! an access log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;

use super::field;
use super::layout::{self, Nav};
use super::{Person, PortalError};
use crate::beoordeling::zoeken::{self, Zoekvraag};
use crate::identity::Caller;
use crate::machtiging::model::Status;
use crate::machtiging::query::Paging;
use crate::machtiging::search::Summary;
use crate::problem::{Code, Problem};
use crate::registry::Scope;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/werklijst", web::get().to(list))
        .route("/werklijst", web::post().to(search));
}

/// The criteria as entered, to fill the form again and carry to the next page.
#[derive(Default)]
struct Entered {
    status: String,
    vanaf: String,
    tot: String,
    verstrekking: String,
    agb: String,
    bsn: String,
    geboortedatum: String,
}

#[derive(Template)]
#[template(path = "portaal/werklijst.html")]
struct Werklijst {
    nav: Nav,
    csrf: String,
    statussen: Vec<(&'static str, bool)>,
    e: Entered,
    items: Vec<Summary>,
    totaal: String,
    pagina: i64,
    vervolg: Option<String>,
    fout: Option<String>,
    gezocht: bool,
}

fn date(s: &str, label: &str) -> Result<Option<NaiveDate>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| format!("{label}: geen geldige datum (jjjj-mm-dd)."))
}

fn opt(s: &str) -> Option<String> {
    Some(s.to_owned()).filter(|s| !s.is_empty())
}

fn vraag(e: &Entered) -> Result<Zoekvraag, String> {
    let status = match e.status.as_str() {
        "" => None,
        s => Some(Status::parse(s).ok_or_else(|| format!("Onbekende status '{s}'."))?),
    };
    let patient = match (e.bsn.as_str(), date(&e.geboortedatum, "Geboortedatum")?) {
        ("", None) => None,
        (bsn, Some(d)) if !bsn.is_empty() => Some((bsn.to_owned(), d)),
        _ => return Err("Zoeken op patiënt vraagt BSN én geboortedatum.".into()),
    };
    let agb_ok = e.agb.len() == 8 && e.agb.bytes().all(|b| b.is_ascii_digit());
    if !e.agb.is_empty() && !agb_ok {
        return Err("AGB-code van de zorgaanbieder: 8 cijfers.".into());
    }
    Ok(Zoekvraag {
        status,
        vanaf: date(&e.vanaf, "Aangemaakt vanaf")?,
        tot: date(&e.tot, "Aangemaakt tot en met")?,
        verstrekking: opt(&e.verstrekking),
        provider_agb: opt(&e.agb),
        patient,
    })
}

async fn render(
    state: &AppState,
    caller: Caller,
    form: &[(String, String)],
) -> Result<HttpResponse, PortalError> {
    caller.require(Scope::Beoordelen)?;
    let e = Entered {
        status: field(form, "status").to_owned(),
        vanaf: field(form, "vanaf").to_owned(),
        tot: field(form, "tot").to_owned(),
        verstrekking: field(form, "verstrekking").to_owned(),
        agb: field(form, "agb").to_owned(),
        bsn: field(form, "bsn").to_owned(),
        geboortedatum: field(form, "geboortedatum").to_owned(),
    };
    let mut page = Werklijst {
        nav: Nav::for_caller(&caller, "/portaal/werklijst"),
        csrf: state.csrf.token(caller.fingerprint()),
        // A Concept is never sent to an insurer: not offered.
        statussen: Status::ALL
            .iter()
            .filter(|s| **s != Status::Concept)
            .map(|s| (s.as_str(), s.as_str() == e.status))
            .collect(),
        items: Vec::new(),
        totaal: String::new(),
        pagina: 1,
        vervolg: None,
        fout: None,
        gezocht: !form.is_empty(),
        e,
    };
    let status = match vraag(&page.e) {
        Err(msg) => {
            page.fout = Some(format!("{msg} ({})", Code::BadRequest.as_str()));
            StatusCode::BAD_REQUEST
        }
        Ok(vraag) => {
            let paging = Paging {
                size: Some(20),
                token: opt(field(form, "vervolg")),
                page: None,
            };
            match zoeken::search(&state.db, caller, vraag, paging).await {
                Ok(result) => {
                    page.totaal = super::totaal_tekst(result.total, result.total_is_minimum);
                    page.pagina = result.page;
                    page.items = result.items;
                    page.vervolg = result.next;
                    StatusCode::OK
                }
                Err(e) => {
                    let (fout, status) = super::refusal_on_page(Problem::from(e))?;
                    page.fout = Some(fout);
                    status
                }
            }
        }
    };
    let mut resp = layout::render(&page);
    *resp.status_mut() = status;
    Ok(resp)
}

async fn list(
    Person(caller): Person,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PortalError> {
    render(&state, caller, &[]).await
}

async fn search(
    Person(caller): Person,
    state: web::Data<AppState>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PortalError> {
    super::check_csrf(&state, &caller, &form)?;
    render(&state, caller, &form).await
}
