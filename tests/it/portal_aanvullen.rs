//! Practice staff's second half of the portal's aanvraag pages (issue 22):
//! attachments on the form (`multipart/form-data`) for a verstrekking that
//! requires one, answering the insurer's question on the request's page,
//! and changing a Concept — each through the same intake and service as the
//! API, with the refusals (missing, wrong type, oversize attachment, no CSRF
//! token) shown next to the file field and nothing stored. Real server, real
//! mTLS, persoonlijk certificates from the project's PKI, both backends.

use machtigingen::registry::{CertKind, PartyKind, Scope};

use crate::fixtures::{beoordeling, days, load_sample_catalog, random_suffix};
use crate::support::form::{File, csrf_of, post_multipart, text};
use crate::support::{TestApp, TestClient};

const AGB: &str = "03123456";
/// The sample catalog's PLAST-OOGLID at 3311 requires an attachment of kind
/// `foto` (and asks GEZICHTSVELD and GRADEN).
const KEUZE: &str = "3311|PLAST-OOGLID";
const NEW: &str = "/portaal/aanvragen/nieuw";

fn staff(app: &TestApp) -> TestClient {
    let party = app.party(PartyKind::Zorgaanbieder, AGB);
    app.client(&app.issue(
        &party,
        CertKind::Persoonlijk,
        &[Scope::MachtigingenIndienen],
        &[],
    ))
}

fn insurer(app: &TestApp) -> TestClient {
    let party = app.party(PartyKind::Zorgverzekeraar, "3311");
    app.client(&app.issue(&party, CertKind::Systeem, &[Scope::Beoordelen], &[]))
}

/// A valid form for KEUZE (without its attachment), `over` replacing fields.
fn form(
    token: &str,
    referentie: &str,
    actie: &str,
    over: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = [
        ("_csrf", token.to_owned()),
        ("keuze", KEUZE.to_owned()),
        ("referentie", referentie.to_owned()),
        ("bsn", "999999990".to_owned()),
        ("geboortedatum", "1970-03-14".to_owned()),
        ("achternaam", "Jansen".to_owned()),
        ("zorgsoort", "0303".to_owned()),
        ("begindatum", days(7).to_string()),
        ("einddatum", days(180).to_string()),
        ("prestatie", "DBC-OOGLID".to_owned()),
        ("vraag-GEZICHTSVELD", "ja".to_owned()),
        ("vraag-GRADEN", "25".to_owned()),
        ("actie", actie.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in over {
        match f.iter_mut().find(|(fk, _)| fk == k) {
            Some(e) => e.1 = v.to_string(),
            None => f.push((k.to_string(), v.to_string())),
        }
    }
    f
}

fn pairs(f: &[(String, String)]) -> Vec<(&str, &str)> {
    f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A small JPEG-typed file (the platform checks the declared type, as the
/// XML door does; it does not sniff content).
fn photo(field: &str) -> File<'_> {
    File {
        field,
        name: "vooraanzicht.jpg",
        media_type: "image/jpeg",
        content: b"\xff\xd8\xff\xe0 foto van voren".to_vec(),
    }
}

/// The text of the element with `id` and what follows, for asserting what
/// is shown next to a field.
fn near<'a>(body: &'a str, id: &str) -> &'a str {
    let at = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no {id}: {body}"));
    &body[at..(at + 400).min(body.len())]
}

fn id_of(path: &str, body: &str) -> String {
    path.strip_prefix("/portaal/aanvragen/")
        .filter(|id| !id.contains('/'))
        .unwrap_or_else(|| panic!("{path}: {body}"))
        .to_owned()
}

#[tokio::test]
async fn staff_submit_with_an_attachment_and_answer_the_insurers_question() {
    let app = TestApp::spawn().await;
    load_sample_catalog(&app);
    let staff = staff(&app);
    let insurer = insurer(&app);

    // The form asks for the required kind in a file field of its own.
    let (status, body) = text(&staff, &format!("{NEW}?keuze=3311%7CPLAST-OOGLID")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("enctype=\"multipart/form-data\""), "{body}");
    assert!(
        body.contains("<label for=\"bijlage-foto\">Bijlage: foto (verplicht)</label>"),
        "{body}"
    );
    let token = csrf_of(&body);

    let referentie = format!("PORTAAL-{}", random_suffix());
    let f = form(&token, &referentie, "indienen", &[]);
    let (status, path, body) =
        post_multipart(&staff, NEW, &pairs(&f), &[photo("bijlage-foto")]).await;
    assert_eq!(status, 200, "{body}");
    let id = id_of(&path, &body);
    assert!(body.contains("<strong>Ingediend</strong>"), "{body}");

    // The insurer's dossier holds the attachment in the same document the
    // API would have sent.
    let dossier_path = format!("/api/v1/beoordeling/machtigingsaanvragen/{id}");
    let (status, dossier) = insurer.get_json(&dossier_path).await;
    assert_eq!(status, 200, "{dossier}");
    let doc = dossier["document"].as_str().unwrap();
    assert!(
        doc.contains(
            "<Soort>foto</Soort><Naam>vooraanzicht.jpg</Naam><MediaType>image/jpeg</MediaType>"
        ),
        "{doc}"
    );

    // The insurer asks a question; the page shows it with a form to answer.
    let (status, d) = insurer
        .post_json(
            &format!("{dossier_path}/beoordeling"),
            &beoordeling("AanvullendeInformatieGevraagd"),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    let detail = format!("/portaal/aanvragen/{id}");
    let action = format!("{detail}/aanvullen");
    let (status, page) = text(&staff, &detail).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<strong>AanvullendeInformatieGevraagd</strong>")
            && page
                .contains("<label for=\"antwoord-FOTO-ZIJ\">Graag ook een foto van opzij.</label>")
            && page.contains(&format!("action=\"{action}\"")),
        "{page}"
    );
    let token = csrf_of(&page);

    // Nothing supplied: JVC-V03, the status unchanged.
    let (status, _, page) = post_multipart(&staff, &action, &[("_csrf", &token)], &[]).await;
    assert_eq!(status, 422, "{page}");
    assert!(
        near(&page, "aanvullen-melding").contains("JVC-V03"),
        "{page}"
    );
    // A file of a type the platform does not take: next to the file field,
    // the answer typed kept.
    let zip = File {
        field: "bijlage",
        name: "fotos.zip",
        media_type: "application/zip",
        content: b"PK\x03\x04".to_vec(),
    };
    let answer = [
        ("_csrf", token.as_str()),
        ("antwoord-FOTO-ZIJ", "Foto van opzij bijgevoegd."),
        ("bijlage-soort", "foto"),
    ];
    let (status, _, page) = post_multipart(&staff, &action, &answer, &[zip]).await;
    assert_eq!(status, 422, "{page}");
    assert!(
        near(&page, "aanvul-bijlage-fout").contains("JVC-J04"),
        "{page}"
    );
    assert!(
        page.contains(">Foto van opzij bijgevoegd.</textarea>"),
        "{page}"
    );
    let (_, v) = insurer.get_json(&dossier_path).await;
    assert_eq!(
        v["machtigingsaanvraag"]["status"],
        "AanvullendeInformatieGevraagd"
    );

    // Answered with a photo: the insurer works on it again and has it.
    let (status, path, page) = post_multipart(
        &staff,
        &action,
        &answer,
        &[File {
            name: "zijaanzicht.png",
            media_type: "image/png",
            ..photo("bijlage")
        }],
    )
    .await;
    assert_eq!((status, path.as_str()), (200, detail.as_str()), "{page}");
    assert!(
        page.contains("<strong>InBehandeling</strong>") && page.contains("is verstuurd"),
        "{page}"
    );
    assert!(!page.contains(&action), "no second answer form: {page}");
    let (_, inbox) = insurer.get_json("/api/v1/beoordeling/inbox").await;
    let supplied = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["soort"] == "aanvullendeInformatie")
        .unwrap_or_else(|| panic!("{inbox}"));
    assert_eq!(supplied["machtigingsaanvraagId"], id.as_str(), "{inbox}");
}

#[tokio::test]
async fn attachment_refusals_are_shown_next_to_the_file_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    load_sample_catalog(&app);
    let staff = staff(&app);
    let (_, body) = text(&staff, &format!("{NEW}?keuze=3311%7CPLAST-OOGLID")).await;
    let token = csrf_of(&body);
    let f = form(&token, "PORTAAL-BIJLAGE", "indienen", &[]);

    // The required kind missing: JVC-V02 next to its file field.
    let (status, _, body) = post_multipart(&staff, NEW, &pairs(&f), &[]).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        near(&body, "bijlage-foto-fout").contains("JVC-V02"),
        "{body}"
    );
    assert!(
        body.contains("id=\"bijlage-foto\" name=\"bijlage-foto\""),
        "{body}"
    );

    // A type the platform does not take: JVC-J04 next to the field it came in.
    let exe = File {
        field: "bijlage-overig",
        name: "setup.exe",
        media_type: "application/x-msdownload",
        content: b"MZ".to_vec(),
    };
    let (status, _, body) =
        post_multipart(&staff, NEW, &pairs(&f), &[photo("bijlage-foto"), exe]).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        near(&body, "bijlage-overig-fout").contains("JVC-J04"),
        "{body}"
    );

    // Over the documented 20 MB of attachments: JVC-J05 next to the files.
    let big = File {
        field: "bijlage-overig",
        name: "scan.pdf",
        media_type: "application/pdf",
        content: vec![b'%'; 20 * 1024 * 1024 + 1],
    };
    let (status, _, body) =
        post_multipart(&staff, NEW, &pairs(&f), &[photo("bijlage-foto"), big]).await;
    assert_eq!(status, 422, "{body}");
    assert!(near(&body, "bijlagen-fout").contains("JVC-J05"), "{body}");

    // A multipart form without its CSRF token changes nothing.
    let without: Vec<(&str, &str)> = pairs(&f)
        .into_iter()
        .filter(|(k, _)| *k != "_csrf")
        .collect();
    let (status, _, body) = post_multipart(&staff, NEW, &without, &[photo("bijlage-foto")]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("REQ-007"), "{body}");

    let (_, list) = text(&staff, "/portaal/aanvragen").await;
    assert!(list.contains("Gevonden: 0"), "{list}");
}

#[tokio::test]
async fn a_form_past_the_body_limit_is_refused_next_to_the_file_field() {
    let app = TestApp::builder()
        .config("[server]\nbody_limit = 65536")
        .spawn()
        .await;
    load_sample_catalog(&app);
    let staff = staff(&app);
    let (_, body) = text(&staff, &format!("{NEW}?keuze=3311%7CPLAST-OOGLID")).await;
    let token = csrf_of(&body);
    let f = form(&token, "PORTAAL-GROOT", "indienen", &[]);
    let big = File {
        content: vec![0xff; 100 * 1024],
        ..photo("bijlage-foto")
    };
    let (status, _, body) = post_multipart(&staff, NEW, &pairs(&f), &[big]).await;
    assert_eq!(status, 413, "{body}");
    assert!(near(&body, "bijlagen-fout").contains("REQ-002"), "{body}");
    assert!(
        body.contains("value=\"PORTAAL-GROOT\""),
        "entered values kept: {body}"
    );
    let (_, list) = text(&staff, "/portaal/aanvragen").await;
    assert!(list.contains("Gevonden: 0"), "{list}");
}

#[tokio::test]
async fn staff_change_a_concept_keep_its_attachment_and_submit_it() {
    let app = TestApp::spawn().await;
    load_sample_catalog(&app);
    let staff = staff(&app);
    let insurer = insurer(&app);
    let (_, body) = text(&staff, &format!("{NEW}?keuze=3311%7CPLAST-OOGLID")).await;
    let token = csrf_of(&body);

    // Saved as Concept with its photo, and an incomplete answer.
    let referentie = format!("CONCEPT-{}", random_suffix());
    let f = form(&token, &referentie, "concept", &[("achternaam", "Janssen")]);
    let (status, path, page) =
        post_multipart(&staff, NEW, &pairs(&f), &[photo("bijlage-foto")]).await;
    assert_eq!(status, 200, "{page}");
    let id = id_of(&path, &page);
    assert!(page.contains("<strong>Concept</strong>"), "{page}");
    let change = format!("/portaal/aanvragen/{id}/wijzigen");
    assert!(page.contains(&format!("href=\"{change}\"")), "{page}");

    // The form comes back filled in, the photo listed, the reference fixed.
    let (status, page) = text(&staff, &change).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("value=\"Janssen\"")
            && page.contains(&format!("value=\"{referentie}\" readonly"))
            && page.contains("vooraanzicht.jpg (foto, image/jpeg) verwijderen")
            && page.contains("value=\"DBC-OOGLID\" checked")
            && page.contains(&format!("action=\"{change}\"")),
        "{page}"
    );
    let token = csrf_of(&page);

    // Removing the photo leaves a document without it: JVC-V02, still Concept.
    let f = form(
        &token,
        &referentie,
        "indienen",
        &[("achternaam", "Jansen"), ("verwijder-bijlage", "0")],
    );
    let (status, _, page) = post_multipart(&staff, &change, &pairs(&f), &[]).await;
    assert_eq!(status, 422, "{page}");
    assert!(
        near(&page, "bijlage-foto-fout").contains("JVC-V02"),
        "{page}"
    );

    // Changed and submitted, the stored photo kept.
    let f = form(&token, &referentie, "indienen", &[("achternaam", "Jansen")]);
    let (status, path, page) = post_multipart(&staff, &change, &pairs(&f), &[]).await;
    assert_eq!((status, id_of(&path, &page)), (200, id.clone()), "{page}");
    assert!(page.contains("<strong>Ingediend</strong>"), "{page}");
    assert!(
        !page.contains(&change),
        "a submitted request is not changed here"
    );
    let (status, dossier) = insurer
        .get_json(&format!("/api/v1/beoordeling/machtigingsaanvragen/{id}"))
        .await;
    assert_eq!(status, 200, "{dossier}");
    let doc = dossier["document"].as_str().unwrap();
    assert!(
        doc.contains("<Achternaam>Jansen</Achternaam>") && doc.contains("vooraanzicht.jpg"),
        "{doc}"
    );
    // Only a Concept is changed on this page.
    let (status, page) = text(&staff, &change).await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("STA-001"), "{page}");
}
