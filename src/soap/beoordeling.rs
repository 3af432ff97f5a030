//! The insurer's SOAP service (`wsdl/beoordeling-v1.wsdl`): inbox,
//! acknowledge, the request as submitted, decisions, revisions of a grant,
//! the search of its requests and the validity check,
//! onto `beoordeling`; and `WieBenIk` (`soap::whoami`).

use actix_web::web;
use futures_util::FutureExt;

use super::writer::Xml;
use super::{Contract, types};
use crate::beoordeling::controle::{self, Controle};
use crate::beoordeling::zoeken::{self, Zoekvraag};
use crate::beoordeling::{self, Beoordeling, Besluit, Herzien, herziening};
use crate::identity::Caller;
use crate::machtiging::model::{Outcome, Soort, Status, ToegekendePrestatie, Vraag, parse_euro};
use crate::machtiging::query::{Page, Paging};
use crate::problem::{Code, Problem};
use crate::state::AppState;
use crate::validation::{El, SchemaSet};

const NS: &str = "urn:machtigingen:beoordeling:v1";

pub static CONTRACT: Contract = Contract {
    path: "/soap/beoordeling/v1",
    namespace: NS,
    schema: SchemaSet::Beoordeling,
    operations: &[
        "OphalenInbox",
        "BevestigenInbox",
        "RaadplegenAanvraag",
        "VastleggenBeoordeling",
        "HerzienenMachtiging",
        "ZoekenAanvragen",
        "ControlerenMachtiging",
        "WieBenIk",
    ],
    wsdl: include_str!("../../wsdl/beoordeling-v1.wsdl"),
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    super::mount(cfg, &CONTRACT, decode, execute);
}

enum Command {
    Inbox(i64),
    Bevestigen(Vec<i64>),
    Raadplegen(String),
    Vastleggen(String, Beoordeling),
    Herzienen(String, Herzien),
    Zoeken(Zoekvraag, Paging),
    Controleren(Controle),
    WieBenIk,
}

fn vraag(v: &El) -> Result<Vraag, Problem> {
    Ok(Vraag {
        vraag_id: v.str("VraagId")?,
        tekst: v.str("Tekst")?,
    })
}

fn beoordeling(op: &El) -> Result<Beoordeling, Problem> {
    if op.opt("InBehandeling").is_some() {
        return Ok(Beoordeling::InBehandeling);
    }
    if let Some(a) = op.opt("AanvullendeInformatieGevraagd") {
        return Ok(Beoordeling::Vragen(
            a.all("Vraag").iter().map(vraag).collect::<Result<_, _>>()?,
        ));
    }
    if let Some(t) = op.opt("Toekenning") {
        let uitkomst = match t.str("Uitkomst")?.as_str() {
            "DeelsToegekend" => Outcome::DeelsToegekend,
            _ => Outcome::Toegekend,
        };
        let mut prestaties = Vec::new();
        for p in t.all("Prestatie") {
            prestaties.push(ToegekendePrestatie {
                code: p.str("Code")?,
                aantal: p.number("Aantal")?,
                // The schema guarantees two decimals at most.
                bedrag_centen: p.opt_str("Bedrag").as_deref().and_then(parse_euro),
            });
        }
        return Ok(Beoordeling::Besluit(Besluit {
            uitkomst,
            machtigingsnummer: t.opt_str("Machtigingsnummer"),
            geldig_van: Some(t.date("GeldigVan")?),
            geldig_tot: Some(t.date("GeldigTot")?),
            prestaties,
            reden_code: None,
            reden_tekst: None,
        }));
    }
    let a = op.req("Afwijzing")?;
    Ok(Beoordeling::Besluit(Besluit {
        uitkomst: Outcome::Afgewezen,
        machtigingsnummer: None,
        geldig_van: None,
        geldig_tot: None,
        prestaties: Vec::new(),
        reden_code: a.opt_str("RedenCode"),
        reden_tekst: a.opt("RedenTekst").map(|t| t.text()),
    }))
}

fn decode(operation: &str, op: &El) -> Result<Command, Problem> {
    Ok(match operation {
        "OphalenInbox" => Command::Inbox(match op.opt("Maximum") {
            Some(_) => op.number("Maximum")?,
            None => 100,
        }),
        "BevestigenInbox" => Command::Bevestigen(
            op.all("InboxId")
                .iter()
                .map(|e| e.text().trim().parse::<i64>())
                .collect::<Result<_, _>>()
                .map_err(|_| Problem::new(Code::BadRequest, "InboxId te groot."))?,
        ),
        "RaadplegenAanvraag" => Command::Raadplegen(op.str("MachtigingsaanvraagId")?),
        "VastleggenBeoordeling" => {
            Command::Vastleggen(op.str("MachtigingsaanvraagId")?, beoordeling(op)?)
        }
        "HerzienenMachtiging" => {
            let soort = op.str("Soort")?;
            Command::Herzienen(
                op.str("MachtigingsaanvraagId")?,
                Herzien {
                    // The schema allows only the three.
                    soort: Soort::parse(&soort).ok_or_else(|| {
                        Problem::new(Code::BadRequest, format!("Soort '{soort}' onbekend."))
                    })?,
                    geldig_tot: op.opt_date("GeldigTot")?,
                    ingangsdatum: op.opt_date("Ingangsdatum")?,
                    reden_code: op.opt_str("RedenCode"),
                    reden_tekst: op.opt("RedenTekst").map(|t| t.text()),
                },
            )
        }
        "ZoekenAanvragen" => {
            let paginering = op.opt("Paginering");
            let size = paginering
                .as_ref()
                .and_then(|p| p.opt("PaginaGrootte").map(|_| p.number("PaginaGrootte")))
                .transpose()?;
            let patient = op
                .opt("Verzekerde")
                .map(|v| Ok::<_, Problem>((v.str("Bsn")?, v.date("Geboortedatum")?)))
                .transpose()?;
            Command::Zoeken(
                Zoekvraag {
                    // The schema allows only known statuses.
                    status: op.opt_str("Status").as_deref().and_then(Status::parse),
                    vanaf: op.opt_date("AangemaaktVanaf")?,
                    tot: op.opt_date("AangemaaktTot")?,
                    verstrekking: op.opt_str("Verstrekking"),
                    provider_agb: op.opt_str("AgbPraktijk"),
                    patient,
                },
                Paging {
                    size,
                    token: paginering.as_ref().and_then(|p| p.opt_str("Vervolg")),
                    page: None,
                },
            )
        }
        "ControlerenMachtiging" => Command::Controleren(Controle {
            uzovi: op.str("Uzovi")?,
            machtigingsnummer: op.str("Machtigingsnummer")?,
            bsn: op.str("Bsn")?,
            prestatie: op.str("Prestatie")?,
            datum: op.date("Datum")?,
        }),
        "WieBenIk" => Command::WieBenIk,
        other => {
            return Err(Problem::new(
                Code::SoapOperation,
                format!("Onbekende operatie {other}."),
            ));
        }
    })
}

fn zoekresultaat(x: &mut Xml, p: &Page) {
    x.open_ns("ZoekenAanvragenResponse", NS)
        .leaf("Totaal", p.total)
        .leaf("TotaalIsMinimum", p.total_is_minimum)
        .leaf("Pagina", p.page)
        .leaf("PaginaGrootte", p.page_size)
        .opt_leaf("Vervolg", p.next.as_deref());
    for r in &p.items {
        x.open("Aanvraag")
            .leaf("MachtigingsaanvraagId", &r.id)
            .leaf("AgbPraktijk", &r.provider_agb)
            .leaf("Referentie", &r.referentie)
            .leaf("Status", r.status)
            .leaf("Verstrekking", &r.verstrekking)
            .leaf("Begindatum", r.begindatum)
            .leaf("AangemaaktOp", types::timestamp(r.created_at))
            .opt_leaf("Machtigingsnummer", r.machtigingsnummer.as_deref())
            .close("Aanvraag");
    }
    x.close("ZoekenAanvragenResponse");
}

/// The stored document without its XML declaration, to embed.
fn embeddable(document: &str) -> &str {
    let d = document.trim_start();
    match d.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map_or(d, |(_, body)| body.trim_start()),
        None => d,
    }
}

fn execute(
    state: web::Data<AppState>,
    caller: Caller,
    command: Command,
) -> futures_util::future::LocalBoxFuture<'static, Result<String, Problem>> {
    async move {
        let db = &state.db;
        let mut x = Xml::new();
        match command {
            Command::Inbox(max) => {
                x.open_ns("OphalenInboxResponse", NS);
                for i in beoordeling::inbox(db, caller, max).await? {
                    x.open("Item")
                        .leaf("InboxId", i.id)
                        .leaf("MachtigingsaanvraagId", &i.request_id)
                        .leaf("Soort", &i.action)
                        .leaf("Status", &i.status)
                        .leaf("Tijdstip", types::timestamp(i.created_at))
                        .close("Item");
                }
                x.close("OphalenInboxResponse");
            }
            Command::Bevestigen(ids) => {
                let n = beoordeling::acknowledge(db, caller, ids).await?;
                x.open_ns("BevestigenInboxResponse", NS)
                    .leaf("Bevestigd", n)
                    .close("BevestigenInboxResponse");
            }
            Command::Raadplegen(id) => {
                let d = beoordeling::get(db, caller, id.into()).await?;
                let r = &d.record;
                x.open_ns("RaadplegenAanvraagResponse", NS)
                    .leaf("MachtigingsaanvraagId", &r.id)
                    .leaf("Status", r.status)
                    .leaf("AgbPraktijk", &r.provider_agb)
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
                // The document was schema-valid when stored; it is our own.
                x.open("Document")
                    .raw(embeddable(&d.document))
                    .close("Document")
                    .close("RaadplegenAanvraagResponse");
            }
            Command::Vastleggen(id, b) => {
                let (status, beslissing) =
                    beoordeling::decide(db, caller, id.clone().into(), b).await?;
                x.open_ns("VastleggenBeoordelingResponse", NS)
                    .leaf("MachtigingsaanvraagId", &id)
                    .leaf("Status", status);
                if let Some(b) = &beslissing {
                    types::beslissing(&mut x, b);
                }
                x.close("VastleggenBeoordelingResponse");
            }
            Command::Herzienen(id, h) => {
                let (status, b) = herziening::revise(db, caller, id.clone().into(), h).await?;
                x.open_ns("HerzienenMachtigingResponse", NS)
                    .leaf("MachtigingsaanvraagId", &id)
                    .leaf("Status", status);
                types::beslissing(&mut x, &b);
                x.close("HerzienenMachtigingResponse");
            }
            Command::Zoeken(v, p) => {
                zoekresultaat(&mut x, &zoeken::search(db, caller, v, p).await?);
            }
            Command::Controleren(c) => {
                let u = controle::check(db, caller, c).await?;
                x.open_ns("ControlerenMachtigingResponse", NS)
                    .leaf("Geldig", u.geldig)
                    .leaf("RedenCode", u.reden_code)
                    .leaf("Reden", u.reden)
                    .opt_leaf("GeldigVan", u.geldig_van)
                    .opt_leaf("GeldigTot", u.geldig_tot)
                    .opt_leaf("Aantal", u.aantal)
                    .close("ControlerenMachtigingResponse");
            }
            Command::WieBenIk => {
                x.raw(&super::whoami::response(&state, &caller, NS).await?);
            }
        }
        Ok(x.finish())
    }
    .boxed_local()
}
