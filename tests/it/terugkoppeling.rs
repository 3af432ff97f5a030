//! Callback registration, signatures, the reference receiver, SSRF rules,
//! the SOAP format against its XSD, the delivery log, and pull with
//! acknowledgement — against a real server and a real receiver over mTLS.

use machtigingen::dispatch::render::{self, Body, Message};
use machtigingen::dispatch::signature;
use machtigingen::machtiging::model::Status;
use machtigingen::outbox::event::v1::{
    Beslissing, Naam, OptinRegistratie, Patient, ToegekendePrestatie, Vraag,
};
use machtigingen::outbox::{Event, MACHTIGING_STATUS};
use machtigingen::registry::Scope;
use machtigingen::validation::xsd::{self, SchemaSet};
use serde_json::json;

use crate::support::{TestApp, eventually, pki};
use crate::terugkoppeling_support::*;

#[tokio::test]
async fn registration_verifies_then_delivers_signed_over_mtls() {
    let app = app(r#"["0s", "200ms", "500ms"]"#).await;
    let client = provider(&app);
    let r = receiver();
    let body = json!({
        "url": format!("https://localhost:{}/cb", r.addr.port()),
        "formaat": "json",
        "caBundle": ca_pem(),
        "gebeurtenissen": ["machtiging.status"],
    });
    // The receiver does not know the new secret yet: verification fails, is
    // reported, and the registration stands.
    let (status, v) = put_abonnement(&client, &body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["verificatie"]["geslaagd"], false, "{v}");
    assert_eq!(v["verificatie"]["httpStatus"], 401, "{v}");
    let secret = v["geheim"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    r.set_secrets(vec![secret.clone()]);
    // Registering again keeps the secret and now verifies.
    let (status, v) = put_abonnement(&client, &body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["geheim"], secret.as_str());
    assert_eq!(v["verificatie"]["geslaagd"], true, "{v}");
    assert!(
        v["verificatie"]["webhookId"]
            .as_str()
            .unwrap()
            .starts_with("TKV")
    );
    assert_eq!(r.received().len(), 1, "the verification call arrived");

    let (s, g) = client.get_json("/api/v1/terugkoppeling/abonnement").await;
    assert_eq!(s, 200);
    assert_eq!(g["status"], "actief");
    assert!(g.get("geheim").is_none(), "GET never shows the secret");

    let id = enqueue(&app, "MA-1", "REF-1");
    assert!(eventually(10, || async { r.received().len() == 2 }).await);
    let m = r.received().pop().unwrap();
    assert_eq!(m.webhook_id, id);
    assert_eq!(m.content_type, "application/json");
    let v: serde_json::Value = serde_json::from_str(&m.body).unwrap();
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["type"], MACHTIGING_STATUS);
    assert_eq!(v["data"]["referentie"], "REF-1");
    assert_eq!(v["data"]["status"], "InBehandeling");

    // The receiver has it before the dispatcher has recorded the answer.
    let recorded = eventually(5, || async {
        detail(&client, &id).await["afleveringen"][0]["status"] == "afgeleverd"
    })
    .await;
    assert!(recorded);
    let d = detail(&client, &id).await;
    assert_eq!(d["afleveringen"][0]["log"][0]["httpStatus"], 200, "{d}");
    assert!(d["afleveringen"][0]["log"][0]["latentieMs"].is_number());

    let metrics = crate::ops::scrape(&app).await;
    assert!(
        metrics.contains("machtigingen_terugkoppeling_delivered_total"),
        "{metrics}"
    );
    assert!(metrics.contains("machtigingen_terugkoppeling_queue_depth"));
}

#[tokio::test]
async fn receiver_refuses_forged_signatures_and_callers_without_certificate() {
    let secret = signature::new_secret().unwrap();
    let r = receiver_on("127.0.0.1:0", vec![secret.clone()]);
    let url = format!("https://localhost:{}/cb", r.addr.port());
    let ca = reqwest::Certificate::from_pem(ca_pem().as_bytes()).unwrap();
    let (_, _, platform) = platform_client();
    let with_cert = reqwest::Client::builder()
        .tls_backend_native()
        .tls_certs_only([ca.clone()])
        .identity(
            reqwest::Identity::from_pkcs8_pem(&platform.cert_pem(), &platform.key_pem()).unwrap(),
        )
        .build()
        .unwrap();
    let ts = chrono::Utc::now().timestamp();
    let body = br#"{"id":"TK00","type":"machtiging.status"}"#.to_vec();
    let send = |sig: String, body: Vec<u8>| {
        with_cert
            .post(&url)
            .header("webhook-id", "TK00")
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(body)
            .send()
    };
    let forged = signature::sign(&signature::new_secret().unwrap(), "TK00", ts, &body).unwrap();
    assert_eq!(send(forged, body.clone()).await.unwrap().status(), 401);
    let good = signature::sign(&secret, "TK00", ts, &body).unwrap();
    assert_eq!(
        send(good.clone(), b"tampered".to_vec())
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        send(good.clone(), body.clone()).await.unwrap().status(),
        200
    );
    // A repeat is acknowledged but not recorded twice.
    assert_eq!(send(good, body.clone()).await.unwrap().status(), 200);
    assert_eq!(r.received().len(), 1);
    assert_eq!(r.duplicates(), 1);

    let without_cert = reqwest::Client::builder()
        .tls_backend_native()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let res = without_cert.post(&url).body(body).send().await;
    assert!(
        res.is_err(),
        "a caller without client certificate must not get through"
    );
}

#[tokio::test]
async fn registrations_are_checked_and_internal_addresses_refused() {
    // No allow-list here: the production rules apply.
    let app = TestApp::spawn().await;
    let client = provider(&app);
    let cases = [
        (
            json!({"url": "https://localhost:9/", "formaat": "json"}),
            422,
            "TKP-002",
        ),
        (
            json!({"url": "https://127.0.0.1/", "formaat": "json"}),
            422,
            "TKP-002",
        ),
        (
            json!({"url": "https://10.1.2.3/", "formaat": "json"}),
            422,
            "TKP-002",
        ),
        (
            json!({"url": "https://169.254.169.254/latest", "formaat": "json"}),
            422,
            "TKP-002",
        ),
        (
            json!({"url": "https://[::1]/", "formaat": "json"}),
            422,
            "TKP-002",
        ),
        (
            json!({"url": "https://0.0.0.0/", "formaat": "json"}),
            422,
            "TKP-002",
        ),
        (
            json!({"url": "http://zorg.example.nl/", "formaat": "json"}),
            400,
            "TKP-001",
        ),
        (
            json!({"url": "https://u:p@zorg.example.nl/", "formaat": "json"}),
            400,
            "TKP-001",
        ),
        (
            json!({"url": "https://8.8.8.8/", "formaat": "xml"}),
            400,
            "TKP-004",
        ),
        (
            json!({"url": "https://8.8.8.8/", "formaat": "json", "gebeurtenissen": ["x.y"]}),
            400,
            "TKP-004",
        ),
        (
            json!({"url": "https://8.8.8.8/", "formaat": "json", "caBundle": "not pem"}),
            400,
            "TKP-003",
        ),
    ];
    for (body, status, code) in cases {
        let (s, v) = put_abonnement(&client, &body).await;
        assert_eq!(
            (s, v["code"].as_str().unwrap_or("")),
            (status, code),
            "{body}: {v}"
        );
    }
    let (s, _) = client.get_json("/api/v1/terugkoppeling/abonnement").await;
    assert_eq!(s, 404, "nothing was stored");

    let reader = app.provider("06123456", &[Scope::MachtigingenRaadplegen]);
    let (s, v) = put_abonnement(
        &reader,
        &json!({"url": "https://8.8.8.8/", "formaat": "json"}),
    )
    .await;
    assert_eq!((s, v["code"].as_str().unwrap()), (403, "AUTZ-001"));
    let (s, v) = client
        .post_json("/api/v1/terugkoppeling/abonnement/geheim", &json!({}))
        .await;
    assert_eq!((s, v["code"].as_str().unwrap()), (409, "TKP-005"));
}

fn rich_payload() -> Event {
    let mut p = status_payload("REF-42", Status::DeelsToegekend);
    p.beslissing = Some(Beslissing {
        uitkomst: "DeelsToegekend".into(),
        machtigingsnummer: Some("M2026X001".into()),
        geldig_van: chrono::NaiveDate::from_ymd_opt(2026, 1, 1),
        geldig_tot: chrono::NaiveDate::from_ymd_opt(2026, 12, 31),
        toegekende_prestaties: vec![ToegekendePrestatie {
            code: "P001".into(),
            aantal: 3,
            bedrag_centen: Some(12_345),
        }],
        reden_code: Some("R1".into()),
        reden_tekst: Some("Deels: <maximaal> drie & niet meer".into()),
        automatisch: false,
        tijdstip: machtigingen::db::now(),
        herziening: None,
    });
    p.vragen = vec![Vraag {
        vraag_id: "V1".into(),
        tekst: "Welke diagnose?".into(),
    }];
    Event::MachtigingStatus(p)
}

fn registration_payload() -> Event {
    Event::OptinRegistratie(OptinRegistratie {
        agb_zorgaanbieder: AGB.into(),
        gegeven_op: machtigingen::db::now(),
        ontvangen_op: machtigingen::db::now(),
        patient: Patient {
            bsn: "999999990".into(),
            geboortedatum: chrono::NaiveDate::from_ymd_opt(1980, 1, 2).unwrap(),
            naam: Naam {
                achternaam: "Jansen".into(),
                tussenvoegsel: None,
                voorletters: None,
            },
        },
        registratie_id: format!("OI{}", "0".repeat(32)).parse().unwrap(),
        status: "NogNietVerwerkt".into(),
        toestemming: "Ja".into(),
    })
}

/// A grant the insurer shortened: the revision inside the decision.
fn revised_payload() -> Event {
    let Event::MachtigingStatus(mut p) = rich_payload() else {
        unreachable!()
    };
    if let Some(b) = p.beslissing.as_mut() {
        b.herziening = Some(machtigingen::outbox::event::v1::Herziening {
            ingangsdatum: None,
            reden_code: "KORTER".into(),
            reden_tekst: "Minder <nodig> & korter".into(),
            soort: "Inkorting".into(),
            tijdstip: machtigingen::db::now(),
            vorige_geldig_tot: chrono::NaiveDate::from_ymd_opt(2027, 6, 30),
        });
    }
    p.vragen = Vec::new();
    Event::MachtigingStatus(p)
}

#[test]
fn soap_rendering_validates_against_the_callback_xsd() {
    let events = [
        rich_payload(),
        revised_payload(),
        Event::MachtigingStatus(status_payload("R", Status::Ingediend)),
        registration_payload(),
    ];
    let bodies = events.iter().map(Body::Event).chain([Body::Verificatie {
        partij: "AGB:03123456",
    }]);
    // To its own recipient, and to a vendor serving the provider (naming it).
    for (body, zorgaanbieder) in bodies.flat_map(|b| [(b, None), (b, Some("03123456"))]) {
        let m = Message {
            id: "TK0123456789abcdef0123456789abcdef",
            created_at: machtigingen::db::now(),
            body,
            zorgaanbieder,
        };
        let event_type = m.event_type();
        let op = render::soap_operation(&m).unwrap();
        let doc = xsd::parse(&op).unwrap();
        let root = doc.get_root_element().unwrap();
        xsd::validate(SchemaSet::Terugkoppeling, &root)
            .unwrap_or_else(|p| panic!("{event_type}: {p:?}\n{}", String::from_utf8_lossy(&op)));
        // The envelope is well-formed and carries the same operation.
        let env = render::soap(&m).unwrap();
        let text = String::from_utf8(env).unwrap();
        assert!(
            text.contains(
                "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">"
            )
        );
        assert!(text.contains(std::str::from_utf8(&op).unwrap()));
        xsd::parse(text.as_bytes()).unwrap();
    }
}

#[tokio::test]
async fn soap_format_is_delivered_as_a_soap_envelope() {
    let app = app(r#"["0s", "200ms"]"#).await;
    let client = provider(&app);
    let r = receiver();
    register(&client, &r, "soap").await;
    let mut conn = app.db.conn().unwrap();
    let id = machtigingen::outbox::record(
        &mut conn,
        &format!("AGB:{AGB}").parse().unwrap(),
        &rich_payload(),
    )
    .unwrap()
    .unwrap();
    drop(conn);
    assert!(
        eventually(10, || async {
            r.received().iter().any(|m| m.webhook_id == id.as_str())
        })
        .await
    );
    let m = r
        .received()
        .into_iter()
        .find(|m| m.webhook_id == id.as_str())
        .unwrap();
    assert!(m.content_type.starts_with("text/xml"), "{}", m.content_type);
    assert!(
        m.body
            .contains("<OntvangenTerugkoppeling xmlns=\"urn:machtigingen:terugkoppeling:v1\">")
    );
    assert!(m.body.contains("<Bedrag>123.45</Bedrag>"));
    assert!(m.body.contains("&lt;maximaal&gt; drie &amp; niet meer"));
}

#[tokio::test]
async fn rotation_signs_with_both_secrets_during_the_grace_period() {
    let app = app(r#"["0s", "200ms", "500ms"]"#).await;
    let client = provider(&app);
    let r = receiver();
    let old = register(&client, &r, "json").await;
    let (s, v) = client
        .post_json("/api/v1/terugkoppeling/abonnement/geheim", &json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    let new = v["geheim"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(v["vorigGeheimGeldigTot"].is_string());
    // A receiver still on the old secret keeps accepting …
    let a = enqueue(&app, "MA-r", "R-1");
    assert!(
        eventually(10, || async {
            r.received().iter().any(|m| m.webhook_id == a)
        })
        .await
    );
    // … and one already on the new secret too.
    r.set_secrets(vec![new]);
    let b = enqueue(&app, "MA-r", "R-2");
    assert!(
        eventually(10, || async {
            r.received().iter().any(|m| m.webhook_id == b)
        })
        .await
    );
}

#[tokio::test]
async fn pull_and_acknowledge_show_only_the_callers_own() {
    let app = app(r#"["0s"]"#).await;
    let client = provider(&app);
    app.provider("06999999", &[Scope::MachtigingenRaadplegen]);
    let mine: Vec<String> = (1..=3)
        .map(|i| enqueue(&app, "MA-p", &format!("P-{i}")))
        .collect();
    let other = enqueue_for(&app, "AGB:06999999", "MA-o", "O-1");

    let (s, v) = client.get_json("/api/v1/terugkoppeling/berichten").await;
    assert_eq!(s, 200, "{v}");
    let ids: Vec<&str> = v["berichten"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, mine.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(v["berichten"][0]["data"]["referentie"], "P-1");

    let (s, a) = client
        .post_json(
            "/api/v1/terugkoppeling/berichten/bevestiging",
            &json!({"ids": [mine[0], other]}),
        )
        .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["bevestigd"], 1);
    assert_eq!(a["onbekend"], json!([other]));

    let (_, v) = client.get_json("/api/v1/terugkoppeling/berichten").await;
    assert_eq!(v["berichten"].as_array().unwrap().len(), 2);
    let first = v["berichten"][0]["volgnummer"].as_i64().unwrap();
    let (_, v) = client
        .get_json(&format!("/api/v1/terugkoppeling/berichten?na={first}"))
        .await;
    assert_eq!(v["berichten"].as_array().unwrap().len(), 1);
    let (_, v) = client
        .get_json("/api/v1/terugkoppeling/berichten?alle=true")
        .await;
    assert_eq!(v["berichten"].as_array().unwrap().len(), 3);
    assert!(v["berichten"][0]["bevestigdOp"].is_string());

    let (s, _) = client
        .get_json(&format!("/api/v1/terugkoppeling/berichten/{other}"))
        .await;
    assert_eq!(s, 404, "another party's terugkoppeling is invisible");
    let _ = pki();
}

#[tokio::test]
async fn registration_and_pull_over_soap_11_and_12() {
    use crate::support::soap::{self, BOTH};
    const NS: &str = "urn:machtigingen:terugkoppelingbeheer:v1";
    const PATH: &str = "/soap/terugkoppelingbeheer/v1";
    use crate::terugkoppeling_support as tk;
    let call = |c: crate::support::TestClient, v, op: &'static str, inner: String| async move {
        soap::call(
            &c,
            PATH,
            v,
            NS,
            op,
            &format!("<{op} xmlns=\"{NS}\">{inner}</{op}>"),
        )
        .await
    };
    let app = tk::app(r#"["0s"]"#).await;
    let provider = tk::provider(&app);
    let rx = tk::receiver();
    for v in BOTH {
        let ca = quick_xml::escape::escape(tk::ca_pem()).into_owned();
        let ans = call(
            provider.clone(),
            v,
            "RegistrerenAbonnement",
            format!("<Url>https://localhost:{}/tk</Url><Formaat>soap</Formaat><CaBundle>{ca}</CaBundle>", rx.addr.port()),
        )
        .await;
        assert!(!ans.is_fault(), "{}", ans.body);
        assert!(ans.text("Geheim").unwrap().starts_with("whsec_"));
        let ans = call(provider.clone(), v, "RoterenGeheim", String::new()).await;
        assert!(ans.text("VorigGeheimGeldigTot").is_some(), "{}", ans.body);

        let subject = format!("MA{}", "0".repeat(32));
        let id = tk::enqueue(&app, &subject, "SOAP-PULL");
        let ans = call(
            provider.clone(),
            v,
            "OphalenTerugkoppelingen",
            "<Maximum>500</Maximum>".into(),
        )
        .await;
        assert!(ans.texts("TerugkoppelingId").contains(&id), "{}", ans.body);
        let ans = call(provider.clone(), v, "BevestigenTerugkoppelingen", format!("<TerugkoppelingId>{id}</TerugkoppelingId><TerugkoppelingId>TKonbekend</TerugkoppelingId>")).await;
        assert_eq!(ans.text("Bevestigd").as_deref(), Some("1"), "{}", ans.body);
        assert_eq!(ans.texts("Onbekend"), ["TKonbekend"]);
        let ans = call(
            provider.clone(),
            v,
            "OphalenTerugkoppelingen",
            String::new(),
        )
        .await;
        assert!(!ans.texts("TerugkoppelingId").contains(&id));

        // SSRF: an internal address outside the allow-list is refused.
        let f = call(
            provider.clone(),
            v,
            "RegistrerenAbonnement",
            "<Url>https://10.1.2.3/tk</Url><Formaat>json</Formaat>".into(),
        )
        .await;
        assert_eq!(f.fault_code().as_deref(), Some("TKP-002"), "{}", f.body);
        let ans = call(provider.clone(), v, "OpzeggenAbonnement", String::new()).await;
        assert_eq!(
            ans.text("Opgezegd").as_deref(),
            Some("true"),
            "{}",
            ans.body
        );
    }
}
