//! The "another party" column of the access matrix: every REST route with a
//! path parameter and every SOAP operation that names a resource is called by
//! a valid certificate of *another* party of the right kind, holding every
//! authorization the operation needs, on a resource that exists. The documented
//! answer is `404 REQ-001` (not visible to that caller; its existence is not
//! disclosed). Acknowledgements, which name resources in the body, answer that
//! nothing of the caller's own was acknowledged. Afterwards the owner's
//! resources are exactly as they were.
//!
//! Both lists are generated (OpenAPI document, SOAP contracts): a new route
//! with a path parameter, or a new operation whose example names a resource,
//! fails this test until it has a row here. Routes without a path parameter act
//! on the caller's own data by construction.

use machtigingen::registry::{CertKind, PartyKind, Scope};
use serde_json::{Value, json};

use crate::access_matrix::soap_payload;
use crate::fixtures::{self, Aanvraag, aanvulling_element};
use crate::support::soap::{self, Soap};
use crate::support::{TestApp, TestClient, json_of};

const OWNER_AGB: &str = "03123456";
const OTHER_AGB: &str = "06999999";
/// The resource ids the documentation examples use, replaced by real ones.
const EXAMPLE_MA: &str = "MA3f2a9c0d5b7e41c8a9d06e1b2c3d4e5f";
const EXAMPLE_OI: &str = "OI7c1e0b9a4d2f48e6a5b3c2d1e0f9a8b7";

/// The owner's resources and the intruders.
struct World {
    ma: String,
    reg: String,
    tk: String,
    controle: String,
    fp: String,
    consent: String,
    inbox: i64,
    provider: TestClient,
    contact: TestClient,
    insurer: TestClient,
    other_provider: TestClient,
    other_contact: TestClient,
    other_insurer: TestClient,
    other_portal: TestClient,
}

async fn world(app: &TestApp) -> World {
    fixtures::load_sample_catalog(app);
    let owner = app.party(PartyKind::Zorgaanbieder, OWNER_AGB);
    let provider_scopes = [
        Scope::MachtigingenIndienen,
        Scope::TerugkoppelingBeheren,
        Scope::OptinAfhandelen,
    ];
    let provider = app.client(&app.issue(&owner, CertKind::Systeem, &provider_scopes, &[]));
    let contact = app.client(&app.issue(
        &owner,
        CertKind::Persoonlijk,
        &[Scope::Gebruikersbeheer],
        &[],
    ));
    let insurer = fixtures::insurer(app);
    let portal_party = app.party(PartyKind::Patientportaal, "portaal-eigenaar");
    let portal = app.client(&app.issue(
        &portal_party,
        CertKind::Systeem,
        &[Scope::OptinAanmelden],
        &[],
    ));
    app.party(PartyKind::Softwareleverancier, "pms-x");

    let ma = fixtures::submit(&provider, &Aanvraag::default()).await;
    fixtures::insurer_sets(app, &ma, "InBehandeling").await;
    let (_, berichten) = provider.get_json("/api/v1/terugkoppeling/berichten").await;
    let tk = berichten["berichten"][0]["id"].as_str().unwrap().to_owned();
    let (_, inbox) = insurer.get_json("/api/v1/beoordeling/inbox").await;
    let inbox = inbox["items"][0]["inboxId"].as_i64().unwrap();
    let resp = provider
        .http
        .put(provider.url("/api/v1/optin/abonnement"))
        .json(&json!({"notificatieEmail": "optin@praktijk.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let registratie = crate::optin::registratie("P-1", "999999990", OWNER_AGB);
    let (status, body) =
        fixtures::post_xml(&portal, "/api/v1/optin/registraties", &registratie).await;
    assert_eq!(status, 201, "{body}");
    let reg = body["registratieId"].as_str().unwrap().to_owned();
    let (status, body) = contact
        .post_json(
            "/api/v1/beheer/toestemmingsverklaringen",
            &json!({"leverancier": "PLATFORM:pms-x"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let consent = body["id"].as_str().unwrap().to_owned();
    let fp = provider.cert.fingerprint.clone();
    // A stored receiver check of the owner, written as the platform stores one.
    let controle = format!("TKC{}", "5".repeat(32));
    {
        use diesel::prelude::*;
        use machtigingen::db::schema::terugkoppeling_controles as tc;
        let mut conn = app.db.conn().unwrap();
        diesel::insert_into(tc::table)
            .values((
                tc::public_id.eq(&controle),
                tc::party.eq(format!("AGB:{OWNER_AGB}")),
                tc::url.eq("https://zorg.example/tk"),
                tc::format.eq("json"),
                tc::status.eq("fout"),
                tc::error.eq("voorbeeld"),
                tc::started_at.eq(machtigingen::db::now()),
            ))
            .execute(&mut conn)
            .unwrap();
    }

    let other = app.party(PartyKind::Zorgaanbieder, OTHER_AGB);
    let other_provider = app.client(&app.issue(&other, CertKind::Systeem, &provider_scopes, &[]));
    let other_contact = app.client(&app.issue(
        &other,
        CertKind::Persoonlijk,
        &[Scope::Gebruikersbeheer],
        &[],
    ));
    let other_ins = app.party(PartyKind::Zorgverzekeraar, "3399");
    let other_insurer =
        app.client(&app.issue(&other_ins, CertKind::Systeem, &[Scope::Beoordelen], &[]));
    let other_portal_party = app.party(PartyKind::Patientportaal, "portaal-ander");
    let other_portal = app.client(&app.issue(
        &other_portal_party,
        CertKind::Systeem,
        &[Scope::OptinAanmelden],
        &[],
    ));
    World {
        ma,
        reg,
        tk,
        controle,
        fp,
        consent,
        inbox,
        provider,
        contact,
        insurer,
        other_provider,
        other_contact,
        other_insurer,
        other_portal,
    }
}

/// A request body: XML for the machtigingen door, JSON elsewhere.
enum Body {
    None,
    Xml(String),
    Json(Value),
}

async fn send(c: &TestClient, method: &str, path: &str, body: &Body) -> (u16, Value) {
    let mut req = c
        .http
        .request(method.to_uppercase().parse().unwrap(), c.url(path));
    req = match body {
        Body::None => req,
        Body::Xml(x) => req
            .header("content-type", "application/xml")
            .body(x.clone()),
        Body::Json(j) => req.json(j),
    };
    json_of(req.send().await.unwrap()).await
}

#[tokio::test]
async fn another_partys_valid_certificate_sees_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let other_doc = Aanvraag {
        agb: OTHER_AGB.into(),
        ..Aanvraag::default()
    }
    .xml();
    let aanvulling = aanvulling_element(&[("GRADEN", "30")], Some("Aanvulling."));

    // (method, route as in the OpenAPI document, caller, body)
    let rows: Vec<(&str, &str, &TestClient, Body)> = vec![
        (
            "get",
            "/api/v1/machtigingsaanvragen/{id}",
            &w.other_provider,
            Body::None,
        ),
        (
            "put",
            "/api/v1/machtigingsaanvragen/{id}",
            &w.other_provider,
            Body::Xml(other_doc),
        ),
        (
            "post",
            "/api/v1/machtigingsaanvragen/{id}/aanvullende-informatie",
            &w.other_provider,
            Body::Xml(aanvulling),
        ),
        (
            "post",
            "/api/v1/machtigingsaanvragen/{id}/intrekking",
            &w.other_provider,
            Body::Json(json!({})),
        ),
        (
            "get",
            "/api/v1/beoordeling/machtigingsaanvragen/{id}",
            &w.other_insurer,
            Body::None,
        ),
        (
            "post",
            "/api/v1/beoordeling/machtigingsaanvragen/{id}/beoordeling",
            &w.other_insurer,
            Body::Json(fixtures::beoordeling("Afgewezen")),
        ),
        (
            "post",
            "/api/v1/beoordeling/machtigingsaanvragen/{id}/herziening",
            &w.other_insurer,
            Body::Json(json!({"soort": "Herroeping", "redenCode": "R", "redenTekst": "Weg."})),
        ),
        (
            "get",
            "/api/v1/optin/registraties/{id}",
            &w.other_provider,
            Body::None,
        ),
        (
            "get",
            "/api/v1/optin/registraties/{id}",
            &w.other_portal,
            Body::None,
        ),
        (
            "post",
            "/api/v1/optin/registraties/{id}/afhandeling",
            &w.other_provider,
            Body::Json(json!({"status": "Verwerkt"})),
        ),
        (
            "get",
            "/api/v1/terugkoppeling/berichten/{id}",
            &w.other_provider,
            Body::None,
        ),
        (
            "post",
            "/api/v1/terugkoppeling/berichten/{id}/opnieuw",
            &w.other_provider,
            Body::None,
        ),
        (
            "get",
            "/api/v1/terugkoppeling/abonnement/controle/{id}",
            &w.other_provider,
            Body::None,
        ),
        (
            "post",
            "/api/v1/beheer/certificaten/{fp}/autorisaties",
            &w.other_contact,
            Body::Json(json!({"toekennen": [], "intrekken": ["machtigingen:indienen"]})),
        ),
        (
            "post",
            "/api/v1/beheer/certificaten/{fp}/intrekking",
            &w.other_contact,
            Body::None,
        ),
        (
            "put",
            "/api/v1/beheer/certificaten/{fp}/ip-allowlist",
            &w.other_contact,
            Body::Json(json!({"netwerken": ["192.0.2.0/24"]})),
        ),
        (
            "delete",
            "/api/v1/beheer/toestemmingsverklaringen/{id}",
            &w.other_contact,
            Body::None,
        ),
    ];
    let doc = machtigingen::rest::openapi::document(machtigingen::rest::openapi::PLACEHOLDER_URL);
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if path.contains('{') {
                assert!(
                    rows.iter().any(|(m, p, _, _)| m == method && p == path),
                    "route {method} {path} has no row in the another-party matrix"
                );
            }
        }
    }
    for (method, route, caller, body) in &rows {
        let id = match route {
            r if r.contains("/machtigingsaanvragen/") => &w.ma,
            r if r.contains("/optin/") => &w.reg,
            r if r.contains("/abonnement/controle/") => &w.controle,
            r if r.contains("/terugkoppeling/") => &w.tk,
            r if r.contains("/toestemmingsverklaringen/") => &w.consent,
            _ => &w.fp,
        };
        let path = route.replace("{id}", id).replace("{fp}", id);
        let (status, v) = send(caller, method, &path, body).await;
        assert_eq!(
            (status, v["code"].as_str()),
            (404, Some("REQ-001")),
            "{method} {route} by another party: {v}"
        );
    }

    // Acknowledgements name the owner's resources in the body.
    let acks = [
        (
            &w.other_insurer,
            "/api/v1/beoordeling/inbox/ontvangst",
            json!({"inboxIds": [w.inbox]}),
        ),
        (
            &w.other_provider,
            "/api/v1/optin/inbox/ontvangst",
            json!({"registratieIds": [w.reg]}),
        ),
        (
            &w.other_provider,
            "/api/v1/terugkoppeling/berichten/bevestiging",
            json!({"ids": [w.tk]}),
        ),
    ];
    for (caller, path, body) in &acks {
        let (status, v) = caller.post_json(path, body).await;
        assert_eq!(status, 200, "{path}: {v}");
    }

    // SOAP: every operation whose example names a resource, as the intruder
    // of its service.
    let mut soap_checks = 0;
    for contract in machtigingen::soap::contracts() {
        let service = contract.path.split('/').nth(2).unwrap();
        let caller = match service {
            "beoordeling" => &w.other_insurer,
            _ => &w.other_provider,
        };
        for op in contract.operations {
            let example = soap_payload(service, contract.namespace, op);
            let names_resource = [EXAMPLE_MA, EXAMPLE_OI, "<InboxId>", "<TerugkoppelingId>"]
                .iter()
                .any(|m| example.contains(m));
            if !names_resource {
                continue;
            }
            let payload = concrete_soap(&example, &w);
            let ans = soap::call(
                caller,
                contract.path,
                Soap::V11,
                contract.namespace,
                op,
                &payload,
            )
            .await;
            if op.starts_with("Bevestigen") {
                assert!(!ans.is_fault(), "{op} by another party: {}", ans.body);
            } else {
                assert_eq!(
                    ans.fault_code().as_deref(),
                    Some("REQ-001"),
                    "{op} by another party: {}",
                    ans.body
                );
            }
            soap_checks += 1;
        }
    }
    assert!(
        soap_checks >= 10,
        "only {soap_checks} SOAP operations name a resource"
    );

    assert_owner_untouched(&w).await;
}

/// The example payload with the owner's real ids (and the intruder's AGB,
/// so that only ownership differs from a legitimate call).
fn concrete_soap(example: &str, w: &World) -> String {
    let inbox_ids = replace_texts(example, "<InboxId>", "</InboxId>", &w.inbox.to_string());
    let tk_ids = replace_texts(
        &inbox_ids,
        "<TerugkoppelingId>",
        "</TerugkoppelingId>",
        &w.tk,
    );
    tk_ids
        .replace(EXAMPLE_MA, &w.ma)
        .replace(EXAMPLE_OI, &w.reg)
        .replace(
            &format!("<AgbPraktijk>{OWNER_AGB}<"),
            &format!("<AgbPraktijk>{OTHER_AGB}<"),
        )
}

/// Replaces the text of every `open…close` element.
fn replace_texts(s: &str, open: &str, close: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(open) {
        out.push_str(&rest[..i + open.len()]);
        rest = &rest[i + open.len()..];
        let j = rest.find(close).unwrap();
        out.push_str(value);
        rest = &rest[j..];
    }
    out.push_str(rest);
    out
}

async fn assert_owner_untouched(w: &World) {
    let (status, v) = w
        .provider
        .get_json(&format!("/api/v1/machtigingsaanvragen/{}", w.ma))
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["status"], "InBehandeling", "{v}");
    let (_, v) = w
        .provider
        .get_json(&format!("/api/v1/optin/registraties/{}", w.reg))
        .await;
    assert_eq!(v["status"], "NogNietVerwerkt", "{v}");
    // Still unacknowledged by their owners.
    let (_, inbox) = w.insurer.get_json("/api/v1/beoordeling/inbox").await;
    assert!(inbox["items"].to_string().contains(&w.ma), "{inbox}");
    let (_, inbox) = w.provider.get_json("/api/v1/optin/inbox").await;
    assert!(
        inbox["registraties"].to_string().contains(&w.reg),
        "{inbox}"
    );
    let (_, berichten) = w
        .provider
        .get_json("/api/v1/terugkoppeling/berichten")
        .await;
    assert!(
        berichten["berichten"].to_string().contains(&w.tk),
        "{berichten}"
    );
    // The certificate: still valid, everywhere, with its authorizations.
    let (status, me) = w.provider.get_json("/api/v1/whoami").await;
    assert_eq!(status, 200, "{me}");
    assert!(me.to_string().contains("machtigingen:indienen"), "{me}");
    // The consent statement is still in force.
    let (_, list) = w
        .contact
        .get_json("/api/v1/beheer/toestemmingsverklaringen")
        .await;
    let statement = list
        .as_array()
        .and_then(|l| l.iter().find(|s| s["id"] == w.consent.as_str()))
        .unwrap_or_else(|| panic!("consent statement gone: {list}"));
    assert!(statement["revokedAt"].is_null(), "{statement}");
}
