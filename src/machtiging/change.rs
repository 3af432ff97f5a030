//! What a change of a request writes besides its content, in the caller's
//! transaction: a status change with its history event, the insurer's inbox
//! entry, and the terugkoppeling each brings (an [`outbox`] event). The
//! provider's commands ([`super::service`]) and the insurer's (`beoordeling`)
//! both write through here, so the machtiging events are built in one place.
//!
//! An automatic decision ([`Automatic`]) arrives here as data: the catalog
//! rule was evaluated by the checks before the write, and the write applies
//! what they found without reading the request or the catalog again.

use serde_json::json;

use super::lifecycle::{Command, transition};
use super::model::{Action, Beslissing, Herziening, Outcome, Status, Vraag};
use super::store::{self, NewEvent, Record, StatusChange};
use crate::db::{DbConnection, DbError, now};
use crate::ids::MachtigingId;
use crate::outbox::{self, Event, event::v1};
use crate::registry::PartyRef;

/// The request a change applies to, as far as the change needs it.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub id: &'a MachtigingId,
    /// The version the change expects to replace.
    pub version: i32,
    pub referentie: &'a str,
    pub provider_agb: &'a str,
    pub uzovi: &'a str,
}

impl<'a> From<&'a Record> for Target<'a> {
    fn from(r: &'a Record) -> Self {
        Self {
            id: &r.id,
            version: r.version,
            referentie: &r.referentie,
            provider_agb: &r.provider_agb,
            uzovi: &r.uzovi,
        }
    }
}

/// The decision of one of the insurer's catalog rules for a request that is
/// about to become Ingediend, as the checks before the write found it.
#[derive(Debug, Clone)]
pub struct Automatic {
    /// Without a Machtigingsnummer: that is assigned in the write.
    beslissing: Beslissing,
    status: Status,
}

impl Automatic {
    /// `None` when the lifecycle does not let the rule decide an Ingediend
    /// request with this outcome.
    pub fn new(beslissing: Beslissing) -> Option<Self> {
        let status = transition(
            Some(Status::Ingediend),
            Command::Beslissen,
            Some(beslissing.uitkomst),
        )
        .ok()?;
        Some(Self { beslissing, status })
    }
}

/// A new Machtigingsnummer for this insurer: `M` and 14 random capitals and
/// digits, retried in the unlikely case it is taken.
pub fn new_number(conn: &mut DbConnection, uzovi: &str) -> Result<String, DbError> {
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

/// Puts a new or changed request in the insurer's inbox, and tells an
/// insurer that has its inbox pushed (the outbox decides whether it has).
pub fn to_inbox(
    c: &mut DbConnection,
    uzovi: &str,
    id: &MachtigingId,
    event_id: i64,
    action: Action,
    status: Status,
) -> Result<(), DbError> {
    store::add_inbox(c, uzovi, id, event_id, action.as_str(), status)?;
    announce_inbox(c, uzovi, id, action, status)
}

/// The terugkoppeling that tells the insurer a request entered its inbox
/// (written only where the insurer subscribed to its inbox).
fn announce_inbox(
    c: &mut DbConnection,
    uzovi: &str,
    id: &MachtigingId,
    action: Action,
    status: Status,
) -> Result<(), DbError> {
    outbox::record(
        c,
        &PartyRef::insurer(uzovi),
        &inbox_event(id, action, status),
    )?;
    Ok(())
}

/// That terugkoppeling's event, for a new submission, whose inbox row and
/// announcement are written with the request ([`store::insert_submitted`]).
pub fn inbox_event(id: &MachtigingId, action: Action, status: Status) -> Event {
    Event::MachtigingInbox(v1::MachtigingInbox {
        machtigingsaanvraag_id: id.clone(),
        soort: action.as_str().to_owned(),
        status: status.as_str().to_owned(),
    })
}

fn herziening_event(h: &Herziening) -> v1::Herziening {
    v1::Herziening {
        ingangsdatum: h.ingangsdatum,
        reden_code: h.reden_code.clone(),
        reden_tekst: h.reden_tekst.clone(),
        soort: h.soort.as_str().to_owned(),
        tijdstip: h.tijdstip,
        vorige_geldig_tot: h.vorige_geldig_tot,
    }
}

fn beslissing_event(b: &Beslissing) -> v1::Beslissing {
    v1::Beslissing {
        automatisch: b.automatisch,
        geldig_tot: b.geldig_tot,
        geldig_van: b.geldig_van,
        herziening: b.herziening.as_ref().map(herziening_event),
        machtigingsnummer: b.machtigingsnummer.clone(),
        reden_code: b.reden_code.clone(),
        reden_tekst: b.reden_tekst.clone(),
        tijdstip: b.tijdstip,
        toegekende_prestaties: b
            .toegekende_prestaties
            .iter()
            .map(|p| v1::ToegekendePrestatie {
                aantal: p.aantal,
                bedrag_centen: p.bedrag_centen,
                code: p.code.clone(),
            })
            .collect(),
        uitkomst: b.uitkomst.as_str().to_owned(),
    }
}

/// The provider's terugkoppeling for a status the insurer caused.
fn notify(
    c: &mut DbConnection,
    t: &Target<'_>,
    status: Status,
    beslissing: Option<&Beslissing>,
    vragen: &[Vraag],
) -> Result<(), DbError> {
    let event = Event::MachtigingStatus(v1::MachtigingStatus {
        agb_praktijk: t.provider_agb.to_owned(),
        beslissing: beslissing.map(beslissing_event),
        machtigingsaanvraag_id: t.id.clone(),
        referentie: t.referentie.to_owned(),
        status: status.as_str().to_owned(),
        tijdstip: now(),
        uzovi: t.uzovi.to_owned(),
        vragen: vragen
            .iter()
            .map(|v| v1::Vraag {
                tekst: v.tekst.clone(),
                vraag_id: v.vraag_id.clone(),
            })
            .collect(),
    });
    outbox::record(c, &PartyRef::provider(t.provider_agb), &event)?;
    Ok(())
}

/// Applies a status change by the insurer (or its rules) in the caller's
/// transaction: the request, its history, the provider's terugkoppeling.
/// Returns the id of the history event.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    c: &mut DbConnection,
    t: &Target<'_>,
    action: Action,
    status: Status,
    beslissing: Option<&Beslissing>,
    vragen: &[Vraag],
    actor: &str,
    fingerprint: Option<&str>,
) -> Result<i64, DbError> {
    store::set_status(
        c,
        t.id,
        t.version,
        status,
        StatusChange {
            open_vragen: Some(vragen),
            beslissing,
        },
    )?;
    let event_id = store::add_event(
        c,
        &NewEvent {
            request_id: t.id,
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
    notify(c, t, status, beslissing, vragen)?;
    Ok(event_id)
}

/// Applies the insurer's revision of a grant in the caller's transaction:
/// the decision as revised (`b`, with its `herziening`), the status (the
/// same, or `Herroepen`), a history entry naming the revision, and the
/// provider's terugkoppeling. Returns the id of the history event.
pub fn revise(
    c: &mut DbConnection,
    t: &Target<'_>,
    status: Status,
    b: &Beslissing,
    actor: &str,
    fingerprint: Option<&str>,
) -> Result<i64, DbError> {
    let h = b
        .herziening
        .as_ref()
        .ok_or_else(|| DbError::Invalid("a revision without its herziening".into()))?;
    store::set_status(
        c,
        t.id,
        t.version,
        status,
        StatusChange {
            open_vragen: None,
            beslissing: Some(b),
        },
    )?;
    let event_id = store::add_event(
        c,
        &NewEvent {
            request_id: t.id,
            action: Action::Revise(h.soort).as_str(),
            status,
            actor,
            fingerprint,
            detail: json!({
                "soort": h.soort.as_str(),
                "geldigTot": b.geldig_tot,
                "vorigeGeldigTot": h.vorige_geldig_tot,
                "ingangsdatum": h.ingangsdatum,
                "redenCode": h.reden_code,
                "redenTekst": h.reden_tekst,
            }),
            document: None,
        },
    )?;
    notify(c, t, status, Some(b), &[])?;
    Ok(event_id)
}

/// The automatic decision, applied right after the request was stored as
/// Ingediend (`t` is that version). Returns the decision with its number and
/// its history event.
fn automatic(
    c: &mut DbConnection,
    t: &Target<'_>,
    rule: Automatic,
) -> Result<(Beslissing, i64), DbError> {
    let Automatic {
        beslissing: mut b,
        status,
    } = rule;
    if b.uitkomst != Outcome::Afgewezen {
        b.machtigingsnummer = Some(new_number(c, t.uzovi)?);
    }
    // Decided when it is written, like a decision by hand.
    b.tijdstip = now();
    let actor = PartyRef::insurer(t.uzovi).to_string();
    let action = Action::Decide(b.uitkomst);
    let event_id = apply(c, t, action, status, Some(&b), &[], &actor, None)?;
    Ok((b, event_id))
}

/// What a request that has just become Ingediend (`t`, with the history
/// event `event_id` of `action`) writes next: the automatic decision when the
/// checks found one, and the insurer's inbox entry — the submission's, or
/// when a rule decided one `beslissing` entry with the decided status in its
/// place, so the inbox never offers a request to assess that is already
/// decided.
pub fn after_submit(
    c: &mut DbConnection,
    t: &Target<'_>,
    event_id: i64,
    action: Action,
    rule: Option<Automatic>,
) -> Result<Option<Beslissing>, DbError> {
    match rule {
        Some(rule) => {
            let (b, decision_event) = automatic(c, t, rule)?;
            let decide = Action::Decide(b.uitkomst);
            to_inbox(
                c,
                t.uzovi,
                t.id,
                decision_event,
                decide,
                b.uitkomst.status(),
            )?;
            Ok(Some(b))
        }
        None => {
            to_inbox(c, t.uzovi, t.id, event_id, action, Status::Ingediend)?;
            Ok(None)
        }
    }
}
