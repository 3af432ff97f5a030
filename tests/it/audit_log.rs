//! The operator's queries of the audit log through the real binary, over a
//! real scenario on a real server: a provider submits (system certificate),
//! a person of the provider consults (persoonlijk certificate), the insurer
//! decides, and the platform delivers the callback. `audit patient` lists
//! exactly those four accesses with their parties, `audit search` filters by
//! patient, party, certificate, object, action and period, and every query
//! is audited itself, without the BSN.

use std::process::{Command, Output};

use diesel::prelude::*;
use machtigingen::audit::Actor;
use machtigingen::config::KeyType;
use machtigingen::db::schema::audit_log;
use machtigingen::pki::Validity;
use machtigingen::registry::admin::{self, IssueRequest, KeySource};
use machtigingen::registry::{CertKind, PartyKind, Scope};
use serde_json::Value;

use crate::fixtures::{self, Aanvraag, beoordeling};
use crate::support::{TestApp, TestCert, TestClient, pki};
use crate::terugkoppeling_support as tk;

const BIN: &str = env!("CARGO_BIN_EXE_machtigingen");
pub const BSN: &str = "999999990";
pub const GEBOREN: &str = "1970-03-14";
/// Another patient, whose rows must never show up in the first one's.
const OTHER_BSN: &str = "123456782";
const PERSON: &str = "Jorien de Vries-Testpersoon";

/// Runs the binary against the app's database.
pub fn cli(app: &TestApp, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(app.dir.path())
        .env("MACHTIGINGEN_DATABASE__URL", &app.config.database.url)
        .env("RUST_LOG", "warn")
        .env_remove("AUDIT_BSN")
        .args(args)
        .output()
        .unwrap()
}

pub fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn json(app: &TestApp, args: &[&str]) -> Value {
    let o = cli(app, args);
    assert!(o.status.success(), "{args:?}: {}", out(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)))
}

/// `audit patient --json` for the scenario's patient, with a date of birth.
pub fn overview(app: &TestApp, geboren: &str) -> Value {
    json(
        app,
        &[
            "audit",
            "patient",
            "--bsn",
            BSN,
            "--geboortedatum",
            geboren,
            "--json",
        ],
    )
}

/// A persoonlijk certificate of the provider with a person's name.
fn person_of_provider(app: &TestApp) -> TestCert {
    let party = app.party(PartyKind::Zorgaanbieder, tk::AGB);
    let issued = admin::issue(
        &mut app.db.conn().unwrap(),
        &pki().ca,
        IssueRequest {
            party,
            kind: CertKind::Persoonlijk,
            scopes: [Scope::MachtigingenRaadplegen].into_iter().collect(),
            ip_allowlist: Vec::new(),
            key: KeySource::Generate(KeyType::EcP256),
            common_name: Some(PERSON.into()),
            validity: Validity::days_from_now(10),
        },
        &Actor::operator(),
    )
    .unwrap();
    TestCert::new(issued.cert, issued.key.unwrap())
}

/// What the scenario made: the patient's request, the other patient's, the
/// persoonlijk certificate's fingerprint.
pub struct Scenario {
    pub app: TestApp,
    pub request: String,
    pub other: String,
    pub person: String,
    pub provider: TestClient,
}

/// Submit, consult (as a person), decide, and the callback delivered.
pub async fn scenario() -> Scenario {
    let app = TestApp::builder()
        .config(&tk::config(r#"["0s"]"#))
        .config(crate::retention::NO_PURGE)
        .spawn()
        .await;
    fixtures::load_sample_catalog(&app);
    let rx = tk::receiver();
    let provider = tk::provider(&app);
    tk::register(&provider, &rx, "json").await;
    let insurer = fixtures::insurer(&app);

    let request = fixtures::submit(&provider, &Aanvraag::default()).await;
    let other = fixtures::submit(
        &provider,
        &Aanvraag {
            bsn: OTHER_BSN.into(),
            ..Aanvraag::default()
        },
    )
    .await;
    let cert = person_of_provider(&app);
    let person = app.client(&cert);
    let (code, v) = person
        .get_json(&format!("/api/v1/machtigingsaanvragen/{request}"))
        .await;
    assert_eq!(code, 200, "{v}");
    let path = format!("/api/v1/beoordeling/machtigingsaanvragen/{request}/beoordeling");
    let (code, v) = insurer.post_json(&path, &beoordeling("Toegekend")).await;
    assert_eq!(code, 200, "{v}");
    let delivered = || {
        audit_log::table
            .filter(audit_log::action.eq("terugkoppeling.afgeleverd"))
            .count()
            .get_result::<i64>(&mut app.db.conn().unwrap())
            .unwrap()
    };
    assert!(
        crate::support::eventually(20, || async { delivered() >= 1 }).await,
        "callback not delivered and audited"
    );
    assert_eq!(rx.received().len(), 1);
    Scenario {
        request,
        other,
        person: cert.fingerprint.clone(),
        provider,
        app,
    }
}

fn actions(rows: &Value, key: &str) -> Vec<String> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r[key].as_str().unwrap().to_owned())
        .collect()
}

fn query_rows(app: &TestApp, action: &str) -> Vec<String> {
    audit_log::table
        .filter(audit_log::action.eq(action))
        .select(audit_log::detail)
        .order(audit_log::id)
        .load(&mut app.db.conn().unwrap())
        .unwrap()
}

#[tokio::test]
async fn patient_overview_lists_exactly_the_accesses_with_their_parties() {
    let s = scenario().await;
    let app = &s.app;
    let agb = format!("AGB:{}", tk::AGB);

    let v = overview(app, GEBOREN);
    assert_eq!(
        v["objecten"]["aanvragen"],
        serde_json::json!([s.request]),
        "{v:#}"
    );
    assert_eq!(v["afgekapt"], false);
    let t = v["toegangen"].as_array().unwrap();
    let seen: Vec<(String, String, String)> = t
        .iter()
        .map(|a| {
            (
                a["actie"].as_str().unwrap().to_owned(),
                a["partij"].as_str().unwrap().to_owned(),
                a["rol"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        (
            "machtigingsaanvraag.indienen",
            agb.as_str(),
            "zorgaanbieder",
        ),
        (
            "machtigingsaanvraag.raadplegen",
            agb.as_str(),
            "zorgaanbieder",
        ),
        ("beoordeling.vastleggen", "UZOVI:3311", "zorgverzekeraar"),
        ("terugkoppeling.afgeleverd", agb.as_str(), "zorgaanbieder"),
    ]
    .iter()
    .map(|(a, p, r)| ((*a).to_owned(), (*p).to_owned(), (*r).to_owned()))
    .collect();
    assert_eq!(seen, want, "{v:#}");
    for a in t {
        assert_eq!(a["betreft"], s.request.as_str(), "{a}");
        assert_eq!(a["uitkomst"], "ok");
    }
    // The person where a personal certificate was used, and only there.
    let persons: Vec<&Value> = t.iter().map(|a| &a["persoon"]).collect();
    assert_eq!(
        persons,
        [
            &Value::Null,
            &Value::from(PERSON),
            &Value::Null,
            &Value::Null
        ]
    );
    assert_eq!(t[0]["naam"], format!("Test zorgaanbieder {}", tk::AGB));
    assert_eq!(t[2]["naam"], "Test zorgverzekeraar 3311");

    // The text for the patient, in Dutch, without the BSN.
    let o = cli(
        app,
        &["audit", "patient", "--bsn", BSN, "--geboortedatum", GEBOREN],
    );
    let text = out(&o);
    assert!(o.status.success(), "{text}");
    for want in [
        "Overzicht van toegang tot uw gegevens",
        "diende de machtigingsaanvraag in",
        "bekeek de machtigingsaanvraag",
        "legde een beslissing over de aanvraag vast",
        "ontving een terugkoppeling",
        PERSON,
        "als zorgverzekeraar",
        "4 toegang(en).",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    assert!(!text.contains(BSN), "{text}");
    assert!(
        !text.contains(&s.other),
        "the other patient's request:\n{text}"
    );

    // The same overview through the environment instead of the command line.
    let o = Command::new(BIN)
        .current_dir(app.dir.path())
        .env("MACHTIGINGEN_DATABASE__URL", &app.config.database.url)
        .env("AUDIT_BSN", BSN)
        .args(["audit", "patient", "--geboortedatum", GEBOREN])
        .output()
        .unwrap();
    assert!(out(&o).contains("4 toegang(en)."), "{}", out(&o));

    // A date of birth that does not match finds nothing.
    let v = overview(app, "1970-03-15");
    assert_eq!(v["toegangen"], serde_json::json!([]), "{v}");

    // Each overview is on record, with the ids, never the BSN; and it is not
    // an access to the request itself (the next overview still has four).
    let q = query_rows(app, "audit.inzage");
    assert_eq!(q.len(), 4, "{q:?}");
    assert!(q[0].contains(&s.request), "{}", q[0]);
    assert!(
        q.iter().all(|d| !d.contains(BSN) && !d.contains(GEBOREN)),
        "{q:?}"
    );
    let v = overview(app, GEBOREN);
    assert_eq!(v["toegangen"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn search_filters_by_patient_party_certificate_object_action_and_period() {
    let s = scenario().await;
    let app = &s.app;
    let rows = |args: &[&str]| -> Value {
        let mut all = vec!["audit", "search", "--json"];
        all.extend_from_slice(args);
        json(app, &all)["rijen"].clone()
    };

    let by_patient = rows(&["--bsn", BSN, "--geboortedatum", GEBOREN]);
    assert_eq!(
        actions(&by_patient, "action"),
        [
            "machtigingsaanvraag.indienen",
            "machtigingsaanvraag.raadplegen",
            "beoordeling.vastleggen",
            "terugkoppeling.afgeleverd"
        ]
    );
    let by_party = rows(&["--partij", "UZOVI:3311"]);
    assert_eq!(actions(&by_party, "action"), ["beoordeling.vastleggen"]);
    assert_eq!(by_party[0]["object_id"], s.request.as_str());
    let by_cert = rows(&["--certificaat", &s.person.to_uppercase()]);
    assert_eq!(
        actions(&by_cert, "action"),
        ["machtigingsaanvraag.raadplegen"]
    );
    let by_object = rows(&["--object", &s.other]);
    assert_eq!(
        actions(&by_object, "action"),
        ["machtigingsaanvraag.indienen"]
    );
    let by_action = rows(&["--actie", "machtigingsaanvraag.*"]);
    assert_eq!(
        actions(&by_action, "action"),
        [
            "machtigingsaanvraag.indienen",
            "machtigingsaanvraag.indienen",
            "machtigingsaanvraag.raadplegen"
        ]
    );
    let exact = rows(&[
        "--actie",
        "machtigingsaanvraag.indienen",
        "--bsn",
        BSN,
        "--geboortedatum",
        GEBOREN,
    ]);
    assert_eq!(exact.as_array().unwrap().len(), 1);
    // Filters combine: the insurer did nothing to the other patient.
    let none = rows(&["--partij", "UZOVI:3311", "--object", &s.other]);
    assert_eq!(none, serde_json::json!([]));
    let tomorrow = fixtures::days(1).to_string();
    let yesterday = fixtures::days(-1).to_string();
    assert_eq!(rows(&["--van", &tomorrow]), serde_json::json!([]));
    assert_eq!(rows(&["--tot", &yesterday]), serde_json::json!([]));
    let today = rows(&[
        "--van",
        &yesterday,
        "--tot",
        &tomorrow,
        "--partij",
        "UZOVI:3311",
    ]);
    assert_eq!(today.as_array().unwrap().len(), 1);
    let limited = json(
        app,
        &[
            "audit",
            "search",
            "--json",
            "--actie",
            "machtigingsaanvraag.*",
            "--limit",
            "1",
        ],
    );
    assert_eq!(limited["rijen"].as_array().unwrap().len(), 1);
    assert_eq!(limited["meer"], true);

    // The table form.
    let o = cli(app, &["audit", "search", "--object", &s.request]);
    let text = out(&o);
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains("beoordeling.vastleggen") && text.contains("3 row(s)"),
        "{text}"
    );

    // Refused input names the option, never the value.
    for (args, want) in [
        (
            vec!["--bsn", "314159266", "--geboortedatum", GEBOREN],
            "--bsn is not a valid BSN",
        ),
        (
            vec!["--bsn", BSN, "--geboortedatum", "14-03-1970"],
            "--geboortedatum must be a date",
        ),
    ] {
        let mut all = vec!["audit", "search"];
        all.extend(args);
        let o = cli(app, &all);
        assert!(!o.status.success());
        let text = out(&o);
        assert!(text.contains(want), "{text}");
        assert!(
            !text.contains("314159266") && !text.contains(BSN) && !text.contains("14-03-1970"),
            "{text}"
        );
    }
    let o = cli(app, &["audit", "search", "--bsn", BSN]);
    assert!(!o.status.success(), "a BSN without a date of birth");

    // Every search that ran is on record (12), with its filters and no BSN.
    let q = query_rows(app, "audit.zoeken");
    assert_eq!(q.len(), 12, "{q:#?}");
    assert!(q.iter().all(|d| !d.contains(BSN)), "{q:?}");
    assert!(
        q[0].contains("\"patient\":true") && q[0].contains(&s.request),
        "{}",
        q[0]
    );
    assert!(q[1].contains("UZOVI:3311"), "{}", q[1]);
    // And those records are found like any other row.
    let v = json(app, &["audit", "search", "--json", "--actie", "audit.*"]);
    assert_eq!(v["rijen"].as_array().unwrap().len(), 12);
    let _ = &s.provider;
}
