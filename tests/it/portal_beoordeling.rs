//! The assessor's portal pages (issue 22): a persoonlijk certificate of the
//! insurer with `beoordelen` sees the inbox and the request with its answers
//! and attachments, grants it through the form, and the provider's callback
//! receiver gets the decision. Real server, real mTLS, a real HTTPS receiver.

use machtigingen::registry::{CertKind, PartyKind, Scope};

use crate::fixtures::{Aanvraag, days, load_sample_catalog, submit};
use crate::support::eventually;
use crate::support::form::{csrf_of, post, text};
use crate::terugkoppeling_support as tk;

#[tokio::test]
async fn an_assessor_grants_in_the_portal_and_the_providers_receiver_gets_it() {
    let app = tk::app(r#"["0s", "200ms", "500ms"]"#).await;
    load_sample_catalog(&app);
    let provider = tk::provider(&app);
    let receiver = tk::receiver();
    tk::register(&provider, &receiver, "json").await;
    let doc = Aanvraag::default();
    let id = submit(&provider, &doc).await;

    let insurer = app.party(PartyKind::Zorgverzekeraar, "3311");
    let assessor =
        app.client(&app.issue(&insurer, CertKind::Persoonlijk, &[Scope::Beoordelen], &[]));
    // Staff of the practice have no assessor's pages.
    let staff_party = app.party(PartyKind::Zorgaanbieder, tk::AGB);
    let staff = app.client(&app.issue(
        &staff_party,
        CertKind::Persoonlijk,
        &[Scope::MachtigingenIndienen],
        &[],
    ));
    assert_eq!(text(&staff, "/portaal/beoordeling").await.0, 403);

    let (status, inbox) = text(&assessor, "/portaal/beoordeling").await;
    assert_eq!(status, 200, "{inbox}");
    assert!(
        inbox.contains(&format!("/portaal/beoordeling/{id}")),
        "{inbox}"
    );

    let (status, page) = text(&assessor, &format!("/portaal/beoordeling/{id}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&doc.referentie) && page.contains("999999990"));
    assert!(
        page.contains("GRADEN") && page.contains("<dd>25</dd>"),
        "answers: {page}"
    );
    assert!(page.contains("vooraanzicht.jpg"), "attachments: {page}");
    let token = csrf_of(&page);

    // A question without its text is refused next to the decision.
    let (status, _, body) = post(
        &assessor,
        &format!("/portaal/beoordeling/{id}"),
        &[
            ("_csrf", &token),
            ("beslissing", "AanvullendeInformatieGevraagd"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("id=\"beslissing-fout\""), "{body}");

    let (van, tot) = (days(7).to_string(), days(180).to_string());
    let (status, path, body) = post(
        &assessor,
        &format!("/portaal/beoordeling/{id}"),
        &[
            ("_csrf", &token),
            ("beslissing", "Toegekend"),
            ("geldig_van", &van),
            ("geldig_tot", &tot),
        ],
    )
    .await;
    assert_eq!(
        (status, path.as_str()),
        (200, format!("/portaal/beoordeling/{id}").as_str()),
        "{body}"
    );
    assert!(body.contains("<strong>Toegekend</strong>"), "{body}");
    assert!(body.contains("Machtigingsnummer"), "{body}");

    // The provider's receiver gets the grant, pushed by the dispatcher.
    let delivered = eventually(15, || async {
        receiver.received().iter().any(|m| {
            serde_json::from_str::<serde_json::Value>(&m.body)
                .map(|v| {
                    v["data"]["referentie"] == doc.referentie.as_str()
                        && v["data"]["status"] == "Toegekend"
                })
                .unwrap_or(false)
        })
    })
    .await;
    assert!(
        delivered,
        "{:?}",
        receiver
            .received()
            .iter()
            .map(|m| &m.body)
            .collect::<Vec<_>>()
    );

    // A decided request takes no second decision; the refusal is shown, the
    // decision stays.
    let (status, _, body) = post(
        &assessor,
        &format!("/portaal/beoordeling/{id}"),
        &[
            ("_csrf", &token),
            ("beslissing", "Afgewezen"),
            ("reden_code", "MEDISCH"),
            ("reden_tekst", "Niet medisch noodzakelijk."),
        ],
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("STA-001") && body.contains("<strong>Toegekend</strong>"),
        "{body}"
    );
}

#[tokio::test]
async fn an_assessor_revokes_a_grant_in_the_portal_and_the_provider_sees_it() {
    let app = tk::app(r#"["0s"]"#).await;
    load_sample_catalog(&app);
    let provider = tk::provider(&app);
    let doc = Aanvraag::default();
    let id = submit(&provider, &doc).await;
    let insurer = app.party(PartyKind::Zorgverzekeraar, "3311");
    let assessor =
        app.client(&app.issue(&insurer, CertKind::Persoonlijk, &[Scope::Beoordelen], &[]));
    let page_path = format!("/portaal/beoordeling/{id}");
    let action = format!("{page_path}/herziening");
    let (_, page) = text(&assessor, &page_path).await;
    // Not granted yet: nothing to revise.
    assert!(!page.contains(&action), "{page}");
    let token = csrf_of(&page);
    let (van, tot) = (days(7).to_string(), days(180).to_string());
    let (status, _, page) = post(
        &assessor,
        &page_path,
        &[
            ("_csrf", &token),
            ("beslissing", "Toegekend"),
            ("geldig_van", &van),
            ("geldig_tot", &tot),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!("action=\"{action}\"")), "{page}");

    // A revocation without its reason is refused next to the revision form.
    let (status, _, page) = post(
        &assessor,
        &action,
        &[("_csrf", &token), ("soort", "Herroeping")],
    )
    .await;
    assert!((400..500).contains(&status), "{status} {page}");
    assert!(
        page.contains("id=\"herziening-fout\"") && page.contains("<strong>Toegekend</strong>"),
        "{page}"
    );

    let (status, path, page) = post(
        &assessor,
        &action,
        &[
            ("_csrf", &token),
            ("soort", "Herroeping"),
            ("herzien_reden_code", "FRAUDE"),
            ("herzien_reden_tekst", "Onjuiste gegevens verstrekt."),
        ],
    )
    .await;
    assert_eq!((status, path.as_str()), (200, page_path.as_str()), "{page}");
    assert!(page.contains("<strong>Herroepen</strong>"), "{page}");
    assert!(!page.contains(&action), "{page}");
    let (_, v) = provider
        .get_json(&format!("/api/v1/machtigingsaanvragen/{id}"))
        .await;
    assert_eq!(v["status"], "Herroepen", "{v}");
}
