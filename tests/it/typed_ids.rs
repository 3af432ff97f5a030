//! Typed ids (`machtigingen::ids`) change nothing on the wire: an id a
//! client sends that is not of the right form is answered exactly as a
//! well-formed id that names nothing — same status, same body, same order of
//! checks (authorization first) and the same audit entry.

use diesel::prelude::*;
use machtigingen::db::schema::audit_log;
use machtigingen::registry::Scope;
use serde_json::json;

use crate::fixtures::{insurer, load_sample_catalog};
use crate::support::{TestApp, TestClient};
use crate::terugkoppeling_support as tks;

const HEX: &str = "0190a1b2c3d4e5f60718293a4b5c6d7e";

/// Ids of the wrong form for `prefix`: short, long, uppercase hex, non-hex,
/// another kind's prefix, no prefix.
fn malformed(prefix: &str) -> Vec<String> {
    vec![
        format!("{prefix}123"),
        format!("{prefix}{HEX}0"),
        format!("{prefix}{}", HEX.to_ascii_uppercase()),
        format!("{prefix}{}g", &HEX[1..]),
        format!("XX{HEX}"),
        HEX.to_owned(),
        "1'or'1'='1".to_owned(),
    ]
}

/// A problem body without what names the request (its path).
async fn answer(client: &TestClient, path: &str) -> (u16, serde_json::Value) {
    let (status, mut body) = client.get_json(path).await;
    if let Some(o) = body.as_object_mut() {
        o.remove("instance");
    }
    (status, body)
}

/// Every malformed id gets the answer of the well-formed unknown one.
async fn same_answers(client: &TestClient, base: &str, prefix: &str) -> (u16, serde_json::Value) {
    let unknown = answer(client, &format!("{base}/{prefix}{HEX}")).await;
    for id in malformed(prefix) {
        let got = answer(client, &format!("{base}/{id}")).await;
        assert_eq!(got, unknown, "{base}/{id}");
    }
    unknown
}

fn refused_accesses(app: &TestApp, object_id: &str) -> i64 {
    audit_log::table
        .filter(audit_log::object_id.eq(object_id))
        .filter(audit_log::outcome.eq("geweigerd: niet gevonden"))
        .count()
        .get_result(&mut app.db.conn().unwrap())
        .unwrap()
}

#[tokio::test]
async fn a_malformed_id_is_answered_as_an_unknown_one() {
    let app = tks::app(r#"["0s"]"#).await;
    load_sample_catalog(&app);
    const BASE: &str = "/api/v1/machtigingsaanvragen";

    // The provider's request: not found, and audited as a refused access
    // with the id as sent.
    let provider = app.provider("03123456", &[Scope::MachtigingenRaadplegen]);
    let (status, body) = same_answers(&provider, BASE, "MA").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("REQ-001")),
        "{body}"
    );
    assert_eq!(refused_accesses(&app, &format!("MA{HEX}")), 1);
    for id in malformed("MA") {
        assert_eq!(refused_accesses(&app, &id), 1, "{id}");
    }
    // Without the authorization, the authorization's refusal comes first,
    // whatever the id looks like.
    let unauthorized = app.provider("03123457", &[Scope::OptinAfhandelen]);
    let (status, body) = same_answers(&unauthorized, BASE, "MA").await;
    assert_eq!(status, 403, "{body}");

    // The insurer's view of a request.
    let (status, body) = same_answers(
        &insurer(&app),
        "/api/v1/beoordeling/machtigingsaanvragen",
        "MA",
    )
    .await;
    assert_eq!(status, 404, "{body}");

    // An opt-in registration.
    let (status, body) = same_answers(&unauthorized, "/api/v1/optin/registraties", "OI").await;
    assert_eq!(status, 404, "{body}");

    // A terugkoppeling and a receiver check.
    let client = tks::provider(&app);
    let (status, body) = same_answers(&client, "/api/v1/terugkoppeling/berichten", "TK").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) =
        same_answers(&client, "/api/v1/terugkoppeling/abonnement/controle", "TKC").await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn malformed_ids_in_an_acknowledgement_come_back_as_unknown() {
    let app = tks::app(r#"["0s"]"#).await;
    let client = tks::provider(&app);
    let mine = tks::enqueue(&app, "MA-t", "T-1");
    let mut ids = vec![mine.clone()];
    ids.extend(malformed("TK"));
    ids.push(format!("TK{HEX}"));
    let (s, a) = client
        .post_json(
            "/api/v1/terugkoppeling/berichten/bevestiging",
            &json!({ "ids": ids }),
        )
        .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["bevestigd"], 1);
    // In the order sent, as sent.
    assert_eq!(a["onbekend"], json!(ids[1..]));
}
