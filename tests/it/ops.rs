//! The ops listener: health, readiness with reasons, and the metrics an
//! operator expects (process, build, per-operation requests with fault class,
//! certificates, CRLs, outbox, purge), scraped from a real server.

use std::collections::{BTreeMap, BTreeSet};

use machtigingen::config::KeyType;
use machtigingen::pki::{self, Validity};
use machtigingen::registry::Scope;
use openssl::pkey::PKey;

use crate::fixtures::{Aanvraag, NS, load_sample_catalog};
use crate::support::soap::{self, Soap};
use crate::support::{TestApp, eventually, pki as test_pki};

/// One sample of the text exposition: its labels and value.
pub type Sample = (BTreeMap<String, String>, f64);

/// Every sample of `name` in a scrape (exact name, so `x` does not match `x_total`).
pub fn samples(text: &str, name: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, labels) = match series.split_once('{') {
                Some((m, rest)) => (m, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .filter_map(|p| {
                    let (k, v) = p.split_once("=\"")?;
                    Some((k.to_owned(), v.trim_end_matches('"').to_owned()))
                })
                .collect();
            Some((labels, value.parse().ok()?))
        })
        .collect()
}

/// The value of the one sample of `name` whose labels include `want`.
pub fn value(text: &str, name: &str, want: &[(&str, &str)]) -> Option<f64> {
    samples(text, name)
        .into_iter()
        .filter(|(labels, _)| {
            want.iter()
                .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, v)| v)
        .reduce(|a, b| a + b)
}

pub async fn scrape(app: &TestApp) -> String {
    reqwest::get(app.ops_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn ready(app: &TestApp) -> (u16, serde_json::Value) {
    let resp = reqwest::get(app.ops_url("/health/ready")).await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

const DAY: f64 = 86_400.0;

#[tokio::test]
async fn health_and_metrics() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    let live = http.get(app.ops_url("/health/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let (status, body) = ready(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["database"], "ok");

    // The registry is process-wide and other tests run alongside: compare
    // counts before and after, and only ever expect "at least".
    let count =
        |m: &str, name: &str, labels: &[(&str, &str)]| value(m, name, labels).unwrap_or(0.0);
    let before = scrape(&app).await;
    let client = app.provider("03123456", &[Scope::MachtigingenRaadplegen]);
    assert_eq!(client.get_json("/api/v1/whoami").await.0, 200);
    assert_eq!(client.get("/api/v1/bestaat-niet").await.status(), 404);
    let m = scrape(&app).await;
    let whoami = [
        ("route", "/api/v1/whoami"),
        ("method", "GET"),
        ("status", "200"),
        ("fault", ""),
    ];
    let name = "machtigingen_http_requests_total";
    assert!(
        count(&m, name, &whoami) > count(&before, name, &whoami),
        "{m}"
    );
    assert!(m.contains("machtigingen_http_request_duration_seconds_bucket"));
    // A 404 problem is the caller's mistake, with its foutcode.
    let not_found = [("class", "client"), ("code", "REQ-001")];
    let name = "machtigingen_faults_total";
    assert!(
        count(&m, name, &not_found) > count(&before, name, &not_found),
        "{m}"
    );
}

#[tokio::test]
async fn soap_operation_and_fault_class_are_labels() {
    let app = TestApp::spawn().await;
    load_sample_catalog(&app);
    let client = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    let before = scrape(&app).await;
    const PATH: &str = "/soap/machtigingen/v1";
    let payload = format!(
        "<IndienenMachtigingsaanvraag xmlns=\"{NS}\">{}</IndienenMachtigingsaanvraag>",
        Aanvraag::default().element()
    );
    let ok = soap::call(
        &client,
        PATH,
        Soap::V11,
        NS,
        "IndienenMachtigingsaanvraag",
        &payload,
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    // Schema-invalid: a SOAP 1.1 client fault, HTTP 500 by the spec.
    let bad = "<RaadplegenMachtigingsaanvraag xmlns=\"urn:machtigingen:machtigingen:v1\"><Onzin/></RaadplegenMachtigingsaanvraag>";
    let fault = soap::call(
        &client,
        PATH,
        Soap::V11,
        NS,
        "RaadplegenMachtigingsaanvraag",
        bad,
    )
    .await;
    assert_eq!(fault.status, 500, "{}", fault.body);
    assert!(fault.is_fault());
    // The same over SOAP 1.2 answers 400, and is the same class.
    let fault12 = soap::call(
        &client,
        PATH,
        Soap::V12,
        NS,
        "RaadplegenMachtigingsaanvraag",
        bad,
    )
    .await;
    assert_eq!(fault12.status, 400, "{}", fault12.body);

    let m = scrape(&app).await;
    let count =
        |m: &str, name: &str, labels: &[(&str, &str)]| value(m, name, labels).unwrap_or(0.0);
    let delta = |name: &str, labels: &[(&str, &str)]| {
        count(&m, name, labels) - count(&before, name, labels)
    };
    let route = ("route", PATH);
    let requests = "machtigingen_http_requests_total";
    let indienen = [
        route,
        ("operation", "IndienenMachtigingsaanvraag"),
        ("status", "200"),
        ("fault", ""),
    ];
    assert!(delta(requests, &indienen) >= 1.0, "{m}");
    let raadplegen = ("operation", "RaadplegenMachtigingsaanvraag");
    let client_500 = [route, raadplegen, ("status", "500"), ("fault", "client")];
    assert!(delta(requests, &client_500) >= 1.0, "{m}");
    let client_400 = [route, raadplegen, ("status", "400"), ("fault", "client")];
    assert!(delta(requests, &client_400) >= 1.0, "{m}");
    // The SOAP 1.1 client fault on HTTP 500 is not a server fault.
    let server = [route, raadplegen, ("fault", "server")];
    assert_eq!(delta(requests, &server), 0.0, "{m}");
    let faults = [route, raadplegen, ("class", "client"), ("code", "XSD-001")];
    assert!(delta("machtigingen_faults_total", &faults) >= 2.0, "{m}");
    let latency = [route, ("operation", "IndienenMachtigingsaanvraag")];
    let hist = "machtigingen_http_request_duration_seconds_count";
    assert!(delta(hist, &latency) >= 1.0, "{m}");
}

#[tokio::test]
async fn state_series_have_sane_values() {
    let app = TestApp::builder()
        .config(&crate::terugkoppeling_support::config(r#"["1s"]"#))
        .config("[retentie]\npurge_interval = \"1s\"")
        .spawn()
        .await;
    // Test certificates are issued for 10 days: one expiring registration.
    let _client = app.provider("03123456", &[Scope::MachtigingenRaadplegen]);
    let purged = eventually(10, || async {
        value(
            &scrape(&app).await,
            "machtigingen_retention_purge_runs_total",
            &[("result", "ok")],
        )
        .is_some_and(|n| n >= 1.0)
    })
    .await;
    assert!(purged, "no purge run counted");
    let m = scrape(&app).await;
    let one = |name: &str, labels: &[(&str, &str)]| {
        value(&m, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{m}"))
    };
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(one("machtigingen_build_info", &[("version", version)]), 1.0);
    // Whole seconds: a fresh process may still show 0.
    assert!(one("process_cpu_seconds_total", &[]) >= 0.0);
    assert!(one("process_start_time_seconds", &[]) > 1.7e9);
    assert!(one("process_resident_memory_bytes", &[]) > 1e6);
    assert!(one("process_open_fds", &[]) > 0.0);
    let server = one(
        "machtigingen_certificate_expiry_seconds",
        &[("kind", "server"), ("subject", "localhost")],
    );
    assert!((29.0 * DAY..=30.0 * DAY).contains(&server), "{server}");
    let ca = one("machtigingen_certificate_expiry_seconds", &[("kind", "ca")]);
    assert!(ca > 29.0 * DAY, "{ca}");
    let platform = one(
        "machtigingen_certificate_expiry_seconds",
        &[("kind", "platform_client")],
    );
    assert!((9.0 * DAY..=10.0 * DAY).contains(&platform), "{platform}");
    assert_eq!(
        value(&m, "machtigingen_certificate_file_errors", &[]),
        Some(0.0),
        "{m}"
    );
    let issuer = [("issuer", "machtigingen test CA")];
    let age = one("machtigingen_crl_age_seconds", &issuer);
    assert!((0.0..7200.0).contains(&age), "{age}");
    let next = one("machtigingen_crl_next_update_seconds", &issuer);
    assert!((29.0 * DAY..=30.0 * DAY).contains(&next), "{next}");
    assert_eq!(one("machtigingen_database_up", &[]), 1.0);
    for state in ["te_verdelen", "wachtend", "dood"] {
        assert_eq!(one("machtigingen_outbox_depth", &[("state", state)]), 0.0);
    }
    assert_eq!(
        one("machtigingen_outbox_oldest_undelivered_seconds", &[]),
        0.0
    );
    assert_eq!(
        one(
            "machtigingen_terugkoppeling_endpoints",
            &[("status", "actief")]
        ),
        0.0
    );
    assert!(one("machtigingen_registered_certificates_expiring", &[]) >= 1.0);
    assert!(
        one(
            "machtigingen_retention_purge_last_success_timestamp_seconds",
            &[]
        ) > 1.7e9
    );
    // Every table the purge deletes from: rows removed and the age of its
    // oldest row (values: retention.rs; the registry is the process's, and
    // other tests purge too).
    for t in machtigingen::retention::Table::ALL {
        let table = [("table", t.name())];
        assert!(one("machtigingen_retention_purged_rows_total", &table) >= 0.0);
        assert!(one("machtigingen_retention_oldest_seconds", &table) >= 0.0);
    }
    // Nothing identifying in any label: no fingerprint, no party code.
    assert!(!m.contains("03123456"), "{m}");
}

#[tokio::test]
async fn an_overdue_crl_makes_the_service_not_ready() {
    let app = TestApp::spawn().await;
    assert_eq!(ready(&app).await.0, 200);
    let key_pem = std::fs::read(test_pki().dir.join("ca.key")).unwrap();
    let key = PKey::private_key_from_pem(&key_pem).unwrap();
    let now = chrono::Utc::now().timestamp();
    let overdue =
        pki::crl::build(&test_pki().ca.cert, &key, &[], now - 2 * 86_400, now - 3600).unwrap();
    std::fs::write(&app.crl_path, overdue.to_pem().unwrap()).unwrap();

    let (status, body) = ready(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"], "ok");
    let reason = &body["reasons"][0];
    assert_eq!(reason["check"], "crl", "{body}");
    assert_eq!(reason["reason"], "overdue");
    assert_eq!(reason["issuer"], "machtigingen test CA");
    let next = value(
        &scrape(&app).await,
        "machtigingen_crl_next_update_seconds",
        &[],
    )
    .unwrap();
    assert!((-3700.0..-3500.0).contains(&next), "{next}");

    // A fresh CRL makes it ready again, without a restart.
    app.publish_crl();
    let (status, body) = ready(&app).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn an_expired_server_certificate_makes_the_service_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let key = pki::generate_key(KeyType::EcP256).unwrap();
    let now = chrono::Utc::now().timestamp();
    let expired = test_pki()
        .ca
        .issue_server(
            &["localhost"],
            &["127.0.0.1".parse().unwrap()],
            &key,
            Validity {
                not_before: now - 10 * 86_400,
                not_after: now - 60,
            },
        )
        .unwrap();
    let (cert, key_path) = (dir.path().join("server.pem"), dir.path().join("server.key"));
    std::fs::write(&cert, expired.to_pem().unwrap()).unwrap();
    std::fs::write(&key_path, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let app = TestApp::builder()
        .config(&format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"",
            cert.display(),
            key_path.display()
        ))
        .spawn()
        .await;
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503, "{body}");
    let reason = &body["reasons"][0];
    assert_eq!(reason["check"], "server_certificate", "{body}");
    assert_eq!(reason["reason"], "expired");
    let left = value(
        &scrape(&app).await,
        "machtigingen_certificate_expiry_seconds",
        &[("kind", "server")],
    )
    .unwrap();
    assert!((-200.0..=-60.0).contains(&left), "{left}");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_unknown_routes_are_problems() {
    let app = TestApp::spawn().await;
    let client = app.provider("03123456", &[Scope::MachtigingenRaadplegen]);
    let resp = client.get("/api/v1/bestaat-niet").await;
    assert_eq!(resp.status(), 404);
    assert!(resp.headers().get("x-request-id").is_some());
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "REQ-001");
}

/// Every `machtigingen_…` / `process_…` metric name in `text`.
fn metric_names(text: &str, into: &mut BTreeSet<String>) {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut rest = text;
    while let Some(i) = rest.find(['m', 'p']) {
        let preceded = rest[..i].chars().last().is_some_and(is_name);
        let token: String = rest[i..].chars().take_while(|c| is_name(*c)).collect();
        if !preceded && (token.starts_with("machtigingen_") || token.starts_with("process_")) {
            into.insert(token.clone());
        }
        rest = &rest[i + token.len().max(1)..];
    }
}

fn exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// The files under deploy/ name only metrics a running instance serves (after
/// some traffic), the alert rules cover what issue 21 asks, and — where
/// `promtool` is installed — the rules pass `promtool check rules`
/// (`MT_REQUIRE_PROMTOOL=1` makes a missing promtool a failure).
#[tokio::test]
async fn deploy_dashboard_and_alerts_name_served_metrics() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules_path = root.join("deploy/prometheus/alerts.yml");
    let rules = std::fs::read_to_string(&rules_path).unwrap();
    for alert in [
        "MachtigingenOutboxGrowing",
        "MachtigingenDeadLetters",
        "MachtigingenEmailDeadLetters",
        "MachtigingenEndpointDisabled",
        "MachtigingenCrlOverdue",
        "MachtigingenCertificateExpiring",
        "MachtigingenServerFaults",
        "MachtigingenDatabaseUnreachable",
    ] {
        assert!(
            rules.contains(&format!("- alert: {alert}\n")),
            "{alert} missing"
        );
    }
    let mut names = BTreeSet::new();
    metric_names(&rules, &mut names);
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("deploy/grafana/machtigingen.json")).unwrap(),
    )
    .unwrap();
    let mut queries = Vec::new();
    exprs(&dashboard["panels"], &mut queries);
    assert!(queries.len() >= 20, "{queries:?}");
    for q in &queries {
        metric_names(q, &mut names);
    }
    assert!(names.len() >= 20, "{names:?}");

    match std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules_path)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            assert!(
                std::env::var_os("MT_REQUIRE_PROMTOOL").is_none(),
                "promtool: {e}"
            );
            eprintln!("promtool not run ({e}); install Debian's prometheus package");
        }
    }

    // Traffic that makes every series appear: a dispatcher and a purge, a
    // request, a refused certificate, a fault.
    let app = TestApp::builder()
        .config(&crate::terugkoppeling_support::config(r#"["1s"]"#))
        .config("[retentie]\npurge_interval = \"1s\"")
        .spawn()
        .await;
    let client = app.provider("03123456", &[Scope::MachtigingenRaadplegen]);
    assert_eq!(client.get_json("/api/v1/whoami").await.0, 200);
    assert_eq!(client.get("/api/v1/bestaat-niet").await.status(), 404);
    let stranger = {
        let key = pki::generate_key(KeyType::EcP256).unwrap();
        let subject = pki::ClientSubject {
            common_name: "niet geregistreerd".into(),
            organization: "test".into(),
            organizational_unit: "AGB:09999999".into(),
        };
        let cert = test_pki()
            .ca
            .issue_client(&subject, &key, Validity::days_from_now(1))
            .unwrap();
        app.client(&crate::support::TestCert::new(cert, key))
    };
    assert!(
        stranger
            .get("/api/v1/whoami")
            .await
            .status()
            .is_client_error()
    );
    let sqlite = app.config.database.url.starts_with("sqlite");
    let mut missing = Vec::new();
    for _ in 0..40 {
        let m = scrape(&app).await;
        let served = |n: &str| {
            m.lines()
                .any(|l| l.strip_prefix(n).is_some_and(|r| r.starts_with([' ', '{'])))
        };
        missing = names
            .iter()
            // Group commit is SQLite's; PostgreSQL has none to report.
            .filter(|n| sqlite || !n.contains("sqlite_"))
            .filter(|n| !served(n))
            .cloned()
            .collect();
        if missing.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(
        missing.is_empty(),
        "named in deploy/ but not served: {missing:?}"
    );
}

/// docs/operations.md's SQLite backup: `VACUUM INTO` on the live database
/// while requests and writes continue gives a consistent copy that opens.
#[tokio::test]
async fn sqlite_online_backup_while_serving() {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use machtigingen::registry::PartyKind;

    let app = TestApp::spawn().await;
    if !app.config.database.url.starts_with("sqlite") {
        return; // PostgreSQL: pg_dump, see docs/operations.md.
    }
    let client = app.provider("03123456", &[Scope::MachtigingenRaadplegen]);
    let backup = app.dir.path().join("backup.db");
    let writer = {
        let db = app.db.clone();
        std::thread::spawn(move || {
            let mut conn = db.conn().unwrap();
            for i in 0..200 {
                let code = format!("{:08}", 10_000_000 + i);
                let r =
                    machtigingen::registry::PartyRef::new(PartyKind::Zorgaanbieder.scheme(), &code)
                        .unwrap();
                machtigingen::registry::store::add_party(
                    &mut conn,
                    PartyKind::Zorgaanbieder,
                    &r,
                    "backup",
                )
                .unwrap();
            }
        })
    };
    let mut conn = app.db.conn().unwrap();
    conn.batch_execute(&format!("VACUUM INTO '{}'", backup.display()))
        .unwrap();
    drop(conn);
    assert_eq!(client.get_json("/api/v1/whoami").await.0, 200);
    writer.join().unwrap();

    let mut copy = diesel::SqliteConnection::establish(backup.to_str().unwrap()).unwrap();
    #[derive(QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let check: Check = diesel::sql_query("PRAGMA integrity_check")
        .get_result(&mut copy)
        .unwrap();
    assert_eq!(check.integrity_check, "ok");
    use machtigingen::db::schema::parties;
    let n: i64 = parties::table.count().get_result(&mut copy).unwrap();
    assert!(n >= 1, "{n}");
}

/// Without a dispatcher nothing fans terugkoppelingen out: the scrape shows
/// them as `te_verdelen` (what `MachtigingenFanOutStalled` alerts on).
#[tokio::test]
async fn outbox_depth_counts_what_no_dispatcher_fans_out() {
    let app = TestApp::builder()
        .config("[terugkoppeling]\ndispatcher = false")
        .spawn()
        .await;
    crate::terugkoppeling_support::enqueue(&app, "subject-a", "ref-1");
    crate::terugkoppeling_support::enqueue(&app, "subject-b", "ref-2");
    let m = scrape(&app).await;
    let depth = |state| value(&m, "machtigingen_outbox_depth", &[("state", state)]);
    assert_eq!(depth("te_verdelen"), Some(2.0), "{m}");
    assert_eq!(depth("wachtend"), Some(0.0), "{m}");
    // Not configured where no dispatcher runs.
    let platform = [("kind", "platform_client")];
    assert_eq!(
        value(&m, "machtigingen_certificate_expiry_seconds", &platform),
        None
    );
}
