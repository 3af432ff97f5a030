//! The opt-in SOAP service (`wsdl/optin-v1.wsdl`): seven operations onto
//! `optin::service`, answered with the operation's Response element.

use actix_web::web;
use futures_util::FutureExt;

use super::writer::Xml;
use super::{Contract, types};
use crate::identity::Caller;
use crate::optin::service::{self, Confirmation};
use crate::optin::store::{Abonnement, Record};
use crate::optin::{Afhandeling, RegStatus, Registratie, xml};
use crate::problem::{Code, Problem};
use crate::state::AppState;
use crate::validation::{El, SchemaSet};

const NS: &str = "urn:machtigingen:optin:v1";

pub static CONTRACT: Contract = Contract {
    path: "/soap/optin/v1",
    namespace: NS,
    schema: SchemaSet::Optin,
    operations: &[
        "AanmeldenDienstOptin",
        "AfmeldenDienstOptin",
        "RegistrerenToestemming",
        "RaadplegenToestemming",
        "OphalenToestemmingen",
        "BevestigenOntvangst",
        "AfhandelenToestemming",
    ],
    wsdl: include_str!("../../wsdl/optin-v1.wsdl"),
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    super::mount(cfg, &CONTRACT, decode, execute);
}

enum Command {
    Aanmelden(Option<String>),
    Afmelden,
    Registreren(Registratie),
    Raadplegen(String),
    Ophalen(i64),
    Bevestigen(Vec<String>),
    Afhandelen(String, Afhandeling),
}

fn decode(operation: &str, op: &El) -> Result<Command, Problem> {
    Ok(match operation {
        "AanmeldenDienstOptin" => Command::Aanmelden(op.opt_str("NotificatieEmail")),
        "AfmeldenDienstOptin" => Command::Afmelden,
        "RegistrerenToestemming" => {
            Command::Registreren(xml::registratie(&op.req("Toestemmingsregistratie")?)?)
        }
        "RaadplegenToestemming" => Command::Raadplegen(op.str("RegistratieId")?),
        "OphalenToestemmingen" => Command::Ophalen(match op.opt("Maximum") {
            Some(_) => op.number("Maximum")?,
            None => 50,
        }),
        "BevestigenOntvangst" => Command::Bevestigen(
            op.all("RegistratieId")
                .iter()
                .map(|e| e.text().trim().to_owned())
                .collect(),
        ),
        "AfhandelenToestemming" => Command::Afhandelen(
            op.str("RegistratieId")?,
            Afhandeling {
                status: RegStatus::parse(&op.str("Afhandeling")?)
                    .ok_or_else(|| Problem::new(Code::BadRequest, "Onbekende status."))?,
                reden_code: op.opt_str("RedenCode"),
                reden_tekst: op.opt_str("RedenTekst"),
            },
        ),
        other => {
            return Err(Problem::new(
                Code::SoapOperation,
                format!("Onbekende operatie {other}."),
            ));
        }
    })
}

fn execute(
    state: web::Data<AppState>,
    caller: Caller,
    command: Command,
) -> futures_util::future::LocalBoxFuture<'static, Result<String, Problem>> {
    async move {
        let db = &state.db;
        Ok(match command {
            Command::Aanmelden(email) => abonnement(
                "AanmeldenDienstOptinResponse",
                &service::subscribe(db, caller, email).await?,
            ),
            Command::Afmelden => abonnement(
                "AfmeldenDienstOptinResponse",
                &service::unsubscribe(db, caller).await?,
            ),
            Command::Registreren(r) => {
                registreren_response(&service::register(db, caller, r).await?)
            }
            Command::Raadplegen(id) => {
                let r = service::get(db, caller, id.into()).await?;
                let mut x = Xml::new();
                x.open_ns("RaadplegenToestemmingResponse", NS);
                registratie(&mut x, &r);
                x.close("RaadplegenToestemmingResponse");
                x.finish()
            }
            Command::Ophalen(max) => {
                let items = service::fetch(db, caller, max).await?;
                let mut x = Xml::new();
                x.open_ns("OphalenToestemmingenResponse", NS);
                for r in &items {
                    registratie(&mut x, r);
                }
                x.close("OphalenToestemmingenResponse");
                x.finish()
            }
            Command::Bevestigen(ids) => {
                let n = service::acknowledge(db, caller, ids.into_iter().map(Into::into).collect())
                    .await?;
                let mut x = Xml::new();
                x.open_ns("BevestigenOntvangstResponse", NS)
                    .leaf("Bevestigd", n)
                    .close("BevestigenOntvangstResponse");
                x.finish()
            }
            Command::Afhandelen(id, a) => {
                let c = service::handle(db, caller, id.into(), a).await?;
                let mut x = Xml::new();
                x.open_ns("AfhandelenToestemmingResponse", NS)
                    .leaf("RegistratieId", &c.id)
                    .leaf("Status", c.status)
                    .close("AfhandelenToestemmingResponse");
                x.finish()
            }
        })
    }
    .boxed_local()
}

fn abonnement(element: &str, a: &Abonnement) -> String {
    let mut x = Xml::new();
    x.open_ns(element, NS)
        .open("Abonnement")
        .leaf("AgbZorgaanbieder", &a.provider_agb)
        .leaf("Actief", a.active())
        .opt_leaf("NotificatieEmail", a.notificatie_email.as_deref())
        .leaf("AangemeldOp", types::timestamp(a.aangemeld_op))
        .opt_leaf("AfgemeldOp", a.afgemeld_op.map(types::timestamp))
        .close("Abonnement")
        .close(element);
    x.finish()
}

fn registreren_response(c: &Confirmation) -> String {
    let mut x = Xml::new();
    x.open_ns("RegistrerenToestemmingResponse", NS)
        .leaf("RegistratieId", &c.id)
        .leaf("Status", c.status)
        .leaf("Herhaald", c.repeated)
        .close("RegistrerenToestemmingResponse");
    x.finish()
}

fn registratie(x: &mut Xml, r: &Record) {
    let g = &r.registratie;
    x.open("Registratie")
        .leaf("RegistratieId", &r.id)
        .leaf("Referentie", &g.referentie)
        .open("Patient")
        .leaf("Bsn", &g.bsn)
        .leaf("Geboortedatum", g.geboortedatum)
        .open("Naam")
        .opt_leaf("Voorletters", g.naam.voorletters.as_deref())
        .opt_leaf("Tussenvoegsel", g.naam.tussenvoegsel.as_deref())
        .leaf("Achternaam", &g.naam.achternaam)
        .close("Naam")
        .close("Patient")
        .leaf("AgbZorgaanbieder", &g.agb_zorgaanbieder)
        .leaf("Toestemming", g.toestemming.as_str())
        .leaf("GegevenOp", types::timestamp(g.gegeven_op))
        .leaf("Status", r.status)
        .opt_leaf("RedenCode", r.reden_code.as_deref())
        .opt_leaf("RedenTekst", r.reden_tekst.as_deref())
        .opt_leaf("AfgehandeldOp", r.afgehandeld_op.map(types::timestamp))
        .leaf("OntvangenOp", types::timestamp(r.created_at))
        .close("Registratie");
}
