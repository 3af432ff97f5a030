//! The aanvraag form for practice staff (`machtigingen:indienen`): choose
//! the insurer and a verstrekking from its catalog, answer exactly that
//! verstrekking's questions, save as Concept or submit. The form is turned
//! into the same `Machtigingsaanvraag` XML document the SOAP and REST doors
//! accept and goes through the same intake (XSD) and service (JVC), so the
//! checks are identical; each finding is shown next to the field it concerns.

use super::field;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::layout::{self, Nav};
use super::{Person, PortalError};
use crate::catalog::{AntwoordType, Verstrekking};
use crate::error::Finding;
use crate::identity::Caller;
use crate::machtiging::{intake, query, service};
use crate::problem::{Code, Problem};
use crate::registry::Scope;
use crate::state::AppState;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/aanvragen/nieuw", web::get().to(form_page))
        .route("/aanvragen/nieuw", web::post().to(submit));
}

/// One insurer's verstrekking in the chooser: `uzovi|code`.
struct Option_ {
    value: String,
    label: String,
    selected: bool,
}

/// One question of the chosen verstrekking.
struct Question {
    id: String,
    name: String,
    tekst: String,
    verplicht: bool,
    kind: &'static str,
    value: String,
    error: Option<String>,
}

/// One prestatie of the chosen verstrekking.
struct Prestatie {
    code: String,
    omschrijving: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "portaal/aanvraag.html")]
struct Form {
    nav: Nav,
    csrf: String,
    keuzes: Vec<Option_>,
    keuze: String,
    verstrekking: Option<String>,
    vragen: Vec<Question>,
    prestaties: Vec<Prestatie>,
    fields: Vec<Field>,
    /// The prestaties' error (a finding about a prestatie).
    prestaties_fout: Option<String>,
    /// Findings that concern no single field.
    general: Vec<String>,
    melding: Option<String>,
}

/// One plain field of the form, with what was entered and its finding.
struct Field {
    name: &'static str,
    label: &'static str,
    hint: &'static str,
    kind: &'static str,
    value: String,
    error: Option<String>,
}

/// The plain fields, in form order: name, label, hint, input type.
const FIELDS: [(&str, &str, &str, &str); 8] = [
    (
        "referentie",
        "Uw kenmerk",
        "Uniek kenmerk van de praktijk voor deze aanvraag.",
        "text",
    ),
    ("bsn", "BSN van de verzekerde", "Negen cijfers.", "text"),
    ("geboortedatum", "Geboortedatum", "", "date"),
    ("achternaam", "Achternaam van de verzekerde", "", "text"),
    (
        "zorgsoort",
        "Zorgsoort of specialisme (code)",
        "Bijvoorbeeld 0303.",
        "text",
    ),
    ("begindatum", "Begindatum", "", "date"),
    ("einddatum", "Gewenste einddatum", "", "date"),
    ("toelichting", "Toelichting", "", "textarea"),
];

#[derive(serde::Deserialize)]
struct Chosen {
    keuze: Option<String>,
}

/// The catalogs the caller may choose from, and the chosen verstrekking.
async fn catalog(
    state: &AppState,
    caller: &Caller,
    keuze: &str,
) -> Result<
    (
        Vec<Option_>,
        Option<(String, Verstrekking, Vec<(String, String)>)>,
    ),
    PortalError,
> {
    let catalogs = query::verstrekkingen(&state.db, caller.clone(), None)
        .await
        .map_err(|e| PortalError(Problem::from(e)))?;
    let mut options = Vec::new();
    let mut chosen = None;
    for named in catalogs {
        for v in &named.catalog.verstrekkingen {
            let value = format!("{}|{}", named.catalog.uzovi, v.code);
            if value == keuze {
                let prestaties = named
                    .catalog
                    .prestaties
                    .iter()
                    .filter(|p| v.prestaties.contains(&p.code))
                    .map(|p| (p.code.clone(), p.omschrijving.clone()))
                    .collect();
                chosen = Some((named.catalog.uzovi.clone(), v.clone(), prestaties));
            }
            options.push(Option_ {
                label: format!("{} ({}) — {}", named.naam, named.catalog.uzovi, v.naam),
                selected: value == keuze,
                value,
            });
        }
    }
    Ok((options, chosen))
}

async fn render(
    state: &AppState,
    caller: &Caller,
    form: &[(String, String)],
    findings: &[Finding],
    melding: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PortalError> {
    let keuze = field(form, "keuze").to_owned();
    let (keuzes, chosen) = catalog(state, caller, &keuze).await?;
    let mut errors: Vec<(&'static str, String)> = Vec::new();
    let mut general = Vec::new();
    let (verstrekking, vragen, prestaties) = match &chosen {
        Some((_, v, prestaties)) => (
            Some(v.naam.clone()),
            v.vragen
                .iter()
                .map(|q| Question {
                    name: format!("vraag-{}", q.id),
                    id: q.id.clone(),
                    tekst: q.tekst.clone(),
                    verplicht: q.verplicht,
                    kind: match q.antwoord_type {
                        AntwoordType::JaNee => "janee",
                        AntwoordType::Datum => "date",
                        AntwoordType::Getal => "getal",
                        AntwoordType::Tekst => "text",
                    },
                    value: field(form, &format!("vraag-{}", q.id)).to_owned(),
                    error: None,
                })
                .collect::<Vec<_>>(),
            prestaties
                .iter()
                .map(|(code, omschrijving)| Prestatie {
                    checked: form.iter().any(|(k, v)| k == "prestatie" && v == code),
                    code: code.clone(),
                    omschrijving: omschrijving.clone(),
                })
                .collect(),
        ),
        None => (None, Vec::new(), Vec::new()),
    };
    let mut vragen = vragen;
    for f in findings {
        let text = format!("{} ({})", f.message, f.code.as_str());
        match field_of(f, &vragen) {
            Target::Field(name) => errors.push((name, text)),
            Target::Question(i) => match vragen.get_mut(i) {
                Some(q) => q.error = Some(text),
                None => general.push(text),
            },
            Target::None => general.push(text),
        }
    }
    let prestaties_fout = errors
        .iter()
        .find(|(k, _)| *k == "prestaties")
        .map(|(_, v)| v.clone());
    let fields = FIELDS
        .iter()
        .map(|(name, label, hint, kind)| Field {
            name,
            label,
            hint,
            kind,
            value: field(form, name).to_owned(),
            error: errors
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone()),
        })
        .collect();
    let mut resp = layout::render(&Form {
        nav: Nav::for_caller(caller, "/portaal/aanvragen/nieuw"),
        csrf: state.csrf.token(caller.fingerprint()),
        keuzes,
        keuze,
        verstrekking,
        vragen,
        prestaties,
        fields,
        prestaties_fout,
        general,
        melding,
    });
    *resp.status_mut() = status;
    Ok(resp)
}

enum Target {
    Field(&'static str),
    Question(usize),
    None,
}

/// Which form field a finding's location (an element path) concerns.
fn field_of(f: &Finding, vragen: &[Question]) -> Target {
    let Some(loc) = f.location.as_deref() else {
        return Target::None;
    };
    let has = |part: &str| loc.contains(part);
    if has("Antwoord") {
        // Answers are sent in the order of the questions that have one.
        if let Some(q) = vragen.iter().position(|q| f.message.contains(&q.id)) {
            return Target::Question(q);
        }
        if let Some(n) = loc
            .split("Antwoord[")
            .nth(1)
            .and_then(|r| r.split(']').next())
            .and_then(|n| n.parse::<usize>().ok())
        {
            let answered: Vec<usize> = (0..vragen.len())
                .filter(|i| !vragen[*i].value.is_empty())
                .collect();
            if let Some(i) = n.checked_sub(1).and_then(|n| answered.get(n)) {
                return Target::Question(*i);
            }
        }
        return Target::None;
    }
    let map: [(&str, &'static str); 9] = [
        ("Bsn", "bsn"),
        ("Geboortedatum", "geboortedatum"),
        ("Naam", "achternaam"),
        ("Zorgsoort", "zorgsoort"),
        ("Begindatum", "begindatum"),
        ("GewensteEinddatum", "einddatum"),
        ("Toelichting", "toelichting"),
        ("Referentie", "referentie"),
        ("Prestatie", "prestaties"),
    ];
    map.iter()
        .find(|(part, _)| has(part))
        .map(|(_, field)| Target::Field(field))
        .unwrap_or(Target::None)
}

async fn form_page(
    Person(caller): Person,
    state: web::Data<AppState>,
    q: web::Query<Chosen>,
) -> Result<HttpResponse, PortalError> {
    caller.require(Scope::MachtigingenIndienen)?;
    let form = vec![("keuze".to_owned(), q.keuze.clone().unwrap_or_default())];
    render(&state, &caller, &form, &[], None, StatusCode::OK).await
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The form as a `Machtigingsaanvraag` document; fields are passed on as
/// entered (escaped), so the XSD judges them exactly as it judges the API's.
fn document(caller: &Caller, form: &[(String, String)], v: &Verstrekking, uzovi: &str) -> String {
    let f = |k: &str| esc(field(form, k));
    let agb = esc(&caller.party().reference.code);
    let mut x = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Machtigingsaanvraag xmlns=\"urn:machtigingen:machtigingen:v1\">\
         <Referentie>{}</Referentie>\
         <Indiener><AgbPraktijk>{agb}</AgbPraktijk><Software><Naam>machtigingen portaal</Naam>\
         <Versie>{}</Versie></Software></Indiener>\
         <Verzekerde><Bsn>{}</Bsn><Geboortedatum>{}</Geboortedatum>\
         <Naam><Achternaam>{}</Achternaam></Naam></Verzekerde>\
         <Uzovi>{}</Uzovi><Grondslag>{}</Grondslag><Verstrekking>{}</Verstrekking>\
         <Zorgsoort>{}</Zorgsoort><Prestaties>",
        f("referentie"),
        env!("CARGO_PKG_VERSION"),
        f("bsn"),
        f("geboortedatum"),
        f("achternaam"),
        esc(uzovi),
        v.grondslag.as_str(),
        esc(&v.code),
        f("zorgsoort"),
    );
    for (k, code) in form {
        if k == "prestatie" {
            x.push_str(&format!(
                "<Prestatie><Code>{}</Code><Aantal>1</Aantal></Prestatie>",
                esc(code)
            ));
        }
    }
    x.push_str(&format!(
        "</Prestaties><Begindatum>{}</Begindatum><GewensteEinddatum>{}</GewensteEinddatum>",
        f("begindatum"),
        f("einddatum")
    ));
    let answers: Vec<String> = v
        .vragen
        .iter()
        .filter_map(|q| {
            let w = field(form, &format!("vraag-{}", q.id));
            (!w.is_empty()).then(|| {
                format!(
                    "<Antwoord><VraagId>{}</VraagId><Waarde>{}</Waarde></Antwoord>",
                    esc(&q.id),
                    esc(w)
                )
            })
        })
        .collect();
    if !answers.is_empty() {
        x.push_str(&format!("<Antwoorden>{}</Antwoorden>", answers.concat()));
    }
    if !field(form, "toelichting").is_empty() {
        x.push_str(&format!("<Toelichting>{}</Toelichting>", f("toelichting")));
    }
    x.push_str("</Machtigingsaanvraag>\n");
    x
}

async fn submit(
    Person(caller): Person,
    state: web::Data<AppState>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PortalError> {
    super::check_csrf(&state, &caller, &form)?;
    caller.require(Scope::MachtigingenIndienen)?;
    let (_, chosen) = catalog(&state, &caller, field(&form, "keuze")).await?;
    let Some((uzovi, v, _)) = chosen else {
        let missing = Finding {
            code: Code::BadRequest,
            location: None,
            message: "Kies eerst een verzekeraar en verstrekking.".into(),
        };
        return render(
            &state,
            &caller,
            &form,
            &[missing],
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let concept = field(&form, "actie") == "concept";
    let xml = document(&caller, &form, &v, &uzovi).into_bytes();
    let result = match intake::blocking(xml.len(), move || intake::submission(&xml, concept)).await
    {
        Ok(submission) => service::submit(&state.db, caller.clone(), submission)
            .await
            .map_err(Problem::from),
        Err(e) => Err(Problem::from(e)),
    };
    match result {
        Ok(c) => Ok(HttpResponse::SeeOther()
            .insert_header(("Location", format!("/portaal/aanvragen/{}", c.id)))
            .finish()),
        Err(p) if p.code.is_client_fault() => {
            let mut findings = p.findings.clone();
            if findings.is_empty() {
                findings.push(Finding {
                    code: p.code,
                    location: None,
                    message: p.detail.clone(),
                });
            }
            let status = StatusCode::from_u16(p.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let melding = Some(format!("{} ({})", p.detail, p.code.as_str()));
            render(&state, &caller, &form, &findings, melding, status).await
        }
        Err(p) => Err(PortalError(p)),
    }
}
