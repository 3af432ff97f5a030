//! Submit-and-decide load for the fault tests (crash, outage): submitters post
//! machtigingsaanvragen over REST, a reader fetches them, one insurer decides each acknowledged one
//! (`InBehandeling`, then `Toegekend`). Every answer is recorded, and what got
//! a success answer is checked afterwards: stored, and its terugkoppelingen
//! delivered in order.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use machtigingen::receiver::Receiver;

use crate::fixtures::{Aanvraag, beoordeling};
use crate::support::TestClient;

/// How long one request may take before the test calls it a hang.
pub const HANG: Duration = Duration::from_secs(20);

/// One answer (or its absence).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub sent: Instant,
    pub took: Duration,
    /// `None`: no HTTP answer (connection refused or reset, or a hang).
    pub status: Option<u16>,
    /// The problem+json `code` of an error answer.
    pub code: Option<String>,
}

impl Outcome {
    /// A success answer (2xx).
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|s| s < 300)
    }
}

#[derive(Default)]
struct Shared {
    submitted: Mutex<Vec<String>>,
    decided: Mutex<HashMap<String, Vec<String>>>,
    outcomes: Mutex<Vec<Outcome>>,
    stop: AtomicBool,
}

pub struct Load {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

pub struct Results {
    /// Request ids whose submission was acknowledged (201).
    pub submitted: Vec<String>,
    /// Per request id, the decisions acknowledged (200), in order.
    pub decided: HashMap<String, Vec<String>>,
    pub outcomes: Vec<Outcome>,
}

/// Sends one request, recording the answer; returns the JSON body of a success.
async fn send(shared: &Shared, req: reqwest::RequestBuilder) -> Option<serde_json::Value> {
    let sent = Instant::now();
    let (status, body) = match tokio::time::timeout(HANG, req.send()).await {
        Ok(Ok(r)) => {
            let status = r.status().as_u16();
            let body = tokio::time::timeout(HANG, r.json::<serde_json::Value>())
                .await
                .ok()
                .and_then(Result::ok);
            (Some(status), body)
        }
        _ => (None, None),
    };
    let outcome = Outcome {
        sent,
        took: sent.elapsed(),
        status,
        code: None,
    };
    let ok = outcome.ok();
    let code = body
        .as_ref()
        .filter(|_| !ok)
        .and_then(|b| b["code"].as_str().map(str::to_owned));
    shared
        .outcomes
        .lock()
        .unwrap()
        .push(Outcome { code, ..outcome });
    if status.is_none() {
        // The server is away (restarting); do not spin.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    body.filter(|_| ok)
}

impl Load {
    pub fn start(provider: &TestClient, insurer: &TestClient, submitters: usize) -> Self {
        let shared = Arc::new(Shared::default());
        let mut tasks = Vec::new();
        for _ in 0..submitters {
            let (c, shared) = (provider.clone(), shared.clone());
            tasks.push(tokio::spawn(async move {
                while !shared.stop.load(Ordering::Relaxed) {
                    let req = c
                        .http
                        .post(c.url("/api/v1/machtigingsaanvragen"))
                        .header("content-type", "application/xml")
                        .body(Aanvraag::default().xml());
                    if let Some(v) = send(&shared, req).await {
                        let id = v["machtigingsaanvraagId"].as_str().unwrap().to_owned();
                        shared.submitted.lock().unwrap().push(id);
                    }
                }
            }));
        }
        // A reader: reads take a pooled connection outside any transaction,
        // so they meet a dead connection differently from writes.
        let (c, s) = (provider.clone(), shared.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0usize;
            while !s.stop.load(Ordering::Relaxed) {
                let id = {
                    let ids = s.submitted.lock().unwrap();
                    (!ids.is_empty()).then(|| ids[i % ids.len()].clone())
                };
                i = i.wrapping_add(7);
                match id {
                    Some(id) => {
                        let path = format!("/api/v1/machtigingsaanvragen/{id}");
                        send(&s, c.http.get(c.url(&path))).await;
                    }
                    None => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }));
        let (c, s) = (insurer.clone(), shared.clone());
        tasks.push(tokio::spawn(async move {
            let mut next = 0;
            while !s.stop.load(Ordering::Relaxed) {
                let ids: Vec<String> = s.submitted.lock().unwrap()[next..].to_vec();
                if ids.is_empty() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                for id in &ids {
                    for status in ["InBehandeling", "Toegekend"] {
                        let path =
                            format!("/api/v1/beoordeling/machtigingsaanvragen/{id}/beoordeling");
                        let req = c.http.post(c.url(&path)).json(&beoordeling(status));
                        if send(&s, req).await.is_some() {
                            let mut decided = s.decided.lock().unwrap();
                            decided.entry(id.clone()).or_default().push(status.into());
                        }
                    }
                }
                next += ids.len();
            }
        }));
        Self { shared, tasks }
    }

    /// Answers recorded so far.
    pub fn outcomes(&self) -> Vec<Outcome> {
        self.shared.outcomes.lock().unwrap().clone()
    }

    pub async fn stop(self) -> Results {
        self.shared.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        Results {
            submitted: self.shared.submitted.lock().unwrap().clone(),
            decided: self.shared.decided.lock().unwrap().clone(),
            outcomes: self.shared.outcomes.lock().unwrap().clone(),
        }
    }
}

impl Results {
    /// Every acknowledged submission is stored, with (at least) its last
    /// acknowledged decision.
    pub async fn assert_stored(&self, reader: &TestClient) {
        assert!(
            !self.submitted.is_empty() && !self.decided.is_empty(),
            "no load got through"
        );
        for id in &self.submitted {
            let (status, v) = reader
                .get_json(&format!("/api/v1/machtigingsaanvragen/{id}"))
                .await;
            assert_eq!(status, 200, "acknowledged submission {id} lost");
            if let Some(steps) = self.decided.get(id) {
                let last = steps.last().unwrap();
                let st = v["status"].as_str().unwrap();
                assert!(
                    st == last || (last == "InBehandeling" && st == "Toegekend"),
                    "{id}: decided {steps:?}, stored {st}"
                );
            }
        }
    }

    /// Every terugkoppeling of an acknowledged decision reaches `rx` within
    /// `secs`, in order per request. Returns how many were received.
    pub async fn assert_delivered(&self, rx: &Receiver, secs: u64) -> usize {
        let arrived = || -> HashMap<String, Vec<String>> {
            let mut m: HashMap<String, Vec<String>> = HashMap::new();
            for v in rx
                .received()
                .iter()
                .filter_map(|r| serde_json::from_str::<serde_json::Value>(&r.body).ok())
                .filter(|v| v["type"] == "machtiging.status")
            {
                let id = v["data"]["machtigingsaanvraagId"].as_str().unwrap();
                let status = v["data"]["status"].as_str().unwrap();
                m.entry(id.to_owned()).or_default().push(status.to_owned());
            }
            m
        };
        let complete = |m: &HashMap<String, Vec<String>>| {
            self.decided.iter().all(|(id, steps)| {
                let got: HashSet<&String> =
                    m.get(id).map(|v| v.iter().collect()).unwrap_or_default();
                steps.iter().all(|s| got.contains(s))
            })
        };
        assert!(
            crate::support::eventually(secs, || async { complete(&arrived()) }).await,
            "not every acknowledged decision's terugkoppeling arrived"
        );
        let got = arrived();
        for (id, seq) in &got {
            let first = |s: &str| seq.iter().position(|x| x == s);
            if let (Some(a), Some(b)) = (first("InBehandeling"), first("Toegekend")) {
                assert!(a < b, "{id}: out of order {seq:?}");
            }
        }
        got.values().map(Vec::len).sum()
    }

    pub fn decisions(&self) -> usize {
        self.decided.values().map(Vec::len).sum()
    }
}
