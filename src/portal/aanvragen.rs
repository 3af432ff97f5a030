//! The practice's requests (`machtigingen:raadplegen`): search by status,
//! period and patient with paging by the keyset search's `vervolg` token,
//! and one request's detail with its history, decision, validity and
//! Machtigingsnummer — through `machtiging::query`, audited as the API's
//! reads are — and withdrawing it (`machtiging::service::withdraw`). The
//! detail page also carries the form that answers the insurer's questions
//! ([`super::aanvullen`]) and the way to change a Concept
//! ([`super::concept`]). The search is a POST form, so a patient's BSN
//! never appears in a URL (nor in the browser's history or an access log).

use super::field;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;

use super::aanvullingen::{self, Aanvulling};
use super::layout::{self, Nav};
use super::{Person, PortalError};
use crate::identity::Caller;
use crate::ids::Requested;
use crate::machtiging::model::Status;
use crate::machtiging::query::{self, Paging};
use crate::machtiging::search::{Criteria, Summary};
use crate::machtiging::{aanvulling, lifecycle, service};
use crate::problem::Problem;
use crate::registry::Scope;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/aanvragen", web::get().to(list))
        .route("/aanvragen", web::post().to(search))
        .route("/aanvragen/{id}", web::get().to(detail))
        .route("/aanvragen/{id}/intrekken", web::post().to(withdraw));
}

#[derive(Template)]
#[template(path = "portaal/aanvragen.html")]
struct List {
    nav: Nav,
    csrf: String,
    statussen: Vec<(&'static str, bool)>,
    status: String,
    vanaf: String,
    tot: String,
    bsn: String,
    geboortedatum: String,
    items: Vec<Summary>,
    totaal: String,
    vervolg: Option<String>,
    fout: Option<String>,
    indienen: bool,
}

fn date(s: &str, label: &str) -> Result<Option<NaiveDate>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| format!("{label}: geen geldige datum (jjjj-mm-dd)."))
}

fn criteria(form: &[(String, String)]) -> Result<Criteria, String> {
    let status = match field(form, "status") {
        "" => None,
        s => Some(Status::parse(s).ok_or_else(|| format!("Onbekende status '{s}'."))?),
    };
    let patient = match (
        field(form, "bsn"),
        date(field(form, "geboortedatum"), "Geboortedatum")?,
    ) {
        ("", None) => None,
        (bsn, Some(d)) if !bsn.is_empty() => Some((bsn.to_owned(), d)),
        _ => return Err("Zoeken op patiënt vraagt BSN én geboortedatum.".into()),
    };
    Ok(Criteria {
        status,
        vanaf: date(field(form, "vanaf"), "Vanaf")?,
        tot: date(field(form, "tot"), "Tot en met")?,
        patient,
        ..Default::default()
    })
}

async fn render(
    state: &AppState,
    caller: Caller,
    form: &[(String, String)],
) -> Result<HttpResponse, PortalError> {
    caller.require(Scope::MachtigingenRaadplegen)?;
    let mut page = List {
        nav: Nav::for_caller(&caller, "/portaal/aanvragen"),
        csrf: state.csrf.token(caller.fingerprint()),
        statussen: Status::ALL
            .iter()
            .map(|s| (s.as_str(), s.as_str() == field(form, "status")))
            .collect(),
        status: field(form, "status").to_owned(),
        vanaf: field(form, "vanaf").to_owned(),
        tot: field(form, "tot").to_owned(),
        bsn: field(form, "bsn").to_owned(),
        geboortedatum: field(form, "geboortedatum").to_owned(),
        items: Vec::new(),
        totaal: String::new(),
        vervolg: None,
        fout: None,
        indienen: caller
            .certificate
            .scopes
            .contains(Scope::MachtigingenIndienen),
    };
    let status = match criteria(form) {
        Err(e) => {
            page.fout = Some(e);
            StatusCode::BAD_REQUEST
        }
        Ok(criteria) => {
            let paging = Paging {
                size: Some(20),
                token: Some(field(form, "vervolg").to_owned()).filter(|t| !t.is_empty()),
                page: None,
            };
            match query::search(&state.db, caller, criteria, paging).await {
                Ok(result) => {
                    page.totaal = super::totaal_tekst(result.total, result.total_is_minimum);
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

/// One open question of the insurer, with the answer field.
struct OpenVraag {
    id: String,
    tekst: String,
    antwoord: String,
    fout: Option<String>,
}

/// A refused supply of information: what was entered and each finding by
/// the field it concerns.
#[derive(Default)]
pub(super) struct AanvulFouten {
    pub entered: Vec<(String, String)>,
    pub melding: Option<String>,
    pub antwoorden: Vec<(String, String)>,
    pub toelichting: Vec<String>,
    pub bijlagen: Vec<String>,
    pub algemeen: Vec<String>,
}

fn joined(v: &[String]) -> Option<String> {
    (!v.is_empty()).then(|| v.join("; "))
}

/// One line of the history.
struct Regel {
    at: String,
    action: String,
    status: String,
}

#[derive(Template)]
#[template(path = "portaal/aanvraag_detail.html")]
struct Detail {
    nav: Nav,
    id: String,
    referentie: String,
    status: &'static str,
    uzovi: String,
    verstrekking: String,
    begindatum: String,
    einddatum: String,
    machtigingsnummer: Option<String>,
    uitkomst: Option<String>,
    geldig: Option<String>,
    toegekend: Vec<String>,
    reden: Option<String>,
    vragen: Vec<OpenVraag>,
    /// The attachments (name, type, size), each a download link.
    bijlagen: Vec<String>,
    /// The practice's supplements, in the order supplied.
    aanvullingen: Vec<Aanvulling>,
    /// Where the attachments are downloaded (`{bijlage_basis}/{n}`).
    bijlage_basis: String,
    historie: Vec<Regel>,
    /// The person may submit and the insurer waits for information.
    aanvulbaar: bool,
    aanvul_melding: Option<String>,
    aanvul_algemeen: Vec<String>,
    aanvul_toelichting: String,
    aanvul_toelichting_fout: Option<String>,
    aanvul_soort: String,
    aanvul_bijlagen_fout: Option<String>,
    /// The person may submit and the request is a Concept.
    wijzigbaar: bool,
    csrf: String,
    /// The person may submit and the lifecycle allows withdrawing.
    intrekbaar: bool,
    intrek_fout: Option<String>,
    melding: Option<&'static str>,
}

#[derive(serde::Deserialize)]
struct Notice {
    ingetrokken: Option<String>,
    aangevuld: Option<String>,
}

async fn detail(
    Person(caller): Person,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<Notice>,
) -> Result<HttpResponse, PortalError> {
    let melding = match (&q.ingetrokken, &q.aangevuld) {
        (Some(_), _) => Some("De aanvraag is ingetrokken."),
        (None, Some(_)) => Some("De aanvullende informatie is verstuurd naar de verzekeraar."),
        (None, None) => None,
    };
    let none = AanvulFouten::default();
    render_detail(&state, caller, id.into_inner(), melding, None, none).await
}

/// `IntrekkenMachtigingsaanvraag` with an optional reason; a refusal
/// (`STA-001` for a decided request) is shown next to the form.
async fn withdraw(
    Person(caller): Person,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PortalError> {
    super::check_csrf(&state, &caller, &form)?;
    let id = id.into_inner();
    let reden = Some(field(&form, "reden").to_owned()).filter(|r| !r.is_empty());
    match service::withdraw(
        &state.db,
        caller.clone(),
        Requested::from(id.clone()),
        reden,
    )
    .await
    {
        Ok(c) => Ok(HttpResponse::SeeOther()
            .insert_header((
                "Location",
                format!("/portaal/aanvragen/{}?ingetrokken=1", c.id),
            ))
            .finish()),
        Err(e) => {
            let p = Problem::from(e);
            if !p.code.is_client_fault() || p.code == crate::problem::Code::NotFound {
                return Err(PortalError(p));
            }
            let fout = format!("{} ({})", p.detail, p.code.as_str());
            let status = StatusCode::from_u16(p.code.status()).unwrap_or(StatusCode::CONFLICT);
            let none = AanvulFouten::default();
            let mut resp = render_detail(&state, caller, id, None, Some(fout), none).await?;
            *resp.status_mut() = status;
            Ok(resp)
        }
    }
}

pub(super) async fn render_detail(
    state: &AppState,
    caller: Caller,
    id: String,
    melding: Option<&'static str>,
    intrek_fout: Option<String>,
    aanvul: AanvulFouten,
) -> Result<HttpResponse, PortalError> {
    let nav = Nav::for_caller(&caller, "/portaal/aanvragen");
    let csrf = state.csrf.token(caller.fingerprint());
    let indienen = caller
        .certificate
        .scopes
        .contains(Scope::MachtigingenIndienen);
    let d = query::get(&state.db, caller, Requested::from(id)).await?;
    let aanvullingen = aanvullingen::view(aanvulling::list(&state.db, d.record.clone()).await?);
    let r = d.record;
    let intrekbaar = indienen
        && lifecycle::transition(Some(r.status), lifecycle::Command::Intrekken, None).is_ok();
    let aanvulbaar = indienen
        && lifecycle::transition(Some(r.status), lifecycle::Command::Aanvullen, None).is_ok();
    let wijzigbaar = indienen && r.status == Status::Concept;
    let entered = |k: &str| field(&aanvul.entered, k).to_owned();
    let vragen = r
        .open_vragen
        .iter()
        .map(|v| OpenVraag {
            antwoord: entered(&format!("antwoord-{}", v.vraag_id)),
            fout: aanvul
                .antwoorden
                .iter()
                .find(|(id, _)| id == &v.vraag_id)
                .map(|(_, t)| t.clone()),
            id: v.vraag_id.clone(),
            tekst: v.tekst.clone(),
        })
        .collect();
    let b = r.beslissing.as_ref();
    let fmt = |d: Option<NaiveDate>| d.map(|d| d.format("%d-%m-%Y").to_string());
    Ok(layout::render(&Detail {
        csrf,
        intrekbaar,
        intrek_fout,
        melding,
        nav,
        id: r.id.to_string(),
        referentie: r.referentie.clone(),
        status: r.status.as_str(),
        uzovi: r.uzovi.clone(),
        verstrekking: r.aanvraag.verstrekking.clone(),
        begindatum: r.aanvraag.begindatum.format("%d-%m-%Y").to_string(),
        einddatum: r.aanvraag.gewenste_einddatum.format("%d-%m-%Y").to_string(),
        machtigingsnummer: r.machtigingsnummer.clone(),
        uitkomst: b.map(|b| b.uitkomst.status().as_str().to_owned()),
        geldig: b.and_then(|b| match (fmt(b.geldig_van), fmt(b.geldig_tot)) {
            (Some(v), Some(t)) => Some(format!("{v} tot en met {t}")),
            (Some(v), None) => Some(format!("vanaf {v}")),
            _ => None,
        }),
        toegekend: b
            .map(|b| {
                b.toegekende_prestaties
                    .iter()
                    .map(|p| format!("{} × {}", p.aantal, p.code))
                    .collect()
            })
            .unwrap_or_default(),
        reden: b.and_then(|b| b.reden_tekst.clone()),
        vragen,
        bijlagen: r
            .aanvraag
            .bijlagen
            .iter()
            .map(|b| {
                format!(
                    "{} ({}, {}, {} bytes)",
                    b.naam, b.soort, b.media_type, b.grootte
                )
            })
            .collect(),
        aanvullingen,
        bijlage_basis: format!("/portaal/aanvragen/{}/bijlagen", r.id),
        aanvulbaar,
        aanvul_melding: aanvul.melding.clone(),
        aanvul_algemeen: aanvul.algemeen.clone(),
        aanvul_toelichting: entered("toelichting"),
        aanvul_toelichting_fout: joined(&aanvul.toelichting),
        aanvul_soort: match entered("bijlage-soort") {
            s if s.is_empty() => super::aanvullen::DEFAULT_SOORT.to_owned(),
            s => s,
        },
        aanvul_bijlagen_fout: joined(&aanvul.bijlagen),
        wijzigbaar,
        historie: d
            .history
            .iter()
            .map(|e| Regel {
                at: layout::when(&e.at),
                action: e.action.clone(),
                status: e.status.clone(),
            })
            .collect(),
    }))
}
