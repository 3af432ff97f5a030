//! The opt-in handler's portal page (issue 22): a persoonlijk certificate
//! with `optin:afhandelen` subscribes the practice, sees the patients'
//! registrations and marks one Verwerkt and one Afgewezen with a reason; the
//! patient portal's channel (REST) sees each outcome. Real server, real mTLS.

use machtigingen::registry::{CertKind, PartyKind, Scope};

use crate::fixtures::random_suffix;
use crate::optin::registratie;
use crate::support::form::{csrf_of, text, urlencoded};
use crate::support::{TestApp, TestClient};

const AGB: &str = "03123456";

async fn post(c: &TestClient, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let r = c
        .http
        .post(c.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(urlencoded(form))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn register(portal: &TestClient, reference: &str) -> (u16, serde_json::Value) {
    let resp = portal
        .http
        .post(portal.url("/api/v1/optin/registraties"))
        .header("content-type", "application/xml")
        .body(registratie(reference, "999999990", AGB))
        .send()
        .await
        .unwrap();
    crate::support::json_of(resp).await
}

#[tokio::test]
async fn an_opt_in_handler_subscribes_and_marks_registrations_and_the_portal_sees_it() {
    let app = TestApp::spawn().await;
    let pp = app.party(
        PartyKind::Patientportaal,
        &format!("portaal-{}", random_suffix()),
    );
    let portal = app.client(&app.issue(&pp, CertKind::Systeem, &[Scope::OptinAanmelden], &[]));
    let practice = app.party(PartyKind::Zorgaanbieder, AGB);
    let handler = app.client(&app.issue(
        &practice,
        CertKind::Persoonlijk,
        &[Scope::OptinAfhandelen],
        &[],
    ));

    // Not subscribed yet: the portal's registration is refused (OPT-001).
    let (status, body) = register(&portal, "PP-1").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("OPT-001")),
        "{body}"
    );
    let (status, page) = text(&handler, "/portaal/optin").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("niet aangemeld"), "{page}");
    let token = csrf_of(&page);
    let (status, page) = post(
        &handler,
        "/portaal/optin/aanmelden",
        &[("_csrf", &token), ("email", "optin@praktijk.example")],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("is aangemeld") && page.contains("optin@praktijk.example"),
        "{page}"
    );

    let mut ids = Vec::new();
    for r in ["PP-2", "PP-3"] {
        let (status, body) = register(&portal, r).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["registratieId"].as_str().unwrap().to_owned());
    }
    let (_, page) = text(&handler, "/portaal/optin").await;
    for id in &ids {
        assert!(
            page.contains(&format!("action=\"/portaal/optin/{id}/afhandelen\"")),
            "{page}"
        );
    }

    let (status, page) = post(
        &handler,
        &format!("/portaal/optin/{}/afhandelen", ids[0]),
        &[("_csrf", &token), ("status", "Verwerkt")],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!("id=\"status-{}\">Verwerkt", ids[0])),
        "{page}"
    );

    // Afgewezen without a reason is refused next to that registration.
    let (status, page) = post(
        &handler,
        &format!("/portaal/optin/{}/afhandelen", ids[1]),
        &[("_csrf", &token), ("status", "Afgewezen")],
    )
    .await;
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains(&format!("id=\"fout-{}\"", ids[1])) && page.contains("OPT-004"),
        "{page}"
    );
    let (status, page) = post(
        &handler,
        &format!("/portaal/optin/{}/afhandelen", ids[1]),
        &[
            ("_csrf", &token),
            ("status", "Afgewezen"),
            ("reden_code", "GEGEVENS"),
            ("reden_tekst", "Patiënt onbekend in de praktijk"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");

    // The patient portal's channel sees both outcomes.
    let (_, seen) = portal
        .get_json(&format!("/api/v1/optin/registraties/{}", ids[0]))
        .await;
    assert_eq!(seen["status"], "Verwerkt", "{seen}");
    let (_, seen) = portal
        .get_json(&format!("/api/v1/optin/registraties/{}", ids[1]))
        .await;
    assert_eq!(seen["status"], "Afgewezen", "{seen}");
    assert_eq!(seen["redenCode"], "GEGEVENS");
}

#[tokio::test]
async fn an_opt_in_handler_unsubscribes_and_new_registrations_are_refused() {
    let app = TestApp::spawn().await;
    let pp = app.party(
        PartyKind::Patientportaal,
        &format!("portaal-{}", random_suffix()),
    );
    let portal = app.client(&app.issue(&pp, CertKind::Systeem, &[Scope::OptinAanmelden], &[]));
    let practice = app.party(PartyKind::Zorgaanbieder, AGB);
    let handler = app.client(&app.issue(
        &practice,
        CertKind::Persoonlijk,
        &[Scope::OptinAfhandelen],
        &[],
    ));
    let (_, page) = text(&handler, "/portaal/optin").await;
    assert!(!page.contains("/portaal/optin/afmelden"), "{page}");
    let token = csrf_of(&page);
    let (status, page) = post(&handler, "/portaal/optin/aanmelden", &[("_csrf", &token)]).await;
    assert_eq!(status, 200, "{page}");
    let (status, body) = register(&portal, "PP-AF-1").await;
    assert_eq!(status, 201, "{body}");
    let id = body["registratieId"].as_str().unwrap().to_owned();

    // Without its CSRF token the subscription stays.
    let (status, page) = post(&handler, "/portaal/optin/afmelden", &[]).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("REQ-007"), "{page}");
    assert_eq!(register(&portal, "PP-AF-2").await.0, 201);

    let (status, page) = post(&handler, "/portaal/optin/afmelden", &[("_csrf", &token)]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("niet aangemeld"), "{page}");
    // What was received stays to be handled.
    assert!(
        page.contains(&format!("action=\"/portaal/optin/{id}/afhandelen\"")),
        "{page}"
    );
    let (status, body) = register(&portal, "PP-AF-3").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("OPT-001")),
        "{body}"
    );
}
