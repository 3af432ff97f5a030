//! Tamper evidence of the audit log (src/audit/chain.rs): `machtigingen audit
//! verify` (the real binary) passes on an untouched log, fails on an altered,
//! a deleted and an added row and says where, passes again after a
//! retention purge of old rows (from the anchor), holds under concurrent
//! appenders (on PostgreSQL in several lanes), and rows from before the
//! chain are chained by `migrate`.

use std::time::Duration;

use diesel::prelude::*;
use machtigingen::audit::chain::{self, ChainedRow, Place};
use machtigingen::audit::verify;
use machtigingen::audit::{self, AuditEntry};
use machtigingen::db::schema::{audit_chains, audit_log};
use machtigingen::db::{Backend, DbConnection};
use machtigingen::retention::Policy;
use machtigingen::retention::service::{Options, Run};
use serde_json::json;

use crate::audit_log::{cli, out};
use crate::fixtures::{Aanvraag, submit};
use crate::retention::app_with_provider;
use crate::support::TestApp;

pub fn verify_ok(app: &TestApp) -> String {
    let o = cli(app, &["audit", "verify"]);
    let text = out(&o);
    assert!(
        o.status.success(),
        "verify failed on an intact log:\n{text}"
    );
    assert!(text.contains("audit log intact"), "{text}");
    text
}

/// Runs verify expecting a break; returns its output.
pub fn verify_broken(app: &TestApp) -> String {
    let o = cli(app, &["audit", "verify"]);
    let text = out(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "verify passed a broken log:\n{text}"
    );
    assert!(text.contains("audit log broken"), "{text}");
    text
}

/// (id, chain, seq) of every chained row, by chain and seq.
fn places(c: &mut DbConnection) -> Vec<(i64, i64, i64)> {
    audit_log::table
        .filter(audit_log::chain.is_not_null())
        .select((
            audit_log::id,
            audit_log::chain.assume_not_null(),
            audit_log::seq.assume_not_null(),
        ))
        .order((audit_log::chain, audit_log::seq))
        .load(c)
        .unwrap()
}

fn record(c: &mut DbConnection, n: usize) {
    audit::record(
        c,
        &AuditEntry {
            fingerprint: None,
            actor: audit::OPERATOR.into(),
            acting_for: None,
            action: "test.keten",
            object_type: "test",
            object_id: Some(format!("K{n}")),
            outcome: "ok",
            detail: json!({"n": n}),
        },
    )
    .unwrap();
}

#[tokio::test]
async fn verify_passes_untouched_and_fails_on_an_altered_or_a_deleted_row() {
    let (app, provider) = app_with_provider().await;
    for _ in 0..4 {
        submit(&provider, &Aanvraag::default()).await;
    }
    let text = verify_ok(&app);
    assert!(text.contains("chain  0: ok"), "{text}");

    let mut c = app.db.conn().unwrap();
    let all = places(&mut c);
    assert!(all.len() >= 5, "{all:?}");
    let (id, chain, seq) = all[all.len() / 2];
    let detail: String = audit_log::table
        .find(id)
        .select(audit_log::detail)
        .first(&mut c)
        .unwrap();
    diesel::update(audit_log::table.find(id))
        .set(audit_log::detail.eq(r#"{"status":"Afgewezen"}"#))
        .execute(&mut c)
        .unwrap();
    let text = verify_broken(&app);
    assert!(
        text.contains(&format!("chain {chain} at seq {seq} (row id {id})"))
            && text.contains("altered"),
        "{text}"
    );
    // The report as JSON names the same place.
    let o = cli(&app, &["audit", "verify", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let broken: Vec<&serde_json::Value> = v["chains"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["first_break"].is_null())
        .collect();
    assert_eq!(broken.len(), 1, "{v:#}");
    assert_eq!(broken[0]["first_break"]["kind"], "altered");
    assert_eq!(broken[0]["first_break"]["row_id"], id);

    // Put back as it was: intact again (the break was that change).
    diesel::update(audit_log::table.find(id))
        .set(audit_log::detail.eq(&detail))
        .execute(&mut c)
        .unwrap();
    verify_ok(&app);

    // An altered row whose own hash was recomputed: the next row still
    // names the old one.
    let row: ChainedRow = audit_log::table
        .find(id)
        .select(ChainedRow::as_select())
        .first(&mut c)
        .unwrap();
    let mut forged = row.content();
    forged.actor = "AGB:99999999".into();
    let prev = row.prev_hash.clone().unwrap();
    let rehashed = chain::hash(
        Place {
            chain,
            seq,
            prev_hash: &prev,
        },
        &forged,
    );
    diesel::update(audit_log::table.find(id))
        .set((
            audit_log::actor.eq(&forged.actor),
            audit_log::hash.eq(&rehashed),
        ))
        .execute(&mut c)
        .unwrap();
    let text = verify_broken(&app);
    assert!(
        text.contains(&format!("chain {chain} at seq {}", seq + 1))
            && text.contains("previous-hash"),
        "{text}"
    );

    // A deleted row: the break shows at the row after it.
    diesel::delete(audit_log::table.find(id))
        .execute(&mut c)
        .unwrap();
    let text = verify_broken(&app);
    let next = all
        .iter()
        .find(|(_, ch, s)| *ch == chain && *s == seq + 1)
        .unwrap()
        .0;
    assert!(
        text.contains(&format!("chain {chain} at seq {} (row id {next})", seq + 1))
            && text.contains(&format!("seq {seq}..={seq} missing")),
        "{text}"
    );

    // Each verification is on record, with its verdict.
    let outcomes: Vec<String> = audit_log::table
        .filter(audit_log::action.eq("audit.controleren"))
        .select(audit_log::outcome)
        .order(audit_log::id)
        .load(&mut c)
        .unwrap();
    assert_eq!(outcomes, ["ok", "breuk", "breuk", "ok", "breuk", "breuk"]);
}

#[tokio::test]
async fn a_purge_of_old_rows_leaves_an_anchor_and_the_chain_verifiable() {
    let (app, provider) = app_with_provider().await;
    for _ in 0..3 {
        submit(&provider, &Aanvraag::default()).await;
    }
    let old = audit_log::table
        .count()
        .get_result::<i64>(&mut app.db.conn().unwrap())
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cut = machtigingen::db::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    for _ in 0..2 {
        submit(&provider, &Aanvraag::default()).await;
    }
    let young: Vec<i64> = audit_log::table
        .filter(audit_log::at.ge(cut))
        .select(audit_log::id)
        .order(audit_log::id)
        .load(&mut app.db.conn().unwrap())
        .unwrap();
    assert!(!young.is_empty());

    // The purge as `serve` runs it, with the audit period ending at `cut`,
    // two rows a batch.
    let mut policy = Policy::from(&app.config.retentie);
    policy.audit_dagen = 0;
    policy.batch_size = 2;
    let mut c = app.db.conn().unwrap();
    let mut run = Run::new(policy, Options::new(audit::OPERATOR), cut);
    while run.step(&mut c).unwrap() {}
    let report = run.finish(&mut c).unwrap();
    assert_eq!(
        report.total.get(machtigingen::retention::Table::AuditLog),
        u64::try_from(old).unwrap(),
        "{report:?}"
    );
    let left: Vec<i64> = audit_log::table
        .filter(audit_log::action.ne("retentie.verwijderd"))
        .select(audit_log::id)
        .order(audit_log::id)
        .load(&mut c)
        .unwrap();
    assert_eq!(left, young, "exactly the rows before the cut went");
    let anchors: Vec<(i64, i64)> = audit_chains::table
        .filter(audit_chains::anchor_seq.gt(0))
        .select((audit_chains::chain, audit_chains::anchor_seq))
        .load(&mut c)
        .unwrap();
    assert!(!anchors.is_empty());
    assert_eq!(
        anchors.iter().map(|(_, s)| s).sum::<i64>(),
        old,
        "each chain's anchor is its last purged row"
    );
    let text = verify_ok(&app);
    let (chain, anchor) = anchors[0];
    assert!(
        text.contains(&format!("chain {chain:>2}: ok"))
            && text.contains(&format!("from anchor seq {anchor}")),
        "{text}"
    );
    // A dry run now finds nothing old left.
    let mut dry = Run::new(
        policy,
        Options {
            dry_run: true,
            ..Options::new(audit::OPERATOR)
        },
        cut,
    );
    while dry.step(&mut c).unwrap() {}
    assert_eq!(dry.finish(&mut c).unwrap().total.total(), 0);

    // Deleting a chain's newest row shows as well (the head says more).
    let newest: i64 = audit_log::table
        .select(diesel::dsl::max(audit_log::id))
        .first::<Option<i64>>(&mut c)
        .unwrap()
        .unwrap();
    diesel::delete(audit_log::table.find(newest))
        .execute(&mut c)
        .unwrap();
    let text = verify_broken(&app);
    assert!(text.contains("does not end at its head"), "{text}");
}

#[tokio::test]
async fn concurrent_appenders_keep_every_chain_intact() {
    let (app, provider) = app_with_provider().await;
    let id = submit(&provider, &Aanvraag::default()).await;
    // Through the server (each read is audited) and from threads holding
    // their own connections, at once.
    let reads = (0..24).map(|_| {
        let p = provider.clone();
        let path = format!("/api/v1/machtigingsaanvragen/{id}");
        async move {
            let (code, v) = p.get_json(&path).await;
            assert_eq!(code, 200, "{v}");
        }
    });
    let db = app.db.clone();
    let writers = tokio::task::spawn_blocking(move || {
        std::thread::scope(|s| {
            for t in 0..6 {
                let db = db.clone();
                s.spawn(move || {
                    let mut c = db.conn().unwrap();
                    for n in 0..20 {
                        record(&mut c, t * 100 + n);
                    }
                });
            }
        });
    });
    futures_util::future::join_all(reads).await;
    writers.await.unwrap();

    let mut c = app.db.conn().unwrap();
    let report = verify::verify(&mut c).unwrap();
    assert!(report.ok, "{report:#?}");
    let total: i64 = audit_log::table.count().get_result(&mut c).unwrap();
    assert_eq!(report.total_rows, u64::try_from(total).unwrap());
    assert!(total >= 24 + 120);
    let lanes: Vec<Option<i64>> = audit_log::table
        .select(audit_log::chain)
        .distinct()
        .load(&mut c)
        .unwrap();
    match app.db.backend() {
        // The single writer appends to lane 0 only.
        Backend::Sqlite => assert_eq!(lanes, [Some(0)]),
        // Commits that overlapped took different lanes instead of waiting.
        Backend::Postgres => assert!(lanes.len() > 1, "one lane only: {lanes:?}"),
    }
    verify_ok(&app);
}

#[tokio::test]
async fn rows_from_before_the_chain_are_chained_by_migrate_and_no_others() {
    let (app, provider) = app_with_provider().await;
    submit(&provider, &Aanvraag::default()).await;
    let mut c = app.db.conn().unwrap();
    // Rows as the previous version wrote them, marked by the migration; and
    // one slipped in later without a chain.
    let old = |c: &mut DbConnection, n: usize, chain: Option<i64>| {
        diesel::insert_into(audit_log::table)
            .values((
                audit_log::at.eq(machtigingen::db::now()),
                audit_log::actor.eq(audit::OPERATOR),
                audit_log::action.eq("test.oud"),
                audit_log::object_type.eq("test"),
                audit_log::object_id.eq(Some(format!("O{n}"))),
                audit_log::outcome.eq("ok"),
                audit_log::detail.eq("{}"),
                audit_log::chain.eq(chain),
            ))
            .execute(c)
            .unwrap();
    };
    for n in 0..3 {
        old(&mut c, n, Some(chain::LEGACY));
    }
    let report = verify::verify(&mut c).unwrap();
    assert!(!report.ok);
    assert_eq!(report.unchained, 3, "{report:#?}");

    let o = cli(&app, &["migrate"]);
    assert!(o.status.success(), "{}", out(&o));
    verify_ok(&app);
    let chained: Vec<Option<i64>> = audit_log::table
        .filter(audit_log::action.eq("test.oud"))
        .select(audit_log::chain)
        .load(&mut c)
        .unwrap();
    assert_eq!(chained, [Some(0); 3]);

    old(&mut c, 3, None);
    let forged: i64 = audit_log::table
        .select(diesel::dsl::max(audit_log::id))
        .first::<Option<i64>>(&mut c)
        .unwrap()
        .unwrap();
    let text = verify_broken(&app);
    assert!(
        text.contains(&format!("1 row(s) in no chain (first row id {forged})")),
        "{text}"
    );
    assert!(cli(&app, &["migrate"]).status.success());
    verify_broken(&app);
}
