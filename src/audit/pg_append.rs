//! PostgreSQL: a transaction's chained audit rows and the move of their
//! lane's head as one statement that each connection prepares once.
//!
//! The rows travel as one array per column (`unnest`), so the statement's
//! text is the same for one row or twenty. A `VALUES` list with a
//! placeholder per cell (the form before) was new text for every row count
//! and, being `sql_query`, was parsed and planned again at every commit
//! — every submit's and decision's, and a search page's twenty rows.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
use diesel::{QueryResult, RunQueryDsl};

use super::chain::Content;

/// The rows of one lane, in seq order, with the head they leave behind.
pub(super) struct Append {
    chain: i64,
    at: Vec<NaiveDateTime>,
    fingerprint: Vec<Option<String>>,
    actor: Vec<String>,
    acting_for: Vec<Option<String>>,
    action: Vec<String>,
    object_type: Vec<String>,
    object_id: Vec<Option<String>>,
    outcome: Vec<String>,
    detail: Vec<String>,
    seq: Vec<i64>,
    prev_hash: Vec<String>,
    hash: Vec<String>,
    /// The last row's seq and hash: the lane's new head.
    head: (i64, String),
}

impl Append {
    /// `linked`: each row with its seq, previous hash and own hash.
    pub(super) fn new(chain: i64, linked: Vec<(Content, i64, String, String)>) -> Self {
        let n = linked.len();
        let head = linked
            .last()
            .map_or((0, String::new()), |(_, seq, _, hash)| (*seq, hash.clone()));
        let mut a = Append {
            chain,
            head,
            at: Vec::with_capacity(n),
            fingerprint: Vec::with_capacity(n),
            actor: Vec::with_capacity(n),
            acting_for: Vec::with_capacity(n),
            action: Vec::with_capacity(n),
            object_type: Vec::with_capacity(n),
            object_id: Vec::with_capacity(n),
            outcome: Vec::with_capacity(n),
            detail: Vec::with_capacity(n),
            seq: Vec::with_capacity(n),
            prev_hash: Vec::with_capacity(n),
            hash: Vec::with_capacity(n),
        };
        for (c, seq, prev_hash, hash) in linked {
            a.at.push(c.at);
            a.fingerprint.push(c.fingerprint);
            a.actor.push(c.actor);
            a.acting_for.push(c.acting_for);
            a.action.push(c.action);
            a.object_type.push(c.object_type);
            a.object_id.push(c.object_id);
            a.outcome.push(c.outcome);
            a.detail.push(c.detail);
            a.seq.push(seq);
            a.prev_hash.push(prev_hash);
            a.hash.push(hash);
        }
        a
    }
}

impl QueryFragment<Pg> for Append {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "WITH new_rows AS (INSERT INTO audit_log (at, fingerprint, actor, acting_for, \
             action, object_type, object_id, outcome, detail, chain, seq, prev_hash, hash) \
             SELECT r.at, r.fingerprint, r.actor, r.acting_for, r.action, r.object_type, \
             r.object_id, r.outcome, r.detail, ",
        );
        out.push_bind_param::<BigInt, _>(&self.chain)?;
        out.push_sql(", r.seq, r.prev_hash, r.hash FROM unnest(");
        out.push_bind_param::<Array<Timestamp>, _>(&self.at)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.fingerprint)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.actor)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.acting_for)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.action)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.object_type)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.object_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.outcome)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.detail)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<BigInt>, _>(&self.seq)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.prev_hash)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.hash)?;
        // The last row's seq and hash are the lane's new head.
        out.push_sql(
            ") AS r(at, fingerprint, actor, acting_for, action, object_type, object_id, \
             outcome, detail, seq, prev_hash, hash)) UPDATE audit_chains SET seq = ",
        );
        out.push_bind_param::<BigInt, _>(&self.head.0)?;
        out.push_sql(", hash = ");
        out.push_bind_param::<Text, _>(&self.head.1)?;
        out.push_sql(" WHERE chain = ");
        out.push_bind_param::<BigInt, _>(&self.chain)?;
        Ok(())
    }
}

/// A fixed text, so diesel keeps the prepared statement by this type.
impl QueryId for Append {
    type QueryId = Append;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl RunQueryDsl<diesel::PgConnection> for Append {}
