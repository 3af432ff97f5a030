//! The lifecycle table (`src/machtiging/lifecycle.rs`, `docs/levenscyclus.md`)
//! driven through the real service: every state × every command × both
//! actors, over REST, asserting the documented outcome — the new state, an
//! idempotent repetition, or the refusal's code with nothing changed. Also:
//! no change of the document after a question round, and the insurer's
//! inbox after an automatic decision.

use machtigingen::machtiging::lifecycle::{self, Actor, Command, Step};
use machtigingen::machtiging::model::Status;
use serde_json::{Value, json};

use crate::fixtures::{self, Aanvraag, app_with_provider, beoordeling, post_xml, put_xml};
use crate::support::{TestApp, TestClient};

const BASE: &str = "/api/v1/machtigingsaanvragen";

struct Parties {
    provider: TestClient,
    insurer: TestClient,
}

/// A request brought to `state` the way the parties do; its document.
async fn make(app: &TestApp, p: &Parties, state: Status) -> (String, Aanvraag) {
    let doc = Aanvraag::default();
    if state == Status::Concept {
        let (s, v) = post_xml(&p.provider, &format!("{BASE}?concept=true"), &doc.xml()).await;
        assert_eq!(s, 201, "{v}");
        return (v["machtigingsaanvraagId"].as_str().unwrap().to_owned(), doc);
    }
    let id = fixtures::submit(&p.provider, &doc).await;
    match state {
        Status::Ingetrokken => {
            let (s, v) = p
                .provider
                .post_json(&format!("{BASE}/{id}/intrekking"), &json!({}))
                .await;
            assert_eq!(s, 200, "{v}");
        }
        Status::Herroepen => {
            fixtures::insurer_sets(app, &id, "Toegekend").await;
            let (s, v) = p
                .insurer
                .post_json(&herziening_path(&id), &herziening("Herroeping"))
                .await;
            assert_eq!((s, v["status"].as_str()), (200, Some("Herroepen")), "{v}");
        }
        other => fixtures::insurer_sets(app, &id, other.as_str()).await,
    }
    (id, doc)
}

fn herziening_path(id: &str) -> String {
    format!("/api/v1/beoordeling/machtigingsaanvragen/{id}/herziening")
}

/// A valid revision of a grant from day 7 to day 180 (`fixtures::beoordeling`).
fn herziening(soort: &str) -> Value {
    let mut body = json!({"soort": soort, "redenCode": "R", "redenTekst": "Herzien."});
    match soort {
        "Inkorting" => body["geldigTot"] = json!(fixtures::days(30)),
        "Verlenging" => body["geldigTot"] = json!(fixtures::days(365)),
        _ => {}
    }
    body
}

async fn status_of(p: &Parties, id: &str) -> String {
    let (s, v) = p.provider.get_json(&format!("{BASE}/{id}")).await;
    assert_eq!(s, 200, "{v}");
    v["status"].as_str().unwrap().to_owned()
}

/// Gives `command` as `actor` on request `id` (with its document `doc`).
async fn drive(
    p: &Parties,
    command: Command,
    actor: Actor,
    id: &str,
    doc: &Aanvraag,
) -> (u16, Value) {
    let c = match actor {
        Actor::Zorgaanbieder => &p.provider,
        Actor::Zorgverzekeraar => &p.insurer,
    };
    let decision = |s: &str| {
        let body = beoordeling(s);
        let path = format!("/api/v1/beoordeling/machtigingsaanvragen/{id}/beoordeling");
        async move { c.post_json(&path, &body).await }
    };
    match command {
        Command::Indienen => post_xml(c, BASE, &doc.xml()).await,
        Command::OpslaanConcept => post_xml(c, &format!("{BASE}?concept=true"), &doc.xml()).await,
        Command::Wijzigen => put_xml(c, &format!("{BASE}/{id}"), &doc.xml()).await,
        Command::WijzigenConcept => {
            put_xml(c, &format!("{BASE}/{id}?concept=true"), &doc.xml()).await
        }
        Command::Intrekken => {
            c.post_json(
                &format!("{BASE}/{id}/intrekking"),
                &json!({"reden": "test"}),
            )
            .await
        }
        Command::Aanvullen => {
            let info = fixtures::aanvulling_element(&[("GRADEN", "30")], Some("Aanvulling."));
            post_xml(c, &format!("{BASE}/{id}/aanvullende-informatie"), &info).await
        }
        Command::Behandelen => decision("InBehandeling").await,
        Command::Vragen => decision("AanvullendeInformatieGevraagd").await,
        Command::Beslissen => decision("Toegekend").await,
        Command::Herroepen | Command::Inkorten | Command::Verlengen => {
            let soort = match command {
                Command::Herroepen => "Herroeping",
                Command::Inkorten => "Inkorting",
                _ => "Verlenging",
            };
            c.post_json(&herziening_path(id), &herziening(soort)).await
        }
    }
}

#[tokio::test]
async fn lifecycle_table_every_state_command_and_actor() {
    let (app, provider) = app_with_provider().await;
    let p = Parties {
        provider,
        insurer: fixtures::insurer(&app),
    };
    let unknown = format!("MA{}", "0".repeat(32));
    let mut cells = 0;
    for from in lifecycle::states() {
        // One request in this state serves every cell that must not change it.
        let standing = match from {
            Some(s) => Some(make(&app, &p, s).await),
            None => None,
        };
        for command in Command::ALL {
            for actor in Actor::ALL {
                let expected = lifecycle::step(from, command, actor);
                let cell = format!("{from:?} × {} × {}", command.as_str(), actor.as_str());
                let (id, doc) = match (&standing, expected) {
                    // A step that changes the request gets a fresh one.
                    (Some(_), Step::To(_)) => make(&app, &p, from.unwrap()).await,
                    (Some(s), _) => s.clone(),
                    (None, _) => (unknown.clone(), Aanvraag::default()),
                };
                let (status, v) = drive(&p, command, actor, &id, &doc).await;
                match expected {
                    Step::To(to) => {
                        assert!(status == 200 || status == 201, "{cell}: {status} {v}");
                        let id = v["machtigingsaanvraagId"]
                            .as_str()
                            .unwrap_or(&id)
                            .to_owned();
                        assert_eq!(status_of(&p, &id).await, to.as_str(), "{cell}: {v}");
                    }
                    Step::Herhaald => {
                        assert_eq!(status, 200, "{cell}: {v}");
                        assert_eq!(v["herhaald"], true, "{cell}: {v}");
                        assert_eq!(v["machtigingsaanvraagId"], id.as_str(), "{cell}: {v}");
                    }
                    Step::Refused(code) => {
                        assert_eq!(
                            v["code"].as_str(),
                            Some(code.as_str()),
                            "{cell}: {status} {v}"
                        );
                        assert!((400..500).contains(&status), "{cell}: {status}");
                    }
                }
                if let (Some(s), false) = (from, matches!(expected, Step::To(_))) {
                    assert_eq!(status_of(&p, &id).await, s.as_str(), "{cell}: changed");
                }
                cells += 1;
            }
        }
    }
    assert_eq!(cells, 10 * 12 * 2);
}

#[tokio::test]
async fn no_new_document_after_a_question_round() {
    let (app, provider) = app_with_provider().await;
    let p = Parties {
        provider,
        insurer: fixtures::insurer(&app),
    };
    let (id, doc) = make(&app, &p, Status::AanvullendeInformatieGevraagd).await;
    let (s, v) = drive(&p, Command::Aanvullen, Actor::Zorgaanbieder, &id, &doc).await;
    assert_eq!(
        (s, v["status"].as_str()),
        (200, Some("InBehandeling")),
        "{v}"
    );
    let changed = Aanvraag {
        toelichting: Some("Een heel ander verhaal.".into()),
        ..doc
    };
    let (s, v) = put_xml(&p.provider, &format!("{BASE}/{id}"), &changed.xml()).await;
    assert_eq!((s, v["code"].as_str()), (409, Some("STA-001")), "{v}");
    // The insurer carries on from InBehandeling.
    let (_, inbox) = p.insurer.get_json("/api/v1/beoordeling/inbox").await;
    let last = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|e| e["machtigingsaanvraagId"] == id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(
        (last["soort"].as_str(), last["status"].as_str()),
        (Some("aanvullendeInformatie"), Some("InBehandeling"))
    );
    let (s, v) = drive(
        &p,
        Command::Beslissen,
        Actor::Zorgverzekeraar,
        &id,
        &changed,
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

/// Every entry of the insurer's inbox names the request's current status,
/// and the action it offers works.
#[tokio::test]
async fn the_inbox_after_an_automatic_decision_is_true() {
    let (app, provider) = app_with_provider().await;
    let insurer = fixtures::insurer(&app);
    let resp = insurer
        .http
        .put(insurer.url("/api/v1/beoordeling/catalogus"))
        .json(&crate::beoordeling::catalog_with_rules())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let p = Parties { provider, insurer };
    // Granted at submission; rejected at submission (provider type 06);
    // a Concept granted when submitted; one the rules leave to the insurer.
    let granted = fixtures::submit(&p.provider, &Aanvraag::default()).await;
    let oog = app.provider(
        "06123456",
        &[machtigingen::registry::Scope::MachtigingenIndienen],
    );
    let rejected = fixtures::submit(
        &oog,
        &Aanvraag {
            agb: "06123456".into(),
            ..Default::default()
        },
    )
    .await;
    let concept_doc = Aanvraag::default();
    let (s, v) = post_xml(
        &p.provider,
        &format!("{BASE}?concept=true"),
        &concept_doc.xml(),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let concept = v["machtigingsaanvraagId"].as_str().unwrap().to_owned();
    let (s, v) = put_xml(
        &p.provider,
        &format!("{BASE}/{concept}"),
        &concept_doc.xml(),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("Toegekend")), "{v}");
    let open = fixtures::submit(
        &p.provider,
        &Aanvraag {
            prestaties: vec![("DBC-OOGLID".into(), 2)],
            ..Default::default()
        },
    )
    .await;

    let (_, inbox) = p.insurer.get_json("/api/v1/beoordeling/inbox").await;
    let items = inbox["items"].as_array().unwrap().clone();
    let expect = [
        (&granted, "beslissing", "Toegekend"),
        (&rejected, "beslissing", "Afgewezen"),
        (&concept, "beslissing", "Toegekend"),
        (&open, "indienen", "Ingediend"),
    ];
    for (id, soort, status) in expect {
        let entries: Vec<&Value> = items
            .iter()
            .filter(|e| e["machtigingsaanvraagId"] == id.as_str())
            .collect();
        assert_eq!(entries.len(), 1, "{id}: {inbox}");
        assert_eq!(
            (entries[0]["soort"].as_str(), entries[0]["status"].as_str()),
            (Some(soort), Some(status)),
            "{id}: {inbox}"
        );
    }
    for e in &items {
        let id = e["machtigingsaanvraagId"].as_str().unwrap();
        // The entry's status is the request's status: reading it works.
        let (s, v) = p
            .insurer
            .get_json(&format!("/api/v1/beoordeling/machtigingsaanvragen/{id}"))
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["machtigingsaanvraag"]["status"], e["status"], "{e}: {v}");
        // An entry still waiting for the insurer can be taken up.
        if e["status"] == "Ingediend" {
            let (s, v) = p
                .insurer
                .post_json(
                    &format!("/api/v1/beoordeling/machtigingsaanvragen/{id}/beoordeling"),
                    &beoordeling("InBehandeling"),
                )
                .await;
            assert_eq!(s, 200, "{e}: {v}");
        }
    }
    let ids: Vec<i64> = items
        .iter()
        .map(|e| e["inboxId"].as_i64().unwrap())
        .collect();
    let (s, v) = p
        .insurer
        .post_json(
            "/api/v1/beoordeling/inbox/ontvangst",
            &json!({"inboxIds": ids}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}
