//! The contact person's certificate request with the CSR as a file
//! (`multipart/form-data`, issue 22): the uploaded `.csr` is signed exactly
//! as a pasted one (`beheer::request_certificate`); a CSR both pasted and
//! uploaded, a file that is no CSR, and a form without its CSRF token are
//! refused and issue nothing. Real server, real mTLS, the project's PKI.

use machtigingen::registry::{CertKind, PartyKind, Scope};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder, X509ReqBuilder};

use crate::support::form::{File, csrf_of, post_multipart, text, unescape};
use crate::support::{TestApp, TestCert};

const PAGE: &str = "/portaal/beheer/certificaten";

#[tokio::test]
async fn a_contact_person_requests_a_certificate_with_a_csr_file() {
    let app = TestApp::spawn().await;
    let party = app.party(PartyKind::Zorgaanbieder, "03123456");
    let contact = app.client(&app.issue(
        &party,
        CertKind::Persoonlijk,
        &[Scope::Gebruikersbeheer],
        &[],
    ));
    let (status, body) = text(&contact, PAGE).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("enctype=\"multipart/form-data\"")
            && body.contains("<input type=\"file\" id=\"csr-bestand\" name=\"csr-bestand\""),
        "{body}"
    );
    let token = csrf_of(&body);
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "collega").unwrap();
    let mut req = X509ReqBuilder::new().unwrap();
    req.set_subject_name(&name.build()).unwrap();
    req.set_pubkey(&key).unwrap();
    req.sign(&key, MessageDigest::sha256()).unwrap();
    let pem = req.build().to_pem().unwrap();
    let file = |content: Vec<u8>| File {
        field: "csr-bestand",
        name: "collega.csr",
        media_type: "application/octet-stream",
        content,
    };
    let fields = |csr: &'static str| {
        vec![
            ("_csrf", token.clone()),
            ("soort", "persoonlijk".to_owned()),
            ("houder", "Collega Bestand".to_owned()),
            ("csr", csr.to_owned()),
            ("autorisatie", "machtigingen:raadplegen".to_owned()),
        ]
    };
    let pairs = |f: &[(&'static str, String)]| -> Vec<(&'static str, String)> { f.to_vec() };
    let send = |f: Vec<(&'static str, String)>, files: Vec<File<'static>>| {
        let contact = &contact;
        async move {
            let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_multipart(contact, PAGE, &refs, &files).await
        }
    };

    // Pasted and uploaded both: which one was meant is not guessed.
    let (status, _, body) = send(pairs(&fields("iets geplakt")), vec![file(pem.clone())]).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("id=\"aanvraag-fout\"") && body.contains("REQ-004"),
        "{body}"
    );
    // A file that is no CSR: the same refusal as a pasted one.
    let (status, _, body) = send(pairs(&fields("")), vec![file(b"geen csr".to_vec())]).await;
    assert!(status == 400 || status == 422, "{status}: {body}");
    assert!(body.contains("id=\"aanvraag-fout\""), "{body}");
    // Without the CSRF token: nothing issued.
    let mut without = fields("");
    without.retain(|(k, _)| *k != "_csrf");
    let (status, _, body) = send(without, vec![file(pem.clone())]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("REQ-007"), "{body}");
    let (_, list) = text(&contact, PAGE).await;
    assert!(!list.contains("Collega Bestand"), "{list}");

    // The file alone: issued, and it opens the portal for the colleague.
    let (status, _, body) = send(pairs(&fields("")), vec![file(pem)]).await;
    assert_eq!(status, 200, "{body}");
    let at = body.find("<pre id=\"pem\" class=\"breek\">").expect(&body);
    let rest = &body[at + 28..];
    let issued = unescape(&rest[..rest.find("</pre>").unwrap()]);
    let cert = X509::from_pem(issued.as_bytes()).unwrap();
    let colleague = app.client(&TestCert::new(cert, key));
    let (status, page) = text(&colleague, "/portaal/gegevens").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Collega Bestand"), "{page}");
}
