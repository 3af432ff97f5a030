//! The store side of a search: pages newest first, each an index range that
//! starts at a position (keyset, [`super::cursor`]) and stops at the page
//! size, and a total that counts at most [`TOTAL_CAP`] + 1 matches — neither
//! reads every match, so a page costs the same at 10 matches and at a million.
//!
//! What a caller may see is a union of branches, each one equality that an
//! index `(column, …, created_at, id)` serves in order: for a provider one per
//! AGB (for an intermediary, each provider whose consent statement holds —
//! revoking it ends the vendor's sight of what it submitted as well,
//! docs/callbacks.md §11); for an insurer its UZOVI, without the providers'
//! Concepts (never sent to it), through indexes on `(uzovi, …)` that hold no
//! Concept. An `OR` or `IN` over several branches cannot be read in order from
//! one index (PostgreSQL then collects and sorts every match, a bitmap scan
//! collects them all even for a count), so each branch is read on its own, as
//! far as the page needs, and merged here.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};

use super::model::Status;
use crate::db::schema::machtigingsaanvragen as ma;
use crate::db::{DbConnection, DbError, DbResult};

/// The total is exact up to here; past it the answer says "more than".
pub const TOTAL_CAP: i64 = 1000;

type Backend = <DbConnection as diesel::Connection>::Backend;
type Boxed = ma::BoxedQuery<'static, Backend>;

/// Who may see which requests in a search.
#[derive(Debug, Clone)]
pub enum Visibility {
    /// A provider: its own AGB; an intermediary: the AGBs of the providers
    /// whose consent statement holds.
    Provider { agbs: Vec<String> },
    /// An insurer: the requests addressed to its UZOVI, except Concepts.
    Insurer { uzovi: String },
}

/// What every result must match.
#[derive(Debug, Clone, Default)]
pub struct Criteria {
    pub id: Option<String>,
    pub referentie: Option<String>,
    pub vanaf: Option<NaiveDate>,
    pub tot: Option<NaiveDate>,
    pub status: Option<Status>,
    pub patient: Option<(String, NaiveDate)>,
    /// The Verstrekking code.
    pub verstrekking: Option<String>,
    /// One provider (AGB praktijk): for an insurer any provider; for a
    /// provider or intermediary it narrows to that one of its own, and an AGB
    /// it does not serve matches nothing.
    pub provider_agb: Option<String>,
}

/// Where a page starts.
#[derive(Debug, Clone)]
pub enum Start {
    /// The newest match.
    First,
    /// After this many matches (the deprecated `pagina`; bounded by the
    /// caller to the first [`TOTAL_CAP`] matches).
    Skip(i64),
    /// After the match with this sort key.
    After {
        created_at: NaiveDateTime,
        id: String,
    },
}

/// One search result: what a result list shows, read from the columns
/// alone — not the stored request's JSON, which every result used to be
/// read and parsed in full for.
#[derive(Debug, Clone)]
pub struct Summary {
    pub id: String,
    pub provider_agb: String,
    pub referentie: String,
    pub status: Status,
    pub uzovi: String,
    pub verstrekking: String,
    pub begindatum: NaiveDate,
    pub machtigingsnummer: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = ma)]
struct SummaryRow {
    id: String,
    provider_agb: String,
    referentie: String,
    status: String,
    uzovi: String,
    verstrekking: String,
    begindatum: NaiveDate,
    machtigingsnummer: Option<String>,
    created_at: NaiveDateTime,
}

impl TryFrom<SummaryRow> for Summary {
    type Error = DbError;
    fn try_from(r: SummaryRow) -> DbResult<Self> {
        Ok(Summary {
            status: Status::parse(&r.status)
                .ok_or_else(|| DbError::Invalid("stored machtigingsaanvraag: status".into()))?,
            id: r.id,
            provider_agb: r.provider_agb,
            referentie: r.referentie,
            uzovi: r.uzovi,
            verstrekking: r.verstrekking,
            begindatum: r.begindatum,
            machtigingsnummer: r.machtigingsnummer,
            created_at: r.created_at,
        })
    }
}

/// Up to `n` matches from `start`, newest first (by creation time, then id).
pub fn page(
    conn: &mut DbConnection,
    who: &Visibility,
    c: &Criteria,
    start: &Start,
    n: i64,
) -> DbResult<Vec<Summary>> {
    let skip = match start {
        Start::Skip(k) => (*k).max(0),
        _ => 0,
    };
    let want = skip.saturating_add(n);
    let mut merged: Vec<Summary> = Vec::new();
    for branch in branches(who, c) {
        let rows: Vec<SummaryRow> = ordered(positioned(filtered(&branch, c), start))
            .limit(want)
            .select(SummaryRow::as_select())
            .load(conn)?;
        for row in rows {
            merged.push(Summary::try_from(row)?);
        }
    }
    // Branches are disjoint (one AGB or one UZOVI each): no request twice.
    merged.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    Ok(merged
        .into_iter()
        .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        .take(usize::try_from(n).unwrap_or(0))
        .collect())
}

/// The number of matches, counted up to `cap` + 1: `(total, more)` where
/// `more` says there are more than `total` (= `cap`). In the page's order,
/// though order does not matter to a count: so the planner walks the page's
/// index (only the index) and stops, where it otherwise chose to read table
/// rows, or to collect every match in a bitmap first.
pub fn count(
    conn: &mut DbConnection,
    who: &Visibility,
    c: &Criteria,
    cap: i64,
) -> DbResult<(i64, bool)> {
    let branches = branches(who, c);
    let n = match branches.as_slice() {
        [] => 0,
        // One branch: first whether there is a match past the cap (the
        // database steps over the first `cap` index entries without
        // producing them: on SQLite 58 % of the instructions of counting
        // them), and only when there is none, counted there. A search with
        // fewer matches than the cap walks them twice, each walk shorter than
        // the cap.
        [branch] => {
            let past_cap = ordered(filtered(branch, c))
                .select(ma::id)
                .offset(cap)
                .limit(1)
                .first::<String>(conn)
                .optional()?;
            if past_cap.is_some() {
                cap + 1
            } else {
                CountOf(ordered(filtered(branch, c)).select(ma::id).limit(cap + 1))
                    .get_result::<i64>(conn)?
            }
        }
        // Several (disjoint): the sum of each branch's count up to cap + 1,
        // which is more than cap exactly when the matches are.
        _ => {
            let mut n: i64 = 0;
            for branch in &branches {
                n += CountOf(
                    ordered(filtered(branch, c))
                        .select(ma::id)
                        .limit(cap + 1 - n),
                )
                .get_result::<i64>(conn)?;
                if n > cap {
                    break;
                }
            }
            n
        }
    };
    Ok((n.min(cap), n > cap))
}

/// What an insurer never sees; the `WHERE` of its partial index
/// `machtigingsaanvragen_insurer` (migration 000017).
const NOT_CONCEPT: &str = "machtigingsaanvragen.status <> 'Concept'";

/// One equality an index serves in order.
enum Branch {
    Provider(String),
    Insurer(String),
}

/// The branches of what `who` sees, each AGB once (so no request is in two);
/// a provider's narrowed to the one AGB the criteria name (none when it is
/// not one of its own).
fn branches(who: &Visibility, c: &Criteria) -> Vec<Branch> {
    match who {
        Visibility::Provider { agbs } => agbs
            .iter()
            .filter(|agb| c.provider_agb.as_ref().is_none_or(|want| want == *agb))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .cloned()
            .map(Branch::Provider)
            .collect(),
        Visibility::Insurer { uzovi } => vec![Branch::Insurer(uzovi.clone())],
    }
}

fn filtered(branch: &Branch, c: &Criteria) -> Boxed {
    let mut q = ma::table.into_boxed();
    q = match branch {
        Branch::Provider(agb) => q.filter(ma::provider_agb.eq(agb.clone())),
        // A literal, the partial index's own `WHERE` word for word: a
        // planner uses that index only when it sees the query implies it,
        // which a bound parameter does not show (SQLite; PostgreSQL's generic
        // plans).
        Branch::Insurer(uzovi) => {
            let q = q
                .filter(ma::uzovi.eq(uzovi.clone()))
                .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(NOT_CONCEPT));
            match &c.provider_agb {
                Some(agb) => q.filter(ma::provider_agb.eq(agb.clone())),
                None => q,
            }
        }
    };
    if let Some(v) = &c.verstrekking {
        q = q.filter(ma::verstrekking.eq(v.clone()));
    }
    if let Some(id) = &c.id {
        q = q.filter(ma::id.eq(id.clone()));
    }
    if let Some(r) = &c.referentie {
        q = q.filter(ma::referentie.eq(r.clone()));
    }
    if let Some(d) = c.vanaf {
        q = q.filter(ma::created_at.ge(d.and_hms_opt(0, 0, 0).unwrap_or_default()));
    }
    if let Some(d) = c.tot {
        // Inclusive: everything before the next day.
        let next = d
            .succ_opt()
            .unwrap_or(d)
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default();
        q = q.filter(ma::created_at.lt(next));
    }
    if let Some(s) = c.status {
        q = q.filter(ma::status.eq(s.as_str()));
    }
    if let Some((bsn, geboortedatum)) = &c.patient {
        q = q
            .filter(ma::bsn.eq(bsn.clone()))
            .filter(ma::geboortedatum.eq(*geboortedatum));
    }
    q
}

/// Strictly after `start` in newest-first order. `created_at <= t` is the
/// bound both planners turn into the end of the index range; the `OR` only
/// drops the few rows of that same microsecond up to the last one shown (a
/// row comparison `(created_at, id) < (t, id)` is PostgreSQL's alone).
fn positioned(q: Boxed, start: &Start) -> Boxed {
    match start {
        Start::After { created_at, id } => q
            .filter(ma::created_at.le(*created_at))
            .filter(ma::created_at.lt(*created_at).or(ma::id.lt(id.clone()))),
        _ => q,
    }
}

fn ordered(q: Boxed) -> Boxed {
    q.order((ma::created_at.desc(), ma::id.desc()))
}

/// The plans of a search's statements for `tests/it/query_plans.rs`: per
/// branch, the page from a position and the count, as `EXPLAIN` (PostgreSQL)
/// or `EXPLAIN QUERY PLAN` (SQLite) shows them.
pub fn plans(
    conn: &mut DbConnection,
    who: &Visibility,
    c: &Criteria,
) -> DbResult<Vec<(String, Vec<String>)>> {
    let start = Start::After {
        created_at: crate::db::now(),
        id: "MAffffffffffffffffffffffffffffffff".into(),
    };
    let mut out = Vec::new();
    for branch in branches(who, c) {
        let name = match &branch {
            Branch::Provider(_) => "provider",
            Branch::Insurer(_) => "insurer",
        };
        let page = ordered(positioned(filtered(&branch, c), &start))
            .limit(21)
            .select(ma::id);
        out.push((format!("page:{name}"), explain(conn, page)?));
        let count = CountOf(
            ordered(filtered(&branch, c))
                .select(ma::id)
                .limit(TOTAL_CAP + 1),
        );
        out.push((format!("count:{name}"), explain(conn, count)?));
    }
    Ok(out)
}

/// `SELECT COUNT(*) FROM (query)`: the DSL counts a subquery only this way.
struct CountOf<Q>(Q);

impl<Q> QueryId for CountOf<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for CountOf<Q> {
    type SqlType = diesel::sql_types::BigInt;
}

impl<Q: QueryFragment<Backend>> QueryFragment<Backend> for CountOf<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Backend>) -> QueryResult<()> {
        out.push_sql("SELECT COUNT(*) FROM (");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(") AS matches");
        Ok(())
    }
}

impl<Q> RunQueryDsl<DbConnection> for CountOf<Q> {}

#[derive(QueryableByName)]
struct PgPlanLine {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
    line: String,
}

#[derive(QueryableByName)]
struct SqlitePlanLine {
    #[diesel(sql_type = diesel::sql_types::Text)]
    detail: String,
}

/// `EXPLAIN` before a query of the DSL, with its binds.
struct Explain<Q>(Q, &'static str);

impl<Q> QueryId for Explain<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for Explain<Q> {
    type SqlType = diesel::sql_types::Untyped;
}

impl<Q: QueryFragment<Backend>> QueryFragment<Backend> for Explain<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Backend>) -> QueryResult<()> {
        out.push_sql(self.1);
        self.0.walk_ast(out.reborrow())
    }
}

impl<Q> RunQueryDsl<DbConnection> for Explain<Q> {}

fn explain<Q: QueryFragment<Backend>>(conn: &mut DbConnection, q: Q) -> DbResult<Vec<String>> {
    Ok(if matches!(conn, DbConnection::Pg(_)) {
        Explain(q, "EXPLAIN ")
            .load::<PgPlanLine>(conn)?
            .into_iter()
            .map(|l| l.line)
            .collect()
    } else {
        Explain(q, "EXPLAIN QUERY PLAN ")
            .load::<SqlitePlanLine>(conn)?
            .into_iter()
            .map(|l| l.detail)
            .collect()
    })
}
