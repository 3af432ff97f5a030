//! The delivery queue in the database: fan-out of outbox rows into one
//! delivery per matching endpoint, leasing due deliveries (PostgreSQL: `FOR
//! UPDATE SKIP LOCKED`, so several instances share the work; SQLite: one
//! dispatcher, `BEGIN IMMEDIATE`); recording attempts is in [`super::record`].
//!
//! FIFO per subject: a delivery is due only when no earlier terugkoppeling
//! (lower outbox id) with the same subject for the same endpoint is still
//! waiting. A dead letter no longer waits, so it unblocks the queue behind it
//! (see docs/callbacks.md).

use std::collections::HashMap;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};

use super::endpoints::{Endpoint, VERWIJDERD};
use crate::db::schema::{
    terugkoppeling_deliveries as del, terugkoppeling_endpoints, terugkoppeling_fanout as fan,
    terugkoppeling_state as state, terugkoppelingen as tk,
};
use crate::db::{DbConnection, DbError, DbResult, write_tx};
use crate::ids::TerugkoppelingId;

pub const WACHTEND: &str = "wachtend";
pub const AFGELEVERD: &str = "afgeleverd";
pub const DOOD: &str = "dood";
pub const VERVALLEN: &str = "vervallen";

pub(super) const LOW_WATER: &str = "fanout_low_water";
/// Outbox rows this old are assumed committed; the low-water mark never
/// passes a younger row, so a slow transaction's row is still fanned out.
const SETTLE: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

pub(super) fn add(t: NaiveDateTime, d: Duration) -> NaiveDateTime {
    t + chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::days(365))
}

#[derive(QueryableByName, Debug)]
struct Unfanned {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    recipient: String,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = Text)]
    subject_id: String,
}

/// The outbox rows after `$1` not yet fanned out, oldest first. The bound
/// on `f` repeats the one on `t` on purpose: PostgreSQL does not carry an
/// inequality across a join, and without it chose a merge anti-join that
/// read the fan-out table's index from its first row (20 ms per round with
/// 20,000 rows above the low-water mark, however few rows were new).
const FANOUT_PG: &str = "SELECT t.id, t.recipient, t.event_type, t.subject_id FROM terugkoppelingen t \
    WHERE t.id > $1 AND NOT EXISTS (SELECT 1 FROM terugkoppeling_fanout f \
        WHERE f.terugkoppeling_id = t.id AND f.terugkoppeling_id > $1) \
    ORDER BY t.id LIMIT $2 FOR UPDATE OF t SKIP LOCKED";
const FANOUT_SQLITE: &str = "SELECT t.id, t.recipient, t.event_type, t.subject_id FROM terugkoppelingen t \
    WHERE t.id > ?1 AND NOT EXISTS (SELECT 1 FROM terugkoppeling_fanout f \
        WHERE f.terugkoppeling_id = t.id AND f.terugkoppeling_id > ?1) \
    ORDER BY t.id LIMIT ?2";

/// `f` inside the caller's write transaction when there is one, without a
/// savepoint of its own: on PostgreSQL that is two round trips per call
/// undoing nothing the caller's rollback does not (every caller passes the
/// error on); otherwise in a write transaction of its own.
fn in_tx<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> DbResult<T>,
) -> DbResult<T> {
    if crate::db::in_transaction(conn)? {
        f(conn)
    } else {
        write_tx(conn, f)
    }
}

fn low_water(conn: &mut DbConnection) -> DbResult<i64> {
    Ok(state::table
        .find(LOW_WATER)
        .select(state::value)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// A delivery as it starts: waiting, due at once, never attempted.
#[derive(Insertable)]
#[diesel(table_name = del)]
pub struct NewDelivery<'a> {
    terugkoppeling_id: i64,
    endpoint_id: i64,
    subject_id: &'a str,
    status: &'static str,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl<'a> NewDelivery<'a> {
    pub fn due(
        terugkoppeling_id: i64,
        endpoint_id: i64,
        subject_id: &'a str,
        now: NaiveDateTime,
    ) -> Self {
        Self {
            terugkoppeling_id,
            endpoint_id,
            subject_id,
            status: WACHTEND,
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Turns new outbox rows into deliveries for the recipients' endpoints
/// (subscribed to the event type, not removed). A recipient without an
/// endpoint gets none: the terugkoppeling is then only available by pull.
///
/// Looks at rows above `after` (and above the low-water mark): the
/// dispatcher passes the last row it handled, so a round looks only at rows
/// written since, and 0 now and then to find rows that committed after a
/// higher one (PostgreSQL's concurrent transactions).
/// Returns how many outbox rows were handled and the highest id among them.
pub fn fan_out(
    conn: &mut DbConnection,
    after: i64,
    limit: i64,
    now: NaiveDateTime,
) -> DbResult<(usize, i64)> {
    in_tx(conn, |conn| {
        let low = low_water(conn)?.max(after);
        let rows: Vec<Unfanned> = match conn {
            DbConnection::Pg(c) => diesel::sql_query(FANOUT_PG)
                .bind::<BigInt, _>(low)
                .bind::<BigInt, _>(limit)
                .load(c)?,
            DbConnection::Sqlite(c) => diesel::sql_query(FANOUT_SQLITE)
                .bind::<BigInt, _>(low)
                .bind::<BigInt, _>(limit)
                .load(c)?,
        };
        let Some(last) = rows.last().map(|r| r.id) else {
            return Ok((0, after));
        };
        let recipients: Vec<&str> = rows.iter().map(|r| r.recipient.as_str()).collect();
        // Vendors serving a recipient (a provider) receive its terugkoppeling too.
        let served = super::intermediary::Served::load(conn, &recipients, now.date())?;
        let parties: Vec<&str> = recipients.iter().copied().chain(served.vendors()).collect();
        let eps: Vec<Endpoint> = terugkoppeling_endpoints::table
            .filter(terugkoppeling_endpoints::party.eq_any(&parties))
            .filter(terugkoppeling_endpoints::status.ne(VERWIJDERD))
            .select(Endpoint::as_select())
            .load(conn)?;
        // One multi-row insert per table: on PostgreSQL every statement is a
        // round trip, and a round fans out up to `limit` rows.
        let fanned: Vec<_> = rows
            .iter()
            .map(|r| (fan::terugkoppeling_id.eq(r.id), fan::at.eq(now)))
            .collect();
        let deliveries: Vec<_> = rows
            .iter()
            .flat_map(|r| {
                eps.iter()
                    .filter(|e| served.receives(e, &r.recipient, &r.event_type))
                    .map(move |e| NewDelivery::due(r.id, e.id, &r.subject_id, now))
            })
            .collect();
        // Batch inserts are per backend: the multi-backend connection has no
        // common form for them.
        match conn {
            DbConnection::Pg(c) => {
                diesel::insert_into(fan::table).values(&fanned).execute(c)?;
                if !deliveries.is_empty() {
                    diesel::insert_into(del::table)
                        .values(&deliveries)
                        .execute(c)?;
                }
            }
            DbConnection::Sqlite(c) => {
                diesel::insert_into(fan::table).values(&fanned).execute(c)?;
                if !deliveries.is_empty() {
                    diesel::insert_into(del::table)
                        .values(&deliveries)
                        .execute(c)?;
                }
            }
        }
        Ok((rows.len(), last))
    })
}

/// Moves the fan-out low-water mark up to the last outbox row that is both
/// settled and has every lower row fanned out, so the fan-out query stays a
/// short range scan. The scan runs outside the write transaction (it reads up
/// to five minutes of rows, and the writer is shared); the mark only ever
/// moves up, so a stale read at worst moves it less far.
pub fn advance_low_water(conn: &mut DbConnection, now: NaiveDateTime) -> DbResult<()> {
    let low = low_water(conn)?;
    let settled: Option<i64> = tk::table
        .filter(tk::id.gt(low))
        .filter(tk::created_at.lt(now - SETTLE))
        .select(diesel::dsl::max(tk::id))
        .first(conn)?;
    let Some(settled) = settled else {
        return Ok(());
    };
    let first_open: Option<i64> = tk::table
        .filter(tk::id.gt(low))
        .filter(tk::id.le(settled))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            fan::table
                .filter(fan::terugkoppeling_id.eq(tk::id))
                .filter(fan::terugkoppeling_id.gt(low)),
        )))
        .select(diesel::dsl::min(tk::id))
        .first(conn)?;
    let new = first_open.map_or(settled, |f| settled.min(f - 1));
    if new > low {
        write_tx(conn, |conn| {
            diesel::update(state::table.find(LOW_WATER).filter(state::value.lt(new)))
                .set(state::value.eq(new))
                .execute(conn)?;
            Ok::<_, crate::db::DbError>(())
        })?;
    }
    Ok(())
}

#[derive(QueryableByName, Debug, Clone)]
pub struct Candidate {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub endpoint_id: i64,
}

/// The due deliveries, oldest first: not leased by anyone, on an active
/// endpoint that is not saturated here (`{skip}`), and first in line for
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
    WHERE d.status = 'wachtend' AND d.next_attempt_at <= {now} \
    AND (d.lease_until IS NULL OR d.lease_until < {now}) AND e.status = 'actief' {skip}\
    AND NOT EXISTS (SELECT 1 FROM terugkoppeling_deliveries p WHERE p.endpoint_id = d.endpoint_id \
        AND p.subject_id = d.subject_id AND p.status = 'wachtend' AND p.terugkoppeling_id < d.terugkoppeling_id) \
    AND (SELECT t.id FROM terugkoppelingen t WHERE t.subject_id = d.subject_id \
        AND t.id < d.terugkoppeling_id \
        AND NOT EXISTS (SELECT 1 FROM terugkoppeling_fanout f WHERE f.terugkoppeling_id = t.id) \
        LIMIT 1) IS NULL \
    ORDER BY d.next_attempt_at, d.id LIMIT {limit}";

/// [`LEASE`] for a backend, skipping the endpoints in `saturated` (ids, so
/// safe to write into the statement).
fn lease_sql(pg: bool, saturated: &[i64]) -> String {
    let skip = if saturated.is_empty() {
        String::new()
    } else {
        let ids: Vec<String> = saturated.iter().map(i64::to_string).collect();
        format!("AND d.endpoint_id NOT IN ({}) ", ids.join(","))
    };
    let (now, limit) = if pg { ("$1", "$2") } else { ("?1", "?2") };
    let sql = LEASE
        .replace("{now}", now)
        .replace("{limit}", limit)
        .replace("{skip}", &skip);
    if pg {
        sql + " FOR UPDATE OF d SKIP LOCKED"
    } else {
        sql
    }
}

/// The plan wanted for [`LEASE`] on PostgreSQL is a walk of the due index in
/// order that stops at the limit. After a burst (statistics not yet
/// analyzed) the planner believed few rows waited and chose to read every
/// waiting delivery and sort them: 38 ms instead of 3 with 10,000 waiting,
/// every round. Applies to the rest of the transaction.
fn walk_in_order(c: &mut diesel::PgConnection) -> QueryResult<()> {
    c.batch_execute("SET LOCAL enable_sort = off")
}

#[derive(QueryableByName)]
struct PgPlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

#[derive(QueryableByName)]
struct SqlitePlanLine {
    #[diesel(sql_type = Text)]
    detail: String,
}

/// The plan of the lease query as [`lease`] runs it, one line per step
/// (`EXPLAIN` on PostgreSQL, `EXPLAIN QUERY PLAN` on SQLite), so a test can
/// hold the plan to the one it was built for.
pub fn lease_plan(conn: &mut DbConnection, now: NaiveDateTime) -> DbResult<Vec<String>> {
    write_tx(conn, |conn| -> DbResult<Vec<String>> {
        Ok(match conn {
            DbConnection::Pg(c) => {
                walk_in_order(c)?;
                diesel::sql_query(format!("EXPLAIN {}", lease_sql(true, &[])))
                    .bind::<Timestamp, _>(now)
                    .bind::<BigInt, _>(512)
                    .load::<PgPlanLine>(c)?
                    .into_iter()
                    .map(|l| l.line)
                    .collect()
            }
            DbConnection::Sqlite(c) => {
                diesel::sql_query(format!("EXPLAIN QUERY PLAN {}", lease_sql(false, &[])))
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

/// The fan-out query's plan from `after` as it runs: `EXPLAIN ANALYZE` on
/// PostgreSQL (actual rows per step, so a test sees what a step read),
/// `EXPLAIN QUERY PLAN` on SQLite. The rows it would take are not locked
/// beyond the transaction, which is rolled back.
pub fn fan_out_plan(conn: &mut DbConnection, after: i64) -> DbResult<Vec<String>> {
    use diesel::connection::Connection;
    let mut plan = None;
    let _ = conn.transaction(|conn| {
        plan = Some(explain_fan_out(conn, after));
        Err::<(), _>(diesel::result::Error::RollbackTransaction)
    });
    plan.unwrap_or_else(|| Err(DbError::Invalid("no transaction for the plan".into())))
}

fn explain_fan_out(conn: &mut DbConnection, after: i64) -> DbResult<Vec<String>> {
    Ok(match conn {
        DbConnection::Pg(c) => diesel::sql_query(format!("EXPLAIN ANALYZE {FANOUT_PG}"))
            .bind::<BigInt, _>(after)
            .bind::<BigInt, _>(256)
            .load::<PgPlanLine>(c)?
            .into_iter()
            .map(|l| l.line)
            .collect(),
        DbConnection::Sqlite(c) => diesel::sql_query(format!("EXPLAIN QUERY PLAN {FANOUT_SQLITE}"))
            .bind::<BigInt, _>(after)
            .bind::<BigInt, _>(256)
            .load::<SqlitePlanLine>(c)?
            .into_iter()
            .map(|l| l.detail)
            .collect(),
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
/// list every round only to be passed over.
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
    let ids = in_tx(conn, |conn| -> DbResult<Vec<i64>> {
        // Some room beyond `limit`: an endpoint with a few free slots may
        // have many candidates in front of another's.
        let ask = limit.saturating_mul(2);
        let cands: Vec<Candidate> = match conn {
            DbConnection::Pg(c) => {
                walk_in_order(c)?;
                diesel::sql_query(lease_sql(true, &saturated))
                    .bind::<Timestamp, _>(now)
                    .bind::<BigInt, _>(ask)
                    .load(c)?
            }
            DbConnection::Sqlite(c) => diesel::sql_query(lease_sql(false, &saturated))
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(ask)
                .load(c)?,
        };
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
        if !ids.is_empty() {
            diesel::update(del::table.filter(del::id.eq_any(&ids)))
                .set((
                    del::lease_owner.eq(owner),
                    del::lease_until.eq(until),
                    del::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok(ids)
    })?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
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
        .filter(del::id.eq_any(&ids))
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
    let leased = rows
        .into_iter()
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
        .collect::<DbResult<Vec<_>>>()?;
    super::intermediary::lapse_unconsented(conn, leased, now)
}

#[derive(QueryableByName, Debug)]
struct Depth {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Nullable<Timestamp>)]
    oldest: Option<NaiveDateTime>,
}

/// Undelivered deliveries and the creation time of the oldest.
pub fn depth(conn: &mut DbConnection) -> DbResult<(i64, Option<NaiveDateTime>)> {
    let q = "SELECT COUNT(*) AS n, MIN(t.created_at) AS oldest FROM terugkoppeling_deliveries d \
             JOIN terugkoppelingen t ON t.id = d.terugkoppeling_id WHERE d.status = 'wachtend'";
    let d: Depth = diesel::sql_query(q).get_result(conn)?;
    Ok((d.n, d.oldest))
}
