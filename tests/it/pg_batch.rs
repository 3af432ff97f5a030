//! Submissions batched into shared transactions (`db::pg_writer` on
//! PostgreSQL, the group commit on SQLite): a submission that fails takes no
//! other of its batch with it, a connection lost halfway fails every one of
//! them with nothing stored, and through the real server concurrent
//! submissions keep their answers and error codes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::sql_types::BigInt;
use diesel::{QueryableByName, RunQueryDsl};
use machtigingen::db::{Backend, Db, DbConnection, DbError};
use machtigingen::registry::Scope;

use crate::fixtures::{self, Aanvraag};
use crate::support::{TestApp, TestDb};

/// A fresh database with one PostgreSQL writer thread, so that jobs queued
/// behind a running batch all meet in the next one.
async fn db() -> (TestDb, Db) {
    let t = TestDb::create().await;
    let config = machtigingen::config::Config::from_toml_str(&format!(
        "[database]\nurl = \"{}\"\npg_batch_writers = 1",
        t.url
    ))
    .unwrap();
    let db = Db::open(&config.database).unwrap();
    db.migrate().unwrap();
    db.conn()
        .unwrap()
        .batch_execute("CREATE TABLE pb_rows (id BIGINT PRIMARY KEY, label TEXT NOT NULL UNIQUE)")
        .unwrap();
    (t, db)
}

fn insert(c: &mut DbConnection, id: i64, label: &str) -> Result<(), DbError> {
    diesel::sql_query(format!(
        "INSERT INTO pb_rows (id, label) VALUES ({id}, '{label}')"
    ))
    .execute(c)?;
    Ok(())
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

fn stored(db: &Db) -> Vec<i64> {
    let rows: Vec<Row> = diesel::sql_query("SELECT id FROM pb_rows ORDER BY id")
        .load(&mut *db.conn().unwrap())
        .unwrap();
    rows.into_iter().map(|r| r.id).collect()
}

/// Job 0 holds the writer until jobs 1..=n are queued behind it; they then
/// run as one batch.
async fn batch<T, F>(db: &Db, n: usize, job: F) -> Vec<Result<T, DbError>>
where
    T: Send + 'static,
    F: Fn(usize, &mut DbConnection) -> Result<T, DbError> + Send + Sync + 'static,
{
    let job = Arc::new(job);
    let queued = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let (j, q, d) = (job.clone(), queued.clone(), db.clone());
    tasks.push(tokio::spawn(async move {
        d.write_batched(move |c| {
            for _ in 0..500 {
                if q.load(Ordering::SeqCst) >= n {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(50));
            j(0, c)
        })
        .await
    }));
    tokio::time::sleep(Duration::from_millis(50)).await;
    for i in 1..=n {
        let (j, q, db) = (job.clone(), queued.clone(), db.clone());
        tasks.push(tokio::spawn(async move {
            let write = db.write_batched(move |c| j(i, c));
            q.fetch_add(1, Ordering::SeqCst);
            write.await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn stats(db: &Db) -> Option<(u64, u64)> {
    db.pg_batch_stats().or_else(|| db.group_commit_stats())
}

#[tokio::test]
async fn a_unique_violation_in_a_batch_fails_only_its_own_submission() {
    let (_t, db) = db().await;
    let before = stats(&db).unwrap();
    let results = batch(&db, 12, |i, c| {
        // 3 and 4 both claim "twin"; 4 runs later in the batch and loses.
        let label = if i == 3 || i == 4 {
            "twin".to_owned()
        } else {
            format!("row-{i}")
        };
        insert(c, i as i64, &label)?;
        Ok(i)
    })
    .await;
    for (i, r) in results.iter().enumerate() {
        if i == 4 {
            assert!(matches!(r, Err(DbError::Conflict(_))), "{r:?}");
        } else {
            assert_eq!(r.as_ref().unwrap(), &i, "{i}");
        }
    }
    let expected: Vec<i64> = (0..=12).filter(|i| *i != 4).collect();
    assert_eq!(stored(&db), expected);
    let after = stats(&db).unwrap();
    assert_eq!(after.1 - before.1, 13, "transactions");
    // PostgreSQL: the holder's batch, then the twelve queued behind it in
    // one. SQLite's writer thread takes them into the holder's batch.
    let commits = if db.backend() == Backend::Postgres {
        2
    } else {
        1
    };
    assert_eq!(after.0 - before.0, commits, "commits");
}

/// On PostgreSQL the first job of a batch runs without a savepoint and the
/// later ones in savepoints that are never released (`db::guard`): a job
/// that fails after writing — first in its batch, in the middle, or by a
/// panic inside a nested transaction of its own — leaves none of its rows,
/// and every other job of the batch keeps its own.
#[tokio::test]
async fn a_job_failing_after_its_writes_leaves_none_of_them_wherever_it_ran() {
    let (_t, db) = db().await;
    let before = stats(&db).unwrap();
    let results = batch(&db, 8, |i, c| {
        insert(c, i as i64, &format!("row-{i}"))?;
        match i {
            1 | 5 => Err(DbError::Invalid(format!("job {i} gives up"))),
            7 => {
                use diesel::Connection;
                c.transaction::<(), DbError, _>(|c| {
                    insert(c, 70, "nested")?;
                    panic!("job 7 panics inside its own transaction")
                })?;
                Ok(i)
            }
            _ => Ok(i),
        }
    })
    .await;
    for (i, r) in results.iter().enumerate() {
        match i {
            1 | 5 => assert!(matches!(r, Err(DbError::Invalid(_))), "{i}: {r:?}"),
            7 => assert!(
                matches!(r, Err(DbError::Invalid(m)) if m.contains("panicked")),
                "{i}: {r:?}"
            ),
            _ => assert_eq!(r.as_ref().unwrap(), &i, "{i}"),
        }
    }
    assert_eq!(stored(&db), vec![0, 2, 3, 4, 6, 8]);
    let after = stats(&db).unwrap();
    let commits = if db.backend() == Backend::Postgres {
        2
    } else {
        1
    };
    assert_eq!(after.0 - before.0, commits, "commits");
    // The writer's connection is in a clean state for the next batch.
    db.write_batched(|c| insert(c, 100, "after")).await.unwrap();
    assert_eq!(stored(&db), vec![0, 2, 3, 4, 6, 8, 100]);
}

#[tokio::test]
async fn a_connection_killed_mid_batch_fails_every_submission_and_stores_none() {
    let (_t, db) = db().await;
    if db.backend() != Backend::Postgres {
        return;
    }
    let results = batch(&db, 8, |i, c| {
        insert(c, i as i64, &format!("row-{i}"))?;
        if i == 5 {
            // The server ends this session, open transaction and all, the
            // way an administrator's pg_terminate_backend or a crash would.
            diesel::sql_query("SELECT pg_terminate_backend(pg_backend_pid())").execute(c)?;
        }
        Ok(i)
    })
    .await;
    assert!(
        results[0].is_ok(),
        "the holder's own batch: {:?}",
        results[0]
    );
    for (i, r) in results.iter().enumerate().skip(1) {
        assert!(matches!(r, Err(DbError::Unavailable(_))), "{i}: {r:?}");
    }
    assert_eq!(stored(&db), vec![0], "nothing of the killed batch");
    // The writer connects again for the next batch.
    db.write_batched(|c| insert(c, 100, "after")).await.unwrap();
    assert_eq!(stored(&db), vec![0, 100]);
}

/// Through the real server: concurrent submissions, two of them with one
/// referentie and different content. Whether or not they meet in one batch,
/// one is stored and the other refused with DUP-001; all others stored.
#[tokio::test]
async fn concurrent_submissions_with_a_reference_conflict_keep_their_answers() {
    let app = TestApp::spawn().await;
    fixtures::load_sample_catalog(&app);
    let client = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    let twin = Aanvraag::default().referentie;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let client = client.clone();
        let mut a = Aanvraag::default();
        if i == 7 || i == 8 {
            a.referentie.clone_from(&twin);
            a.toelichting = Some(format!("variant {i}"));
        }
        tasks.push(tokio::spawn(async move {
            fixtures::post_xml(&client, "/api/v1/machtigingsaanvragen", &a.xml()).await
        }));
    }
    let mut created = 0;
    let mut conflicts = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let (status, body) = t.await.unwrap();
        match status {
            201 => created += 1,
            409 if i == 7 || i == 8 => conflicts.push(body["code"].clone()),
            _ => panic!("{i}: {status} {body}"),
        }
    }
    assert_eq!(created, 23);
    assert_eq!(conflicts, vec![serde_json::json!("DUP-001")]);
    assert_eq!(fixtures::stored_requests(&app), 23);
    // Each stored request has its inbox row, naming its own latest history
    // event with that event's action and status: on PostgreSQL the three
    // rows are one statement that passes the event's id on
    // (`machtiging::pg_submission`), on SQLite three inserts.
    use diesel::prelude::*;
    use machtigingen::db::schema::{insurer_inbox as ib, machtiging_events as ev};
    let mut c = app.db.conn().unwrap();
    let inbox: i64 = ib::table.count().get_result(&mut c).unwrap();
    let linked: i64 = ib::table
        .inner_join(
            ev::table.on(ev::id
                .eq(ib::event_id)
                .and(ev::request_id.eq(ib::request_id))
                .and(ev::action.eq(ib::action))
                .and(ev::status.eq(ib::status))),
        )
        .count()
        .get_result(&mut c)
        .unwrap();
    let latest: Vec<i64> = ev::table
        .group_by(ev::request_id)
        .select(diesel::dsl::max(ev::id))
        .load::<Option<i64>>(&mut c)
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    let named: Vec<i64> = ib::table.select(ib::event_id).load(&mut c).unwrap();
    assert_eq!((inbox, linked), (23, 23));
    assert!(
        named.iter().all(|e| latest.contains(e)),
        "{named:?} {latest:?}"
    );
}
