//! The delivery queue in the database: fan-out of outbox rows into one
//! delivery per matching endpoint, leasing due deliveries (PostgreSQL: `FOR
//! UPDATE SKIP LOCKED`, so several instances share the work; SQLite: one
//! dispatcher, `BEGIN IMMEDIATE`); recording attempts is in [`super::record`].
//!
//! FIFO per subject: a delivery is due only when no earlier terugkoppeling
//! (lower outbox id) with the same subject for the same endpoint is still
//! waiting. A dead letter no longer waits, so it unblocks the queue behind it
//! (see docs/callbacks.md).

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};

use super::endpoints::{Endpoint, VERWIJDERD};
use crate::db::pg_prepared::{Statement, bind, prepared};
use crate::db::schema::{
    terugkoppeling_deliveries as del, terugkoppeling_endpoints, terugkoppeling_fanout as fan,
    terugkoppeling_state as state, terugkoppelingen as tk,
};
use crate::db::{DbConnection, DbError, DbResult, write_tx};

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
/// On PostgreSQL the bound is also raised to the low-water mark in the
/// statement itself (a round trip less than reading the mark first).
const FANOUT_PG: &str = "SELECT t.id, t.recipient, t.event_type, t.subject_id FROM terugkoppelingen t \
    WHERE t.id > GREATEST($1, (SELECT s.value FROM terugkoppeling_state s WHERE s.name = 'fanout_low_water')) \
    AND NOT EXISTS (SELECT 1 FROM terugkoppeling_fanout f WHERE f.terugkoppeling_id = t.id \
        AND f.terugkoppeling_id > GREATEST($1, (SELECT s.value FROM terugkoppeling_state s WHERE s.name = 'fanout_low_water'))) \
    ORDER BY t.id LIMIT $2 FOR UPDATE OF t SKIP LOCKED";

/// [`FANOUT_PG`], prepared once per connection.
struct FanOutPg;
impl Statement for FanOutPg {
    const SQL: &'static str = FANOUT_PG;
}
const FANOUT_SQLITE: &str = "SELECT t.id, t.recipient, t.event_type, t.subject_id FROM terugkoppelingen t \
    WHERE t.id > ?1 AND NOT EXISTS (SELECT 1 FROM terugkoppeling_fanout f \
        WHERE f.terugkoppeling_id = t.id AND f.terugkoppeling_id > ?1) \
    ORDER BY t.id LIMIT ?2";

/// The fan-out rows (`$1`, at `$2`) and their deliveries (`$3`–`$5`,
/// waiting and due at `$2`) in one statement.
const INSERT_FANOUT_PG: &str = "WITH f AS (INSERT INTO terugkoppeling_fanout (terugkoppeling_id, at) \
        SELECT x, $2 FROM unnest($1::int8[]) AS x) \
    INSERT INTO terugkoppeling_deliveries (terugkoppeling_id, endpoint_id, subject_id, status, \
        attempts, next_attempt_at, created_at, updated_at) \
    SELECT a, b, c, 'wachtend', 0, $2, $2, $2 FROM unnest($3::int8[], $4::int8[], $5::text[]) AS x(a, b, c)";

/// [`INSERT_FANOUT_PG`], prepared once per connection.
struct InsertFanOutPg;
impl Statement for InsertFanOutPg {
    const SQL: &'static str = INSERT_FANOUT_PG;
}

/// `f` inside the caller's write transaction when there is one, without a
/// savepoint of its own: on PostgreSQL that is two round trips per call
/// undoing nothing the caller's rollback does not (every caller passes the
/// error on); otherwise in a write transaction of its own.
pub(super) fn in_tx<T>(
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
        let low = if matches!(conn, DbConnection::Pg(_)) {
            after
        } else {
            low_water(conn)?.max(after)
        };
        let rows: Vec<Unfanned> = match conn {
            DbConnection::Pg(c) => {
                prepared::<FanOutPg, _>((bind::<BigInt, _>(low), bind::<BigInt, _>(limit)))
                    .load(c)?
            }
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
        let deliveries: Vec<_> = rows
            .iter()
            .flat_map(|r| {
                eps.iter()
                    .filter(|e| served.receives(e, &r.recipient, &r.event_type))
                    .map(move |e| NewDelivery::due(r.id, e.id, &r.subject_id, now))
            })
            .collect();
        // On PostgreSQL every statement is a round trip, and a round fans out
        // up to `limit` rows: both tables in one statement there, one
        // multi-row insert per table on SQLite (which has no common form
        // for them with the multi-backend connection).
        match conn {
            DbConnection::Pg(c) => {
                let fanned: Vec<i64> = rows.iter().map(|r| r.id).collect();
                let of: Vec<i64> = deliveries.iter().map(|d| d.terugkoppeling_id).collect();
                let to: Vec<i64> = deliveries.iter().map(|d| d.endpoint_id).collect();
                let subject: Vec<&str> = deliveries.iter().map(|d| d.subject_id).collect();
                prepared::<InsertFanOutPg, _>((
                    bind::<Array<BigInt>, _>(&fanned),
                    bind::<Timestamp, _>(now),
                    bind::<Array<BigInt>, _>(&of),
                    bind::<Array<BigInt>, _>(&to),
                    bind::<Array<Text>, _>(&subject),
                ))
                .execute(c)?;
            }
            DbConnection::Sqlite(c) => {
                let fanned: Vec<_> = rows
                    .iter()
                    .map(|r| (fan::terugkoppeling_id.eq(r.id), fan::at.eq(now)))
                    .collect();
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

#[derive(QueryableByName)]
pub(super) struct PgPlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    pub(super) line: String,
}

#[derive(QueryableByName)]
pub(super) struct SqlitePlanLine {
    #[diesel(sql_type = Text)]
    pub(super) detail: String,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The PostgreSQL fan-out reads the low-water mark in SQL, by name: a
    /// rename of [`LOW_WATER`] alone would leave it reading nothing (and so
    /// scanning from the cursor only) without a failing plan.
    #[test]
    fn the_pg_fan_out_reads_the_low_water_mark_by_its_name() {
        let quoted = format!("s.name = '{LOW_WATER}'");
        assert_eq!(FANOUT_PG.matches(&quoted).count(), 2, "{FANOUT_PG}");
    }
}
