//! The practice's supplements (aanvullingen) on the portal's detail pages
//! (issue 22): after the insurer asked a question and the practice supplied
//! information — over REST, then through the portal — the assessor's page
//! and the staff's request page show each supplement (its question, answer,
//! remark and attachments), and the supplements' attachments download under
//! the numbers after the request's own, with the same access rules, headers
//! and audit rows as the original attachments. Real server, real mTLS,
//! persoonlijk certificates, both backends.

use diesel::prelude::*;
use machtigingen::db::schema::{audit_log, machtiging_events};
use machtigingen::registry::{CertKind, PartyKind, Scope};

use crate::fixtures::{
    Aanvraag, Bijlage, aanvulling_element, bijlagen_xml, insurer_sets, load_sample_catalog,
    post_xml, submit,
};
use crate::support::form::{File, csrf_of, post_multipart, text};
use crate::support::{TestApp, TestClient};

fn person(app: &TestApp, kind: PartyKind, code: &str, scopes: &[Scope]) -> TestClient {
    let p = app.party(kind, code);
    app.client(&app.issue(&p, CertKind::Persoonlijk, scopes, &[]))
}

fn assessor(app: &TestApp, uzovi: &str) -> TestClient {
    person(app, PartyKind::Zorgverzekeraar, uzovi, &[Scope::Beoordelen])
}

/// `AanvullendeInformatie` answering FOTO-ZIJ with a remark and `bijlagen`.
fn supplement(bijlagen: &[Bijlage]) -> String {
    let x = aanvulling_element(
        &[("FOTO-ZIJ", "Zie de bijgevoegde brief.")],
        Some("Verslag van de oogarts."),
    );
    x.replace(
        "</AanvullendeInformatie>",
        &format!("{}</AanvullendeInformatie>", bijlagen_xml(bijlagen, "  ")),
    )
}

#[tokio::test]
async fn supplements_are_shown_and_their_attachments_download_on_both_detail_pages() {
    let app = TestApp::spawn().await;
    load_sample_catalog(&app);
    let provider = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    let doc = Aanvraag::default();
    assert_eq!(doc.bijlagen.len(), 1, "the request's own attachment is 1");
    let id = submit(&provider, &doc).await;
    insurer_sets(&app, &id, "AanvullendeInformatieGevraagd").await;

    // The practice supplies over REST, with a PDF.
    let pdf = b"%PDF-1.4\nbrief van de oogarts\n%%EOF".to_vec();
    let brief = Bijlage {
        soort: "verslag".into(),
        naam: "brief oogarts.pdf".into(),
        media_type: "application/pdf".into(),
        inhoud: pdf.clone(),
    };
    let (status, body) = post_xml(
        &provider,
        &format!("/api/v1/machtigingsaanvragen/{id}/aanvullende-informatie"),
        &supplement(&[brief]),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // The assessor's page: the question as asked, the answer, the remark
    // and the attachment as number 2, after the request's own.
    let a = assessor(&app, "3311");
    let page_path = format!("/portaal/beoordeling/{id}");
    let (status, page) = text(&a, &page_path).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<h2 id=\"h-aanvullingen\">Aanvullende informatie</h2>"),
        "{page}"
    );
    assert!(page.contains("Aanvulling 1, geleverd op "), "{page}");
    assert!(
        page.contains("<dt>Graag ook een foto van opzij.</dt><dd>Zie de bijgevoegde brief.</dd>"),
        "{page}"
    );
    assert!(
        page.contains("<dt>Toelichting</dt><dd>Verslag van de oogarts.</dd>"),
        "{page}"
    );
    let link = format!("/portaal/beoordeling/{id}/bijlagen/2");
    assert!(
        page.contains(&format!(
            "href=\"{link}\" download>brief oogarts.pdf (verslag, application/pdf, {} bytes)",
            pdf.len()
        )),
        "{page}"
    );
    let r = a.get(&link).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"brief oogarts.pdf\"; filename*=UTF-8''brief%20oogarts.pdf"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf);
    // The request's own attachment keeps its number.
    let r = a
        .get(&format!("/portaal/beoordeling/{id}/bijlagen/1"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), doc.bijlagen[0].inhoud);
    assert_eq!(
        text(&a, &format!("/portaal/beoordeling/{id}/bijlagen/3"))
            .await
            .0,
        404
    );

    // Asked again, the practice's staff supply through the portal: a TIFF,
    // number 3.
    insurer_sets(&app, &id, "AanvullendeInformatieGevraagd").await;
    let staff = person(
        &app,
        PartyKind::Zorgaanbieder,
        "03123456",
        &[Scope::MachtigingenIndienen, Scope::MachtigingenRaadplegen],
    );
    let detail = format!("/portaal/aanvragen/{id}");
    let (status, page) = text(&staff, &detail).await;
    assert_eq!(status, 200, "{page}");
    let token = csrf_of(&page);
    let tiff = b"II*\x00 zijaanzicht".to_vec();
    let (status, path, page) = post_multipart(
        &staff,
        &format!("{detail}/aanvullen"),
        &[
            ("_csrf", &token),
            ("antwoord-FOTO-ZIJ", "Foto van opzij."),
            ("bijlage-soort", "foto"),
        ],
        &[File {
            field: "bijlage",
            name: "zijaanzicht.tif",
            media_type: "image/tiff",
            content: tiff.clone(),
        }],
    )
    .await;
    assert_eq!((status, path.as_str()), (200, detail.as_str()), "{page}");

    // The staff's page lists both, in order, with their links.
    assert!(
        page.contains("Aanvulling 1, geleverd op ") && page.contains("Aanvulling 2, geleverd op "),
        "{page}"
    );
    assert!(
        page.find("Zie de bijgevoegde brief.").unwrap()
            < page.find("<dd>Foto van opzij.</dd>").unwrap(),
        "{page}"
    );
    let link = format!("/portaal/aanvragen/{id}/bijlagen/3");
    assert!(
        page.contains(&format!(
            "href=\"{link}\" download>zijaanzicht.tif (foto, image/tiff, {} bytes)",
            tiff.len()
        )),
        "{page}"
    );
    assert!(
        page.contains(&format!("href=\"/portaal/aanvragen/{id}/bijlagen/2\"")),
        "{page}"
    );
    let r = staff.get(&link).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/tiff");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.bytes().await.unwrap().to_vec(), tiff);
    let r = staff
        .get(&format!("/portaal/aanvragen/{id}/bijlagen/2"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf);
    // And the assessor has the second one too.
    let (_, page) = text(&a, &page_path).await;
    assert!(
        page.contains(&format!("href=\"/portaal/beoordeling/{id}/bijlagen/3\"")),
        "{page}"
    );

    // Another insurer's assessor: 404, as for the request; a person of the
    // practice without raadplegen: 403.
    let (status, body) = text(
        &assessor(&app, "3312"),
        &format!("/portaal/beoordeling/{id}/bijlagen/2"),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(!body.contains("oogarts"), "{body}");
    let optin = person(
        &app,
        PartyKind::Zorgaanbieder,
        "03123456",
        &[Scope::OptinAfhandelen],
    );
    let (status, body) = text(&optin, &format!("/portaal/aanvragen/{id}/bijlagen/3")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("AUTZ-001"), "{body}");

    // Audited as reads of the request, with the number.
    let rows: Vec<(String, String)> = audit_log::table
        .filter(audit_log::object_id.eq(&id))
        .filter(audit_log::outcome.eq("ok"))
        .filter(audit_log::detail.like("%bijlage%"))
        .select((audit_log::action, audit_log::detail))
        .load(&mut *app.db.conn().unwrap())
        .unwrap();
    for (action, n) in [
        ("beoordeling.raadplegen", "2"),
        ("machtigingsaanvraag.raadplegen", "3"),
    ] {
        assert!(
            rows.iter()
                .any(|(a, d)| a == action && d.replace(' ', "").contains(&format!(":{n}"))),
            "{action} {n}: {rows:?}"
        );
    }

    // The hash recorded with the supplement guards what is served.
    let tampered = serde_json::json!({"antwoorden": 1, "bijlagen": 1, "sha256": ["00"]});
    diesel::update(
        machtiging_events::table
            .filter(machtiging_events::request_id.eq(&id))
            .filter(machtiging_events::action.eq("aanvullendeInformatie")),
    )
    .set(machtiging_events::detail.eq(tampered.to_string()))
    .execute(&mut *app.db.conn().unwrap())
    .unwrap();
    let (status, body) = text(&a, &format!("/portaal/beoordeling/{id}/bijlagen/2")).await;
    assert_eq!(status, 500, "{body}");
    assert!(!body.contains("oogarts"), "{body}");
    // Without recorded hashes (events from before they were recorded) the
    // attachment is served as stored, and the question's id stands in for
    // its text.
    diesel::update(
        machtiging_events::table
            .filter(machtiging_events::request_id.eq(&id))
            .filter(machtiging_events::action.eq("aanvullendeInformatie")),
    )
    .set(machtiging_events::detail.eq(r#"{"antwoorden":1,"bijlagen":1}"#))
    .execute(&mut *app.db.conn().unwrap())
    .unwrap();
    let r = a
        .get(&format!("/portaal/beoordeling/{id}/bijlagen/2"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf);
    let (_, page) = text(&a, &page_path).await;
    assert!(
        page.contains("<dt>Vraag FOTO-ZIJ</dt><dd>Zie de bijgevoegde brief.</dd>"),
        "{page}"
    );
}
