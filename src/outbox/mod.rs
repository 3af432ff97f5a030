//! The outbox of terugkoppelingen (feedback to care providers, insurers and
//! portals).
//!
//! The domain records what happened as an [`Event`] with [`record`], inside
//! the same database transaction as the change that caused it, so a
//! committed change always has its terugkoppeling and a rolled-back one
//! never does. Nothing is sent from inside that transaction: delivery (push
//! and pull) reads this table later. The row's `id` orders terugkoppelingen;
//! `public_id` is the stable identity receivers deduplicate on
//! (`webhook-id`).
//!
//! Who receives an event is not the domain's concern: it names the party the
//! event is for; a kind that is only ever pushed is not stored for a party
//! without a subscription to it ([`kinds::EventKind::push_only`]), and the
//! dispatcher's fan-out makes one delivery per subscribed endpoint.
//!
//! Once such a transaction has committed, dispatchers in this process are
//! woken ([`subscribe`]) instead of finding the row at their next poll.

pub mod event;
pub mod kinds;

use std::sync::LazyLock;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use tokio::sync::watch;

use crate::db::schema::{terugkoppeling_endpoints as endpoints, terugkoppelingen};
use crate::db::{DbConnection, DbError, now};

pub use event::{Event, MACHTIGING_INBOX, MACHTIGING_STATUS, OPTIN_REGISTRATIE, OPTIN_STATUS};

/// Bumped after every commit that wrote a terugkoppeling.
static WRITTEN: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::channel(0).0);

/// Changes after each commit that wrote terugkoppelingen in this process.
pub fn subscribe() -> watch::Receiver<u64> {
    WRITTEN.subscribe()
}

fn announce() {
    WRITTEN.send_modify(|n| *n = n.wrapping_add(1));
}

#[derive(Insertable)]
#[diesel(table_name = terugkoppelingen)]
struct Row<'a> {
    public_id: &'a str,
    recipient: &'a str,
    event_type: &'a str,
    subject_id: &'a str,
    payload: &'a str,
    created_at: NaiveDateTime,
}

/// Records `event` for `recipient` (a party reference, e.g. `AGB:03123456`);
/// call inside the transaction of the change. Returns the terugkoppeling's
/// public id, or `None` when nobody receives it (a push-only kind for a
/// party without a subscription to it).
pub fn record(
    conn: &mut DbConnection,
    recipient: &str,
    event: &Event,
) -> Result<Option<String>, DbError> {
    let kind = event.kind();
    if kinds::kind(kind).is_some_and(|k| k.push_only) && !subscribed(conn, recipient, kind)? {
        return Ok(None);
    }
    let public_id = crate::ids::new("TK")
        .map_err(|e| DbError::Invalid(format!("no randomness for an id: {e}")))?;
    let payload = event
        .to_json()
        .map_err(|e| DbError::Invalid(format!("terugkoppeling payload: {e}")))?;
    diesel::insert_into(terugkoppelingen::table)
        .values(&Row {
            public_id: &public_id,
            recipient,
            event_type: kind,
            subject_id: event.subject(),
            payload: &payload,
            created_at: now(),
        })
        .execute(conn)?;
    crate::db::on_commit(announce);
    Ok(Some(public_id))
}

/// Whether `party` has a callback (active or disabled, not removed) that
/// subscribes to `kind`. The table is the dispatcher's; its `event_types`
/// is the subscribed kinds separated by spaces.
fn subscribed(conn: &mut DbConnection, party: &str, kind: &str) -> Result<bool, DbError> {
    let kinds: Option<String> = endpoints::table
        .filter(endpoints::party.eq(party))
        .filter(endpoints::status.ne("verwijderd"))
        .select(endpoints::event_types)
        .first(conn)
        .optional()?;
    Ok(kinds.is_some_and(|k| k.split_whitespace().any(|k| k == kind)))
}
