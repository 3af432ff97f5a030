//! The retention purge (src/retention) on a real server's database, per
//! table: old rows go, younger ones stay, and data still in use (an open
//! request with the insurer, an unhandled registration, an undelivered
//! terugkoppeling) is never a candidate. Rows are made through the real
//! doors and aged by moving their timestamps back in the database. Batches
//! are small so every test crosses batch boundaries. The terugkoppelingen,
//! a run cut short and the command are in `retention_outbox.rs`.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use machtigingen::audit::{self, AuditEntry};
use machtigingen::db::schema::{
    audit_log, insurer_inbox, machtiging_events, machtigingsaanvragen as ma, optin_registraties,
};
use machtigingen::registry::{CertKind, PartyKind, Scope};
use machtigingen::retention::service::{self, Options, Report};
use machtigingen::retention::{Policy, Rule, Table};
use serde_json::json;

use crate::fixtures::{
    Aanvraag, days, insurer, insurer_sets, load_sample_catalog, post_xml, random_suffix, submit,
};
use crate::support::{TestApp, TestClient};

/// The app's own background purge off: the tests run theirs.
pub const NO_PURGE: &str = "[retentie]\npurge_interval = \"0s\"";

pub async fn app_with(config: &str) -> TestApp {
    TestApp::builder()
        .config(config)
        .config(NO_PURGE)
        .spawn()
        .await
}

/// [`crate::fixtures::app_with_provider`] without the background purge.
pub async fn app_with_provider() -> (TestApp, TestClient) {
    let app = app_with("").await;
    load_sample_catalog(&app);
    let client = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    (app, client)
}

pub fn ago(days: i64) -> NaiveDateTime {
    machtigingen::db::now() - Duration::days(days)
}

/// A purge with the app's periods, `batch` rows per batch, stopped after
/// `max` batches that deleted something.
pub fn purge_with(app: &TestApp, batch: u32, max: Option<usize>) -> Report {
    let mut policy = Policy::from(&app.config.retentie);
    policy.batch_size = batch;
    let options = Options {
        max_batches: max,
        ..Options::new(audit::OPERATOR)
    };
    service::run_blocking(&mut app.db.conn().unwrap(), policy, options).unwrap()
}

pub fn purge(app: &TestApp) -> Report {
    purge_with(app, 2, None)
}

pub fn rows(r: &Report, rule: Rule, t: Table) -> u64 {
    r.rule(rule).unwrap().rows.get(t)
}

/// Moves a request's last change back.
pub fn changed(app: &TestApp, id: &str, at: NaiveDateTime) {
    diesel::update(ma::table.find(id))
        .set(ma::updated_at.eq(at))
        .execute(&mut app.db.conn().unwrap())
        .unwrap();
}

/// (request, history events, inbox entries) stored for a request.
pub fn stored(app: &TestApp, id: &str) -> (i64, i64, i64) {
    let mut c = app.db.conn().unwrap();
    (
        ma::table.find(id).count().get_result(&mut c).unwrap(),
        machtiging_events::table
            .filter(machtiging_events::request_id.eq(id))
            .count()
            .get_result(&mut c)
            .unwrap(),
        insurer_inbox::table
            .filter(insurer_inbox::request_id.eq(id))
            .count()
            .get_result(&mut c)
            .unwrap(),
    )
}

fn assert_gone(app: &TestApp, id: &str, what: &str) {
    assert_eq!(stored(app, id), (0, 0, 0), "{what} {id} not purged");
}

fn assert_kept(app: &TestApp, id: &str, what: &str) {
    let (request, events, _) = stored(app, id);
    assert_eq!(request, 1, "{what} {id} purged");
    assert!(events >= 1, "{what} {id}: history purged");
}

pub async fn decide(ins: &TestClient, id: &str, body: serde_json::Value) {
    let path = format!("/api/v1/beoordeling/machtigingsaanvragen/{id}/beoordeling");
    let (code, v) = ins.post_json(&path, &body).await;
    assert_eq!(code, 200, "{v}");
}

#[tokio::test]
async fn finished_requests_go_after_the_bewaartermijn_and_younger_ones_stay() {
    let (app, provider) = app_with_provider().await;
    let ins = insurer(&app);
    let granted = |van: i64, tot: i64| json!({"status": "Toegekend", "geldigVan": days(van), "geldigTot": days(tot)});
    let ended_long_ago = submit(&provider, &Aanvraag::default()).await;
    decide(&ins, &ended_long_ago, granted(-900, -731)).await;
    let ended_recently = submit(&provider, &Aanvraag::default()).await;
    decide(&ins, &ended_recently, granted(-900, -729)).await;
    // An old change does not end a machtiging in force.
    let in_force = submit(&provider, &Aanvraag::default()).await;
    decide(&ins, &in_force, granted(-900, 30)).await;
    changed(&app, &in_force, ago(2000));
    let rejected_long_ago = submit(&provider, &Aanvraag::default()).await;
    insurer_sets(&app, &rejected_long_ago, "Afgewezen").await;
    changed(&app, &rejected_long_ago, ago(731));
    let rejected_recently = submit(&provider, &Aanvraag::default()).await;
    insurer_sets(&app, &rejected_recently, "Afgewezen").await;
    changed(&app, &rejected_recently, ago(729));
    let withdrawn_long_ago = submit(&provider, &Aanvraag::default()).await;
    let path = format!("/api/v1/machtigingsaanvragen/{withdrawn_long_ago}/intrekking");
    let (code, v) = provider
        .post_json(&path, &json!({"reden": "Niet meer nodig."}))
        .await;
    assert_eq!(code, 200, "{v}");
    changed(&app, &withdrawn_long_ago, ago(731));
    // Waiting for the insurer is not finished, however long.
    let waiting = submit(&provider, &Aanvraag::default()).await;
    changed(&app, &waiting, ago(2000));
    assert!(stored(&app, &ended_long_ago).2 >= 1, "no inbox entry");

    let r = purge(&app);
    for id in [&ended_long_ago, &rejected_long_ago, &withdrawn_long_ago] {
        assert_gone(&app, id, "finished");
    }
    for id in [&ended_recently, &in_force, &rejected_recently, &waiting] {
        assert_kept(&app, id, "younger or open");
    }
    assert_eq!(rows(&r, Rule::Aanvragen, Table::Machtigingsaanvragen), 3);
    assert!(rows(&r, Rule::Aanvragen, Table::MachtigingEvents) >= 6);
    assert!(rows(&r, Rule::Aanvragen, Table::InsurerInbox) >= 3);
    assert_eq!(r.rule(Rule::OpenAanvragen).unwrap().rows.total(), 0);
    let (status, _) = provider
        .get_json(&format!("/api/v1/machtigingsaanvragen/{ended_long_ago}"))
        .await;
    assert_eq!(status, 404);
    // Nothing is left for a second run.
    assert_eq!(purge(&app).total.get(Table::Machtigingsaanvragen), 0);
}

#[tokio::test]
async fn requests_abandoned_open_go_after_their_own_shorter_period() {
    let (app, provider) = app_with_provider().await;
    let concept = || async {
        let (code, v) = post_xml(
            &provider,
            "/api/v1/machtigingsaanvragen?concept=true",
            &Aanvraag::default().xml(),
        )
        .await;
        assert_eq!(code, 201, "{v}");
        v["machtigingsaanvraagId"].as_str().unwrap().to_owned()
    };
    let asked = || async {
        let id = submit(&provider, &Aanvraag::default()).await;
        insurer_sets(&app, &id, "AanvullendeInformatieGevraagd").await;
        id
    };
    let old_concept = concept().await;
    changed(&app, &old_concept, ago(181));
    let young_concept = concept().await;
    changed(&app, &young_concept, ago(179));
    let old_questions = asked().await;
    changed(&app, &old_questions, ago(181));
    let young_questions = asked().await;
    changed(&app, &young_questions, ago(179));
    let in_treatment = submit(&provider, &Aanvraag::default()).await;
    insurer_sets(&app, &in_treatment, "InBehandeling").await;
    changed(&app, &in_treatment, ago(400));

    let r = purge(&app);
    assert_gone(&app, &old_concept, "abandoned Concept");
    assert_gone(&app, &old_questions, "unanswered questions");
    for id in [&young_concept, &young_questions, &in_treatment] {
        assert_kept(&app, id, "younger or with the insurer");
    }
    assert_eq!(
        rows(&r, Rule::OpenAanvragen, Table::Machtigingsaanvragen),
        2
    );
    assert_eq!(r.rule(Rule::Aanvragen).unwrap().rows.total(), 0);
    let (status, _) = provider
        .get_json(&format!("/api/v1/machtigingsaanvragen/{young_concept}"))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn handled_optin_registrations_go_after_optin_dagen_unhandled_ones_stay() {
    let app = app_with("").await;
    let agb = "01234567";
    let portal = {
        let p = app.party(
            PartyKind::Patientportaal,
            &format!("portaal-{}", random_suffix()),
        );
        app.client(&app.issue(&p, CertKind::Systeem, &[Scope::OptinAanmelden], &[]))
    };
    let provider = app.provider(agb, &[Scope::OptinAfhandelen]);
    let (code, v) = crate::support::json_of(
        provider
            .http
            .put(provider.url("/api/v1/optin/abonnement"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    let mut ids = Vec::new();
    for _ in 0..4 {
        let doc = crate::optin::registratie(&format!("R-{}", random_suffix()), "999999990", agb);
        let resp = portal
            .http
            .post(portal.url("/api/v1/optin/registraties"))
            .header("content-type", "application/xml")
            .body(doc)
            .send()
            .await
            .unwrap();
        let (code, v) = crate::support::json_of(resp).await;
        assert_eq!(code, 201, "{v}");
        ids.push(v["registratieId"].as_str().unwrap().to_owned());
    }
    for id in &ids[..3] {
        let path = format!("/api/v1/optin/registraties/{id}/afhandeling");
        let (code, v) = provider
            .post_json(&path, &json!({"status": "Verwerkt"}))
            .await;
        assert_eq!(code, 200, "{v}");
    }
    use optin_registraties as oi;
    let mut c = app.db.conn().unwrap();
    for (id, handled) in [(&ids[0], 91), (&ids[1], 91), (&ids[2], 89)] {
        diesel::update(oi::table.find(id))
            .set((
                oi::afgehandeld_op.eq(ago(handled)),
                oi::created_at.eq(ago(400)),
            ))
            .execute(&mut c)
            .unwrap();
    }
    // Never handled: kept, however old.
    diesel::update(oi::table.find(&ids[3]))
        .set((
            oi::created_at.eq(ago(2000)),
            oi::updated_at.eq(ago(2000)),
            oi::gegeven_op.eq(ago(2000)),
        ))
        .execute(&mut c)
        .unwrap();
    drop(c);

    let r = purge(&app);
    assert_eq!(
        rows(&r, Rule::OptinRegistraties, Table::OptinRegistraties),
        2
    );
    let left: Vec<String> = oi::table
        .select(oi::id)
        .order(oi::id)
        .load(&mut app.db.conn().unwrap())
        .unwrap();
    assert_eq!(left, vec![ids[2].clone(), ids[3].clone()]);
    let (status, _) = portal
        .get_json(&format!("/api/v1/optin/registraties/{}", ids[0]))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn audit_rows_go_oldest_first_and_never_past_a_row_that_stays() {
    let app = app_with("").await;
    let mut c = app.db.conn().unwrap();
    let mine = |c: &mut machtigingen::db::DbConnection, n: usize| -> i64 {
        audit::record(
            c,
            &AuditEntry {
                fingerprint: None,
                actor: audit::OPERATOR.into(),
                acting_for: None,
                action: "test.retentie",
                object_type: "test",
                object_id: Some(format!("R{n}")),
                outcome: "ok",
                detail: json!({}),
            },
        )
        .unwrap();
        audit_log::table
            .select(diesel::dsl::max(audit_log::id))
            .first::<Option<i64>>(c)
            .unwrap()
            .unwrap()
    };
    let first = mine(&mut c, 0);
    // Whatever the setup wrote is older than everything here.
    diesel::update(audit_log::table.filter(audit_log::id.lt(first)))
        .set(audit_log::at.eq(ago(6000)))
        .execute(&mut c)
        .unwrap();
    let ids: Vec<i64> = std::iter::once(first)
        .chain((1..6).map(|n| mine(&mut c, n)))
        .collect();
    // Past the period, past it, past it, younger, past it again, young.
    for (id, days) in ids.iter().zip([5500, 5490, 5480, 5470, 5500, 0]) {
        diesel::update(audit_log::table.find(id))
            .set(audit_log::at.eq(ago(days)))
            .execute(&mut c)
            .unwrap();
    }
    let oldest = |c: &mut machtigingen::db::DbConnection| {
        let all = machtigingen::retention::store::oldest(c).unwrap();
        let (_, at) = all
            .into_iter()
            .find(|(t, _)| *t == Table::AuditLog)
            .unwrap();
        (machtigingen::db::now() - at.unwrap()).num_days()
    };
    let setup: i64 = audit_log::table
        .filter(audit_log::id.lt(first))
        .count()
        .get_result(&mut c)
        .unwrap();
    assert_eq!(oldest(&mut c), if setup > 0 { 6000 } else { 5500 });
    drop(c);

    let r = purge(&app);
    assert_eq!(
        oldest(&mut app.db.conn().unwrap()),
        5470,
        "the metric's age"
    );
    let left: Vec<i64> = audit_log::table
        .filter(audit_log::action.eq("test.retentie"))
        .select(audit_log::id)
        .order(audit_log::id)
        .load(&mut app.db.conn().unwrap())
        .unwrap();
    assert_eq!(left, ids[3..].to_vec(), "kept: from the first young row on");
    assert!(rows(&r, Rule::Audit, Table::AuditLog) >= 3, "{r:?}");
    let below: i64 = audit_log::table
        .filter(audit_log::id.lt(ids[3]))
        .count()
        .get_result(&mut app.db.conn().unwrap())
        .unwrap();
    assert_eq!(below, 0, "a row older than the first kept one stayed");
    // The run itself is on record, with counts only.
    let run: Vec<(String, String)> = audit_log::table
        .filter(audit_log::action.eq("retentie.verwijderd"))
        .select((audit_log::actor, audit_log::detail))
        .load(&mut app.db.conn().unwrap())
        .unwrap();
    assert_eq!(run.len(), 1, "{run:?}");
    assert_eq!(run[0].0, audit::OPERATOR);
    assert!(run[0].1.contains("\"audit_log\""), "{}", run[0].1);
}
