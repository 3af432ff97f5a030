//! The receiver check (docs/callbacks.md §10): a scripted series of
//! callbacks sent to a provider's endpoint exactly as the dispatcher sends
//! them — the same rendering (`render`), Standard Webhooks signing
//! (`signature`) and client settings with the platform's client certificate
//! (`transport`) — each bent in one way the contract says a receiver must
//! notice. Every message is synthetic (a `terugkoppeling.verificatie` naming
//! the party, never patient data) and carries `X-Machtigingen-Test:
//! receiver-check`. Used by `machtigingen receiver-check` and, through
//! [`platform`], by the provider's own request to the platform.

pub mod platform;
mod report;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub use report::{CaseReport, Report};

use super::render::{self, Body, Format, Message};
use super::{signature, transport};

/// The header marking every check message as a test.
pub const TEST_HEADER: &str = "x-machtigingen-test";
pub const TEST_HEADER_VALUE: &str = "receiver-check";
/// The answer header by which a receiver says "already had this one" (a
/// JSON answer body `{"dubbel": true}` counts too).
pub const DUPLICATE_HEADER: &str = "x-machtigingen-dubbel";
/// The timestamp tolerance the contract asks of receivers (§3).
pub const TOLERANCE_SECS: i64 = 300;

/// Where and how to check.
pub struct Target {
    pub url: reqwest::Url,
    pub format: Format,
    /// Secrets that sign now, current first (as the dispatcher signs).
    pub secrets: Vec<String>,
    /// Named in the synthetic payload (`AGB:…`, or a placeholder on the CLI).
    pub party: String,
    /// The platform's client certificate.
    pub identity: reqwest::Identity,
    /// CA bundle for the receiver's server certificate; `None`: system roots.
    pub ca_bundle: Option<String>,
    /// Connect only here (the address that passed the SSRF check).
    pub address: Option<SocketAddr>,
    pub connect_timeout: Duration,
    /// The dispatcher's time-out: a slower answer is a failure.
    pub timeout: Duration,
}

/// What a case requires of the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 2xx, not marked as a duplicate, no SOAP Fault.
    Accept,
    /// 2xx marked with `X-Machtigingen-Dubbel: true`.
    Duplicate,
    /// 4xx, or a SOAP Fault.
    Refuse,
    /// Refused at TLS level, or 4xx / a SOAP Fault.
    RefuseConnection,
}

impl Expect {
    fn label(self) -> &'static str {
        match self {
            Self::Accept => "2xx",
            Self::Duplicate => "2xx + X-Machtigingen-Dubbel",
            Self::Refuse => "4xx",
            Self::RefuseConnection => "TLS geweigerd of 4xx",
        }
    }
}

/// How the signature header of a case is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sig {
    Valid,
    Forged,
    Missing,
    WrongSecret,
    /// An unknown secret first, the valid one second (a rotation).
    Rotation,
}

/// Which client certificate the connection presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cert {
    Platform,
    None,
    Foreign,
}

/// One request of the script.
struct Shot {
    id: String,
    /// What the signature covers.
    signed: Vec<u8>,
    /// What is sent (differs only in the tampering case).
    sent: Vec<u8>,
    timestamp: i64,
    sig: Sig,
    cert: Cert,
    soap12: bool,
}

/// What the receiver did.
#[derive(Debug, Clone, Default)]
struct Observed {
    status: Option<u16>,
    fault: bool,
    duplicate: bool,
    error: Option<String>,
    timed_out: bool,
    latency: Duration,
}

fn fresh_id() -> String {
    let mut b = [0u8; 16];
    let _ = openssl::rand::rand_bytes(&mut b);
    format!("TKV{}", hex::encode(b))
}

/// A client certificate from a throwaway CA that nobody trusts.
fn foreign_identity() -> Result<reqwest::Identity, String> {
    use crate::pki::{self, Ca, ClientSubject, Validity};
    let err = |e: pki::PkiError| format!("throwaway CA: {e}");
    let ca = Ca::create(
        "receiver-check vreemde CA",
        "machtigingen receiver-check",
        crate::config::KeyType::EcP256,
        1,
    )
    .map_err(err)?;
    let key = pki::generate_key(crate::config::KeyType::EcP256).map_err(err)?;
    let cert = ca
        .issue_client(
            &ClientSubject {
                common_name: "receiver-check vreemd certificaat".into(),
                organization: "machtigingen receiver-check".into(),
                organizational_unit: "PLATFORM:receiver-check".into(),
            },
            &key,
            Validity::days_from_now(1),
        )
        .map_err(err)?;
    let cert_pem = cert.to_pem().map_err(|e| e.to_string())?;
    let key_pem = key.private_key_to_pem_pkcs8().map_err(|e| e.to_string())?;
    reqwest::Identity::from_pkcs8_pem(&cert_pem, &key_pem).map_err(|e| e.to_string())
}

struct Clients {
    platform: reqwest::Client,
    none: reqwest::Client,
    foreign: reqwest::Client,
}

fn clients(t: &Target, wait: Duration) -> Result<Clients, String> {
    let build = |identity: Option<reqwest::Identity>| -> Result<reqwest::Client, String> {
        let mut b =
            transport::client_builder(identity, t.ca_bundle.as_deref(), t.connect_timeout, wait)?;
        if let (Some(addr), Some(host)) = (t.address, t.url.host_str()) {
            b = b.resolve(host, addr);
        }
        b.build().map_err(|e| format!("HTTP client: {e}"))
    };
    Ok(Clients {
        platform: build(Some(t.identity.clone()))?,
        none: build(None)?,
        foreign: build(Some(foreign_identity()?))?,
    })
}

/// Runs the whole script against `t`, one request at a time (the duplicate
/// case depends on the valid one before it).
pub async fn run(t: &Target) -> Result<Report, String> {
    // Wait longer than the dispatcher would, so a slow receiver is reported
    // as slow (with its latency) rather than only as silent.
    let wait = t.timeout + t.timeout.min(Duration::from_secs(10));
    let clients = clients(t, wait)?;
    let started = crate::db::now();
    let payload = t.party.as_str();
    let tampered = &format!("{}-GEWIJZIGD", t.party);
    let render = |id: &str, partij: &str, soap12: bool| -> Result<Vec<u8>, String> {
        let m = Message {
            id,
            created_at: started,
            body: Body::Verificatie { partij },
            zorgaanbieder: None,
        };
        if soap12 {
            render::soap12(&m)
        } else {
            render::render(t.format, &m)
        }
    };
    let now = || chrono::Utc::now().timestamp();
    let soap = t.format == Format::Soap;
    let mut cases = Vec::new();
    let shot = |sig: Sig, cert: Cert, ts: i64| -> Result<Shot, String> {
        let id = fresh_id();
        let body = render(&id, payload, false)?;
        Ok(Shot {
            id,
            signed: body.clone(),
            sent: body,
            timestamp: ts,
            sig,
            cert,
            soap12: false,
        })
    };

    let valid = shot(Sig::Valid, Cert::Platform, now())?;
    let valid_id = valid.id.clone();
    let valid_body = valid.sent.clone();
    cases.push(case(t, &clients, "geldig", valid).await);
    let again = Shot {
        id: valid_id,
        signed: valid_body.clone(),
        sent: valid_body,
        timestamp: now(),
        sig: Sig::Valid,
        cert: Cert::Platform,
        soap12: false,
    };
    cases.push(case(t, &clients, "dubbel", again).await);
    if soap {
        let id = fresh_id();
        let body = render(&id, payload, true)?;
        let s = Shot {
            id,
            signed: body.clone(),
            sent: body,
            timestamp: now(),
            sig: Sig::Valid,
            cert: Cert::Platform,
            soap12: true,
        };
        cases.push(case(t, &clients, "soap12", s).await);
    }
    let s = shot(Sig::Rotation, Cert::Platform, now())?;
    cases.push(case(t, &clients, "sleutelrotatie", s).await);
    let s = shot(Sig::Forged, Cert::Platform, now())?;
    cases.push(case(t, &clients, "handtekening-vervalst", s).await);
    let s = shot(Sig::Missing, Cert::Platform, now())?;
    cases.push(case(t, &clients, "handtekening-ontbreekt", s).await);
    let s = shot(Sig::WrongSecret, Cert::Platform, now())?;
    cases.push(case(t, &clients, "verkeerd-geheim", s).await);
    let mut s = shot(Sig::Valid, Cert::Platform, now())?;
    s.sent = render(&s.id, tampered, false)?;
    cases.push(case(t, &clients, "inhoud-gewijzigd", s).await);
    let s = shot(Sig::Valid, Cert::Platform, now() - TOLERANCE_SECS - 60)?;
    cases.push(case(t, &clients, "tijdstip-verlopen", s).await);
    let s = shot(Sig::Valid, Cert::Platform, now() + TOLERANCE_SECS + 60)?;
    cases.push(case(t, &clients, "tijdstip-toekomst", s).await);
    let s = shot(Sig::Valid, Cert::None, now())?;
    cases.push(case(t, &clients, "zonder-clientcertificaat", s).await);
    let s = shot(Sig::Valid, Cert::Foreign, now())?;
    cases.push(case(t, &clients, "vreemd-clientcertificaat", s).await);
    let timely = report::timing(&cases, t.timeout);
    cases.push(timely);
    Ok(Report::new(t, started, cases))
}

async fn case(t: &Target, clients: &Clients, name: &'static str, s: Shot) -> CaseReport {
    let expect = expect_of(name);
    let observed = send(t, clients, &s).await.unwrap_or_else(|e| Observed {
        error: Some(e),
        ..Observed::default()
    });
    report::judge(name, expect, expect.label(), &observed)
}

fn expect_of(name: &str) -> Expect {
    match name {
        "geldig" | "soap12" | "sleutelrotatie" => Expect::Accept,
        "dubbel" => Expect::Duplicate,
        "zonder-clientcertificaat" | "vreemd-clientcertificaat" => Expect::RefuseConnection,
        _ => Expect::Refuse,
    }
}

fn signature_header(t: &Target, s: &Shot) -> Result<Option<String>, String> {
    let secrets: Vec<&str> = t.secrets.iter().map(String::as_str).collect();
    let signing = |e: signature::SignatureError| format!("signing: {e}");
    Ok(match s.sig {
        Sig::Missing => None,
        Sig::Valid => {
            Some(signature::header(&secrets, &s.id, s.timestamp, &s.signed).map_err(signing)?)
        }
        Sig::Forged => {
            let mut b = [0u8; 32];
            let _ = openssl::rand::rand_bytes(&mut b);
            Some(format!("v1,{}", STANDARD.encode(b)))
        }
        Sig::WrongSecret => {
            let other = signature::new_secret().map_err(signing)?;
            Some(signature::sign(&other, &s.id, s.timestamp, &s.signed).map_err(signing)?)
        }
        Sig::Rotation => {
            let other = signature::new_secret().map_err(signing)?;
            let unknown =
                signature::sign(&other, &s.id, s.timestamp, &s.signed).map_err(signing)?;
            let valid = signature::sign(
                secrets.first().copied().unwrap_or_default(),
                &s.id,
                s.timestamp,
                &s.signed,
            )
            .map_err(signing)?;
            Some(format!("{unknown} {valid}"))
        }
    })
}

async fn send(t: &Target, clients: &Clients, s: &Shot) -> Result<Observed, String> {
    let client = match s.cert {
        Cert::Platform => &clients.platform,
        Cert::None => &clients.none,
        Cert::Foreign => &clients.foreign,
    };
    let sig = signature_header(t, s)?;
    let mut req = transport::request(
        client,
        t.url.clone(),
        t.format,
        &s.id,
        s.timestamp,
        sig.as_deref(),
    )
    .header(TEST_HEADER, TEST_HEADER_VALUE)
    .body(s.sent.clone())
    .build()
    .map_err(|e| format!("request: {e}"))?;
    if s.soap12 {
        let h = req.headers_mut();
        h.remove("soapaction");
        let ct = render::soap12_content_type();
        h.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_str(&ct).map_err(|e| e.to_string())?,
        );
    }
    let started = Instant::now();
    let mut o = Observed::default();
    match client.execute(req).await {
        Ok(resp) => {
            o.status = Some(resp.status().as_u16());
            o.duplicate = resp
                .headers()
                .get(DUPLICATE_HEADER)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
            // The latency is the time to the answer's head, as the dispatcher
            // counts an attempt; the body is read only to spot a SOAP Fault.
            o.latency = started.elapsed();
            let body = tokio::time::timeout(Duration::from_secs(2), resp.bytes())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            o.fault = t.format == Format::Soap && report::is_soap_fault(&body);
            // The JSON body `{"dubbel": true}` (what the reference receiver
            // has always answered) says the same as the header.
            o.duplicate = o.duplicate
                || serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("dubbel").and_then(serde_json::Value::as_bool))
                    == Some(true);
        }
        Err(e) => {
            o.latency = started.elapsed();
            o.timed_out = e.is_timeout();
            o.error = Some(describe(&e));
        }
    }
    Ok(o)
}

/// A short, body-free description of a transport error.
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg.chars().take(300).collect()
}
