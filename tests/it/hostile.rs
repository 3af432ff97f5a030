//! The hostile XML corpus (`tests/hostile/`, plus generated giants) against
//! both doors: every document refused with its documented code, nothing
//! stored, the service still answering, and memory bounded.

use std::path::Path;

use crate::fixtures::{Aanvraag, Bijlage, NS, app_with_provider, stored_requests};
use crate::support::TestClient;
use crate::support::soap::{self, Soap};

const REST: &str = "/api/v1/machtigingsaanvragen";
const SOAP: &str = "/soap/machtigingen/v1";

/// The manifest: file, REST code, SOAP code.
fn manifest() -> Vec<(String, String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    std::fs::read_to_string(dir.join("MANIFEST"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_owned(), f[1].to_owned(), f[2].to_owned())
        })
        .collect()
}

/// The same document inside a SOAP 1.1 Indienen envelope: its prolog
/// (declaration, DOCTYPE, PIs) stays in front, the root goes in the Body.
fn wrap(doc: &[u8]) -> Vec<u8> {
    let at = doc
        .windows(b"<Machtigingsaanvraag".len())
        .position(|w| w == b"<Machtigingsaanvraag")
        .unwrap();
    let mut out = doc[..at].to_vec();
    out.extend_from_slice(
        format!(
            "<s:Envelope xmlns:s=\"{}\"><s:Body><IndienenMachtigingsaanvraag xmlns=\"{NS}\">",
            Soap::V11.envelope_ns()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&doc[at..]);
    out.extend_from_slice(b"</IndienenMachtigingsaanvraag></s:Body></s:Envelope>");
    out
}

async fn rest_code(c: &TestClient, body: Vec<u8>) -> (u16, String) {
    let resp = c
        .http
        .post(c.url(REST))
        .header("content-type", "application/xml")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let v: serde_json::Value = resp.json().await.unwrap();
    (status, v["code"].as_str().unwrap_or_default().to_owned())
}

async fn soap_code(c: &TestClient, body: Vec<u8>, content_type: &str, v: Soap) -> String {
    let resp = soap::post_raw(c, SOAP, content_type, None, body).await;
    let ans = soap::read(resp, v).await;
    assert!(ans.is_fault(), "{}", ans.body);
    ans.fault_code().unwrap_or_default()
}

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

#[tokio::test]
async fn every_hostile_document_is_refused_on_both_doors() {
    let (app, client) = app_with_provider().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    let mut checked = 0;
    for (file, rest, soap_expected) in manifest() {
        let doc = std::fs::read(dir.join(&file)).unwrap();
        assert_eq!(rest_code(&client, doc.clone()).await.1, rest, "REST {file}");
        let got = soap_code(&client, wrap(&doc), "text/xml", Soap::V11).await;
        assert_eq!(got, soap_expected, "SOAP {file}");
        checked += 1;
    }
    assert!(checked >= 15);

    // Generated: structure bombs.
    let deep = format!(
        "<Machtigingsaanvraag xmlns=\"{NS}\">{}{}</Machtigingsaanvraag>",
        "<a>".repeat(10_000),
        "</a>".repeat(10_000)
    );
    let attrs = format!(
        "<Machtigingsaanvraag xmlns=\"{NS}\" {}/>",
        (0..5_000)
            .map(|i| format!("a{i}=\"x\""))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let nsdecls = format!(
        "<Machtigingsaanvraag xmlns=\"{NS}\" {}/>",
        (0..5_000)
            .map(|i| format!("xmlns:p{i}=\"urn:x:{i}\""))
            .collect::<Vec<_>>()
            .join(" ")
    );
    for (name, doc) in [
        ("deep", deep),
        ("attributes", attrs),
        ("namespaces", nsdecls),
    ] {
        assert_eq!(
            rest_code(&client, doc.clone().into_bytes()).await.1,
            "XML-003",
            "REST {name}"
        );
        assert_eq!(
            soap_code(&client, wrap(doc.as_bytes()), "text/xml", Soap::V11).await,
            "XML-003",
            "SOAP {name}"
        );
    }

    // 50 MB: refused before it is read.
    let huge = vec![b' '; 50 * 1024 * 1024];
    assert_eq!(
        rest_code(&client, huge.clone()).await,
        (413, "REQ-002".into())
    );
    assert_eq!(
        soap_code(&client, huge, "application/soap+xml", Soap::V12).await,
        "REQ-002"
    );

    // Attachments: over 20 MB decoded (but under the body limit) is JVC-J05;
    // over the body limit is REQ-002.
    let with_attachment = |bytes: usize| Aanvraag {
        bijlagen: vec![Bijlage {
            soort: "foto".into(),
            naam: "groot.jpg".into(),
            media_type: "image/jpeg".into(),
            inhoud: vec![0xAB; bytes],
        }],
        ..Default::default()
    };
    let over = with_attachment(21 * 1024 * 1024);
    let resp = client
        .http
        .post(client.url(REST))
        .header("content-type", "application/xml")
        .body(over.xml())
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["code"], "JVC-000", "{v}");
    assert!(v["findings"].to_string().contains("JVC-J05"), "{v}");
    let way_over = with_attachment(25 * 1024 * 1024);
    assert_eq!(
        rest_code(&client, way_over.xml().into_bytes()).await,
        (413, "REQ-002".into())
    );

    // Envelope attacks.
    let payload = format!(
        "<IndienenMachtigingsaanvraag xmlns=\"{NS}\">{}</IndienenMachtigingsaanvraag>",
        Aanvraag::default().element()
    );
    let two = format!(
        "<s:Envelope xmlns:s=\"{0}\"><s:Body>{payload}</s:Body><s:Body>{payload}</s:Body></s:Envelope>",
        Soap::V11.envelope_ns()
    );
    assert_eq!(
        soap_code(&client, two.into_bytes(), "text/xml", Soap::V11).await,
        "SOAP-001"
    );
    assert_eq!(
        soap_code(
            &client,
            Soap::V11.envelope(&payload).into_bytes(),
            "application/soap+xml",
            Soap::V12
        )
        .await,
        "SOAP-004"
    );
    assert_eq!(
        soap_code(
            &client,
            Soap::V12.envelope(&payload).into_bytes(),
            "text/xml",
            Soap::V11
        )
        .await,
        "SOAP-004"
    );

    // Nothing stored, the service still answers, memory stayed bounded.
    assert_eq!(stored_requests(&app), 0);
    let (status, _) = client.get_json("/api/v1/whoami").await;
    assert_eq!(status, 200);
    let peak = peak_rss_mib();
    assert!(peak < 1536, "peak RSS of the test process {peak} MiB");
}

/// Another process holding the SQLite database locked: writes wait at most
/// `database.busy_timeout_ms` and then answer 503 SYS-002 with Retry-After;
/// reads go on (WAL); once the lock is gone, writes succeed again.
#[tokio::test]
async fn a_locked_sqlite_database_gives_a_bounded_wait_and_a_clear_error() {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    if crate::support::db::postgres_url().is_some() {
        return; // A SQLite property; PostgreSQL runs the rest of the suite.
    }
    let app = crate::support::TestApp::builder()
        .config("[database]\nbusy_timeout_ms = 800")
        .spawn()
        .await;
    crate::fixtures::load_sample_catalog(&app);
    let client = app.provider(
        "03123456",
        &[machtigingen::registry::Scope::MachtigingenIndienen],
    );
    let path = app
        .config
        .database
        .url
        .trim_start_matches("sqlite://")
        .to_owned();
    let mut other = diesel::SqliteConnection::establish(&path).unwrap();
    other.batch_execute("BEGIN EXCLUSIVE").unwrap();

    let started = std::time::Instant::now();
    let resp = client
        .http
        .post(client.url(REST))
        .header("content-type", "application/xml")
        .body(Aanvraag::default().xml())
        .send()
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(resp.status().as_u16(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["code"], "SYS-002", "{v}");
    assert!(
        waited < std::time::Duration::from_secs(5),
        "waited {waited:?}"
    );
    // Reads still answer while the writer is locked out.
    assert_eq!(client.get_json("/api/v1/whoami").await.0, 200);

    other.batch_execute("ROLLBACK").unwrap();
    let (status, body) = crate::fixtures::post_xml(&client, REST, &Aanvraag::default().xml()).await;
    assert_eq!(status, 201, "{body}");
}
