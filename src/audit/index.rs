//! The index of audit rows about several objects at once (`audit_objects`):
//! which rows name an object in `detail.getoond` (a search page's row, one
//! per page instead of one per request shown). It is derived from the
//! chained rows and filled after them, chain by chain in seq order, up to the
//! seq `audit_indexed` holds per chain; within a chain seq order is commit
//! order, so a row cannot be passed over by committing late.
//!
//! Filled in the background ([`spawn`]) and, before every query by object,
//! up to the present ([`catch_up`]), so such a query never misses a row.
//! Written per batch, sorted: a page wrote its twenty entries at twenty
//! random places of the index, which cost a search page as much as the rest
//! of its audit write (docs/benchmarks.md); a batch writes each place once.
//! The index is not evidence itself: the chained rows are, and it can be
//! rebuilt from them.

use std::time::Duration;

use diesel::prelude::*;

use super::SHOWN;
use crate::db::schema::{audit_chains, audit_indexed, audit_log, audit_objects};
use crate::db::{Db, DbConnection, DbError, DbResult, write_tx};

/// Rows read per chain and step: one step is one write transaction, so it
/// holds the SQLite writer for a few milliseconds at most.
const BATCH: i64 = 200;

/// How often the background pass looks for new rows. Queries catch up
/// themselves, so this only keeps their catching up short.
const EVERY: Duration = Duration::from_millis(200);

/// Indexes at most [`BATCH`] rows per chain past its mark and moves the
/// marks, in one write transaction; returns how many rows it read (0: the
/// index is complete).
pub fn step(conn: &mut DbConnection) -> DbResult<usize> {
    if complete(conn)? {
        return Ok(0);
    }
    write_tx::<_, DbError, _>(conn, |c| {
        let marks_query = audit_indexed::table
            .select((audit_indexed::chain, audit_indexed::seq))
            .order(audit_indexed::chain);
        // Another instance's pass waits here for this one (PostgreSQL).
        let marks: Vec<(i64, i64)> = match c {
            DbConnection::Pg(pg) => marks_query.for_update().load(pg)?,
            DbConnection::Sqlite(_) => marks_query.load(c)?,
        };
        let mut read = 0;
        let mut entries: Vec<(String, i64)> = Vec::new();
        for (chain, mark) in marks {
            let rows: Vec<(i64, i64, Option<String>, String)> = audit_log::table
                .filter(audit_log::chain.eq(chain))
                .filter(audit_log::seq.gt(mark))
                .order(audit_log::seq)
                .limit(BATCH)
                .select((
                    audit_log::id,
                    audit_log::seq.assume_not_null(),
                    audit_log::object_id,
                    audit_log::detail,
                ))
                .load(c)?;
            let Some(&(_, last, ..)) = rows.last() else {
                continue;
            };
            read += rows.len();
            for (id, _, object_id, detail) in rows {
                if object_id.is_none() {
                    entries.extend(shown(&detail).into_iter().map(|o| (o, id)));
                }
            }
            diesel::update(audit_indexed::table.find(chain))
                .set(audit_indexed::seq.eq(last))
                .execute(c)?;
        }
        entries.sort_unstable();
        entries.dedup();
        insert(c, &entries)?;
        Ok(read)
    })
}

/// Whether every chain's mark is at its head, read without a lock: an idle
/// service's pass then writes nothing (on PostgreSQL the marks' lock alone
/// would commit five times a second).
fn complete(conn: &mut DbConnection) -> DbResult<bool> {
    let behind: i64 = audit_chains::table
        .inner_join(audit_indexed::table.on(audit_indexed::chain.eq(audit_chains::chain)))
        .filter(audit_chains::seq.gt(audit_indexed::seq))
        .count()
        .get_result(conn)?;
    Ok(behind == 0)
}

/// The ids a row's detail names under `getoond`.
pub fn shown(detail: &str) -> Vec<String> {
    if !detail.contains(SHOWN) {
        return Vec::new();
    }
    #[derive(serde::Deserialize)]
    struct Shown {
        getoond: Vec<String>,
    }
    serde_json::from_str::<Shown>(detail)
        .map(|s| s.getoond)
        .unwrap_or_default()
}

fn insert(conn: &mut DbConnection, entries: &[(String, i64)]) -> DbResult<()> {
    // Well under SQLite's limit of bound values per statement.
    for chunk in entries.chunks(500) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(object, id)| {
                (
                    audit_objects::audit_id.eq(*id),
                    audit_objects::object_id.eq(object.as_str()),
                )
            })
            .collect();
        // Entries and marks move in one transaction, and passes take turns
        // (the marks' lock; SQLite's one writer): no entry is written twice.
        match conn {
            DbConnection::Pg(c) => diesel::insert_into(audit_objects::table)
                .values(&values)
                .execute(c)?,
            DbConnection::Sqlite(c) => diesel::insert_into(audit_objects::table)
                .values(&values)
                .execute(c)?,
        };
    }
    Ok(())
}

/// Indexes everything written so far: before a query by object.
pub fn catch_up(conn: &mut DbConnection) -> DbResult<usize> {
    let mut total = 0;
    loop {
        match step(conn)? {
            0 => return Ok(total),
            n => total += n,
        }
    }
}

/// The background pass: every [`EVERY`], steps until the index is complete.
pub fn spawn(db: Db) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            loop {
                match db.write(step).await {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "audit index pass failed; retrying later");
                        break;
                    }
                }
            }
        }
    })
}
