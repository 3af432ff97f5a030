//! An endpoint's line in the dispatcher: deliveries leased beyond
//! `concurrency_per_endpoint` wait in this instance and go out as soon as a
//! slot frees, within the concurrency limit and FIFO per subject; one that
//! waited so long that its attempt could outlast its lease is given back,
//! not sent late (where the lease could already be another's).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::{TestApp, eventually};
use crate::terugkoppeling_support::*;

/// `machtigingen_terugkoppeling_leases_given_back_total` as scraped now.
async fn given_back(app: &TestApp) -> f64 {
    let text = crate::ops::scrape(app).await;
    crate::ops::value(
        &text,
        "machtigingen_terugkoppeling_leases_given_back_total",
        &[],
    )
    .unwrap_or(0.0)
}

#[tokio::test]
async fn the_line_keeps_the_concurrency_limit_and_fifo_per_subject() {
    // A lease long enough for a line (two whole attempts and the margin).
    let app = TestApp::builder()
        .config(&config_with(
            r#"["0s", "100ms", "200ms", "300ms"]"#,
            "concurrency_per_endpoint = 2\nlease = \"20s\"",
        ))
        .spawn()
        .await;
    let client = provider(&app);
    let r = Arc::new(receiver());
    register(&client, &r, "json").await;
    // Registering sends a check request first.
    let checks = r.requests();
    r.set_delay(Duration::from_millis(20));
    // Sampled while the line drains: requests that arrived and are not yet
    // answered (read in that order, so never overstated).
    let (most, done) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let sampler = {
        let (r, most, done) = (r.clone(), most.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                let started = r.started();
                let answered = r.requests();
                most.fetch_max(started.saturating_sub(answered), Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    for seq in 1..=10 {
        for s in ["P", "Q", "R"] {
            enqueue(&app, &format!("MA-{s}"), &format!("{s}-{seq}"));
        }
    }
    let all = eventually(30, || async { referenties(&r).len() == 30 }).await;
    done.store(true, Ordering::SeqCst);
    sampler.await.unwrap();
    assert!(all, "got {:?}", referenties(&r));
    let refs = referenties(&r);
    for s in ["P", "Q", "R"] {
        let seqs: Vec<u32> = refs
            .iter()
            .filter_map(|x| x.strip_prefix(&format!("{s}-")))
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(seqs, (1..=10).collect::<Vec<_>>(), "{refs:?}");
    }
    let most = most.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&most),
        "{most} requests at once at the receiver"
    );
    assert_eq!(r.requests() - checks, 30, "each sent once");
    assert_eq!(r.duplicates(), 0);
}

#[tokio::test]
async fn a_delivery_that_waited_too_long_in_the_line_is_given_back_not_sent_late() {
    // One at a time, 2 s each; an attempt may take 3.5 s (connect 0.5 s,
    // request 3 s) and a lease lasts 12 s, just long enough for a line. Eight
    // leased at once: the last would start after 14 s, past its lease, when
    // another instance could have taken it over. Anything that waited over
    // 12 - 3.5 - 5 = 3.5 s is given back instead, leased again and sent once.
    let app = TestApp::builder()
        .config(&config_with(
            r#"["0s", "100ms", "200ms", "300ms"]"#,
            "concurrency_per_endpoint = 1\nconnect_timeout = \"500ms\"\ntimeout = \"3s\"\nlease = \"12s\"",
        ))
        .spawn()
        .await;
    let before = given_back(&app).await;
    let client = provider(&app);
    let r = receiver();
    register(&client, &r, "json").await;
    let checks = r.requests();
    r.set_delay(Duration::from_secs(2));
    for n in 1..=8 {
        enqueue(&app, &format!("MA-line-{n}"), &format!("L{n}-1"));
    }
    assert!(
        eventually(60, || async { referenties(&r).len() == 8 }).await,
        "got {:?}",
        referenties(&r)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(r.requests() - checks, 8, "each sent exactly once");
    assert_eq!(r.duplicates(), 0);
    assert!(given_back(&app).await > before, "nothing was given back");
}
