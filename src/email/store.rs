//! The `email_berichten` table: one row per mail and recipient, queued by the
//! notifier, leased for sending (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so
//! several instances share the work), and moved on with each attempt's
//! outcome like a callback delivery.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{email_berichten as mail, email_state as state};
use crate::db::{DbConnection, DbResult};
use crate::dispatch::schedule;

pub const WACHTEND: &str = "wachtend";
pub const VERZONDEN: &str = "verzonden";
pub const DOOD: &str = "dood";

/// A mail to queue. `dedup_key` names the trigger (e.g. the outbox row), so
/// looking at the same event twice queues nothing new.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = mail)]
pub struct NewMail {
    pub dedup_key: String,
    pub soort: String,
    pub party: String,
    pub recipient: String,
    pub onderwerp: String,
    pub inhoud: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Queues `m` unless a mail for its trigger and recipient exists. Returns
/// whether it was queued.
pub fn enqueue(conn: &mut DbConnection, m: &NewMail) -> DbResult<bool> {
    let n = match conn {
        DbConnection::Pg(c) => diesel::insert_into(mail::table)
            .values(m)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConnection::Sqlite(c) => diesel::insert_into(mail::table)
            .values(m)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(n > 0)
}

/// A leased mail with everything needed to send it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mail)]
pub struct Leased {
    pub id: i64,
    pub soort: String,
    pub party: String,
    pub recipient: String,
    pub onderwerp: String,
    pub inhoud: String,
    pub attempts: i32,
    pub created_at: NaiveDateTime,
}

fn add(t: NaiveDateTime, d: Duration) -> NaiveDateTime {
    t + chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::days(365))
}

/// Leases up to `limit` due mails for `lease`; call inside a write
/// transaction.
pub fn lease(
    conn: &mut DbConnection,
    owner: &str,
    limit: i64,
    lease: Duration,
    now: NaiveDateTime,
) -> DbResult<Vec<Leased>> {
    let due = mail::table
        .filter(mail::status.eq(WACHTEND))
        .filter(mail::next_attempt_at.le(now))
        .filter(mail::lease_until.is_null().or(mail::lease_until.lt(now)))
        .order((mail::next_attempt_at, mail::id))
        .limit(limit)
        .select(mail::id);
    let ids: Vec<i64> = match conn {
        DbConnection::Pg(c) => due.for_update().skip_locked().load(c)?,
        DbConnection::Sqlite(c) => due.load(c)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(mail::table.filter(mail::id.eq_any(&ids)))
        .set((
            mail::lease_owner.eq(owner),
            mail::lease_until.eq(add(now, lease)),
            mail::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(mail::table
        .filter(mail::id.eq_any(&ids))
        .order(mail::id)
        .select(Leased::as_select())
        .load(conn)?)
}

/// What one SMTP attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The relay accepted the message (250 after DATA).
    Sent,
    /// Worth another try: the relay is unreachable or answered 4xx.
    Transient(String),
    /// The relay refused it for good (5xx): retrying changes nothing.
    Permanent(String),
}

/// What recording an attempt led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    Sent,
    Retry,
    Dead,
    /// Our lease had expired and another instance took the mail over.
    LeaseLost,
}

/// The retry policy: the schedule is configuration (`email.retry_schedule`).
#[derive(Debug, Clone)]
pub struct Policy {
    pub schedule: Vec<Duration>,
    pub jitter: f64,
}

/// Records an attempt on a mail we still hold; call inside a write
/// transaction (the audit row of a sent or dead mail goes with it).
pub fn complete(
    conn: &mut DbConnection,
    owner: &str,
    l: &Leased,
    o: &Outcome,
    policy: &Policy,
    now: NaiveDateTime,
) -> DbResult<Completion> {
    let done = usize::try_from(l.attempts).unwrap_or(usize::MAX);
    let (status, next, error, completion) = match o {
        Outcome::Sent => (VERZONDEN, now, None, Completion::Sent),
        Outcome::Permanent(e) => (DOOD, now, Some(e.as_str()), Completion::Dead),
        Outcome::Transient(e) => match schedule::next_delay(
            &policy.schedule,
            done,
            policy.jitter,
            schedule::random_unit(),
            None,
        ) {
            Some(d) => (WACHTEND, add(now, d), Some(e.as_str()), Completion::Retry),
            None => (DOOD, now, Some(e.as_str()), Completion::Dead),
        },
    };
    let changed = diesel::update(
        mail::table
            .filter(mail::id.eq(l.id))
            .filter(mail::lease_owner.eq(owner))
            .filter(mail::status.eq(WACHTEND)),
    )
    .set((
        mail::status.eq(status),
        mail::attempts.eq(l.attempts + 1),
        mail::next_attempt_at.eq(next),
        mail::lease_owner.eq(None::<String>),
        mail::lease_until.eq(None::<NaiveDateTime>),
        mail::last_error.eq(error),
        mail::updated_at.eq(now),
        mail::sent_at.eq((status == VERZONDEN).then_some(now)),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Ok(Completion::LeaseLost);
    }
    if status != WACHTEND {
        // Like a delivered push: who was told what, by which mail. The
        // address is the party's own registration; the text is not kept here.
        crate::audit::insert(
            conn,
            &crate::audit::AuditEntry {
                fingerprint: None,
                actor: crate::audit::PLATFORM.to_owned(),
                acting_for: None,
                action: if status == VERZONDEN {
                    "email.verzonden"
                } else {
                    "email.dood"
                },
                object_type: "email",
                object_id: Some(l.id.to_string()),
                outcome: if status == VERZONDEN { "ok" } else { "mislukt" },
                detail: serde_json::json!({
                    "soort": l.soort,
                    "partij": l.party,
                    "ontvanger": l.recipient,
                    "poging": l.attempts + 1,
                }),
            },
        )?;
    }
    Ok(completion)
}

/// Mails by state, for `/metrics` and the operator.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Facts {
    pub wachtend: i64,
    pub dood: i64,
    pub verzonden: i64,
}

pub fn facts(conn: &mut DbConnection) -> DbResult<Facts> {
    let mut count = |status: &str| -> DbResult<i64> {
        Ok(mail::table
            .filter(mail::status.eq(status))
            .count()
            .get_result(conn)?)
    };
    Ok(Facts {
        wachtend: count(WACHTEND)?,
        dood: count(DOOD)?,
        verzonden: count(VERZONDEN)?,
    })
}

/// A row of the notifier's state (`None` when not yet written).
pub fn get_state(conn: &mut DbConnection, name: &str) -> DbResult<Option<i64>> {
    Ok(state::table
        .find(name)
        .select(state::value)
        .first(conn)
        .optional()?)
}

pub fn set_state(conn: &mut DbConnection, name: &str, value: i64) -> DbResult<()> {
    let updated = diesel::update(state::table.find(name))
        .set(state::value.eq(value))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(state::table)
            .values((state::name.eq(name), state::value.eq(value)))
            .execute(conn)?;
    }
    Ok(())
}

/// A dead letter as the operator sees it.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = mail)]
pub struct DeadLetter {
    pub id: i64,
    pub soort: String,
    pub party: String,
    pub recipient: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub updated_at: NaiveDateTime,
}

pub fn dead_letters(conn: &mut DbConnection) -> DbResult<Vec<DeadLetter>> {
    Ok(mail::table
        .filter(mail::status.eq(DOOD))
        .order(mail::id)
        .select(DeadLetter::as_select())
        .load(conn)?)
}

/// Puts dead letters back in the queue (`ids`, or every one when `None`):
/// due now, with a fresh retry schedule and their original Message-ID.
/// Audited per mail. Returns how many.
pub fn requeue(
    conn: &mut DbConnection,
    ids: Option<&[i64]>,
    actor: &str,
    now: NaiveDateTime,
) -> DbResult<usize> {
    crate::db::write_tx(conn, |conn| {
        let mut q = mail::table.filter(mail::status.eq(DOOD)).into_boxed();
        if let Some(ids) = ids {
            q = q.filter(mail::id.eq_any(ids.to_vec()));
        }
        let found: Vec<i64> = q.select(mail::id).load(conn)?;
        if found.is_empty() {
            return Ok(0);
        }
        diesel::update(mail::table.filter(mail::id.eq_any(&found)))
            .set((
                mail::status.eq(WACHTEND),
                mail::attempts.eq(0),
                mail::next_attempt_at.eq(now),
                mail::lease_owner.eq(None::<String>),
                mail::lease_until.eq(None::<NaiveDateTime>),
                mail::updated_at.eq(now),
            ))
            .execute(conn)?;
        for id in &found {
            crate::audit::insert(
                conn,
                &crate::audit::AuditEntry {
                    fingerprint: None,
                    actor: actor.to_owned(),
                    acting_for: None,
                    action: "email.herstel",
                    object_type: "email",
                    object_id: Some(id.to_string()),
                    outcome: "ok",
                    detail: serde_json::json!({}),
                },
            )?;
        }
        Ok(found.len())
    })
}
