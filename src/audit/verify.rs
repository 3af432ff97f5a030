//! `machtigingen audit verify`: walks every chain from its anchor to its
//! head, recomputing each row's hash, and reports per chain the first place
//! where the log is not what was written (`chain`).
//!
//! On the way it checks the index of rows about several objects
//! (`super::index`) against the rows it has covered: the index is not
//! evidence, but an entry removed from it would hide a search from a
//! patient's access overview.
//!
//! The walk reads one snapshot (a read-only `REPEATABLE READ` transaction
//! on PostgreSQL, a read transaction on SQLite), so rows appended or purged
//! meanwhile do not show up as breaks. It reads the whole log once, in pages
//! of [`PAGE`] rows along the `(chain, seq)` index.

use std::collections::HashMap;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde::Serialize;

use super::chain::{self, ChainedRow, Place};
use crate::db::schema::{audit_chains, audit_indexed, audit_log, audit_objects};
use crate::db::{DbConnection, DbResult};

const PAGE: i64 = 1000;

/// What is wrong at a place in a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Break {
    /// Rows between the previous one and this one are missing (deleted).
    Missing { from_seq: i64, to_seq: i64 },
    /// A row whose seq is at or before its predecessor's: slipped in, or a
    /// row the purge should have removed.
    OutOfOrder,
    /// The row names another predecessor than the one before it.
    PrevHash,
    /// The row's content no longer gives its hash: altered.
    Altered,
    /// The chain does not end where its head says: its newest rows were
    /// deleted, rows were added past it, or the head was moved.
    Truncated { head_seq: i64 },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing { from_seq, to_seq } => {
                write!(f, "row(s) seq {from_seq}..={to_seq} missing (deleted)")
            }
            Self::OutOfOrder => write!(f, "row out of order (inserted, or before the anchor)"),
            Self::PrevHash => write!(f, "previous-hash link does not match the row before"),
            Self::Altered => write!(f, "content does not match its hash (altered)"),
            Self::Truncated { head_seq } => {
                write!(
                    f,
                    "chain does not end at its head (head seq {head_seq}): newest rows deleted or rows added"
                )
            }
        }
    }
}

/// Where a chain first breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    #[serde(flatten)]
    pub what: Break,
    /// The row at which the break shows (`None`: at the chain's end).
    pub row_id: Option<i64>,
    pub seq: Option<i64>,
}

/// One chain's walk.
#[derive(Debug, Clone, Serialize)]
pub struct ChainReport {
    pub chain: i64,
    pub anchor_seq: i64,
    pub anchor_hash: String,
    /// Rows checked (up to the first break).
    pub rows: u64,
    pub head_seq: i64,
    pub head_hash: String,
    pub first_break: Option<Finding>,
}

/// The whole log's verification.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub chains: Vec<ChainReport>,
    /// Rows in no chain (never chained, or a chain that does not exist):
    /// the first such row's id, and how many.
    pub unchained: u64,
    pub first_unchained_id: Option<i64>,
    /// All rows of the log.
    pub total_rows: u64,
    pub index: IndexCheck,
}

/// The index of rows about several objects against the rows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IndexCheck {
    /// Entries in the index.
    pub entries: u64,
    /// Rows whose entries are not the objects they name (up to the index's
    /// mark; past it, none), and the first of them.
    pub rows_differing: u64,
    pub first_row_id: Option<i64>,
    /// Entries whose audit row does not exist.
    pub stray: u64,
}

impl IndexCheck {
    pub fn ok(&self) -> bool {
        self.rows_differing == 0 && self.stray == 0
    }
}

impl Report {
    /// The first break over all chains, for a one-line answer.
    pub fn first_break(&self) -> Option<(i64, &Finding)> {
        self.chains
            .iter()
            .find_map(|c| c.first_break.as_ref().map(|f| (c.chain, f)))
    }
}

/// Verifies every chain in one snapshot.
pub fn verify(conn: &mut DbConnection) -> DbResult<Report> {
    let begin = match conn {
        DbConnection::Pg(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        DbConnection::Sqlite(_) => "BEGIN",
    };
    conn.batch_execute(begin)?;
    let result = walk(conn);
    // Read only: ending it either way changes nothing.
    let end = conn.batch_execute(if result.is_ok() { "COMMIT" } else { "ROLLBACK" });
    let report = result?;
    end?;
    Ok(report)
}

type HeadRow = (i64, i64, String, i64, String);

fn walk(conn: &mut DbConnection) -> DbResult<Report> {
    let heads: Vec<HeadRow> = audit_chains::table
        .select((
            audit_chains::chain,
            audit_chains::seq,
            audit_chains::hash,
            audit_chains::anchor_seq,
            audit_chains::anchor_hash,
        ))
        .order(audit_chains::chain)
        .load(conn)?;
    let marks: HashMap<i64, i64> = audit_indexed::table
        .select((audit_indexed::chain, audit_indexed::seq))
        .load(conn)?
        .into_iter()
        .collect();
    let mut index = IndexCheck::default();
    let mut chains = Vec::new();
    let mut walked: u64 = 0;
    for head in heads {
        let mark = marks.get(&head.0).copied().unwrap_or(0);
        let (report, rows) = walk_chain(conn, head, mark, &mut index)?;
        walked += rows;
        chains.push(report);
    }
    let entries: i64 = audit_objects::table.count().get_result(conn)?;
    let stray: i64 = audit_objects::table
        .filter(diesel::dsl::not(
            audit_objects::audit_id.eq_any(audit_log::table.select(audit_log::id)),
        ))
        .count()
        .get_result(conn)?;
    index.entries = u64::try_from(entries).unwrap_or(0);
    index.stray = u64::try_from(stray).unwrap_or(0);
    let total: i64 = audit_log::table.count().get_result(conn)?;
    let total = u64::try_from(total).unwrap_or(0);
    let first_unchained_id: Option<i64> = audit_log::table
        .filter(audit_log::hash.is_null().or(audit_log::chain.is_null()))
        .select(diesel::dsl::min(audit_log::id))
        .first::<Option<i64>>(conn)?;
    let unchained = total.saturating_sub(walked);
    let ok = unchained == 0 && chains.iter().all(|c| c.first_break.is_none()) && index.ok();
    Ok(Report {
        ok,
        chains,
        unchained,
        first_unchained_id,
        total_rows: total,
        index,
    })
}

/// Walks one chain, checking its index entries up to `mark` on the way;
/// returns its report and how many rows it holds.
fn walk_chain(
    conn: &mut DbConnection,
    head: HeadRow,
    mark: i64,
    index: &mut IndexCheck,
) -> DbResult<(ChainReport, u64)> {
    let (chain, head_seq, head_hash, anchor_seq, anchor_hash) = head;
    let mut report = ChainReport {
        chain,
        anchor_seq,
        anchor_hash: anchor_hash.clone(),
        rows: 0,
        head_seq,
        head_hash: head_hash.clone(),
        first_break: None,
    };
    let mut prev_seq = anchor_seq;
    let mut prev_hash = anchor_hash;
    let mut after = i64::MIN;
    let mut held: u64 = 0;
    loop {
        let page: Vec<ChainedRow> = audit_log::table
            .filter(audit_log::chain.eq(chain))
            .filter(audit_log::seq.gt(after))
            .order(audit_log::seq)
            .select(ChainedRow::as_select())
            .limit(PAGE)
            .load(conn)?;
        let Some(last) = page.last() else { break };
        after = last.seq.unwrap_or(i64::MAX);
        held += page.len() as u64;
        check_index(conn, &page, mark, index)?;
        for row in &page {
            if report.first_break.is_some() {
                continue;
            }
            match check(row, chain, prev_seq, &prev_hash)? {
                Some(what) => {
                    report.first_break = Some(Finding {
                        what,
                        row_id: Some(row.id),
                        seq: row.seq,
                    });
                }
                None => {
                    report.rows += 1;
                    prev_seq = row.seq.unwrap_or(prev_seq);
                    prev_hash = row.hash.clone().unwrap_or_default();
                }
            }
        }
    }
    if report.first_break.is_none() && (prev_seq != head_seq || prev_hash != head_hash) {
        report.first_break = Some(Finding {
            what: Break::Truncated { head_seq },
            row_id: None,
            seq: Some(prev_seq + 1),
        });
    }
    Ok((report, held))
}

/// Compares the index entries of `page`'s rows with the objects they name
/// (none past `mark`).
fn check_index(
    conn: &mut DbConnection,
    page: &[ChainedRow],
    mark: i64,
    index: &mut IndexCheck,
) -> DbResult<()> {
    let ids: Vec<i64> = page.iter().map(|r| r.id).collect();
    let mut found: HashMap<i64, Vec<String>> = HashMap::new();
    let entries: Vec<(i64, String)> = audit_objects::table
        .filter(audit_objects::audit_id.eq_any(ids))
        .select((audit_objects::audit_id, audit_objects::object_id))
        .load(conn)?;
    for (id, object) in entries {
        found.entry(id).or_default().push(object);
    }
    for row in page {
        let mut want = match (row.seq, &row.object_id) {
            (Some(seq), None) if seq <= mark => super::index::shown(&row.detail),
            _ => Vec::new(),
        };
        want.sort_unstable();
        want.dedup();
        let mut got = found.remove(&row.id).unwrap_or_default();
        got.sort_unstable();
        if want != got {
            index.rows_differing += 1;
            index.first_row_id.get_or_insert(row.id);
        }
    }
    Ok(())
}

/// The break `row` shows after a predecessor (`prev_seq`, `prev_hash`).
fn check(row: &ChainedRow, chain: i64, prev_seq: i64, prev_hash: &str) -> DbResult<Option<Break>> {
    let seq = row.seq.unwrap_or(i64::MIN);
    if seq <= prev_seq {
        return Ok(Some(Break::OutOfOrder));
    }
    if seq > prev_seq + 1 {
        return Ok(Some(Break::Missing {
            from_seq: prev_seq + 1,
            to_seq: seq - 1,
        }));
    }
    if row.prev_hash.as_deref() != Some(prev_hash) {
        return Ok(Some(Break::PrevHash));
    }
    let want = chain::hash(
        Place {
            chain,
            seq,
            prev_hash,
        },
        &row.content(),
    );
    if row.hash.as_deref() != Some(want.as_str()) {
        return Ok(Some(Break::Altered));
    }
    Ok(None)
}
