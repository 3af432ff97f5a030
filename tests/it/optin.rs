//! The opt-in service over REST and SOAP through the real mTLS server: a
//! patient portal registers consent for a subscribed provider, the provider
//! pulls, acknowledges and handles it, the portal sees the outcome; refusals
//! with their documented codes and nothing stored.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use machtigingen::registry::{CertKind, PartyKind, Scope};
use serde_json::json;

use crate::fixtures::random_suffix;
use crate::support::soap::{self, BOTH, Soap};
use crate::support::{TestApp, TestClient, json_of};

const NS: &str = "urn:machtigingen:optin:v1";
const SOAP_PATH: &str = "/soap/optin/v1";
const SUBSCRIBED: &str = "01234567";
const NOT_SUBSCRIBED: &str = "01999998";

struct Setup {
    app: TestApp,
    portal: TestClient,
    provider: TestClient,
    other_provider: TestClient,
}

async fn setup() -> Setup {
    let app = TestApp::spawn().await;
    let p = app.party(
        PartyKind::Patientportaal,
        &format!("portaal-{}", random_suffix()),
    );
    let portal = app.client(&app.issue(&p, CertKind::Systeem, &[Scope::OptinAanmelden], &[]));
    let provider = app.provider(SUBSCRIBED, &[Scope::OptinAfhandelen]);
    let other_provider = app.provider(NOT_SUBSCRIBED, &[Scope::OptinAfhandelen]);
    let (status, body) = put_json(
        &provider,
        "/api/v1/optin/abonnement",
        &json!({"notificatieEmail": "optin@praktijk.example"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["actief"], true);
    Setup {
        app,
        portal,
        provider,
        other_provider,
    }
}

async fn put_json(
    c: &TestClient,
    path: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    json_of(c.http.put(c.url(path)).json(body).send().await.unwrap()).await
}

pub fn registratie(referentie: &str, bsn: &str, agb: &str) -> String {
    let gegeven = (Utc::now() - Duration::minutes(3)).format("%Y-%m-%dT%H:%M:%SZ");
    format!(
        "<Toestemmingsregistratie xmlns=\"{NS}\"><Referentie>{referentie}</Referentie><Patient><Bsn>{bsn}</Bsn><Geboortedatum>1980-01-02</Geboortedatum><Naam><Voorletters>A.</Voorletters><Achternaam>Jansen</Achternaam></Naam></Patient><AgbZorgaanbieder>{agb}</AgbZorgaanbieder><Toestemming>Ja</Toestemming><GegevenOp>{gegeven}</GegevenOp></Toestemmingsregistratie>"
    )
}

async fn post_xml(c: &TestClient, xml: String) -> (u16, serde_json::Value) {
    let resp = c
        .http
        .post(c.url("/api/v1/optin/registraties"))
        .header("content-type", "application/xml")
        .body(xml)
        .send()
        .await
        .unwrap();
    json_of(resp).await
}

fn stored(app: &TestApp) -> i64 {
    use machtigingen::db::schema::optin_registraties as r;
    r::table
        .count()
        .get_result(&mut *app.db.conn().unwrap())
        .unwrap()
}

fn outbox(app: &TestApp, recipient: &str) -> Vec<(String, String)> {
    use machtigingen::db::schema::terugkoppelingen as t;
    t::table
        .filter(t::recipient.eq(recipient))
        .order(t::id.asc())
        .select((t::event_type, t::subject_id))
        .load(&mut *app.db.conn().unwrap())
        .unwrap()
}

#[tokio::test]
async fn portal_to_provider_round_trip_over_rest() {
    let s = setup().await;
    let reference = format!("PORT-{}", random_suffix());
    let doc = registratie(&reference, "999999990", SUBSCRIBED);
    let (status, body) = post_xml(&s.portal, doc.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "NogNietVerwerkt");
    let id = body["registratieId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("OI") && id.len() == 34);

    // Idempotent: the same registration again gives the same id.
    let (status, again) = post_xml(&s.portal, doc).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["registratieId"], id.as_str());
    assert_eq!(again["herhaald"], true);
    // The same reference with other content is a conflict.
    let (status, conflict) =
        post_xml(&s.portal, registratie(&reference, "111222333", SUBSCRIBED)).await;
    assert_eq!(
        (status, conflict["code"].as_str()),
        (409, Some("DUP-001")),
        "{conflict}"
    );

    // The provider's push is in the outbox (the dispatcher delivers it).
    assert_eq!(
        outbox(&s.app, &format!("AGB:{SUBSCRIBED}")),
        [("optin.registratie".to_owned(), id.clone())]
    );

    // Pull: the registration comes until acknowledged.
    for _ in 0..2 {
        let (status, inbox) = s.provider.get_json("/api/v1/optin/inbox").await;
        assert_eq!(status, 200, "{inbox}");
        assert_eq!(inbox["registraties"][0]["registratieId"], id.as_str());
        assert_eq!(inbox["registraties"][0]["patient"]["bsn"], "999999990");
    }
    let (status, ack) = s
        .provider
        .post_json(
            "/api/v1/optin/inbox/ontvangst",
            &json!({"registratieIds": [id]}),
        )
        .await;
    assert_eq!((status, ack["bevestigd"].as_u64()), (200, Some(1)), "{ack}");
    let (_, inbox) = s.provider.get_json("/api/v1/optin/inbox").await;
    assert_eq!(inbox["registraties"], json!([]));

    // Handle: Afgewezen needs a reason; then the portal sees the outcome.
    let path = format!("/api/v1/optin/registraties/{id}/afhandeling");
    let (status, p) = s
        .provider
        .post_json(&path, &json!({"status": "Afgewezen"}))
        .await;
    assert_eq!((status, p["code"].as_str()), (422, Some("OPT-004")), "{p}");
    let (status, done) = s
        .provider
        .post_json(&path, &json!({"status": "Afgewezen", "redenCode": "GEGEVENS", "redenTekst": "Geboortedatum wijkt af van het dossier."}))
        .await;
    assert_eq!(
        (status, done["status"].as_str()),
        (200, Some("Afgewezen")),
        "{done}"
    );
    let (status, twice) = s
        .provider
        .post_json(&path, &json!({"status": "Verwerkt"}))
        .await;
    assert_eq!(
        (status, twice["code"].as_str()),
        (409, Some("STA-001")),
        "{twice}"
    );

    let (status, seen) = s
        .portal
        .get_json(&format!("/api/v1/optin/registraties/{id}"))
        .await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["status"], "Afgewezen");
    assert_eq!(seen["redenCode"], "GEGEVENS");
    let portal_ref = s.portal.get_json("/api/v1/whoami").await.1["partij"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        outbox(&s.app, &portal_ref),
        [("optin.status".to_owned(), id.clone())]
    );
    let (_, list) = s
        .portal
        .get_json("/api/v1/optin/registraties?status=Afgewezen")
        .await;
    assert_eq!(list["registraties"].as_array().unwrap().len(), 1);

    // Every access is audited; no BSN in the audit details.
    let audit =
        machtigingen::audit::for_object(&mut s.app.db.conn().unwrap(), "optin_registratie", &id)
            .unwrap();
    assert!(audit.len() >= 6, "{}", audit.len());
    assert!(audit.iter().all(|a| !a.detail.contains("999999990")));
}

#[tokio::test]
async fn refusals_are_coded_and_store_nothing() {
    let s = setup().await;
    // Not subscribed; invalid BSN; consent in the future; schema error.
    let (status, p) = post_xml(&s.portal, registratie("R-1", "999999990", NOT_SUBSCRIBED)).await;
    assert_eq!((status, p["code"].as_str()), (422, Some("OPT-001")), "{p}");
    let (status, p) = post_xml(&s.portal, registratie("R-2", "123456789", SUBSCRIBED)).await;
    assert_eq!((status, p["code"].as_str()), (422, Some("OPT-002")), "{p}");
    let future = registratie("R-3", "999999990", SUBSCRIBED).replace(
        &(Utc::now() - Duration::minutes(3))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
        "2099-01-01T00:00:00Z",
    );
    let (status, p) = post_xml(&s.portal, future).await;
    assert_eq!((status, p["code"].as_str()), (422, Some("OPT-003")), "{p}");
    let no_offset =
        registratie("R-4", "999999990", SUBSCRIBED).replace("Z</GegevenOp>", "</GegevenOp>");
    let (status, p) = post_xml(&s.portal, no_offset).await;
    assert_eq!((status, p["code"].as_str()), (400, Some("XSD-001")), "{p}");
    let (status, p) = post_xml(&s.portal, registratie("R-5", "99999999", SUBSCRIBED)).await;
    assert_eq!((status, p["code"].as_str()), (400, Some("XSD-001")), "{p}");
    assert!(
        p["findings"][0]["location"]
            .as_str()
            .unwrap()
            .contains("regel"),
        "{p}"
    );
    // A provider cannot register; a portal cannot subscribe or pull.
    let (status, p) = post_xml(&s.provider, registratie("R-6", "999999990", SUBSCRIBED)).await;
    assert_eq!((status, p["code"].as_str()), (403, Some("AUTZ-001")), "{p}");
    let (status, p) = put_json(&s.portal, "/api/v1/optin/abonnement", &json!({})).await;
    assert_eq!((status, p["code"].as_str()), (403, Some("AUTZ-001")), "{p}");
    assert_eq!(stored(&s.app), 0);

    // After unsubscribing, new registrations are refused.
    let (status, a) = json_of(
        s.provider
            .http
            .delete(s.provider.url("/api/v1/optin/abonnement"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, a["actief"].as_bool()), (200, Some(false)), "{a}");
    let (status, p) = post_xml(&s.portal, registratie("R-7", "999999990", SUBSCRIBED)).await;
    assert_eq!((status, p["code"].as_str()), (422, Some("OPT-001")), "{p}");
    assert_eq!(stored(&s.app), 0);
}

#[tokio::test]
async fn wrong_parties_cannot_read_or_handle() {
    let s = setup().await;
    let (_, body) = post_xml(
        &s.portal,
        registratie(&format!("R-{}", random_suffix()), "999999990", SUBSCRIBED),
    )
    .await;
    let id = body["registratieId"].as_str().unwrap().to_owned();
    let other_portal = {
        let p = s.app.party(
            PartyKind::Patientportaal,
            &format!("ander-{}", random_suffix()),
        );
        s.app.client(
            &s.app
                .issue(&p, CertKind::Systeem, &[Scope::OptinAanmelden], &[]),
        )
    };
    for c in [&other_portal, &s.other_provider] {
        let (status, p) = c
            .get_json(&format!("/api/v1/optin/registraties/{id}"))
            .await;
        assert_eq!((status, p["code"].as_str()), (404, Some("REQ-001")), "{p}");
    }
    let path = format!("/api/v1/optin/registraties/{id}/afhandeling");
    let (status, p) = s
        .other_provider
        .post_json(&path, &json!({"status": "Verwerkt"}))
        .await;
    assert_eq!((status, p["code"].as_str()), (404, Some("REQ-001")), "{p}");
    let (status, p) = s
        .portal
        .post_json(&path, &json!({"status": "Verwerkt"}))
        .await;
    assert_eq!((status, p["code"].as_str()), (403, Some("AUTZ-001")), "{p}");
    // The other provider's inbox is empty; acknowledging someone else's id does nothing.
    let (_, inbox) = s.other_provider.get_json("/api/v1/optin/inbox").await;
    assert_eq!(inbox["registraties"], json!([]));
    let (_, ack) = s
        .other_provider
        .post_json(
            "/api/v1/optin/inbox/ontvangst",
            &json!({"registratieIds": [id]}),
        )
        .await;
    assert_eq!(ack["bevestigd"], 0);
    let (_, inbox) = s.provider.get_json("/api/v1/optin/inbox").await;
    assert_eq!(inbox["registraties"].as_array().unwrap().len(), 1);
}

async fn call(c: &TestClient, v: Soap, op: &str, inner: &str) -> soap::Answer {
    soap::call(
        c,
        SOAP_PATH,
        v,
        NS,
        op,
        &format!("<{op} xmlns=\"{NS}\">{inner}</{op}>"),
    )
    .await
}

#[tokio::test]
async fn every_operation_over_soap_11_and_12() {
    let s = setup().await;
    for v in BOTH {
        let ans = call(&s.provider, v, "AanmeldenDienstOptin", "").await;
        assert_eq!(ans.text("Actief").as_deref(), Some("true"), "{}", ans.body);

        let reg = registratie(&format!("S-{}", random_suffix()), "999999990", SUBSCRIBED);
        let ans = call(&s.portal, v, "RegistrerenToestemming", &reg).await;
        assert_eq!(
            ans.text("Status").as_deref(),
            Some("NogNietVerwerkt"),
            "{}",
            ans.body
        );
        let id = ans.text("RegistratieId").unwrap();
        let again = call(&s.portal, v, "RegistrerenToestemming", &reg).await;
        assert_eq!(again.text("Herhaald").as_deref(), Some("true"));

        let ans = call(
            &s.provider,
            v,
            "OphalenToestemmingen",
            "<Maximum>10</Maximum>",
        )
        .await;
        assert_eq!(
            ans.texts("RegistratieId"),
            std::slice::from_ref(&id),
            "{}",
            ans.body
        );
        let ans = call(
            &s.provider,
            v,
            "BevestigenOntvangst",
            &format!("<RegistratieId>{id}</RegistratieId>"),
        )
        .await;
        assert_eq!(ans.text("Bevestigd").as_deref(), Some("1"), "{}", ans.body);

        let ans = call(
            &s.provider,
            v,
            "AfhandelenToestemming",
            &format!("<RegistratieId>{id}</RegistratieId><Afhandeling>Verwerkt</Afhandeling>"),
        )
        .await;
        assert_eq!(
            ans.text("Status").as_deref(),
            Some("Verwerkt"),
            "{}",
            ans.body
        );
        let ans = call(
            &s.portal,
            v,
            "RaadplegenToestemming",
            &format!("<RegistratieId>{id}</RegistratieId>"),
        )
        .await;
        assert_eq!(
            ans.text("Status").as_deref(),
            Some("Verwerkt"),
            "{}",
            ans.body
        );

        // Faults: BSN and not subscribed, as Client/Sender with the OPT code.
        let bad = call(
            &s.portal,
            v,
            "RegistrerenToestemming",
            &registratie("S-X", "123456789", SUBSCRIBED),
        )
        .await;
        assert_eq!(bad.fault_code().as_deref(), Some("OPT-002"), "{}", bad.body);
        let other = call(
            &s.portal,
            v,
            "RegistrerenToestemming",
            &registratie("S-Y", "999999990", NOT_SUBSCRIBED),
        )
        .await;
        assert_eq!(
            other.fault_code().as_deref(),
            Some("OPT-001"),
            "{}",
            other.body
        );
        let nosy = call(
            &s.other_provider,
            v,
            "RaadplegenToestemming",
            &format!("<RegistratieId>{id}</RegistratieId>"),
        )
        .await;
        assert_eq!(
            nosy.fault_code().as_deref(),
            Some("REQ-001"),
            "{}",
            nosy.body
        );

        let ans = call(&s.provider, v, "AfmeldenDienstOptin", "").await;
        assert_eq!(ans.text("Actief").as_deref(), Some("false"), "{}", ans.body);
    }
    assert_eq!(stored(&s.app), 2);
    let resp = s.portal.get(&format!("{SOAP_PATH}?wsdl")).await;
    let wsdl = resp.text().await.unwrap();
    assert!(
        wsdl.contains(&format!("{SOAP_PATH}?xsd=optin-v1.xsd")),
        "{wsdl}"
    );
}

#[tokio::test]
async fn push_reaches_the_provider_and_the_outcome_reaches_the_portal() {
    use crate::terugkoppeling_support as tk;
    let app = tk::app(r#"["0s", "200ms", "500ms"]"#).await;
    let p = app.party(
        PartyKind::Patientportaal,
        &format!("portaal-{}", random_suffix()),
    );
    let portal = app.client(&app.issue(
        &p,
        CertKind::Systeem,
        &[Scope::OptinAanmelden, Scope::TerugkoppelingBeheren],
        &[],
    ));
    let provider = app.provider(
        SUBSCRIBED,
        &[Scope::OptinAfhandelen, Scope::TerugkoppelingBeheren],
    );
    put_json(&provider, "/api/v1/optin/abonnement", &json!({})).await;
    let (provider_rx, portal_rx) = (tk::receiver(), tk::receiver());
    for (client, rx, event) in [
        (&provider, &provider_rx, "optin.registratie"),
        (&portal, &portal_rx, "optin.status"),
    ] {
        let body = json!({
            "url": format!("https://localhost:{}/optin", rx.addr.port()),
            "formaat": "json",
            "caBundle": tk::ca_pem(),
            "gebeurtenissen": [event],
        });
        let (status, v) = tk::put_abonnement(client, &body).await;
        assert_eq!(status, 200, "{v}");
        rx.set_secrets(vec![v["geheim"].as_str().unwrap().to_owned()]);
    }

    let (status, body) = post_xml(
        &portal,
        registratie(&format!("P-{}", random_suffix()), "999999990", SUBSCRIBED),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["registratieId"].as_str().unwrap().to_owned();
    let of_type = |rx: &machtigingen::receiver::Receiver, t: &str| -> Vec<serde_json::Value> {
        rx.received()
            .iter()
            .filter_map(|m| serde_json::from_str::<serde_json::Value>(&m.body).ok())
            .filter(|v| v["type"] == t)
            .collect()
    };
    assert!(
        crate::support::eventually(10, || async {
            !of_type(&provider_rx, "optin.registratie").is_empty()
        })
        .await,
        "provider got no push"
    );
    let pushed = &of_type(&provider_rx, "optin.registratie")[0];
    assert_eq!(pushed["data"]["registratieId"], id.as_str());
    assert_eq!(pushed["data"]["patient"]["bsn"], "999999990");

    let (status, _) = provider
        .post_json(
            &format!("/api/v1/optin/registraties/{id}/afhandeling"),
            &json!({"status": "Verwerkt"}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        crate::support::eventually(10, || async {
            !of_type(&portal_rx, "optin.status").is_empty()
        })
        .await,
        "portal got no push"
    );
    let outcome = &of_type(&portal_rx, "optin.status")[0];
    assert_eq!(outcome["data"]["status"], "Verwerkt");
    assert!(
        !outcome.to_string().contains("999999990"),
        "BSN pushed to the portal"
    );
}

/// serde's derive reads a struct from an array of its fields in order; the
/// OpenAPI document says every body is an object, so an array is refused
/// (schemathesis's negative_data_rejection found `["…"]` accepted here).
#[tokio::test]
async fn a_json_body_that_is_not_an_object_is_refused() {
    let s = setup().await;
    for body in [json!(["ander@praktijk.example"]), json!([null]), json!("x")] {
        let (status, problem) = put_json(&s.provider, "/api/v1/optin/abonnement", &body).await;
        assert_eq!(status, 400, "{body}: {problem}");
        assert_eq!(problem["code"], "REQ-004", "{problem}");
    }
    let (status, now) = json_of(s.provider.get("/api/v1/optin/abonnement").await).await;
    assert_eq!(status, 200);
    assert_eq!(
        now["notificatieEmail"], "optin@praktijk.example",
        "unchanged: {now}"
    );
}
