//! A mutual-TLS HTTP load generator for `scripts/bench.sh`.
//!
//! Why not oha: every submission must carry its own Referentie (the
//! idempotency key), or all but the first would be cheap repeats; oha sends
//! one fixed body. This tool replaces `{n}` in the body (and in URL lists) with
//! a per-request counter, keeps connections alive (one client per worker),
//! optionally paces to a fixed rate, and prints one JSON line with throughput
//! and latency percentiles. With `--warmup-url`, every worker first opens its
//! connection with one request there (TLS handshake included) and the clock
//! starts only when all have: 32 handshakes at once take a few hundred
//! milliseconds on two cores and would otherwise land in the percentiles. Every scenario, including the ceiling, uses it,
//! so the ratios compare like with like.
//!
//! Two modes. Without `--rate` the workers are a closed loop: each sends its
//! next request when the previous answer arrived, and latency is timed from
//! the send. With `--rate` the schedule is open: request k is due at
//! k / rate, and its latency is timed from when it was *due*, not from when a
//! worker got round to sending it. Otherwise a stall would delay the requests
//! queued behind it without counting that delay (coordinated omission), and
//! the tail at a fixed rate would look kinder than what a client at that rate
//! sees. The service's own share (send to answer) is reported beside it as
//! `sent_p50_ms`/`sent_p99_ms`, and `late_max_ms` says how far behind the
//! schedule the workers fell.
//!
//! cargo run --release --example loadgen -- --url https://127.0.0.1:8443/api/v1/whoami \
//!     --cert c.pem --key c.key --cacert ca.pem [--method POST --body-file f.xml \
//!     --header 'content-type: application/xml'] [--urls-file paths.txt] \
//!     [--concurrency 32] [--duration 10] [--requests N] [--rate 500] \
//!     [--warmup-url https://127.0.0.1:8443/api/v1/whoami]

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Args {
    url: String,
    urls: Vec<String>,
    method: reqwest::Method,
    body: Option<String>,
    headers: Vec<(String, String)>,
    cert: String,
    key: String,
    cacert: String,
    concurrency: usize,
    duration: Duration,
    requests: Option<u64>,
    rate: Option<f64>,
    start: u64,
    warmup: Option<String>,
}

fn parse() -> Args {
    let mut a = Args {
        url: String::new(),
        urls: Vec::new(),
        method: reqwest::Method::GET,
        body: None,
        headers: Vec::new(),
        cert: String::new(),
        key: String::new(),
        cacert: String::new(),
        concurrency: 32,
        duration: Duration::from_secs(10),
        requests: None,
        rate: None,
        start: 0,
        warmup: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = v(),
            "--urls-file" => {
                a.urls = std::fs::read_to_string(v())
                    .unwrap()
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "--method" => a.method = v().parse().unwrap(),
            "--body-file" => a.body = Some(std::fs::read_to_string(v()).unwrap()),
            "--header" => {
                let h = v();
                let (k, val) = h.split_once(':').unwrap();
                a.headers.push((k.trim().to_owned(), val.trim().to_owned()));
            }
            "--cert" => a.cert = v(),
            "--key" => a.key = v(),
            "--cacert" => a.cacert = v(),
            "--concurrency" => a.concurrency = v().parse().unwrap(),
            "--duration" => a.duration = Duration::from_secs_f64(v().parse().unwrap()),
            "--requests" => a.requests = Some(v().parse().unwrap()),
            "--rate" => a.rate = Some(v().parse().unwrap()),
            "--start" => a.start = v().parse().unwrap(),
            "--warmup-url" => a.warmup = Some(v()),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

fn client(a: &Args) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&a.cacert).unwrap()).unwrap();
    let id = reqwest::Identity::from_pkcs8_pem(
        &std::fs::read(&a.cert).unwrap(),
        &std::fs::read(&a.key).unwrap(),
    )
    .unwrap();
    reqwest::Client::builder()
        .tls_backend_native()
        .tls_certs_only([ca])
        .identity(id)
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let a = Arc::new(parse());
    let counter = Arc::new(AtomicU64::new(a.start));
    let issued = Arc::new(AtomicU64::new(0));
    let ready = Arc::new(tokio::sync::Barrier::new(a.concurrency + 1));
    let clock = Arc::new(tokio::sync::OnceCell::new());
    let mut workers = Vec::new();
    for w in 0..a.concurrency {
        let (a, counter, issued) = (a.clone(), counter.clone(), issued.clone());
        let (ready, clock) = (ready.clone(), clock.clone());
        workers.push(tokio::spawn(async move {
            let c = client(&a);
            if let Some(url) = &a.warmup {
                // Any answer will do: the connection is open and kept.
                if let Ok(r) = c.get(url).send().await {
                    let _ = r.bytes().await;
                }
            }
            ready.wait().await;
            let started: Instant = *clock.get_or_init(|| async { Instant::now() }).await;
            let deadline = started + a.duration;
            let mut lat = Vec::new();
            let mut sent_lat = Vec::new();
            let mut late_max = 0f64;
            let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
            let mut errors = 0u64;
            loop {
                let k = issued.fetch_add(1, Ordering::Relaxed);
                if a.requests.is_some_and(|n| k >= n) || Instant::now() >= deadline {
                    break;
                }
                let due = a.rate.map(|rate| {
                    // Open-loop pacing: request k is due at k / rate.
                    started + Duration::from_secs_f64(k as f64 / rate)
                });
                if let Some(due) = due {
                    if due >= deadline {
                        break;
                    }
                    tokio::time::sleep_until(due.into()).await;
                }
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let url = if a.urls.is_empty() {
                    a.url.replace("{n}", &n.to_string())
                } else {
                    format!("{}{}", a.url, a.urls[(k as usize) % a.urls.len()])
                };
                let mut req = c.request(a.method.clone(), url);
                for (h, v) in &a.headers {
                    req = req.header(h, v);
                }
                if let Some(b) = &a.body {
                    req = req.body(b.replace("{n}", &format!("{w}-{n}")));
                }
                let sent = Instant::now();
                // At a fixed rate the clock runs from the scheduled send time.
                let t = due.unwrap_or(sent);
                late_max = late_max.max(sent.duration_since(t).as_secs_f64() * 1000.0);
                match req.send().await {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                        sent_lat.push(sent.elapsed().as_secs_f64() * 1000.0);
                        *statuses.entry(s).or_default() += 1;
                    }
                    Err(_) => errors += 1,
                }
            }
            (lat, sent_lat, late_max, statuses, errors)
        }));
    }
    ready.wait().await;
    let started: Instant = *clock.get_or_init(|| async { Instant::now() }).await;
    let mut lat = Vec::new();
    let mut sent_lat = Vec::new();
    let mut late_max = 0f64;
    let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
    let mut errors = 0;
    for w in workers {
        let (l, sl, late, s, e) = w.await.unwrap();
        lat.extend(l);
        sent_lat.extend(sl);
        late_max = late_max.max(late);
        for (k, v) in s {
            *statuses.entry(k).or_default() += v;
        }
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_by(|x, y| x.total_cmp(y));
    sent_lat.sort_by(|x, y| x.total_cmp(y));
    let ok: u64 = statuses
        .iter()
        .filter(|(s, _)| (200..300).contains(*s))
        .map(|(_, v)| v)
        .sum();
    println!(
        "{}",
        serde_json::json!({
            "requests": lat.len(),
            "ok": ok,
            "errors": errors,
            "statuses": statuses,
            "seconds": secs,
            "rps": ok as f64 / secs,
            "p50_ms": pct(&lat, 0.50),
            "p90_ms": pct(&lat, 0.90),
            "p99_ms": pct(&lat, 0.99),
            "max_ms": lat.last().copied().unwrap_or(0.0),
            "timed_from": if a.rate.is_some() { "due" } else { "send" },
            "sent_p50_ms": pct(&sent_lat, 0.50),
            "sent_p99_ms": pct(&sent_lat, 0.99),
            "late_max_ms": late_max,
        })
    );
}
