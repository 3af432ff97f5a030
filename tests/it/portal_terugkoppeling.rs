//! The callback registration page (`/portaal/beheer/terugkoppeling`, issue
//! 22): a person with `terugkoppeling:beheren` registers the party's
//! endpoint, sees a terugkoppeling that could not be delivered among the dead
//! letters, points the registration at a working receiver and sends it again
//! from the page. Real server, real mTLS, a real HTTPS receiver.

use machtigingen::registry::{CertKind, PartyKind, Scope};

use crate::support::form::{csrf_of, post, text};
use crate::support::{eventually, free_port};
use crate::terugkoppeling_support as tk;

const PAGE: &str = "/portaal/beheer/terugkoppeling";

/// The signing secret the page shows once after a registration.
fn secret_of(body: &str) -> String {
    let at = body.find("id=\"geheim\">").expect(body);
    let rest = &body[at + 12..];
    rest[..rest.find('<').unwrap()]
        .replace("&#43;", "+")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
}

#[tokio::test]
async fn a_person_registers_the_callback_and_replays_a_dead_letter_from_the_page() {
    let app = tk::app(r#"["0s", "100ms"]"#).await;
    let party = app.party(PartyKind::Zorgaanbieder, tk::AGB);
    let person = app.client(&app.issue(
        &party,
        CertKind::Persoonlijk,
        &[Scope::TerugkoppelingBeheren, Scope::MachtigingenIndienen],
        &[],
    ));
    let staff = app.client(&app.issue(
        &party,
        CertKind::Persoonlijk,
        &[Scope::MachtigingenIndienen],
        &[],
    ));
    assert_eq!(text(&staff, PAGE).await.0, 403);

    let (status, body) = text(&person, PAGE).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("geen terugkoppelingsabonnement"), "{body}");
    let token = csrf_of(&body);

    // Without its CSRF token nothing is registered.
    let closed = format!("https://localhost:{}/terugkoppeling", free_port());
    let (status, _, body) = post(
        &person,
        "/portaal/beheer/terugkoppeling/abonnement",
        &[("url", &closed), ("formaat", "json")],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("REQ-007"), "{body}");

    // An http:// address is refused next to the form; what was entered stays.
    let (status, _, body) = post(
        &person,
        "/portaal/beheer/terugkoppeling/abonnement",
        &[
            ("_csrf", &token),
            ("url", "http://localhost/terugkoppeling"),
            ("formaat", "json"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("id=\"abonnement-fout\"") && body.contains("TKP-001"),
        "{body}"
    );
    assert!(
        body.contains("value=\"http://localhost/terugkoppeling\""),
        "{body}"
    );
    assert!(body.contains("geen terugkoppelingsabonnement"), "{body}");

    // Registered at an address where nothing listens: stored, the check failed.
    let ca = tk::ca_pem();
    let (status, _, body) = post(
        &person,
        "/portaal/beheer/terugkoppeling/abonnement",
        &[
            ("_csrf", &token),
            ("url", &closed),
            ("formaat", "json"),
            ("ca_bundle", &ca),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("controleaanroep"), "{body}");
    assert!(body.contains("is mislukt"), "{body}");
    let secret = secret_of(&body);
    assert!(secret.starts_with("whsec_"), "{secret}");

    // A terugkoppeling to it dies after the schedule's attempts.
    let id = tk::enqueue(&app, "portaal-dood", "REF-PORTAAL-1");
    let dead = eventually(15, || async {
        let (_, body) = text(&person, PAGE).await;
        body.contains(&format!(
            "/portaal/beheer/terugkoppeling/berichten/{id}/opnieuw"
        ))
    })
    .await;
    assert!(dead, "{}", text(&person, PAGE).await.1);

    // The registration moves to a working receiver; the secret stays.
    let receiver = tk::receiver();
    receiver.set_secrets(vec![secret]);
    let url = format!("https://localhost:{}/terugkoppeling", receiver.addr.port());
    let (status, _, body) = post(
        &person,
        "/portaal/beheer/terugkoppeling/abonnement",
        &[
            ("_csrf", &token),
            ("url", &url),
            ("formaat", "json"),
            ("ca_bundle", &ca),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("is geslaagd"), "{body}");
    assert!(tk::referenties(&receiver).is_empty());

    // Replay from the page: the receiver gets it, the log says delivered.
    let (status, path, body) = post(
        &person,
        &format!("/portaal/beheer/terugkoppeling/berichten/{id}/opnieuw"),
        &[("_csrf", &token)],
    )
    .await;
    assert_eq!((status, path.as_str()), (200, PAGE), "{body}");
    assert!(body.contains("opnieuw verstuurd"), "{body}");
    let delivered = eventually(15, || async {
        tk::referenties(&receiver).contains(&"REF-PORTAAL-1".to_owned())
    })
    .await;
    assert!(delivered);
    let shown = eventually(15, || async {
        let (_, body) = text(&person, PAGE).await;
        !body.contains(&format!("/berichten/{id}/opnieuw")) && body.contains("afgeleverd")
    })
    .await;
    assert!(shown, "{}", text(&person, PAGE).await.1);

    // Another party's terugkoppeling id is not found.
    let (status, _, _) = post(
        &person,
        "/portaal/beheer/terugkoppeling/berichten/TK00000000000000000000000000000000/opnieuw",
        &[("_csrf", &token)],
    )
    .await;
    assert_eq!(status, 404);
}
