//! The machtigingen SOAP service (`wsdl/machtigingen-v1.wsdl`): eight
//! operations (`WieBenIk` is `soap::whoami`'s), each decoded into a command for `machtiging::service` and its
//! answer written as the operation's Response element.

use actix_web::web;
use futures_util::FutureExt;

use super::writer::Xml;
use super::{Contract, types};
use crate::catalog::Verstrekking;
use crate::identity::Caller;
use crate::machtiging::intake;
use crate::machtiging::model::{AanvullendeInformatie, Status};
use crate::machtiging::query::{self, Details, NamedCatalog, Page, Paging};
use crate::machtiging::search::Criteria;
use crate::machtiging::service::{self, Confirmation, Submission};
use crate::problem::{Code, Problem};
use crate::state::AppState;
use crate::validation::{El, SchemaSet};

const NS: &str = "urn:machtigingen:machtigingen:v1";

pub static CONTRACT: Contract = Contract {
    path: "/soap/machtigingen/v1",
    namespace: NS,
    schema: SchemaSet::Machtigingen,
    operations: &[
        "IndienenMachtigingsaanvraag",
        "WijzigenMachtigingsaanvraag",
        "IntrekkenMachtigingsaanvraag",
        "AanleverenAanvullendeInformatie",
        "RaadplegenMachtigingsaanvraag",
        "ZoekenMachtigingsaanvragen",
        "RaadplegenVerstrekkingen",
        "WieBenIk",
    ],
    wsdl: include_str!("../../wsdl/machtigingen-v1.wsdl"),
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    super::mount(cfg, &CONTRACT, decode, execute);
}

/// A decoded operation.
enum Command {
    Indienen(Submission),
    Wijzigen(String, Submission),
    Intrekken(String, Option<String>),
    Aanvullen(String, AanvullendeInformatie, String),
    Raadplegen(String),
    Zoeken(Criteria, Paging),
    Verstrekkingen(Option<String>),
    WieBenIk,
}

fn submission(op: &El) -> Result<Submission, Problem> {
    let el = op.req("Machtigingsaanvraag")?;
    Ok(intake::submission_of(
        &el,
        op.opt_bool("Concept").unwrap_or(false),
    )?)
}

/// Decodes without keeping the command (see `soap::inspect`).
pub(super) fn decode_only(operation: &str, op: &El) -> Result<String, Problem> {
    decode(operation, op).map(|_| operation.to_owned())
}

fn decode(operation: &str, op: &El) -> Result<Command, Problem> {
    let id = || op.str("MachtigingsaanvraagId");
    Ok(match operation {
        "IndienenMachtigingsaanvraag" => Command::Indienen(submission(op)?),
        "WijzigenMachtigingsaanvraag" => Command::Wijzigen(id()?, submission(op)?),
        "IntrekkenMachtigingsaanvraag" => Command::Intrekken(id()?, op.opt_str("Reden")),
        "AanleverenAanvullendeInformatie" => {
            let (info, document) = intake::aanvulling_of(&op.req("AanvullendeInformatie")?)?;
            Command::Aanvullen(id()?, info, document)
        }
        "RaadplegenMachtigingsaanvraag" => Command::Raadplegen(id()?),
        "ZoekenMachtigingsaanvragen" => {
            let paginering = op.opt("Paginering");
            let page = |name: &str| -> Result<Option<i64>, Problem> {
                paginering
                    .as_ref()
                    .and_then(|p| p.opt(name).map(|_| p.number(name)))
                    .transpose()
                    .map_err(Problem::from)
            };
            let patient = op
                .opt("Verzekerde")
                .map(|v| Ok::<_, Problem>((v.str("Bsn")?, v.date("Geboortedatum")?)))
                .transpose()?;
            Command::Zoeken(
                Criteria {
                    id: op.opt_str("MachtigingsaanvraagId"),
                    referentie: op.opt_str("Referentie"),
                    vanaf: op.opt_date("AangemaaktVanaf")?,
                    tot: op.opt_date("AangemaaktTot")?,
                    status: op.opt_str("Status").as_deref().and_then(Status::parse),
                    patient,
                    ..Default::default()
                },
                Paging {
                    size: page("PaginaGrootte")?,
                    token: paginering.as_ref().and_then(|p| p.opt_str("Vervolg")),
                    page: page("Pagina")?,
                },
            )
        }
        "RaadplegenVerstrekkingen" => Command::Verstrekkingen(op.opt_str("Uzovi")),
        "WieBenIk" => Command::WieBenIk,
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
            Command::Indienen(s) => indienen_response(&service::submit(db, caller, s).await?),
            Command::Wijzigen(id, s) => bevestiging(
                "WijzigenMachtigingsaanvraagResponse",
                &service::modify(db, caller, id.into(), s).await?,
            ),
            Command::Intrekken(id, reden) => bevestiging(
                "IntrekkenMachtigingsaanvraagResponse",
                &service::withdraw(db, caller, id.into(), reden).await?,
            ),
            Command::Aanvullen(id, info, doc) => bevestiging(
                "AanleverenAanvullendeInformatieResponse",
                &service::supply_information(db, caller, id.into(), info, doc).await?,
            ),
            Command::Raadplegen(id) => details(&query::get(db, caller, id.into()).await?),
            Command::Zoeken(c, p) => zoekresultaat(&query::search(db, caller, c, p).await?),
            Command::Verstrekkingen(uzovi) => {
                catalogi(&query::verstrekkingen(db, caller, uzovi).await?)
            }
            Command::WieBenIk => super::whoami::response(&state, &caller, NS).await?,
        })
    }
    .boxed_local()
}

fn indienen_response(c: &Confirmation) -> String {
    let mut x = Xml::new();
    x.open_ns("IndienenMachtigingsaanvraagResponse", NS)
        .leaf("MachtigingsaanvraagId", &c.id)
        .leaf("Status", c.status)
        .leaf("Herhaald", c.repeated);
    if let Some(b) = &c.beslissing {
        types::beslissing(&mut x, b);
    }
    x.close("IndienenMachtigingsaanvraagResponse");
    x.finish()
}

fn bevestiging(element: &str, c: &Confirmation) -> String {
    let mut x = Xml::new();
    x.open_ns(element, NS)
        .leaf("MachtigingsaanvraagId", &c.id)
        .leaf("Status", c.status)
        .close(element);
    x.finish()
}

fn details(d: &Details) -> String {
    let r = &d.record;
    let a = &r.aanvraag;
    let mut x = Xml::new();
    x.open_ns("RaadplegenMachtigingsaanvraagResponse", NS)
        .open("Machtigingsaanvraag")
        .leaf("MachtigingsaanvraagId", &r.id)
        .leaf("Referentie", &r.referentie)
        .leaf("Status", r.status)
        .leaf("AgbPraktijk", &r.provider_agb)
        .leaf("Uzovi", &r.uzovi)
        .leaf("Grondslag", a.grondslag.as_str())
        .leaf("Verstrekking", &a.verstrekking)
        .leaf("Bsn", &a.bsn)
        .leaf("Geboortedatum", a.geboortedatum)
        .leaf("Begindatum", a.begindatum)
        .leaf("GewensteEinddatum", a.gewenste_einddatum)
        .open("Prestaties");
    for p in &a.prestaties {
        x.open("Prestatie")
            .leaf("Code", &p.code)
            .leaf("Aantal", p.aantal)
            .close("Prestatie");
    }
    x.close("Prestaties")
        .leaf("AangemaaktOp", types::timestamp(r.created_at))
        .opt_leaf("IngediendOp", r.submitted_at.map(types::timestamp));
    if !r.open_vragen.is_empty() {
        x.open("OpenVragen");
        for v in &r.open_vragen {
            types::vraag(&mut x, v);
        }
        x.close("OpenVragen");
    }
    if let Some(b) = &r.beslissing {
        types::beslissing(&mut x, b);
    }
    x.open("Historie");
    for e in &d.history {
        x.open("Gebeurtenis")
            .leaf("Tijdstip", types::timestamp(e.at))
            .leaf("Soort", &e.action)
            .leaf("Status", &e.status)
            .leaf("Actor", &e.actor)
            .close("Gebeurtenis");
    }
    x.close("Historie")
        .close("Machtigingsaanvraag")
        .close("RaadplegenMachtigingsaanvraagResponse");
    x.finish()
}

fn zoekresultaat(p: &Page) -> String {
    let mut x = Xml::new();
    x.open_ns("ZoekenMachtigingsaanvragenResponse", NS)
        .leaf("Totaal", p.total)
        .leaf("TotaalIsMinimum", p.total_is_minimum)
        .leaf("Pagina", p.page)
        .leaf("PaginaGrootte", p.page_size)
        .opt_leaf("Vervolg", p.next.as_deref());
    for r in &p.items {
        x.open("Machtigingsaanvraag")
            .leaf("MachtigingsaanvraagId", &r.id)
            .leaf("Referentie", &r.referentie)
            .leaf("Status", r.status)
            .leaf("Uzovi", &r.uzovi)
            .leaf("Verstrekking", &r.verstrekking)
            .leaf("Begindatum", r.begindatum)
            .leaf("AangemaaktOp", types::timestamp(r.created_at))
            .opt_leaf("Machtigingsnummer", r.machtigingsnummer.as_deref())
            .close("Machtigingsaanvraag");
    }
    x.close("ZoekenMachtigingsaanvragenResponse");
    x.finish()
}

fn verstrekking(x: &mut Xml, v: &Verstrekking) {
    x.open("Verstrekking")
        .leaf("Code", &v.code)
        .leaf("Naam", &v.naam)
        .leaf("Grondslag", v.grondslag.as_str());
    for s in &v.zorgverlenersoorten {
        x.leaf("Zorgverlenersoort", s);
    }
    for p in &v.prestaties {
        x.leaf("Prestatie", p);
    }
    for q in &v.vragen {
        x.open("Vraag")
            .leaf("VraagId", &q.id)
            .leaf("Tekst", &q.tekst)
            .leaf("AntwoordType", q.antwoord_type.as_str())
            .leaf("Verplicht", q.verplicht)
            .close("Vraag");
    }
    for b in &v.verplichte_bijlagen {
        x.leaf("VerplichteBijlage", b);
    }
    // The automatic decision rules are the insurer's business: not shown.
    x.leaf("MaxDagenTerug", v.max_dagen_terug)
        .leaf("MaxDagenVooruit", v.max_dagen_vooruit)
        .close("Verstrekking");
}

fn catalogi(list: &[NamedCatalog]) -> String {
    let mut x = Xml::new();
    x.open_ns("RaadplegenVerstrekkingenResponse", NS);
    for n in list {
        x.open("Verzekeraar")
            .leaf("Uzovi", &n.catalog.uzovi)
            .leaf("Naam", &n.naam);
        for v in &n.catalog.verstrekkingen {
            verstrekking(&mut x, v);
        }
        x.close("Verzekeraar");
    }
    x.close("RaadplegenVerstrekkingenResponse");
    x.finish()
}
