//! Facts about the configured certificates and CRLs, read from their files:
//! seconds until each certificate's notAfter, each CRL's age and time to its
//! nextUpdate. Shared by `/metrics` and `/health/ready`.
//!
//! Read from disk on each call rather than from the loaded TLS state: a file
//! is what the next reload serves, and reading a few small PEM files per
//! scrape is cheap. A file that cannot be read is reported as such (the
//! server keeps serving what it loaded; see docs/operations.md).

use std::path::Path;

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::nid::Nid;
use openssl::x509::{X509, X509Crl, X509NameRef};
use serde::Serialize;

use crate::config::Config;
use crate::pki;

/// Which configured certificate a fact is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertKind {
    /// `tls.cert`: what clients see.
    Server,
    /// `terugkoppeling.client_cert`: what callback receivers see.
    PlatformClient,
    /// A CA of `tls.client_ca`.
    Ca,
}

impl CertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::PlatformClient => "platform_client",
            Self::Ca => "ca",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CertFact {
    pub kind: CertKind,
    /// The subject's CN (operator-configured, so a bounded label).
    pub subject: String,
    /// Unix time of notAfter.
    pub not_after: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CrlFact {
    /// The issuer's CN.
    pub issuer: String,
    pub last_update: i64,
    /// Unix time of nextUpdate; none when the CRL names none.
    pub next_update: Option<i64>,
}

/// The configuration keys of the files read here.
pub const FILE_KEYS: [&str; 4] = [
    "tls.cert",
    "tls.client_ca",
    "tls.crl",
    "terugkoppeling.client_cert",
];

/// A configured file that could not be read or parsed.
#[derive(Debug, Clone, Serialize)]
pub struct FileProblem {
    pub key: &'static str,
    pub path: String,
    pub error: String,
}

#[derive(Debug, Default, Clone)]
pub struct TlsFacts {
    pub certs: Vec<CertFact>,
    pub crls: Vec<CrlFact>,
    pub problems: Vec<FileProblem>,
}

fn common_name(name: &X509NameRef) -> String {
    name.entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok())
        .map(|s| s.to_string())
        .unwrap_or_else(|| pki::name_to_string(name))
}

fn unix(t: &Asn1TimeRef) -> Option<i64> {
    pki::asn1_to_unix(t).ok()
}

fn problem(key: &'static str, path: &Path, error: impl ToString) -> FileProblem {
    FileProblem {
        key,
        path: path.display().to_string(),
        error: error.to_string(),
    }
}

fn cert_fact(kind: CertKind, cert: &X509) -> Option<CertFact> {
    Some(CertFact {
        kind,
        subject: common_name(cert.subject_name()),
        not_after: unix(cert.not_after())?,
    })
}

/// Reads the configured certificates and CRLs. Blocking (file reads).
pub fn read(config: &Config) -> TlsFacts {
    let mut facts = TlsFacts::default();
    // The leaf comes first in a chain file; the rest are intermediates.
    match pki::read_pem_bundle(&config.tls.cert) {
        Ok(chain) => facts
            .certs
            .extend(chain.first().and_then(|c| cert_fact(CertKind::Server, c))),
        Err(e) => facts
            .problems
            .push(problem("tls.cert", &config.tls.cert, e)),
    }
    let client = &config.terugkoppeling.client_cert;
    // The dispatcher's certificate only matters where callbacks are sent.
    if config.terugkoppeling.dispatcher && !client.as_os_str().is_empty() {
        match pki::read_cert(client) {
            Ok(c) => facts.certs.extend(cert_fact(CertKind::PlatformClient, &c)),
            Err(e) => facts
                .problems
                .push(problem("terugkoppeling.client_cert", client, e)),
        }
    }
    for path in &config.tls.client_ca {
        match pki::read_pem_bundle(path) {
            Ok(cas) => facts
                .certs
                .extend(cas.iter().filter_map(|c| cert_fact(CertKind::Ca, c))),
            Err(e) => facts.problems.push(problem("tls.client_ca", path, e)),
        }
    }
    for path in &config.tls.crl {
        let crl = std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|d| {
                X509Crl::from_pem(&d)
                    .or_else(|_| X509Crl::from_der(&d))
                    .map_err(|_| "not a PEM or DER CRL".to_owned())
            });
        match crl {
            Ok(crl) => facts.crls.push(CrlFact {
                issuer: common_name(crl.issuer_name()),
                last_update: unix(crl.last_update()).unwrap_or(0),
                next_update: crl.next_update().and_then(unix),
            }),
            Err(e) => facts.problems.push(problem("tls.crl", path, e)),
        }
    }
    facts
}

/// Now, in Unix seconds, by the same clock OpenSSL compares with.
pub fn now() -> i64 {
    Asn1Time::days_from_now(0)
        .ok()
        .and_then(|t| unix(&t))
        .unwrap_or_else(|| chrono::Utc::now().timestamp())
}

/// Why the service should not get traffic, as far as certificates and CRLs
/// go: an expired server certificate, or a CRL past its nextUpdate (a CA that
/// stopped publishing may have revoked certificates we still accept).
pub fn not_ready_reasons(facts: &TlsFacts, now: i64) -> Vec<serde_json::Value> {
    let at = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.to_rfc3339())
            .unwrap_or_default()
    };
    let mut reasons = Vec::new();
    for c in &facts.certs {
        if c.kind == CertKind::Server && c.not_after <= now {
            reasons.push(serde_json::json!({
                "check": "server_certificate",
                "reason": "expired",
                "subject": c.subject,
                "not_after": at(c.not_after),
            }));
        }
    }
    for c in &facts.crls {
        if let Some(next) = c.next_update.filter(|n| *n <= now) {
            reasons.push(serde_json::json!({
                "check": "crl",
                "reason": "overdue",
                "issuer": c.issuer,
                "next_update": at(next),
            }));
        }
    }
    reasons
}
