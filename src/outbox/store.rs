//! The terugkoppelingen table: an event stored for its recipient inside the
//! transaction of the change that caused it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Event, announce, kinds};
use crate::db::schema::{terugkoppeling_endpoints as endpoints, terugkoppelingen};
use crate::db::{DbConnection, DbError, now};
use crate::ids::TerugkoppelingId;
use crate::registry::PartyRef;

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

/// Records `event` for `recipient` (the party, e.g. `AGB:03123456`);
/// call inside the transaction of the change. Returns the terugkoppeling's
/// public id, or `None` when nobody receives it (a push-only kind for a
/// party without a subscription to it).
pub fn record(
    conn: &mut DbConnection,
    recipient: &PartyRef,
    event: &Event,
) -> Result<Option<TerugkoppelingId>, DbError> {
    let kind = event.kind();
    let recipient = recipient.to_string();
    let recipient = recipient.as_str();
    if kinds::kind(kind).is_some_and(|k| k.push_only) && !subscribed(conn, recipient, kind)? {
        return Ok(None);
    }
    let public_id = TerugkoppelingId::new()
        .map_err(|e| DbError::Invalid(format!("no randomness for an id: {e}")))?;
    let payload = event
        .to_json()
        .map_err(|e| DbError::Invalid(format!("terugkoppeling payload: {e}")))?;
    let row = Row {
        public_id: public_id.as_str(),
        recipient,
        event_type: kind,
        subject_id: event.subject(),
        payload: &payload,
        created_at: now(),
    };
    crate::db::execute(
        conn,
        diesel::insert_into(terugkoppelingen::table).values(&row),
    )?;
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
