//! Where mails come from: the notifier reads what already happened and
//! queues a mail per recipient, each under a key naming its trigger, so
//! reading the same thing twice (a restart, a rescan, a second instance)
//! queues nothing new.
//!
//! - The outbox of terugkoppelingen (`machtiging.status`, `optin.registratie`),
//!   read from a cursor: questions of the insurer, decisions, registrations
//!   waiting. Only the status and the subject's id are read from a payload;
//!   its patient data is never decoded.
//! - Callback endpoints disabled (by the dispatcher after failing deliveries,
//!   or 410 Gone) since the notifier first ran.
//! - Certificates that expire within `email.verloop_dagen`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Deserialize;

use super::compose::{self, Text};
use super::store::{self, NewMail, WACHTEND};
use crate::db::schema::{
    certificates as cert, optin_abonnementen as ab, parties, party_contacts as pc,
    terugkoppeling_endpoints as ep, terugkoppelingen as tk,
};
use crate::db::{DbConnection, DbResult};
use crate::dispatch::endpoints::{PARTY_DEACTIVATED, UITGESCHAKELD};
use crate::outbox::{MACHTIGING_STATUS, OPTIN_REGISTRATIE};

/// The last outbox row read.
pub const CURSOR: &str = "outbox_cursor";
/// Unix time the notifier first ran: endpoints disabled before are not
/// announced (turning notifications on does not mail about the past).
pub const SINCE: &str = "sinds";

/// Outbox rows read per round.
const BATCH: i64 = 500;

/// What the sources need to know.
#[derive(Debug, Clone)]
pub struct Context {
    /// The portal's base URL, no trailing slash.
    pub portal: String,
    /// How far ahead certificates' expiry is announced.
    pub verloop_dagen: u32,
    /// How far behind the newest row the cursor stays: on PostgreSQL a row
    /// may commit after a higher one; rows this young are read again.
    pub settle: chrono::TimeDelta,
}

/// The addresses the party registered (`notificatieEmails`), valid ones only.
fn party_addresses(conn: &mut DbConnection, party: &str) -> DbResult<Vec<String>> {
    // Read from the table, not through `beheer`: delivery does not import
    // the domain (tests/it/architecture.rs). The column is a JSON list.
    let list: Option<String> = pc::table
        .filter(pc::party.eq(party))
        .select(pc::notificatie_emails)
        .first(conn)
        .optional()?;
    Ok(valid(
        list.and_then(|l| serde_json::from_str(&l).ok())
            .unwrap_or_default(),
    ))
}

fn valid(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = list
        .into_iter()
        .map(|a| a.trim().to_owned())
        .filter(|a| a.parse::<lettre::Address>().is_ok())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Queues `text` for each of `recipients`. Returns how many were new.
fn queue(
    conn: &mut DbConnection,
    key: &str,
    party: &str,
    recipients: &[String],
    text: &Text,
    now: NaiveDateTime,
) -> DbResult<usize> {
    let mut n = 0;
    for r in recipients {
        let queued = store::enqueue(
            conn,
            &NewMail {
                dedup_key: key.to_owned(),
                soort: text.soort.as_str().to_owned(),
                party: party.to_owned(),
                recipient: r.clone(),
                onderwerp: text.onderwerp.clone(),
                inhoud: text.inhoud.clone(),
                status: WACHTEND.to_owned(),
                attempts: 0,
                next_attempt_at: now,
                created_at: now,
                updated_at: now,
            },
        )?;
        n += usize::from(queued);
    }
    Ok(n)
}

/// The fields of a payload the notifier reads: the status, and whether a
/// decision is a revision (`beslissing.herziening`), nothing of its content.
#[derive(Deserialize)]
struct StatusOnly {
    status: String,
    #[serde(default)]
    beslissing: Option<RevisionOnly>,
}

#[derive(Deserialize)]
struct RevisionOnly {
    #[serde(default)]
    herziening: Option<serde::de::IgnoredAny>,
}

/// Starts the cursor at the newest outbox row and notes the start time, on
/// the first run only. Call in a write transaction.
pub fn init(conn: &mut DbConnection, now: NaiveDateTime) -> DbResult<()> {
    if store::get_state(conn, CURSOR)?.is_none() {
        let newest: Option<i64> = tk::table.select(diesel::dsl::max(tk::id)).first(conn)?;
        store::set_state(conn, CURSOR, newest.unwrap_or(0))?;
    }
    if store::get_state(conn, SINCE)?.is_none() {
        store::set_state(conn, SINCE, now.and_utc().timestamp())?;
    }
    Ok(())
}

/// Reads outbox rows after the cursor. Call in a write transaction.
pub fn outbox(conn: &mut DbConnection, ctx: &Context, now: NaiveDateTime) -> DbResult<usize> {
    let cursor = store::get_state(conn, CURSOR)?.unwrap_or(0);
    let rows: Vec<(i64, String, String, String, String, NaiveDateTime)> = tk::table
        .filter(tk::id.gt(cursor))
        .filter(tk::event_type.eq_any([MACHTIGING_STATUS, OPTIN_REGISTRATIE]))
        .order(tk::id)
        .limit(BATCH)
        .select((
            tk::id,
            tk::recipient,
            tk::event_type,
            tk::subject_id,
            tk::payload,
            tk::created_at,
        ))
        .load(conn)?;
    let mut queued = 0;
    let mut settled = cursor;
    let mut young = false;
    for (id, party, kind, subject, payload, created) in rows {
        let (status, revised) = match serde_json::from_str::<StatusOnly>(&payload) {
            Ok(s) => {
                let revised = s.beslissing.is_some_and(|b| b.herziening.is_some());
                (s.status, revised)
            }
            Err(e) => {
                tracing::warn!(terugkoppeling = id, error = %e, "no status in payload; no e-mail");
                (String::new(), false)
            }
        };
        let key = format!("outbox:{id}");
        let text = match kind.as_str() {
            MACHTIGING_STATUS if status == "AanvullendeInformatieGevraagd" => {
                Some(compose::vraag(&ctx.portal, &party, &subject))
            }
            MACHTIGING_STATUS if compose::is_besluit(&status) => Some(compose::besluit(
                &ctx.portal,
                &party,
                &subject,
                &status,
                revised,
            )),
            OPTIN_REGISTRATIE if status == "NogNietVerwerkt" => {
                Some(compose::optin_wacht(&ctx.portal, &party, &subject))
            }
            _ => None,
        };
        if let Some(text) = text {
            let to = if kind == OPTIN_REGISTRATIE {
                optin_addresses(conn, &party)?
            } else {
                party_addresses(conn, &party)?
            };
            queued += queue(conn, &key, &party, &to, &text, now)?;
        }
        // The cursor passes only rows old enough that no lower row can still
        // commit; younger ones are read again next round (the key keeps them
        // from being queued twice).
        young |= created > now - ctx.settle;
        if !young {
            settled = id;
        }
    }
    if settled > cursor {
        store::set_state(conn, CURSOR, settled)?;
    }
    Ok(queued)
}

/// The opt-in subscription's `notificatieEmail`; without one the provider's
/// `notificatieEmails`.
fn optin_addresses(conn: &mut DbConnection, party: &str) -> DbResult<Vec<String>> {
    let agb = party.strip_prefix("AGB:").unwrap_or(party);
    let own: Option<Option<String>> = ab::table
        .filter(ab::provider_agb.eq(agb))
        .select(ab::notificatie_email)
        .first(conn)
        .optional()?;
    match own.flatten() {
        Some(a) if !valid(vec![a.clone()]).is_empty() => Ok(valid(vec![a])),
        _ => party_addresses(conn, party),
    }
}

/// Endpoints disabled for their own failures since the notifier first ran;
/// one mail per disabling. Call in a write transaction.
pub fn disabled_endpoints(
    conn: &mut DbConnection,
    ctx: &Context,
    now: NaiveDateTime,
) -> DbResult<usize> {
    let since = store::get_state(conn, SINCE)?.unwrap_or(0);
    let since = chrono::DateTime::from_timestamp(since, 0)
        .map(|t| t.naive_utc())
        .unwrap_or_default();
    let rows: Vec<(i64, String, NaiveDateTime)> = ep::table
        .filter(ep::status.eq(UITGESCHAKELD))
        .filter(ep::disabled_reason.ne(PARTY_DEACTIVATED))
        .filter(ep::updated_at.ge(since))
        .select((ep::id, ep::party, ep::updated_at))
        .load(conn)?;
    let mut queued = 0;
    for (id, party, at) in rows {
        let key = format!("callback:{id}:{}", at.and_utc().timestamp_micros());
        let to = party_addresses(conn, &party)?;
        let text = compose::callback_uitgeschakeld(&ctx.portal, &party);
        queued += queue(conn, &key, &party, &to, &text, now)?;
    }
    Ok(queued)
}

/// Active certificates that expire within `verloop_dagen`: one mail per
/// certificate and threshold. Call in a write transaction.
pub fn expiring_certificates(
    conn: &mut DbConnection,
    ctx: &Context,
    now: NaiveDateTime,
) -> DbResult<usize> {
    let horizon = now + chrono::TimeDelta::days(i64::from(ctx.verloop_dagen));
    let rows: Vec<(String, String, NaiveDateTime, String, String)> = cert::table
        .inner_join(parties::table)
        .filter(cert::status.eq(crate::registry::CertStatus::Actief.as_str()))
        .filter(cert::revoked_at.is_null())
        .filter(cert::not_after.gt(now))
        .filter(cert::not_after.le(horizon))
        .filter(parties::deactivated_at.is_null())
        .select((
            cert::fingerprint,
            cert::serial,
            cert::not_after,
            parties::id_scheme,
            parties::code,
        ))
        .load(conn)?;
    let mut queued = 0;
    for (fingerprint, serial, not_after, scheme, code) in rows {
        let party = format!("{scheme}:{code}");
        let key = format!("certificaat:{fingerprint}:{}d", ctx.verloop_dagen);
        let to = party_addresses(conn, &party)?;
        let text = compose::certificaat_verloopt(&ctx.portal, &party, &serial, not_after.date());
        queued += queue(conn, &key, &party, &to, &text, now)?;
    }
    Ok(queued)
}
