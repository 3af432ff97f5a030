//! The insurer's commands and reads: its inbox (pull with acknowledge), the
//! request as submitted, decisions with their terugkoppeling in the same
//! transaction, and its own catalog.

use serde_json::json;

use super::BeoordelingError;
use super::model::{Beoordeling, Besluit, Dossier};
use super::store;
use crate::audit;
use crate::catalog::{self, InsurerCatalog};
use crate::db::{Db, DbConnection, now, write_tx};
use crate::error::{Code, Finding, Refusal};
use crate::identity::Caller;
use crate::ids::{MachtigingId, Requested};
use crate::machtiging::change::{self, Target};
use crate::machtiging::lifecycle::{Command, transition};
use crate::machtiging::model::{Beslissing, Outcome, Status, ToegekendePrestatie};
use crate::machtiging::store::{self as requests, Record};
use crate::registry::{PartyKind, Scope};

/// The caller's UZOVI, once it is an insurer holding `beoordelen`.
pub fn insurer_uzovi(caller: &Caller) -> Result<String, BeoordelingError> {
    caller.require(Scope::Beoordelen)?;
    let party = caller.party();
    match party.kind {
        PartyKind::Zorgverzekeraar | PartyKind::Zorgkantoor => Ok(party.reference.code.clone()),
        _ => Err(Refusal::new(
            Code::NotInsurer,
            "Deze partij is geen zorgverzekeraar of zorgkantoor.",
        )
        .into()),
    }
}

pub(super) fn auditor(caller: &Caller) -> audit::ByCaller<'_> {
    audit::ByCaller {
        caller,
        object_type: "machtigingsaanvraag",
        acting_for: None,
    }
}

fn not_found() -> Refusal {
    Refusal::new(Code::NotFound, "Machtigingsaanvraag niet gevonden.")
}

/// A request of this insurer that was sent to it (a Concept never is).
pub(super) fn load_own(
    conn: &mut DbConnection,
    caller: &Caller,
    uzovi: &str,
    id: &Requested<MachtigingId>,
    action: &str,
) -> Result<Record, BeoordelingError> {
    let found = match id.valid() {
        Some(id) => requests::get(conn, id)?,
        None => None,
    };
    match found {
        Some(r) if r.uzovi == uzovi && r.status != Status::Concept => Ok(r),
        _ => {
            auditor(caller).record(
                conn,
                action,
                Some(id.as_str()),
                "geweigerd: niet gevonden",
                json!({}),
            )?;
            Err(not_found().into())
        }
    }
}

/// `OphalenInbox`: the oldest unacknowledged entries.
pub async fn inbox(
    db: &Db,
    caller: Caller,
    max: i64,
) -> Result<Vec<store::InboxEntry>, BeoordelingError> {
    let uzovi = insurer_uzovi(&caller)?;
    let max = max.clamp(1, 500);
    db.run(move |conn| Ok(store::pending(conn, &uzovi, max)?))
        .await
}

/// `BevestigenInbox`: acknowledges entries of the caller's UZOVI.
pub async fn acknowledge(
    db: &Db,
    caller: Caller,
    ids: Vec<i64>,
) -> Result<usize, BeoordelingError> {
    let uzovi = insurer_uzovi(&caller)?;
    db.run(move |conn| Ok(store::acknowledge(conn, &uzovi, &ids)?))
        .await
}

/// `RaadplegenAanvraag`: the request with its original document and history.
pub async fn get(
    db: &Db,
    caller: Caller,
    id: Requested<MachtigingId>,
) -> Result<Dossier, BeoordelingError> {
    let uzovi = insurer_uzovi(&caller)?;
    audit::read_then_record(db, move |conn| {
        let record = load_own(conn, &caller, &uzovi, &id, "beoordeling.raadplegen")?;
        let id = &record.id;
        let document = requests::document(conn, id)?;
        let history = requests::history(conn, id)?;
        let row =
            auditor(&caller).row("beoordeling.raadplegen", Some(id.as_str()), "ok", json!({}));
        let dossier = Dossier {
            record,
            document,
            history,
        };
        Ok((dossier, vec![row]))
    })
    .await
}

fn invalid(findings: Vec<Finding>) -> Refusal {
    Refusal::with_findings(
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
fn check_besluit(b: &Besluit, r: &Record) -> Result<Beslissing, Refusal> {
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
        herziening: None,
    })
}

/// `VastleggenBeoordeling`.
pub async fn decide(
    db: &Db,
    caller: Caller,
    id: Requested<MachtigingId>,
    b: Beoordeling,
) -> Result<(Status, Option<Beslissing>), BeoordelingError> {
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
                    )])
                    .into());
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
            Refusal::new(Code::StatusTransition, format!("Niet toegestaan: {why}."))
        })?;
        let actor = caller.party().reference.to_string();
        let result = write_tx::<_, BeoordelingError, _>(conn, |c| {
            if let Some(b) = beslissing.as_mut() {
                if b.uitkomst != Outcome::Afgewezen {
                    match &b.machtigingsnummer {
                        Some(n) if requests::number_taken(c, &uzovi, n)? => {
                            return Err(Refusal::new(
                                Code::NumberTaken,
                                format!("Machtigingsnummer {n} is al in gebruik."),
                            )
                            .into());
                        }
                        Some(_) => {}
                        None => b.machtigingsnummer = Some(change::new_number(c, &uzovi)?),
                    }
                }
            }
            change::apply(
                c,
                &Target::from(&r),
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
                Some(r.id.as_str()),
                "ok",
                json!({"status": status.as_str()}),
            )?;
            Ok(())
        });
        result.map(|()| (status, beslissing))
    })
    .await
}

/// The insurer's own catalog.
pub async fn catalog(db: &Db, caller: Caller) -> Result<InsurerCatalog, BeoordelingError> {
    let uzovi = insurer_uzovi(&caller)?;
    db.run(move |conn| Ok(catalog::store::load(conn, &uzovi)?))
        .await
}

/// Replaces the insurer's own catalog (validated; rules included).
pub async fn replace_catalog(
    db: &Db,
    caller: Caller,
    cat: InsurerCatalog,
) -> Result<InsurerCatalog, BeoordelingError> {
    let uzovi = insurer_uzovi(&caller)?;
    if cat.uzovi != uzovi {
        return Err(Refusal::new(
            Code::CatalogNotOwn,
            format!("De catalogus noemt UZOVI {}, u bent {uzovi}.", cat.uzovi),
        )
        .into());
    }
    cat.validate()?;
    db.run(move |conn| {
        write_tx::<_, BeoordelingError, _>(conn, |c| {
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
