//! Gebruikersbeheer through the real mTLS server with a contact person's
//! (persoonlijk) certificate: changes take effect on the affected
//! certificate's very next request; other parties are out of reach; CSR
//! signing end to end; intermediaries with and without a consent statement.

use machtigingen::registry::{CertKind, PartyKind, Scope};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509NameBuilder, X509ReqBuilder};
use serde_json::json;

use crate::fixtures::{self, Aanvraag, post_xml, stored_requests};
use crate::support::{TestApp, TestCert, TestClient, json_of};

const AGB: &str = "03123456";

fn fingerprint(c: &TestClient) -> String {
    machtigingen::pki::fingerprint(&c.cert.cert).unwrap()
}

/// A contact person (persoonlijk, gebruikersbeheer) and a systeem
/// certificate of the same provider with the given scopes.
pub fn contact_and_system(app: &TestApp, agb: &str, scopes: &[Scope]) -> (TestClient, TestClient) {
    let party = app.party(PartyKind::Zorgaanbieder, agb);
    let contact = app.client(&app.issue(
        &party,
        CertKind::Persoonlijk,
        &[Scope::Gebruikersbeheer],
        &[],
    ));
    let system = app.client(&app.issue(&party, CertKind::Systeem, scopes, &[]));
    (contact, system)
}

async fn grant(
    contact: &TestClient,
    target: &str,
    toekennen: &[&str],
    intrekken: &[&str],
) -> (u16, serde_json::Value) {
    contact
        .post_json(
            &format!("/api/v1/beheer/certificaten/{target}/autorisaties"),
            &json!({"toekennen": toekennen, "intrekken": intrekken}),
        )
        .await
}

async fn search_status(c: &TestClient) -> (u16, Option<String>) {
    let (status, body) = c.get_json("/api/v1/machtigingsaanvragen").await;
    (status, body["code"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn authorization_changes_apply_to_the_next_request() {
    let app = TestApp::spawn().await;
    let (contact, system) = contact_and_system(&app, AGB, &[]);
    let fp = fingerprint(&system);

    let (status, list) = contact.get_json("/api/v1/beheer/certificaten").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 2);

    assert_eq!(search_status(&system).await, (403, Some("AUTZ-001".into())));
    let (status, c) = grant(&contact, &fp, &["machtigingen:indienen"], &[]).await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(
        c["autorisaties"],
        json!(["machtigingen:raadplegen", "machtigingen:indienen"])
    );
    assert_eq!(search_status(&system).await, (200, None));
    // Withdrawing raadplegen withdraws indienen too.
    let (_, c) = grant(&contact, &fp, &[], &["machtigingen:raadplegen"]).await;
    assert_eq!(c["autorisaties"], json!([]));
    assert_eq!(search_status(&system).await, (403, Some("AUTZ-001".into())));

    // IP allow-list: the next request from 127.0.0.1 is refused, then allowed again.
    let path = format!("/api/v1/beheer/certificaten/{fp}/ip-allowlist");
    grant(&contact, &fp, &["machtigingen:raadplegen"], &[]).await;
    let put = |nets: serde_json::Value| {
        let contact = contact.clone();
        let path = path.clone();
        async move {
            json_of(
                contact
                    .http
                    .put(contact.url(&path))
                    .json(&json!({"netwerken": nets}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (status, _) = put(json!(["192.0.2.0/24"])).await;
    assert_eq!(status, 200);
    assert_eq!(search_status(&system).await, (403, Some("AUTZ-002".into())));
    put(json!(["127.0.0.1"])).await;
    assert_eq!(search_status(&system).await, (200, None));

    // Revocation: the next request is refused.
    let (status, c) = contact
        .post_json(
            &format!("/api/v1/beheer/certificaten/{fp}/intrekking"),
            &json!({}),
        )
        .await;
    assert_eq!(
        (status, c["status"].as_str()),
        (200, Some("ingetrokken")),
        "{c}"
    );
    assert_eq!(search_status(&system).await, (401, Some("AUTH-002".into())));
    let (status, again) = contact
        .post_json(
            &format!("/api/v1/beheer/certificaten/{fp}/intrekking"),
            &json!({}),
        )
        .await;
    assert_eq!((status, again["code"].as_str()), (409, Some("BEH-004")));

    // Every change is in the party's history, with before and after.
    let (_, history) = contact.get_json("/api/v1/beheer/historie").await;
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    for a in [
        "certificaat.autorisaties",
        "certificaat.ip-allowlist",
        "certificaat.intrekken",
    ] {
        assert!(actions.contains(&a), "{actions:?}");
    }
    let change = history
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["action"] == "certificaat.autorisaties")
        .unwrap();
    assert!(
        change["detail"].as_str().unwrap().contains("voor"),
        "{change}"
    );
}

#[tokio::test]
async fn limits_and_other_parties_are_enforced() {
    let app = TestApp::spawn().await;
    let (contact, _) = contact_and_system(&app, AGB, &[]);
    let (_, other_system) = contact_and_system(&app, "03999998", &[Scope::MachtigingenRaadplegen]);
    // Another party's certificate is not found; its scopes are untouched.
    let (status, p) = grant(
        &contact,
        &fingerprint(&other_system),
        &["machtigingen:indienen"],
        &[],
    )
    .await;
    assert_eq!((status, p["code"].as_str()), (404, Some("REQ-001")), "{p}");
    let (status, p) = contact
        .post_json(
            &format!(
                "/api/v1/beheer/certificaten/{}/intrekking",
                fingerprint(&other_system)
            ),
            &json!({}),
        )
        .await;
    assert_eq!((status, p["code"].as_str()), (404, Some("REQ-001")), "{p}");
    assert_eq!(search_status(&other_system).await, (200, None));

    // An insurer's contact cannot give its system certificate machtigingen:indienen,
    // nor gebruikersbeheer to a systeem certificate.
    let insurer = app.party(PartyKind::Zorgverzekeraar, "3311");
    let ic = app.client(&app.issue(
        &insurer,
        CertKind::Persoonlijk,
        &[Scope::Gebruikersbeheer],
        &[],
    ));
    let is = app.client(&app.issue(&insurer, CertKind::Systeem, &[Scope::Beoordelen], &[]));
    let (status, p) = grant(&ic, &fingerprint(&is), &["machtigingen:indienen"], &[]).await;
    assert_eq!((status, p["code"].as_str()), (422, Some("BEH-001")), "{p}");
    let (status, p) = grant(&ic, &fingerprint(&is), &["gebruikersbeheer"], &[]).await;
    assert_eq!((status, p["code"].as_str()), (422, Some("BEH-001")), "{p}");
    // Nor withdraw it, not even from itself: the party would be locked out.
    let (status, p) = grant(&ic, &fingerprint(&ic), &[], &["gebruikersbeheer"]).await;
    assert_eq!((status, p["code"].as_str()), (422, Some("BEH-001")), "{p}");
    let (status, _) = ic.get_json("/api/v1/beheer/certificaten").await;
    assert_eq!(status, 200, "the contact person keeps its role");

    // A systeem certificate without gebruikersbeheer cannot manage anything.
    let (status, p) = other_system.get_json("/api/v1/beheer/certificaten").await;
    assert_eq!((status, p["code"].as_str()), (403, Some("AUTZ-001")), "{p}");

    // Contact details: readable and changeable; bad addresses refused.
    let put = |body: serde_json::Value| {
        let c = contact.clone();
        async move {
            json_of(
                c.http
                    .put(c.url("/api/v1/beheer/contact"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (status, p) = put(json!({"contactpersoonEmail": "geen-adres"})).await;
    assert_eq!((status, p["code"].as_str()), (400, Some("REQ-004")), "{p}");
    let (status, c) = put(json!({"contactpersoonNaam": "M. de Vries", "contactpersoonEmail": "m.devries@praktijk.example", "notificatieEmails": ["ict@praktijk.example"]})).await;
    assert_eq!(status, 200, "{c}");
    let (_, read) = contact.get_json("/api/v1/beheer/contact").await;
    assert_eq!(read["notificatieEmails"], json!(["ict@praktijk.example"]));
}

fn csr(key: &PKey<Private>) -> String {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "wat de aanvrager ook wil")
        .unwrap();
    let mut req = X509ReqBuilder::new().unwrap();
    req.set_subject_name(&name.build()).unwrap();
    req.set_pubkey(key).unwrap();
    req.sign(key, MessageDigest::sha256()).unwrap();
    String::from_utf8(req.build().to_pem().unwrap()).unwrap()
}

#[tokio::test]
async fn csr_signing_end_to_end_and_weak_keys_refused() {
    let app = TestApp::spawn().await;
    let (contact, _) = contact_and_system(&app, AGB, &[]);
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let (status, body) = contact
        .post_json(
            "/api/v1/beheer/certificaten",
            &json!({"csr": csr(&key), "autorisaties": ["machtigingen:raadplegen"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let cert = openssl::x509::X509::from_pem(body["pem"].as_str().unwrap().as_bytes()).unwrap();
    // The platform built the subject, not the requester.
    assert!(
        !body["certificaat"]["onderwerp"]
            .as_str()
            .unwrap()
            .contains("wat de aanvrager"),
        "{body}"
    );
    let new = app.client(&TestCert::new(cert, key));
    let (status, who) = new.get_json("/api/v1/whoami").await;
    assert_eq!(status, 200, "{who}");
    assert_eq!(who["partij"]["id"], format!("AGB:{AGB}"));
    assert_eq!(who["autorisaties"], json!(["machtigingen:raadplegen"]));

    let weak = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
    let (status, p) = contact
        .post_json("/api/v1/beheer/certificaten", &json!({"csr": csr(&weak)}))
        .await;
    assert_eq!((status, p["code"].as_str()), (422, Some("BEH-002")), "{p}");
    let (status, p) = contact
        .post_json("/api/v1/beheer/certificaten", &json!({"csr": "geen csr"}))
        .await;
    assert_eq!((status, p["code"].as_str()), (422, Some("BEH-002")), "{p}");
}

#[tokio::test]
async fn intermediary_needs_a_valid_consent_statement() {
    let app = TestApp::spawn().await;
    fixtures::load_sample_catalog(&app);
    let (contact, _) = contact_and_system(&app, AGB, &[]);
    let vendor = app.party(PartyKind::Softwareleverancier, "pms-leverancier");
    let vc = app.client(&app.issue(
        &vendor,
        CertKind::Systeem,
        &[Scope::MachtigingenIndienen],
        &[],
    ));
    let base = "/api/v1/machtigingsaanvragen";

    let (status, p) = post_xml(&vc, base, &Aanvraag::default().xml()).await;
    assert_eq!((status, p["code"].as_str()), (403, Some("AUTZ-003")), "{p}");
    assert_eq!(stored_requests(&app), 0);

    // An expired statement does not count; a current one does.
    let (status, _) = contact
        .post_json(
            "/api/v1/beheer/toestemmingsverklaringen",
            &json!({"leverancier": "PLATFORM:pms-leverancier", "geldigTot": fixtures::days(-1)}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, p) = post_xml(&vc, base, &Aanvraag::default().xml()).await;
    assert_eq!((status, p["code"].as_str()), (403, Some("AUTZ-003")), "{p}");
    let (status, v) = contact
        .post_json(
            "/api/v1/beheer/toestemmingsverklaringen",
            &json!({"leverancier": "PLATFORM:pms-leverancier"}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let (status, body) = post_xml(&vc, base, &Aanvraag::default().xml()).await;
    assert_eq!(status, 201, "{body}");
    let id = body["machtigingsaanvraagId"].as_str().unwrap();
    // The provider sees it too, and the audit log names both.
    let audit =
        machtigingen::audit::for_object(&mut app.db.conn().unwrap(), "machtigingsaanvraag", id)
            .unwrap();
    assert_eq!(audit[0].actor, "PLATFORM:pms-leverancier");
    assert_eq!(audit[0].acting_for.as_deref(), Some("AGB:03123456"));
    // A statement for another provider does not stretch to this one.
    let other = Aanvraag {
        agb: "03999998".into(),
        ..Default::default()
    };
    let (status, p) = post_xml(&vc, base, &other.xml()).await;
    assert_eq!((status, p["code"].as_str()), (403, Some("AUTZ-003")), "{p}");

    // Withdrawn: the vendor's next request is refused.
    let tv = v["id"].as_str().unwrap();
    let resp = contact
        .http
        .delete(contact.url(&format!("/api/v1/beheer/toestemmingsverklaringen/{tv}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (status, p) = post_xml(&vc, base, &Aanvraag::default().xml()).await;
    assert_eq!((status, p["code"].as_str()), (403, Some("AUTZ-003")), "{p}");
    // A consent for a party that is no vendor is refused.
    let (status, p) = contact
        .post_json(
            "/api/v1/beheer/toestemmingsverklaringen",
            &json!({"leverancier": "UZOVI:3311"}),
        )
        .await;
    assert_eq!((status, p["code"].as_str()), (422, Some("BEH-005")), "{p}");
}
