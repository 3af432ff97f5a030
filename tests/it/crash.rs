//! Crash test: the real binary under submit and decision load is killed with
//! SIGKILL at random moments and restarted, several times. Afterwards every
//! submission and decision that got a success answer is in the database, and
//! every terugkoppeling of a successful decision reached the receiver at least
//! once, in order per request. Ignored by default (it takes a while);
//! `.ci/run` runs it with `MT_CRASH_KILLS=3`, longer runs take e.g. 20.

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use machtigingen::registry::Scope;

use crate::fixtures::{self, Aanvraag, beoordeling};
use crate::support::{TestApp, pki};
use crate::terugkoppeling_support as tk;

const BIN: &str = env!("CARGO_BIN_EXE_machtigingen");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Service {
    config: std::path::PathBuf,
    ops: u16,
    child: Option<Child>,
}

impl Service {
    fn start(&mut self) {
        let child = Command::new(BIN)
            .args(["--config", self.config.to_str().unwrap(), "serve"])
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    async fn ready(&self) -> bool {
        let url = format!("http://127.0.0.1:{}/health/ready", self.ops);
        crate::support::eventually(20, || {
            let url = url.clone();
            async move {
                reqwest::get(&url)
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            // std's kill is SIGKILL on Unix: no shutdown, no flushing.
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill9();
    }
}

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
    let (port, ops) = (free_port(), free_port());
    let p = pki();
    let (client_cert, client_key, _) = tk::platform_client();
    let config = app.dir.path().join("crash.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nops_listen = \"127.0.0.1:{ops}\"\nshutdown_timeout_secs = 1\n\
             [database]\nurl = \"{db}\"\n[tls]\ncert = \"{cert}\"\nkey = \"{key}\"\nclient_ca = [\"{ca}\"]\ncrl = [\"{crl}\"]\n\
             [pki]\ndir = \"{pkidir}\"\n[dev]\nbootstrap = false\n[retentie]\npurge_interval = \"0s\"\n\
             [terugkoppeling]\ndispatcher = true\nclient_cert = \"{cc}\"\nclient_key = \"{ck}\"\ntoegestane_netwerken = [\"127.0.0.0/8\"]\n\
             retry_schedule = [\"0s\", \"200ms\", \"500ms\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\", \"1s\"]\n\
             poll_interval = \"50ms\"\nlease = \"3s\"\ntimeout = \"2s\"\nconnect_timeout = \"1s\"\n",
            db = app.config.database.url,
            cert = p.server_cert.display(),
            key = p.server_key.display(),
            ca = p.ca_pem.display(),
            crl = app.crl_path.display(),
            pkidir = p.dir.display(),
            cc = client_cert.display(),
            ck = client_key.display(),
        ),
    )
    .unwrap();
    let mut service = Service {
        config,
        ops,
        child: None,
    };
    service.start();
    assert!(service.ready().await, "service did not start");
    let base = format!("https://localhost:{port}");

    let provider = app.provider(
        "03123456",
        &[Scope::MachtigingenIndienen, Scope::TerugkoppelingBeheren],
    );
    tk::register(&provider, &rx, "json").await;
    let provider = provider.with_base(&base);
    let insurer = fixtures::insurer(&app).with_base(&base);

    // Load: submitters and a decider, recording every success answer.
    let submitted: Arc<Mutex<Vec<String>>> = Arc::default();
    let decided: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (c, submitted, stop) = (provider.clone(), submitted.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let doc = Aanvraag::default().xml();
                let r = c
                    .http
                    .post(c.url("/api/v1/machtigingsaanvragen"))
                    .header("content-type", "application/xml")
                    .body(doc)
                    .send()
                    .await;
                if let Ok(r) = r {
                    if r.status().as_u16() == 201 {
                        if let Ok(v) = r.json::<serde_json::Value>().await {
                            submitted
                                .lock()
                                .unwrap()
                                .push(v["machtigingsaanvraagId"].as_str().unwrap().to_owned());
                        }
                    }
                } else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    {
        let (c, submitted, decided, stop) = (
            insurer.clone(),
            submitted.clone(),
            decided.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut next = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let ids: Vec<String> = submitted.lock().unwrap()[next..].to_vec();
                if ids.is_empty() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                for id in &ids {
                    for status in ["InBehandeling", "Toegekend"] {
                        let path = c.url(&format!(
                            "/api/v1/beoordeling/machtigingsaanvragen/{id}/beoordeling"
                        ));
                        let ok = c
                            .http
                            .post(path)
                            .json(&beoordeling(status))
                            .send()
                            .await
                            .is_ok_and(|r| r.status().is_success());
                        if ok {
                            decided
                                .lock()
                                .unwrap()
                                .entry(id.clone())
                                .or_default()
                                .push(status.to_owned());
                        }
                    }
                }
                next += ids.len();
            }
        }));
    }

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
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }

    // Every acknowledged submission and decision is stored.
    let submitted = submitted.lock().unwrap().clone();
    let decided = decided.lock().unwrap().clone();
    assert!(
        !submitted.is_empty() && !decided.is_empty(),
        "no load got through"
    );
    let reader = app.provider("03123456", &[Scope::MachtigingenRaadplegen]);
    for id in &submitted {
        let (status, v) = reader
            .get_json(&format!("/api/v1/machtigingsaanvragen/{id}"))
            .await;
        assert_eq!(status, 200, "acknowledged submission {id} lost");
        if let Some(steps) = decided.get(id) {
            let last = steps.last().unwrap();
            let st = v["status"].as_str().unwrap();
            assert!(
                st == last || (last == "InBehandeling" && st == "Toegekend"),
                "{id}: decided {steps:?}, stored {st}"
            );
        }
    }

    // Every terugkoppeling of an acknowledged decision arrives, in order.
    let expected: usize = decided.values().map(Vec::len).sum();
    let arrived = |rx: &machtigingen::receiver::Receiver| -> HashMap<String, Vec<String>> {
        let mut m: HashMap<String, Vec<String>> = HashMap::new();
        for v in rx
            .received()
            .iter()
            .filter_map(|r| serde_json::from_str::<serde_json::Value>(&r.body).ok())
        {
            if v["type"] == "machtiging.status" {
                m.entry(
                    v["data"]["machtigingsaanvraagId"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                )
                .or_default()
                .push(v["data"]["status"].as_str().unwrap().to_owned());
            }
        }
        m
    };
    let complete = |m: &HashMap<String, Vec<String>>| {
        decided.iter().all(|(id, steps)| {
            let got: HashSet<&String> = m.get(id).map(|v| v.iter().collect()).unwrap_or_default();
            steps.iter().all(|s| got.contains(s))
        })
    };
    assert!(
        crate::support::eventually(60, || async { complete(&arrived(&rx)) }).await,
        "not every acknowledged decision's terugkoppeling arrived"
    );
    let got = arrived(&rx);
    for (id, seq) in &got {
        let first = |s: &str| seq.iter().position(|x| x == s);
        if let (Some(a), Some(b)) = (first("InBehandeling"), first("Toegekend")) {
            assert!(a < b, "{id}: out of order {seq:?}");
        }
    }
    eprintln!(
        "crash test: {kills} kill -9 in {:.1} s; {} submissions and {} decisions acknowledged and found; {} terugkoppelingen received ({} duplicates)",
        started.elapsed().as_secs_f64(),
        submitted.len(),
        expected,
        got.values().map(Vec::len).sum::<usize>(),
        rx.duplicates()
    );
}
