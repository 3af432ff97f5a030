//! Callback receivers that are wrong on purpose, for the receiver check's
//! tests: each is a small real HTTPS server that behaves as the contract
//! requires (client certificate of the test CA, signature, 5-minute
//! tolerance, deduplication with `X-Machtigingen-Dubbel`) except for the one
//! [`Flaw`] it is given.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use machtigingen::dispatch::signature;
use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod, SslVerifyMode};

use super::pki;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// Accepts any signature, or none (still checks the timestamp).
    AnySignature,
    /// Processes a redelivered webhook-id again, as if new.
    NoDedup,
    /// Verifies the signature but not how old or new the timestamp is.
    NoTimestampCheck,
    /// Answers correctly, but only after this long.
    Slow(Duration),
    /// Does not ask for a client certificate.
    NoClientCert,
    /// SOAP: answers every correctly signed callback with a Fault (HTTP 200).
    SoapFaultForValid,
    /// SOAP: serves only the SOAP 1.1 binding (415 for SOAP 1.2).
    Soap11Only,
    /// Not a fault: a correct SOAP receiver that refuses with a SOAP 1.1
    /// Fault and HTTP 500, as WS-I Basic Profile has it.
    RefusesWithSoapFault,
    /// Not a fault either: marks a duplicate with the JSON body
    /// `{"dubbel": true}` instead of the header.
    DuplicateInBody,
}

const SOAP_FAULT: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">"#,
    "<s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>geweigerd</faultstring></s:Fault></s:Body></s:Envelope>"
);

fn soap_fault(status: u16) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type("text/xml; charset=utf-8")
        .body(SOAP_FAULT)
}

struct State {
    fault: Flaw,
    secret: String,
    seen: Mutex<HashSet<String>>,
}

pub struct Broken {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Broken {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn receive(req: HttpRequest, body: web::Bytes, s: web::Data<State>) -> HttpResponse {
    if let Flaw::Slow(d) = s.fault {
        tokio::time::sleep(d).await;
    }
    let now = chrono::Utc::now().timestamp();
    let id = header(&req, "webhook-id").unwrap_or("").to_owned();
    let ts = header(&req, "webhook-timestamp").unwrap_or("");
    let sig = header(&req, "webhook-signature").unwrap_or("");
    let ok = match s.fault {
        Flaw::AnySignature => ts.parse::<i64>().is_ok_and(|t| (now - t).abs() <= 300),
        Flaw::NoTimestampCheck => {
            // Any timestamp passes: a tolerance of ten years.
            signature::verify(
                std::slice::from_ref(&s.secret),
                &id,
                ts,
                sig,
                &body,
                now,
                10 * 365 * 86_400,
            )
            .is_ok()
        }
        _ => signature::verify(
            std::slice::from_ref(&s.secret),
            &id,
            ts,
            sig,
            &body,
            now,
            300,
        )
        .is_ok(),
    };
    if s.fault == Flaw::Soap11Only
        && header(&req, "content-type").is_some_and(|c| c.starts_with("application/soap+xml"))
    {
        return HttpResponse::UnsupportedMediaType().finish();
    }
    if !ok {
        return if s.fault == Flaw::RefusesWithSoapFault {
            soap_fault(500)
        } else {
            HttpResponse::Unauthorized().finish()
        };
    }
    if s.fault == Flaw::SoapFaultForValid {
        return soap_fault(200);
    }
    let fresh = s.fault == Flaw::NoDedup || s.seen.lock().unwrap().insert(id);
    if fresh {
        HttpResponse::Ok().finish()
    } else if s.fault == Flaw::DuplicateInBody {
        HttpResponse::Ok()
            .content_type("application/json")
            .body(r#"{"ontvangen": true, "dubbel": true}"#)
    } else {
        HttpResponse::Ok()
            .insert_header(("X-Machtigingen-Dubbel", "true"))
            .finish()
    }
}

/// Starts a receiver with `fault` that accepts `secret`.
pub fn start(fault: Flaw, secret: &str) -> Broken {
    let p = pki();
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    b.set_certificate_chain_file(&p.server_cert).unwrap();
    b.set_private_key_file(&p.server_key, SslFiletype::PEM)
        .unwrap();
    if fault == Flaw::NoClientCert {
        b.set_verify(SslVerifyMode::NONE);
    } else {
        b.set_ca_file(&p.ca_pem).unwrap();
        b.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    }
    let state = web::Data::new(State {
        fault,
        secret: secret.to_owned(),
        seen: Mutex::new(HashSet::new()),
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(state.clone())
                    .default_service(web::post().to(receive))
            })
            .workers(1)
            .disable_signals()
            .shutdown_timeout(0)
            .bind_openssl("127.0.0.1:0", b)
            .unwrap();
            let addr = server.addrs()[0];
            let running = server.run();
            let handle = running.handle();
            tx.send(addr).unwrap();
            actix_web::rt::spawn(async move {
                let _ = stop_rx.await;
                handle.stop(false).await;
            });
            let _ = running.await;
        });
    });
    Broken {
        addr: rx.recv().unwrap(),
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}
