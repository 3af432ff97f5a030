//! The aanvraag form for practice staff (`machtigingen:indienen`): choose
//! the insurer and a verstrekking from its catalog, answer exactly that
//! verstrekking's questions, attach files (`multipart/form-data`), save as
//! Concept or submit. The form is turned into the same `Machtigingsaanvraag`
//! XML document the SOAP and REST doors accept and goes through the same
//! intake (XSD) and service (JVC), so the checks are identical; each finding
//! is shown next to the field it concerns. Changing a Concept reuses this
//! form ([`super::concept`]).

use super::field;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::document::{attachments, document, soort_of};
use super::layout::{self, Nav};
use super::upload::{self, Attachment, Posted};
use super::{Person, PortalError};
use crate::catalog::{AntwoordType, Verstrekking};
use crate::error::Finding;
use crate::identity::Caller;
use crate::machtiging::intake::StoredAttachment;
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
    /// Where the form posts: a new request, or the Concept being changed.
    actie_url: String,
    /// Changing a stored Concept: the choice and the reference stay.
    wijzigen: bool,
    bestanden: Vec<FileField>,
    /// A finding about the attachments as a whole.
    bijlagen_fout: Option<String>,
    /// The stored Concept's attachments, kept unless ticked off.
    bestaand: Vec<Bestaand>,
}

/// One file field: per attachment kind the verstrekking requires, and one
/// for other attachments.
struct FileField {
    name: String,
    label: String,
    multiple: bool,
    error: Option<String>,
}

/// An attachment of the stored Concept.
struct Bestaand {
    index: usize,
    naam: String,
    soort: String,
    media_type: String,
    verwijderen: bool,
}

/// What the form is for: a new request, or changing the Concept `id` whose
/// stored attachments are `bestaand`.
pub(super) struct Mode {
    pub wijzigen: Option<String>,
    pub bestaand: Vec<StoredAttachment>,
}

impl Mode {
    pub const NEW: Mode = Mode {
        wijzigen: None,
        bestaand: Vec::new(),
    };
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

/// The form with what was entered and each finding next to its field.
pub(super) struct Shown<'a> {
    pub form: &'a [(String, String)],
    pub findings: &'a [Finding],
    pub melding: Option<String>,
    pub status: StatusCode,
    /// The attachments the document was made with, for placing findings.
    pub attachments: &'a [Attachment],
}

pub(super) async fn render(
    state: &AppState,
    caller: &Caller,
    mode: &Mode,
    shown: Shown<'_>,
) -> Result<HttpResponse, PortalError> {
    let Shown {
        form,
        findings,
        melding,
        status,
        attachments: list,
    } = shown;
    let keuze = field(form, "keuze").to_owned();
    let (keuzes, chosen) = catalog(state, caller, &keuze).await?;
    let mut errors: Vec<(&'static str, String)> = Vec::new();
    let mut general = Vec::new();
    let (verstrekking, vragen, prestaties, mut bestanden) = match &chosen {
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
            v.verplichte_bijlagen
                .iter()
                .map(|soort| FileField {
                    name: format!("bijlage-{soort}"),
                    label: format!("Bijlage: {soort} (verplicht)"),
                    multiple: false,
                    error: None,
                })
                .chain(std::iter::once(FileField {
                    name: "bijlage-overig".into(),
                    label: "Andere bijlagen".into(),
                    multiple: true,
                    error: None,
                }))
                .collect::<Vec<_>>(),
        ),
        None => (None, Vec::new(), Vec::new(), Vec::new()),
    };
    let mut vragen = vragen;
    let mut bijlagen_fout: Option<String> = None;
    for f in findings {
        let text = format!("{} ({})", f.message, f.code.as_str());
        match field_of(f, &vragen, list) {
            Target::Field(name) => errors.push((name, text)),
            Target::Question(i) => match vragen.get_mut(i) {
                Some(q) => q.error = Some(text),
                None => general.push(text),
            },
            Target::Attachment(origin) => {
                // A missing kind names it: `bijlage van soort 'foto'`.
                let at = bestanden.iter().position(|b| {
                    origin.as_deref() == Some(b.name.as_str())
                        || soort_of(&b.name).is_some_and(|s| f.message.contains(&format!("'{s}'")))
                });
                match at.and_then(|i| bestanden.get_mut(i)) {
                    Some(b) if b.error.is_none() => b.error = Some(text),
                    _ => match &mut bijlagen_fout {
                        Some(all) => {
                            all.push_str("; ");
                            all.push_str(&text);
                        }
                        None => bijlagen_fout = Some(text),
                    },
                }
            }
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
    let bestaand = mode
        .bestaand
        .iter()
        .enumerate()
        .map(|(index, b)| Bestaand {
            index,
            naam: b.naam.clone(),
            soort: b.soort.clone(),
            media_type: b.media_type.clone(),
            verwijderen: form
                .iter()
                .any(|(k, v)| k == "verwijder-bijlage" && v == &index.to_string()),
        })
        .collect();
    let actie_url = match &mode.wijzigen {
        Some(id) => format!("/portaal/aanvragen/{id}/wijzigen"),
        None => "/portaal/aanvragen/nieuw".to_owned(),
    };
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
        actie_url,
        wijzigen: mode.wijzigen.is_some(),
        bestanden,
        bijlagen_fout,
        bestaand,
    });
    *resp.status_mut() = status;
    Ok(resp)
}

enum Target {
    Field(&'static str),
    Question(usize),
    /// The attachments: the file field its origin names, or all of them.
    Attachment(Option<String>),
    None,
}

/// Which form field a finding's location (an element path) concerns.
fn field_of(f: &Finding, vragen: &[Question], list: &[Attachment]) -> Target {
    let Some(loc) = f.location.as_deref() else {
        return Target::None;
    };
    let has = |part: &str| loc.contains(part);
    // Before the plain fields: `Bijlage[1]/Naam` is no patient's name.
    if has("Bijlage") {
        return Target::Attachment(upload::origin_of(loc, list).map(str::to_owned));
    }
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
    let shown = Shown {
        form: &form,
        findings: &[],
        melding: None,
        status: StatusCode::OK,
        attachments: &[],
    };
    render(&state, &caller, &Mode::NEW, shown).await
}

async fn submit(
    Person(caller): Person,
    state: web::Data<AppState>,
    posted: Posted,
) -> Result<HttpResponse, PortalError> {
    super::check_csrf(&state, &caller, &posted.fields)?;
    caller.require(Scope::MachtigingenIndienen)?;
    save(&state, caller, &Mode::NEW, posted).await
}

/// Builds the document from the posted form and submits it, or saves it
/// as Concept: new (`service::submit`) or the Concept of `mode`
/// (`service::modify`, as `PUT /api/v1/machtigingsaanvragen/{id}`).
pub(super) async fn save(
    state: &AppState,
    caller: Caller,
    mode: &Mode,
    posted: Posted,
) -> Result<HttpResponse, PortalError> {
    let form = posted.fields;
    let refuse = |findings: Vec<Finding>, melding: Option<String>, status: StatusCode| {
        (findings, melding, status)
    };
    let refused = if posted.too_large {
        let p = Posted::too_large_problem(state.config.server.body_limit);
        Some(refuse(
            vec![Finding {
                code: p.code,
                location: Some("/Machtigingsaanvraag/Bijlagen".into()),
                message: p.detail.clone(),
            }],
            Some(format!("{} ({})", p.detail, p.code.as_str())),
            StatusCode::PAYLOAD_TOO_LARGE,
        ))
    } else {
        None
    };
    let (_, chosen) = catalog(state, &caller, field(&form, "keuze")).await?;
    let attachments = attachments(&form, &posted.files, mode);
    let outcome = match (refused, chosen) {
        (Some(r), _) => Err(r),
        (None, None) => Err(refuse(
            vec![Finding {
                code: Code::BadRequest,
                location: None,
                message: "Kies eerst een verzekeraar en verstrekking.".into(),
            }],
            None,
            StatusCode::BAD_REQUEST,
        )),
        (None, Some((uzovi, v, _))) => {
            let concept = field(&form, "actie") == "concept";
            let xml = document(&caller, &form, &v, &uzovi, &attachments).into_bytes();
            let result = match intake::blocking(xml.len(), move || {
                intake::submission(&xml, concept)
            })
            .await
            {
                Ok(submission) => match &mode.wijzigen {
                    Some(id) => {
                        service::modify(&state.db, caller.clone(), id.clone().into(), submission)
                            .await
                            .map_err(Problem::from)
                    }
                    None => service::submit(&state.db, caller.clone(), submission)
                        .await
                        .map_err(Problem::from),
                },
                Err(e) => Err(Problem::from(e)),
            };
            match result {
                Ok(c) => Ok(c),
                Err(p) if p.code.is_client_fault() => {
                    let mut findings = p.findings.clone();
                    if findings.is_empty() {
                        findings.push(Finding {
                            code: p.code,
                            location: None,
                            message: p.detail.clone(),
                        });
                    }
                    let status =
                        StatusCode::from_u16(p.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
                    Err(refuse(
                        findings,
                        Some(format!("{} ({})", p.detail, p.code.as_str())),
                        status,
                    ))
                }
                Err(p) => return Err(PortalError(p)),
            }
        }
    };
    match outcome {
        Ok(c) => Ok(HttpResponse::SeeOther()
            .insert_header(("Location", format!("/portaal/aanvragen/{}", c.id)))
            .finish()),
        Err((findings, melding, status)) => {
            let shown = Shown {
                form: &form,
                findings: &findings,
                melding,
                status,
                attachments: &attachments,
            };
            render(state, &caller, mode, shown).await
        }
    }
}
