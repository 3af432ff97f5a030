//! Outage: the PostgreSQL server is killed (`pg_ctl stop -m immediate`) under
//! submit and decision load and started again a few seconds later. While it is
//! down every answer is a prompt `503 SYS-002` (no hang, no 500) and readiness
//! reports it; once it is back the service recovers by itself, nothing that got
//! a success answer is lost, and the dispatcher delivers every terugkoppeling
//! of an acknowledged decision. A private server is started for this (the
//! suite's shared one must stay up), so the test is ignored by default and
//! `.ci/run` runs it.
//!
//! The other outages are covered elsewhere: callback receiver down for the whole
//! schedule (`terugkoppeling_dispatch`), SQLite locked by another process
//! (`hostile`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use machtigingen::registry::Scope;

use crate::fixtures;
use crate::load::Load;
use crate::support::private_pg::PrivatePg;
use crate::support::{TestApp, eventually};
use crate::terugkoppeling_support as tk;

async fn ready_status(app: &TestApp) -> Option<u16> {
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        reqwest::get(app.ops_url("/health/ready")),
    )
    .await;
    match r {
        Ok(Ok(r)) => Some(r.status().as_u16()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts and kills a private PostgreSQL server: run with --ignored"]
async fn postgres_killed_under_load_answers_503_and_recovers_without_loss() {
    // The service's warnings and errors on stderr: an unexpected answer here
    // depends on timing, and its cause is only in the log.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn,r2d2=off")
        .try_init();
    let pg = Arc::new(
        tokio::task::spawn_blocking(PrivatePg::start_new)
            .await
            .unwrap(),
    );
    let app = TestApp::builder()
        .database(&pg.url("test"))
        .config(&tk::config_with(r#"["0s", "500ms", "1s", "1s", "1s"]"#, ""))
        .spawn()
        .await;
    let pool_wait = Duration::from_secs(app.config.database.connect_timeout_secs);
    fixtures::load_sample_catalog(&app);
    let rx = tk::receiver();
    let provider = app.provider(
        tk::AGB,
        &[Scope::MachtigingenIndienen, Scope::TerugkoppelingBeheren],
    );
    tk::register(&provider, &rx, "json").await;
    let insurer = fixtures::insurer(&app);

    let load = Load::start(&provider, &insurer, 4);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let p = pg.clone();
    tokio::task::spawn_blocking(move || p.kill()).await.unwrap();
    let down_at = Instant::now();
    assert!(
        eventually(15, || async { ready_status(&app).await == Some(503) }).await,
        "readiness did not report the database down"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;

    let restart_at = Instant::now();
    let p = pg.clone();
    tokio::task::spawn_blocking(move || p.start())
        .await
        .unwrap();
    let up_at = Instant::now();
    let recovered = eventually(30, || async {
        load.outcomes().iter().any(|o| o.sent >= up_at && o.ok())
    })
    .await;
    assert!(
        recovered,
        "no request succeeded within 30 s after the restart"
    );
    let recovery = load
        .outcomes()
        .iter()
        .filter(|o| o.sent >= up_at && o.ok())
        .map(|o| o.sent + o.took - up_at)
        .min()
        .unwrap();
    assert_eq!(
        ready_status(&app).await,
        Some(200),
        "readiness after restart"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let results = load.stop().await;

    // While down: errors, promptly, and the documented one.
    let mut refused = 0;
    for o in &results.outcomes {
        let ok = o.ok();
        assert!(
            ok || (o.status == Some(503) && o.code.as_deref() == Some("SYS-002")),
            "an answer other than success or 503 SYS-002: {o:?}"
        );
        assert!(
            o.took <= pool_wait + Duration::from_secs(3),
            "a request took {:?} (pool wait {pool_wait:?})",
            o.took
        );
        if o.sent > down_at && o.sent + o.took < restart_at {
            assert!(!ok, "a success while the database was down: {o:?}");
            refused += 1;
        }
    }
    assert!(refused >= 4, "only {refused} requests met the outage");
    // Recovered means all of it: no connection broken by the outage lingers
    // in the pool to fail a later request.
    let settled = up_at + recovery + Duration::from_secs(1);
    let late_failures: Vec<_> = results
        .outcomes
        .iter()
        .filter(|o| o.sent > settled && !o.ok())
        .collect();
    assert!(
        late_failures.is_empty(),
        "{} failures more than 1 s after recovery, e.g. {:?}",
        late_failures.len(),
        late_failures.first()
    );

    // Nothing acknowledged is lost; the dispatcher picked up again.
    let reader = app.provider(tk::AGB, &[Scope::MachtigingenRaadplegen]);
    results.assert_stored(&reader).await;
    let received = results.assert_delivered(&rx, 60).await;
    eprintln!(
        "outage test: PostgreSQL down {:.1} s; {refused} requests answered 503 SYS-002 meanwhile \
         (slowest {:.1} s); first success {:.2} s after the restart; {} submissions and {} \
         decisions acknowledged and found; {received} terugkoppelingen received",
        (up_at - down_at).as_secs_f64(),
        results
            .outcomes
            .iter()
            .map(|o| o.took)
            .max()
            .unwrap_or_default()
            .as_secs_f64(),
        recovery.as_secs_f64(),
        results.submitted.len(),
        results.decisions(),
    );
}
