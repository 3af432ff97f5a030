//! The opt-in operations, shared by the SOAP and REST doors: authorization,
//! who sees what, idempotency, and one write transaction per command that also
//! writes the outbox (terugkoppeling) and the audit log.
//!
//! A portal (`optin:aanmelden`) sees only the registrations it submitted; a
//! provider (`optin:afhandelen`, a zorgaanbieder) only those addressed to its
//! AGB; a software vendor (`optin:afhandelen`) those of the providers whose
//! consent statement covers opt-in (`Caller::consented_optin_agbs`), each
//! audited as acting for that provider. Anything else is "not found",
//! audited as a refused access. Subscribing to the service stays the
//! provider's own act.

use chrono::Utc;
use serde_json::json;

use super::OptinError;
use super::store::{self, Abonnement, Owner, Record};
use super::{Afhandeling, RegStatus, Registratie};
use crate::audit;
use crate::db::{Db, DbConnection, DbError, write_tx};
use crate::error::{Code, Refusal};
use crate::identity::Caller;
use crate::ids::{OptinId, Requested};
use crate::outbox::{self, Event, event::v1};
use crate::registry::{PartyKind, PartyRef, Scope};

/// The answer to a registration.
#[derive(Debug, Clone)]
pub struct Confirmation {
    pub id: OptinId,
    pub status: RegStatus,
    pub repeated: bool,
}

fn not_found() -> Refusal {
    Refusal::new(Code::NotFound, "Registratie niet gevonden.")
}

fn audit(
    conn: &mut DbConnection,
    caller: &Caller,
    action: &str,
    id: Option<&str>,
    outcome: &str,
    detail: serde_json::Value,
) -> Result<(), DbError> {
    audit_for(conn, caller, None, action, id, outcome, detail)
}

/// An audit row naming the provider a vendor acted for (`provider`: its AGB).
fn audit_for(
    conn: &mut DbConnection,
    caller: &Caller,
    provider: Option<&str>,
    action: &str,
    id: Option<&str>,
    outcome: &str,
    detail: serde_json::Value,
) -> Result<(), DbError> {
    // A str, not an `OptinId`: a refused access is audited with the id as sent.
    audit::ByCaller {
        caller,
        object_type: "optin_registratie",
        acting_for: provider
            .filter(|_| caller.party().kind == PartyKind::Softwareleverancier)
            .map(|agb| PartyRef::provider(agb).to_string()),
    }
    .record(conn, action, id, outcome, detail)
}

/// The providers whose registrations the caller (with `optin:afhandelen`)
/// fetches, reads and handles: a provider its own; a software vendor those
/// whose consent statement covers opt-in (none: it finds nothing).
fn handled_agbs(caller: &Caller) -> Result<Vec<String>, OptinError> {
    caller.require(Scope::OptinAfhandelen)?;
    let party = caller.party();
    match party.kind {
        PartyKind::Zorgaanbieder => Ok(vec![party.reference.code.clone()]),
        PartyKind::Softwareleverancier => Ok(caller.consented_optin_agbs.clone()),
        _ => Err(Refusal::new(Code::OptinNotProvider, "Deze partij is geen zorgaanbieder.").into()),
    }
}

/// The caller's AGB when it is a provider holding `optin:afhandelen`.
fn provider_agb(caller: &Caller) -> Result<String, OptinError> {
    caller.require(Scope::OptinAfhandelen)?;
    let party = caller.party();
    match party.kind {
        PartyKind::Zorgaanbieder => Ok(party.reference.code.clone()),
        _ => Err(Refusal::new(Code::OptinNotProvider, "Deze partij is geen zorgaanbieder.").into()),
    }
}

/// The registration a client asked for; a malformed id names none.
fn found(conn: &mut DbConnection, id: &Requested<OptinId>) -> Result<Option<Record>, DbError> {
    match id.valid() {
        Some(id) => store::get(conn, id),
        None => Ok(None),
    }
}

fn visible(record: &Record, caller: &Caller) -> bool {
    let party = caller.party();
    let portal = caller.certificate.scopes.contains(Scope::OptinAanmelden)
        && record.portal == party.reference.to_string();
    let agb = &record.registratie.agb_zorgaanbieder;
    let provider = caller.certificate.scopes.contains(Scope::OptinAfhandelen)
        && match party.kind {
            PartyKind::Zorgaanbieder => *agb == party.reference.code,
            PartyKind::Softwareleverancier => caller.consented_optin_agbs.contains(agb),
            _ => false,
        };
    portal || provider
}

/// `AanmeldenDienstOptin`.
pub async fn subscribe(
    db: &Db,
    caller: Caller,
    email: Option<String>,
) -> Result<Abonnement, OptinError> {
    let agb = provider_agb(&caller)?;
    db.run(move |conn| {
        write_tx::<_, DbError, _>(conn, |c| {
            let a = store::subscribe(c, &agb, email.as_deref())?;
            audit(
                c,
                &caller,
                "optin.aanmelden",
                None,
                "ok",
                json!({"agb": agb}),
            )?;
            Ok(a)
        })
        .map_err(OptinError::from)
    })
    .await
}

/// `AfmeldenDienstOptin`: new registrations are refused from now on; those
/// already received stay available to handle.
pub async fn unsubscribe(db: &Db, caller: Caller) -> Result<Abonnement, OptinError> {
    let agb = provider_agb(&caller)?;
    db.run(move |conn| {
        write_tx::<_, DbError, _>(conn, |c| {
            let a = store::unsubscribe(c, &agb)?;
            audit(
                c,
                &caller,
                "optin.afmelden",
                None,
                "ok",
                json!({"agb": agb}),
            )?;
            Ok(a)
        })
        .map_err(OptinError::from)?
        .ok_or_else(|| {
            Refusal::new(Code::NotFound, "Geen aanmelding voor de dienst opt-in.").into()
        })
    })
    .await
}

pub async fn subscription(db: &Db, caller: Caller) -> Result<Abonnement, OptinError> {
    let agb = provider_agb(&caller)?;
    db.run(move |conn| {
        store::subscription(conn, &agb)?.ok_or_else(|| {
            Refusal::new(Code::NotFound, "Geen aanmelding voor de dienst opt-in.").into()
        })
    })
    .await
}

/// `RegistrerenToestemming`: checks, idempotency, subscription, then one
/// transaction with the registration, the provider's terugkoppeling and the
/// audit row.
pub async fn register(db: &Db, caller: Caller, r: Registratie) -> Result<Confirmation, OptinError> {
    caller.require(Scope::OptinAanmelden)?;
    r.check(Utc::now().naive_utc())?;
    let portal = caller.party().reference.to_string();
    let hash = r.content_hash();
    let id = OptinId::for_request()?;
    db.run(move |conn| {
        write_tx::<_, DbError, _>(conn, |c| {
            if let Some(existing) = store::by_reference(c, &portal, &r.referentie)? {
                if existing.content_hash != hash {
                    return Ok(Err(Refusal::new(
                        Code::ReferenceConflict,
                        format!(
                            "Referentie '{}' is eerder gebruikt voor registratie {} met andere inhoud.",
                            r.referentie, existing.id
                        ),
                    )));
                }
                audit(c, &caller, "optin.registreren", Some(existing.id.as_str()), "herhaald", json!({}))?;
                return Ok(Ok(Confirmation {
                    id: existing.id,
                    status: existing.status,
                    repeated: true,
                }));
            }
            let subscribed = store::subscription(c, &r.agb_zorgaanbieder)?
                .is_some_and(|a| a.active());
            if !subscribed {
                audit(c, &caller, "optin.registreren", None, "geweigerd: niet aangemeld", json!({}))?;
                return Ok(Err(Refusal::new(
                    Code::OptinNotSubscribed,
                    format!(
                        "Zorgaanbieder {} ontvangt geen online toestemmingen via deze dienst.",
                        r.agb_zorgaanbieder
                    ),
                )));
            }
            store::insert(c, &id, &portal, &r, &hash)?;
            let recipient = PartyRef::provider(&r.agb_zorgaanbieder);
            let record = store::get(c, &id)?.ok_or(DbError::NotFound)?;
            outbox::record(c, &recipient, &registration_event(&record))?;
            audit(c, &caller, "optin.registreren", Some(id.as_str()), "ok", json!({}))?;
            Ok(Ok(Confirmation {
                id: id.clone(),
                status: RegStatus::NogNietVerwerkt,
                repeated: false,
            }))
        })
        .map_err(OptinError::from)?
        .map_err(OptinError::from)
    })
    .await
}

/// What the provider receives: the registration itself (it needs the patient
/// to find the file). Delivered over mTLS to the provider's own endpoint only.
pub fn registration_event(r: &Record) -> Event {
    let reg = &r.registratie;
    Event::OptinRegistratie(v1::OptinRegistratie {
        agb_zorgaanbieder: reg.agb_zorgaanbieder.clone(),
        gegeven_op: reg.gegeven_op,
        ontvangen_op: r.created_at,
        patient: v1::Patient {
            bsn: reg.bsn.clone(),
            geboortedatum: reg.geboortedatum,
            naam: v1::Naam {
                achternaam: reg.naam.achternaam.clone(),
                tussenvoegsel: reg.naam.tussenvoegsel.clone(),
                voorletters: reg.naam.voorletters.clone(),
            },
        },
        registratie_id: r.id.clone(),
        status: r.status.as_str().to_owned(),
        toestemming: reg.toestemming.as_str().to_owned(),
    })
}

/// `RaadplegenToestemming`.
pub async fn get(db: &Db, caller: Caller, id: Requested<OptinId>) -> Result<Record, OptinError> {
    if !caller.certificate.scopes.contains(Scope::OptinAanmelden) {
        caller.require(Scope::OptinAfhandelen)?;
    }
    db.run(move |conn| match found(conn, &id)? {
        Some(r) if visible(&r, &caller) => {
            audit_for(
                conn,
                &caller,
                Some(&r.registratie.agb_zorgaanbieder),
                "optin.raadplegen",
                Some(r.id.as_str()),
                "ok",
                json!({}),
            )?;
            Ok(r)
        }
        _ => {
            audit(
                conn,
                &caller,
                "optin.raadplegen",
                Some(id.as_str()),
                "geweigerd: niet gevonden",
                json!({}),
            )?;
            Err(not_found().into())
        }
    })
    .await
}

/// A listing: a portal its own, a provider those addressed to it.
pub async fn list(
    db: &Db,
    caller: Caller,
    status: Option<RegStatus>,
    limit: i64,
) -> Result<Vec<Record>, OptinError> {
    let limit = limit.clamp(1, 100);
    let portal = caller.certificate.scopes.contains(Scope::OptinAanmelden);
    let agbs = if portal {
        None
    } else {
        Some(handled_agbs(&caller)?)
    };
    db.run(move |conn| {
        let reference = caller.party().reference.to_string();
        let owner = match &agbs {
            Some(a) => Owner::Provider(a),
            None => Owner::Portal(&reference),
        };
        let items = store::list(conn, owner, status, limit)?;
        audit(
            conn,
            &caller,
            "optin.zoeken",
            None,
            "ok",
            json!({"aantal": items.len()}),
        )?;
        Ok(items)
    })
    .await
}

/// `OphalenToestemmingen`: the provider's unacknowledged registrations.
pub async fn fetch(db: &Db, caller: Caller, max: i64) -> Result<Vec<Record>, OptinError> {
    let agbs = handled_agbs(&caller)?;
    let max = max.clamp(1, 100);
    db.run(move |conn| {
        let items = store::pending(conn, &agbs, max)?;
        for r in &items {
            audit_for(
                conn,
                &caller,
                Some(&r.registratie.agb_zorgaanbieder),
                "optin.ophalen",
                Some(r.id.as_str()),
                "ok",
                json!({}),
            )?;
        }
        Ok(items)
    })
    .await
}

/// `BevestigenOntvangst`: only the caller's own registrations are marked.
pub async fn acknowledge(
    db: &Db,
    caller: Caller,
    ids: Vec<Requested<OptinId>>,
) -> Result<usize, OptinError> {
    let agbs = handled_agbs(&caller)?;
    db.run(move |conn| {
        write_tx::<_, DbError, _>(conn, |c| {
            // A malformed id names no registration, so none to mark.
            let ids: Vec<&OptinId> = ids.iter().filter_map(Requested::valid).collect();
            let n = store::acknowledge(c, &agbs, &ids)?;
            audit(
                c,
                &caller,
                "optin.bevestigen",
                None,
                "ok",
                json!({"aantal": n}),
            )?;
            Ok(n)
        })
        .map_err(OptinError::from)
    })
    .await
}

/// `AfhandelenToestemming`: Verwerkt, or Afgewezen with a reason; the portal
/// gets a terugkoppeling in the same transaction.
pub async fn handle(
    db: &Db,
    caller: Caller,
    id: Requested<OptinId>,
    a: Afhandeling,
) -> Result<Confirmation, OptinError> {
    let agbs = handled_agbs(&caller)?;
    a.check()?;
    db.run(move |conn| {
        let record = match found(conn, &id)? {
            Some(r) if agbs.contains(&r.registratie.agb_zorgaanbieder) => r,
            _ => {
                audit(
                    conn,
                    &caller,
                    "optin.afhandelen",
                    Some(id.as_str()),
                    "geweigerd: niet gevonden",
                    json!({}),
                )?;
                return Err(not_found().into());
            }
        };
        if record.status != RegStatus::NogNietVerwerkt {
            return Err(already_handled(record.status).into());
        }
        let id = &record.id;
        let agb = record.registratie.agb_zorgaanbieder.clone();
        let by = caller.party().reference.to_string();
        write_tx::<_, DbError, _>(conn, |c| {
            let at = store::handle(
                c,
                id,
                a.status,
                a.reden_code.as_deref(),
                a.reden_tekst.as_deref(),
                &by,
            )?;
            let handled = v1::OptinStatus {
                afgehandeld_op: at,
                agb_zorgaanbieder: agb.clone(),
                reden_code: a.reden_code.clone(),
                reden_tekst: a.reden_tekst.clone(),
                referentie: record.registratie.referentie.clone(),
                registratie_id: id.clone(),
                status: a.status.as_str().to_owned(),
            };
            let portal: PartyRef = record
                .portal
                .parse()
                .map_err(|e| DbError::Invalid(format!("stored portal party: {e}")))?;
            outbox::record(c, &portal, &Event::OptinStatus(handled))?;
            audit_for(
                c,
                &caller,
                Some(&agb),
                "optin.afhandelen",
                Some(id.as_str()),
                "ok",
                json!({"status": a.status.as_str()}),
            )
        })
        .map_err(|e| match e {
            DbError::Conflict(_) => OptinError::from(already_handled(RegStatus::Verwerkt)),
            other => other.into(),
        })?;
        Ok(Confirmation {
            id: id.clone(),
            status: a.status,
            repeated: false,
        })
    })
    .await
}

fn already_handled(status: RegStatus) -> Refusal {
    Refusal::new(
        Code::StatusTransition,
        format!("De registratie is al afgehandeld ({status})."),
    )
}
