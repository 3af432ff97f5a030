//! Leasing due deliveries: which are due (FIFO per subject, free slots
//! per endpoint), taking the lease, and what sending them needs. PostgreSQL
//! takes them with `FOR UPDATE SKIP LOCKED`, so several instances share the
//! work; SQLite has one dispatcher and `BEGIN IMMEDIATE`.

use std::collections::HashMap;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Text, Timestamp};

use super::endpoints::Endpoint;
use super::queue::{PgPlanLine, SqlitePlanLine, add, in_tx};
use crate::db::pg_prepared::{Statement, bind, prepared};
use crate::db::schema::{
    terugkoppeling_deliveries as del, terugkoppeling_endpoints, terugkoppelingen as tk,
};
use crate::db::{DbConnection, DbResult, write_tx};
use crate::ids::TerugkoppelingId;

/// A due delivery as [`LEASE`] finds it.
#[derive(QueryableByName, Debug, Clone)]
struct Candidate {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    endpoint_id: i64,
}

/// The due deliveries, oldest first: not leased by anyone, on an active
/// endpoint that is not saturated here (`$3`), and first in line for
/// their subject (FIFO): no earlier delivery of the subject to the endpoint
/// still waiting, and no earlier terugkoppeling of the subject not yet fanned
/// out. The second half matters with several instances: one may fan out a
/// later row while another still holds the earlier one (`SKIP LOCKED`). It
/// is a scalar subquery, not `NOT EXISTS`, on purpose: PostgreSQL turned the
/// `NOT EXISTS` into one hash anti-join of the whole outbox with the whole
/// fan-out table per lease (O(outbox) each round); a subquery is evaluated per
/// candidate, two index probes through the subject's few rows.
const LEASE: &str = "SELECT d.id, d.endpoint_id FROM terugkoppeling_deliveries d \
    JOIN terugkoppeling_endpoints e ON e.id = d.endpoint_id \
    WHERE d.status = 'wachtend' AND d.next_attempt_at <= $1 \
    AND (d.lease_until IS NULL OR d.lease_until < $1) AND e.status = 'actief' \
    AND d.endpoint_id <> ALL($3) \
    AND NOT EXISTS (SELECT 1 FROM terugkoppeling_deliveries p WHERE p.endpoint_id = d.endpoint_id \
        AND p.subject_id = d.subject_id AND p.status = 'wachtend' AND p.terugkoppeling_id < d.terugkoppeling_id) \
    AND (SELECT t.id FROM terugkoppelingen t WHERE t.subject_id = d.subject_id \
        AND t.id < d.terugkoppeling_id \
        AND NOT EXISTS (SELECT 1 FROM terugkoppeling_fanout f WHERE f.terugkoppeling_id = t.id) \
        LIMIT 1) IS NULL \
    ORDER BY d.next_attempt_at, d.id LIMIT $2 FOR UPDATE OF d SKIP LOCKED";

/// [`LEASE`], prepared once per connection.
struct LeasePg;
impl Statement for LeasePg {
    const SQL: &'static str = LEASE;
}

/// [`LEASE`] as SQLite takes it: no row locks (one dispatcher, `BEGIN
/// IMMEDIATE`) and no arrays, so the saturated endpoints (ids, so safe to
/// write into the statement) are written out.
fn lease_sqlite(saturated: &[i64]) -> String {
    let ids: Vec<String> = saturated.iter().map(i64::to_string).collect();
    let skip = if ids.is_empty() {
        String::new()
    } else {
        format!("AND d.endpoint_id NOT IN ({}) ", ids.join(","))
    };
    LEASE
        .replace(" FOR UPDATE OF d SKIP LOCKED", "")
        .replace("AND d.endpoint_id <> ALL($3) ", &skip)
        .replace("$1", "?1")
        .replace("$2", "?2")
}

/// The plan wanted for [`LEASE`] on PostgreSQL is a walk of the due index in
/// order that stops at the limit. After a burst (statistics not yet
/// analyzed) the planner believed few rows waited and chose to read every
/// waiting delivery and sort them: 38 ms instead of 3 with 10,000 waiting,
/// every round. Applies to the rest of the transaction.
fn walk_in_order(c: &mut diesel::PgConnection) -> QueryResult<()> {
    c.batch_execute(WALK_IN_ORDER)
}

const WALK_IN_ORDER: &str = "SET LOCAL enable_sort = off";

/// For the rest of a dispatcher round's transaction on PostgreSQL, in one
/// round trip: [`WALK_IN_ORDER`] for [`lease`]; a plan made for each call
/// of the round's prepared statements (the queue swings from empty to a
/// burst, and a generic plan made while it was empty would be kept — only
/// the parse is saved); and a commit that does not
/// wait for the WAL flush — nothing in a round needs to survive a crash: a
/// fan-out lost with it is done again (the outbox row is durable,
/// committed by the decision), a lost lease was never taken. Waiting for
/// the flush under load made every round, and so every callback's start,
/// wait tens of milliseconds.
pub fn round_settings(conn: &mut DbConnection) -> DbResult<()> {
    if let DbConnection::Pg(c) = conn {
        c.batch_execute(&format!(
            "SET LOCAL synchronous_commit = off; SET LOCAL plan_cache_mode = force_custom_plan; \
             {WALK_IN_ORDER}"
        ))?;
    }
    Ok(())
}

/// The plan of the lease query as [`lease`] runs it, one line per step
/// (`EXPLAIN` on PostgreSQL, `EXPLAIN QUERY PLAN` on SQLite), so a test can
/// hold the plan to the one it was built for.
pub fn lease_plan(conn: &mut DbConnection, now: NaiveDateTime) -> DbResult<Vec<String>> {
    write_tx(conn, |conn| -> DbResult<Vec<String>> {
        Ok(match conn {
            DbConnection::Pg(c) => {
                walk_in_order(c)?;
                diesel::sql_query(format!("EXPLAIN {LEASE}"))
                    .bind::<Timestamp, _>(now)
                    .bind::<BigInt, _>(512)
                    .bind::<Array<BigInt>, _>(Vec::<i64>::new())
                    .load::<PgPlanLine>(c)?
                    .into_iter()
                    .map(|l| l.line)
                    .collect()
            }
            DbConnection::Sqlite(c) => {
                diesel::sql_query(format!("EXPLAIN QUERY PLAN {}", lease_sqlite(&[])))
                    .bind::<Timestamp, _>(now)
                    .bind::<BigInt, _>(512)
                    .load::<SqlitePlanLine>(c)?
                    .into_iter()
                    .map(|l| l.detail)
                    .collect()
            }
        })
    })
}

/// A leased delivery with everything needed to send it.
#[derive(Debug, Clone)]
pub struct Leased {
    pub delivery_id: i64,
    pub attempts: i32,
    pub public_id: TerugkoppelingId,
    /// The party it is for; another than the endpoint's for a vendor.
    pub recipient: String,
    pub event_type: String,
    pub payload: String,
    pub created_at: NaiveDateTime,
    pub endpoint: Endpoint,
}

/// Leases up to `free(endpoint)` due deliveries per endpoint, at most
/// `limit` in all, for `lease`. Endpoints with no free slot are not looked
/// at: with a backlog, their deliveries would otherwise fill the candidate
/// list every round only to be passed over. Run in a transaction after
/// [`round_settings`] (on PostgreSQL the plan depends on it).
pub fn lease(
    conn: &mut DbConnection,
    owner: &str,
    limit: i64,
    lease: Duration,
    free: &HashMap<i64, usize>,
    default_free: usize,
    now: NaiveDateTime,
) -> DbResult<Vec<Leased>> {
    let until = add(now, lease);
    let saturated: Vec<i64> = free
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(id, _)| *id)
        .collect();
    let leased = in_tx(conn, |conn| -> DbResult<Vec<Leased>> {
        // Some room beyond `limit`: an endpoint with a few free slots may
        // have many candidates in front of another's.
        let ask = limit.saturating_mul(2);
        let cands: Vec<Candidate> = match conn {
            DbConnection::Pg(c) => prepared::<LeasePg, _>((
                bind::<Timestamp, _>(now),
                bind::<BigInt, _>(ask),
                bind::<Array<BigInt>, _>(&saturated),
            ))
            .load(c)?,
            DbConnection::Sqlite(c) => diesel::sql_query(lease_sqlite(&saturated))
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(ask)
                .load(c)?,
        };
        let ids = pick(cands, limit, free, default_free);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        match conn {
            DbConnection::Pg(c) => take_pg(c, &ids, owner, until, now),
            DbConnection::Sqlite(_) => {
                diesel::update(del::table.filter(del::id.eq_any(&ids)))
                    .set((
                        del::lease_owner.eq(owner),
                        del::lease_until.eq(until),
                        del::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                load_leased(conn, &ids)
            }
        }
    })?;
    super::intermediary::lapse_unconsented(conn, leased, now)
}

/// Of the candidates (oldest first), at most `limit` in all and
/// `free(endpoint)` per endpoint.
fn pick(
    cands: Vec<Candidate>,
    limit: i64,
    free: &HashMap<i64, usize>,
    default_free: usize,
) -> Vec<i64> {
    let mut taken: HashMap<i64, usize> = HashMap::new();
    let mut ids = Vec::new();
    for c in cands {
        if ids.len() as i64 >= limit {
            break;
        }
        let used = taken.entry(c.endpoint_id).or_default();
        if *used >= free.get(&c.endpoint_id).copied().unwrap_or(default_free) {
            continue;
        }
        *used += 1;
        ids.push(c.id);
    }
    ids
}

/// A leased delivery as [`TAKE_PG`] returns it.
#[derive(QueryableByName)]
struct TakenRow {
    #[diesel(sql_type = BigInt)]
    delivery_id: i64,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Text)]
    public_id: String,
    #[diesel(sql_type = Text)]
    recipient: String,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = Text)]
    payload: String,
    #[diesel(sql_type = Timestamp)]
    terugkoppeling_created_at: NaiveDateTime,
    #[diesel(embed)]
    endpoint: Endpoint,
}

/// Takes the lease on `$4` and returns what sending needs, in one round
/// trip (SQLite cannot return columns of the joined tables: an update and
/// a read there, [`load_leased`]).
const TAKE_PG: &str = "UPDATE terugkoppeling_deliveries d \
    SET lease_owner = $1, lease_until = $2, updated_at = $3 \
    FROM terugkoppelingen t, terugkoppeling_endpoints e \
    WHERE d.id = ANY($4) AND t.id = d.terugkoppeling_id AND e.id = d.endpoint_id \
    RETURNING d.id AS delivery_id, d.attempts, t.public_id, t.recipient, t.event_type, t.payload, \
        t.created_at AS terugkoppeling_created_at, e.id, e.party, e.url, e.format, e.ca_bundle, \
        e.event_types, e.secret, e.previous_secret, e.previous_secret_until, e.status, \
        e.disabled_reason, e.failing_since, e.created_at, e.updated_at";

/// [`TAKE_PG`], prepared once per connection.
struct TakePg;
impl Statement for TakePg {
    const SQL: &'static str = TAKE_PG;
}

fn take_pg(
    c: &mut diesel::PgConnection,
    ids: &[i64],
    owner: &str,
    until: NaiveDateTime,
    now: NaiveDateTime,
) -> DbResult<Vec<Leased>> {
    let mut rows: Vec<TakenRow> = prepared::<TakePg, _>((
        bind::<Text, _>(owner),
        bind::<Timestamp, _>(until),
        bind::<Timestamp, _>(now),
        bind::<Array<BigInt>, _>(ids),
    ))
    .load(c)?;
    rows.sort_unstable_by_key(|r| r.delivery_id);
    rows.into_iter()
        .map(|r| {
            Ok(Leased {
                delivery_id: r.delivery_id,
                attempts: r.attempts,
                public_id: r.public_id.parse()?,
                recipient: r.recipient,
                event_type: r.event_type,
                payload: r.payload,
                created_at: r.terugkoppeling_created_at,
                endpoint: r.endpoint,
            })
        })
        .collect()
}

/// The leased deliveries `ids` with what sending needs, in id order.
fn load_leased(conn: &mut DbConnection, ids: &[i64]) -> DbResult<Vec<Leased>> {
    type Row = (
        i64,
        i32,
        String,
        String,
        String,
        String,
        NaiveDateTime,
        Endpoint,
    );
    let rows: Vec<Row> = del::table
        .inner_join(tk::table.on(tk::id.eq(del::terugkoppeling_id)))
        .inner_join(
            terugkoppeling_endpoints::table.on(terugkoppeling_endpoints::id.eq(del::endpoint_id)),
        )
        .filter(del::id.eq_any(ids))
        .select((
            del::id,
            del::attempts,
            tk::public_id,
            tk::recipient,
            tk::event_type,
            tk::payload,
            tk::created_at,
            Endpoint::as_select(),
        ))
        .order(del::id)
        .load(conn)?;
    rows.into_iter()
        .map(
            |(delivery_id, attempts, id, recipient, event_type, payload, at, endpoint)| {
                Ok(Leased {
                    delivery_id,
                    attempts,
                    public_id: id.parse()?,
                    recipient,
                    event_type,
                    payload,
                    created_at: at,
                    endpoint,
                })
            },
        )
        .collect()
}
