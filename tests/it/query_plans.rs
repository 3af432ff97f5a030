//! Hot queries keep the plan they were built for, also when the planner's
//! statistics lag behind a burst: the dispatcher's lease walks the due index
//! in order and stops at its limit (on PostgreSQL it once read and sorted
//! every waiting delivery per round, and anti-joined the whole outbox).

use diesel::connection::SimpleConnection;
use machtigingen::dispatch::{lease, queue};

use crate::support::TestDb;

/// A burst of `n` waiting deliveries for one endpoint, written after the
/// statistics were taken.
const BURST: &str = "
    ANALYZE;
    INSERT INTO terugkoppeling_endpoints (party, url, format, event_types, secret, status, created_at, updated_at)
        VALUES ('00000001', 'https://callback.invalid/', 'json', '*', 's', 'actief', '2026-01-01 00:00:00', '2026-01-01 00:00:00');
    WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 5000)
    INSERT INTO terugkoppelingen (public_id, recipient, event_type, subject_id, payload, created_at)
        SELECT 'TK' || n, '00000001', 'machtiging.status', 'MA' || n, '{}', '2026-01-01 00:00:00' FROM g;
    INSERT INTO terugkoppeling_fanout (terugkoppeling_id, at) SELECT id, '2026-01-01 00:00:00' FROM terugkoppelingen;
    INSERT INTO terugkoppeling_deliveries (terugkoppeling_id, endpoint_id, subject_id, status, attempts, next_attempt_at, created_at, updated_at)
        SELECT t.id, e.id, t.subject_id, 'wachtend', 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-01 00:00:00'
        FROM terugkoppelingen t, terugkoppeling_endpoints e;
";

#[tokio::test]
async fn the_lease_walks_the_due_index_in_order_after_a_burst() {
    let (_t, db) = TestDb::migrated().await;
    let mut c = db.conn().unwrap();
    c.batch_execute(BURST).unwrap();
    let now = chrono::NaiveDate::from_ymd_opt(2026, 6, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let plan = lease::lease_plan(&mut c, now).unwrap();
    let text = plan.join("\n");
    assert!(
        plan.iter()
            .any(|l| l.contains("terugkoppeling_deliveries_due")),
        "the lease does not use the due index:\n{text}"
    );
    for bad in [
        "Sort",
        "TEMP B-TREE",
        "Seq Scan on terugkoppelingen",
        "Seq Scan on terugkoppeling_fanout",
        "Seq Scan on terugkoppeling_deliveries",
        "SCAN d",
    ] {
        assert!(
            !plan.iter().any(|l| l.contains(bad)),
            "the lease plan has `{bad}`:\n{text}"
        );
    }
}

/// A round's fan-out looks only at the outbox rows after its cursor, also
/// when thousands below it are above the low-water mark (the five minutes
/// after a burst): on PostgreSQL it once merge-joined them with the fan-out
/// table read from its first row, 20 ms per round with 20,000 rows.
#[tokio::test]
async fn the_fan_out_reads_only_the_rows_after_its_cursor() {
    let (_t, db) = TestDb::migrated().await;
    let mut c = db.conn().unwrap();
    c.batch_execute(BURST).unwrap();
    c.batch_execute("ANALYZE").unwrap();
    let plan = queue::fan_out_plan(&mut c, 4700).unwrap();
    let text = plan.join("\n");
    for line in &plan {
        // PostgreSQL: what each step read ("actual time=… rows=N loops=M").
        if let Some(rows) = line
            .split("rows=")
            .nth(2)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|r| r.parse::<u64>().ok())
        {
            assert!(
                rows <= 1000,
                "a step of the fan-out read {rows} rows for 300 new ones:\n{text}"
            );
        }
        // The low-water mark's one-row table may be scanned.
        for bad in [
            "Seq Scan on terugkoppelingen ",
            "Seq Scan on terugkoppeling_fanout ",
            "SCAN t",
            "SCAN f",
        ] {
            assert!(!line.contains(bad), "the fan-out has `{bad}`:\n{text}");
        }
    }
}

/// The retention purge finds each batch through an index that starts at the
/// expired rows and stops at the batch size; a scan of the requests table
/// (every document) per batch would hold the writer for as long as it reads.
#[tokio::test]
async fn the_retention_selections_are_index_ranges() {
    let (_t, db) = TestDb::migrated().await;
    let mut c = db.conn().unwrap();
    let plans = machtigingen::retention::plans::plans(&mut c, machtigingen::db::now()).unwrap();
    let expected = [
        ("ended", "machtigingsaanvragen_ended"),
        ("closed", "machtigingsaanvragen_status_changed"),
        ("abandoned", "machtigingsaanvragen_status_changed"),
        ("handled", "optin_registraties_handled"),
        ("done", ""),
    ];
    assert_eq!(plans.len(), expected.len());
    for ((name, plan), (want, index)) in plans.iter().zip(expected) {
        assert_eq!(*name, want);
        let text = plan.join("\n");
        assert!(text.contains(index), "{name} does not use {index}:\n{text}");
        for bad in ["Seq Scan", "TEMP B-TREE"] {
            assert!(!text.contains(bad), "{name} has `{bad}`:\n{text}");
        }
        // SQLite: a full scan is `SCAN table` (also `SCAN table USING INDEX`).
        assert!(
            !plan.iter().any(|l| l.trim_start().starts_with("SCAN ")),
            "{name} scans:\n{text}"
        );
    }
}

/// 6000 requests, one a minute: half of them of one provider, a third sent
/// by an intermediary, the rest of 59 other providers; a fifth are Concepts;
/// two thirds addressed to one insurer (3311), the rest to 23 others; then
/// analysed. For every listing search below, the provider and the insurer
/// have more matches than the total counts (1000).
const REQUESTS: &str = "
    WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 6000)
    INSERT INTO machtigingsaanvragen (id, provider_agb, submitter, uzovi, referentie, content_hash,
        status, grondslag, verstrekking, bsn, geboortedatum, begindatum, einddatum, aanvraag,
        document, version, created_at, updated_at)
    SELECT 'MA' || (100000 + n),
        CASE WHEN n % 2 = 0 THEN '01001000' ELSE '0100' || (1001 + n % 59) END,
        CASE WHEN n % 3 = 0 THEN 'PLATFORM:pms-x'
            WHEN n % 2 = 0 THEN 'AGB:01001000' ELSE 'AGB:0100' || (1001 + n % 59) END,
        CASE WHEN n % 3 = 0 THEN '33' || (10 + n % 23) ELSE '3311' END,
        'R' || n, 'h',
        CASE WHEN n % 5 = 0 THEN 'Concept' WHEN n % 5 = 1 THEN 'Toegekend' ELSE 'Ingediend' END,
        'Zvw', CASE WHEN n % 7 = 0 THEN 'FYSIO' ELSE 'PLAST-OOGLID' END, '111' || (100000 + n % 1000),
        '1970-03-14', '2026-12-01', '2027-05-31', '{}', '', 1,
        {at}, '2026-01-01 00:00:00'
    FROM g;
    ANALYZE;
";

/// Every filter of a search reads its page as an index range from the
/// position of the `vervolg` token and stops at the page size, in each branch
/// of what the caller sees — a provider's (two AGBs, as an intermediary's)
/// and an insurer's; searches that list (no filter, status, period,
/// verstrekking, provider) sort nothing. Point filters (Referentie, patient,
/// id) find their few matches through an index.
#[tokio::test]
async fn every_search_is_an_index_range_without_a_sort_of_its_matches() {
    use machtigingen::machtiging::model::Status;
    use machtigingen::machtiging::search::{self, Criteria, Visibility};

    let (_t, db) = TestDb::migrated().await;
    let mut c = db.conn().unwrap();
    let pg = matches!(*c, machtigingen::db::DbConnection::Pg(_));
    // One request a minute from the first of January on.
    let at = if pg {
        "TIMESTAMP '2026-01-01 00:00:00' + n * INTERVAL '1 minute'"
    } else {
        "datetime('2026-01-01 00:00:00', '+' || n || ' minutes')"
    };
    c.batch_execute(&REQUESTS.replace("{at}", at)).unwrap();
    if pg {
        // As autovacuum leaves a table: the visibility map set, so the
        // planner can price an index-only walk (ANALYZE alone does not).
        c.batch_execute("VACUUM machtigingsaanvragen").unwrap();
    }
    let day = |d| chrono::NaiveDate::from_ymd_opt(2026, 1, d).unwrap();
    let provider = Visibility::Provider {
        agbs: vec!["01001000".into(), "01001001".into()],
    };
    let insurer = Visibility::Insurer {
        uzovi: "3311".into(),
    };
    let pk = if pg {
        "machtigingsaanvragen_pkey"
    } else {
        "sqlite_autoindex_machtigingsaanvragen_1"
    };
    let id_index = format!("{pk}|machtigingsaanvragen_provider");
    let patient = Some((
        "111100000".into(),
        chrono::NaiveDate::from_ymd_opt(1970, 3, 14).unwrap(),
    ));
    // (name, who, criteria, ordered, the index (or either) its page reads)
    let cases: Vec<(&str, &Visibility, Criteria, bool, &str)> = vec![
        (
            "all",
            &provider,
            Criteria::default(),
            true,
            "machtigingsaanvragen_provider",
        ),
        (
            "status",
            &provider,
            Criteria {
                status: Some(Status::Ingediend),
                ..Default::default()
            },
            true,
            "machtigingsaanvragen_provider_status",
        ),
        (
            "period",
            &provider,
            Criteria {
                vanaf: Some(day(1)),
                tot: Some(day(4)),
                ..Default::default()
            },
            true,
            "machtigingsaanvragen_provider",
        ),
        (
            "status+period",
            &provider,
            Criteria {
                status: Some(Status::Ingediend),
                vanaf: Some(day(1)),
                tot: Some(day(4)),
                ..Default::default()
            },
            true,
            // Either walk is in order; which stops sooner depends on the data.
            "machtigingsaanvragen_provider_status|machtigingsaanvragen_provider",
        ),
        (
            "referentie",
            &provider,
            Criteria {
                referentie: Some("R42".into()),
                ..Default::default()
            },
            false,
            // The second AGB has few requests: its branch may walk them all.
            "machtigingsaanvragen_provider_referentie|machtigingsaanvragen_provider",
        ),
        (
            "patient",
            &provider,
            Criteria {
                patient: patient.clone(),
                ..Default::default()
            },
            false,
            "machtigingsaanvragen_patient|machtigingsaanvragen_provider",
        ),
        (
            "id",
            &provider,
            Criteria {
                id: Some("MA100042".into()),
                ..Default::default()
            },
            false,
            &id_index,
        ),
        (
            "insurer: all",
            &insurer,
            Criteria::default(),
            true,
            "machtigingsaanvragen_insurer",
        ),
        (
            "insurer: status",
            &insurer,
            Criteria {
                status: Some(Status::Ingediend),
                ..Default::default()
            },
            true,
            "machtigingsaanvragen_insurer_status",
        ),
        (
            "insurer: period",
            &insurer,
            Criteria {
                vanaf: Some(day(1)),
                tot: Some(day(4)),
                ..Default::default()
            },
            true,
            "machtigingsaanvragen_insurer",
        ),
        (
            "insurer: status+period",
            &insurer,
            Criteria {
                status: Some(Status::Toegekend),
                vanaf: Some(day(1)),
                tot: Some(day(4)),
                ..Default::default()
            },
            true,
            "machtigingsaanvragen_insurer_status|machtigingsaanvragen_insurer",
        ),
        (
            "insurer: verstrekking",
            &insurer,
            Criteria {
                verstrekking: Some("PLAST-OOGLID".into()),
                ..Default::default()
            },
            true,
            "machtigingsaanvragen_insurer",
        ),
        (
            "insurer: provider",
            &insurer,
            Criteria {
                provider_agb: Some("01001000".into()),
                ..Default::default()
            },
            true,
            "machtigingsaanvragen_insurer_provider",
        ),
        (
            "insurer: patient",
            &insurer,
            Criteria {
                patient: patient.clone(),
                ..Default::default()
            },
            false,
            "machtigingsaanvragen_insurer_patient",
        ),
    ];
    for (name, who, criteria, ordered, index) in cases {
        let plans = search::plans(&mut c, who, &criteria).unwrap();
        let branches = match who {
            Visibility::Provider { agbs } => agbs.len(),
            Visibility::Insurer { .. } => 1,
        };
        assert_eq!(plans.len(), 2 * branches, "{name}");
        for (statement, plan) in &plans {
            let text = plan.join("\n");
            // The page reads the index by name (not one whose name starts
            // the same); the count any index of its branch that covers it.
            if statement.starts_with("page") {
                assert!(
                    index.split('|').any(|index| plan
                        .iter()
                        .any(|l| l.contains(&format!("{index} ")) || l.ends_with(index))),
                    "{name} {statement} does not use {index}:\n{text}"
                );
            }
            assert!(
                !text.contains("Seq Scan"),
                "{name} {statement} scans:\n{text}"
            );
            // (`SCAN matches` is the count reading its own subquery.)
            assert!(
                !plan
                    .iter()
                    .any(|l| l.trim_start().starts_with("SCAN machtigingsaanvragen")),
                "{name} {statement} scans:\n{text}"
            );
            // More matches than a page or the cap: neither the page nor the
            // count may collect them all first (a sort, a bitmap).
            if ordered {
                for bad in ["Sort", "TEMP B-TREE", "Bitmap"] {
                    assert!(
                        !text.contains(bad),
                        "{name} {statement} has `{bad}`:\n{text}"
                    );
                }
            }
        }
    }
}

/// The bundled SQLite is built with the options `.cargo/config.toml` sets,
/// whichever backend this run's service uses: without QPSG diesel's cached
/// statements were compiled again at each step (a `LIMIT` is bound), and
/// with libsqlite3-sys's memory management every page fetch of every
/// connection took one process-wide lock (docs/benchmarks.md).
#[test]
fn the_bundled_sqlite_has_the_build_options_we_rely_on() {
    use diesel::{Connection, QueryableByName, RunQueryDsl};
    #[derive(QueryableByName)]
    struct Opt {
        #[diesel(sql_type = diesel::sql_types::Text)]
        compile_options: String,
    }
    let mut c = diesel::SqliteConnection::establish(":memory:").unwrap();
    let opts: Vec<String> = diesel::sql_query("PRAGMA compile_options")
        .load::<Opt>(&mut c)
        .unwrap()
        .into_iter()
        .map(|o| o.compile_options)
        .collect();
    for want in ["ENABLE_QPSG", "THREADSAFE=2", "DEFAULT_MEMSTATUS=0"] {
        assert!(opts.iter().any(|o| o == want), "{want} missing: {opts:?}");
    }
    for unwanted in ["ENABLE_MEMORY_MANAGEMENT", "THREADSAFE=1"] {
        assert!(
            !opts.iter().any(|o| o == unwanted),
            "{unwanted} set: {opts:?}"
        );
    }
}
