//! The portal's aanvraag pages (issue 22): practice staff submit through the
//! form (the same XML, intake and service as the API), see the status after
//! the insurer decides, and see a JVC finding next to the field it concerns.
//! Real server, real mTLS, persoonlijk certificates from the project's PKI.

use machtigingen::registry::{CertKind, PartyKind, Scope};

use crate::fixtures::{beoordeling, days, load_sample_catalog};
use crate::support::form::{csrf_of, post, text};
use crate::support::{TestApp, TestClient};

const AGB: &str = "03123456";
/// The sample catalog's PLAST-OOGLID at 3312 asks one question and no attachment.
const KEUZE: &str = "3312|PLAST-OOGLID";

fn staff(app: &TestApp) -> TestClient {
    let party = app.party(PartyKind::Zorgaanbieder, AGB);
    app.client(&app.issue(
        &party,
        CertKind::Persoonlijk,
        &[Scope::MachtigingenIndienen],
        &[],
    ))
}

/// A valid form for KEUZE, with `over` replacing fields.
fn form(
    token: &str,
    referentie: &str,
    over: &[(&'static str, &'static str)],
) -> Vec<(String, String)> {
    let begin = days(7).to_string();
    let eind = days(180).to_string();
    let mut f: Vec<(String, String)> = [
        ("_csrf", token),
        ("keuze", KEUZE),
        ("referentie", referentie),
        ("bsn", "999999990"),
        ("geboortedatum", "1970-03-14"),
        ("achternaam", "Jansen"),
        ("zorgsoort", "0303"),
        ("begindatum", begin.as_str()),
        ("einddatum", eind.as_str()),
        ("prestatie", "DBC-OOGLID"),
        ("vraag-GEZICHTSVELD", "ja"),
        (
            "toelichting",
            "Dermatochalasis <beiderzijds> & gezichtsveld",
        ),
        ("actie", "indienen"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in over {
        if let Some(e) = f.iter_mut().find(|(fk, _)| fk == k) {
            e.1 = v.to_string();
        }
    }
    f
}

fn pairs(f: &[(String, String)]) -> Vec<(&str, &str)> {
    f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test]
async fn staff_submit_through_the_form_and_see_the_status_after_the_insurer_decides() {
    let app = TestApp::spawn().await;
    load_sample_catalog(&app);
    let staff = staff(&app);
    let insurer_party = app.party(PartyKind::Zorgverzekeraar, "3312");
    let insurer =
        app.client(&app.issue(&insurer_party, CertKind::Systeem, &[Scope::Beoordelen], &[]));

    // The chooser lists the catalogs; the chosen verstrekking's questions
    // and prestaties are exactly what the form asks.
    let (status, body) = text(&staff, "/portaal/aanvragen/nieuw").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("value=\"3311|BARIATRIE\""), "{body}");
    let (status, body) = text(&staff, "/portaal/aanvragen/nieuw?keuze=3312%7CPLAST-OOGLID").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<label for=\"vraag-GEZICHTSVELD\">"),
        "{body}"
    );
    assert!(
        !body.contains("vraag-GRADEN"),
        "3311's question is not asked at 3312"
    );
    assert!(body.contains("value=\"DBC-OOGLID\""));
    for field in [
        "bsn",
        "geboortedatum",
        "begindatum",
        "einddatum",
        "referentie",
    ] {
        assert!(
            body.contains(&format!("<label for=\"{field}\">")),
            "{field}"
        );
    }
    let token = csrf_of(&body);

    let referentie = format!("PORTAAL-{}", crate::fixtures::random_suffix());
    let f = form(&token, &referentie, &[]);
    let (status, path, body) = post(&staff, "/portaal/aanvragen/nieuw", &pairs(&f)).await;
    assert_eq!(status, 200, "{body}");
    let id = path
        .strip_prefix("/portaal/aanvragen/")
        .unwrap_or_else(|| panic!("{path}: {body}"))
        .to_owned();
    assert!(body.contains("<strong>Ingediend</strong>"), "{body}");

    // The same request as the API sees it: the insurer's inbox and dossier
    // hold the document the form made, escaped as any XML client would.
    let (status, dossier) = insurer
        .get_json(&format!("/api/v1/beoordeling/machtigingsaanvragen/{id}"))
        .await;
    assert_eq!(status, 200, "{dossier}");
    let doc = dossier["document"].as_str().unwrap();
    assert!(
        doc.contains(&referentie) && doc.contains("&lt;beiderzijds&gt; &amp;"),
        "{doc}"
    );
    assert_eq!(
        dossier["machtigingsaanvraag"]["verzekerde"]["bsn"],
        "999999990"
    );

    let (status, d) = insurer
        .post_json(
            &format!("/api/v1/beoordeling/machtigingsaanvragen/{id}/beoordeling"),
            &beoordeling("Toegekend"),
        )
        .await;
    assert_eq!(status, 200, "{d}");
    let number = d["beslissing"]["machtigingsnummer"].as_str().unwrap();

    let (status, body) = text(&staff, &format!("/portaal/aanvragen/{id}")).await;
    assert_eq!(status, 200);
    assert!(body.contains("<strong>Toegekend</strong>"), "{body}");
    assert!(body.contains(number), "the Machtigingsnummer: {body}");
    assert!(body.contains("tot en met"), "validity: {body}");

    // The list finds it by status, and by patient in a POST (no BSN in a URL).
    let (_, list) = text(&staff, "/portaal/aanvragen").await;
    assert!(list.contains(&referentie), "{list}");
    let token = csrf_of(&list);
    let (status, _, found) = post(
        &staff,
        "/portaal/aanvragen",
        &[
            ("_csrf", &token),
            ("status", "Toegekend"),
            ("bsn", "999999990"),
            ("geboortedatum", "1970-03-14"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert!(found.contains(&referentie), "{found}");
    let (_, _, none) = post(
        &staff,
        "/portaal/aanvragen",
        &[("_csrf", &token), ("status", "Afgewezen")],
    )
    .await;
    assert!(!none.contains(&referentie));
}

#[tokio::test]
async fn a_jvc_finding_appears_next_to_its_field() {
    let app = TestApp::spawn().await;
    load_sample_catalog(&app);
    app.party(PartyKind::Zorgverzekeraar, "3312");
    let staff = staff(&app);
    let (_, body) = text(&staff, "/portaal/aanvragen/nieuw?keuze=3312%7CPLAST-OOGLID").await;
    let token = csrf_of(&body);

    // A BSN failing the 11-proef: JVC-J01 next to the BSN field, announced
    // to assistive technology, the entered values kept.
    let f = form(&token, "PORTAAL-BSN", &[("bsn", "123456789")]);
    let (status, path, body) = post(&staff, "/portaal/aanvragen/nieuw", &pairs(&f)).await;
    assert_eq!(
        (status, path.as_str()),
        (422, "/portaal/aanvragen/nieuw"),
        "{body}"
    );
    let err = body
        .find("id=\"bsn-fout\"")
        .unwrap_or_else(|| panic!("{body}"));
    assert!(
        body[err..].starts_with("id=\"bsn-fout\">") && body[err..err + 300].contains("JVC-J01"),
        "{body}"
    );
    assert!(
        body.contains("id=\"bsn\" name=\"bsn\" value=\"123456789\" aria-invalid=\"true\" aria-describedby=\"bsn-fout\""),
        "{body}"
    );
    assert!(
        body.contains("value=\"PORTAAL-BSN\""),
        "entered values are kept"
    );

    // An answer of the wrong type: next to that question.
    let f = form(
        &token,
        "PORTAAL-VRAAG",
        &[("vraag-GEZICHTSVELD", "misschien")],
    );
    let (status, _, body) = post(&staff, "/portaal/aanvragen/nieuw", &pairs(&f)).await;
    assert_eq!(status, 422, "{body}");
    let err = body
        .find("id=\"vraag-GEZICHTSVELD-fout\"")
        .unwrap_or_else(|| panic!("{body}"));
    assert!(body[err..err + 300].contains("JVC-J07"), "{body}");

    // An XSD finding (a BSN that is not nine digits) next to its field too.
    let f = form(&token, "PORTAAL-XSD", &[("bsn", "12ab")]);
    let (status, _, body) = post(&staff, "/portaal/aanvragen/nieuw", &pairs(&f)).await;
    assert_eq!(status, 400, "{body}");
    let err = body
        .find("id=\"bsn-fout\"")
        .unwrap_or_else(|| panic!("{body}"));
    assert!(body[err..err + 400].contains("XSD-001"), "{body}");

    // A required attachment not sent: JVC-V02 next to its file field.
    let f = form(&token, "PORTAAL-BIJLAGE", &[("keuze", "3311|PLAST-OOGLID")]);
    let (status, _, body) = post(&staff, "/portaal/aanvragen/nieuw", &pairs(&f)).await;
    assert_eq!(status, 422, "{body}");
    let err = body
        .find("id=\"bijlage-foto-fout\"")
        .unwrap_or_else(|| panic!("{body}"));
    assert!(body[err..err + 300].contains("JVC-V02"), "{body}");

    // Nothing was stored.
    let (_, list) = text(&staff, "/portaal/aanvragen").await;
    assert!(list.contains("Gevonden: 0"), "{list}");
}

#[tokio::test]
async fn staff_withdraw_a_request_and_a_second_withdrawal_is_refused_next_to_the_form() {
    let app = TestApp::spawn().await;
    load_sample_catalog(&app);
    let provider = app.provider(AGB, &[Scope::MachtigingenIndienen]);
    let id = crate::fixtures::submit(&provider, &crate::fixtures::Aanvraag::default()).await;
    let party = app.party(PartyKind::Zorgaanbieder, AGB);
    let reader = app.client(&app.issue(
        &party,
        CertKind::Persoonlijk,
        &[Scope::MachtigingenRaadplegen],
        &[],
    ));
    let detail = format!("/portaal/aanvragen/{id}");
    let action = format!("{detail}/intrekken");
    // Reading alone offers no withdrawal.
    let (status, page) = text(&reader, &detail).await;
    assert_eq!(status, 200, "{page}");
    assert!(!page.contains(&action), "{page}");

    let staff = staff(&app);
    let (status, page) = text(&staff, &detail).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("action=\"{action}\"")), "{page}");
    let token = csrf_of(&page);

    let (status, path, page) = post(
        &staff,
        &action,
        &[
            ("_csrf", &token),
            ("reden", "Patiënt ziet af van de behandeling"),
        ],
    )
    .await;
    assert_eq!((status, path.as_str()), (200, detail.as_str()), "{page}");
    assert!(
        page.contains("<strong>Ingetrokken</strong>") && page.contains("is ingetrokken"),
        "{page}"
    );
    assert!(!page.contains(&action), "{page}");
    // The provider's software sees the same status.
    let (_, v) = provider
        .get_json(&format!("/api/v1/machtigingsaanvragen/{id}"))
        .await;
    assert_eq!(v["status"], "Ingetrokken", "{v}");

    // Withdrawn once: a second one is STA-001 next to the form.
    let (status, _, page) = post(&staff, &action, &[("_csrf", &token)]).await;
    assert_eq!(status, 409, "{page}");
    assert!(
        page.contains("id=\"intrekken-fout\"") && page.contains("STA-001"),
        "{page}"
    );
}
