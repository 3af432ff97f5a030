//! The provider's view of its terugkoppelingen: the recent deliveries and
//! dead letters (the portal's list), the delivery log of one,
//! replaying one, recovering every dead letter since a time, and the pull
//! fallback with acknowledgement. Every query is limited to the caller's
//! [`Mailbox`]: its own party's terugkoppelingen and, for a software vendor,
//! those of the providers it serves (`intermediary`); pull and
//! acknowledgement also to the kinds the caller's
//! certificate may read ([`crate::outbox::kinds`]), and what carries patient
//! data is audited as it leaves ([`audit_disclosed`]).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::endpoints;
pub use super::intermediary::Mailbox;
use super::queue::{DOOD, NewDelivery, WACHTEND};
use crate::db::schema::{
    terugkoppeling_acks as ack, terugkoppeling_attempts as att, terugkoppeling_deliveries as del,
    terugkoppelingen as tk,
};
use crate::db::{DbConnection, DbError, DbResult, write_tx};
use crate::error::{Code, Refusal};
use crate::ids::{Requested, TerugkoppelingId};

/// One terugkoppeling as stored.
#[derive(Debug, Clone, Queryable)]
pub struct Stored {
    pub id: i64,
    #[diesel(deserialize_as = String)]
    pub public_id: TerugkoppelingId,
    pub recipient: String,
    pub event_type: String,
    pub subject_id: String,
    pub payload: String,
    pub created_at: NaiveDateTime,
}

impl Stored {
    /// The event it carries.
    pub fn event(&self) -> Result<crate::outbox::Event, crate::outbox::event::DecodeError> {
        crate::outbox::Event::decode(&self.event_type, &self.payload)
    }
}

#[derive(Debug, Clone, Queryable)]
pub struct Attempt {
    pub at: NaiveDateTime,
    pub http_status: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// id, endpoint, status, attempts, next attempt, delivered at, last error.
type DeliveryRow = (
    i64,
    i64,
    String,
    i32,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<String>,
);

#[derive(Debug, Clone)]
pub struct DeliveryLog {
    pub endpoint_url: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub delivered_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub log: Vec<Attempt>,
}

#[derive(Debug, Clone)]
pub struct Detail {
    pub stored: Stored,
    pub acknowledged_at: Option<NaiveDateTime>,
    pub deliveries: Vec<DeliveryLog>,
}

/// A terugkoppeling in the mailbox. A malformed id is not found, as an
/// unknown one is, and so is one outside the mailbox.
fn own(
    conn: &mut DbConnection,
    mailbox: &Mailbox,
    public_id: &Requested<TerugkoppelingId>,
) -> DbResult<Stored> {
    let public_id = public_id.valid().ok_or(DbError::NotFound)?;
    let stored: Stored = tk::table
        .filter(tk::public_id.eq(public_id.as_str()))
        .first(conn)?;
    if mailbox.covers(&stored.recipient, &stored.event_type) {
        Ok(stored)
    } else {
        Err(DbError::NotFound)
    }
}

/// A terugkoppeling with its deliveries and every attempt.
pub fn detail(
    conn: &mut DbConnection,
    mailbox: &Mailbox,
    public_id: &Requested<TerugkoppelingId>,
) -> DbResult<Detail> {
    let stored = own(conn, mailbox, public_id)?;
    let acknowledged_at = ack::table
        .find(stored.id)
        .select(ack::at)
        .first(conn)
        .optional()?;
    let rows: Vec<DeliveryRow> = del::table
        .filter(del::terugkoppeling_id.eq(stored.id))
        .select((
            del::id,
            del::endpoint_id,
            del::status,
            del::attempts,
            del::next_attempt_at,
            del::delivered_at,
            del::last_error,
        ))
        .order(del::id)
        .load(conn)?;
    let mut deliveries = Vec::new();
    for (id, endpoint_id, status, attempts, next, delivered_at, last_error) in rows {
        // Only the deliveries to the caller's own callback: a provider does
        // not see its vendor's receiver, nor a vendor the provider's.
        let endpoint = endpoints::by_id(conn, endpoint_id)?;
        if endpoint.party != mailbox.own {
            continue;
        }
        let endpoint_url = endpoint.url;
        let log = att::table
            .filter(att::delivery_id.eq(id))
            .select((att::at, att::http_status, att::latency_ms, att::error))
            .order(att::id)
            .load(conn)?;
        deliveries.push(DeliveryLog {
            endpoint_url,
            next_attempt_at: (status == WACHTEND).then_some(next),
            status,
            attempts,
            delivered_at,
            last_error,
            log,
        });
    }
    Ok(Detail {
        stored,
        acknowledged_at,
        deliveries,
    })
}

/// One delivery to the party's own callback, as its delivery log lists it.
#[derive(Debug, Clone, Queryable)]
pub struct Delivery {
    pub public_id: String,
    pub event_type: String,
    pub subject_id: String,
    pub created_at: NaiveDateTime,
    pub status: String,
    pub attempts: i32,
    pub delivered_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
}

/// The newest `limit` deliveries to the party's current endpoint (dead
/// letters only when `dead_only`), newest first; empty without an endpoint.
/// Only ids, kinds and outcomes: no payload leaves here.
pub fn recent(
    conn: &mut DbConnection,
    party: &str,
    dead_only: bool,
    limit: i64,
) -> DbResult<Vec<Delivery>> {
    let Some(ep) = endpoints::find(conn, party)? else {
        return Ok(Vec::new());
    };
    let mut q = del::table
        .inner_join(tk::table.on(tk::id.eq(del::terugkoppeling_id)))
        .filter(del::endpoint_id.eq(ep.id))
        .into_boxed();
    if dead_only {
        q = q.filter(del::status.eq(DOOD));
    }
    Ok(q.select((
        tk::public_id,
        tk::event_type,
        tk::subject_id,
        tk::created_at,
        del::status,
        del::attempts,
        del::delivered_at,
        del::last_error,
    ))
    .order(del::id.desc())
    .limit(limit)
    .load(conn)?)
}

fn requeue(conn: &mut DbConnection, delivery: i64, now: NaiveDateTime) -> DbResult<()> {
    diesel::update(del::table.find(delivery))
        .set((
            del::status.eq(WACHTEND),
            del::attempts.eq(0),
            del::next_attempt_at.eq(now),
            del::lease_owner.eq(None::<String>),
            del::lease_until.eq(None::<NaiveDateTime>),
            del::delivered_at.eq(None::<NaiveDateTime>),
            del::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Sends one terugkoppeling again to the party's endpoint, whatever became
/// of it before (delivered, dead, or never pushed). `NotFound` when it is not
/// in the party's mailbox; `Conflict` when the party has no endpoint.
pub fn replay(
    conn: &mut DbConnection,
    mailbox: &Mailbox,
    public_id: &Requested<TerugkoppelingId>,
    now: NaiveDateTime,
) -> DbResult<()> {
    let party = mailbox.own.as_str();
    write_tx(conn, |conn| {
        let stored = own(conn, mailbox, public_id)?;
        // PostgreSQL: hold the row against the retention purge, which skips
        // a row held and otherwise deletes it before this commits (then the
        // delivery inserted below would point at nothing).
        if let DbConnection::Pg(c) = conn {
            tk::table
                .find(stored.id)
                .select(tk::id)
                .for_share()
                .first::<i64>(c)?;
        }
        let ep =
            endpoints::find(conn, party)?.ok_or_else(|| DbError::Conflict("no endpoint".into()))?;
        let existing: Option<i64> = del::table
            .filter(del::terugkoppeling_id.eq(stored.id))
            .filter(del::endpoint_id.eq(ep.id))
            .select(del::id)
            .first(conn)
            .optional()?;
        match existing {
            Some(id) => requeue(conn, id, now),
            None => {
                diesel::insert_into(del::table)
                    .values(NewDelivery::due(stored.id, ep.id, &stored.subject_id, now))
                    .execute(conn)?;
                Ok(())
            }
        }
    })
}

/// Re-queues every dead letter of the party's endpoint whose terugkoppeling
/// was created at or after `since`; returns how many.
pub fn recover(
    conn: &mut DbConnection,
    party: &str,
    since: NaiveDateTime,
    now: NaiveDateTime,
) -> DbResult<usize> {
    write_tx(conn, |conn| {
        let ep =
            endpoints::find(conn, party)?.ok_or_else(|| DbError::Conflict("no endpoint".into()))?;
        let ids: Vec<i64> = del::table
            .inner_join(tk::table.on(tk::id.eq(del::terugkoppeling_id)))
            .filter(del::endpoint_id.eq(ep.id))
            .filter(del::status.eq(DOOD))
            .filter(tk::created_at.ge(since))
            .select(del::id)
            .load(conn)?;
        for id in &ids {
            requeue(conn, *id, now)?;
        }
        Ok(ids.len())
    })
}

/// The kinds of `kinds` a vendor reads of the providers it serves for
/// opt-in as well (`true`) or for their requests only (`false`).
fn split_kinds<'a>(kinds: &[&'a str], optin: bool) -> Vec<&'a str> {
    kinds
        .iter()
        .copied()
        .filter(|k| crate::outbox::kinds::needs_optin_consent(k) == optin)
        .collect()
}

/// Pull: the mailbox's terugkoppelingen of `kinds` after outbox position
/// `after`, oldest first; unacknowledged only unless `all`. A provider and
/// the vendors serving it share one acknowledgement per terugkoppeling.
pub fn pull(
    conn: &mut DbConnection,
    mailbox: &Mailbox,
    kinds: &[&str],
    after: i64,
    limit: i64,
    all: bool,
) -> DbResult<Vec<(Stored, Option<NaiveDateTime>)>> {
    let mut q = tk::table
        .left_join(ack::table.on(ack::terugkoppeling_id.eq(tk::id)))
        .filter(tk::id.gt(after))
        .into_boxed();
    if mailbox.own_only() {
        // Everyone but a vendor with statements: the query it always was.
        q = q
            .filter(tk::recipient.eq(&mailbox.own))
            .filter(tk::event_type.eq_any(kinds));
    } else {
        q = q.filter(
            tk::recipient
                .eq(&mailbox.own)
                .and(tk::event_type.eq_any(kinds))
                .or(tk::recipient
                    .eq_any(&mailbox.served)
                    .and(tk::event_type.eq_any(split_kinds(kinds, false))))
                .or(tk::recipient
                    .eq_any(&mailbox.served_optin)
                    .and(tk::event_type.eq_any(split_kinds(kinds, true)))),
        );
    }
    if !all {
        q = q.filter(ack::at.is_null());
    }
    Ok(q.select((
        (
            tk::id,
            tk::public_id,
            tk::recipient,
            tk::event_type,
            tk::subject_id,
            tk::payload,
            tk::created_at,
        ),
        ack::at.nullable(),
    ))
    .order(tk::id)
    .limit(limit)
    .load(conn)?)
}

/// Acknowledges pulled terugkoppelingen (idempotent); ids outside the
/// mailbox, or of a kind outside `kinds`, are reported back as unknown. The
/// acknowledgement records who gave it.
pub fn acknowledge(
    conn: &mut DbConnection,
    mailbox: &Mailbox,
    kinds: &[&str],
    public_ids: &[Requested<TerugkoppelingId>],
    now: NaiveDateTime,
) -> DbResult<Vec<String>> {
    // A malformed id is looked for nowhere, and so reported back as unknown.
    let valid: Vec<&str> = public_ids
        .iter()
        .filter_map(Requested::valid)
        .map(TerugkoppelingId::as_str)
        .collect();
    write_tx(conn, |conn| {
        let found: Vec<(i64, String)> = tk::table
            .filter(tk::event_type.eq_any(kinds))
            .filter(tk::public_id.eq_any(&valid))
            .select((tk::id, tk::public_id, tk::recipient, tk::event_type))
            .load::<(i64, String, String, String)>(conn)?
            .into_iter()
            .filter(|(_, _, recipient, kind)| mailbox.covers(recipient, kind))
            .map(|(id, public_id, _, _)| (id, public_id))
            .collect();
        let party = mailbox.own.as_str();
        let already: Vec<i64> = ack::table
            .filter(ack::terugkoppeling_id.eq_any(found.iter().map(|f| f.0)))
            .select(ack::terugkoppeling_id)
            .load(conn)?;
        for (id, _) in found.iter().filter(|f| !already.contains(&f.0)) {
            diesel::insert_into(ack::table)
                .values((
                    ack::terugkoppeling_id.eq(id),
                    ack::party.eq(party),
                    ack::at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok(public_ids
            .iter()
            .map(Requested::as_str)
            .filter(|p| !found.iter().any(|f| f.1 == *p))
            .map(str::to_owned)
            .collect())
    })
}

/// Pull and acknowledgement read content: the caller's certificate needs the
/// authorization of at least one kind, and gets only the kinds it holds the
/// authorization of (`terugkoppeling:beheren` alone reads no content).
pub fn require_pull(caller: &crate::identity::Caller) -> Result<Vec<&'static str>, Refusal> {
    let kinds = crate::outbox::kinds::readable(caller.certificate.scopes);
    if kinds.is_empty() {
        let scopes: Vec<&str> = crate::outbox::kinds::KINDS
            .iter()
            .map(|k| k.content_scope.as_str())
            .collect();
        return Err(Refusal::new(
            Code::ScopeMissing,
            format!(
                "Ophalen van terugkoppelingen vraagt de autorisatie voor hun inhoud: een van {}.",
                scopes.join(", ")
            ),
        ));
    }
    Ok(kinds)
}

/// The kinds a callback registration subscribes the party's endpoint to:
/// only kinds the registering certificate may read itself, since whoever
/// chooses the endpoint's address chooses where their content goes. No kinds
/// asked: every kind it may read. Unknown kinds pass, for the registration's
/// own check (`TKP-004`).
pub fn subscribable(
    caller: &crate::identity::Caller,
    requested: Vec<String>,
) -> Result<Vec<String>, Refusal> {
    use crate::outbox::kinds;
    let scopes = caller.certificate.scopes;
    if requested.is_empty() {
        let readable = kinds::readable(scopes);
        if readable.is_empty() {
            return Err(Refusal::new(
                Code::ScopeMissing,
                "Een abonnement vraagt naast terugkoppeling:beheren de autorisatie voor de inhoud van minstens één soort terugkoppeling.",
            ));
        }
        return Ok(readable.into_iter().map(str::to_owned).collect());
    }
    for name in &requested {
        if let Some(k) = kinds::kind(name).filter(|k| !scopes.contains(k.content_scope)) {
            return Err(Refusal::new(
                Code::ScopeMissing,
                format!(
                    "Abonneren op {} vraagt de autorisatie {}.",
                    k.name,
                    k.content_scope.as_str()
                ),
            ));
        }
    }
    Ok(requested)
}

/// Writes one audit row per message that carries patient data and is about
/// to reach the caller (`action`: `terugkoppeling.ophalen` or
/// `terugkoppeling.raadplegen`), in one write.
pub fn audit_disclosed<'a>(
    conn: &mut DbConnection,
    caller: &crate::identity::Caller,
    action: &str,
    messages: impl IntoIterator<Item = &'a Stored>,
) -> DbResult<()> {
    let actor = caller.party().reference.to_string();
    let entries: Vec<crate::audit::AuditEntry<'_>> = messages
        .into_iter()
        .filter(|s| crate::outbox::kinds::audited(&s.event_type))
        .map(|s| crate::audit::AuditEntry {
            fingerprint: Some(caller.fingerprint()),
            actor: actor.clone(),
            // A vendor reading a provider's message acts for that provider.
            acting_for: (s.recipient != actor).then(|| s.recipient.clone()),
            action,
            object_type: "terugkoppeling",
            object_id: Some(s.public_id.to_string()),
            outcome: "ok",
            detail: serde_json::json!({ "soort": s.event_type, "onderwerp": s.subject_id }),
        })
        .collect();
    crate::audit::record_all(conn, &entries)
}
