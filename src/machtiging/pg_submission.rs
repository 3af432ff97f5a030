//! PostgreSQL: a submitted request's row, its first history event, its
//! row in the insurer's inbox and the terugkoppeling announcing it (where the
//! insurer subscribed) as one statement that each connection prepares once.
//!
//! Every statement is a round trip, and on a 2-core machine a round trip
//! cost about 110 µs of CPU between the service and PostgreSQL (measured on
//! `whoami`'s two, docs/benchmarks.md): the three inserts one after the other
//! were a third of a submission's round trips, and the subscription look-up
//! another. (Taking that look-up and a check read away as well saved the
//! service about 35 µs per submit and PostgreSQL nothing measurable; the
//! same page has why.) The inbox row needs the event's id, which the
//! statement passes on itself (`WITH e AS (INSERT … RETURNING id)`); whether
//! the announcement was written comes back with it.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Text, Timestamp, Untyped};
use diesel::{PgConnection, QueryResult, QueryableByName, RunQueryDsl};

use crate::db::DbResult;
use crate::outbox::store::Pending;

/// The statement; `request` and `event` are the store's own inserts (the
/// event's with `RETURNING id`).
pub(super) struct Submitted<'a, R, E> {
    pub request: R,
    pub event: E,
    pub uzovi: &'a str,
    pub request_id: &'a str,
    pub action: &'a str,
    pub status: &'static str,
    pub at: NaiveDateTime,
    pub announcement: &'a Pending,
}

#[derive(QueryableByName)]
struct Written {
    #[diesel(sql_type = BigInt)]
    event_id: i64,
    #[diesel(sql_type = Bool)]
    announced: bool,
}

impl<R, E> Submitted<'_, R, E>
where
    R: QueryFragment<Pg>,
    E: QueryFragment<Pg>,
{
    /// Runs the statement; the new event's id, and whether the announcement
    /// was written.
    pub(super) fn run(self, conn: &mut PgConnection) -> DbResult<(i64, bool)> {
        let w = self.get_result::<Written>(conn)?;
        Ok((w.event_id, w.announced))
    }
}

impl<R, E> QueryFragment<Pg> for Submitted<'_, R, E>
where
    R: QueryFragment<Pg>,
    E: QueryFragment<Pg>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH r AS (");
        self.request.walk_ast(out.reborrow())?;
        out.push_sql("), e AS (");
        self.event.walk_ast(out.reborrow())?;
        out.push_sql(
            "), i AS (INSERT INTO insurer_inbox \
             (uzovi, request_id, event_id, action, status, created_at) SELECT ",
        );
        out.push_bind_param::<Text, _>(&self.uzovi)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.request_id)?;
        out.push_sql(", e.id, ");
        out.push_bind_param::<Text, _>(&self.action)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.status)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&self.at)?;
        out.push_sql(" FROM e), t AS (");
        self.announcement.walk_ast(out.reborrow())?;
        out.push_sql(
            " RETURNING 1) SELECT e.id AS event_id, EXISTS (SELECT 1 FROM t) AS announced FROM e",
        );
        Ok(())
    }
}

/// One text whatever the values (the inner inserts bind every column), so
/// diesel keeps the prepared statement by this type.
pub(super) struct SubmittedStatement;

impl<R, E> QueryId for Submitted<'_, R, E> {
    type QueryId = SubmittedStatement;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<R, E> Query for Submitted<'_, R, E> {
    type SqlType = Untyped;
}

impl<R, E> RunQueryDsl<PgConnection> for Submitted<'_, R, E> {}
