//! The purge's statements on both backends: selecting one batch of what
//! expired, deleting it with every child row (children first), counting what
//! would go (the dry run), and the oldest row per table (a metric). Their
//! plans are in `plans`.
//!
//! The `purge_*` functions run inside the caller's write transaction: a batch
//! is all of its parents and their children, or nothing. On PostgreSQL the
//! selections lock what they find (`FOR UPDATE SKIP LOCKED`): two instances
//! purging at once take different rows, and a command that changes a request
//! meanwhile either commits first (and the selection's recheck sees the new
//! row) or waits and finds the request gone.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Text, Timestamp};

use super::{Counts, Table};
use crate::db::schema::{
    audit_log, insurer_inbox as ib, machtiging_events as ev, machtigingsaanvragen as ma,
    optin_registraties as oi, terugkoppeling_acks as ack, terugkoppeling_attempts as att,
    terugkoppeling_deliveries as del, terugkoppeling_fanout as fan, terugkoppelingen as tk,
};
use crate::db::{DbConnection, DbResult};
use crate::machtiging::model::Status;

/// What one selection finds; each is an index range (migration
/// `2026-12-03-000012_retention`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Requests whose machtiging's last valid day (geldig tot) is before
    /// the date, whatever their state.
    Ended(NaiveDate),
    /// Requests rejected or withdrawn without a machtiging, last changed
    /// before the time.
    Closed(NaiveDateTime),
    /// Requests left open by the provider — a Concept, or questions not
    /// answered — last changed before the time. A request with a machtiging
    /// is never one of these.
    Abandoned(NaiveDateTime),
    /// Opt-in registrations handled before the time.
    Handled(NaiveDateTime),
}

pub(super) enum Bound {
    Date(NaiveDate),
    Time(NaiveDateTime),
}

fn quoted(statuses: &[Status]) -> String {
    let list: Vec<String> = statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    list.join(", ")
}

impl Selection {
    /// `SELECT id …` with the bound as parameter 1.
    pub(super) fn sql(self, p: Params) -> String {
        let one = p.n(1);
        match self {
            Self::Ended(_) => {
                format!("SELECT id FROM machtigingsaanvragen WHERE geldig_tot < {one}")
            }
            Self::Closed(_) => format!(
                "SELECT id FROM machtigingsaanvragen WHERE status IN ({}) \
                 AND geldig_tot IS NULL AND updated_at < {one}",
                quoted(&[Status::Afgewezen, Status::Ingetrokken])
            ),
            Self::Abandoned(_) => format!(
                "SELECT id FROM machtigingsaanvragen WHERE status IN ({}) \
                 AND geldig_tot IS NULL AND updated_at < {one}",
                quoted(&[Status::Concept, Status::AanvullendeInformatieGevraagd])
            ),
            Self::Handled(_) => {
                format!("SELECT id FROM optin_registraties WHERE afgehandeld_op < {one}")
            }
        }
    }

    pub(super) fn bound(self) -> Bound {
        match self {
            Self::Ended(d) => Bound::Date(d),
            Self::Closed(t) | Self::Abandoned(t) | Self::Handled(t) => Bound::Time(t),
        }
    }

    fn is_optin(self) -> bool {
        matches!(self, Self::Handled(_))
    }
}

/// Placeholders of a backend: `$1` or `?1`.
#[derive(Clone, Copy)]
pub(super) struct Params {
    pub(super) pg: bool,
}

impl Params {
    pub(super) fn of(conn: &DbConnection) -> Self {
        Self {
            pg: matches!(conn, DbConnection::Pg(_)),
        }
    }

    pub(super) fn n(self, i: u8) -> String {
        if self.pg {
            format!("${i}")
        } else {
            format!("?{i}")
        }
    }
}

#[derive(QueryableByName)]
struct TextId {
    #[diesel(sql_type = Text)]
    id: String,
}

#[derive(QueryableByName)]
struct IntId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A selection wants the few expired rows of a large table; with a LIMIT,
/// PostgreSQL's planner may instead read the table from its start hoping to
/// meet enough matches early, which reads all of it when they are few. Every
/// statement of a purge batch has an index to use. Applies to the rest of
/// the transaction.
pub(super) fn indexes_only(conn: &mut DbConnection) -> DbResult<()> {
    if let DbConnection::Pg(c) = conn {
        c.batch_execute("SET LOCAL enable_seqscan = off")?;
    }
    Ok(())
}

fn select_ids(conn: &mut DbConnection, sel: Selection, limit: i64) -> DbResult<Vec<String>> {
    let p = Params::of(conn);
    let lock = if p.pg { " FOR UPDATE SKIP LOCKED" } else { "" };
    let q = diesel::sql_query(format!("{} LIMIT {}{lock}", sel.sql(p), p.n(2)));
    let rows: Vec<TextId> = match (conn, sel.bound()) {
        (DbConnection::Pg(c), Bound::Date(d)) => {
            q.bind::<Date, _>(d).bind::<BigInt, _>(limit).load(c)?
        }
        (DbConnection::Pg(c), Bound::Time(t)) => {
            q.bind::<Timestamp, _>(t).bind::<BigInt, _>(limit).load(c)?
        }
        (DbConnection::Sqlite(c), Bound::Date(d)) => {
            q.bind::<Date, _>(d).bind::<BigInt, _>(limit).load(c)?
        }
        (DbConnection::Sqlite(c), Bound::Time(t)) => {
            q.bind::<Timestamp, _>(t).bind::<BigInt, _>(limit).load(c)?
        }
    };
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// One batch of a selection: up to `limit` requests (with their inbox
/// entries and history) or opt-in registrations. Returns how many parents
/// it found (fewer than `limit`: the selection is exhausted) and the rows
/// deleted per table.
pub fn purge_selected(
    conn: &mut DbConnection,
    sel: Selection,
    limit: i64,
) -> DbResult<(usize, Counts)> {
    indexes_only(conn)?;
    let ids = select_ids(conn, sel, limit)?;
    let mut counts = Counts::default();
    if ids.is_empty() {
        return Ok((0, counts));
    }
    if sel.is_optin() {
        let n = diesel::delete(oi::table.filter(oi::id.eq_any(&ids))).execute(conn)?;
        counts.add(Table::OptinRegistraties, n);
        return Ok((ids.len(), counts));
    }
    let n = diesel::delete(ib::table.filter(ib::request_id.eq_any(&ids))).execute(conn)?;
    counts.add(Table::InsurerInbox, n);
    let n = diesel::delete(ev::table.filter(ev::request_id.eq_any(&ids))).execute(conn)?;
    counts.add(Table::MachtigingEvents, n);
    let n = diesel::delete(ma::table.filter(ma::id.eq_any(&ids))).execute(conn)?;
    counts.add(Table::Machtigingsaanvragen, n);
    Ok((ids.len(), counts))
}

fn count_sql(conn: &mut DbConnection, sql: &str, bound: Bound) -> DbResult<u64> {
    let q = diesel::sql_query(sql);
    let c: Count = match (conn, bound) {
        (DbConnection::Pg(c), Bound::Date(d)) => q.bind::<Date, _>(d).get_result(c)?,
        (DbConnection::Pg(c), Bound::Time(t)) => q.bind::<Timestamp, _>(t).get_result(c)?,
        (DbConnection::Sqlite(c), Bound::Date(d)) => q.bind::<Date, _>(d).get_result(c)?,
        (DbConnection::Sqlite(c), Bound::Time(t)) => q.bind::<Timestamp, _>(t).get_result(c)?,
    };
    Ok(u64::try_from(c.n).unwrap_or(0))
}

/// What [`purge_selected`] would delete for the whole selection.
pub fn count_selected(conn: &mut DbConnection, sel: Selection) -> DbResult<Counts> {
    let p = Params::of(conn);
    let ids = sel.sql(p);
    let mut counts = Counts::default();
    let mut add = |conn: &mut DbConnection, t: Table, sql: String| -> DbResult<()> {
        let n = count_sql(conn, &sql, sel.bound())?;
        counts.add(t, usize::try_from(n).unwrap_or(usize::MAX));
        Ok(())
    };
    let all = format!("SELECT COUNT(*) AS n FROM ({ids}) s");
    if sel.is_optin() {
        add(conn, Table::OptinRegistraties, all)?;
        return Ok(counts);
    }
    add(conn, Table::Machtigingsaanvragen, all)?;
    for (t, table) in [
        (Table::MachtigingEvents, "machtiging_events"),
        (Table::InsurerInbox, "insurer_inbox"),
    ] {
        let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE request_id IN ({ids})");
        add(conn, t, sql)?;
    }
    Ok(counts)
}

/// Terugkoppelingen in the id range 1..2 that are done with since before 3:
/// fanned out; no delivery waiting (nor changed since); no acknowledgement
/// since; and delivered or dead somewhere, or acknowledged after a pull.
/// Undelivered ones never qualify: a lapsed push (`vervallen`, its endpoint
/// removed) is still available by pull until acknowledged. Every time
/// involved is at or after the row's creation, so a row created since 3
/// never qualifies either.
pub(super) fn done_sql(p: Params) -> String {
    let (lo, hi, before) = (p.n(1), p.n(2), p.n(3));
    format!(
        "SELECT t.id AS id FROM terugkoppelingen t WHERE t.id BETWEEN {lo} AND {hi} \
         AND EXISTS (SELECT 1 FROM terugkoppeling_fanout f WHERE f.terugkoppeling_id = t.id) \
         AND NOT EXISTS (SELECT 1 FROM terugkoppeling_deliveries d WHERE d.terugkoppeling_id = t.id \
             AND (d.status = '{waiting}' OR d.updated_at >= {before})) \
         AND NOT EXISTS (SELECT 1 FROM terugkoppeling_acks a WHERE a.terugkoppeling_id = t.id \
             AND a.at >= {before}) \
         AND (EXISTS (SELECT 1 FROM terugkoppeling_acks a WHERE a.terugkoppeling_id = t.id) \
             OR EXISTS (SELECT 1 FROM terugkoppeling_deliveries d WHERE d.terugkoppeling_id = t.id \
                 AND d.status IN ('{delivered}', '{dead}')))",
        waiting = crate::dispatch::queue::WACHTEND,
        delivered = crate::dispatch::queue::AFGELEVERD,
        dead = crate::dispatch::queue::DOOD,
    )
}

/// The next window of the outbox after `after`: ids and creation times, in
/// id order, at most `limit`. The purge walks the outbox in windows because
/// what is done with is mixed with what is not (a row waiting for a pull
/// may be old): a window is examined once per run, however much of it stays.
pub fn window(
    conn: &mut DbConnection,
    after: i64,
    limit: i64,
) -> DbResult<Vec<(i64, NaiveDateTime)>> {
    Ok(tk::table
        .filter(tk::id.gt(after))
        .order(tk::id)
        .select((tk::id, tk::created_at))
        .limit(limit)
        .load(conn)?)
}

/// The terugkoppelingen of ids `lo..=hi` done with since before `before`
/// (read only; [`purge_terugkoppelingen`] checks again in its transaction).
pub fn done(
    conn: &mut DbConnection,
    lo: i64,
    hi: i64,
    before: NaiveDateTime,
) -> DbResult<Vec<i64>> {
    done_in(conn, lo, hi, before, false)
}

fn done_in(
    conn: &mut DbConnection,
    lo: i64,
    hi: i64,
    before: NaiveDateTime,
    lock: bool,
) -> DbResult<Vec<i64>> {
    let p = Params::of(conn);
    let lock = if lock && p.pg {
        " FOR UPDATE OF t SKIP LOCKED"
    } else {
        ""
    };
    let q = diesel::sql_query(format!("{} ORDER BY t.id{lock}", done_sql(p)));
    let rows: Vec<IntId> = match conn {
        DbConnection::Pg(c) => q
            .bind::<BigInt, _>(lo)
            .bind::<BigInt, _>(hi)
            .bind::<Timestamp, _>(before)
            .load(c)?,
        DbConnection::Sqlite(c) => q
            .bind::<BigInt, _>(lo)
            .bind::<BigInt, _>(hi)
            .bind::<Timestamp, _>(before)
            .load(c)?,
    };
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Deletes those of `candidates` (ids in `lo..=hi`) still done with, with
/// their attempts, deliveries, acknowledgement and fan-out mark.
///
/// The check is made again here, inside the write transaction: a replay or
/// a recovery may have put a delivery back in the queue since the read.
/// On PostgreSQL the candidates' deliveries are locked first, so a replay
/// or recovery that has not committed yet waits for this batch (and then
/// finds nothing to requeue), and the terugkoppelingen are skipped when a
/// replay holds them (`dispatch::view::replay` locks the row it replays).
/// On SQLite the single writer already keeps them apart.
///
/// The fan-out mark goes in the same transaction as its row: a row left
/// without its mark would look new to the dispatcher and be sent again.
/// Ids are never reused (AUTOINCREMENT, identity columns), so the fan-out
/// cursor and low-water mark, and pull positions, stay valid.
pub fn purge_terugkoppelingen(
    conn: &mut DbConnection,
    lo: i64,
    hi: i64,
    before: NaiveDateTime,
    candidates: &[i64],
) -> DbResult<Counts> {
    if let DbConnection::Pg(c) = conn {
        del::table
            .filter(del::terugkoppeling_id.eq_any(candidates))
            .select(del::id)
            .for_update()
            .load::<i64>(c)?;
    }
    let ids: Vec<i64> = done_in(conn, lo, hi, before, true)?
        .into_iter()
        .filter(|id| candidates.contains(id))
        .collect();
    let mut counts = Counts::default();
    if ids.is_empty() {
        return Ok(counts);
    }
    let deliveries = del::table
        .filter(del::terugkoppeling_id.eq_any(&ids))
        .select(del::id);
    let n = diesel::delete(att::table.filter(att::delivery_id.eq_any(deliveries))).execute(conn)?;
    counts.add(Table::TerugkoppelingAttempts, n);
    let n = diesel::delete(del::table.filter(del::terugkoppeling_id.eq_any(&ids))).execute(conn)?;
    counts.add(Table::TerugkoppelingDeliveries, n);
    let n = diesel::delete(ack::table.filter(ack::terugkoppeling_id.eq_any(&ids))).execute(conn)?;
    counts.add(Table::TerugkoppelingAcks, n);
    let n = diesel::delete(fan::table.filter(fan::terugkoppeling_id.eq_any(&ids))).execute(conn)?;
    counts.add(Table::TerugkoppelingFanout, n);
    let n = diesel::delete(tk::table.filter(tk::id.eq_any(&ids))).execute(conn)?;
    counts.add(Table::Terugkoppelingen, n);
    Ok(counts)
}

/// What [`purge_terugkoppelingen`] would delete over the whole outbox.
pub fn count_terugkoppelingen(conn: &mut DbConnection, before: NaiveDateTime) -> DbResult<Counts> {
    let p = Params::of(conn);
    let done = done_sql(p);
    let mut counts = Counts::default();
    for (t, sql) in [
        (
            Table::Terugkoppelingen,
            format!("SELECT COUNT(*) AS n FROM ({done}) s"),
        ),
        (
            Table::TerugkoppelingDeliveries,
            format!(
                "SELECT COUNT(*) AS n FROM terugkoppeling_deliveries WHERE terugkoppeling_id IN ({done})"
            ),
        ),
        (
            Table::TerugkoppelingAttempts,
            format!(
                "SELECT COUNT(*) AS n FROM terugkoppeling_attempts WHERE delivery_id IN \
                 (SELECT id FROM terugkoppeling_deliveries WHERE terugkoppeling_id IN ({done}))"
            ),
        ),
        (
            Table::TerugkoppelingAcks,
            format!(
                "SELECT COUNT(*) AS n FROM terugkoppeling_acks WHERE terugkoppeling_id IN ({done})"
            ),
        ),
        (
            Table::TerugkoppelingFanout,
            format!(
                "SELECT COUNT(*) AS n FROM terugkoppeling_fanout WHERE terugkoppeling_id IN ({done})"
            ),
        ),
    ] {
        let q = diesel::sql_query(sql);
        let c: Count = match &mut *conn {
            DbConnection::Pg(c) => q
                .bind::<BigInt, _>(0)
                .bind::<BigInt, _>(i64::MAX)
                .bind::<Timestamp, _>(before)
                .get_result(c)?,
            DbConnection::Sqlite(c) => q
                .bind::<BigInt, _>(0)
                .bind::<BigInt, _>(i64::MAX)
                .bind::<Timestamp, _>(before)
                .get_result(c)?,
        };
        counts.add(t, usize::try_from(c.n).unwrap_or(0));
    }
    Ok(counts)
}

/// The time of the oldest row (lowest id: every id grows with time) of each
/// table the purge deletes from; `None` for an empty table. One index probe
/// per table.
pub fn oldest(conn: &mut DbConnection) -> DbResult<Vec<(Table, Option<NaiveDateTime>)>> {
    Ok(vec![
        (
            Table::Machtigingsaanvragen,
            ma::table
                .order(ma::id)
                .select(ma::created_at)
                .first(conn)
                .optional()?,
        ),
        (
            Table::MachtigingEvents,
            ev::table
                .order(ev::id)
                .select(ev::at)
                .first(conn)
                .optional()?,
        ),
        (
            Table::InsurerInbox,
            ib::table
                .order(ib::id)
                .select(ib::created_at)
                .first(conn)
                .optional()?,
        ),
        (
            Table::OptinRegistraties,
            oi::table
                .order(oi::id)
                .select(oi::created_at)
                .first(conn)
                .optional()?,
        ),
        (
            Table::Terugkoppelingen,
            tk::table
                .order(tk::id)
                .select(tk::created_at)
                .first(conn)
                .optional()?,
        ),
        (
            Table::TerugkoppelingDeliveries,
            del::table
                .order(del::id)
                .select(del::created_at)
                .first(conn)
                .optional()?,
        ),
        (
            Table::TerugkoppelingAttempts,
            att::table
                .order(att::id)
                .select(att::at)
                .first(conn)
                .optional()?,
        ),
        (
            Table::TerugkoppelingFanout,
            fan::table
                .order(fan::terugkoppeling_id)
                .select(fan::at)
                .first(conn)
                .optional()?,
        ),
        (
            Table::TerugkoppelingAcks,
            ack::table
                .order(ack::terugkoppeling_id)
                .select(ack::at)
                .first(conn)
                .optional()?,
        ),
        (
            Table::AuditLog,
            audit_log::table
                .order(audit_log::id)
                .select(audit_log::at)
                .first(conn)
                .optional()?,
        ),
    ])
}
