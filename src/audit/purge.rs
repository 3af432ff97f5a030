//! The retention purge of the audit log, chain by chain (docs/privacy.md
//! §3–4): a chain loses only its oldest rows, a prefix, and in the same
//! transaction the last row removed becomes the chain's anchor, so the
//! chain stays verifiable from there. Their entries in the index of rows
//! about several objects (`super::index`) go with them. Called by
//! `retention` for its audit rule, one batch per write transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::chain::{GENESIS, lock_lane};
use crate::db::schema::{audit_chains, audit_log, audit_objects};
use crate::db::{DbConnection, DbResult};

/// One batch of the retention purge: of the first chain (in lane order)
/// whose oldest row was written before `before`, the rows from its start up
/// to the first one that was not, at most `limit`; the last of them becomes
/// the chain's anchor. Rows never chained go by id in the same way. Runs in
/// the caller's write transaction. Returns the rows deleted and whether the
/// log is done (no chain has such a prefix left).
pub fn purge(
    conn: &mut DbConnection,
    before: NaiveDateTime,
    limit: i64,
) -> DbResult<(usize, bool)> {
    let chains: Vec<i64> = audit_chains::table
        .select(audit_chains::chain)
        .order(audit_chains::chain)
        .load(conn)?;
    for chain in chains {
        let prefix: Vec<(i64, NaiveDateTime, Option<String>)> = audit_log::table
            .filter(audit_log::chain.eq(chain))
            .order(audit_log::seq)
            .select((
                audit_log::seq.assume_not_null(),
                audit_log::at,
                audit_log::hash,
            ))
            .limit(limit)
            .load(conn)?;
        let old = prefix.iter().take_while(|(_, at, _)| *at < before).count();
        let Some((last, _, hash)) = old.checked_sub(1).and_then(|i| prefix.get(i)) else {
            continue;
        };
        // Lock the head: an append to this lane waits for the anchor.
        lock_lane(conn, Some(chain))?;
        let purged = audit_log::table
            .filter(audit_log::chain.eq(chain))
            .filter(audit_log::seq.le(*last))
            .select(audit_log::id);
        diesel::delete(audit_objects::table.filter(audit_objects::audit_id.eq_any(purged)))
            .execute(conn)?;
        let n = diesel::delete(
            audit_log::table
                .filter(audit_log::chain.eq(chain))
                .filter(audit_log::seq.le(*last)),
        )
        .execute(conn)?;
        diesel::update(audit_chains::table.find(chain))
            .set((
                audit_chains::anchor_seq.eq(*last),
                audit_chains::anchor_hash.eq(hash.as_deref().unwrap_or(GENESIS)),
                audit_chains::anchor_at.eq(Some(crate::db::now())),
            ))
            .execute(conn)?;
        return Ok((n, false));
    }
    let unchained: Vec<(i64, NaiveDateTime)> = audit_log::table
        .filter(audit_log::hash.is_null())
        .order(audit_log::id)
        .select((audit_log::id, audit_log::at))
        .limit(limit)
        .load(conn)?;
    let old = unchained.iter().take_while(|(_, at)| *at < before).count();
    let Some(&(last, _)) = old.checked_sub(1).and_then(|i| unchained.get(i)) else {
        return Ok((0, true));
    };
    let n = diesel::delete(
        audit_log::table
            .filter(audit_log::hash.is_null())
            .filter(audit_log::id.le(last)),
    )
    .execute(conn)?;
    Ok((n, false))
}

/// What [`purge`] would delete over all chains: per chain the rows before
/// its first one written since `before` (read only).
pub fn count_purgeable(conn: &mut DbConnection, before: NaiveDateTime) -> DbResult<u64> {
    let chains: Vec<i64> = audit_chains::table.select(audit_chains::chain).load(conn)?;
    let mut total: i64 = 0;
    for chain in chains {
        let first_kept: Option<i64> = audit_log::table
            .filter(audit_log::chain.eq(chain))
            .filter(audit_log::at.ge(before))
            .select(diesel::dsl::min(audit_log::seq))
            .first::<Option<i64>>(conn)?;
        let mut q = audit_log::table
            .filter(audit_log::chain.eq(chain))
            .into_boxed();
        if let Some(seq) = first_kept {
            q = q.filter(audit_log::seq.lt(seq));
        }
        total += q.count().get_result::<i64>(conn)?;
    }
    let first_kept: Option<i64> = audit_log::table
        .filter(audit_log::hash.is_null())
        .filter(audit_log::at.ge(before))
        .select(diesel::dsl::min(audit_log::id))
        .first::<Option<i64>>(conn)?;
    let mut q = audit_log::table
        .filter(audit_log::hash.is_null())
        .into_boxed();
    if let Some(id) = first_kept {
        q = q.filter(audit_log::id.lt(id));
    }
    total += q.count().get_result::<i64>(conn)?;
    Ok(u64::try_from(total).unwrap_or(0))
}
