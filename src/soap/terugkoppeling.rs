//! Managing terugkoppelingen over SOAP (`wsdl/terugkoppelingbeheer-v1.wsdl`):
//! the callback registration, secret rotation, and pull with acknowledge —
//! the same functions the REST door uses. Pulled messages carry the very
//! `OntvangenTerugkoppeling` element a push would have sent. The receiver
//! check (`ControlerenOntvanger`, `OphalenControles`) is the REST door's too.

use actix_web::web;
use futures_util::FutureExt;

use super::writer::Xml;
use super::{Contract, types};
use crate::db::now;
use crate::dispatch::check::platform::{self as check, Stored};
use crate::dispatch::endpoints::Endpoint;
use crate::dispatch::registration::{self, Request};
use crate::dispatch::render::{self, Body, Message};
use crate::dispatch::{intermediary, view};
use crate::identity::Caller;
use crate::problem::{Code, Problem};
use crate::registry::Scope;
use crate::state::AppState;
use crate::validation::{El, SchemaSet};

const NS: &str = "urn:machtigingen:terugkoppelingbeheer:v1";

pub static CONTRACT: Contract = Contract {
    path: "/soap/terugkoppelingbeheer/v1",
    namespace: NS,
    schema: SchemaSet::TerugkoppelingBeheer,
    operations: &[
        "RegistrerenAbonnement",
        "OpzeggenAbonnement",
        "RoterenGeheim",
        "OphalenTerugkoppelingen",
        "BevestigenTerugkoppelingen",
        "ControlerenOntvanger",
        "OphalenControles",
    ],
    wsdl: include_str!("../../wsdl/terugkoppelingbeheer-v1.wsdl"),
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    super::mount(cfg, &CONTRACT, decode, execute);
}

enum Command {
    Registreren(Request),
    Opzeggen,
    Roteren,
    Ophalen(i64, i64),
    Bevestigen(Vec<String>),
    Controleren,
    Controles,
}

fn decode(operation: &str, op: &El) -> Result<Command, Problem> {
    Ok(match operation {
        "RegistrerenAbonnement" => Command::Registreren(Request {
            url: op.str("Url")?,
            format: op.str("Formaat")?,
            ca_bundle: op.opt("CaBundle").map(|e| e.text()),
            event_types: op
                .all("Gebeurtenis")
                .iter()
                .map(|e| e.text().trim().to_owned())
                .collect(),
        }),
        "OpzeggenAbonnement" => Command::Opzeggen,
        "RoterenGeheim" => Command::Roteren,
        "OphalenTerugkoppelingen" => Command::Ophalen(
            op.opt("Na")
                .map(|_| op.number("Na"))
                .transpose()?
                .unwrap_or(0),
            op.opt("Maximum")
                .map(|_| op.number("Maximum"))
                .transpose()?
                .unwrap_or(100),
        ),
        "BevestigenTerugkoppelingen" => Command::Bevestigen(
            op.all("TerugkoppelingId")
                .iter()
                .map(|e| e.text().trim().to_owned())
                .collect(),
        ),
        "ControlerenOntvanger" => Command::Controleren,
        "OphalenControles" => Command::Controles,
        other => {
            return Err(Problem::new(
                Code::SoapOperation,
                format!("Onbekende operatie {other}."),
            ));
        }
    })
}

fn abonnement(x: &mut Xml, e: &Endpoint, secret: bool) {
    x.open("Abonnement")
        .leaf("Url", &e.url)
        .leaf("Formaat", &e.format);
    for t in e.event_types() {
        x.leaf("Gebeurtenis", t);
    }
    x.leaf("Status", &e.status)
        .opt_leaf("UitgeschakeldReden", e.disabled_reason.as_deref())
        .opt_leaf("Geheim", secret.then_some(e.secret.as_str()))
        .close("Abonnement");
}

fn controle(x: &mut Xml, s: &Stored) {
    let report = s.report();
    x.open("Controle")
        .leaf("ControleId", &s.public_id)
        .leaf("Url", &s.url)
        .leaf("Formaat", &s.format)
        .leaf("Status", &s.status)
        .leaf("Gestart", types::timestamp(s.started_at))
        .opt_leaf("Afgerond", s.finished_at.map(types::timestamp))
        .opt_leaf("Fout", s.error.as_deref())
        .opt_leaf("TimeoutMs", report.as_ref().map(|r| r.timeout_ms));
    for g in report.iter().flat_map(|r| r.gevallen.iter()) {
        x.open("Geval")
            .leaf("Naam", &g.geval)
            .leaf("Omschrijving", &g.omschrijving)
            .leaf("Verwacht", &g.verwacht)
            .leaf("Antwoord", &g.antwoord)
            .opt_leaf("HttpStatus", g.http_status)
            .leaf("LatentieMs", g.latentie_ms)
            .leaf("Geslaagd", g.geslaagd)
            .opt_leaf("Hint", g.hint.as_deref())
            .close("Geval");
    }
    x.close("Controle");
}

fn execute(
    state: web::Data<AppState>,
    caller: Caller,
    command: Command,
) -> futures_util::future::LocalBoxFuture<'static, Result<String, Problem>> {
    async move {
        let (db, config) = (&state.db, &state.config);
        let party = caller.party().reference.to_string();
        let mut x = Xml::new();
        match command {
            Command::Registreren(mut r) => {
                caller.require(Scope::TerugkoppelingBeheren)?;
                r.event_types = view::subscribable(&caller, r.event_types)?;
                let (e, v) = registration::register(db, config, &caller, r).await?;
                x.open_ns("RegistrerenAbonnementResponse", NS);
                abonnement(&mut x, &e, true);
                x.open("Verificatie")
                    .leaf("WebhookId", &v.id)
                    .leaf("Geslaagd", v.ok)
                    .opt_leaf("HttpStatus", v.http_status)
                    .leaf("LatentieMs", v.latency.as_millis())
                    .opt_leaf("Fout", v.error.as_deref())
                    .close("Verificatie")
                    .close("RegistrerenAbonnementResponse");
            }
            Command::Opzeggen => {
                caller.require(Scope::TerugkoppelingBeheren)?;
                let removed = registration::remove(db, &caller).await?;
                x.open_ns("OpzeggenAbonnementResponse", NS)
                    .leaf("Opgezegd", removed)
                    .close("OpzeggenAbonnementResponse");
            }
            Command::Roteren => {
                caller.require(Scope::TerugkoppelingBeheren)?;
                let (e, until) = registration::rotate(db, config, &caller).await?;
                x.open_ns("RoterenGeheimResponse", NS)
                    .leaf("Geheim", &e.secret)
                    .leaf("VorigGeheimGeldigTot", types::timestamp(until))
                    .close("RoterenGeheimResponse");
            }
            Command::Ophalen(after, max) => {
                let kinds = view::require_pull(&caller)?;
                let mailbox = view::Mailbox::of(&caller);
                let rows = db
                    .run(move |c| {
                        let rows = view::pull(c, &mailbox, &kinds, after, max.clamp(1, 500), false)?;
                        view::audit_disclosed(c, &caller, "terugkoppeling.ophalen", rows.iter().map(|r| &r.0))?;
                        Ok::<_, crate::db::DbError>(rows)
                    })
                    .await?;
                x.open_ns("OphalenTerugkoppelingenResponse", NS);
                for (s, _) in rows {
                    let on_behalf = intermediary::on_behalf(&s.recipient, &party);
                    let element = s
                        .event()
                        .map_err(|e| e.to_string())
                        .and_then(|event| {
                            render::soap_operation(&Message {
                                id: s.public_id.as_str(),
                                created_at: s.created_at,
                                body: Body::Event(&event),
                                zorgaanbieder: on_behalf.as_deref(),
                            })
                        })
                        .map_err(|e| {
                        tracing::error!(error = %e, id = %s.public_id, "terugkoppeling not renderable");
                        Problem::internal("Interne fout bij het opbouwen van het bericht.")
                    })?;
                    x.open("Bericht")
                        .leaf("Volgnummer", s.id)
                        .leaf("Onderwerp", &s.subject_id)
                        .raw(&String::from_utf8_lossy(&element))
                        .close("Bericht");
                }
                x.close("OphalenTerugkoppelingenResponse");
            }
            Command::Bevestigen(ids) => {
                let kinds = view::require_pull(&caller)?;
                let mailbox = view::Mailbox::of(&caller);
                let n = ids.len();
                let ids: Vec<_> = ids.into_iter().map(Into::into).collect();
                let unknown = db
                    .run(move |c| view::acknowledge(c, &mailbox, &kinds, &ids, now()))
                    .await?;
                x.open_ns("BevestigenTerugkoppelingenResponse", NS)
                    .leaf("Bevestigd", n - unknown.len());
                for u in &unknown {
                    x.leaf("Onbekend", u);
                }
                x.close("BevestigenTerugkoppelingenResponse");
            }
            Command::Controleren => {
                caller.require(Scope::TerugkoppelingBeheren)?;
                let s = check::run(db, config, &caller).await?;
                x.open_ns("ControlerenOntvangerResponse", NS);
                controle(&mut x, &s);
                x.close("ControlerenOntvangerResponse");
            }
            Command::Controles => {
                caller.require(Scope::TerugkoppelingBeheren)?;
                let rows = check::list(db, &caller).await?;
                x.open_ns("OphalenControlesResponse", NS);
                for s in &rows {
                    controle(&mut x, s);
                }
                x.close("OphalenControlesResponse");
            }
        }
        Ok(x.finish())
    }
    .boxed_local()
}
