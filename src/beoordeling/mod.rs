//! The insurer side: the inbox of new and changed requests for the caller's
//! UZOVI (pull with acknowledge), the request as submitted, decisions
//! (`VastleggenBeoordeling`) with the terugkoppeling written in the same
//! transaction, automatic decisions by the catalog's rules at submission, the
//! insurer's own catalog. Shared by the SOAP and REST doors; the insurer sees
//! only requests addressed to its UZOVI.

pub mod controle;
pub mod rules;
pub mod store;

use chrono::NaiveDate;
use serde_json::json;

use crate::audit;
use crate::catalog::{self, InsurerCatalog};
use crate::db::{Db, DbConnection, DbError, now, write_tx};
use crate::identity::Caller;
use crate::machtiging::lifecycle::{Command, transition};
use crate::machtiging::model::{Action, Beslissing, Outcome, Status, ToegekendePrestatie, Vraag};
use crate::machtiging::store::{self as requests, Event, NewEvent, Record, StatusChange};
use crate::outbox::{self, MACHTIGING_STATUS, MachtigingStatus, NewTerugkoppeling};
use crate::problem::{Code, Finding, Problem};
use crate::registry::{PartyKind, Scope};

/// What the insurer decides.
#[derive(Debug, Clone)]
pub enum Beoordeling {
    InBehandeling,
    Vragen(Vec<Vraag>),
    Besluit(Besluit),
}

/// A grant (possibly partial) or a rejection.
#[derive(Debug, Clone)]
pub struct Besluit {
    pub uitkomst: Outcome,
    pub machtigingsnummer: Option<String>,
    pub geldig_van: Option<NaiveDate>,
    pub geldig_tot: Option<NaiveDate>,
    pub prestaties: Vec<ToegekendePrestatie>,
    pub reden_code: Option<String>,
    pub reden_tekst: Option<String>,
}

/// The request as the insurer sees it.
#[derive(Debug, Clone)]
pub struct Dossier {
    pub record: Record,
    pub document: String,
    pub history: Vec<Event>,
}

/// The caller's UZOVI, once it is an insurer holding `beoordelen`.
pub fn insurer_uzovi(caller: &Caller) -> Result<String, Problem> {
    caller.require(Scope::Beoordelen)?;
    let party = caller.party();
    match party.kind {
        PartyKind::Zorgverzekeraar | PartyKind::Zorgkantoor => Ok(party.reference.code.clone()),
        _ => Err(Problem::new(
            Code::NotInsurer,
            "Deze partij is geen zorgverzekeraar of zorgkantoor.",
        )),
    }
}

fn auditor(caller: &Caller) -> audit::ByCaller<'_> {
    audit::ByCaller {
        caller,
        object_type: "machtigingsaanvraag",
        acting_for: None,
    }
}

fn not_found() -> Problem {
    Problem::new(Code::NotFound, "Machtigingsaanvraag niet gevonden.")
}

/// A request of this insurer that was sent to it (a Concept never is).
fn load_own(
    conn: &mut DbConnection,
    caller: &Caller,
    uzovi: &str,
    id: &str,
    action: &str,
) -> Result<Record, Problem> {
    match requests::get(conn, id)? {
        Some(r) if r.uzovi == uzovi && r.status != Status::Concept => Ok(r),
        _ => {
            auditor(caller).record(
                conn,
                action,
                Some(id),
                "geweigerd: niet gevonden",
                json!({}),
            )?;
            Err(not_found())
        }
    }
}

/// `OphalenInbox`: the oldest unacknowledged entries.
pub async fn inbox(db: &Db, caller: Caller, max: i64) -> Result<Vec<store::InboxEntry>, Problem> {
    let uzovi = insurer_uzovi(&caller)?;
    let max = max.clamp(1, 500);
    db.run(move |conn| Ok(store::pending(conn, &uzovi, max)?))
        .await
}

/// `BevestigenInbox`: acknowledges entries of the caller's UZOVI.
pub async fn acknowledge(db: &Db, caller: Caller, ids: Vec<i64>) -> Result<usize, Problem> {
    let uzovi = insurer_uzovi(&caller)?;
    db.run(move |conn| Ok(store::acknowledge(conn, &uzovi, &ids)?))
        .await
}

/// `RaadplegenAanvraag`: the request with its original document and history.
pub async fn get(db: &Db, caller: Caller, id: String) -> Result<Dossier, Problem> {
    let uzovi = insurer_uzovi(&caller)?;
    db.run(move |conn| {
        let record = load_own(conn, &caller, &uzovi, &id, "beoordeling.raadplegen")?;
        let document = requests::document(conn, &id)?;
        let history = requests::history(conn, &id)?;
        auditor(&caller).record(conn, "beoordeling.raadplegen", Some(&id), "ok", json!({}))?;
        Ok(Dossier {
            record,
            document,
            history,
        })
    })
    .await
}

fn invalid(findings: Vec<Finding>) -> Problem {
    Problem::with_findings(
        Code::DecisionInvalid,
        format!(
            "De beoordeling is ongeldig ({} bevinding(en)).",
            findings.len()
        ),
        findings,
    )
}

fn finding(location: &str, message: impl Into<String>) -> Finding {
    Finding {
        code: Code::DecisionInvalid,
        location: Some(location.to_owned()),
        message: message.into(),
    }
}

fn valid_number(n: &str) -> bool {
    (1..=15).contains(&n.len()) && n.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Checks a decision against the request; returns the Beslissing to store
/// (without a generated number yet).
fn check_besluit(b: &Besluit, r: &Record) -> Result<Beslissing, Problem> {
    let mut f = Vec::new();
    let mut prestaties = b.prestaties.clone();
    match b.uitkomst {
        Outcome::Afgewezen => {
            if b.reden_code.as_deref().unwrap_or("").trim().is_empty()
                || b.reden_tekst.as_deref().unwrap_or("").trim().is_empty()
            {
                f.push(finding(
                    "redenCode",
                    "Afgewezen vraagt redenCode en redenTekst",
                ));
            }
        }
        Outcome::Toegekend | Outcome::DeelsToegekend => {
            match (b.geldig_van, b.geldig_tot) {
                (Some(van), Some(tot)) if van <= tot => {}
                (Some(_), Some(_)) => f.push(finding("geldigTot", "geldigTot ligt voor geldigVan")),
                _ => f.push(finding(
                    "geldigVan",
                    "geldigVan en geldigTot zijn verplicht",
                )),
            }
            if prestaties.is_empty() && b.uitkomst == Outcome::Toegekend {
                prestaties = r
                    .aanvraag
                    .prestaties
                    .iter()
                    .map(|p| ToegekendePrestatie {
                        code: p.code.clone(),
                        aantal: p.aantal,
                        bedrag_centen: None,
                    })
                    .collect();
            }
            if prestaties.is_empty() {
                f.push(finding(
                    "toegekendePrestaties",
                    "DeelsToegekend noemt de toegekende prestaties",
                ));
            }
            for (i, p) in prestaties.iter().enumerate() {
                let asked: u32 = r
                    .aanvraag
                    .prestaties
                    .iter()
                    .filter(|q| q.code == p.code)
                    .map(|q| q.aantal)
                    .sum();
                if asked == 0 || p.aantal == 0 || p.aantal > asked {
                    f.push(finding(
                        &format!("toegekendePrestaties[{i}]"),
                        format!("{} x{} is niet (zo vaak) aangevraagd", p.code, p.aantal),
                    ));
                }
                if p.bedrag_centen.is_some_and(|c| c < 0) {
                    f.push(finding(
                        &format!("toegekendePrestaties[{i}].bedrag"),
                        "bedrag is negatief",
                    ));
                }
            }
            if let Some(n) = &b.machtigingsnummer {
                if !valid_number(n) {
                    f.push(finding("machtigingsnummer", "1-15 letters en cijfers"));
                }
            }
        }
    }
    if !f.is_empty() {
        return Err(invalid(f));
    }
    let granted = b.uitkomst != Outcome::Afgewezen;
    Ok(Beslissing {
        uitkomst: b.uitkomst,
        machtigingsnummer: b.machtigingsnummer.clone().filter(|_| granted),
        geldig_van: b.geldig_van.filter(|_| granted),
        geldig_tot: b.geldig_tot.filter(|_| granted),
        toegekende_prestaties: if granted { prestaties } else { Vec::new() },
        reden_code: b.reden_code.clone(),
        reden_tekst: b.reden_tekst.clone(),
        automatisch: false,
        tijdstip: now(),
    })
}

/// A new Machtigingsnummer for this insurer: `M` and 14 random capitals and
/// digits, retried in the unlikely case it is taken.
fn new_number(conn: &mut DbConnection, uzovi: &str) -> Result<String, DbError> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    for _ in 0..8 {
        let mut bytes = [0u8; 14];
        openssl::rand::rand_bytes(&mut bytes)
            .map_err(|e| DbError::Invalid(format!("no randomness: {e}")))?;
        let n: String = std::iter::once('M')
            .chain(
                bytes
                    .iter()
                    .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char),
            )
            .collect();
        if !store::number_taken(conn, uzovi, &n)? {
            return Ok(n);
        }
    }
    Err(DbError::Conflict("no free Machtigingsnummer".into()))
}

/// The provider's terugkoppeling for a status the insurer caused.
fn notify(
    c: &mut DbConnection,
    r: &Record,
    status: Status,
    beslissing: Option<&Beslissing>,
    vragen: &[Vraag],
) -> Result<(), DbError> {
    let payload = MachtigingStatus {
        machtigingsaanvraag_id: r.id.clone(),
        referentie: r.referentie.clone(),
        agb_praktijk: r.provider_agb.clone(),
        uzovi: r.uzovi.clone(),
        status,
        tijdstip: now(),
        beslissing: beslissing.cloned(),
        vragen: vragen.to_vec(),
    };
    let recipient = format!("AGB:{}", r.provider_agb);
    outbox::enqueue(
        c,
        &NewTerugkoppeling {
            recipient: &recipient,
            event_type: MACHTIGING_STATUS,
            subject_id: &r.id,
            payload: serde_json::to_value(&payload)
                .map_err(|e| DbError::Invalid(format!("payload: {e}")))?,
        },
    )?;
    Ok(())
}

/// Applies a status change by the insurer (or its rules) in the caller's
/// transaction: the request, its history, the provider's terugkoppeling.
/// Returns the id of the history event.
#[allow(clippy::too_many_arguments)]
fn apply(
    c: &mut DbConnection,
    r: &Record,
    action: Action,
    status: Status,
    beslissing: Option<&Beslissing>,
    vragen: &[Vraag],
    actor: &str,
    fingerprint: Option<&str>,
) -> Result<i64, DbError> {
    requests::set_status(
        c,
        r,
        status,
        StatusChange {
            open_vragen: Some(vragen),
            beslissing,
        },
    )?;
    let event_id = requests::add_event(
        c,
        &NewEvent {
            request_id: &r.id,
            action: action.as_str(),
            status,
            actor,
            fingerprint,
            detail: json!({
                "automatisch": beslissing.is_some_and(|b| b.automatisch),
                "vragen": vragen.len(),
            }),
            document: None,
        },
    )?;
    notify(c, r, status, beslissing, vragen)?;
    Ok(event_id)
}

/// `VastleggenBeoordeling`.
pub async fn decide(
    db: &Db,
    caller: Caller,
    id: String,
    b: Beoordeling,
) -> Result<(Status, Option<Beslissing>), Problem> {
    let uzovi = insurer_uzovi(&caller)?;
    db.run(move |conn| {
        let r = load_own(conn, &caller, &uzovi, &id, "beoordeling.vastleggen")?;
        let (command, vragen, mut beslissing) = match &b {
            Beoordeling::InBehandeling => (Command::Behandelen, Vec::new(), None),
            Beoordeling::Vragen(v) => {
                if v.is_empty()
                    || v.iter()
                        .any(|q| q.vraag_id.trim().is_empty() || q.tekst.trim().is_empty())
                {
                    return Err(invalid(vec![finding(
                        "vragen",
                        "minstens één vraag met vraagId en tekst",
                    )]));
                }
                (Command::Vragen, v.clone(), None)
            }
            Beoordeling::Besluit(d) => {
                (Command::Beslissen, Vec::new(), Some(check_besluit(d, &r)?))
            }
        };
        let outcome = beslissing.as_ref().map(|b| b.uitkomst);
        let action = command.action(Some(r.status), outcome);
        let status = transition(Some(r.status), command, outcome).map_err(|e| {
            let why = if r.status == Status::Ingetrokken {
                "de aanvraag is ingetrokken door de zorgaanbieder".to_owned()
            } else {
                e.to_string()
            };
            Problem::new(Code::StatusTransition, format!("Niet toegestaan: {why}."))
        })?;
        let actor = caller.party().reference.to_string();
        let result = write_tx::<_, Problem, _>(conn, |c| {
            if let Some(b) = beslissing.as_mut() {
                if b.uitkomst != Outcome::Afgewezen {
                    match &b.machtigingsnummer {
                        Some(n) if store::number_taken(c, &uzovi, n)? => {
                            return Err(Problem::new(
                                Code::NumberTaken,
                                format!("Machtigingsnummer {n} is al in gebruik."),
                            ));
                        }
                        Some(_) => {}
                        None => b.machtigingsnummer = Some(new_number(c, &uzovi)?),
                    }
                }
            }
            apply(
                c,
                &r,
                action,
                status,
                beslissing.as_ref(),
                &vragen,
                &actor,
                Some(caller.fingerprint()),
            )?;
            auditor(&caller).record(
                c,
                "beoordeling.vastleggen",
                Some(&id),
                "ok",
                json!({"status": status.as_str()}),
            )?;
            Ok(())
        });
        result.map(|()| (status, beslissing))
    })
    .await
}

/// The catalog's automatic rules, applied inside the submit transaction right
/// after the request was stored as Ingediend. Returns the decision and its
/// history event when a rule decided.
pub fn automatic(c: &mut DbConnection, id: &str) -> Result<Option<(Beslissing, i64)>, DbError> {
    let Some(r) = requests::get(c, id)? else {
        return Ok(None);
    };
    let verstrekking = match catalog::store::verstrekking(c, &r.uzovi, &r.aanvraag.verstrekking) {
        Ok(Some(v)) => v,
        Ok(None) => return Ok(None),
        Err(catalog::CatalogError::Db(e)) => return Err(e),
        Err(catalog::CatalogError::Invalid(m)) => return Err(DbError::Invalid(m)),
    };
    let Some(mut b) = rules::evaluate(&verstrekking, &r.aanvraag, now()) else {
        return Ok(None);
    };
    if b.uitkomst != Outcome::Afgewezen {
        b.machtigingsnummer = Some(new_number(c, &r.uzovi)?);
    }
    let action = Action::Decide(b.uitkomst);
    let Ok(status) = transition(Some(r.status), Command::Beslissen, Some(b.uitkomst)) else {
        return Ok(None);
    };
    let actor = format!("UZOVI:{}", r.uzovi);
    let event_id = apply(c, &r, action, status, Some(&b), &[], &actor, None)?;
    Ok(Some((b, event_id)))
}

/// The insurer's inbox entry for a request that has just become Ingediend,
/// after its automatic rules (when `rules`) had their say: the submission's
/// entry, or — when a rule decided — one `beslissing` entry with the decided
/// status in its place, so the inbox never offers a request to assess that
/// is already decided.
pub fn inbox_after_submit(
    c: &mut DbConnection,
    uzovi: &str,
    id: &str,
    event_id: i64,
    action: Action,
    rules: bool,
) -> Result<Option<Beslissing>, DbError> {
    let decided = if rules { automatic(c, id)? } else { None };
    match decided {
        Some((b, decision_event)) => {
            let status = b.uitkomst.status();
            let decide = Action::Decide(b.uitkomst).as_str();
            requests::add_inbox(c, uzovi, id, decision_event, decide, status)?;
            Ok(Some(b))
        }
        None => {
            requests::add_inbox(c, uzovi, id, event_id, action.as_str(), Status::Ingediend)?;
            Ok(None)
        }
    }
}

/// The insurer's own catalog.
pub async fn catalog(db: &Db, caller: Caller) -> Result<InsurerCatalog, Problem> {
    let uzovi = insurer_uzovi(&caller)?;
    db.run(move |conn| Ok(catalog::store::load(conn, &uzovi)?))
        .await
}

/// Replaces the insurer's own catalog (validated; rules included).
pub async fn replace_catalog(
    db: &Db,
    caller: Caller,
    cat: InsurerCatalog,
) -> Result<InsurerCatalog, Problem> {
    let uzovi = insurer_uzovi(&caller)?;
    if cat.uzovi != uzovi {
        return Err(Problem::new(
            Code::CatalogNotOwn,
            format!("De catalogus noemt UZOVI {}, u bent {uzovi}.", cat.uzovi),
        ));
    }
    cat.validate()?;
    db.run(move |conn| {
        write_tx::<_, Problem, _>(conn, |c| {
            catalog::store::replace(c, &cat)?;
            auditor(&caller).record(
                c,
                "catalogus.vervangen",
                None,
                "ok",
                json!({"uzovi": uzovi, "verstrekkingen": cat.verstrekkingen.len()}),
            )?;
            Ok(())
        })?;
        Ok(catalog::store::load(conn, &uzovi)?)
    })
    .await
}
