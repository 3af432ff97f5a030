//! Insurer-side queries: the inbox (pull with acknowledge), a granted
//! machtiging by its number, and the retention purge.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::schema::{insurer_inbox as ib, machtiging_events as ev, machtigingsaanvragen as ma};
use crate::db::{DbConnection, DbResult, now};

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
    pub request_id: String,
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
pub fn by_number(conn: &mut DbConnection, uzovi: &str, number: &str) -> DbResult<Option<String>> {
    Ok(ma::table
        .filter(ma::uzovi.eq(uzovi))
        .filter(ma::machtigingsnummer.eq(number))
        .select(ma::id)
        .first(conn)
        .optional()?)
}

/// What a purge removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Purged {
    pub aanvragen: usize,
    pub gebeurtenissen: usize,
    pub inbox: usize,
}

/// Removes requests (with their history and inbox entries) whose machtiging
/// ended before `cutoff`, or that ended without one (rejected, withdrawn)
/// before `cutoff_time`. Only counts are reported.
pub fn purge(
    conn: &mut DbConnection,
    cutoff: NaiveDate,
    cutoff_time: NaiveDateTime,
) -> DbResult<Purged> {
    let expired = ma::table
        .filter(
            ma::geldig_tot.lt(cutoff).or(ma::geldig_tot.is_null().and(
                ma::status
                    .eq_any(["Afgewezen", "Ingetrokken", "Concept"])
                    .and(ma::updated_at.lt(cutoff_time)),
            )),
        )
        .select(ma::id);
    let ids: Vec<String> = expired.load(conn)?;
    if ids.is_empty() {
        return Ok(Purged::default());
    }
    let mut p = Purged::default();
    for chunk in ids.chunks(500) {
        p.inbox += diesel::delete(ib::table.filter(ib::request_id.eq_any(chunk))).execute(conn)?;
        p.gebeurtenissen +=
            diesel::delete(ev::table.filter(ev::request_id.eq_any(chunk))).execute(conn)?;
        p.aanvragen += diesel::delete(ma::table.filter(ma::id.eq_any(chunk))).execute(conn)?;
    }
    Ok(p)
}
