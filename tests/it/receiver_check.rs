//! The receiver check against real HTTPS receivers over real mutual TLS:
//! the reference receiver passes every case; receivers wrong on purpose
//! (`support::broken_receiver`) are reported with exactly their faults; the
//! CLI's exit code and output; and the platform-run check over REST and SOAP
//! with its storage and hourly limit.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use machtigingen::dispatch::check::{self, Report, Target};
use machtigingen::dispatch::render::Format;
use machtigingen::dispatch::signature;

use crate::support::broken_receiver::{self, Flaw};
use crate::support::soap::{self, BOTH};
use crate::terugkoppeling_support::{self as tk, platform_client};

const BIN: &str = env!("CARGO_BIN_EXE_machtigingen");

fn target(port: u16, format: Format, secret: &str, timeout: Duration) -> Target {
    let (c, k, _) = platform_client();
    let identity =
        reqwest::Identity::from_pkcs8_pem(&std::fs::read(c).unwrap(), &std::fs::read(k).unwrap())
            .unwrap();
    Target {
        url: format!("https://localhost:{port}/terugkoppeling")
            .parse()
            .unwrap(),
        format,
        secrets: vec![secret.to_owned()],
        party: "AGB:03123456".into(),
        identity,
        ca_bundle: Some(tk::ca_pem()),
        address: None,
        connect_timeout: Duration::from_secs(2),
        timeout,
    }
}

fn failures(r: &Report) -> BTreeSet<&str> {
    r.failures().into_iter().collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

#[tokio::test]
async fn the_reference_receiver_passes_every_case_in_both_formats() {
    let secret = signature::new_secret().unwrap();
    let r = tk::receiver();
    r.set_secrets(vec![secret.clone()]);
    let json = check::run(&target(
        r.addr.port(),
        Format::Json,
        &secret,
        Duration::from_secs(3),
    ))
    .await
    .unwrap();
    assert!(json.geslaagd, "{}", json.table());
    assert_eq!(json.gevallen.len(), 12, "{}", json.table());
    // Two messages were new (the valid one and the rotation), one was a
    // redelivery recognised as such; nothing else got through.
    assert_eq!(r.received().len(), 2);
    assert_eq!(r.duplicates(), 1);
    // Every message was marked as a test and held no patient data.
    for m in r.received() {
        let v: serde_json::Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(v["type"], "terugkoppeling.verificatie");
        assert_eq!(v["data"], serde_json::json!({"partij": "AGB:03123456"}));
    }

    let soap = check::run(&target(
        r.addr.port(),
        Format::Soap,
        &secret,
        Duration::from_secs(3),
    ))
    .await
    .unwrap();
    assert!(soap.geslaagd, "{}", soap.table());
    let names: Vec<&str> = soap.gevallen.iter().map(|c| c.geval.as_str()).collect();
    assert!(names.contains(&"soap12"), "{names:?}");
    assert_eq!(soap.gevallen.len(), 13);
    let soap_bodies: Vec<String> = r
        .received()
        .iter()
        .filter(|m| m.content_type.starts_with("application/soap+xml"))
        .map(|m| m.body.clone())
        .collect();
    assert_eq!(soap_bodies.len(), 1, "one SOAP 1.2 envelope");
    assert!(soap_bodies[0].contains("http://www.w3.org/2003/05/soap-envelope"));
}

#[tokio::test]
async fn each_broken_receiver_is_reported_with_exactly_its_faults() {
    // The first is not broken: it marks duplicates in its JSON body, which
    // the contract allows as well as the header.
    let secret = signature::new_secret().unwrap();
    let cases: [(Flaw, &[&str]); 6] = [
        (Flaw::DuplicateInBody, &[]),
        (
            Flaw::AnySignature,
            &[
                "handtekening-vervalst",
                "handtekening-ontbreekt",
                "verkeerd-geheim",
                "inhoud-gewijzigd",
            ],
        ),
        (Flaw::NoDedup, &["dubbel"]),
        (
            Flaw::NoTimestampCheck,
            &["tijdstip-verlopen", "tijdstip-toekomst"],
        ),
        (Flaw::Slow(Duration::from_millis(1300)), &["tijdig"]),
        (
            Flaw::NoClientCert,
            &["zonder-clientcertificaat", "vreemd-clientcertificaat"],
        ),
    ];
    for (fault, expected) in cases {
        let b = broken_receiver::start(fault, &secret);
        let report = check::run(&target(
            b.addr.port(),
            Format::Json,
            &secret,
            Duration::from_secs(1),
        ))
        .await
        .unwrap();
        assert_eq!(
            failures(&report),
            set(expected),
            "{fault:?}\n{}",
            report.table()
        );
        assert_eq!(report.geslaagd, expected.is_empty());
        for c in report.gevallen.iter().filter(|c| !c.geslaagd) {
            let hint = c.hint.as_deref().unwrap_or_default();
            assert!(hint.starts_with("docs/callbacks.md §"), "{hint}");
        }
    }
}

#[tokio::test]
async fn soap_receivers_are_held_to_both_bindings_and_a_fault_is_a_refusal() {
    let secret = signature::new_secret().unwrap();
    let cases: [(Flaw, &[&str]); 3] = [
        (
            Flaw::SoapFaultForValid,
            &["geldig", "dubbel", "soap12", "sleutelrotatie"],
        ),
        (Flaw::Soap11Only, &["soap12"]),
        // HTTP 500 with a Fault is how SOAP 1.1 refuses: every case passes.
        (Flaw::RefusesWithSoapFault, &[]),
    ];
    for (fault, expected) in cases {
        let b = broken_receiver::start(fault, &secret);
        let report = check::run(&target(
            b.addr.port(),
            Format::Soap,
            &secret,
            Duration::from_secs(2),
        ))
        .await
        .unwrap();
        assert_eq!(
            failures(&report),
            set(expected),
            "{fault:?}\n{}",
            report.table()
        );
        assert_eq!(report.geslaagd, expected.is_empty());
    }
}

#[tokio::test]
async fn the_cli_exits_zero_only_when_every_case_passes() {
    let secret = signature::new_secret().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    let (c, k, _) = platform_client();
    let p = crate::support::pki();
    let cli = |port: u16, output: &str| {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .env("MACHTIGINGEN_TERUGKOPPELING__TIMEOUT", "2s")
            .env_remove(machtigingen_secret_env())
            .args(["receiver-check", "--url"])
            .arg(format!("https://localhost:{port}/tk"))
            .arg("--secret-file")
            .arg(&secret_file)
            .arg("--client-cert")
            .arg(c)
            .arg("--client-key")
            .arg(k)
            .arg("--ca")
            .arg(&p.ca_pem)
            .args(["--output", output]);
        cmd
    };
    let good = tk::receiver();
    good.set_secrets(vec![secret.clone()]);
    let out = tokio::task::spawn_blocking({
        let mut cmd = cli(good.addr.port(), "json");
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["geslaagd"], true);
    assert_eq!(v["gevallen"].as_array().unwrap().len(), 12);

    let bad = broken_receiver::start(Flaw::NoDedup, &secret);
    let out = tokio::task::spawn_blocking({
        let mut cmd = cli(bad.addr.port(), "table");
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    let fout: Vec<&str> = table.lines().filter(|l| l.starts_with("FOUT")).collect();
    assert_eq!(fout.len(), 1, "{table}");
    assert!(fout[0].contains("dubbel"), "{table}");
    assert!(table.contains("§10.1"), "{table}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 of 12 cases"));

    // No secret anywhere: a clear error, nothing sent.
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env_remove(machtigingen_secret_env())
        .args(["receiver-check", "--url", "https://localhost:1/tk"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--secret-file"));
}

fn machtigingen_secret_env() -> &'static str {
    "MACHTIGINGEN_RECEIVER_SECRET"
}

async fn app_with_limit(limit: u32) -> crate::support::TestApp {
    crate::support::TestApp::builder()
        .config(&tk::config_with(
            r#"["0s"]"#,
            &format!("controles_per_uur = {limit}\ntimeout = \"2s\""),
        ))
        .spawn()
        .await
}

#[tokio::test]
async fn the_platform_runs_stores_and_limits_the_check_over_rest() {
    let app = app_with_limit(2).await;
    let client = tk::provider(&app);
    let (s, v) = client
        .post_json(
            "/api/v1/terugkoppeling/abonnement/controle",
            &serde_json::json!({}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (409, Some("TKP-005")), "{v}");

    let r = tk::receiver();
    tk::register(&client, &r, "json").await;
    // The SSRF rule applies at every run: a registered host that now points
    // into an internal network (as after a DNS change) is refused, and no
    // run is stored or counted.
    {
        use diesel::prelude::*;
        use machtigingen::db::schema::terugkoppeling_endpoints as ep;
        let mut conn = app.db.conn().unwrap();
        diesel::update(ep::table)
            .set(ep::url.eq("https://10.1.2.3/tk"))
            .execute(&mut conn)
            .unwrap();
    }
    let (s, v) = client
        .post_json(
            "/api/v1/terugkoppeling/abonnement/controle",
            &serde_json::json!({}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (422, Some("TKP-002")), "{v}");
    tk::register(&client, &r, "json").await;
    let (s, v) = client
        .post_json(
            "/api/v1/terugkoppeling/abonnement/controle",
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "geslaagd", "{v}");
    assert_eq!(v["rapport"]["geslaagd"], true, "{v}");
    assert_eq!(v["rapport"]["gevallen"].as_array().unwrap().len(), 12);
    let first = v["id"].as_str().unwrap().to_owned();
    assert!(first.starts_with("TKC"));

    // The receiver forgets its secret: the second run is stored as failed.
    r.set_secrets(Vec::new());
    let (s, v) = client
        .post_json(
            "/api/v1/terugkoppeling/abonnement/controle",
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "niet-geslaagd", "{v}");
    let second = v["id"].as_str().unwrap().to_owned();

    // The limit: a third run within the hour is refused, and not stored.
    let (s, v) = client
        .post_json(
            "/api/v1/terugkoppeling/abonnement/controle",
            &serde_json::json!({}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (429, Some("TKP-006")), "{v}");

    let (s, v) = client
        .get_json("/api/v1/terugkoppeling/abonnement/controle")
        .await;
    assert_eq!(s, 200, "{v}");
    let ids: Vec<&str> = v["controles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str(), first.as_str()], "newest first");
    let (s, v) = client
        .get_json(&format!(
            "/api/v1/terugkoppeling/abonnement/controle/{first}"
        ))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["rapport"]["geslaagd"], true);

    // Another party sees none of it.
    let other = app.provider(
        "01234567",
        &[machtigingen::registry::Scope::TerugkoppelingBeheren],
    );
    let (s, _) = other
        .get_json(&format!(
            "/api/v1/terugkoppeling/abonnement/controle/{first}"
        ))
        .await;
    assert_eq!(s, 404);

    // Audited, per run.
    let mut conn = app.db.conn().unwrap();
    use diesel::prelude::*;
    use machtigingen::db::schema::audit_log;
    let n: i64 = audit_log::table
        .filter(audit_log::action.eq("terugkoppeling.controleren"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(n, 2);
}

#[tokio::test]
async fn concurrent_requests_cannot_exceed_the_hourly_limit() {
    let app = app_with_limit(2).await;
    let client = tk::provider(&app);
    let r = tk::receiver();
    tk::register(&client, &r, "json").await;
    let post = || async {
        client
            .post_json(
                "/api/v1/terugkoppeling/abonnement/controle",
                &serde_json::json!({}),
            )
            .await
            .0
    };
    let (a, b, c) = tokio::join!(post(), post(), post());
    let mut statuses = vec![a, b, c];
    statuses.sort();
    assert_eq!(statuses, [200, 200, 429]);
    let (_, v) = client
        .get_json("/api/v1/terugkoppeling/abonnement/controle")
        .await;
    assert_eq!(v["controles"].as_array().unwrap().len(), 2, "{v}");
}

#[tokio::test]
async fn the_platform_runs_the_check_over_soap_11_and_12() {
    const NS: &str = "urn:machtigingen:terugkoppelingbeheer:v1";
    const PATH: &str = "/soap/terugkoppelingbeheer/v1";
    let app = app_with_limit(2).await;
    let client = tk::provider(&app);
    let r = tk::receiver();
    tk::register(&client, &r, "soap").await;
    for v in BOTH {
        let op = "ControlerenOntvanger";
        let ans = soap::call(&client, PATH, v, NS, op, &format!("<{op} xmlns=\"{NS}\"/>")).await;
        assert!(!ans.is_fault(), "{}", ans.body);
        assert_eq!(
            ans.text("Status").as_deref(),
            Some("geslaagd"),
            "{}",
            ans.body
        );
        assert_eq!(ans.texts("Naam").len(), 13, "{}", ans.body);
        assert!(ans.texts("Naam").contains(&"soap12".to_owned()));
    }
    // The third within the hour is over the limit: a coded Fault, nothing stored.
    for v in BOTH {
        let op = "ControlerenOntvanger";
        let ans = soap::call(&client, PATH, v, NS, op, &format!("<{op} xmlns=\"{NS}\"/>")).await;
        assert!(ans.is_fault(), "{}", ans.body);
        // SOAP 1.2 has an env:Code of its own: the Fout detail's is among them.
        assert!(
            ans.texts("Code").contains(&"TKP-006".to_owned()),
            "{}",
            ans.body
        );
    }
    let op = "OphalenControles";
    let ans = soap::call(
        &client,
        PATH,
        BOTH[0],
        NS,
        op,
        &format!("<{op} xmlns=\"{NS}\"/>"),
    )
    .await;
    assert_eq!(ans.texts("ControleId").len(), 2, "{}", ans.body);
}
