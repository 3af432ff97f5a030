//! The lease passes over endpoints with no free slot in this instance: their
//! waiting deliveries are not taken, and do not keep another endpoint's from
//! being taken. On PostgreSQL the saturated endpoints travel as one array
//! value of a prepared statement, on SQLite as a list written into it.

use std::collections::HashMap;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use machtigingen::dispatch::lease;

use crate::support::TestDb;

/// Two endpoints with three due deliveries each, for subjects of their own.
const TWO_ENDPOINTS: &str = "
    INSERT INTO terugkoppeling_endpoints (party, url, format, event_types, secret, status, created_at, updated_at)
        VALUES ('00000001', 'https://one.invalid/', 'json', '*', 's', 'actief', '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
               ('00000002', 'https://two.invalid/', 'json', '*', 's', 'actief', '2026-01-01 00:00:00', '2026-01-01 00:00:00');
    INSERT INTO terugkoppelingen (public_id, recipient, event_type, subject_id, payload, created_at)
        VALUES ('TK0190a1b2c3d4e5f60718293a4b5c6d71', '00000001', 'machtiging.status', 'MA1', '{}', '2026-01-01 00:00:00'),
               ('TK0190a1b2c3d4e5f60718293a4b5c6d72', '00000001', 'machtiging.status', 'MA2', '{}', '2026-01-01 00:00:00'),
               ('TK0190a1b2c3d4e5f60718293a4b5c6d73', '00000001', 'machtiging.status', 'MA3', '{}', '2026-01-01 00:00:00'),
               ('TK0190a1b2c3d4e5f60718293a4b5c6d74', '00000002', 'machtiging.status', 'MA4', '{}', '2026-01-01 00:00:00'),
               ('TK0190a1b2c3d4e5f60718293a4b5c6d75', '00000002', 'machtiging.status', 'MA5', '{}', '2026-01-01 00:00:00'),
               ('TK0190a1b2c3d4e5f60718293a4b5c6d76', '00000002', 'machtiging.status', 'MA6', '{}', '2026-01-01 00:00:00');
    INSERT INTO terugkoppeling_fanout (terugkoppeling_id, at) SELECT id, '2026-01-01 00:00:00' FROM terugkoppelingen;
    INSERT INTO terugkoppeling_deliveries (terugkoppeling_id, endpoint_id, subject_id, status, attempts, next_attempt_at, created_at, updated_at)
        SELECT t.id, e.id, t.subject_id, 'wachtend', 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-01 00:00:00'
        FROM terugkoppelingen t JOIN terugkoppeling_endpoints e ON e.party = t.recipient;
";

#[tokio::test]
async fn a_saturated_endpoint_is_passed_over_and_the_others_are_leased() {
    let (_t, db) = TestDb::migrated().await;
    let mut c = db.conn().unwrap();
    c.batch_execute(TWO_ENDPOINTS).unwrap();
    let now = chrono::NaiveDate::from_ymd_opt(2026, 6, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let leased = |c: &mut _, limit, free: &HashMap<i64, usize>| -> Vec<(String, String)> {
        let mut got: Vec<_> =
            lease::lease(c, "test", limit, Duration::from_secs(60), free, 10, now)
                .unwrap()
                .into_iter()
                .map(|l| (l.endpoint.party, l.public_id.to_string()))
                .collect();
        got.sort();
        got
    };
    let tk = |n: u8| format!("TK0190a1b2c3d4e5f60718293a4b5c6d7{n}");
    let one = |n| ("00000001".to_owned(), tk(n));
    let two = |n| ("00000002".to_owned(), tk(n));
    let ids: HashMap<String, i64> = {
        use diesel::prelude::*;
        use machtigingen::db::schema::terugkoppeling_endpoints as ep;
        ep::table
            .select((ep::party, ep::id))
            .load::<(String, i64)>(&mut c)
            .unwrap()
            .into_iter()
            .collect()
    };
    // The first endpoint has no free slot. Its deliveries are the oldest, and
    // a lease of one asks for two candidates: unless the statement itself
    // passes them over, they fill the candidates and nothing is taken.
    let first_full = HashMap::from([(ids["00000001"], 0)]);
    assert_eq!(leased(&mut c, 1, &first_full), vec![two(4)]);
    // Room everywhere: what is left is taken, the first endpoint's too.
    assert_eq!(
        leased(&mut c, 10, &HashMap::new()),
        vec![one(1), one(2), one(3), two(5), two(6)]
    );
}
