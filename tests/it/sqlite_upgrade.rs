//! Upgrading a SQLite database that holds data across migration 000022,
//! which rebuilds `machtigingsaanvragen` with its large columns last: every
//! row comes through unchanged, the children still point at it, the
//! constraints and indexes are back, and a rerun (a crash after its commit,
//! before diesel recorded it) is harmless. SQLite only, in both suites: the
//! PostgreSQL migration of that name changes nothing.

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_migrations::MigrationHarness;
use machtigingen::config::Config;
use machtigingen::db::{Db, DbConnection, SQLITE_MIGRATIONS};

const REBUILD: &str = "documents_last";

/// Every column of every request, by name, so a value moved to the wrong
/// column or lost shows (a document by its length and random ends).
const ROWS: &str = "SELECT id || '|' || provider_agb || '|' || submitter || '|' || uzovi || '|' || \
    referentie || '|' || content_hash || '|' || status || '|' || grondslag || '|' || verstrekking || '|' || \
    bsn || '|' || geboortedatum || '|' || begindatum || '|' || einddatum || '|' || quote(open_vragen) || '|' || \
    quote(beslissing) || '|' || quote(machtigingsnummer) || '|' || quote(geldig_van) || '|' || \
    quote(geldig_tot) || '|' || version || '|' || created_at || '|' || quote(submitted_at) || '|' || \
    updated_at || '|' || aanvraag || '|' || length(document) || ':' || substr(document, 1, 64) || '…' || \
    substr(document, -64) AS v FROM machtigingsaanvragen ORDER BY id";

#[derive(QueryableByName, Debug, PartialEq)]
struct V {
    #[diesel(sql_type = Text)]
    v: String,
}

#[derive(QueryableByName, Debug)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn strings(c: &mut DbConnection, sql: &str) -> Vec<String> {
    diesel::sql_query(sql)
        .load::<V>(c)
        .unwrap()
        .into_iter()
        .map(|r| r.v)
        .collect()
}

fn count(c: &mut DbConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<N>(c).unwrap().n
}

/// 300 requests in every state the columns can be in: decided ones with a
/// number and a validity, open ones with questions, and every tenth with a
/// 200 KB document (its overflow chain is what the rebuild is about).
const SEED: &str = "
    WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 300)
    INSERT INTO machtigingsaanvragen (id, provider_agb, submitter, uzovi, referentie, content_hash,
        status, grondslag, verstrekking, bsn, geboortedatum, begindatum, einddatum, aanvraag, document,
        open_vragen, beslissing, machtigingsnummer, geldig_van, geldig_tot, version, created_at,
        submitted_at, updated_at)
    SELECT printf('MA%05d', n), printf('%08d', n % 7), 'sys-' || (n % 3), printf('%04d', 3311 + n % 2),
        'ref-' || n, hex(randomblob(16)),
        CASE n % 4 WHEN 0 THEN 'Toegekend' WHEN 1 THEN 'Ingediend' WHEN 2 THEN 'AanvullingGevraagd' ELSE 'Concept' END,
        'Zvw', 'V' || (n % 5), printf('%09d', 100000000 + n), '1970-01-01', '2026-01-01', '2026-12-31',
        '{\"n\":' || n || '}',
        CASE WHEN n % 10 = 0 THEN '<doc>' || hex(randomblob(100000)) || '</doc>' ELSE '<doc n=\"' || n || '\"/>' END,
        CASE WHEN n % 4 = 2 THEN '[\"vraag ' || n || '\"]' END,
        CASE WHEN n % 4 = 0 THEN '{\"besluit\":\"toegekend\"}' END,
        CASE WHEN n % 4 = 0 THEN 'M' || n END,
        CASE WHEN n % 4 = 0 THEN '2026-02-01' END,
        CASE WHEN n % 4 = 0 THEN '2026-11-30' END,
        1 + n % 3, datetime('2026-01-01', '+' || n || ' minutes'),
        CASE WHEN n % 4 <> 3 THEN datetime('2026-01-01', '+' || n || ' minutes', '+1 second') END,
        datetime('2026-01-02', '+' || n || ' minutes')
    FROM g;
    INSERT INTO machtiging_events (request_id, at, action, status, actor, detail)
        SELECT id, created_at, 'ingediend', status, submitter, '{}' FROM machtigingsaanvragen;
    INSERT INTO insurer_inbox (uzovi, request_id, event_id, action, status, created_at)
        SELECT m.uzovi, m.id, e.id, e.action, e.status, e.at
        FROM machtigingsaanvragen m JOIN machtiging_events e ON e.request_id = m.id;
";

const INDEXES: &str = "SELECT name || ': ' || coalesce(sql, 'automatic') AS v FROM sqlite_master \
    WHERE tbl_name = 'machtigingsaanvragen' AND type = 'index' ORDER BY name";

#[tokio::test]
async fn a_sqlite_database_with_requests_upgrades_to_documents_last() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("u.db").display());
    let db = Db::open(
        &Config::from_toml_str(&format!("[database]\nurl = \"{url}\""))
            .unwrap()
            .database,
    )
    .unwrap();
    let mut conn = db.conn().unwrap();
    let c: &mut DbConnection = &mut conn;

    // The schema as the release before the rebuild left it, with data.
    let all = MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS).unwrap();
    let at = all
        .iter()
        .position(|m| m.name().to_string().ends_with(REBUILD))
        .expect("the rebuild migration");
    let version = all[at].name().version().to_string();
    let DbConnection::Sqlite(s) = &mut *c else {
        panic!("a SQLite connection")
    };
    // Creates diesel's table of applied versions, as `migrate` does.
    s.applied_migrations().unwrap();
    for m in &all[..at] {
        s.run_migration(m.as_ref()).unwrap();
    }
    c.batch_execute(SEED).unwrap();
    let before = strings(c, ROWS);
    let indexes_before = strings(c, INDEXES);
    assert_eq!(before.len(), 300);
    assert_eq!(indexes_before.len(), 13, "{indexes_before:#?}");
    drop(conn);

    // The upgrade as `serve` runs it.
    assert_eq!(db.migrate().unwrap(), all.len() - at);
    let check = |db: &Db| {
        let mut conn = db.conn().unwrap();
        let c: &mut DbConnection = &mut conn;
        assert_eq!(strings(c, ROWS), before, "a row changed in the rebuild");
        let columns = strings(
            c,
            "SELECT name AS v FROM pragma_table_info('machtigingsaanvragen') ORDER BY cid",
        );
        assert_eq!(
            columns[columns.len() - 2..],
            ["aanvraag".to_owned(), "document".to_owned()],
            "the large columns are not last: {columns:?}"
        );
        let indexes = strings(c, INDEXES);
        // Also the automatic ones of the primary key and the two UNIQUEs.
        assert_eq!(indexes, indexes_before, "the indexes differ");
        assert_eq!(
            strings(c, "SELECT integrity_check AS v FROM pragma_integrity_check")
                .first()
                .map(String::as_str),
            Some("ok")
        );
        assert_eq!(
            count(c, "SELECT count(*) AS n FROM pragma_foreign_key_check"),
            0
        );
        assert_eq!(
            count(
                c,
                "SELECT count(*) AS n FROM machtiging_events e JOIN machtigingsaanvragen m ON m.id = e.request_id"
            ),
            300
        );
        // Foreign keys and both UNIQUEs hold on the new table.
        for refused in [
            "INSERT INTO machtiging_events (request_id, at, action, status, actor, detail) \
             VALUES ('MA99999', '2026-01-01', 'x', 'x', 'x', '{}')",
            "INSERT INTO machtigingsaanvragen SELECT * FROM machtigingsaanvragen WHERE id = 'MA00001'",
            "UPDATE machtigingsaanvragen SET referentie = 'ref-4' WHERE id = 'MA00001'",
            "UPDATE machtigingsaanvragen SET machtigingsnummer = 'M8' WHERE id = 'MA00004'",
            "DELETE FROM machtigingsaanvragen WHERE id = 'MA00001'",
        ] {
            assert!(c.batch_execute(refused).is_err(), "accepted: {refused}");
        }
    };
    check(&db);

    // A crash after the copy's commit, before diesel recorded the version:
    // the next start runs it again over the rebuilt table.
    db.conn()
        .unwrap()
        .batch_execute(&format!(
            "DELETE FROM __diesel_schema_migrations WHERE version = '{version}'"
        ))
        .unwrap();
    assert_eq!(db.migrate().unwrap(), 1);
    check(&db);
}
