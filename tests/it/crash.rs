//! Crash test: the real binary under submit and decision load is killed with
//! SIGKILL at random moments and restarted, several times. Afterwards every
//! submission and decision that got a success answer is in the database, and
//! every terugkoppeling of a successful decision reached the receiver at least
//! once, in order per request. Ignored by default (it takes a while);
//! `.ci/run` runs it with `MT_CRASH_KILLS=3`, longer runs take e.g. 20.

use std::time::{Duration, Instant};

use machtigingen::registry::Scope;

use crate::fixtures;
use crate::load::Load;
use crate::support::TestApp;
use crate::support::service::Service;
use crate::terugkoppeling_support as tk;

#[tokio::test]
#[ignore = "slow: run with --ignored (MT_CRASH_KILLS, default 3)"]
async fn kill_9_under_load_loses_nothing_that_was_acknowledged() {
    let kills: usize = std::env::var("MT_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    // The in-process app only registers (callbacks to loopback allowed); the
    // external binary is the one dispatcher on this database.
    let app = TestApp::builder()
        .config(&tk::config_with(r#"["0s"]"#, "dispatcher = false"))
        .spawn()
        .await;
    fixtures::load_sample_catalog(&app);
    let rx = tk::receiver();

    // The external service: same database, its own ports, the dispatcher on.
    let mut service = Service::configure(
        &app,
        "crash",
        &tk::config_with(
            r#"["0s", "200ms", "500ms", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s"]"#,
            "lease = \"3s\"\ntimeout = \"2s\"",
        ),
    );
    service.start();
    assert!(service.ready().await, "service did not start");
    let base = service.base_url();

    let provider = app.provider(
        "03123456",
        &[Scope::MachtigingenIndienen, Scope::TerugkoppelingBeheren],
    );
    tk::register(&provider, &rx, "json").await;
    let provider = provider.with_base(&base);
    let insurer = fixtures::insurer(&app).with_base(&base);

    let load = Load::start(&provider, &insurer, 4);

    // Kill -9 at random moments, restart.
    let started = Instant::now();
    for _ in 0..kills {
        let mut b = [0u8; 2];
        openssl::rand::rand_bytes(&mut b).unwrap();
        tokio::time::sleep(Duration::from_millis(
            700 + u64::from(u16::from_le_bytes(b)) % 1500,
        ))
        .await;
        service.kill9();
        tokio::time::sleep(Duration::from_millis(200)).await;
        service.start();
        assert!(service.ready().await, "service did not come back");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let results = load.stop().await;

    // Every acknowledged submission and decision is stored, and every
    // terugkoppeling of an acknowledged decision arrives, in order.
    let reader = app.provider("03123456", &[Scope::MachtigingenRaadplegen]);
    results.assert_stored(&reader).await;
    let received = results.assert_delivered(&rx, 60).await;
    eprintln!(
        "crash test: {kills} kill -9 in {:.1} s; {} submissions and {} decisions acknowledged and found; {received} terugkoppelingen received ({} duplicates)",
        started.elapsed().as_secs_f64(),
        results.submitted.len(),
        results.decisions(),
        rx.duplicates()
    );
}
