//! The SQLite and PostgreSQL migration trees must produce the same schema:
//! same tables, same columns, same nullability and type family. Needs a
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
}
