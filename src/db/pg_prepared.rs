//! PostgreSQL statements written as SQL text that each connection prepares
//! once.
//!
//! `diesel::sql_query` declares itself unsafe to cache, so a statement sent
//! that way is parsed and planned by PostgreSQL at every call. The
//! dispatcher runs a few such statements every round (fan-out, lease, take),
//! which cost the server its parse and plan each time. [`Prepared`] carries
//! its text in a type of its own ([`Statement`]) and its values in a tuple;
//! diesel then keeps one prepared statement per type on each connection,
//! as it does for its query builder's statements.

use std::marker::PhantomData;

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::{PgConnection, QueryResult, RunQueryDsl};

/// A statement's text, named by a type: diesel keys its cache of prepared
/// statements by that type, so one type must never carry two texts.
pub trait Statement: 'static {
    /// `$1`, `$2`, … stand for the values, in the order of the tuple; one
    /// may appear more than once. No `$` may appear otherwise (no dollar
    /// quoting, no `$` in literals).
    const SQL: &'static str;
}

/// A value and the SQL type it is sent as.
pub struct Bind<ST, T> {
    value: T,
    sql_type: PhantomData<ST>,
}

/// `value` sent as `ST`.
pub fn bind<ST, T>(value: T) -> Bind<ST, T> {
    Bind {
        value,
        sql_type: PhantomData,
    }
}

/// The values of a statement.
pub trait Binds {
    /// Pushes the value at `index` of the tuple where the text says
    /// `$(index + 1)`.
    fn push<'b>(&'b self, index: usize, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

macro_rules! binds {
    ($($t:ident $st:ident $i:tt),+) => {
        impl<$($st, $t),+> Binds for ($(Bind<$st, $t>,)+)
        where
            $(Pg: HasSqlType<$st>, $t: ToSql<$st, Pg>,)+
        {
            fn push<'b>(&'b self, index: usize, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
                match index {
                    $($i => out.push_bind_param::<$st, $t>(&self.$i.value),)+
                    _ => Err(diesel::result::Error::QueryBuilderError(
                        format!("the statement names ${}, which has no value", index.wrapping_add(1)).into(),
                    )),
                }
            }
        }
    };
}

/// A statement without values.
impl Binds for () {
    fn push<'b>(&'b self, index: usize, _: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        Err(diesel::result::Error::QueryBuilderError(
            format!(
                "the statement names ${}, and has no values",
                index.wrapping_add(1)
            )
            .into(),
        ))
    }
}

// `$1` in the text is index 0 of the tuple (`walk_ast` subtracts one).
binds!(A SA 0);
binds!(A SA 0, B SB 1);
binds!(A SA 0, B SB 1, C SC 2);
binds!(A SA 0, B SB 1, C SC 2, D SD 3);
binds!(A SA 0, B SB 1, C SC 2, D SD 3, E SE 4);
binds!(A SA 0, B SB 1, C SC 2, D SD 3, E SE 4, F SF 5);

/// A [`Statement`] with its values, ready to run on a `PgConnection`.
pub struct Prepared<S, B> {
    binds: B,
    statement: PhantomData<S>,
}

/// `S` with `binds` (a tuple of [`bind`]).
pub fn prepared<S: Statement, B: Binds>(binds: B) -> Prepared<S, B> {
    Prepared {
        binds,
        statement: PhantomData,
    }
}

impl<S: Statement, B: Binds> QueryFragment<Pg> for Prepared<S, B> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut rest = S::SQL;
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            let digits = rest[at + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(rest.len() - at - 1, |end| end);
            let n: usize = rest[at + 1..at + 1 + digits].parse().map_err(|_| {
                diesel::result::Error::QueryBuilderError("a `$` without a number".into())
            })?;
            self.binds.push(n.wrapping_sub(1), &mut out)?;
            rest = &rest[at + 1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

/// The text is fixed by `S`, so diesel may keep the prepared statement.
impl<S: Statement, B> QueryId for Prepared<S, B> {
    type QueryId = S;
    const HAS_STATIC_QUERY_ID: bool = true;
}

/// Rows come back by column name (`QueryableByName`), as with `sql_query`.
impl<S, B> Query for Prepared<S, B> {
    type SqlType = Untyped;
}

impl<S, B> RunQueryDsl<PgConnection> for Prepared<S, B> {}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::sql_types::{BigInt, Text};

    struct Twice;
    impl Statement for Twice {
        const SQL: &'static str = "SELECT $1 + $2, $1::text || $3";
    }

    /// The text goes out with a placeholder per occurrence, each value bound
    /// where the text names it (a value named twice is bound twice).
    #[test]
    fn placeholders_are_renumbered_in_order_of_occurrence() {
        let q = prepared::<Twice, _>((
            bind::<BigInt, _>(1_i64),
            bind::<BigInt, _>(2_i64),
            bind::<Text, _>("x"),
        ));
        let sql = diesel::debug_query::<Pg, _>(&q).to_string();
        assert!(
            sql.starts_with("SELECT $1 + $2, $3::text || $4 -- binds: [1, 2, 1, \"x\"]"),
            "{sql}"
        );
    }

    struct Beyond;
    impl Statement for Beyond {
        const SQL: &'static str = "SELECT $2";
    }

    #[test]
    fn a_placeholder_without_a_value_is_an_error() {
        let q = prepared::<Beyond, _>((bind::<BigInt, _>(1_i64),));
        let mut sql = String::new();
        let mut qb = <Pg as diesel::backend::Backend>::QueryBuilder::default();
        let r = q.to_sql(&mut qb, &Pg);
        sql.push_str(&diesel::query_builder::QueryBuilder::finish(qb));
        assert!(r.is_err(), "{sql}");
    }
}
