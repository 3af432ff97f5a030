//! Software vendors as full parties (docs/callbacks.md §11), through the real
//! mTLS server and a real HTTPS receiver: a vendor with a provider's consent
//! statement receives that provider's terugkoppelingen on its own callback
//! and in its pull, each naming the provider; provider and vendor callbacks
//! coexist; revoking the statement stops pushes still waiting, pulls, reads
//! and searches at once; opt-in only where the statement covers it; the
//! audit log names vendor and provider.

use diesel::prelude::*;
use machtigingen::registry::{CertKind, PartyKind, Scope};
use serde_json::json;

use crate::fixtures::{self, Aanvraag, insurer_sets, submit};
use crate::support::soap::{self, BOTH};
use crate::support::{TestApp, TestClient, eventually, json_of};
use crate::terugkoppeling_support as tk;

const VENDOR: &str = "PLATFORM:pms-host";
const OTHER_AGB: &str = "03999998";

struct World {
    app: TestApp,
    /// The provider's contact person (gives and revokes the statement).
    contact: TestClient,
    /// The provider's own system.
    provider: TestClient,
    vendor: TestClient,
    /// A provider that gave the vendor no statement.
    other: TestClient,
}

async fn world(schedule: &str) -> World {
    let app = tk::app(schedule).await;
    fixtures::load_sample_catalog(&app);
    let p = app.party(PartyKind::Zorgaanbieder, tk::AGB);
    let contact =
        app.client(&app.issue(&p, CertKind::Persoonlijk, &[Scope::Gebruikersbeheer], &[]));
    let scopes = [
        Scope::TerugkoppelingBeheren,
        Scope::MachtigingenIndienen,
        Scope::OptinAfhandelen,
    ];
    let provider = app.client(&app.issue(&p, CertKind::Systeem, &scopes, &[]));
    let v = app.party(PartyKind::Softwareleverancier, "pms-host");
    let vendor = app.client(&app.issue(&v, CertKind::Systeem, &scopes, &[]));
    let other = app.provider(OTHER_AGB, &[Scope::MachtigingenIndienen]);
    World {
        app,
        contact,
        provider,
        vendor,
        other,
    }
}

/// The provider's contact person gives the vendor a statement; its id.
async fn consent(w: &World, optin: bool) -> String {
    let (status, v) = w
        .contact
        .post_json(
            "/api/v1/beheer/toestemmingsverklaringen",
            &json!({"leverancier": VENDOR, "optin": optin}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["optin"], optin, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

async fn revoke(w: &World, id: &str) {
    let resp = w
        .contact
        .http
        .delete(
            w.contact
                .url(&format!("/api/v1/beheer/toestemmingsverklaringen/{id}")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
}

/// The JSON `machtiging.status` messages a receiver got.
fn statuses(r: &machtigingen::receiver::Receiver) -> Vec<(String, serde_json::Value)> {
    r.received()
        .into_iter()
        .filter_map(|m| Some((m.webhook_id, serde_json::from_str(&m.body).ok()?)))
        .filter(|(_, v): &(String, serde_json::Value)| v["type"] == "machtiging.status")
        .collect()
}

/// Audit rows of one action about one terugkoppeling: (actor, acting for, detail).
fn audit_rows(app: &TestApp, action: &str, tk_id: &str) -> Vec<(String, Option<String>, String)> {
    machtigingen::audit::for_object(&mut app.db.conn().unwrap(), "terugkoppeling", tk_id)
        .unwrap()
        .into_iter()
        .filter(|r| r.action == action)
        .map(|r| (r.actor, r.acting_for, r.detail))
        .collect()
}

async fn pull(c: &TestClient, query: &str) -> Vec<serde_json::Value> {
    let (status, v) = c
        .get_json(&format!("/api/v1/terugkoppeling/berichten{query}"))
        .await;
    assert_eq!(status, 200, "{v}");
    v["berichten"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_vendor_receives_its_providers_decision_on_its_own_callback_naming_the_provider() {
    let w = world(r#"["0s", "200ms"]"#).await;
    let (rv, rp) = (tk::receiver(), tk::receiver());
    tk::register(&w.vendor, &rv, "json").await;
    tk::register(&w.provider, &rp, "soap").await;
    consent(&w, false).await;

    // The vendor submits for the provider; the insurer decides.
    let id = submit(&w.vendor, &Aanvraag::default()).await;
    insurer_sets(&w.app, &id, "InBehandeling").await;
    insurer_sets(&w.app, &id, "Toegekend").await;
    assert!(
        eventually(10, || async {
            // (The verification calls were refused: the secrets were not known yet.)
            statuses(&rv).len() == 2 && rp.received().len() == 2
        })
        .await,
        "vendor {:?}, provider {}",
        statuses(&rv),
        rp.received().len()
    );
    let got = statuses(&rv);
    let (webhook_id, decision) = &got[1];
    assert_eq!(decision["data"]["status"], "Toegekend");
    assert_eq!(decision["data"]["machtigingsaanvraagId"], id.as_str());
    assert_eq!(decision["zorgaanbieder"], tk::AGB, "{decision}");
    // The provider's own (SOAP) callback got the same terugkoppeling, as it
    // always did: without the element that names the provider.
    let own = rp
        .received()
        .into_iter()
        .find(|m| m.webhook_id == *webhook_id)
        .expect("the provider's callback got it too");
    assert!(
        own.body.contains("<Status>Toegekend</Status>"),
        "{}",
        own.body
    );
    assert!(!own.body.contains("Zorgaanbieder"), "{}", own.body);

    // Each push is audited: the vendor as recipient for the provider.
    assert!(
        eventually(10, || async {
            audit_rows(&w.app, "terugkoppeling.afgeleverd", webhook_id).len() == 2
        })
        .await
    );
    let rows = audit_rows(&w.app, "terugkoppeling.afgeleverd", webhook_id);
    let to_vendor = rows
        .iter()
        .find(|r| r.2.contains(VENDOR))
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(to_vendor.1.as_deref(), Some("AGB:03123456"));
    let to_provider = rows.iter().find(|r| !r.2.contains(VENDOR)).unwrap();
    assert_eq!(to_provider.1, None);

    // Another provider's decision never reaches the vendor.
    let theirs = submit(
        &w.other,
        &Aanvraag {
            agb: OTHER_AGB.into(),
            ..Default::default()
        },
    )
    .await;
    insurer_sets(&w.app, &theirs, "InBehandeling").await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert!(
        !statuses(&rv)
            .iter()
            .any(|(_, v)| v["data"]["machtigingsaanvraagId"] == theirs.as_str())
    );
}

#[tokio::test]
async fn a_vendor_pulls_its_providers_feedback_until_the_statement_is_revoked() {
    let w = world(r#"["0s"]"#).await;
    // Before any statement: nothing of the provider's.
    let mine = submit(&w.provider, &Aanvraag::default()).await;
    insurer_sets(&w.app, &mine, "InBehandeling").await;
    assert!(pull(&w.vendor, "").await.is_empty());
    let tv = consent(&w, false).await;
    tk::enqueue_for(&w.app, &format!("AGB:{OTHER_AGB}"), "MA-other", "OTHER");

    // The provider's own submission's feedback, naming the provider; never
    // the other provider's.
    let got = pull(&w.vendor, "").await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["onderwerp"], mine.as_str());
    assert_eq!(got[0]["zorgaanbieder"], tk::AGB);
    assert_eq!(got[0]["data"]["status"], "InBehandeling");
    let tk_id = got[0]["id"].as_str().unwrap().to_owned();
    let own = pull(&w.provider, "").await;
    assert_eq!(own[0]["id"], tk_id.as_str());
    assert!(own[0].get("zorgaanbieder").is_none(), "{}", own[0]);
    // The vendor's pull is audited as acting for the provider.
    let rows = audit_rows(&w.app, "terugkoppeling.ophalen", &tk_id);
    assert!(
        rows.iter()
            .any(|r| r.0 == VENDOR && r.1.as_deref() == Some("AGB:03123456")),
        "{rows:?}"
    );
    assert!(rows.iter().any(|r| r.0 == "AGB:03123456" && r.1.is_none()));

    // The SOAP door: the same message, with the Zorgaanbieder element.
    const NS: &str = "urn:machtigingen:terugkoppelingbeheer:v1";
    for v in BOTH {
        let ans = soap::call(
            &w.vendor,
            "/soap/terugkoppelingbeheer/v1",
            v,
            NS,
            "OphalenTerugkoppelingen",
            &format!("<OphalenTerugkoppelingen xmlns=\"{NS}\"/>"),
        )
        .await;
        assert_eq!(
            ans.texts("TerugkoppelingId"),
            std::slice::from_ref(&tk_id),
            "{}",
            ans.body
        );
        assert_eq!(ans.text("Zorgaanbieder").as_deref(), Some(tk::AGB));
    }

    // One acknowledgement per terugkoppeling, whoever of the two gives it.
    let (status, ack) = w
        .vendor
        .post_json(
            "/api/v1/terugkoppeling/berichten/bevestiging",
            &json!({"ids": [tk_id]}),
        )
        .await;
    assert_eq!((status, &ack["bevestigd"]), (200, &json!(1)), "{ack}");
    assert!(pull(&w.provider, "").await.is_empty());
    assert_eq!(pull(&w.provider, "?alle=true").await.len(), 1);

    // Revoked: the very next pull, acknowledgement and log read find nothing.
    insurer_sets(&w.app, &mine, "Toegekend").await;
    assert_eq!(pull(&w.vendor, "").await.len(), 1);
    revoke(&w, &tv).await;
    assert!(pull(&w.vendor, "?alle=true").await.is_empty());
    let later = pull(&w.provider, "").await;
    let later_id = later[0]["id"].as_str().unwrap();
    let (_, ack) = w
        .vendor
        .post_json(
            "/api/v1/terugkoppeling/berichten/bevestiging",
            &json!({"ids": [later_id]}),
        )
        .await;
    assert_eq!(ack["onbekend"], json!([later_id]), "{ack}");
    let (status, _) = w
        .vendor
        .get_json(&format!("/api/v1/terugkoppeling/berichten/{later_id}"))
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        pull(&w.provider, "").await.len(),
        1,
        "the provider's own stays"
    );
}

#[tokio::test]
async fn revoking_the_statement_stops_pushes_still_waiting_at_once() {
    let w = world(r#"["0s", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms"]"#).await;
    let (rv, rp) = (tk::receiver(), tk::receiver());
    tk::register(&w.vendor, &rv, "json").await;
    tk::register(&w.provider, &rp, "json").await;
    let tv = consent(&w, false).await;
    // The vendor's receiver is down: the push waits for a retry.
    rv.respond_with(Some(503), None);
    let seen = rv.requests();
    let id = submit(&w.provider, &Aanvraag::default()).await;
    insurer_sets(&w.app, &id, "InBehandeling").await;
    assert!(eventually(10, || async { rv.requests() >= seen + 2 }).await);
    assert!(eventually(10, || async { !statuses(&rp).is_empty() }).await);

    revoke(&w, &tv).await;
    rv.respond_with(None, None);
    // Well past several retries: nothing arrives, the delivery lapsed.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(statuses(&rv).is_empty(), "{:?}", statuses(&rv));
    use machtigingen::db::schema::{terugkoppeling_deliveries as d, terugkoppeling_endpoints as e};
    let states: Vec<(String, String)> = d::table
        .inner_join(e::table.on(e::id.eq(d::endpoint_id)))
        .select((e::party, d::status))
        .load(&mut *w.app.db.conn().unwrap())
        .unwrap();
    assert!(
        states.contains(&(VENDOR.to_owned(), "vervallen".to_owned())),
        "{states:?}"
    );
    assert!(states.contains(&("AGB:03123456".to_owned(), "afgeleverd".to_owned())));
}

async fn optin_inbox(c: &TestClient) -> Vec<serde_json::Value> {
    let (status, v) = c.get_json("/api/v1/optin/inbox").await;
    assert_eq!(status, 200, "{v}");
    v["registraties"].as_array().unwrap().clone()
}

async fn handle(c: &TestClient, id: &str) -> (u16, serde_json::Value) {
    c.post_json(
        &format!("/api/v1/optin/registraties/{id}/afhandeling"),
        &json!({"status": "Verwerkt"}),
    )
    .await
}

#[tokio::test]
async fn a_vendor_handles_opt_in_registrations_only_where_the_provider_allows_it() {
    let w = world(r#"["0s", "200ms"]"#).await;
    let rv = tk::receiver();
    tk::register(&w.vendor, &rv, "json").await;
    let portal_party = w.app.party(PartyKind::Patientportaal, "portaal-x");
    let portal = w.app.client(&w.app.issue(
        &portal_party,
        CertKind::Systeem,
        &[Scope::OptinAanmelden],
        &[],
    ));
    let resp = w
        .provider
        .http
        .put(w.provider.url("/api/v1/optin/abonnement"))
        .json(&json!({"notificatieEmail": "optin@praktijk.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(resp).await.0, 200);
    // Subscribing stays the provider's own act.
    let resp = w
        .vendor
        .http
        .put(w.vendor.url("/api/v1/optin/abonnement"))
        .json(&json!({"notificatieEmail": "optin@pms.example"}))
        .send()
        .await
        .unwrap();
    let (status, p) = json_of(resp).await;
    assert_eq!((status, p["code"].as_str()), (403, Some("OPT-005")), "{p}");

    let register = |referentie: &'static str| {
        let portal = portal.clone();
        async move {
            let xml = crate::optin::registratie(referentie, "999999990", tk::AGB);
            let (status, body) =
                fixtures::post_xml(&portal, "/api/v1/optin/registraties", &xml).await;
            assert_eq!(status, 201, "{body}");
            body["registratieId"].as_str().unwrap().to_owned()
        }
    };

    // A statement without opt-in: machtigingen yes, registrations no.
    let tv = consent(&w, false).await;
    let first = register("V-1").await;
    assert!(optin_inbox(&w.vendor).await.is_empty());
    let (status, p) = handle(&w.vendor, &first).await;
    assert_eq!((status, p["code"].as_str()), (404, Some("REQ-001")), "{p}");
    let (status, _) = w
        .vendor
        .get_json(&format!("/api/v1/optin/registraties/{first}"))
        .await;
    assert_eq!(status, 404);
    assert!(pull(&w.vendor, "").await.is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !rv.received()
            .iter()
            .any(|m| m.body.contains("optin.registratie")),
        "an opt-in registration pushed without opt-in consent"
    );

    // The provider allows opt-in: the vendor fetches, reads and handles,
    // pushed and pulled, each naming the provider.
    revoke(&w, &tv).await;
    consent(&w, true).await;
    let second = register("V-2").await;
    let inbox = optin_inbox(&w.vendor).await;
    assert_eq!(inbox.len(), 2, "{inbox:?}");
    assert!(
        eventually(10, || async {
            rv.received()
                .iter()
                .any(|m| m.body.contains(second.as_str()))
        })
        .await
    );
    let pushed = rv
        .received()
        .into_iter()
        .find(|m| m.body.contains(second.as_str()))
        .unwrap();
    let pushed: serde_json::Value = serde_json::from_str(&pushed.body).unwrap();
    assert_eq!(pushed["type"], "optin.registratie");
    assert_eq!(pushed["zorgaanbieder"], tk::AGB);
    let pulled = pull(&w.vendor, "").await;
    assert!(
        pulled
            .iter()
            .any(|b| b["type"] == "optin.registratie" && b["zorgaanbieder"] == tk::AGB),
        "{pulled:?}"
    );
    let (status, body) = handle(&w.vendor, &first).await;
    assert_eq!(status, 200, "{body}");
    // And over SOAP.
    const NS: &str = "urn:machtigingen:optin:v1";
    let call = |v, op: &str, inner: String| {
        let body = format!("<{op} xmlns=\"{NS}\">{inner}</{op}>");
        let (vendor, op) = (w.vendor.clone(), op.to_owned());
        async move { soap::call(&vendor, "/soap/optin/v1", v, NS, &op, &body).await }
    };
    let ans = call(BOTH[0], "OphalenToestemmingen", String::new()).await;
    assert!(ans.texts("RegistratieId").contains(&second), "{}", ans.body);
    let ans = call(
        BOTH[1],
        "AfhandelenToestemming",
        format!("<RegistratieId>{second}</RegistratieId><Afhandeling>Verwerkt</Afhandeling>"),
    )
    .await;
    assert!(!ans.is_fault(), "{}", ans.body);
    let audit =
        machtigingen::audit::for_object(&mut w.app.db.conn().unwrap(), "optin_registratie", &first)
            .unwrap();
    let handled = audit
        .iter()
        .find(|r| r.action == "optin.afhandelen" && r.outcome == "ok")
        .unwrap();
    assert_eq!(handled.actor, VENDOR);
    assert_eq!(handled.acting_for.as_deref(), Some("AGB:03123456"));
}

#[tokio::test]
async fn a_vendor_reads_and_searches_only_the_requests_of_the_providers_it_serves() {
    let w = world(r#"["0s"]"#).await;
    let tv = consent(&w, false).await;
    let base = "/api/v1/machtigingsaanvragen";
    let by_vendor = submit(&w.vendor, &Aanvraag::default()).await;
    let by_provider = submit(&w.provider, &Aanvraag::default()).await;
    let theirs = submit(
        &w.other,
        &Aanvraag {
            agb: OTHER_AGB.into(),
            ..Default::default()
        },
    )
    .await;
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["resultaten"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["machtigingsaanvraagId"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, list) = w.vendor.get_json(base).await;
    assert_eq!(status, 200, "{list}");
    let mut found = ids(&list);
    found.sort();
    let mut want = vec![by_vendor.clone(), by_provider.clone()];
    want.sort();
    assert_eq!(found, want);
    // All three are about the same patient: the search finds the served two.
    let (status, hits) = w
        .vendor
        .post_json(
            &format!("{base}/zoeken"),
            &json!({"verzekerde": {"bsn": "999999990", "geboortedatum": "1970-03-14"}}),
        )
        .await;
    assert_eq!(status, 200, "{hits}");
    let mut found = ids(&hits);
    found.sort();
    assert_eq!(found, want, "{hits}");
    for (id, want) in [(&by_provider, 200), (&theirs, 404)] {
        let (status, _) = w.vendor.get_json(&format!("{base}/{id}")).await;
        assert_eq!(status, want, "{id}");
    }
    let audit = machtigingen::audit::for_object(
        &mut w.app.db.conn().unwrap(),
        "machtigingsaanvraag",
        &by_provider,
    )
    .unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.actor == VENDOR && r.acting_for.as_deref() == Some("AGB:03123456"))
    );

    // Revoked: not even what the vendor submitted itself.
    revoke(&w, &tv).await;
    let (_, list) = w.vendor.get_json(base).await;
    assert_eq!(list["totaal"], 0, "{list}");
    let (status, _) = w.vendor.get_json(&format!("{base}/{by_vendor}")).await;
    assert_eq!(status, 404);
}
