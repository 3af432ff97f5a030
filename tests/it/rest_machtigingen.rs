//! The machtigingen service through the REST door: every operation, the
//! lifecycle, idempotency, cross-party isolation and the validation pipeline.

use machtigingen::registry::Scope;
use serde_json::json;

use crate::fixtures::{
    self, Aanvraag, Bijlage, app_with_provider, days, finding_codes, post_xml, put_xml,
    stored_requests, submit,
};
use crate::support::TestApp;

const BASE: &str = "/api/v1/machtigingsaanvragen";

#[tokio::test]
async fn submit_then_read_status_and_history() {
    let (app, client) = app_with_provider().await;
    let doc = Aanvraag::default();
    let (status, body) = post_xml(&client, BASE, &doc.xml()).await;
    assert_eq!(status, 201, "{body}");
    let id = body["machtigingsaanvraagId"].as_str().unwrap();
    assert!(id.starts_with("MA") && id.len() == 34, "{id}");
    assert_eq!(body["status"], "Ingediend");
    assert_eq!(body["herhaald"], false);

    let (status, d) = client.get_json(&format!("{BASE}/{id}")).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["status"], "Ingediend");
    assert_eq!(d["referentie"], doc.referentie.as_str());
    assert_eq!(d["verzekerde"]["bsn"], "999999990");
    assert_eq!(
        d["prestaties"],
        json!([{"code": "DBC-OOGLID", "aantal": 1}])
    );
    assert_eq!(d["historie"].as_array().unwrap().len(), 1);
    assert_eq!(d["historie"][0]["soort"], "indienen");
    assert_eq!(d["historie"][0]["actor"], "AGB:03123456");

    // Both the write and the read are in the audit log.
    let audit =
        machtigingen::audit::for_object(&mut app.db.conn().unwrap(), "machtigingsaanvraag", id)
            .unwrap();
    let actions: Vec<_> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "machtigingsaanvraag.indienen",
            "machtigingsaanvraag.raadplegen"
        ]
    );
    assert!(
        audit.iter().all(|a| !a.detail.contains("999999990")),
        "BSN in audit detail"
    );
}

#[tokio::test]
async fn identical_resubmission_returns_the_original_and_different_content_conflicts() {
    let (app, client) = app_with_provider().await;
    let doc = Aanvraag::default();
    let id = submit(&client, &doc).await;
    let (status, again) = post_xml(&client, BASE, &doc.xml()).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["machtigingsaanvraagId"], id.as_str());
    assert_eq!(again["herhaald"], true);

    // Same content, other layout: still the same request.
    let (status, _) = post_xml(&client, BASE, &doc.xml().replace("\n  ", "\n    ")).await;
    assert_eq!(status, 200);

    let changed = Aanvraag {
        einddatum: days(170),
        ..doc.clone()
    };
    let (status, body) = post_xml(&client, BASE, &changed.xml()).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "DUP-001");
    assert_eq!(stored_requests(&app), 1);
}

#[tokio::test]
async fn concept_is_saved_modified_and_then_submitted() {
    let (_app, client) = app_with_provider().await;
    // A concept may be incomplete: no answers yet.
    let draft = Aanvraag {
        antwoorden: vec![],
        ..Aanvraag::default()
    };
    let (status, body) = post_xml(&client, &format!("{BASE}?concept=true"), &draft.xml()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "Concept");
    let id = body["machtigingsaanvraagId"].as_str().unwrap().to_owned();

    // Still incomplete: submitting it is refused with the JVC finding.
    let (status, body) = put_xml(&client, &format!("{BASE}/{id}"), &draft.xml()).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        finding_codes(&body).contains(&"JVC-V01".to_owned()),
        "{body}"
    );

    let complete = Aanvraag {
        referentie: draft.referentie.clone(),
        ..Aanvraag::default()
    };
    let (status, body) = put_xml(
        &client,
        &format!("{BASE}/{id}?concept=true"),
        &complete.xml(),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("Concept")),
        "{body}"
    );
    let (status, body) = put_xml(&client, &format!("{BASE}/{id}"), &complete.xml()).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("Ingediend")),
        "{body}"
    );

    // Back to Concept is not possible.
    let (status, body) = put_xml(
        &client,
        &format!("{BASE}/{id}?concept=true"),
        &complete.xml(),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "STA-001");
    let (_, d) = client.get_json(&format!("{BASE}/{id}")).await;
    let kinds: Vec<_> = d["historie"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["soort"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["opslaanConcept", "wijzigen", "indienen"]);
}

#[tokio::test]
async fn modify_only_before_the_insurer_starts() {
    let (app, client) = app_with_provider().await;
    let doc = Aanvraag::default();
    let id = submit(&client, &doc).await;
    let changed = Aanvraag {
        einddatum: days(120),
        ..doc.clone()
    };
    let (status, body) = put_xml(&client, &format!("{BASE}/{id}"), &changed.xml()).await;
    assert_eq!(status, 200, "{body}");

    let other_ref = Aanvraag {
        referentie: "ANDERS".into(),
        ..changed.clone()
    };
    let (status, _) = put_xml(&client, &format!("{BASE}/{id}"), &other_ref.xml()).await;
    assert_eq!(status, 400);

    fixtures::insurer_sets(&app, &id, "InBehandeling").await;
    let (status, body) = put_xml(&client, &format!("{BASE}/{id}"), &doc.xml()).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "STA-001");
}

#[tokio::test]
async fn withdraw_from_any_open_state_and_never_twice() {
    let (app, client) = app_with_provider().await;
    for state in [
        "Ingediend",
        "InBehandeling",
        "AanvullendeInformatieGevraagd",
    ] {
        let id = submit(&client, &Aanvraag::default()).await;
        fixtures::insurer_sets(&app, &id, state).await;
        let (status, body) = client
            .post_json(
                &format!("{BASE}/{id}/intrekking"),
                &json!({"reden": "patiënt ziet af"}),
            )
            .await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("Ingetrokken")),
            "{state}: {body}"
        );
        let (status, body) = client
            .post_json(&format!("{BASE}/{id}/intrekking"), &json!({}))
            .await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["code"], "STA-001");
    }
    for final_state in ["Toegekend", "DeelsToegekend", "Afgewezen"] {
        let id = submit(&client, &Aanvraag::default()).await;
        fixtures::insurer_sets(&app, &id, final_state).await;
        let (status, body) = client
            .post_json(&format!("{BASE}/{id}/intrekking"), &json!({}))
            .await;
        assert_eq!(status, 409, "{final_state}: {body}");
    }
}

#[tokio::test]
async fn additional_information_only_when_asked() {
    let (app, client) = app_with_provider().await;
    let id = submit(&client, &Aanvraag::default()).await;
    let info =
        fixtures::aanvulling_element(&[("OPMERKING", "Foto's bijgevoegd")], Some("Zie bijlage"));
    let path = format!("{BASE}/{id}/aanvullende-informatie");
    let (status, body) = post_xml(&client, &path, &info).await;
    assert_eq!(status, 409, "{body}");

    fixtures::insurer_sets(&app, &id, "AanvullendeInformatieGevraagd").await;
    let empty = fixtures::aanvulling_element(&[], None);
    let (status, body) = post_xml(&client, &path, &empty).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(finding_codes(&body), ["JVC-V03"]);
    let wrong_type = fixtures::aanvulling_element(&[("GRADEN", "veel")], None);
    let (status, body) = post_xml(&client, &path, &wrong_type).await;
    assert_eq!(finding_codes(&body), ["JVC-J07"], "{status} {body}");

    // The insurer had started: answered questions go back to InBehandeling.
    let (status, body) = post_xml(&client, &path, &info).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("InBehandeling")),
        "{body}"
    );
}

#[tokio::test]
async fn search_by_reference_period_status_and_patient() {
    let (_app, client) = app_with_provider().await;
    let a = Aanvraag::default();
    let b = Aanvraag {
        bsn: "111222333".into(),
        ..Aanvraag::default()
    };
    let id_a = submit(&client, &a).await;
    let id_b = submit(&client, &b).await;
    let c = Aanvraag::default();
    let (_, concept) = post_xml(&client, &format!("{BASE}?concept=true"), &c.xml()).await;
    let id_c = concept["machtigingsaanvraagId"]
        .as_str()
        .unwrap()
        .to_string();

    let (status, r) = client
        .get_json(&format!("{BASE}?referentie={}", a.referentie))
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["totaal"], 1);
    assert_eq!(r["resultaten"][0]["machtigingsaanvraagId"], id_a.as_str());

    let (_, r) = client.get_json(&format!("{BASE}?status=Concept")).await;
    assert_eq!(r["totaal"], 1);
    let (_, r) = client
        .get_json(&format!(
            "{BASE}?aangemaaktVanaf={}&aangemaaktTot={}",
            days(0),
            days(0)
        ))
        .await;
    assert_eq!(r["totaal"], 3);
    let (_, r) = client
        .get_json(&format!("{BASE}?aangemaaktVanaf={}", days(1)))
        .await;
    assert_eq!(r["totaal"], 0);

    let (status, r) = client
        .post_json(
            &format!("{BASE}/zoeken"),
            &json!({"verzekerde": {"bsn": "111222333", "geboortedatum": "1970-03-14"}}),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["totaal"], 1);
    let (_, r) = client
        .post_json(
            &format!("{BASE}/zoeken"),
            &json!({"verzekerde": {"bsn": "111222333", "geboortedatum": "1970-03-15"}}),
        )
        .await;
    assert_eq!(r["totaal"], 0);

    let (_, page1) = client.get_json(&format!("{BASE}?paginaGrootte=2")).await;
    let (_, page2) = client
        .get_json(&format!("{BASE}?paginaGrootte=2&pagina=2"))
        .await;
    assert_eq!(page1["resultaten"].as_array().unwrap().len(), 2);
    assert_eq!(page2["resultaten"].as_array().unwrap().len(), 1);
    assert_eq!(page1["totaal"], 3);
    // Newest first (docs/rest.md), across pages.
    let listed: Vec<&str> = [&page1, &page2]
        .iter()
        .flat_map(|p| p["resultaten"].as_array().unwrap())
        .map(|r| r["machtigingsaanvraagId"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [id_c.as_str(), id_b.as_str(), id_a.as_str()]);
    let (status, r) = client.get_json(&format!("{BASE}?status=Onzin")).await;
    assert_eq!((status, r["code"].as_str()), (400, Some("REQ-004")));
}

#[tokio::test]
async fn catalog_is_listed_without_the_insurers_rules() {
    let (_app, client) = app_with_provider().await;
    let (status, all) = client.get_json("/api/v1/verstrekkingen").await;
    assert_eq!(status, 200, "{all}");
    let uzovis: Vec<_> = all["verzekeraars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["uzovi"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(uzovis, ["3311", "3312", "9901"]);
    let (_, one) = client.get_json("/api/v1/verstrekkingen?uzovi=3311").await;
    let v = &one["verzekeraars"][0]["verstrekkingen"];
    assert_eq!(v.as_array().unwrap().len(), 4);
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|x| x.get("regels").is_none()),
        "{v}"
    );
    assert_eq!(v[2]["code"], "ORTHO-ACHTIEN");
}

#[tokio::test]
async fn another_provider_sees_and_touches_nothing() {
    let (app, owner) = app_with_provider().await;
    let id = submit(&owner, &Aanvraag::default()).await;
    let other = app.provider("06123456", &[Scope::MachtigingenIndienen]);
    let (status, body) = other.get_json(&format!("{BASE}/{id}")).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("REQ-001")));
    let (status, _) = put_xml(
        &other,
        &format!("{BASE}/{id}"),
        &Aanvraag {
            agb: "06123456".into(),
            ..Aanvraag::default()
        }
        .xml(),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = other
        .post_json(&format!("{BASE}/{id}/intrekking"), &json!({}))
        .await;
    assert_eq!(status, 404);
    fixtures::insurer_sets(&app, &id, "AanvullendeInformatieGevraagd").await;
    let (status, _) = post_xml(
        &other,
        &format!("{BASE}/{id}/aanvullende-informatie"),
        &fixtures::aanvulling_element(&[], Some("x")),
    )
    .await;
    assert_eq!(status, 404);
    let (_, r) = other.get_json(BASE).await;
    assert_eq!(r["totaal"], 0);
    let (_, r) = other
        .post_json(
            &format!("{BASE}/zoeken"),
            &json!({"verzekerde": {"bsn": "999999990", "geboortedatum": "1970-03-14"}}),
        )
        .await;
    assert_eq!(r["totaal"], 0);
    // Submitting for the owner's AGB is refused by JVC-C01.
    let (status, body) = post_xml(&other, BASE, &Aanvraag::default().xml()).await;
    assert_eq!(status, 422);
    assert_eq!(finding_codes(&body), ["JVC-C01"]);
    // The refused accesses by id are audited.
    let audit =
        machtigingen::audit::for_object(&mut app.db.conn().unwrap(), "machtigingsaanvraag", &id)
            .unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.actor == "AGB:06123456" && a.outcome.starts_with("geweigerd"))
    );
    // Nothing changed for the owner.
    let (_, d) = owner.get_json(&format!("{BASE}/{id}")).await;
    assert_eq!(d["status"], "AanvullendeInformatieGevraagd");
}

#[tokio::test]
async fn authorizations_are_required_per_operation() {
    let (app, owner) = app_with_provider().await;
    let id = submit(&owner, &Aanvraag::default()).await;
    let reader = app.provider("03123456", &[Scope::MachtigingenRaadplegen]);
    let (status, body) = post_xml(&reader, BASE, &Aanvraag::default().xml()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("AUTZ-001")),
        "{body}"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("machtigingen:indienen")
    );
    assert_eq!(reader.get_json(&format!("{BASE}/{id}")).await.0, 200);
    let (status, _) = reader
        .post_json(&format!("{BASE}/{id}/intrekking"), &json!({}))
        .await;
    assert_eq!(status, 403);

    let insurer = app.client(&app.issue(
        &app.party(machtigingen::registry::PartyKind::Zorgverzekeraar, "3311"),
        machtigingen::registry::CertKind::Systeem,
        &[Scope::Beoordelen],
        &[],
    ));
    let (status, body) = insurer.get_json(&format!("{BASE}/{id}")).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("AUTZ-001")));
    assert_eq!(stored_requests(&app), 1);
}

#[tokio::test]
async fn transport_and_xml_refusals_store_nothing() {
    let app = TestApp::builder()
        .config("[server]\nbody_limit = 65536")
        .spawn()
        .await;
    fixtures::load_sample_catalog(&app);
    let client = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    let doc = Aanvraag::default().xml();

    let resp = client
        .http
        .post(client.url(BASE))
        .header("content-type", "application/json")
        .body(doc.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["code"],
        "REQ-003"
    );

    let big = Aanvraag {
        bijlagen: vec![Bijlage {
            soort: "foto".into(),
            naam: "x.jpg".into(),
            media_type: "image/jpeg".into(),
            inhoud: vec![7u8; 70_000],
        }],
        ..Aanvraag::default()
    };
    let (status, body) = post_xml(&client, BASE, &big.xml()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("REQ-002")),
        "{body}"
    );

    let doctype = doc.replacen(
        "<Machtigingsaanvraag",
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\n<Machtigingsaanvraag",
        1,
    );
    let (status, body) = post_xml(&client, BASE, &doctype).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("XML-002")),
        "{body}"
    );

    let (status, body) =
        post_xml(&client, BASE, &doc.replace(fixtures::NS, "urn:iets:anders")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("XML-004")),
        "{body}"
    );
    let (status, body) = post_xml(&client, BASE, "<Machtigingsaanvraag").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("XML-001")),
        "{body}"
    );
    assert_eq!(stored_requests(&app), 0);
}

#[tokio::test]
async fn schema_errors_are_all_reported_with_path_and_line() {
    let (app, client) = app_with_provider().await;
    let doc = Aanvraag {
        bsn: "12345".into(),
        ..Aanvraag::default()
    }
    .xml()
    .replace("<Uzovi>3311</Uzovi>", "<Uzovi>33</Uzovi>");
    let (status, body) = post_xml(&client, BASE, &doc).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "XSD-001");
    let findings = body["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{body}");
    let bsn_line = doc.lines().position(|l| l.contains("<Bsn>")).unwrap() + 1;
    assert_eq!(
        findings[0]["location"],
        format!("/Machtigingsaanvraag/Verzekerde/Bsn (regel {bsn_line})")
    );
    assert!(
        findings[1]["location"]
            .as_str()
            .unwrap()
            .starts_with("/Machtigingsaanvraag/Uzovi (regel ")
    );
    // A missing element is named too.
    let missing = Aanvraag::default()
        .xml()
        .replace("<Grondslag>Zvw</Grondslag>", "");
    let (_, body) = post_xml(&client, BASE, &missing).await;
    assert!(
        body["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Grondslag"),
        "{body}"
    );
    assert_eq!(stored_requests(&app), 0);
}

#[tokio::test]
async fn openapi_describes_the_rest_door() {
    let (_app, client) = app_with_provider().await;
    let (status, doc) = client.get_json("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        BASE,
        "/api/v1/machtigingsaanvragen/{id}",
        "/api/v1/machtigingsaanvragen/zoeken",
        "/api/v1/verstrekkingen",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from {}",
            doc["paths"]
        );
    }
}
