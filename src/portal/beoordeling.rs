//! The assessor's pages (`beoordelen`, persoonlijk): the insurer's inbox, a
//! request with its answers and attachments, and deciding — in behandeling,
//! a question, grant, partial grant, rejection — through
//! `beoordeling::service`, so the lifecycle checks, the Machtigingsnummer,
//! the provider's terugkoppeling and the audit rows are the API's — and
//! revising a grant (`HerzienenMachtiging`: revoke, shorten, extend) through
//! `beoordeling::herziening`.

use super::field;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;

use super::aanvullingen::{self, Aanvulling};
use super::layout::{self, Nav};
use super::{Person, PortalError};
use crate::beoordeling::herziening;
use crate::beoordeling::model::{Beoordeling, Besluit, Herzien};
use crate::beoordeling::{service, store::InboxEntry};
use crate::ids::Requested;
use crate::machtiging::aanvulling;
use crate::machtiging::model::{Outcome, Soort, Status, ToegekendePrestatie, Vraag};
use crate::problem::{Code, Problem};
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/beoordeling", web::get().to(inbox))
        .route("/beoordeling/{id}", web::get().to(dossier))
        .route("/beoordeling/{id}", web::post().to(decide))
        .route("/beoordeling/{id}/herziening", web::post().to(revise));
}

#[derive(Template)]
#[template(path = "portaal/beoordeling_inbox.html")]
struct Inbox {
    nav: Nav,
    items: Vec<InboxEntry>,
}

async fn inbox(
    Person(caller): Person,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PortalError> {
    let nav = Nav::for_caller(&caller, "/portaal/beoordeling");
    let items = service::inbox(&state.db, caller, 100).await?;
    Ok(layout::render(&Inbox { nav, items }))
}

struct Line {
    label: String,
    value: String,
}

struct Requested_ {
    code: String,
    aantal: u32,
}

#[derive(Template)]
#[template(path = "portaal/beoordeling.html")]
struct Dossier {
    nav: Nav,
    csrf: String,
    id: String,
    status: &'static str,
    gegevens: Vec<Line>,
    antwoorden: Vec<Line>,
    bijlagen: Vec<Line>,
    /// The practice's supplements, in the order supplied.
    aanvullingen: Vec<Aanvulling>,
    /// Where the attachments are downloaded (`{bijlage_basis}/{n}`).
    bijlage_basis: String,
    prestaties: Vec<Requested_>,
    machtigingsnummer: Option<String>,
    fout: Option<String>,
    /// A grant can be revised (Toegekend, DeelsToegekend).
    herzienbaar: bool,
    herzien_fout: Option<String>,
}

/// Where a refusal goes: next to the decision or next to the revision.
enum Fout {
    Geen,
    Beslissing(String),
    Herziening(String),
}

async fn render(
    state: &AppState,
    caller: crate::identity::Caller,
    id: String,
    fout: Fout,
    status: StatusCode,
) -> Result<HttpResponse, PortalError> {
    let (fout, herzien_fout) = match fout {
        Fout::Geen => (None, None),
        Fout::Beslissing(f) => (Some(f), None),
        Fout::Herziening(f) => (None, Some(f)),
    };
    let nav = Nav::for_caller(&caller, "/portaal/beoordeling");
    let csrf = state.csrf.token(caller.fingerprint());
    let d = service::get(&state.db, caller, Requested::from(id)).await?;
    let aanvullingen = aanvullingen::view(aanvulling::list(&state.db, d.record.clone()).await?);
    let r = &d.record;
    let a = &r.aanvraag;
    let line = |label: &str, value: String| Line {
        label: label.to_owned(),
        value,
    };
    let naam = a
        .naam
        .as_ref()
        .map(|n| n.achternaam.clone())
        .unwrap_or_default();
    let mut resp = layout::render(&Dossier {
        nav,
        csrf,
        id: r.id.to_string(),
        status: r.status.as_str(),
        gegevens: vec![
            line("Kenmerk zorgaanbieder", a.referentie.clone()),
            line("Zorgaanbieder (AGB)", a.agb_praktijk.clone()),
            line("BSN", a.bsn.clone()),
            line(
                "Geboortedatum",
                a.geboortedatum.format("%d-%m-%Y").to_string(),
            ),
            line("Achternaam", naam),
            line("Verstrekking", a.verstrekking.clone()),
            line(
                "Gevraagde periode",
                format!(
                    "{} tot en met {}",
                    a.begindatum.format("%d-%m-%Y"),
                    a.gewenste_einddatum.format("%d-%m-%Y")
                ),
            ),
            line("Toelichting", a.toelichting.clone().unwrap_or_default()),
        ],
        antwoorden: a
            .antwoorden
            .iter()
            .map(|x| line(&x.vraag_id, x.waarde.clone()))
            .collect(),
        bijlagen: a
            .bijlagen
            .iter()
            .map(|b| {
                line(
                    &b.soort,
                    format!("{} ({}, {} bytes)", b.naam, b.media_type, b.grootte),
                )
            })
            .collect(),
        aanvullingen,
        bijlage_basis: format!("/portaal/beoordeling/{}/bijlagen", r.id),
        prestaties: a
            .prestaties
            .iter()
            .map(|p| Requested_ {
                code: p.code.clone(),
                aantal: p.aantal,
            })
            .collect(),
        machtigingsnummer: r.machtigingsnummer.clone(),
        fout,
        herzienbaar: matches!(r.status, Status::Toegekend | Status::DeelsToegekend),
        herzien_fout,
    });
    *resp.status_mut() = status;
    Ok(resp)
}

async fn dossier(
    Person(caller): Person,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, PortalError> {
    render(&state, caller, id.into_inner(), Fout::Geen, StatusCode::OK).await
}

fn opt(form: &[(String, String)], key: &str) -> Option<String> {
    Some(field(form, key).to_owned()).filter(|s| !s.is_empty())
}

fn date(form: &[(String, String)], key: &str) -> Result<Option<NaiveDate>, String> {
    match field(form, key) {
        "" => Ok(None),
        s => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| format!("'{s}' is geen datum (jjjj-mm-dd).")),
    }
}

/// The form as a decision, or what is wrong with it.
fn beoordeling(form: &[(String, String)]) -> Result<Beoordeling, String> {
    let besluit = |uitkomst| -> Result<Beoordeling, String> {
        let prestaties = if uitkomst == Outcome::DeelsToegekend {
            form.iter()
                .filter_map(|(k, v)| k.strip_prefix("aantal-").map(|c| (c, v.trim())))
                .filter(|(_, v)| !v.is_empty() && *v != "0")
                .map(|(code, v)| {
                    v.parse::<u32>()
                        .map(|aantal| ToegekendePrestatie {
                            code: code.to_owned(),
                            aantal,
                            bedrag_centen: None,
                        })
                        .map_err(|_| format!("Aantal voor {code}: geen getal."))
                })
                .collect::<Result<Vec<_>, _>>()?
        } else {
            Vec::new()
        };
        Ok(Beoordeling::Besluit(Besluit {
            uitkomst,
            machtigingsnummer: opt(form, "machtigingsnummer"),
            geldig_van: date(form, "geldig_van")?,
            geldig_tot: date(form, "geldig_tot")?,
            prestaties,
            reden_code: opt(form, "reden_code"),
            reden_tekst: opt(form, "reden_tekst"),
        }))
    };
    match field(form, "beslissing") {
        "InBehandeling" => Ok(Beoordeling::InBehandeling),
        "AanvullendeInformatieGevraagd" => match opt(form, "vraag") {
            Some(tekst) => Ok(Beoordeling::Vragen(vec![Vraag {
                vraag_id: opt(form, "vraag_id").unwrap_or_else(|| "VRAAG".to_owned()),
                tekst,
            }])),
            None => Err("Schrijf de vraag aan de zorgaanbieder.".into()),
        },
        "Toegekend" => besluit(Outcome::Toegekend),
        "DeelsToegekend" => besluit(Outcome::DeelsToegekend),
        "Afgewezen" => besluit(Outcome::Afgewezen),
        _ => Err("Kies een beslissing.".into()),
    }
}

async fn decide(
    Person(caller): Person,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PortalError> {
    super::check_csrf(&state, &caller, &form)?;
    let id = id.into_inner();
    let b = match beoordeling(&form) {
        Ok(b) => b,
        Err(e) => {
            let fout = Fout::Beslissing(format!("{e} ({})", Code::BadRequest.as_str()));
            return render(&state, caller, id, fout, StatusCode::BAD_REQUEST).await;
        }
    };
    match service::decide(&state.db, caller.clone(), Requested::from(id.clone()), b).await {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header(("Location", format!("/portaal/beoordeling/{id}")))
            .finish()),
        Err(e) => {
            let p = Problem::from(e);
            if !p.code.is_client_fault() || p.code == Code::NotFound {
                return Err(PortalError(p));
            }
            let mut fout = format!("{} ({})", p.detail, p.code.as_str());
            for f in &p.findings {
                fout.push_str(&format!(" {}", f.message));
            }
            let status = StatusCode::from_u16(p.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
            render(&state, caller, id, Fout::Beslissing(fout), status).await
        }
    }
}

/// The revision form as a `Herzien`, or what is wrong with it.
fn herzien(form: &[(String, String)]) -> Result<Herzien, String> {
    let soort = match field(form, "soort") {
        "Herroeping" => Soort::Herroeping,
        "Inkorting" => Soort::Inkorting,
        "Verlenging" => Soort::Verlenging,
        _ => return Err("Kies herroepen, inkorten of verlengen.".into()),
    };
    Ok(Herzien {
        soort,
        geldig_tot: date(form, "herzien_tot")?,
        ingangsdatum: date(form, "ingangsdatum")?,
        reden_code: opt(form, "herzien_reden_code"),
        reden_tekst: opt(form, "herzien_reden_tekst"),
    })
}

/// `HerzienenMachtiging`; a refusal is shown next to the revision form.
async fn revise(
    Person(caller): Person,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PortalError> {
    super::check_csrf(&state, &caller, &form)?;
    let id = id.into_inner();
    let outcome = match herzien(&form) {
        Ok(h) => herziening::revise(&state.db, caller.clone(), Requested::from(id.clone()), h)
            .await
            .map_err(Problem::from),
        Err(e) => Err(Problem::new(Code::BadRequest, e)),
    };
    match outcome {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header(("Location", format!("/portaal/beoordeling/{id}")))
            .finish()),
        Err(p) => {
            if !p.code.is_client_fault() || p.code == Code::NotFound {
                return Err(PortalError(p));
            }
            let fout = format!("{} ({})", p.detail, p.code.as_str());
            let status = StatusCode::from_u16(p.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
            render(&state, caller, id, Fout::Herziening(fout), status).await
        }
    }
}
