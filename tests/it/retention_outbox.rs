//! The retention purge of terugkoppelingen with their deliveries, attempts,
//! fan-out marks and acknowledgements, with the real dispatcher delivering
//! to the reference receiver; a run cut short batch by batch; and
//! `machtigingen purge [--dry-run] [--json]` as an operator runs it.

use std::process::Command;

use diesel::dsl::{exists, not};
use diesel::prelude::*;
use machtigingen::db::schema::{
    insurer_inbox, machtiging_events, machtigingsaanvragen as ma, terugkoppeling_acks as ack,
    terugkoppeling_attempts as att, terugkoppeling_deliveries as del, terugkoppeling_fanout as fan,
    terugkoppelingen as tk,
};
use machtigingen::dispatch::{endpoints, queue};
use machtigingen::registry::Scope;
use machtigingen::retention::{Rule, Table};
use serde_json::json;

use crate::fixtures::{Aanvraag, days, insurer, load_sample_catalog, submit};
use crate::retention::{ago, app_with, app_with_provider, decide, purge, purge_with, rows, stored};
use crate::support::{TestApp, TestClient, eventually, free_port};
use crate::terugkoppeling_support as tks;

const DEAD: &str = "03999991";
const PULL: &str = "03999992";
const PARKED: &str = "03999993";

fn party(agb: &str) -> String {
    format!("AGB:{agb}")
}

fn client(app: &TestApp, agb: &str) -> TestClient {
    app.provider(
        agb,
        &[Scope::TerugkoppelingBeheren, Scope::MachtigingenIndienen],
    )
}

/// A callback on a port nothing listens on: every push fails.
async fn register_unreachable(c: &TestClient) {
    let body = json!({
        "url": format!("https://localhost:{}/terugkoppeling", free_port()),
        "formaat": "json",
        "caBundle": tks::ca_pem(),
    });
    let (status, v) = tks::put_abonnement(c, &body).await;
    assert_eq!(status, 200, "{v}");
}

fn id_of(app: &TestApp, public: &str) -> i64 {
    tk::table
        .filter(tk::public_id.eq(public))
        .select(tk::id)
        .first(&mut app.db.conn().unwrap())
        .unwrap()
}

/// (terugkoppeling, fan-out mark, deliveries, attempts, acknowledgement).
fn outbox_rows(app: &TestApp, id: i64) -> (i64, i64, i64, i64, i64) {
    let mut c = app.db.conn().unwrap();
    let deliveries = del::table
        .filter(del::terugkoppeling_id.eq(id))
        .select(del::id);
    (
        tk::table.find(id).count().get_result(&mut c).unwrap(),
        fan::table.find(id).count().get_result(&mut c).unwrap(),
        del::table
            .filter(del::terugkoppeling_id.eq(id))
            .count()
            .get_result(&mut c)
            .unwrap(),
        att::table
            .filter(att::delivery_id.eq_any(deliveries))
            .count()
            .get_result(&mut c)
            .unwrap(),
        ack::table.find(id).count().get_result(&mut c).unwrap(),
    )
}

fn deliveries_in(app: &TestApp, id: i64, status: &str) -> i64 {
    del::table
        .filter(del::terugkoppeling_id.eq(id))
        .filter(del::status.eq(status))
        .count()
        .get_result(&mut app.db.conn().unwrap())
        .unwrap()
}

/// Done with `days` ago: the deliveries' last change (and delivery time).
fn done_ago(app: &TestApp, id: i64, days: i64) {
    let mut c = app.db.conn().unwrap();
    diesel::update(del::table.filter(del::terugkoppeling_id.eq(id)))
        .set(del::updated_at.eq(ago(days)))
        .execute(&mut c)
        .unwrap();
    diesel::update(
        del::table
            .filter(del::terugkoppeling_id.eq(id))
            .filter(del::delivered_at.is_not_null()),
    )
    .set(del::delivered_at.eq(ago(days)))
    .execute(&mut c)
    .unwrap();
}

/// These terugkoppelingen and everything about them written `days` ago
/// (creation, fan-out, attempts, deliveries); when each was done with is
/// set per case afterwards.
fn written_ago(app: &TestApp, ids: &[i64], days: i64) {
    let mut c = app.db.conn().unwrap();
    diesel::update(tk::table.filter(tk::id.eq_any(ids)))
        .set(tk::created_at.eq(ago(days)))
        .execute(&mut c)
        .unwrap();
    diesel::update(fan::table.filter(fan::terugkoppeling_id.eq_any(ids)))
        .set(fan::at.eq(ago(days)))
        .execute(&mut c)
        .unwrap();
    let deliveries = del::table
        .filter(del::terugkoppeling_id.eq_any(ids))
        .select(del::id);
    diesel::update(att::table.filter(att::delivery_id.eq_any(deliveries)))
        .set(att::at.eq(ago(days)))
        .execute(&mut c)
        .unwrap();
    diesel::update(del::table.filter(del::terugkoppeling_id.eq_any(ids)))
        .set((del::created_at.eq(ago(days)), del::updated_at.eq(ago(days))))
        .execute(&mut c)
        .unwrap();
}

#[tokio::test]
async fn terugkoppelingen_go_after_delivery_or_death_and_undelivered_ones_stay() {
    let app = app_with(&tks::config(r#"["0s"]"#)).await;
    let rx = tks::receiver();
    let a = tks::provider(&app);
    tks::register(&a, &rx, "json").await;
    register_unreachable(&client(&app, DEAD)).await;
    let pull = client(&app, PULL);
    register_unreachable(&client(&app, PARKED)).await;
    {
        // Parked as after a 410 Gone: its deliveries wait, never leased.
        let mut c = app.db.conn().unwrap();
        let e = endpoints::find(&mut c, &party(PARKED)).unwrap().unwrap();
        endpoints::disable(
            &mut c,
            e.id,
            "HTTP 410 Gone (test)",
            machtigingen::db::now(),
        )
        .unwrap();
    }
    // In outbox order the undelivered come first: the walk passes them.
    let waiting = tks::enqueue_for(&app, &party(PARKED), "MA-w", "W-1");
    let never_acked = tks::enqueue_for(&app, &party(PULL), "MA-p1", "P-1");
    let acked_young = tks::enqueue_for(&app, &party(PULL), "MA-p2", "P-2");
    let delivered_young = tks::enqueue(&app, "MA-a1", "A-1");
    let dead_young = tks::enqueue_for(&app, &party(DEAD), "MA-d1", "D-1");
    let acked_old = tks::enqueue_for(&app, &party(PULL), "MA-p3", "P-3");
    let delivered_old = tks::enqueue(&app, "MA-a2", "A-2");
    let dead_old = tks::enqueue_for(&app, &party(DEAD), "MA-d2", "D-2");
    let (code, v) = pull
        .post_json(
            "/api/v1/terugkoppeling/berichten/bevestiging",
            &json!({"ids": [acked_young, acked_old]}),
        )
        .await;
    assert_eq!((code, v["bevestigd"].as_u64()), (200, Some(2)), "{v}");
    let (delivered_young_public, delivered_old_public) =
        (delivered_young.clone(), delivered_old.clone());
    let [
        waiting,
        never_acked,
        acked_young,
        delivered_young,
        dead_young,
        acked_old,
        delivered_old,
        dead_old,
    ] = [
        &waiting,
        &never_acked,
        &acked_young,
        &delivered_young,
        &dead_young,
        &acked_old,
        &delivered_old,
        &dead_old,
    ]
    .map(|p| id_of(&app, p));
    let settled = eventually(20, || async {
        deliveries_in(&app, delivered_old, queue::AFGELEVERD) == 1
            && deliveries_in(&app, delivered_young, queue::AFGELEVERD) == 1
            && deliveries_in(&app, dead_old, queue::DOOD) == 1
            && deliveries_in(&app, dead_young, queue::DOOD) == 1
            && deliveries_in(&app, waiting, queue::WACHTEND) == 1
            && outbox_rows(&app, never_acked).1 == 1
    })
    .await;
    assert!(settled, "deliveries did not settle");

    let all = [
        waiting,
        never_acked,
        acked_young,
        delivered_young,
        dead_young,
        acked_old,
        delivered_old,
        dead_old,
    ];
    written_ago(&app, &all, 400);
    for (id, days) in [
        (delivered_old, 31),
        (dead_old, 31),
        (delivered_young, 29),
        (dead_young, 29),
    ] {
        done_ago(&app, id, days);
    }
    for (id, days) in [(acked_old, 31), (acked_young, 29)] {
        diesel::update(ack::table.find(id))
            .set(ack::at.eq(ago(days)))
            .execute(&mut app.db.conn().unwrap())
            .unwrap();
    }

    let r = purge(&app);
    for id in [delivered_old, dead_old, acked_old] {
        assert_eq!(outbox_rows(&app, id), (0, 0, 0, 0, 0), "{id} not purged");
    }
    assert_eq!(outbox_rows(&app, delivered_young), (1, 1, 1, 1, 0));
    assert_eq!(outbox_rows(&app, dead_young), (1, 1, 1, 1, 0));
    assert_eq!(outbox_rows(&app, acked_young), (1, 1, 0, 0, 1));
    assert_eq!(outbox_rows(&app, never_acked), (1, 1, 0, 0, 0));
    assert_eq!(outbox_rows(&app, waiting), (1, 1, 1, 0, 0));
    let t = |table| rows(&r, Rule::Terugkoppelingen, table);
    assert_eq!(t(Table::Terugkoppelingen), 3);
    assert_eq!(t(Table::TerugkoppelingFanout), 3);
    assert_eq!(t(Table::TerugkoppelingDeliveries), 2);
    assert_eq!(t(Table::TerugkoppelingAttempts), 2);
    assert_eq!(t(Table::TerugkoppelingAcks), 1);
    let path = |public: &str| format!("/api/v1/terugkoppeling/berichten/{public}");
    assert_eq!(a.get_json(&path(&delivered_young_public)).await.0, 200);
    assert_eq!(a.get_json(&path(&delivered_old_public)).await.0, 404);

    // The dispatcher goes on after the newest row was purged: ids are never
    // reused, and a new terugkoppeling is fanned out and delivered.
    let next = tks::enqueue(&app, "MA-a3", "A-3");
    assert!(id_of(&app, &next) > dead_old, "an id was reused");
    let delivered = eventually(20, || async {
        tks::referenties(&rx).iter().any(|r| r == "A-3")
    })
    .await;
    assert!(delivered, "no delivery after the purge");
}

/// Rows pointing at a parent that is gone, per child table.
fn orphans(app: &TestApp) -> [i64; 6] {
    let mut c = app.db.conn().unwrap();
    let parent = ma::table.filter(ma::id.eq(machtiging_events::request_id));
    let events: i64 = machtiging_events::table
        .filter(not(exists(parent)))
        .count()
        .get_result(&mut c)
        .unwrap();
    let parent = ma::table.filter(ma::id.eq(insurer_inbox::request_id));
    let inbox: i64 = insurer_inbox::table
        .filter(not(exists(parent)))
        .count()
        .get_result(&mut c)
        .unwrap();
    let deliveries: i64 = del::table
        .filter(not(exists(
            tk::table.filter(tk::id.eq(del::terugkoppeling_id)),
        )))
        .count()
        .get_result(&mut c)
        .unwrap();
    let attempts: i64 = att::table
        .filter(not(exists(del::table.filter(del::id.eq(att::delivery_id)))))
        .count()
        .get_result(&mut c)
        .unwrap();
    let fanout: i64 = fan::table
        .filter(not(exists(
            tk::table.filter(tk::id.eq(fan::terugkoppeling_id)),
        )))
        .count()
        .get_result(&mut c)
        .unwrap();
    let acks: i64 = ack::table
        .filter(not(exists(
            tk::table.filter(tk::id.eq(ack::terugkoppeling_id)),
        )))
        .count()
        .get_result(&mut c)
        .unwrap();
    [events, inbox, deliveries, attempts, fanout, acks]
}

#[tokio::test]
async fn a_run_cut_short_leaves_nothing_dangling_and_the_next_continues() {
    let app = app_with(&tks::config(r#"["0s"]"#)).await;
    load_sample_catalog(&app);
    let rx = tks::receiver();
    let provider = tks::provider(&app);
    tks::register(&provider, &rx, "json").await;
    let ins = insurer(&app);
    let mut old = Vec::new();
    for _ in 0..4 {
        let id = submit(&provider, &Aanvraag::default()).await;
        let body = json!({"status": "Toegekend", "geldigVan": days(-900), "geldigTot": days(-800)});
        decide(&ins, &id, body).await;
        old.push(id);
    }
    let young = submit(&provider, &Aanvraag::default()).await;
    let delivered = eventually(20, || async { rx.received().len() >= 4 }).await;
    assert!(delivered, "decisions not delivered");
    let subjects: Vec<i64> = tk::table
        .filter(tk::subject_id.eq_any(&old))
        .select(tk::id)
        .load(&mut app.db.conn().unwrap())
        .unwrap();
    assert!(subjects.len() >= 4, "{subjects:?}");
    let settled = eventually(20, || async {
        subjects
            .iter()
            .all(|id| deliveries_in(&app, *id, queue::AFGELEVERD) == 1)
    })
    .await;
    assert!(settled);
    written_ago(&app, &subjects, 400);
    for id in &subjects {
        done_ago(&app, *id, 100);
    }

    // One batch of one row per run: every run stops after one commit.
    let mut runs = 0;
    loop {
        let r = purge_with(&app, 1, Some(1));
        runs += 1;
        assert_eq!(orphans(&app), [0; 6], "dangling rows after run {runs}");
        if r.complete {
            assert_eq!(r.total.total(), 0, "{r:?}");
            break;
        }
        assert_eq!(r.batches, 1, "{r:?}");
        assert!(runs <= 4 + subjects.len() + 1, "no end in sight: {r:?}");
    }
    assert_eq!(runs, old.len() + subjects.len() + 1);
    for id in &old {
        assert_eq!(stored(&app, id), (0, 0, 0), "{id}");
    }
    for id in &subjects {
        assert_eq!(outbox_rows(&app, *id), (0, 0, 0, 0, 0), "{id}");
    }
    assert_eq!(stored(&app, &young).0, 1);
}

const BIN: &str = env!("CARGO_BIN_EXE_machtigingen");

fn command(app: &TestApp, dir: &std::path::Path, args: &[&str]) -> String {
    let o = Command::new(BIN)
        .current_dir(dir)
        .env("MACHTIGINGEN_DATABASE__URL", &app.config.database.url)
        .env("RUST_LOG", "warn")
        .args(args)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{args:?}: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

#[tokio::test]
async fn the_command_counts_in_a_dry_run_and_deletes_nothing_then_purges() {
    let (app, provider) = app_with_provider().await;
    let ins = insurer(&app);
    let old = submit(&provider, &Aanvraag::default()).await;
    let body = json!({"status": "Toegekend", "geldigVan": days(-900), "geldigTot": days(-800)});
    decide(&ins, &old, body).await;
    let young = submit(&provider, &Aanvraag::default()).await;
    let before = stored(&app, &old);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let dry = command(&app, d, &["purge", "--dry-run"]);
    assert!(dry.contains("dry run"), "{dry}");
    assert!(dry.contains("1 machtigingsaanvragen"), "{dry}");
    assert!(dry.contains("730 days"), "{dry}");
    let v: serde_json::Value =
        serde_json::from_str(&command(&app, d, &["purge", "--dry-run", "--json"])).unwrap();
    assert_eq!(v["dry_run"], true, "{v}");
    assert_eq!(v["total"]["machtigingsaanvragen"], 1, "{v}");
    assert_eq!(
        v["total"]["machtiging_events"].as_i64(),
        Some(before.1),
        "{v}"
    );
    assert_eq!(v["rules"][0]["rule"], "aanvragen", "{v}");
    assert_eq!(v["rules"][0]["key"], "retentie.bewaartermijn_dagen", "{v}");
    assert_eq!(stored(&app, &old), before, "a dry run deleted");
    let audited: i64 = machtigingen::db::schema::audit_log::table
        .filter(machtigingen::db::schema::audit_log::action.eq("retentie.verwijderd"))
        .count()
        .get_result(&mut app.db.conn().unwrap())
        .unwrap();
    assert_eq!(audited, 0, "a dry run wrote an audit row");

    let v: serde_json::Value =
        serde_json::from_str(&command(&app, d, &["purge", "--json"])).unwrap();
    assert_eq!(
        (v["dry_run"].as_bool(), v["complete"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(v["total"]["machtigingsaanvragen"], 1, "{v}");
    assert_eq!(stored(&app, &old), (0, 0, 0));
    assert_eq!(stored(&app, &young).0, 1);
    let again = command(&app, d, &["purge"]);
    assert!(again.contains("total: 0 row(s)"), "{again}");
}
