//! Insurer-side queries: the inbox (pull with acknowledge) and a granted
//! machtiging by its number.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{insurer_inbox as ib, machtigingsaanvragen as ma};
use crate::db::{DbConnection, DbResult, now};
use crate::ids::MachtigingId;

/// One inbox entry: a new or changed request for the insurer.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = ib)]
#[serde(rename_all = "camelCase")]
pub struct InboxEntry {
    #[serde(rename = "inboxId")]
    pub id: i64,
    #[serde(skip)]
    pub uzovi: String,
    #[serde(rename = "machtigingsaanvraagId")]
    #[diesel(deserialize_as = String)]
    #[schema(value_type = String)]
    pub request_id: MachtigingId,
    #[serde(skip)]
    pub event_id: i64,
    #[serde(rename = "soort")]
    pub action: String,
    pub status: String,
    #[serde(rename = "tijdstip", serialize_with = "crate::json_time::utc")]
    pub created_at: NaiveDateTime,
    #[serde(skip)]
    pub acked_at: Option<NaiveDateTime>,
}

/// The oldest unacknowledged entries. No cursor: whatever is not acknowledged
/// comes again, and an entry that commits after a later id is still found.
pub fn pending(conn: &mut DbConnection, uzovi: &str, max: i64) -> DbResult<Vec<InboxEntry>> {
    Ok(ib::table
        .filter(ib::uzovi.eq(uzovi))
        .filter(ib::acked_at.is_null())
        .order(ib::id.asc())
        .limit(max)
        .select(InboxEntry::as_select())
        .load(conn)?)
}

/// Acknowledges entries of this insurer; returns how many were new.
pub fn acknowledge(conn: &mut DbConnection, uzovi: &str, ids: &[i64]) -> DbResult<usize> {
    Ok(diesel::update(
        ib::table
            .filter(ib::uzovi.eq(uzovi))
            .filter(ib::id.eq_any(ids))
            .filter(ib::acked_at.is_null()),
    )
    .set(ib::acked_at.eq(Some(now())))
    .execute(conn)?)
}

/// The request holding this Machtigingsnummer at this insurer.
pub fn by_number(
    conn: &mut DbConnection,
    uzovi: &str,
    number: &str,
) -> DbResult<Option<MachtigingId>> {
    let id: Option<String> = ma::table
        .filter(ma::uzovi.eq(uzovi))
        .filter(ma::machtigingsnummer.eq(number))
        .select(ma::id)
        .first(conn)
        .optional()?;
    Ok(id.map(|id| id.parse()).transpose()?)
}
