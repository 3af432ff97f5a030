//! Write transactions on real storage: on SQLite several of them share one
//! commit (group commit, `db::writer`), and that must never blur their
//! outcomes — a failing transaction takes none of its batch with it, a panic
//! neither, and a commit that fails reports failure to every transaction in
//! it with nothing of them stored. On PostgreSQL the same calls are plain
//! transactions and the same tests hold transaction by transaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};
use machtigingen::db::{Db, DbConnection, DbError, write_tx};

use crate::support::TestDb;

async fn db() -> (TestDb, Db) {
    let (t, db) = TestDb::migrated().await;
    let mut c = db.conn().unwrap();
    c.batch_execute(
        "CREATE TABLE gc_rows (id BIGINT PRIMARY KEY, label TEXT NOT NULL UNIQUE);
         CREATE TABLE gc_children (id BIGINT PRIMARY KEY,
             parent BIGINT NOT NULL REFERENCES gc_rows (id) DEFERRABLE INITIALLY DEFERRED);",
    )
    .unwrap();
    (t, db)
}

fn insert(c: &mut DbConnection, id: i64, label: &str) -> Result<(), DbError> {
    diesel::sql_query(format!(
        "INSERT INTO gc_rows (id, label) VALUES ({id}, '{label}')"
    ))
    .execute(c)?;
    Ok(())
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    #[allow(dead_code)]
    label: String,
}

fn stored(db: &Db) -> Vec<i64> {
    let rows: Vec<Row> = diesel::sql_query("SELECT id, label FROM gc_rows ORDER BY id")
        .load(&mut *db.conn().unwrap())
        .unwrap();
    rows.into_iter().map(|r| r.id).collect()
}

/// Starts `n` writes behind a first one that holds the writer until all of
/// them are queued, so on SQLite they meet in one batch. `job(i)` is the
/// i-th write (0 is the holder's own insert).
async fn batch<T, F>(db: &Db, n: usize, job: F) -> Vec<Result<T, DbError>>
where
    T: Send + 'static,
    F: Fn(usize, &mut DbConnection) -> Result<T, DbError> + Send + Sync + 'static,
{
    let job = Arc::new(job);
    let queued = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let (j, q) = (job.clone(), queued.clone());
    tasks.push(tokio::spawn({
        let db = db.clone();
        async move {
            db.write(move |c| {
                // Holding the writer (SQLite) while the others queue up.
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
        }
    }));
    tokio::time::sleep(Duration::from_millis(50)).await;
    for i in 1..=n {
        let (j, q, db) = (job.clone(), queued.clone(), db.clone());
        tasks.push(tokio::spawn(async move {
            let write = db.write(move |c| j(i, c));
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

#[tokio::test]
async fn queued_writes_share_one_commit_and_a_failing_one_takes_no_other_with_it() {
    let (_t, db) = db().await;
    let before = db.group_commit_stats();
    let results = batch(&db, 40, |i, c| {
        let id = i as i64;
        insert(c, id, &format!("row-{i}"))?;
        if i % 10 == 7 {
            // Wrote, then failed: its row must be gone, the others kept.
            return Err(DbError::Invalid("refused by the test".into()));
        }
        Ok(id)
    })
    .await;
    let mut expected = Vec::new();
    for (i, r) in results.iter().enumerate() {
        if i % 10 == 7 {
            assert!(matches!(r, Err(DbError::Invalid(_))), "{i}: {r:?}");
        } else {
            assert_eq!(r.as_ref().unwrap(), &(i as i64));
            expected.push(i as i64);
        }
    }
    assert_eq!(stored(&db), expected);
    if let (Some((c0, t0)), Some((c1, t1))) = (before, db.group_commit_stats()) {
        // SQLite: 41 transactions, every one queued before the first ended.
        assert_eq!(t1 - t0, 41, "transactions");
        assert_eq!(c1 - c0, 1, "one commit for the whole batch");
    }
}

#[tokio::test]
async fn a_unique_violation_fails_only_its_own_transaction() {
    let (_t, db) = db().await;
    let results = batch(&db, 10, |i, c| {
        // 3 and 4 both claim label "twin": the later one must fail alone.
        let label = if i == 3 || i == 4 {
            "twin".to_owned()
        } else {
            format!("row-{i}")
        };
        insert(c, i as i64, &label)
    })
    .await;
    // On SQLite 3 runs first in the batch; on PostgreSQL either may win.
    let failed: Vec<usize> = (0..results.len())
        .filter(|i| results[*i].is_err())
        .collect();
    assert_eq!(failed.len(), 1, "{results:?}");
    let loser = failed[0];
    assert!(loser == 3 || loser == 4, "{loser}");
    assert!(
        matches!(results[loser], Err(DbError::Conflict(_))),
        "{results:?}"
    );
    if db.group_commit_stats().is_some() {
        assert_eq!(loser, 4);
    }
    let expected: Vec<i64> = (0..=10).filter(|i| *i != loser as i64).collect();
    assert_eq!(stored(&db), expected);
}

#[tokio::test]
async fn a_panicking_write_is_rolled_back_and_the_writer_goes_on() {
    let (_t, db) = db().await;
    let results = batch(&db, 6, |i, c| {
        insert(c, i as i64, &format!("row-{i}"))?;
        if i == 2 {
            panic!("a bug in a write (expected by the test)");
        }
        Ok(())
    })
    .await;
    assert!(results[2].is_err(), "{:?}", results[2]);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 6);
    assert_eq!(stored(&db), vec![0, 1, 3, 4, 5, 6]);
    // The writer still works.
    db.write(|c| insert(c, 100, "after")).await.unwrap();
    assert!(stored(&db).contains(&100));
}

#[tokio::test]
async fn a_failing_commit_reports_failure_to_every_transaction_it_carried() {
    let (_t, db) = db().await;
    db.write(|c| insert(c, 1000, "parent")).await.unwrap();
    // Job 3 adds a child of a parent that does not exist. The foreign key is
    // checked at COMMIT, after every statement and savepoint succeeded.
    let results = batch(&db, 5, |i, c| {
        insert(c, i as i64, &format!("row-{i}"))?;
        let parent = if i == 3 { 999_999 } else { 1000 };
        diesel::sql_query(format!(
            "INSERT INTO gc_children (id, parent) VALUES ({i}, {parent})"
        ))
        .execute(c)?;
        Ok(())
    })
    .await;
    if db.group_commit_stats().is_some() {
        // SQLite: one batch, one failed commit, nobody told success and
        // nothing of the batch stored.
        for (i, r) in results.iter().enumerate() {
            assert!(matches!(r, Err(DbError::Unavailable(_))), "{i}: {r:?}");
        }
        assert_eq!(stored(&db), vec![1000]);
    } else {
        // PostgreSQL: each transaction commits on its own.
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r.is_err(), i == 3, "{i}: {r:?}");
        }
        assert_eq!(stored(&db), vec![0, 1, 2, 4, 5, 1000]);
    }
    db.write(|c| insert(c, 2000, "after")).await.unwrap();
    assert!(stored(&db).contains(&2000));
}

#[tokio::test]
async fn writes_from_blocking_closures_join_the_same_group_commit() {
    let (_t, db) = db().await;
    let mut tasks = Vec::new();
    for i in 0..60i64 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            db.run(move |conn| {
                write_tx(conn, |c| {
                    insert(c, i, &format!("row-{i}"))?;
                    if i % 20 == 13 {
                        return Err(DbError::Invalid("refused by the test".into()));
                    }
                    Ok(())
                })
            })
            .await
        }));
    }
    let mut expected = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let r = t.await.unwrap();
        assert_eq!(r.is_err(), i % 20 == 13, "{i}: {r:?}");
        if r.is_ok() {
            expected.push(i as i64);
        }
    }
    assert_eq!(stored(&db), expected);
}
