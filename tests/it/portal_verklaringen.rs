//! The contact person's consent statements in the portal (issue 22): a
//! provider's contact person (`gebruikersbeheer`) registers a statement for
//! a software vendor and withdraws it, through the services behind
//! `/api/v1/beheer/toestemmingsverklaringen` — the vendor's next API call is
//! honoured after the one and refused after the other. Every form needs its
//! CSRF token; a refusal is shown next to the form. Real server, real mTLS.

use diesel::prelude::*;
use machtigingen::db::schema::audit_log;
use machtigingen::registry::{CertKind, PartyKind, Scope};

use crate::fixtures::{Aanvraag, load_sample_catalog, post_xml};
use crate::support::form::{csrf_of, post, text};
use crate::support::{TestApp, TestClient};

const AGB: &str = "03123456";
const VENDOR: &str = "PLATFORM:pms-portaal";

/// The vendor submits a request for the provider: status and problem code.
async fn vendor_submits(vendor: &TestClient) -> (u16, serde_json::Value) {
    let doc = Aanvraag {
        agb: AGB.into(),
        ..Aanvraag::default()
    };
    post_xml(vendor, "/api/v1/machtigingsaanvragen", &doc.xml()).await
}

/// The action of the first withdrawal form on the page.
fn withdraw_action(page: &str) -> String {
    let at = page
        .find("action=\"/portaal/beheer/verklaringen/TV")
        .expect("a withdrawal form");
    let rest = &page[at + "action=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

fn audited(app: &TestApp, action: &str, fingerprint: &str) -> i64 {
    audit_log::table
        .filter(audit_log::action.eq(action))
        .filter(audit_log::fingerprint.eq(fingerprint))
        .count()
        .get_result(&mut *app.db.conn().unwrap())
        .unwrap()
}

#[tokio::test]
async fn a_statement_granted_in_the_portal_is_honoured_by_the_vendors_next_call_and_withdrawn_refused()
 {
    let app = TestApp::spawn().await;
    load_sample_catalog(&app);
    let provider = app.party(PartyKind::Zorgaanbieder, AGB);
    let contact_cert = app.issue(
        &provider,
        CertKind::Persoonlijk,
        &[Scope::Gebruikersbeheer],
        &[],
    );
    let fingerprint = contact_cert.fingerprint.clone();
    let contact = app.client(&contact_cert);
    let v = app.party(PartyKind::Softwareleverancier, "pms-portaal");
    let vendor = app.client(&app.issue(&v, CertKind::Systeem, &[Scope::MachtigingenIndienen], &[]));

    let (status, p) = vendor_submits(&vendor).await;
    assert_eq!((status, p["code"].as_str()), (403, Some("AUTZ-003")), "{p}");

    let (status, page) = text(&contact, "/portaal/beheer/verklaringen").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("aria-current=\"page\">Verklaringen"),
        "{page}"
    );
    assert!(
        page.contains("Verklaringen van uw organisatie (0)"),
        "{page}"
    );
    let token = csrf_of(&page);

    // Without the page's token: refused, nothing registered.
    let (status, _, body) = post(
        &contact,
        "/portaal/beheer/verklaringen",
        &[("leverancier", VENDOR)],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("REQ-007"), "{body}");
    // An unknown vendor is BEH-005 next to the form, the entry kept.
    let (status, _, body) = post(
        &contact,
        "/portaal/beheer/verklaringen",
        &[("_csrf", &token), ("leverancier", "PLATFORM:bestaat-niet")],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("id=\"verklaring-fout\"") && body.contains("BEH-005"),
        "{body}"
    );
    assert!(body.contains("value=\"PLATFORM:bestaat-niet\""), "{body}");
    let (status, _, body) = post(
        &contact,
        "/portaal/beheer/verklaringen",
        &[
            ("_csrf", &token),
            ("leverancier", VENDOR),
            ("geldig_tot", "morgen"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (_, list) = contact
        .get_json("/api/v1/beheer/toestemmingsverklaringen")
        .await;
    assert_eq!(list, serde_json::json!([]), "nothing half-stored");

    let (status, path, page) = post(
        &contact,
        "/portaal/beheer/verklaringen",
        &[("_csrf", &token), ("leverancier", VENDOR)],
    )
    .await;
    assert_eq!(
        (status, path.as_str()),
        (200, "/portaal/beheer/verklaringen"),
        "{page}"
    );
    assert!(page.contains("is geregistreerd"), "{page}");
    assert!(page.contains(VENDOR) && page.contains(">geldig<"), "{page}");

    // The vendor's next call is honoured, and the API lists the statement.
    let (status, body) = vendor_submits(&vendor).await;
    assert_eq!(status, 201, "{body}");
    let id = body["machtigingsaanvraagId"].as_str().unwrap().to_owned();
    let (status, _) = vendor
        .get_json(&format!("/api/v1/machtigingsaanvragen/{id}"))
        .await;
    assert_eq!(status, 200);
    let (_, list) = contact
        .get_json("/api/v1/beheer/toestemmingsverklaringen")
        .await;
    assert_eq!(list[0]["vendor"], VENDOR, "{list}");

    // Withdrawn on the page: the vendor's next calls are refused.
    let action = withdraw_action(&page);
    let (status, _, body) = post(&contact, &action, &[]).await;
    assert_eq!(status, 403, "without its token: {body}");
    let (status, _, page) = post(&contact, &action, &[("_csrf", &token)]).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("is ingetrokken") && page.contains("ingetrokken op"),
        "{page}"
    );
    let (status, p) = vendor_submits(&vendor).await;
    assert_eq!((status, p["code"].as_str()), (403, Some("AUTZ-003")), "{p}");
    let (status, _) = vendor
        .get_json(&format!("/api/v1/machtigingsaanvragen/{id}"))
        .await;
    assert_eq!(status, 404);
    // A second withdrawal names nothing that holds.
    let (status, _, body) = post(&contact, &action, &[("_csrf", &token)]).await;
    assert_eq!(status, 404, "{body}");

    assert_eq!(
        audited(&app, "toestemmingsverklaring.registreren", &fingerprint),
        1
    );
    assert_eq!(
        audited(&app, "toestemmingsverklaring.intrekken", &fingerprint),
        1
    );
}

#[tokio::test]
async fn only_a_providers_contact_person_has_the_statements_page() {
    let app = TestApp::spawn().await;
    let insurer = app.party(PartyKind::Zorgverzekeraar, "3311");
    let theirs = app.client(&app.issue(
        &insurer,
        CertKind::Persoonlijk,
        &[Scope::Gebruikersbeheer],
        &[],
    ));
    let (status, page) = text(&theirs, "/portaal/beheer").await;
    assert_eq!(status, 200, "{page}");
    assert!(!page.contains("/portaal/beheer/verklaringen"), "{page}");
    let (status, page) = text(&theirs, "/portaal/beheer/verklaringen").await;
    assert_eq!(status, 200, "{page}");
    let token = csrf_of(&page);
    app.party(PartyKind::Softwareleverancier, "pms-portaal");
    let (status, _, body) = post(
        &theirs,
        "/portaal/beheer/verklaringen",
        &[("_csrf", &token), ("leverancier", VENDOR)],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Alleen een zorgaanbieder"), "{body}");

    let provider = app.party(PartyKind::Zorgaanbieder, AGB);
    let staff = app.client(&app.issue(
        &provider,
        CertKind::Persoonlijk,
        &[Scope::MachtigingenIndienen],
        &[],
    ));
    let (status, page) = text(&staff, "/portaal/beheer/verklaringen").await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("AUTZ-001"), "{page}");
}
