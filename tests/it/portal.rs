//! The portal (issue 22): persons in a browser with their persoonlijk
//! certificate, over the same mutual-TLS listener, registry, services and
//! audit log as the API. Real server, real mTLS, certificates from the
//! project's PKI, on SQLite or PostgreSQL.

use machtigingen::registry::{CertKind, PartyKind, Scope};
use serde_json::json;

use crate::beheer::contact_and_system;
use crate::support::form::{csrf_of, urlencoded};
use crate::support::{TestApp, TestClient};

const AGB: &str = "03123456";

/// GET a portal page: status, headers and body.
async fn page(c: &TestClient, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let resp = c.get(path).await;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

/// POST a form as a browser does, following the redirect after a change
/// (303 See Other): status, final path with query, body.
async fn post_form(c: &TestClient, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let resp = c
        .http
        .post(c.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(urlencoded(form))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let location = match resp.url().query() {
        Some(q) => format!("{}?{q}", resp.url().path()),
        None => resp.url().path().to_owned(),
    };
    (status, location, resp.text().await.unwrap())
}

fn assert_security_headers(h: &reqwest::header::HeaderMap) {
    let csp = h["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("script-src"), "no scripts at all: {csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
}

#[tokio::test]
async fn a_systeem_certificate_is_refused_with_a_dutch_page() {
    let app = TestApp::spawn().await;
    let system = app.provider(AGB, &[Scope::MachtigingenIndienen]);
    for path in ["/portaal/gegevens", "/portaal/beheer"] {
        let (status, headers, body) = page(&system, path).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{headers:?}"
        );
        assert_security_headers(&headers);
        assert!(body.contains("<html lang=\"nl\">"), "{body}");
        assert!(body.contains("persoonlijk certificaat"), "{body}");
        assert!(body.contains("AUTZ-004"), "{body}");
    }
    // A form post from a systeem certificate is refused just the same.
    let (status, _, body) = post_form(
        &system,
        "/portaal/beheer/certificaten/x/autorisaties",
        &[("_csrf", "1.00")],
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.contains("AUTZ-004"), "{body}");
    // The API still serves the same certificate.
    let (status, _) = system.get_json("/api/v1/whoami").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn mijn_gegevens_shows_certificate_authorizations_party_and_contact_person() {
    let app = TestApp::spawn().await;
    let (contact, _) = contact_and_system(&app, AGB, &[]);
    let (status, v) = contact
        .http
        .put(contact.url("/api/v1/beheer/contact"))
        .json(&json!({"contactpersoonNaam": "C. Contact", "contactpersoonEmail": "c@praktijk.example"}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(status, 200, "{:?}", v.text().await);
    let party = app.party(PartyKind::Zorgaanbieder, AGB);
    let staff = app.client(&app.issue(
        &party,
        CertKind::Persoonlijk,
        &[Scope::MachtigingenIndienen],
        &[],
    ));

    let (status, headers, body) = page(&staff, "/portaal/gegevens").await;
    assert_eq!(status, 200, "{body}");
    assert_security_headers(&headers);
    assert!(body.contains(&staff.cert.fingerprint), "my certificate");
    assert!(body.contains("persoonlijk"));
    assert!(
        body.contains("<code>machtigingen:indienen</code>"),
        "{body}"
    );
    assert!(body.contains("<code>machtigingen:raadplegen</code>"));
    assert!(!body.contains("<code>gebruikersbeheer</code>"));
    assert!(body.contains("AGB:03123456") && body.contains("Test zorgaanbieder 03123456"));
    assert!(body.contains("C. Contact") && body.contains("c@praktijk.example"));
    // Staff without gebruikersbeheer get no link to it, and no page.
    assert!(!body.contains("href=\"/portaal/beheer\""));
    let (status, _, body) = page(&staff, "/portaal/beheer").await;
    assert_eq!(status, 403);
    assert!(body.contains("AUTZ-001"), "{body}");

    // The root leads to Mijn gegevens; the stylesheet is ours; an unknown
    // page is a Dutch 404 with the same headers.
    let resp = staff.http.get(staff.url("/portaal/")).send().await.unwrap();
    assert!(resp.url().path().ends_with("/portaal/gegevens"));
    let (status, headers, css) = page(&staff, "/portaal/portaal.css").await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(css.contains("outline"), "visible focus");
    let (status, headers, body) = page(&staff, "/portaal/bestaat-niet").await;
    assert_eq!(status, 404);
    assert_security_headers(&headers);
    assert!(body.contains("REQ-001"));
}

#[tokio::test]
async fn a_form_without_its_csrf_token_changes_nothing() {
    let app = TestApp::spawn().await;
    let (contact, system) = contact_and_system(&app, AGB, &[Scope::MachtigingenRaadplegen]);
    let party = app.party(PartyKind::Zorgaanbieder, AGB);
    let colleague = app.client(&app.issue(
        &party,
        CertKind::Persoonlijk,
        &[Scope::Gebruikersbeheer],
        &[],
    ));
    let target = format!(
        "/portaal/beheer/certificaten/{}/autorisaties",
        system.cert.fingerprint
    );
    let (_, _, mine) = page(&contact, "/portaal/beheer").await;
    let token = csrf_of(&mine);
    let (_, _, theirs) = page(&colleague, "/portaal/beheer").await;
    let other = csrf_of(&theirs);
    assert_ne!(token, other, "bound to the certificate");
    let (expiry, mac) = token.split_once('.').unwrap();
    let tampered = format!("{}.{mac}", expiry.parse::<i64>().unwrap() + 3600);

    let want = "machtigingen:indienen";
    for bad in [
        None,
        Some(""),
        Some(other.as_str()),
        Some(tampered.as_str()),
        Some("1.00"),
    ] {
        let mut form = vec![("autorisatie", want)];
        if let Some(t) = bad {
            form.push(("_csrf", t));
        }
        let (status, _, body) = post_form(&contact, &target, &form).await;
        assert_eq!(status, 403, "{bad:?}: {body}");
        assert!(body.contains("REQ-007"), "{body}");
    }
    let (_, who) = system.get_json("/api/v1/whoami").await;
    assert_eq!(who["autorisaties"], json!(["machtigingen:raadplegen"]));
}

#[tokio::test]
async fn a_contact_person_grants_an_authorization_that_the_next_api_call_honours() {
    let app = TestApp::spawn().await;
    let (contact, system) = contact_and_system(&app, AGB, &[Scope::TerugkoppelingBeheren]);
    assert_eq!(
        system.get_json("/api/v1/machtigingsaanvragen").await.0,
        403,
        "no raadplegen yet"
    );

    let (status, headers, body) = page(&contact, "/portaal/beheer").await;
    assert_eq!(status, 200, "{body}");
    assert_security_headers(&headers);
    assert!(body.contains(&system.cert.fingerprint), "{body}");
    assert!(body.contains("systeem"));
    // The contact person's own role is not on offer.
    assert!(!body.contains("value=\"gebruikersbeheer\""), "{body}");
    let token = csrf_of(&body);
    let target = format!(
        "/portaal/beheer/certificaten/{}/autorisaties",
        system.cert.fingerprint
    );

    // Checked: raadplegen (granted); unchecked: terugkoppeling:beheren (withdrawn).
    let (status, location, body) = post_form(
        &contact,
        &target,
        &[
            ("_csrf", &token),
            ("autorisatie", "machtigingen:raadplegen"),
        ],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (200, "/portaal/beheer?gewijzigd=1"),
        "{body}"
    );
    assert!(body.contains("De autorisaties zijn gewijzigd."));
    let (status, _) = system.get_json("/api/v1/machtigingsaanvragen").await;
    assert_eq!(status, 200, "the next API call honours the grant");
    let (_, who) = system.get_json("/api/v1/whoami").await;
    assert_eq!(who["autorisaties"], json!(["machtigingen:raadplegen"]));

    // Audited with the person's certificate as the actor, as over REST.
    let (_, history) = contact.get_json("/api/v1/beheer/historie").await;
    let change = history
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|h| h["action"] == "certificaat.autorisaties")
        .unwrap_or_else(|| panic!("{history}"));
    assert_eq!(change["fingerprint"], contact.cert.fingerprint, "{change}");

    // A refusal of the service (BEH-001: a provider cannot hold beoordelen)
    // is shown next to the form it concerns; nothing changes.
    let (status, _, body) = post_form(
        &contact,
        &target,
        &[("_csrf", &token), ("autorisatie", "beoordelen")],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("BEH-001") && body.contains("aria-describedby"),
        "{body}"
    );
    let (_, who) = system.get_json("/api/v1/whoami").await;
    assert_eq!(who["autorisaties"], json!(["machtigingen:raadplegen"]));
}

#[tokio::test]
async fn a_contact_person_keeps_the_contact_details_that_every_holder_sees() {
    let app = TestApp::spawn().await;
    let (contact, system) = contact_and_system(&app, AGB, &[Scope::MachtigingenRaadplegen]);
    let (_, _, page_) = page(&contact, "/portaal/beheer").await;
    let token = csrf_of(&page_);

    // A bad address is refused next to the form, nothing stored.
    let (status, _, body) = post_form(
        &contact,
        "/portaal/beheer/contact",
        &[
            ("_csrf", &token),
            ("naam", "C. Contact"),
            ("notificatie", "geen-adres"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("id=\"contact-fout\"") && body.contains("REQ-004"),
        "{body}"
    );
    let (_, who) = system.get_json("/api/v1/whoami").await;
    assert!(who.get("contactpersoon").is_none(), "{who}");

    let (status, location, body) = post_form(
        &contact,
        "/portaal/beheer/contact",
        &[
            ("_csrf", &token),
            ("naam", "C. Contact"),
            ("email", "c@praktijk.example"),
            ("telefoon", "030-1234567"),
            (
                "notificatie",
                "beheer@praktijk.example\r\n\r\nict@praktijk.example",
            ),
        ],
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (200, "/portaal/beheer?gewijzigd=contact"),
        "{body}"
    );
    assert!(body.contains("De contactgegevens zijn opgeslagen."));
    assert!(
        body.contains("beheer@praktijk.example\nict@praktijk.example"),
        "{body}"
    );
    let (_, who) = system.get_json("/api/v1/whoami").await;
    assert_eq!(who["contactpersoon"]["naam"], "C. Contact", "{who}");
    assert_eq!(who["contactpersoon"]["telefoon"], "030-1234567");
    let (_, stored) = contact.get_json("/api/v1/beheer/contact").await;
    assert_eq!(
        stored["notificatieEmails"],
        json!(["beheer@praktijk.example", "ict@praktijk.example"]),
        "{stored}"
    );
}
