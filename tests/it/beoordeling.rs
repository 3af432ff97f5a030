//! The insurer side through the real mTLS server: inbox with acknowledge,
//! decisions and their terugkoppelingen, isolation between insurers,
//! automatic rules and the validity check (the retention purge: retention.rs).

use std::collections::HashSet;

use diesel::prelude::*;
use machtigingen::registry::{CertKind, PartyKind, Scope};
use serde_json::json;

use crate::fixtures::{
    self, Aanvraag, app_with_provider, beoordeling, days, insurer, post_xml, submit,
};
use crate::support::{TestApp, TestClient, json_of};

const BASE: &str = "/api/v1/beoordeling";

fn decision_path(id: &str) -> String {
    format!("{BASE}/machtigingsaanvragen/{id}/beoordeling")
}

async fn decide(c: &TestClient, id: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    c.post_json(&decision_path(id), &body).await
}

/// (event type, subject, status) of the provider's terugkoppelingen, in order.
fn terugkoppelingen(app: &TestApp, agb: &str) -> Vec<(String, String)> {
    use machtigingen::db::schema::terugkoppelingen as t;
    let rows: Vec<(String, String)> = t::table
        .filter(t::recipient.eq(format!("AGB:{agb}")))
        .order(t::id.asc())
        .select((t::subject_id, t::payload))
        .load(&mut *app.db.conn().unwrap())
        .unwrap();
    rows.into_iter()
        .map(|(s, p)| {
            let v: serde_json::Value = serde_json::from_str(&p).unwrap();
            (s, v["status"].as_str().unwrap().to_owned())
        })
        .collect()
}

#[tokio::test]
async fn round_trip_from_submission_to_granted_machtiging() {
    let (app, provider) = app_with_provider().await;
    let ins = insurer(&app);
    let doc = Aanvraag::default();
    let id = submit(&provider, &doc).await;

    // The inbox shows it until acknowledged.
    for _ in 0..2 {
        let (status, inbox) = ins.get_json(&format!("{BASE}/inbox")).await;
        assert_eq!(status, 200, "{inbox}");
        assert_eq!(inbox["items"][0]["machtigingsaanvraagId"], id.as_str());
        assert_eq!(inbox["items"][0]["status"], "Ingediend");
    }
    let (_, inbox) = ins.get_json(&format!("{BASE}/inbox")).await;
    let inbox_id = inbox["items"][0]["inboxId"].as_i64().unwrap();
    let (_, ack) = ins
        .post_json(
            &format!("{BASE}/inbox/ontvangst"),
            &json!({"inboxIds": [inbox_id]}),
        )
        .await;
    assert_eq!(ack["bevestigd"], 1);
    let (_, inbox) = ins.get_json(&format!("{BASE}/inbox")).await;
    assert_eq!(inbox["items"], json!([]));

    // The dossier has the document as submitted.
    let (status, d) = ins
        .get_json(&format!("{BASE}/machtigingsaanvragen/{id}"))
        .await;
    assert_eq!(status, 200, "{d}");
    assert!(d["document"].as_str().unwrap().contains(&doc.referentie));
    assert_eq!(d["machtigingsaanvraag"]["verzekerde"]["bsn"], "999999990");

    assert_eq!(decide(&ins, &id, beoordeling("InBehandeling")).await.0, 200);
    assert_eq!(
        decide(&ins, &id, beoordeling("AanvullendeInformatieGevraagd"))
            .await
            .0,
        200
    );
    let (_, seen) = provider
        .get_json(&format!("/api/v1/machtigingsaanvragen/{id}"))
        .await;
    assert_eq!(seen["openVragen"][0]["vraagId"], "FOTO-ZIJ", "{seen}");

    let info =
        fixtures::aanvulling_element(&[("GRADEN", "30")], Some("Foto van opzij bijgevoegd."));
    let (status, body) = post_xml(
        &provider,
        &format!("/api/v1/machtigingsaanvragen/{id}/aanvullende-informatie"),
        &info,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, inbox) = ins.get_json(&format!("{BASE}/inbox")).await;
    assert_eq!(
        inbox["items"][0]["soort"], "aanvullendeInformatie",
        "{inbox}"
    );

    let (status, granted) = decide(&ins, &id, beoordeling("Toegekend")).await;
    assert_eq!(status, 200, "{granted}");
    let number = granted["beslissing"]["machtigingsnummer"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(number.len() <= 15 && number.chars().all(|c| c.is_ascii_alphanumeric()));

    let (_, seen) = provider
        .get_json(&format!("/api/v1/machtigingsaanvragen/{id}"))
        .await;
    assert_eq!(seen["status"], "Toegekend");
    assert_eq!(seen["beslissing"]["machtigingsnummer"], number.as_str());
    assert_eq!(
        seen["beslissing"]["toegekendePrestaties"][0]["code"],
        "DBC-OOGLID"
    );
    // One terugkoppeling per insurer-caused change, in order.
    let statuses: Vec<String> = terugkoppelingen(&app, "03123456")
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(
        statuses,
        [
            "InBehandeling",
            "AanvullendeInformatieGevraagd",
            "Toegekend"
        ]
    );

    // The validity check, for the provider and for the insurer.
    let check = |c: TestClient, bsn: &str, prestatie: &str, datum: chrono::NaiveDate| {
        let body = json!({"uzovi": "3311", "machtigingsnummer": number, "bsn": bsn, "prestatie": prestatie, "datum": datum});
        async move { c.post_json("/api/v1/machtigingen/controle", &body).await.1 }
    };
    let yes = check(provider.clone(), "999999990", "DBC-OOGLID", days(30)).await;
    assert_eq!(
        (yes["geldig"].as_bool(), yes["redenCode"].as_str()),
        (Some(true), Some("GELDIG")),
        "{yes}"
    );
    assert_eq!(
        check(ins.clone(), "999999990", "DBC-OOGLID", days(30)).await["geldig"],
        true
    );
    assert_eq!(
        check(provider.clone(), "111222333", "DBC-OOGLID", days(30)).await["redenCode"],
        "ANDERE_VERZEKERDE"
    );
    assert_eq!(
        check(provider.clone(), "999999990", "DBC-ANDERS", days(30)).await["redenCode"],
        "PRESTATIE_NIET_TOEGEKEND"
    );
    assert_eq!(
        check(provider.clone(), "999999990", "DBC-OOGLID", days(400)).await["redenCode"],
        "BUITEN_GELDIGHEIDSPERIODE"
    );
    let stranger = app.provider("03999998", &[Scope::MachtigingenRaadplegen]);
    assert_eq!(
        check(stranger, "999999990", "DBC-OOGLID", days(30)).await["redenCode"],
        "ONBEKEND"
    );
}

#[tokio::test]
async fn inbox_never_skips_or_duplicates_under_concurrent_submissions() {
    let app = TestApp::spawn().await;
    fixtures::load_sample_catalog(&app);
    let ins = insurer(&app);
    let providers: Vec<(String, TestClient)> = ["03100001", "03100002", "03100003"]
        .iter()
        .map(|agb| {
            (
                (*agb).to_owned(),
                app.provider(agb, &[Scope::MachtigingenIndienen]),
            )
        })
        .collect();
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (agb, client) = providers[i % 3].clone();
        tasks.push(tokio::spawn(async move {
            let doc = Aanvraag {
                agb,
                ..Default::default()
            };
            submit(&client, &doc).await
        }));
    }
    // Pull and acknowledge in small batches while submissions still land.
    let mut seen: Vec<String> = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while seen.len() < 24 && std::time::Instant::now() < deadline {
        let (_, inbox) = ins.get_json(&format!("{BASE}/inbox?maximum=5")).await;
        let items = inbox["items"].as_array().unwrap().clone();
        let ids: Vec<i64> = items
            .iter()
            .map(|i| i["inboxId"].as_i64().unwrap())
            .collect();
        seen.extend(
            items
                .iter()
                .map(|i| i["machtigingsaanvraagId"].as_str().unwrap().to_owned()),
        );
        if !ids.is_empty() {
            ins.post_json(
                &format!("{BASE}/inbox/ontvangst"),
                &json!({"inboxIds": ids}),
            )
            .await;
        }
    }
    let mut submitted = HashSet::new();
    for t in tasks {
        submitted.insert(t.await.unwrap());
    }
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "duplicates in acknowledged batches"
    );
    assert_eq!(unique, submitted);
}

#[tokio::test]
async fn insurers_are_isolated_and_transitions_are_guarded() {
    let (app, provider) = app_with_provider().await;
    let ins = insurer(&app);
    let id = submit(&provider, &Aanvraag::default()).await;
    let other = app.client(&app.issue(
        &app.party(PartyKind::Zorgverzekeraar, "3312"),
        CertKind::Systeem,
        &[Scope::Beoordelen],
        &[],
    ));
    let (status, p) = other
        .get_json(&format!("{BASE}/machtigingsaanvragen/{id}"))
        .await;
    assert_eq!((status, p["code"].as_str()), (404, Some("REQ-001")));
    let (status, _) = decide(&other, &id, beoordeling("Toegekend")).await;
    assert_eq!(status, 404);
    let (_, inbox) = other.get_json(&format!("{BASE}/inbox")).await;
    assert_eq!(inbox["items"], json!([]));
    let (status, p) = provider.get_json(&format!("{BASE}/inbox")).await;
    assert_eq!((status, p["code"].as_str()), (403, Some("AUTZ-001")));

    // Invalid decisions, each with its finding; nothing changes.
    for (body, code) in [
        (json!({"status": "Afgewezen"}), "BEO-001"),
        (
            json!({"status": "Toegekend", "geldigVan": days(10), "geldigTot": days(1)}),
            "BEO-001",
        ),
        (
            json!({"status": "DeelsToegekend", "geldigVan": days(1), "geldigTot": days(9), "toegekendePrestaties": [{"code": "DBC-ANDERS", "aantal": 1}]}),
            "BEO-001",
        ),
        (
            json!({"status": "Toegekend", "geldigVan": days(1), "geldigTot": days(9), "toegekendePrestaties": [{"code": "DBC-OOGLID", "aantal": 5}]}),
            "BEO-001",
        ),
        (
            json!({"status": "AanvullendeInformatieGevraagd", "vragen": []}),
            "BEO-001",
        ),
        (json!({"status": "Ingetrokken"}), "REQ-004"),
    ] {
        let (status, p) = decide(&ins, &id, body.clone()).await;
        assert_eq!(p["code"], code, "{body}: {status} {p}");
    }
    // A given Machtigingsnummer is unique per insurer.
    let (status, _) = decide(&ins, &id, json!({"status": "Toegekend", "geldigVan": days(1), "geldigTot": days(9), "machtigingsnummer": "M3311X1"})).await;
    assert_eq!(status, 200);
    let second = submit(&provider, &Aanvraag::default()).await;
    let (status, p) = decide(&ins, &second, json!({"status": "Toegekend", "geldigVan": days(1), "geldigTot": days(9), "machtigingsnummer": "M3311X1"})).await;
    assert_eq!((status, p["code"].as_str()), (409, Some("BEO-002")), "{p}");
    // Decided is final; withdrawn cannot be decided.
    let (status, p) = decide(&ins, &id, beoordeling("Afgewezen")).await;
    assert_eq!((status, p["code"].as_str()), (409, Some("STA-001")));
    provider
        .post_json(
            &format!("/api/v1/machtigingsaanvragen/{second}/intrekking"),
            &json!({}),
        )
        .await;
    let (status, p) = decide(&ins, &second, beoordeling("InBehandeling")).await;
    assert_eq!((status, p["code"].as_str()), (409, Some("STA-001")));
    assert!(p["detail"].as_str().unwrap().contains("ingetrokken"), "{p}");
}

pub fn catalog_with_rules() -> serde_json::Value {
    let file: serde_json::Value =
        serde_json::from_str(include_str!("../../docs/examples/catalogus.json")).unwrap();
    let mut cat = file["verzekeraars"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["uzovi"] == "3311")
        .unwrap()
        .clone();
    for v in cat["verstrekkingen"].as_array_mut().unwrap() {
        if v["code"] == "PLAST-OOGLID" {
            v["regels"] = json!([
                {"uitkomst": "afwijzen", "zorgverlenersoorten": ["06"], "redenCode": "SOORT", "redenTekst": "Aan te vragen door de medisch specialist."},
                {"uitkomst": "toekennen", "maxTotaalAantal": 1, "zorgverlenersoorten": ["03"], "geldigMaanden": 3}
            ]);
        }
    }
    cat
}

#[tokio::test]
async fn automatic_rules_decide_in_the_submit_response() {
    let (app, provider) = app_with_provider().await;
    let ins = insurer(&app);
    let put = |body: serde_json::Value| {
        let ins = ins.clone();
        async move {
            json_of(
                ins.http
                    .put(ins.url(&format!("{BASE}/catalogus")))
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (status, c) = put(catalog_with_rules()).await;
    assert_eq!(status, 200, "{c}");
    let mut foreign = catalog_with_rules();
    foreign["uzovi"] = json!("3312");
    assert_eq!(put(foreign).await.1["code"], "BEO-004");

    // Grant: within the amount and provider type.
    let (status, body) = post_xml(
        &provider,
        "/api/v1/machtigingsaanvragen",
        &Aanvraag::default().xml(),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (201, Some("Toegekend")),
        "{body}"
    );
    assert_eq!(body["beslissing"]["automatisch"], true);
    assert!(body["beslissing"]["machtigingsnummer"].is_string());
    let granted_id = body["machtigingsaanvraagId"].as_str().unwrap().to_owned();
    // Reject: provider type 06.
    let oog = app.provider("06123456", &[Scope::MachtigingenIndienen]);
    let (_, body) = post_xml(
        &oog,
        "/api/v1/machtigingsaanvragen",
        &Aanvraag {
            agb: "06123456".into(),
            ..Default::default()
        }
        .xml(),
    )
    .await;
    assert_eq!(body["status"], "Afgewezen", "{body}");
    assert_eq!(body["beslissing"]["redenCode"], "SOORT");
    // No rule matches: left to the insurer.
    let (_, body) = post_xml(
        &provider,
        "/api/v1/machtigingsaanvragen",
        &Aanvraag {
            prestaties: vec![("DBC-OOGLID".into(), 2)],
            ..Default::default()
        }
        .xml(),
    )
    .await;
    assert_eq!(body["status"], "Ingediend", "{body}");
    assert!(body.get("beslissing").is_none());
    // The automatic decision has its terugkoppeling like a manual one.
    assert!(terugkoppelingen(&app, "03123456").contains(&(granted_id, "Toegekend".to_owned())));
}

async fn soap_call(
    c: &TestClient,
    v: crate::support::soap::Soap,
    op: &str,
    inner: &str,
) -> crate::support::soap::Answer {
    const NS: &str = "urn:machtigingen:beoordeling:v1";
    crate::support::soap::call(
        c,
        "/soap/beoordeling/v1",
        v,
        NS,
        op,
        &format!("<{op} xmlns=\"{NS}\">{inner}</{op}>"),
    )
    .await
}

#[tokio::test]
async fn every_insurer_operation_over_soap_11_and_12() {
    use crate::support::soap::BOTH;
    let (app, provider) = app_with_provider().await;
    let ins = insurer(&app);
    for v in BOTH {
        let id = submit(&provider, &Aanvraag::default()).await;
        let inbox = soap_call(&ins, v, "OphalenInbox", "<Maximum>500</Maximum>").await;
        assert!(
            inbox.texts("MachtigingsaanvraagId").contains(&id),
            "{}",
            inbox.body
        );
        let ids: Vec<String> = inbox.texts("InboxId");
        let ack: String = ids
            .iter()
            .map(|i| format!("<InboxId>{i}</InboxId>"))
            .collect();
        let ans = soap_call(&ins, v, "BevestigenInbox", &ack).await;
        assert_eq!(
            ans.text("Bevestigd"),
            Some(ids.len().to_string()),
            "{}",
            ans.body
        );

        let ans = soap_call(
            &ins,
            v,
            "RaadplegenAanvraag",
            &format!("<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId>"),
        )
        .await;
        assert_eq!(
            ans.text("Status").as_deref(),
            Some("Ingediend"),
            "{}",
            ans.body
        );
        assert_eq!(ans.text("Bsn").as_deref(), Some("999999990"));

        // The marker carries the value true; anything else is a schema finding
        // that quotes the pattern.
        let f = soap_call(
            &ins,
            v,
            "VastleggenBeoordeling",
            &format!("<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId><InBehandeling>false</InBehandeling>"),
        )
        .await;
        assert_eq!(f.fault_code().as_deref(), Some("XSD-001"), "{}", f.body);
        let melding = f.text("Melding").unwrap_or_default();
        assert!(
            melding.contains("{urn:machtigingen:beoordeling:v1}InBehandeling")
                && melding.contains("pattern 'true'"),
            "{melding}"
        );
        let ans = soap_call(
            &ins,
            v,
            "VastleggenBeoordeling",
            &format!("<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId><InBehandeling>true</InBehandeling>"),
        )
        .await;
        assert_eq!(
            ans.text("Status").as_deref(),
            Some("InBehandeling"),
            "{}",
            ans.body
        );
        let ans = soap_call(&ins, v, "VastleggenBeoordeling", &format!("<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId><Toekenning><Uitkomst>DeelsToegekend</Uitkomst><GeldigVan>{}</GeldigVan><GeldigTot>{}</GeldigTot><Prestatie xmlns:m=\"urn:machtigingen:machtigingen:v1\"><m:Code>DBC-OOGLID</m:Code><m:Aantal>1</m:Aantal><m:Bedrag>1250.00</m:Bedrag></Prestatie></Toekenning>", days(7), days(90))).await;
        assert_eq!(
            ans.text("Status").as_deref(),
            Some("DeelsToegekend"),
            "{}",
            ans.body
        );
        let number = ans.text("Machtigingsnummer").unwrap();
        assert_eq!(ans.text("Bedrag").as_deref(), Some("1250.00"));

        let ans = soap_call(&ins, v, "ControlerenMachtiging", &format!("<Uzovi>3311</Uzovi><Machtigingsnummer>{number}</Machtigingsnummer><Bsn>999999990</Bsn><Prestatie>DBC-OOGLID</Prestatie><Datum>{}</Datum>", days(30))).await;
        assert_eq!(ans.text("Geldig").as_deref(), Some("true"), "{}", ans.body);

        // Faults: a rejection without reason is schema-invalid; a second decision is STA-001.
        let f = soap_call(&ins, v, "VastleggenBeoordeling", &format!("<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId><Afwijzing><RedenCode>X</RedenCode><RedenTekst>Te laat.</RedenTekst></Afwijzing>")).await;
        assert_eq!(f.fault_code().as_deref(), Some("STA-001"), "{}", f.body);
        let f = soap_call(&provider, v, "OphalenInbox", "").await;
        assert_eq!(f.fault_code().as_deref(), Some("AUTZ-001"), "{}", f.body);
    }
}

#[tokio::test]
async fn a_decision_reaches_the_providers_callback_signed_and_in_order() {
    use crate::terugkoppeling_support as tk;
    let app = tk::app(r#"["0s", "200ms", "500ms"]"#).await;
    fixtures::load_sample_catalog(&app);
    let provider = tk::provider(&app);
    let rx = tk::receiver();
    tk::register(&provider, &rx, "json").await;
    let ins = insurer(&app);
    let id = submit(&provider, &Aanvraag::default()).await;
    for status in ["InBehandeling", "AanvullendeInformatieGevraagd"] {
        assert_eq!(decide(&ins, &id, beoordeling(status)).await.0, 200);
    }
    let info = fixtures::aanvulling_element(&[("GRADEN", "30")], None);
    post_xml(
        &provider,
        &format!("/api/v1/machtigingsaanvragen/{id}/aanvullende-informatie"),
        &info,
    )
    .await;
    assert_eq!(
        decide(&ins, &id, beoordeling("DeelsToegekend")).await.0,
        200
    );

    let statuses = || -> Vec<serde_json::Value> {
        rx.received()
            .iter()
            .filter_map(|m| serde_json::from_str::<serde_json::Value>(&m.body).ok())
            .filter(|v| v["type"] == "machtiging.status")
            .collect()
    };
    assert!(
        crate::support::eventually(10, || async { statuses().len() == 3 }).await,
        "{:?}",
        statuses()
    );
    let got = statuses();
    let order: Vec<&str> = got
        .iter()
        .map(|v| v["data"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "InBehandeling",
            "AanvullendeInformatieGevraagd",
            "DeelsToegekend"
        ]
    );
    let last = &got[2]["data"];
    assert_eq!(last["machtigingsaanvraagId"], id.as_str());
    assert_eq!(
        last["beslissing"]["toegekendePrestaties"][0]["bedragCenten"],
        125000
    );
    assert!(
        !got.iter().any(|v| v.to_string().contains("999999990")),
        "BSN in a terugkoppeling"
    );
    // The receiver checked every signature and saw the platform's client certificate.
    assert_eq!(rx.duplicates(), 0);
}

/// Insurer 3311's system certificate, allowed to assess and to keep a callback.
fn inbox_insurer(app: &TestApp) -> TestClient {
    app.client(&app.issue(
        &app.party(PartyKind::Zorgverzekeraar, "3311"),
        CertKind::Systeem,
        &[Scope::Beoordelen, Scope::TerugkoppelingBeheren],
        &[],
    ))
}

/// A receiver of `ins`'s inbox, registered as its callback.
async fn subscribe_to_inbox(ins: &TestClient) -> machtigingen::receiver::Receiver {
    use crate::terugkoppeling_support as tk;
    let rx = tk::receiver();
    let body = json!({
        "url": format!("https://localhost:{}/inbox", rx.addr.port()),
        "formaat": "json",
        "caBundle": tk::ca_pem(),
        "gebeurtenissen": ["machtiging.inbox"],
    });
    let (status, v) = tk::put_abonnement(ins, &body).await;
    assert_eq!(status, 200, "{v}");
    rx.set_secrets(vec![v["geheim"].as_str().unwrap().to_owned()]);
    rx
}

/// The inbox announcement is push-only: stored for the insurer only while
/// its callback (not removed) subscribes to `machtiging.inbox`, matched as a
/// whole name. On PostgreSQL the submission's single statement decides this
/// (`machtiging::pg_submission`), on SQLite a look-up before the insert.
#[tokio::test]
async fn an_inbox_announcement_is_stored_only_for_a_subscribed_insurer() {
    use crate::terugkoppeling_support as tk;
    use machtigingen::db::schema::{terugkoppeling_endpoints as ep, terugkoppelingen as t};
    let app = tk::app(r#"["0s", "200ms"]"#).await;
    fixtures::load_sample_catalog(&app);
    let ins = inbox_insurer(&app);
    let provider = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    let stored = || -> Vec<String> {
        t::table
            .filter(t::recipient.eq("UZOVI:3311"))
            .filter(t::event_type.eq("machtiging.inbox"))
            .order(t::id)
            .select(t::subject_id)
            .load(&mut app.db.conn().unwrap())
            .unwrap()
    };
    let set = |types: &str, status: &str| {
        diesel::update(ep::table.filter(ep::party.eq("UZOVI:3311")))
            .set((ep::event_types.eq(types), ep::status.eq(status)))
            .execute(&mut app.db.conn().unwrap())
            .unwrap();
    };
    // No callback at all.
    submit(&provider, &Aanvraag::default()).await;
    assert_eq!(stored(), Vec::<String>::new());
    let _rx = subscribe_to_inbox(&ins).await;
    // A callback for other kinds only, one of them named like the inbox.
    set("machtiging.inboxen machtiging.status", "actief");
    submit(&provider, &Aanvraag::default()).await;
    assert_eq!(stored(), Vec::<String>::new());
    // A removed callback, though it names the inbox.
    set("machtiging.inbox", "verwijderd");
    submit(&provider, &Aanvraag::default()).await;
    assert_eq!(stored(), Vec::<String>::new());
    // Subscribed, as one kind among others; a disabled callback still counts
    // (its terugkoppelingen wait for it).
    set("machtiging.status machtiging.inbox", "uitgeschakeld");
    let first = submit(&provider, &Aanvraag::default()).await;
    set("machtiging.status machtiging.inbox", "actief");
    let second = submit(&provider, &Aanvraag::default()).await;
    assert_eq!(stored(), vec![first, second]);
}

#[tokio::test]
async fn an_insurer_may_have_its_inbox_pushed() {
    use crate::terugkoppeling_support as tk;
    let app = tk::app(r#"["0s", "200ms"]"#).await;
    fixtures::load_sample_catalog(&app);
    let ins = inbox_insurer(&app);
    let rx = subscribe_to_inbox(&ins).await;
    let provider = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    let id = submit(&provider, &Aanvraag::default()).await;
    let pushed = || -> Vec<serde_json::Value> {
        rx.received()
            .iter()
            .filter_map(|m| serde_json::from_str::<serde_json::Value>(&m.body).ok())
            .filter(|v| v["type"] == "machtiging.inbox")
            .collect()
    };
    assert!(crate::support::eventually(10, || async { !pushed().is_empty() }).await);
    assert_eq!(pushed()[0]["data"]["machtigingsaanvraagId"], id.as_str());
    assert_eq!(pushed()[0]["data"]["soort"], "indienen");
    // The pull inbox has it as well.
    let (_, inbox) = ins.get_json(&format!("{BASE}/inbox")).await;
    assert_eq!(inbox["items"][0]["machtigingsaanvraagId"], id.as_str());
}
