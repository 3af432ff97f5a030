//! The contact person's certificates page (`/portaal/beheer/certificaten`,
//! issue 22): a persoonlijk certificate for a colleague from a CSR, which
//! opens the portal for that colleague until the contact person revokes it
//! on the same page; and every link the e-mails carry is answered by a
//! portal page. Real server, real mTLS, the project's own PKI.

use machtigingen::email::compose;
use machtigingen::registry::{CertKind, PartyKind, Scope};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder, X509ReqBuilder};

use crate::fixtures::{Aanvraag, load_sample_catalog, submit};
use crate::support::form::{csrf_of, post, text, unescape};
use crate::support::{TestApp, TestCert};
use crate::terugkoppeling_support as tk;

const PAGE: &str = "/portaal/beheer/certificaten";

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
async fn a_contact_person_issues_a_colleagues_certificate_from_a_csr_and_revokes_it() {
    let app = TestApp::spawn().await;
    let party = app.party(PartyKind::Zorgaanbieder, tk::AGB);
    let contact = app.client(&app.issue(
        &party,
        CertKind::Persoonlijk,
        &[Scope::Gebruikersbeheer],
        &[],
    ));
    let staff = app.client(&app.issue(
        &party,
        CertKind::Persoonlijk,
        &[Scope::MachtigingenIndienen],
        &[],
    ));
    assert_eq!(text(&staff, PAGE).await.0, 403);

    let (status, body) = text(&contact, PAGE).await;
    assert_eq!(status, 200, "{body}");
    // Its own certificate is listed, but offers no revocation; the
    // colleague's does.
    assert!(body.contains("<code>gebruikersbeheer</code>"), "{body}");
    assert_eq!(body.matches("/intrekking\"").count(), 1, "{body}");
    let token = csrf_of(&body);

    // Without a CSR: refused next to the form, the name kept, nothing issued.
    let (status, _, body) = post(
        &contact,
        PAGE,
        &[
            ("_csrf", &token),
            ("soort", "persoonlijk"),
            ("houder", "Collega Test"),
            ("csr", "geen csr"),
            ("autorisatie", "machtigingen:raadplegen"),
        ],
    )
    .await;
    assert!((400..500).contains(&status), "{status} {body}");
    assert!(body.contains("id=\"aanvraag-fout\""), "{body}");
    assert!(body.contains("value=\"Collega Test\""), "{body}");
    assert_eq!(body.matches("/intrekking\"").count(), 1, "{body}");

    // gebruikersbeheer is the operator's to give: BEH-001 next to the form.
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let pem = csr(&key);
    let (status, _, body) = post(
        &contact,
        PAGE,
        &[
            ("_csrf", &token),
            ("soort", "persoonlijk"),
            ("houder", "Collega Test"),
            ("csr", &pem),
            ("autorisatie", "gebruikersbeheer"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("BEH-001") && body.contains("id=\"aanvraag-fout\""),
        "{body}"
    );

    let (status, _, body) = post(
        &contact,
        PAGE,
        &[
            ("_csrf", &token),
            ("soort", "persoonlijk"),
            ("houder", "Collega Test"),
            ("csr", &pem),
            ("autorisatie", "machtigingen:raadplegen"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let at = body.find("<pre id=\"pem\" class=\"breek\">").expect(&body);
    let rest = &body[at + 28..];
    let issued = unescape(&rest[..rest.find("</pre>").unwrap()]);
    let cert = X509::from_pem(issued.as_bytes()).unwrap();
    let fingerprint = machtigingen::pki::fingerprint(&cert).unwrap();

    // The colleague's certificate opens the portal with what was chosen.
    let colleague = app.client(&TestCert::new(cert, key));
    let (status, page) = text(&colleague, "/portaal/gegevens").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Collega Test") && page.contains("/portaal/aanvragen"),
        "{page}"
    );

    // Revoked on the page: refused on its next request.
    let action = format!("{PAGE}/{fingerprint}/intrekking");
    let (_, body) = text(&contact, PAGE).await;
    assert!(body.contains(&format!("action=\"{action}\"")), "{body}");
    let (status, path, body) = post(&contact, &action, &[("_csrf", &token)]).await;
    assert_eq!((status, path.as_str()), (200, PAGE), "{body}");
    assert!(body.contains("ingetrokken"), "{body}");
    assert!(!body.contains(&action), "{body}");
    let (status, _) = text(&colleague, "/portaal/gegevens").await;
    assert!(status == 401 || status == 403, "{status}");

    // A second revocation of the same certificate is refused.
    let (status, _, body) = post(&contact, &action, &[("_csrf", &token)]).await;
    assert_eq!(status, 409, "{body}");
}

/// The path of the portal link in a composed mail.
fn link_of(t: &compose::Text, base: &str) -> String {
    let line = t
        .inhoud
        .lines()
        .find(|l| l.starts_with(base))
        .unwrap_or_else(|| panic!("no link in {t:?}"));
    line[base.len()..].to_owned()
}

#[tokio::test]
async fn every_link_in_the_emails_opens_a_portal_page() {
    let app = tk::app(r#"["0s"]"#).await;
    load_sample_catalog(&app);
    let provider = tk::provider(&app);
    let id = submit(&provider, &Aanvraag::default()).await;
    let party = app.party(PartyKind::Zorgaanbieder, tk::AGB);
    let person = app.client(&app.issue(
        &party,
        CertKind::Persoonlijk,
        &[
            Scope::MachtigingenIndienen,
            Scope::MachtigingenRaadplegen,
            Scope::OptinAfhandelen,
            Scope::TerugkoppelingBeheren,
            Scope::Gebruikersbeheer,
        ],
        &[],
    ));
    let base = "https://portaal.example.nl";
    let p = format!("AGB:{}", tk::AGB);
    let day = chrono::Utc::now().date_naive();
    let mails = [
        compose::callback_uitgeschakeld(base, &p),
        compose::optin_wacht(base, &p, "OR0000"),
        compose::vraag(base, &p, &id),
        compose::besluit(base, &p, &id, "Toegekend", false),
        compose::besluit(base, &p, &id, "Toegekend", true),
        compose::certificaat_verloopt(base, &p, "01AB", day),
    ];
    for mail in &mails {
        let path = link_of(mail, base);
        assert!(path.starts_with("/portaal/"), "{path}");
        let (status, body) = text(&person, &path).await;
        assert_eq!(status, 200, "{} → {path}: {body}", mail.soort.as_str());
    }
}
