//! Hot queries keep the plan they were built for, also when the planner's
//! statistics lag behind a burst: the dispatcher's lease walks the due index
//! in order and stops at its limit (on PostgreSQL it once read and sorted
//! every waiting delivery per round, and anti-joined the whole outbox).

use diesel::connection::SimpleConnection;
use machtigingen::dispatch::queue;

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
    let plan = queue::lease_plan(&mut c, now).unwrap();
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
