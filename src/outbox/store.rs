//! The terugkoppelingen table: an event stored for its recipient inside the
//! transaction of the change that caused it.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{Bool, Text, Timestamp};

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
    if push_only(kind) && !subscribed(conn, &recipient.to_string(), kind)? {
        return Ok(None);
    }
    let p = Pending::new(recipient, event)?;
    let row = Row {
        public_id: p.public_id.as_str(),
        recipient: &p.recipient,
        event_type: p.kind,
        subject_id: &p.subject,
        payload: &p.payload,
        created_at: p.created_at,
    };
    crate::db::execute(
        conn,
        diesel::insert_into(terugkoppelingen::table).values(&row),
    )?;
    p.written();
    Ok(Some(p.public_id))
}

/// A terugkoppeling with its values made: what [`record`] inserts, and on
/// PostgreSQL a part of a larger statement (a submission's single statement
/// writes it as one of its `WITH` parts, `machtiging::pg_submission`, and
/// asks there the subscription a push-only kind needs, which saves that
/// look-up its own round trip).
pub struct Pending {
    public_id: TerugkoppelingId,
    recipient: String,
    kind: &'static str,
    subject: String,
    payload: String,
    push_only: bool,
    created_at: NaiveDateTime,
}

impl Pending {
    /// `event` for `recipient` (the party, e.g. `UZOVI:3311`).
    pub fn new(recipient: &PartyRef, event: &Event) -> Result<Self, DbError> {
        let kind = event.kind();
        Ok(Self {
            public_id: TerugkoppelingId::new()
                .map_err(|e| DbError::Invalid(format!("no randomness for an id: {e}")))?,
            recipient: recipient.to_string(),
            kind,
            subject: event.subject().to_owned(),
            payload: event
                .to_json()
                .map_err(|e| DbError::Invalid(format!("terugkoppeling payload: {e}")))?,
            push_only: push_only(kind),
            created_at: now(),
        })
    }

    /// To call when the statement reports the row written: the dispatchers
    /// are woken once the transaction commits.
    pub fn written(&self) {
        crate::db::on_commit(announce);
    }
}

/// `INSERT … SELECT` of the row, which selects nothing when the kind is
/// push-only and the recipient has no callback subscribed to it: the same
/// rule as [`subscribed`] (`event_types` is written joined by one space,
/// `dispatch::endpoints`).
impl QueryFragment<Pg> for Pending {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "INSERT INTO terugkoppelingen \
             (public_id, recipient, event_type, subject_id, payload, created_at) SELECT ",
        );
        out.push_bind_param::<Text, _>(self.public_id.as_str())?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.recipient)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(self.kind)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.subject)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.payload)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&self.created_at)?;
        out.push_sql(" WHERE NOT ");
        out.push_bind_param::<Bool, _>(&self.push_only)?;
        out.push_sql(
            " OR EXISTS (SELECT 1 FROM terugkoppeling_endpoints \
             WHERE status <> 'verwijderd' AND party = ",
        );
        out.push_bind_param::<Text, _>(&self.recipient)?;
        out.push_sql(" AND ");
        out.push_bind_param::<Text, _>(self.kind)?;
        out.push_sql(" = ANY (string_to_array(event_types, ' ')))");
        Ok(())
    }
}

/// Whether a kind is stored only for a subscribed recipient.
fn push_only(kind: &str) -> bool {
    kinds::kind(kind).is_some_and(|k| k.push_only)
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
