//! Instances wake each other on PostgreSQL (LISTEN/NOTIFY): a terugkoppeling
//! committed by another process reaches this instance's dispatcher at once,
//! not at its next poll, and the listener survives losing its connection.
//! The other process is played by a plain connection of the test's own: an
//! instance in this test process would wake the dispatcher through the
//! in-process signal and prove nothing about NOTIFY.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use machtigingen::db::schema::terugkoppelingen as tk;
use machtigingen::ids::TerugkoppelingId;
use machtigingen::machtiging::model::Status;
use machtigingen::outbox::Event;

use crate::support::db::postgres_url;
use crate::support::{TestApp, eventually};
use crate::terugkoppeling_support::*;

/// Writes one terugkoppeling for the provider the way another instance
/// does: its own connection, its own commit.
fn write_elsewhere(url: &str, referentie: &str) {
    let mut conn = PgConnection::establish(url).unwrap();
    let mut event = status_payload(referentie, Status::InBehandeling);
    event.machtigingsaanvraag_id = subject(&format!("MA-{referentie}"));
    let event = Event::MachtigingStatus(event);
    diesel::insert_into(tk::table)
        .values((
            tk::public_id.eq(TerugkoppelingId::new().unwrap().as_str()),
            tk::recipient.eq(format!("AGB:{AGB}")),
            tk::event_type.eq(event.kind()),
            tk::subject_id.eq(event.subject()),
            tk::payload.eq(event.to_json().unwrap()),
            tk::created_at.eq(machtigingen::db::now()),
        ))
        .execute(&mut conn)
        .unwrap();
}

/// The server process ids of listeners on this database.
fn listeners(url: &str) -> Vec<i32> {
    #[derive(QueryableByName)]
    struct Pid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    let mut conn = PgConnection::establish(url).unwrap();
    diesel::sql_query(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND query = 'LISTEN machtigingen_outbox'",
    )
    .load::<Pid>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|p| p.pid)
    .collect()
}

/// An instance whose dispatcher polls once a minute, so that only a
/// notification can make it deliver within the test's patience.
async fn sleepy_instance() -> TestApp {
    TestApp::builder()
        .config(&config_with(
            r#"["0s", "100ms"]"#,
            "poll_interval = \"60s\"",
        ))
        .spawn()
        .await
}

#[tokio::test]
async fn a_terugkoppeling_of_another_instance_is_delivered_before_the_poll() {
    if postgres_url().is_none() {
        eprintln!("skipped: needs MACHTIGINGEN_TEST_DATABASE_URL=postgres://…");
        return;
    }
    let app = sleepy_instance().await;
    let r = receiver();
    register(&provider(&app), &r, "json").await;
    let url = app.config.database.url.clone();
    // The dispatcher has made its first rounds and now sleeps on its poll.
    assert!(eventually(10, || async { listeners(&url).len() == 1 }).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    for n in 1..=3 {
        let referentie = format!("N-{n}");
        let started = Instant::now();
        write_elsewhere(&url, &referentie);
        assert!(
            eventually(10, || async { referenties(&r).contains(&referentie) }).await,
            "{referentie} not delivered: got {:?}",
            referenties(&r)
        );
        let took = started.elapsed();
        eprintln!("{referentie}: written elsewhere to received in {took:?}");
        // The poll would take 60 s; a loaded 2-core machine takes well under 3.
        assert!(took < Duration::from_secs(3), "{referentie} took {took:?}");
    }
}

#[tokio::test]
async fn the_listener_connects_again_after_losing_its_connection() {
    if postgres_url().is_none() {
        eprintln!("skipped: needs MACHTIGINGEN_TEST_DATABASE_URL=postgres://…");
        return;
    }
    let app = sleepy_instance().await;
    let r = receiver();
    register(&provider(&app), &r, "json").await;
    let url = app.config.database.url.clone();
    assert!(eventually(10, || async { listeners(&url).len() == 1 }).await);
    let before = listeners(&url);
    let mut conn = PgConnection::establish(&url).unwrap();
    diesel::sql_query(format!("SELECT pg_terminate_backend({})", before[0]))
        .execute(&mut conn)
        .unwrap();
    assert!(
        eventually(10, || async {
            let now = listeners(&url);
            now.len() == 1 && now != before
        })
        .await,
        "no new listener after its connection was terminated"
    );
    let started = Instant::now();
    write_elsewhere(&url, "R-1");
    assert!(eventually(10, || async { referenties(&r).contains(&"R-1".to_owned()) }).await);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
