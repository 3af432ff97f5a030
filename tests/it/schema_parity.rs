//! The SQLite and PostgreSQL migration trees must produce the same schema:
//! same tables, same columns, same nullability and type family, and the
//! same indexes (name, table, columns in order, partial or not). Needs a
//! PostgreSQL server: MACHTIGINGEN_TEST_DATABASE_URL when the suite runs on
//! PostgreSQL, else MACHTIGINGEN_TEST_POSTGRES_URL, else the local default.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use machtigingen::config::Config;
use machtigingen::db::{Db, DbConnection};

use crate::support::db::{TestDb, postgres_url};

#[derive(QueryableByName, Debug)]
struct Col {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Integer)]
    nullable: i32,
}

/// The common family a column type belongs to on either backend.
fn family(t: &str) -> &'static str {
    let t = t.to_ascii_lowercase();
    if t.contains("int") {
        "integer"
    } else if t.contains("timestamp") {
        "timestamp"
    } else if t == "date" {
        "date"
    } else if t.contains("char") || t == "text" {
        "text"
    } else if t.contains("double") || t.contains("real") || t.contains("float") {
        "float"
    } else {
        "other"
    }
}

fn schema(conn: &mut DbConnection) -> BTreeMap<(String, String), (&'static str, bool)> {
    let sql = match conn {
        DbConnection::Sqlite(_) => {
            "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
             CASE WHEN p.\"notnull\" = 1 OR p.pk > 0 THEN 0 ELSE 1 END AS nullable \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'"
        }
        DbConnection::Pg(_) => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type, \
             CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END AS nullable \
             FROM information_schema.columns WHERE table_schema = 'public' \
             AND table_name <> '__diesel_schema_migrations'"
        }
    };
    diesel::sql_query(sql)
        .load::<Col>(conn)
        .unwrap()
        .into_iter()
        .map(|c| {
            (
                (c.table_name, c.column_name),
                (family(&c.data_type), c.nullable == 1),
            )
        })
        .collect()
}

#[derive(QueryableByName, Debug)]
struct Index {
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    columns: String,
    #[diesel(sql_type = Integer)]
    partial: i32,
}

/// The indexes the migrations create by name (not those a `UNIQUE` or
/// primary key constraint makes, which the backends name differently).
fn indexes(conn: &mut DbConnection) -> BTreeMap<String, (String, String, bool)> {
    let sql = match conn {
        DbConnection::Sqlite(_) => {
            "SELECT m.name AS index_name, m.tbl_name AS table_name, \
             (SELECT group_concat(name, ',') FROM (SELECT i.name FROM pragma_index_info(m.name) i \
              ORDER BY i.seqno)) AS columns, \
             CASE WHEN m.sql LIKE '% WHERE %' THEN 1 ELSE 0 END AS partial \
             FROM sqlite_master m WHERE m.type = 'index' AND m.sql IS NOT NULL"
        }
        DbConnection::Pg(_) => {
            "SELECT i.relname::text AS index_name, t.relname::text AS table_name, \
             (SELECT string_agg(a.attname::text, ',' ORDER BY k.n) \
              FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) \
              JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) AS columns, \
             CASE WHEN x.indpred IS NULL THEN 0 ELSE 1 END AS partial \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace s ON s.oid = t.relnamespace \
             WHERE s.nspname = 'public' \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"
        }
    };
    diesel::sql_query(sql)
        .load::<Index>(conn)
        .unwrap()
        .into_iter()
        .map(|i| (i.index_name, (i.table_name, i.columns, i.partial == 1)))
        .collect()
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_yield_the_same_schema() {
    let pg_admin = postgres_url()
        .or_else(|| std::env::var("MACHTIGINGEN_TEST_POSTGRES_URL").ok())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
    let open = |url: &str| {
        let db = Db::open(
            &Config::from_toml_str(&format!("[database]\nurl = \"{url}\""))
                .unwrap()
                .database,
        )
        .unwrap();
        db.migrate().unwrap_or_else(|e| {
            panic!("{url}: {e} (is PostgreSQL running? set MACHTIGINGEN_TEST_DATABASE_URL)")
        });
        db
    };
    let sqlite_dir = tempfile::tempdir().unwrap();
    let sqlite = open(&format!(
        "sqlite://{}",
        sqlite_dir.path().join("p.db").display()
    ));
    let t = TestDb::create_postgres(pg_admin).await;
    let pg = open(&t.url);
    let s = schema(&mut sqlite.conn().unwrap());
    let p = schema(&mut pg.conn().unwrap());
    assert!(!s.is_empty());
    let only_sqlite: Vec<_> = s.keys().filter(|k| !p.contains_key(*k)).collect();
    let only_pg: Vec<_> = p.keys().filter(|k| !s.contains_key(*k)).collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "columns only in sqlite: {only_sqlite:?}; only in postgres: {only_pg:?}"
    );
    for (k, v) in &s {
        assert_eq!(
            Some(v),
            p.get(k),
            "column {k:?} differs (sqlite {v:?}, postgres {:?})",
            p.get(k)
        );
    }
    let si = indexes(&mut sqlite.conn().unwrap());
    let pi = indexes(&mut pg.conn().unwrap());
    assert!(si.contains_key("terugkoppeling_deliveries_due"), "{si:?}");
    assert_eq!(si, pi, "indexes differ (left sqlite, right postgres)");
}
