//! The plans of the purge's selections as a batch runs them (`EXPLAIN` on
//! PostgreSQL, `EXPLAIN QUERY PLAN` on SQLite), so a test can hold each to
//! the index it was built for (`tests/it/query_plans.rs`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Text, Timestamp};

use super::store::{Bound, Params, Selection, done_sql, indexes_only};
use crate::db::{DbConnection, DbResult};

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

/// The plan of each selection as a batch runs it (`EXPLAIN` on PostgreSQL,
/// `EXPLAIN QUERY PLAN` on SQLite), named, so a test can hold them to their
/// indexes.
pub fn plans(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> DbResult<Vec<(&'static str, Vec<String>)>> {
    let date = now.date();
    crate::db::write_tx(conn, |conn| -> DbResult<_> {
        indexes_only(conn)?;
        let p = Params::of(conn);
        let lock = if p.pg { " FOR UPDATE SKIP LOCKED" } else { "" };
        let mut out = Vec::new();
        for (name, sel) in [
            ("ended", Selection::Ended(date)),
            ("closed", Selection::Closed(now)),
            ("abandoned", Selection::Abandoned(now)),
            ("handled", Selection::Handled(now)),
        ] {
            let sql = format!("{} LIMIT {}{lock}", sel.sql(p), p.n(2));
            out.push((name, explain(conn, &sql, sel.bound(), 500)?));
        }
        let sql = format!("{} ORDER BY t.id", done_sql(p));
        out.push(("done", explain_done(conn, &sql, now)?));
        Ok(out)
    })
}

fn explain(conn: &mut DbConnection, sql: &str, bound: Bound, limit: i64) -> DbResult<Vec<String>> {
    Ok(match (conn, bound) {
        (DbConnection::Pg(c), b) => {
            let q = diesel::sql_query(format!("EXPLAIN {sql}"));
            let rows: Vec<PgPlanLine> = match b {
                Bound::Date(d) => q.bind::<Date, _>(d).bind::<BigInt, _>(limit).load(c)?,
                Bound::Time(t) => q.bind::<Timestamp, _>(t).bind::<BigInt, _>(limit).load(c)?,
            };
            rows.into_iter().map(|l| l.line).collect()
        }
        (DbConnection::Sqlite(c), b) => {
            let q = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"));
            let rows: Vec<SqlitePlanLine> = match b {
                Bound::Date(d) => q.bind::<Date, _>(d).bind::<BigInt, _>(limit).load(c)?,
                Bound::Time(t) => q.bind::<Timestamp, _>(t).bind::<BigInt, _>(limit).load(c)?,
            };
            rows.into_iter().map(|l| l.detail).collect()
        }
    })
}

fn explain_done(
    conn: &mut DbConnection,
    sql: &str,
    before: NaiveDateTime,
) -> DbResult<Vec<String>> {
    Ok(match conn {
        DbConnection::Pg(c) => diesel::sql_query(format!("EXPLAIN {sql}"))
            .bind::<BigInt, _>(1)
            .bind::<BigInt, _>(500)
            .bind::<Timestamp, _>(before)
            .load::<PgPlanLine>(c)?
            .into_iter()
            .map(|l| l.line)
            .collect(),
        DbConnection::Sqlite(c) => diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .bind::<BigInt, _>(1)
            .bind::<BigInt, _>(500)
            .bind::<Timestamp, _>(before)
            .load::<SqlitePlanLine>(c)?
            .into_iter()
            .map(|l| l.detail)
            .collect(),
    })
}
