//! The reference receiver: a small HTTPS server a care provider (and our own
//! tests) can run as the callback endpoint. It requires a client certificate
//! issued by `client_ca` (the platform's), verifies the Standard Webhooks
//! signature and timestamp, deduplicates on `webhook-id` (durably, with
//! `--out`: see [`dedup`]), and appends each new terugkoppeling as one JSON
//! line (`--out FILE`, else stdout). It answers 2xx
//! for accepted and duplicate messages (a duplicate with
//! `X-Machtigingen-Dubbel: true`), 401 for a bad signature.
//!
//! For tests it can simulate an outage ([`Receiver::respond_with`],
//! [`Receiver::set_delay`]) and be stopped and started on the same port.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use openssl::ssl::{SslAcceptor, SslAcceptorBuilder, SslFiletype, SslMethod, SslVerifyMode};

pub mod dedup;

use crate::dispatch::{check, signature};
use dedup::Dedup;

/// How to run a receiver.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    pub listen: SocketAddr,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    /// CA bundle the caller's (platform's) client certificate must chain to.
    pub client_ca: PathBuf,
    /// Accepted secrets (`whsec_…`); several during a rotation.
    pub secrets: Vec<String>,
    pub out: Option<PathBuf>,
    /// Largest accepted difference between `webhook-timestamp` and now.
    pub tolerance_secs: i64,
    /// Where stored `webhook-id`s are remembered across restarts (`None`:
    /// in memory only).
    pub dedup_file: Option<PathBuf>,
    pub dedup: dedup::Limits,
}

/// One accepted terugkoppeling.
#[derive(Debug, Clone)]
pub struct Received {
    pub webhook_id: String,
    pub content_type: String,
    pub body: String,
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// A simulated answer instead of processing (outage, gone, throttling).
#[derive(Debug, Clone, Default)]
struct Knobs {
    status: Option<u16>,
    retry_after: Option<String>,
    delay: Duration,
}

struct State {
    secrets: Mutex<Vec<String>>,
    tolerance: i64,
    seen: Mutex<Dedup>,
    received: Mutex<Vec<Received>>,
    knobs: Mutex<Knobs>,
    out: Option<Mutex<File>>,
    requests: AtomicUsize,
    started: AtomicUsize,
    duplicates: AtomicUsize,
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("TLS: {0}")]
    Tls(#[from] openssl::error::ErrorStack),
    #[error("{0}")]
    Config(String),
}

fn acceptor(c: &ReceiverConfig) -> Result<SslAcceptorBuilder, ReceiverError> {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    b.set_certificate_chain_file(&c.tls_cert)
        .map_err(|e| ReceiverError::Config(format!("--tls-cert {}: {e}", c.tls_cert.display())))?;
    b.set_private_key_file(&c.tls_key, SslFiletype::PEM)
        .map_err(|e| ReceiverError::Config(format!("--tls-key {}: {e}", c.tls_key.display())))?;
    b.set_ca_file(&c.client_ca).map_err(|e| {
        ReceiverError::Config(format!("--client-ca {}: {e}", c.client_ca.display()))
    })?;
    // The platform must present its client certificate; no certificate, no TLS.
    b.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    Ok(b)
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn answer(status: u16, json: serde_json::Value) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
    )
    .content_type("application/json")
    .body(json.to_string())
}

async fn receive(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    state.started.fetch_add(1, Ordering::SeqCst);
    let knobs = state.knobs.lock().map(|k| k.clone()).unwrap_or_default();
    if !knobs.delay.is_zero() {
        tokio::time::sleep(knobs.delay).await;
    }
    state.requests.fetch_add(1, Ordering::SeqCst);
    if let Some(status) = knobs.status {
        let mut r = HttpResponse::build(
            actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::SERVICE_UNAVAILABLE),
        );
        if let Some(ra) = &knobs.retry_after {
            r.insert_header(("Retry-After", ra.as_str()));
        }
        return r.finish();
    }
    let (Some(id), Some(ts), Some(sig)) = (
        header(&req, "webhook-id"),
        header(&req, "webhook-timestamp"),
        header(&req, "webhook-signature"),
    ) else {
        return answer(
            401,
            serde_json::json!({"fout": "webhook-headers ontbreken"}),
        );
    };
    let now = chrono::Utc::now().timestamp();
    let secrets = state.secrets.lock().map(|s| s.clone()).unwrap_or_default();
    if let Err(e) = signature::verify(&secrets, id, ts, sig, &body, now, state.tolerance) {
        return answer(401, serde_json::json!({"fout": e.to_string()}));
    }
    if !dedup::acceptable(id) {
        return answer(400, serde_json::json!({"fout": "webhook-id ongeldig"}));
    }
    let fresh = state
        .seen
        .lock()
        .map(|mut s| s.claim(id, now))
        .unwrap_or(false);
    if !fresh {
        state.duplicates.fetch_add(1, Ordering::SeqCst);
        // The header tells the platform's receiver check (docs/callbacks.md
        // §10.1) that this redelivery was recognised, not processed again.
        let mut r = answer(200, serde_json::json!({"ontvangen": true, "dubbel": true}));
        r.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static(check::DUPLICATE_HEADER),
            actix_web::http::header::HeaderValue::from_static("true"),
        );
        return r;
    }
    let content_type = header(&req, "content-type").unwrap_or("").to_owned();
    let text = String::from_utf8_lossy(&body).into_owned();
    let r = Received {
        webhook_id: id.to_owned(),
        content_type: content_type.clone(),
        body: text.clone(),
        received_at: chrono::Utc::now(),
    };
    let bericht =
        serde_json::from_str::<serde_json::Value>(&text).unwrap_or(serde_json::Value::String(text));
    let line = serde_json::json!({
        "webhookId": id,
        "ontvangenOp": r.received_at.to_rfc3339(),
        "contentType": content_type,
        "bericht": bericht,
    });
    match &state.out {
        Some(f) => {
            // One write per message: `writeln!` on the unbuffered file
            // made a system call per fragment of the JSON.
            let mut record = line.to_string();
            record.push('\n');
            if let Ok(mut f) = f.lock() {
                if f.write_all(record.as_bytes())
                    .and_then(|_| f.flush())
                    .is_err()
                {
                    // Not stored: let the platform retry rather than lose it.
                    if let Ok(mut s) = state.seen.lock() {
                        s.release(id);
                    }
                    return answer(503, serde_json::json!({"fout": "opslaan mislukt"}));
                }
            }
        }
        None => println!("{line}"),
    }
    let remembered = state.seen.lock().map(|mut s| s.stored(id));
    if let Ok(Err(e)) = remembered {
        // The message is stored; only its redelivery would go through again.
        tracing::warn!(error = %e, "receiver: could not record webhook-id");
    }
    if let Ok(mut v) = state.received.lock() {
        v.push(r);
    }
    answer(200, serde_json::json!({"ontvangen": true}))
}

/// A running receiver. Dropping it stops it.
pub struct Receiver {
    pub addr: SocketAddr,
    state: web::Data<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Receiver {
    /// Accepted terugkoppelingen, in arrival order (duplicates excluded).
    pub fn received(&self) -> Vec<Received> {
        self.state
            .received
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// Every request answered (including simulated failures and duplicates).
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Requests that arrived (also those still being delayed).
    pub fn started(&self) -> usize {
        self.state.started.load(Ordering::SeqCst)
    }

    /// Correctly signed messages that were already received.
    pub fn duplicates(&self) -> usize {
        self.state.duplicates.load(Ordering::SeqCst)
    }

    /// Replaces the accepted secrets (a provider that just registered).
    pub fn set_secrets(&self, secrets: Vec<String>) {
        if let Ok(mut s) = self.state.secrets.lock() {
            *s = secrets;
        }
    }

    /// Answer every request with `status` (and `Retry-After`) without
    /// processing it; `None` returns to normal.
    pub fn respond_with(&self, status: Option<u16>, retry_after: Option<&str>) {
        if let Ok(mut k) = self.state.knobs.lock() {
            k.status = status;
            k.retry_after = retry_after.map(str::to_owned);
        }
    }

    /// Delay every answer (a hanging receiver).
    pub fn set_delay(&self, d: Duration) {
        if let Ok(mut k) = self.state.knobs.lock() {
            k.delay = d;
        }
    }

    /// Stops at once (no graceful drain), like a crash.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts a receiver on its own thread; returns once it listens.
pub fn start(c: ReceiverConfig) -> Result<Receiver, ReceiverError> {
    let out = match &c.out {
        Some(p) => Some(Mutex::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| ReceiverError::Config(format!("--out {}: {e}", p.display())))?,
        )),
        None => None,
    };
    let state = web::Data::new(State {
        secrets: Mutex::new(c.secrets.clone()),
        tolerance: c.tolerance_secs,
        seen: Mutex::new(
            Dedup::open(
                c.dedup_file.as_deref(),
                c.dedup,
                chrono::Utc::now().timestamp(),
            )
            .map_err(|e| ReceiverError::Config(format!("--dedup-file: {e}")))?,
        ),
        received: Mutex::new(Vec::new()),
        knobs: Mutex::new(Knobs::default()),
        out,
        requests: AtomicUsize::new(0),
        started: AtomicUsize::new(0),
        duplicates: AtomicUsize::new(0),
    });
    let builder = acceptor(&c)?;
    let (tx, rx) = std::sync::mpsc::channel::<Result<SocketAddr, String>>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let st = state.clone();
    let listen = c.listen;
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(st.clone())
                    .app_data(web::PayloadConfig::default().limit(1 << 20))
                    .default_service(web::post().to(receive))
            })
            .workers(2)
            // The platform keeps an idle connection 90 s; closing it after
            // actix's default 5 s made every quiet spell end in a burst of
            // new mutual-TLS handshakes (up to one per concurrent callback).
            .keep_alive(std::time::Duration::from_secs(75))
            .disable_signals()
            .shutdown_timeout(0)
            .bind_openssl(listen, builder);
            let server = match server {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Err(format!("--listen {listen}: {e}")));
                    return;
                }
            };
            let addr = server.addrs().first().copied().unwrap_or(listen);
            let running = server.run();
            let handle = running.handle();
            let _ = tx.send(Ok(addr));
            actix_web::rt::spawn(async move {
                let _ = stop_rx.await;
                handle.stop(false).await;
            });
            let _ = running.await;
        });
    });
    let addr = rx
        .recv()
        .map_err(|_| ReceiverError::Config("receiver thread ended".into()))?
        .map_err(ReceiverError::Config)?;
    Ok(Receiver {
        addr,
        state,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

/// Runs until Ctrl-C or SIGTERM (the CLI).
pub fn run(c: ReceiverConfig) -> Result<(), ReceiverError> {
    let r = start(c)?;
    eprintln!("receiver listening on https://{}", r.addr);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    });
    r.stop();
    Ok(())
}
