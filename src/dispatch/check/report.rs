//! The receiver check's report: per case what was required, what the
//! receiver answered, the latency, the verdict and — on failure — the
//! paragraph of docs/callbacks.md to read. Serialised as the JSON the CLI
//! prints and the platform stores and serves (the wire contract: Dutch).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Expect, Observed, Target};
use crate::dispatch::render::{SOAP11_NS, SOAP12_NS, timestamp};

/// The outcome of one check run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub url: String,
    /// `json` or `soap`.
    pub formaat: String,
    /// When the run started (UTC).
    pub gestart: String,
    /// The dispatcher's time-out every answer must meet.
    pub timeout_ms: u64,
    /// True only when every case is as the contract requires.
    pub geslaagd: bool,
    pub gevallen: Vec<CaseReport>,
}

/// One case of the run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaseReport {
    /// Stable name, e.g. `handtekening-vervalst` (docs/callbacks.md §10).
    pub geval: String,
    pub omschrijving: String,
    /// What the contract requires, e.g. `4xx`.
    pub verwacht: String,
    /// What the receiver did, e.g. `HTTP 200` or `TLS/verbinding geweigerd`.
    pub antwoord: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    pub latentie_ms: u64,
    pub geslaagd: bool,
    /// Where the contract explains the requirement (only on failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Report {
    pub(super) fn new(
        t: &Target,
        started: chrono::NaiveDateTime,
        gevallen: Vec<CaseReport>,
    ) -> Self {
        Self {
            url: t.url.to_string(),
            formaat: t.format.as_str().to_owned(),
            gestart: timestamp(started),
            timeout_ms: u64::try_from(t.timeout.as_millis()).unwrap_or(u64::MAX),
            geslaagd: gevallen.iter().all(|c| c.geslaagd),
            gevallen,
        }
    }

    /// Names of the cases that failed.
    pub fn failures(&self) -> Vec<&str> {
        self.gevallen
            .iter()
            .filter(|c| !c.geslaagd)
            .map(|c| c.geval.as_str())
            .collect()
    }

    /// The human-readable table of the CLI.
    pub fn table(&self) -> String {
        let mut out = format!(
            "receiver-check {} ({}), time-out {} ms\n\n",
            self.url, self.formaat, self.timeout_ms
        );
        let w = self
            .gevallen
            .iter()
            .map(|c| c.geval.len())
            .max()
            .unwrap_or(10);
        let v = self
            .gevallen
            .iter()
            .map(|c| c.verwacht.len())
            .max()
            .unwrap_or(10);
        out.push_str(&format!(
            "{:<4}  {:<w$}  {:<v$}  {:>8}  antwoord\n",
            "", "geval", "verwacht", "ms"
        ));
        for c in &self.gevallen {
            out.push_str(&format!(
                "{:<4}  {:<w$}  {:<v$}  {:>8}  {}\n",
                if c.geslaagd { "OK" } else { "FOUT" },
                c.geval,
                c.verwacht,
                c.latentie_ms,
                c.antwoord
            ));
        }
        let failed: Vec<&CaseReport> = self.gevallen.iter().filter(|c| !c.geslaagd).collect();
        if failed.is_empty() {
            out.push_str(&format!(
                "\nAll {} cases as the contract requires.\n",
                self.gevallen.len()
            ));
        } else {
            out.push_str(&format!(
                "\n{} of {} cases not as the contract requires:\n",
                failed.len(),
                self.gevallen.len()
            ));
            for c in failed {
                out.push_str(&format!(
                    "  {}: {}\n    {}\n",
                    c.geval,
                    c.omschrijving,
                    c.hint.as_deref().unwrap_or("")
                ));
            }
        }
        out
    }
}

/// Description and documentation hint of each case.
fn about(name: &str) -> (&'static str, &'static str) {
    match name {
        "geldig" => (
            "a correctly signed callback is accepted",
            "docs/callbacks.md §2 (What you receive): answer any 2xx to a correctly signed callback, without X-Machtigingen-Dubbel the first time",
        ),
        "dubbel" => (
            "the same webhook-id again is accepted without processing it twice",
            "docs/callbacks.md §5 (At least once) and §10.1: deduplicate on webhook-id and answer the repeat 2xx with X-Machtigingen-Dubbel: true",
        ),
        "soap12" => (
            "a SOAP 1.2 envelope as the WSDL's soap12 binding defines it is accepted",
            "docs/callbacks.md §2 (SOAP): wsdl/terugkoppeling-v1.wsdl has a SOAP 1.1 and a SOAP 1.2 binding; answer both 2xx without a Fault",
        ),
        "sleutelrotatie" => (
            "two signatures (rotation), only the second valid, is accepted",
            "docs/callbacks.md §3 and §4 (Secret rotation): accept when any of the space-separated v1, signatures matches",
        ),
        "handtekening-vervalst" => (
            "a forged signature is refused",
            "docs/callbacks.md §3 (Verifying the signature): verify the HMAC before anything else and answer 4xx when it does not match",
        ),
        "handtekening-ontbreekt" => (
            "a callback without webhook-signature is refused",
            "docs/callbacks.md §3 (Verifying the signature): a callback without webhook-signature is not from the platform; answer 4xx",
        ),
        "verkeerd-geheim" => (
            "a signature made with another secret is refused",
            "docs/callbacks.md §3 (Verifying the signature): verify with your own secret(s) only; answer 4xx otherwise",
        ),
        "inhoud-gewijzigd" => (
            "a body changed after signing is refused",
            "docs/callbacks.md §3 (Verifying the signature): the signature covers the exact bytes of the body; verify before you parse",
        ),
        "tijdstip-verlopen" => (
            "a webhook-timestamp older than the tolerance (5 minutes) is refused",
            "docs/callbacks.md §3 (Verifying the signature): refuse a webhook-timestamp more than 5 minutes from your clock (replay protection)",
        ),
        "tijdstip-toekomst" => (
            "a webhook-timestamp further ahead than the tolerance is refused",
            "docs/callbacks.md §3 (Verifying the signature): the tolerance applies both ways; refuse a timestamp in the future",
        ),
        "zonder-clientcertificaat" => (
            "a caller without a client certificate is refused",
            "docs/callbacks.md §2 (What you receive): require a client certificate chaining to the platform CA",
        ),
        "vreemd-clientcertificaat" => (
            "a caller with a certificate of another CA is refused",
            "docs/callbacks.md §2 (What you receive): trust only the platform CA for client certificates, not public or other CAs",
        ),
        "tijdig" => (
            "every answer arrives within the dispatcher's time-out",
            "docs/callbacks.md §5 (Timing): answer within terugkoppeling.timeout (15 s by default); store first, process later",
        ),
        _ => ("", "docs/callbacks.md §10"),
    }
}

/// Whether `body` is a SOAP Fault of either version (the Body's child).
pub(crate) fn is_soap_fault(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&body[..body.len().min(65_536)]);
    if !(text.contains(SOAP11_NS) || text.contains(SOAP12_NS)) {
        return false;
    }
    text.match_indices("Fault").any(|(i, _)| {
        let before = &text[..i];
        let opens = before.rfind('<').is_some_and(|p| {
            before[p + 1..]
                .chars()
                .all(|c| c.is_alphanumeric() || c == ':' || c == '_' || c == '-')
        });
        let closes = text[i + 5..].starts_with(|c: char| c == '>' || c == '/' || c.is_whitespace());
        opens && closes
    })
}

/// The telling part of a transport error: OpenSSL's alert (`tlsv13 alert
/// certificate required`) when there is one, else its start.
fn short(e: &str) -> String {
    if let Some(i) = e.find(" alert ") {
        let start = e[..i].rfind(':').map_or(0, |p| p + 1);
        let end = e[i..].find(':').map_or(e.len(), |p| i + p);
        return e[start..end].trim().to_owned();
    }
    e.chars().take(160).collect()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The verdict of one case.
pub(super) fn judge(name: &str, expect: Expect, label: &str, o: &Observed) -> CaseReport {
    let two = o.status.is_some_and(|s| (200..300).contains(&s));
    let four = o.status.is_some_and(|s| (400..500).contains(&s));
    let ok = match expect {
        Expect::Accept => two && !o.fault && !o.duplicate,
        Expect::Duplicate => two && !o.fault && o.duplicate,
        Expect::Refuse => four || o.fault,
        Expect::RefuseConnection => four || o.fault || (o.error.is_some() && !o.timed_out),
    };
    let antwoord = match (o.status, &o.error) {
        (Some(s), _) => {
            let mut a = format!("HTTP {s}");
            if o.fault {
                a.push_str(", SOAP Fault");
            }
            if o.duplicate {
                a.push_str(", X-Machtigingen-Dubbel");
            }
            a
        }
        (None, Some(_)) if o.timed_out => "geen antwoord (time-out)".to_owned(),
        (None, Some(e)) => format!("TLS/verbinding geweigerd: {}", short(e)),
        (None, None) => "geen antwoord".to_owned(),
    };
    let (omschrijving, hint) = about(name);
    CaseReport {
        geval: name.to_owned(),
        omschrijving: omschrijving.to_owned(),
        verwacht: label.to_owned(),
        antwoord,
        http_status: o.status,
        latentie_ms: millis(o.latency),
        geslaagd: ok,
        hint: (!ok).then(|| hint.to_owned()),
    }
}

/// The timing case: every answer within `timeout`.
pub(super) fn timing(cases: &[CaseReport], timeout: Duration) -> CaseReport {
    let limit = millis(timeout);
    // A time-out is too slow too; a TLS refusal has no answer to time.
    let slow: Vec<&CaseReport> = cases
        .iter()
        .filter(|c| {
            (c.http_status.is_some() && c.latentie_ms > limit)
                || c.antwoord.starts_with("geen antwoord (time-out)")
        })
        .collect();
    let max = cases.iter().map(|c| c.latentie_ms).max().unwrap_or(0);
    let (omschrijving, hint) = about("tijdig");
    let ok = slow.is_empty();
    CaseReport {
        geval: "tijdig".to_owned(),
        omschrijving: omschrijving.to_owned(),
        verwacht: format!("<= {limit} ms"),
        antwoord: if ok {
            format!("langzaamste antwoord {max} ms")
        } else {
            format!(
                "{} van {} antwoorden te laat (langzaamste {max} ms)",
                slow.len(),
                cases.len()
            )
        },
        http_status: None,
        latentie_ms: max,
        geslaagd: ok,
        hint: (!ok).then(|| hint.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_is_recognised_in_either_version_and_not_elsewhere() {
        let f11 = format!(
            r#"<s:Envelope xmlns:s="{SOAP11_NS}"><s:Body><s:Fault><faultcode>s:Client</faultcode></s:Fault></s:Body></s:Envelope>"#
        );
        let f12 = format!(
            r#"<Envelope xmlns="{SOAP12_NS}"><Body><Fault ><Code/></Fault></Body></Envelope>"#
        );
        let ok = format!(
            r#"<s:Envelope xmlns:s="{SOAP11_NS}"><s:Body><OntvangenTerugkoppelingAntwoord><NoFaultHere/></OntvangenTerugkoppelingAntwoord></s:Body></s:Envelope>"#
        );
        assert!(is_soap_fault(f11.as_bytes()));
        assert!(is_soap_fault(f12.as_bytes()));
        assert!(!is_soap_fault(ok.as_bytes()));
        assert!(!is_soap_fault(b"{\"Fault\": true}"));
    }

    #[test]
    fn a_tls_alert_is_named_briefly() {
        let e = "error sending request: connection error: error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../ssl/record/rec_layer_s3.c:1602:SSL alert number 116";
        assert_eq!(short(e), "tlsv13 alert certificate required");
        assert_eq!(short("connection refused"), "connection refused");
    }
}
