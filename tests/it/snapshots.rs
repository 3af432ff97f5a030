//! Snapshots that pin the wire contract's shape: SOAP Faults of every service,
//! problem+json bodies, callback payloads (JSON and SOAP) and the served
//! OpenAPI document, each taken from the real server over mTLS (callbacks from
//! the reference receiver), normalised by `support::redact` (ids, timestamps,
//! dates relative to today, ports and secrets become placeholders) and
//! compared with the committed files under `tests/it/snapshots/`.
//!
//! JSON is compared as a value (object keys sorted: key order is no part of
//! the contract); XML is shown one element per line (`pretty_xml`).
//!
//! A change to the wire fails these tests. To accept an intended change:
//!
//! ```sh
//! INSTA_UPDATE=always cargo test --locked --test it snapshots
//! git diff tests/it/snapshots/    # review: every changed line is a wire change
//! ```
//!
//! (`cargo insta review` does the same interactively where cargo-insta is
//! installed.) Without `INSTA_UPDATE` a mismatch fails and, outside CI, leaves
//! the new version next to the old as `*.snap.new` (git-ignored; it is never
//! read back, so it cannot make a test pass). With `CI` set insta writes
//! nothing, and `guard` below refuses `INSTA_UPDATE=always|force` and
//! `INSTA_FORCE_PASS`, so CI cannot accept a snapshot on its own.

use machtigingen::registry::{CertKind, PartyKind, Scope};
use serde_json::{Value, json};

use crate::fixtures::{self, Aanvraag, NS, app_with_provider, days, insurer};
use crate::support::redact::{Redactor, pretty_xml};
use crate::support::soap::{self, Answer, BOTH, Soap};
use crate::support::{TestApp, TestClient};
use crate::terugkoppeling_support as tk;

/// Names the snapshot files after the snapshot alone and keeps the asserting
/// expression out of them (a refactor of this file changes no snapshot).
fn settings(description: &str) -> insta::Settings {
    guard();
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s.set_description(description);
    s
}

/// CI must compare, never accept.
fn guard() {
    let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
    if !ci {
        return;
    }
    let update = std::env::var("INSTA_UPDATE").unwrap_or_default();
    assert!(
        !matches!(update.as_str(), "always" | "1" | "force" | "unseen"),
        "INSTA_UPDATE={update} with CI set would accept wire changes unreviewed"
    );
    assert!(
        std::env::var_os("INSTA_FORCE_PASS").is_none(),
        "INSTA_FORCE_PASS with CI set would pass wire changes unreviewed"
    );
}

/// Status, content type and the pretty-printed, normalised envelope.
fn snap_soap(name: &str, description: &str, r: &mut Redactor, a: &Answer) {
    let text = format!(
        "HTTP {}\ncontent-type: {}\n\n{}",
        a.status,
        a.content_type,
        pretty_xml(&r.text(&a.body))
    );
    settings(description).bind(|| insta::assert_snapshot!(name, text));
}

/// A JSON answer or message with the parts of its envelope that belong to
/// the contract.
fn snap_json(name: &str, description: &str, r: &mut Redactor, v: &Value) {
    let v = r.json(v);
    settings(description).bind(|| insta::assert_json_snapshot!(name, v));
}

/// Status, content type, `Allow` (where given) and the JSON body.
async fn answer(resp: reqwest::Response) -> Value {
    let status = resp.status().as_u16();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (content_type, allow) = (header("content-type"), header("allow"));
    let text = resp.text().await.unwrap();
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    let mut v = json!({"status": status, "contentType": content_type, "body": body});
    if let Some(a) = allow {
        v["allow"] = a.into();
    }
    v
}

async fn put(c: &TestClient, path: &str, body: &Value) -> reqwest::Response {
    c.http.put(c.url(path)).json(body).send().await.unwrap()
}

fn server(app: &TestApp) -> Redactor {
    Redactor::new().port(app.addr.port(), "poort")
}

const MACHTIGINGEN: &str = "/soap/machtigingen/v1";

fn indienen(a: &Aanvraag) -> String {
    format!(
        "<IndienenMachtigingsaanvraag xmlns=\"{NS}\">{}</IndienenMachtigingsaanvraag>",
        a.element()
    )
}

/// Two schema errors (BSN and UZOVI patterns) in one document.
fn schema_invalid() -> Aanvraag {
    Aanvraag {
        bsn: "12345".into(),
        uzovi: "33".into(),
        referentie: "REF-SNAPSHOT".into(),
        ..Default::default()
    }
}

/// Fails the 11-proef and ends before it begins: two JVC findings.
fn jvc_invalid() -> Aanvraag {
    Aanvraag {
        bsn: "123456789".into(),
        einddatum: days(1),
        referentie: "REF-SNAPSHOT".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn soap_faults_of_the_machtigingen_service() {
    let (app, client) = app_with_provider().await;
    let reader = app.provider("03123456", &[Scope::MachtigingenRaadplegen]);
    for v in BOTH {
        let tag = match v {
            Soap::V11 => "soap11",
            Soap::V12 => "soap12",
        };
        let call = |c: TestClient, a: Aanvraag| async move {
            let payload = indienen(&a);
            soap::call(
                &c,
                MACHTIGINGEN,
                v,
                NS,
                "IndienenMachtigingsaanvraag",
                &payload,
            )
            .await
        };
        let f = call(client.clone(), schema_invalid()).await;
        snap_soap(
            &format!("{tag}_machtigingen_xsd_001"),
            "IndienenMachtigingsaanvraag with a 5-digit BSN and a 2-digit UZOVI",
            &mut server(&app),
            &f,
        );
        let f = call(reader.clone(), Aanvraag::default()).await;
        snap_soap(
            &format!("{tag}_machtigingen_autz_001"),
            "IndienenMachtigingsaanvraag with a certificate holding only machtigingen:raadplegen",
            &mut server(&app),
            &f,
        );
    }
    let f = soap::call(
        &client,
        MACHTIGINGEN,
        Soap::V12,
        NS,
        "IndienenMachtigingsaanvraag",
        &indienen(&jvc_invalid()),
    )
    .await;
    snap_soap(
        "soap12_machtigingen_jvc_000",
        "IndienenMachtigingsaanvraag failing the 11-proef and ending before it begins",
        &mut server(&app),
        &f,
    );
}

async fn call_op(c: &TestClient, path: &str, v: Soap, ns: &str, op: &str, inner: &str) -> Answer {
    let payload = format!("<{op} xmlns=\"{ns}\">{inner}</{op}>");
    soap::call(c, path, v, ns, op, &payload).await
}

#[tokio::test]
async fn soap_faults_of_the_other_services() {
    let (app, provider) = app_with_provider().await;

    // OptinFout: a BSN failing the 11-proef.
    const OPTIN: &str = "urn:machtigingen:optin:v1";
    let portal_party = app.party(PartyKind::Patientportaal, "portaal-snapshot");
    let portal = app.client(&app.issue(
        &portal_party,
        CertKind::Systeem,
        &[Scope::OptinAanmelden],
        &[],
    ));
    let subscriber = app.provider("01234567", &[Scope::OptinAfhandelen]);
    let resp = put(&subscriber, "/api/v1/optin/abonnement", &json!({})).await;
    assert_eq!(resp.status(), 200);
    let reg = crate::optin::registratie("OPT-SNAPSHOT", "123456789", "01234567");
    let f = call_op(
        &portal,
        "/soap/optin/v1",
        Soap::V11,
        OPTIN,
        "RegistrerenToestemming",
        &reg,
    )
    .await;
    snap_soap(
        "soap11_optin_opt_002",
        "RegistrerenToestemming with a BSN failing the 11-proef",
        &mut server(&app),
        &f,
    );

    // BeoordelingFout: a second decision on a decided request.
    let ins = insurer(&app);
    let id = fixtures::submit(&provider, &Aanvraag::default()).await;
    fixtures::insurer_sets(&app, &id, "Afgewezen").await;
    let f = call_op(
        &ins,
        "/soap/beoordeling/v1",
        Soap::V12,
        "urn:machtigingen:beoordeling:v1",
        "VastleggenBeoordeling",
        &format!(
            "<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId><Afwijzing><RedenCode>X</RedenCode><RedenTekst>Te laat.</RedenTekst></Afwijzing>"
        ),
    )
    .await;
    snap_soap(
        "soap12_beoordeling_sta_001",
        "VastleggenBeoordeling (Afwijzing) on a request already Afgewezen",
        &mut server(&app),
        &f,
    );

    // TerugkoppelingBeheerFout: a callback URL on an internal address.
    let beheer = app.provider(
        "03123456",
        &[Scope::TerugkoppelingBeheren, Scope::MachtigingenIndienen],
    );
    let f = call_op(
        &beheer,
        "/soap/terugkoppelingbeheer/v1",
        Soap::V11,
        "urn:machtigingen:terugkoppelingbeheer:v1",
        "RegistrerenAbonnement",
        "<Url>https://10.1.2.3/tk</Url><Formaat>json</Formaat>",
    )
    .await;
    snap_soap(
        "soap11_terugkoppelingbeheer_tkp_002",
        "RegistrerenAbonnement with https://10.1.2.3/tk",
        &mut server(&app),
        &f,
    );
}

const REST: &str = "/api/v1/machtigingsaanvragen";

async fn post_doc(c: &TestClient, path: &str, xml: &str) -> Value {
    let resp = c
        .http
        .post(c.url(path))
        .header("content-type", "application/xml")
        .body(xml.to_owned())
        .send()
        .await
        .unwrap();
    answer(resp).await
}

#[tokio::test]
async fn problem_bodies() {
    let (app, client) = app_with_provider().await;
    let snap = |name: &str, description: &str, v: &Value| {
        snap_json(name, description, &mut server(&app), v);
    };

    let v = post_doc(&client, REST, &schema_invalid().xml()).await;
    snap(
        "problem_400_xsd_001",
        "POST machtigingsaanvragen with a 5-digit BSN and a 2-digit UZOVI",
        &v,
    );

    let reader = app.provider("03123456", &[Scope::MachtigingenRaadplegen]);
    let v = post_doc(&reader, REST, &Aanvraag::default().xml()).await;
    snap(
        "problem_403_autz_001",
        "POST machtigingsaanvragen with only machtigingen:raadplegen",
        &v,
    );

    let unknown = format!("{REST}/MA{}", "0".repeat(32));
    let v = answer(client.get(&unknown).await).await;
    snap(
        "problem_404_req_001",
        "GET a machtigingsaanvraag that does not exist",
        &v,
    );

    let resp = client
        .http
        .delete(client.url("/api/v1/whoami"))
        .send()
        .await
        .unwrap();
    let v = answer(resp).await;
    snap("problem_405_req_005", "DELETE /api/v1/whoami", &v);

    let id = fixtures::submit(&client, &Aanvraag::default()).await;
    fixtures::insurer_sets(&app, &id, "Afgewezen").await;
    let resp = insurer(&app)
        .http
        .post(client.url(&format!(
            "/api/v1/beoordeling/machtigingsaanvragen/{id}/beoordeling"
        )))
        .json(&fixtures::beoordeling("Afgewezen"))
        .send()
        .await
        .unwrap();
    let v = answer(resp).await;
    snap(
        "problem_409_sta_001",
        "a second decision (Afgewezen) on a request already Afgewezen",
        &v,
    );

    let v = post_doc(&client, REST, &jvc_invalid().xml()).await;
    snap(
        "problem_422_jvc_000",
        "POST machtigingsaanvragen failing the 11-proef and ending before it begins",
        &v,
    );
}

/// The first message on `rx` that is not the registration's verification
/// call, once `count` of them arrived: (content type, body).
async fn delivered(rx: &machtigingen::receiver::Receiver, count: usize) -> Vec<(String, String)> {
    let got = || {
        rx.received()
            .into_iter()
            .filter(|m| !m.webhook_id.starts_with("TKV"))
            .map(|m| (m.content_type, m.body))
            .collect::<Vec<_>>()
    };
    assert!(
        crate::support::eventually(10, || async { got().len() >= count }).await,
        "{:?}",
        got()
    );
    got()
}

fn snap_callback(name: &str, description: &str, mut r: Redactor, m: &(String, String)) {
    let (content_type, body) = m;
    if content_type.starts_with("application/json") {
        let body: Value = serde_json::from_str(body).unwrap();
        snap_json(
            name,
            description,
            &mut r,
            &json!({"contentType": content_type, "body": body}),
        );
    } else {
        let text = format!(
            "content-type: {content_type}\n\n{}",
            pretty_xml(&r.text(body))
        );
        settings(description).bind(|| insta::assert_snapshot!(name, text));
    }
}

/// A decision reaches the provider's callback: InBehandeling, then
/// DeelsToegekend with its Beslissing (the one snapshotted).
async fn decision_callback(formaat: &str) {
    let app = tk::app(r#"["0s", "200ms", "500ms"]"#).await;
    fixtures::load_sample_catalog(&app);
    let provider = tk::provider(&app);
    let rx = tk::receiver();
    tk::register(&provider, &rx, formaat).await;
    let doc = Aanvraag {
        referentie: "REF-SNAPSHOT".into(),
        ..Default::default()
    };
    let id = fixtures::submit(&provider, &doc).await;
    fixtures::insurer_sets(&app, &id, "InBehandeling").await;
    let (status, decided) = insurer(&app)
        .post_json(
            &format!("/api/v1/beoordeling/machtigingsaanvragen/{id}/beoordeling"),
            &fixtures::beoordeling("DeelsToegekend"),
        )
        .await;
    assert_eq!(status, 200, "{decided}");
    // Drawn at random per decision.
    let number = decided["beslissing"]["machtigingsnummer"].as_str().unwrap();
    let got = delivered(&rx, 2).await;
    snap_callback(
        &format!("callback_{formaat}_machtiging_status"),
        "machtiging.status after the insurer's DeelsToegekend decision",
        Redactor::new().exact(number, "[machtigingsnummer]"),
        &got[1],
    );
}

#[tokio::test]
async fn callback_json_of_a_decision() {
    decision_callback("json").await;
}

#[tokio::test]
async fn callback_soap_of_a_decision() {
    decision_callback("soap").await;
}

/// A patient portal's consent registration reaches the provider's callback.
async fn optin_callback(formaat: &str) {
    let app = tk::app(r#"["0s", "200ms", "500ms"]"#).await;
    let portal_party = app.party(PartyKind::Patientportaal, "portaal-snapshot");
    let portal = app.client(&app.issue(
        &portal_party,
        CertKind::Systeem,
        &[Scope::OptinAanmelden],
        &[],
    ));
    let provider = app.provider(
        "01234567",
        &[Scope::OptinAfhandelen, Scope::TerugkoppelingBeheren],
    );
    assert_eq!(
        put(&provider, "/api/v1/optin/abonnement", &json!({}))
            .await
            .status(),
        200
    );
    let rx = tk::receiver();
    tk::register(&provider, &rx, formaat).await;
    let reg = crate::optin::registratie("OPT-SNAPSHOT", "999999990", "01234567");
    let v = post_doc(&portal, "/api/v1/optin/registraties", &reg).await;
    assert_eq!(v["status"], 201, "{v}");
    let got = delivered(&rx, 1).await;
    snap_callback(
        &format!("callback_{formaat}_optin_registratie"),
        "optin.registratie after a portal registered consent",
        Redactor::new(),
        &got[0],
    );
}

#[tokio::test]
async fn callback_json_of_an_optin_registration() {
    optin_callback("json").await;
}

#[tokio::test]
async fn callback_soap_of_an_optin_registration() {
    optin_callback("soap").await;
}

#[tokio::test]
async fn openapi_document() {
    let app = TestApp::spawn().await;
    let client = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    let v = answer(client.get("/api/v1/openapi.json").await).await;
    snap_json(
        "openapi",
        "GET /api/v1/openapi.json as served on the mTLS listener",
        &mut server(&app),
        &v,
    );
}

/// The normaliser replaces what varies and only that.
#[test]
fn redaction_rules() {
    let today = chrono::Utc::now().date_naive();
    let in_a_week = today + chrono::Days::new(7);
    let ma = format!("MA{}", "0190abcdef".repeat(3) + "12");
    let tk = format!("TKV{}", "f".repeat(32));
    let text = format!(
        "<a x=\"{ma}\">{ma} {tk}. https://localhost:4433/x 2026-01-02T03:04:05.123456Z \
         {in_a_week} 1970-03-14 whsec_abc {} MA{} MAX{} AGB:03123456</a>",
        "ab".repeat(32),
        "0".repeat(31),
        "0".repeat(32),
    );
    let mut r = Redactor::new().port(4433, "poort");
    assert_eq!(
        r.text(&text),
        format!(
            "<a x=\"[MA-1]\">[MA-1] [TKV-1]. https://localhost:[poort]/x [tijdstip] \
             [vandaag+7] 1970-03-14 [geheim] [sha256] MA{} [MAX-1] AGB:03123456</a>",
            "0".repeat(31)
        )
    );
    assert_eq!(
        pretty_xml("<?xml version=\"1.0\"?><a xmlns=\"u\"><b>t &amp; u</b><c/><d></d></a>"),
        "<?xml version=\"1.0\"?>\n<a xmlns=\"u\">\n  <b>t &amp; u</b>\n  <c/>\n  <d></d>\n</a>\n"
    );
}
