//! The dispatcher against a real receiver: outages, ordering per subject,
//! 410, Retry-After, dead letters with replay and recovery, a crash mid
//! delivery, and two instances sharing one PostgreSQL database.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::support::db::postgres_url;
use crate::support::{TestApp, eventually};
use crate::terugkoppeling_support::*;

/// Every subject's referenties arrive in the order they were written.
fn assert_fifo(refs: &[String]) {
    let mut last: HashMap<String, u32> = HashMap::new();
    for r in refs {
        let (subject, seq) = r.rsplit_once('-').unwrap();
        let seq: u32 = seq.parse().unwrap();
        if let Some(prev) = last.insert(subject.to_owned(), seq) {
            assert!(seq > prev, "{r} arrived after {subject}-{prev}: {refs:?}");
        }
    }
}

#[tokio::test]
async fn receiver_down_then_up_gets_everything_in_order() {
    let app = app(r#"["0s", "200ms", "500ms", "1s", "1s", "1s", "1s", "1s"]"#).await;
    let client = provider(&app);
    let r = receiver();
    let secret = register(&client, &r, "json").await;
    let addr = r.addr;
    r.stop();
    for seq in 1..=3 {
        for s in ["A", "B", "C"] {
            enqueue(&app, &format!("MA-{s}"), &format!("{s}-{seq}"));
        }
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let r = receiver_on(&addr.to_string(), vec![secret]);
    assert!(
        eventually(20, || async { referenties(&r).len() == 9 }).await,
        "got {:?}",
        referenties(&r)
    );
    assert_fifo(&referenties(&r));
}

#[tokio::test]
async fn fifo_per_subject_holds_with_concurrency() {
    let app = TestApp::builder()
        .config(&config_with(
            r#"["0s", "100ms", "200ms", "300ms"]"#,
            "concurrency_per_endpoint = 8",
        ))
        .spawn()
        .await;
    let client = provider(&app);
    let r = receiver();
    register(&client, &r, "json").await;
    r.set_delay(Duration::from_millis(30));
    for seq in 1..=8 {
        for s in ["X", "Y", "Z"] {
            enqueue(&app, &format!("MA-{s}"), &format!("{s}-{seq}"));
        }
    }
    assert!(eventually(20, || async { referenties(&r).len() == 24 }).await);
    assert_fifo(&referenties(&r));
}

#[tokio::test]
async fn gone_disables_the_endpoint_until_it_registers_again() {
    let app = app(r#"["0s", "100ms", "100ms", "100ms"]"#).await;
    let client = provider(&app);
    let r = receiver();
    register(&client, &r, "json").await;
    let before = r.requests();
    r.respond_with(Some(410), None);
    let id = enqueue(&app, "MA-g", "G-1");
    let disabled = eventually(10, || async {
        let (_, v) = client.get_json("/api/v1/terugkoppeling/abonnement").await;
        v["status"] == "uitgeschakeld"
    })
    .await;
    assert!(disabled);
    let (_, v) = client.get_json("/api/v1/terugkoppeling/abonnement").await;
    assert!(
        v["uitgeschakeldReden"].as_str().unwrap().contains("410"),
        "{v}"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        r.requests() - before,
        1,
        "no further attempts once disabled"
    );

    r.respond_with(None, None);
    register(&client, &r, "json").await;
    assert!(
        eventually(10, || async {
            r.received().iter().any(|m| m.webhook_id == id)
        })
        .await
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let app = app(r#"["0s", "100ms", "100ms"]"#).await;
    let client = provider(&app);
    let r = receiver();
    register(&client, &r, "json").await;
    r.respond_with(Some(503), Some("2"));
    let before = r.requests();
    let id = enqueue(&app, "MA-ra", "RA-1");
    assert!(eventually(10, || async { r.requests() > before }).await);
    r.respond_with(None, None);
    assert!(
        eventually(10, || async {
            r.received().iter().any(|m| m.webhook_id == id)
        })
        .await
    );
    let recorded = eventually(5, || async {
        detail(&client, &id).await["afleveringen"][0]["status"] == "afgeleverd"
    })
    .await;
    assert!(recorded);
    let d = detail(&client, &id).await;
    let log = d["afleveringen"][0]["log"].as_array().unwrap();
    assert_eq!(log.len(), 2, "{d}");
    assert_eq!(log[0]["httpStatus"], 503);
    let t = |i: usize| {
        chrono::DateTime::parse_from_rfc3339(log[i]["tijdstip"].as_str().unwrap()).unwrap()
    };
    let gap = t(1) - t(0);
    assert!(
        gap >= chrono::TimeDelta::milliseconds(1900),
        "retried after {gap}"
    );
}

#[tokio::test]
async fn dead_letters_unblock_the_subject_and_can_be_replayed_or_recovered() {
    let app = app(r#"["0s", "100ms"]"#).await;
    let client = provider(&app);
    let r = receiver();
    register(&client, &r, "json").await;
    let since = machtigingen::db::now() - chrono::TimeDelta::seconds(1);
    r.respond_with(Some(500), None);
    let first = enqueue(&app, "MA-d", "D-1");
    let second = enqueue(&app, "MA-d", "D-2");
    for id in [&first, &second] {
        let dead = eventually(10, || async {
            detail(&client, id).await["afleveringen"][0]["status"] == "dood"
        })
        .await;
        assert!(dead, "{id} should be a dead letter");
    }
    let d = detail(&client, &first).await;
    assert_eq!(d["afleveringen"][0]["pogingen"], 2, "{d}");
    assert_eq!(d["afleveringen"][0]["log"][1]["httpStatus"], 500);

    r.respond_with(None, None);
    let (s, v) = client
        .post_json(
            &format!("/api/v1/terugkoppeling/berichten/{first}/opnieuw"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    assert!(
        eventually(10, || async {
            r.received().iter().any(|m| m.webhook_id == first)
        })
        .await
    );
    assert!(!r.received().iter().any(|m| m.webhook_id == second));

    let (s, v) = client
        .post_json("/api/v1/terugkoppeling/herstel", &json!({"sinds": since}))
        .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["ingepland"], 1);
    assert!(
        eventually(10, || async {
            r.received().iter().any(|m| m.webhook_id == second)
        })
        .await
    );
}

#[tokio::test]
async fn a_dispatcher_killed_mid_delivery_is_taken_over_after_the_lease() {
    let cfg = config_with(
        r#"["0s", "100ms", "100ms"]"#,
        "timeout = \"2s\"\nlease = \"3s\"",
    );
    let mut first = TestApp::builder().config(&cfg).spawn().await;
    let client = provider(&first);
    let r = receiver();
    let secret = register(&client, &r, "json").await;
    // The receiver hangs and would fail anyway: only a takeover delivers.
    r.set_delay(Duration::from_millis(1500));
    r.respond_with(Some(503), None);
    let started = r.started();
    let id = enqueue(&first, "MA-k", "K-1");
    assert!(eventually(10, || async { r.started() > started }).await);
    first.shutdown();
    r.set_delay(Duration::ZERO);
    r.respond_with(None, None);
    r.set_secrets(vec![secret]);

    let second = TestApp::builder()
        .config(&cfg)
        .database_of(&first)
        .spawn()
        .await;
    assert!(
        eventually(15, || async {
            r.received().iter().any(|m| m.webhook_id == id)
        })
        .await,
        "not delivered after the lease expired"
    );
    let client = provider(&second);
    let recorded = eventually(5, || async {
        detail(&client, &id).await["afleveringen"][0]["status"] == "afgeleverd"
    })
    .await;
    assert!(recorded);
    drop(second);
    drop(first);
}

#[tokio::test]
async fn two_instances_on_postgres_never_deliver_twice() {
    if postgres_url().is_none() {
        eprintln!("skipped: needs MACHTIGINGEN_TEST_DATABASE_URL=postgres://…");
        return;
    }
    let cfg = config(r#"["0s", "100ms", "200ms", "500ms"]"#);
    let a = TestApp::builder().config(&cfg).spawn().await;
    let b = TestApp::builder()
        .config(&cfg)
        .database_of(&a)
        .spawn()
        .await;
    let client = provider(&a);
    let r = receiver();
    register(&client, &r, "json").await;
    r.set_delay(Duration::from_millis(5));
    for seq in 1..=10 {
        for s in ["P", "Q", "R", "S"] {
            enqueue(&a, &format!("MA-{s}"), &format!("{s}-{seq}"));
        }
    }
    assert!(eventually(30, || async { referenties(&r).len() == 40 }).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(r.duplicates(), 0, "a terugkoppeling was delivered twice");
    assert_eq!(referenties(&r).len(), 40);
    assert_fifo(&referenties(&r));
    drop(b);
    drop(a);
}

#[tokio::test]
async fn an_endpoint_that_only_fails_is_disabled_with_a_reason() {
    let app = TestApp::builder()
        .config(&config_with(
            r#"["0s", "100ms", "100ms", "100ms", "100ms", "100ms", "100ms"]"#,
            "disable_after = \"300ms\"",
        ))
        .spawn()
        .await;
    let client = provider(&app);
    let r = receiver();
    register(&client, &r, "json").await;
    r.respond_with(Some(500), None);
    let id = enqueue(&app, "MA-f", "F-1");
    let disabled = eventually(10, || async {
        let (_, v) = client.get_json("/api/v1/terugkoppeling/abonnement").await;
        v["status"] == "uitgeschakeld"
    })
    .await;
    assert!(disabled);
    let (_, v) = client.get_json("/api/v1/terugkoppeling/abonnement").await;
    let reason = v["uitgeschakeldReden"].as_str().unwrap();
    assert!(
        reason.contains("Alleen mislukte") && reason.contains("HTTP 500"),
        "{v}"
    );
    // Not a dead letter: it waits for the endpoint to come back.
    let d = detail(&client, &id).await;
    assert_eq!(d["afleveringen"][0]["status"], "wachtend", "{d}");
}

#[tokio::test]
async fn a_later_terugkoppeling_waits_while_an_earlier_one_is_not_fanned_out() {
    use diesel::prelude::*;
    use machtigingen::db::schema::{
        terugkoppeling_deliveries as del, terugkoppeling_endpoints as ep,
        terugkoppeling_fanout as fan, terugkoppelingen as tk,
    };
    use machtigingen::dispatch::{lease, queue};

    // No dispatcher: the test plays two instances, one of which fanned out
    // the later row while the other still holds the earlier one.
    let app = TestApp::builder()
        .config(&config_with(r#"["0s"]"#, "dispatcher = false"))
        .spawn()
        .await;
    let client = provider(&app);
    let r = receiver();
    register(&client, &r, "json").await;
    let first = enqueue(&app, "MA-o", "O-1");
    let second = enqueue(&app, "MA-o", "O-2");
    let mut conn = app.db.conn().unwrap();
    let id_of = |conn: &mut _, public: &str| -> i64 {
        tk::table
            .filter(tk::public_id.eq(public))
            .select(tk::id)
            .first(conn)
            .unwrap()
    };
    let second_id = id_of(&mut conn, &second);
    let endpoint: i64 = ep::table.select(ep::id).first(&mut conn).unwrap();
    let now = machtigingen::db::now();
    diesel::insert_into(fan::table)
        .values((fan::terugkoppeling_id.eq(second_id), fan::at.eq(now)))
        .execute(&mut conn)
        .unwrap();
    diesel::insert_into(del::table)
        .values((
            del::terugkoppeling_id.eq(second_id),
            del::endpoint_id.eq(endpoint),
            del::subject_id.eq(subject("MA-o").to_string()),
            del::status.eq(queue::WACHTEND),
            del::attempts.eq(0),
            del::next_attempt_at.eq(now),
            del::created_at.eq(now),
            del::updated_at.eq(now),
        ))
        .execute(&mut conn)
        .unwrap();
    let lease = |conn: &mut _| {
        let now = machtigingen::db::now();
        lease::lease(
            conn,
            "test",
            10,
            Duration::from_secs(60),
            &HashMap::new(),
            4,
            now,
        )
        .unwrap()
    };
    assert!(
        lease(&mut conn).is_empty(),
        "O-2 leased while O-1 was not fanned out"
    );
    let (handled, _) = queue::fan_out(&mut conn, 0, 100, machtigingen::db::now()).unwrap();
    assert_eq!(handled, 1);
    let leased = lease(&mut conn);
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].public_id.as_str(), first, "O-1 first");
    drop(r);
}
