//! The party's certificates for the contact person
//! (`/portaal/beheer/certificaten`, `gebruikersbeheer`): kind, holder,
//! status, validity and authorizations; a new certificate from a CSR
//! (systeem for the party's software, persoonlijk for a colleague) and
//! revoking one — the page the "certificaat verloopt" e-mail links to. The
//! CSR is pasted as PEM or uploaded as a `.csr`/`.pem` file (multipart). Same
//! services (`beheer::request_certificate`, `beheer::revoke`), limits
//! (`BEH-…`) and audit rows as `/api/v1/beheer/certificaten`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::layout::{self, Nav};
use super::upload::Posted;
use super::{Person, PortalError};
use crate::beheer;
use crate::identity::Caller;
use crate::problem::{Code, Problem};
use crate::registry::{CertKind, CertStatus, Scope, Scopes};
use crate::state::AppState;

const PAGE: &str = "/portaal/beheer/certificaten";

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/beheer/certificaten", web::get().to(page))
        .route("/beheer/certificaten", web::post().to(request))
        .route(
            "/beheer/certificaten/{fingerprint}/intrekking",
            web::post().to(revoke),
        );
}

/// One certificate as the page lists it.
struct Row {
    fingerprint: String,
    houder: String,
    soort: &'static str,
    status: &'static str,
    geldig_van: String,
    geldig_tot: String,
    autorisaties: Vec<&'static str>,
    /// Revoking is offered for an active certificate other than the one in use.
    intrekbaar: bool,
    /// A refused revocation, shown next to its button.
    fout: Option<String>,
}

/// One authorization offered on the request form.
struct Choice {
    value: &'static str,
    label: &'static str,
    checked: bool,
}

/// What was entered in the request form, kept on a refusal.
#[derive(Default)]
struct Entered {
    soort: String,
    houder: String,
    csr: String,
}

#[derive(Template)]
#[template(path = "portaal/certificaten.html")]
struct Page {
    nav: Nav,
    csrf: String,
    melding: Option<String>,
    rows: Vec<Row>,
    choices: Vec<Choice>,
    entered: Entered,
    fout: Option<String>,
    /// The certificate just issued (PEM), shown once.
    pem: Option<String>,
}

#[derive(serde::Deserialize)]
struct Notice {
    ingetrokken: Option<String>,
}

/// What the page shows besides the list.
#[derive(Default)]
struct View {
    melding: Option<String>,
    entered: Entered,
    wanted: Scopes,
    fout: Option<String>,
    intrek_fout: Option<(String, String)>,
    pem: Option<String>,
}

async fn render(
    state: &AppState,
    caller: Caller,
    status: StatusCode,
    v: View,
) -> Result<HttpResponse, PortalError> {
    let nav = Nav::for_caller(&caller, PAGE);
    let csrf = state.csrf.token(caller.fingerprint());
    let own = caller.fingerprint().to_owned();
    let certs = beheer::certificates(&state.db, caller).await?;
    let rows = certs
        .into_iter()
        .map(|c| Row {
            houder: c.holder.clone().unwrap_or_else(|| c.subject.clone()),
            soort: c.kind.as_str(),
            status: c.status.as_str(),
            geldig_van: layout::when(&c.not_before),
            geldig_tot: layout::when(&c.not_after),
            autorisaties: c.scopes.iter().map(Scope::as_str).collect(),
            intrekbaar: c.status == CertStatus::Actief && c.fingerprint != own,
            fout: v
                .intrek_fout
                .as_ref()
                .filter(|(fp, _)| *fp == c.fingerprint)
                .map(|(_, e)| e.clone()),
            fingerprint: c.fingerprint,
        })
        .collect();
    let choices = Scope::ALL
        .into_iter()
        .filter(|s| *s != Scope::Gebruikersbeheer)
        .map(|s| Choice {
            value: s.as_str(),
            label: layout::scope_text(s),
            checked: v.wanted.contains(s),
        })
        .collect();
    let mut resp = layout::render(&Page {
        nav,
        csrf,
        melding: v.melding,
        rows,
        choices,
        entered: v.entered,
        fout: v.fout,
        pem: v.pem,
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
    let melding = q.ingetrokken.as_ref().map(|_| {
        "Het certificaat is ingetrokken; het wordt bij de volgende verbinding geweigerd.".to_owned()
    });
    let v = View {
        melding,
        entered: Entered {
            soort: "persoonlijk".into(),
            ..Entered::default()
        },
        ..View::default()
    };
    render(&state, caller, StatusCode::OK, v).await
}

fn bad(detail: String) -> Problem {
    Problem::new(Code::BadRequest, detail)
}

/// A refusal the person can act on goes next to its form; anything else is
/// the error page.
fn client_fault(p: Problem) -> Result<(StatusCode, String), PortalError> {
    if !p.code.is_client_fault() {
        return Err(PortalError(p));
    }
    let status = StatusCode::from_u16(p.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    Ok((status, format!("{} ({})", p.detail, p.code.as_str())))
}

/// The CSR as pasted, or as the uploaded file holds it; both, or a body past
/// its bound, is a refusal.
fn csr_of(posted: &Posted, pasted: &str, limit: usize) -> Result<Vec<u8>, Problem> {
    if posted.too_large {
        return Err(Posted::too_large_problem(limit));
    }
    let file = posted.files.iter().find(|f| f.field == "csr-bestand");
    match (file, pasted.is_empty()) {
        (Some(_), false) => Err(bad(
            "Plak de CSR of kies een bestand met de CSR, niet allebei.".into(),
        )),
        (Some(f), true) => Ok(f.inhoud.clone()),
        (None, _) => Ok(pasted.as_bytes().to_vec()),
    }
}

/// A new certificate from the CSR pasted into the form or uploaded as a file.
async fn request(
    Person(caller): Person,
    state: web::Data<AppState>,
    posted: Posted,
) -> Result<HttpResponse, PortalError> {
    let form = &posted.fields;
    super::check_csrf(&state, &caller, form)?;
    caller.require(Scope::Gebruikersbeheer)?;
    let field = |k: &str| super::field(form, k).to_owned();
    let entered = Entered {
        soort: field("soort"),
        houder: field("houder"),
        csr: field("csr"),
    };
    let mut wanted = Scopes::default();
    let csr = csr_of(&posted, &entered.csr, state.config.server.body_limit);
    let mut parsed: Result<(), Problem> = Ok(());
    for (_, v) in form.iter().filter(|(k, _)| k == "autorisatie") {
        match v.parse::<Scope>() {
            Ok(s) => wanted.grant(s),
            Err(_) => parsed = Err(bad(format!("Onbekende autorisatie '{v}'."))),
        }
    }
    let kind = entered.soort.parse::<CertKind>().map_err(|_| {
        bad(format!(
            "Soort '{}' is geen persoonlijk of systeem.",
            entered.soort
        ))
    });
    let outcome = match (parsed, kind, csr) {
        (Err(p), _, _) | (_, Err(p), _) | (_, _, Err(p)) => Err(p),
        (Ok(()), Ok(kind), Ok(csr)) => beheer::request_certificate(
            &state.db,
            caller.clone(),
            state.config.pki.clone(),
            beheer::CertificateRequest {
                csr,
                kind,
                holder: (!entered.houder.is_empty()).then(|| entered.houder.clone()),
                scopes: wanted,
                ip_allowlist: Vec::new(),
            },
        )
        .await
        .map_err(Problem::from),
    };
    match outcome {
        Ok((cert, pem)) => {
            let v = View {
                melding: Some(format!(
                    "Het certificaat voor {} is uitgegeven (serienummer {}). Geef het \
                     certificaat hieronder aan de houder; de sleutel heeft alleen de aanvrager.",
                    cert.holder.unwrap_or(cert.subject),
                    cert.serial
                )),
                entered: Entered {
                    soort: "persoonlijk".into(),
                    ..Entered::default()
                },
                pem: Some(pem),
                ..View::default()
            };
            render(&state, caller, StatusCode::OK, v).await
        }
        Err(p) => {
            let (status, fout) = client_fault(p)?;
            let v = View {
                entered,
                wanted,
                fout: Some(fout),
                ..View::default()
            };
            render(&state, caller, status, v).await
        }
    }
}

/// Revoke one of the party's certificates, effective on its next request.
async fn revoke(
    Person(caller): Person,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PortalError> {
    super::check_csrf(&state, &caller, &form)?;
    caller.require(Scope::Gebruikersbeheer)?;
    let fingerprint = path.into_inner();
    match beheer::revoke(
        &state.db,
        caller.clone(),
        fingerprint.clone(),
        state.config.pki.clone(),
    )
    .await
    {
        Ok(_) => Ok(HttpResponse::SeeOther()
            .insert_header(("Location", format!("{PAGE}?ingetrokken=1")))
            .finish()),
        Err(e) => {
            let (status, fout) = client_fault(Problem::from(e))?;
            let v = View {
                entered: Entered {
                    soort: "persoonlijk".into(),
                    ..Entered::default()
                },
                intrek_fout: Some((fingerprint, fout)),
                ..View::default()
            };
            render(&state, caller, status, v).await
        }
    }
}
