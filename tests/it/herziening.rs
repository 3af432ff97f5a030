//! The insurer revises a grant (`HerzienenMachtiging`, `POST …/herziening`)
//! through the real server: a revocation makes the validity check say no
//! from its ingangsdatum and reaches the provider's own HTTPS receiver as a
//! terugkoppeling (JSON and SOAP); shortening and extending move the answer
//! at the dates; every invalid revision is refused with its code and stores
//! nothing; only the insurer that granted it may revise it.

use diesel::prelude::*;
use machtigingen::registry::{CertKind, PartyKind, Scope};
use serde_json::{Value, json};

use crate::fixtures::{self, Aanvraag, beoordeling, days, insurer, submit};
use crate::support::soap::{BOTH, Soap};
use crate::support::{TestApp, TestClient, eventually};
use crate::terugkoppeling_support as tk;

const BASE: &str = "/api/v1/beoordeling/machtigingsaanvragen";

/// A request of `provider` granted by `ins` (`Toegekend`: from day 7 to day
/// 180, or `DeelsToegekend`: to day 90); its Machtigingsnummer.
async fn granted(provider: &TestClient, ins: &TestClient, status: &str) -> (String, String) {
    let id = submit(provider, &Aanvraag::default()).await;
    let (s, v) = ins
        .post_json(&format!("{BASE}/{id}/beoordeling"), &beoordeling(status))
        .await;
    assert_eq!(s, 200, "{v}");
    let number = v["beslissing"]["machtigingsnummer"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, number)
}

async fn revise(c: &TestClient, id: &str, body: Value) -> (u16, Value) {
    c.post_json(&format!("{BASE}/{id}/herziening"), &body).await
}

fn reason(mut body: Value) -> Value {
    body["redenCode"] = json!("FRAUDE");
    body["redenTekst"] = json!("De verzekerde is niet meer bij ons verzekerd.");
    body
}

/// The validity check's answer for `number` on `datum`.
async fn check(c: &TestClient, number: &str, datum: chrono::NaiveDate) -> Value {
    let body = json!({"uzovi": "3311", "machtigingsnummer": number, "bsn": "999999990",
        "prestatie": "DBC-OOGLID", "datum": datum});
    let (s, v) = c.post_json("/api/v1/machtigingen/controle", &body).await;
    assert_eq!(s, 200, "{v}");
    v
}

fn answer(v: &Value) -> (bool, &str) {
    (
        v["geldig"].as_bool().unwrap(),
        v["redenCode"].as_str().unwrap(),
    )
}

/// What a revision could have written for request `id`: its version and
/// status, its history, its terugkoppelingen and its successful revisions'
/// audit entries.
fn footprint(app: &TestApp, id: &str) -> (i32, String, i64, i64, i64) {
    use machtigingen::db::schema::{
        audit_log as a, machtiging_events as e, machtigingsaanvragen as m, terugkoppelingen as t,
    };
    let mut conn = app.db.conn().unwrap();
    let (version, status): (i32, String) = m::table
        .filter(m::id.eq(id))
        .select((m::version, m::status))
        .first(&mut *conn)
        .unwrap();
    let history: i64 = e::table
        .filter(e::request_id.eq(id))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    let callbacks: i64 = t::table
        .filter(t::subject_id.eq(id))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    let audits: i64 = a::table
        .filter(a::object_id.eq(id))
        .filter(a::action.eq("beoordeling.herzien"))
        .filter(a::outcome.eq("ok"))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    (version, status, history, callbacks, audits)
}

/// The `data` of every `machtiging.status` the receiver got about `id`.
fn received_json(rx: &machtigingen::receiver::Receiver, id: &str) -> Vec<Value> {
    rx.received()
        .iter()
        .filter_map(|m| serde_json::from_str::<Value>(&m.body).ok())
        .filter(|v| v["type"] == "machtiging.status" && v["data"]["machtigingsaanvraagId"] == id)
        .map(|v| v["data"].clone())
        .collect()
}

#[tokio::test]
async fn a_revoked_grant_is_no_longer_valid_and_the_provider_hears_it() {
    let app = tk::app(r#"["0s", "200ms", "500ms"]"#).await;
    fixtures::load_sample_catalog(&app);
    let provider = tk::provider(&app);
    let rx = tk::receiver();
    tk::register(&provider, &rx, "json").await;
    let ins = insurer(&app);
    let (id, number) = granted(&provider, &ins, "Toegekend").await;
    assert_eq!(
        answer(&check(&ins, &number, days(30)).await),
        (true, "GELDIG")
    );

    // Revoked from today: no date of the grant is valid any more.
    let (s, v) = revise(&ins, &id, reason(json!({"soort": "Herroeping"}))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "Herroepen", "{v}");
    let h = &v["beslissing"]["herziening"];
    assert_eq!(
        (h["soort"].as_str(), h["ingangsdatum"].as_str()),
        (Some("Herroeping"), Some(days(0).to_string().as_str())),
        "{v}"
    );
    assert_eq!(v["beslissing"]["geldigTot"], days(180).to_string(), "{v}");
    for (asker, datum) in [(&ins, days(30)), (&provider, days(30)), (&ins, days(0))] {
        assert_eq!(
            answer(&check(asker, &number, datum).await),
            (false, "HERROEPEN")
        );
    }

    // The provider's receiver gets a terugkoppeling naming the revision.
    assert!(
        eventually(10, || async { received_json(&rx, &id).len() == 2 }).await,
        "{:?}",
        received_json(&rx, &id)
    );
    let last = received_json(&rx, &id).pop().unwrap();
    assert_eq!(last["status"], "Herroepen", "{last}");
    let h = &last["beslissing"]["herziening"];
    assert_eq!(h["soort"], "Herroeping", "{last}");
    assert_eq!(h["redenCode"], "FRAUDE", "{last}");
    assert_eq!(h["ingangsdatum"], days(0).to_string(), "{last}");
    assert_eq!(last["beslissing"]["machtigingsnummer"], number.as_str());
    // The grant's own message carried no revision, not even a null one.
    let first = &received_json(&rx, &id)[0];
    assert!(first["beslissing"].get("herziening").is_none(), "{first}");

    // The provider reads it: the status, the revision, and the history entry.
    let (s, v) = provider
        .get_json(&format!("/api/v1/machtigingsaanvragen/{id}"))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "Herroepen", "{v}");
    assert_eq!(v["beslissing"]["herziening"]["soort"], "Herroeping", "{v}");
    let soorten: Vec<&str> = v["historie"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["soort"].as_str())
        .collect();
    assert_eq!(soorten.last(), Some(&"herroepen"), "{v}");
    assert_eq!(footprint(&app, &id).4, 1, "one audit entry");

    // Revoked is final: not revoked, shortened or extended again.
    for body in [
        json!({"soort": "Herroeping"}),
        json!({"soort": "Verlenging", "geldigTot": days(300)}),
    ] {
        let (s, v) = revise(&ins, &id, reason(body)).await;
        assert_eq!((s, v["code"].as_str()), (409, Some("STA-001")), "{v}");
    }
}

#[tokio::test]
async fn a_revocation_from_a_later_date_leaves_the_days_before_it() {
    let (app, provider) = fixtures::app_with_provider().await;
    let ins = insurer(&app);
    let (id, number) = granted(&provider, &ins, "DeelsToegekend").await;
    let body = reason(json!({"soort": "Herroeping", "ingangsdatum": days(60)}));
    let (s, v) = revise(&ins, &id, body).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("Herroepen")), "{v}");
    let before = check(&ins, &number, days(59)).await;
    assert_eq!(answer(&before), (true, "GELDIG"), "{before}");
    assert_eq!(before["geldigTot"], days(59).to_string(), "{before}");
    assert_eq!(
        answer(&check(&ins, &number, days(60)).await),
        (false, "HERROEPEN")
    );
    assert_eq!(
        answer(&check(&ins, &number, days(3)).await),
        (false, "BUITEN_GELDIGHEIDSPERIODE")
    );
}

#[tokio::test]
async fn shortening_and_extending_move_the_validity_answer() {
    let (app, provider) = fixtures::app_with_provider().await;
    let ins = insurer(&app);
    let (id, number) = granted(&provider, &ins, "Toegekend").await;
    let at = |d| check(&provider, &number, days(d));
    assert_eq!(answer(&at(100).await), (true, "GELDIG"));

    let (s, v) = revise(
        &ins,
        &id,
        reason(json!({"soort": "Inkorting", "geldigTot": days(60)})),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("Toegekend")), "{v}");
    assert_eq!(v["beslissing"]["geldigTot"], days(60).to_string());
    assert_eq!(
        v["beslissing"]["herziening"]["vorigeGeldigTot"],
        days(180).to_string()
    );
    assert_eq!(answer(&at(60).await), (true, "GELDIG"));
    assert_eq!(answer(&at(61).await), (false, "BUITEN_GELDIGHEIDSPERIODE"));
    assert_eq!(answer(&at(100).await), (false, "BUITEN_GELDIGHEIDSPERIODE"));

    let (s, v) = revise(
        &ins,
        &id,
        reason(json!({"soort": "Verlenging", "geldigTot": days(300)})),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("Toegekend")), "{v}");
    assert_eq!(
        v["beslissing"]["herziening"]["vorigeGeldigTot"],
        days(60).to_string()
    );
    assert_eq!(answer(&at(100).await), (true, "GELDIG"));
    assert_eq!(answer(&at(300).await), (true, "GELDIG"));
    assert_eq!(answer(&at(301).await), (false, "BUITEN_GELDIGHEIDSPERIODE"));

    // Each revision is a history entry and an audit entry, and a
    // terugkoppeling with the grant as it now is.
    let (version, status, _, _, audits) = footprint(&app, &id);
    assert_eq!((status.as_str(), audits), ("Toegekend", 2));
    assert_eq!(version, 4, "submitted, decided, two revisions");
    use machtigingen::db::schema::terugkoppelingen as t;
    let payloads: Vec<String> = t::table
        .filter(t::subject_id.eq(&id))
        .order(t::id.asc())
        .select(t::payload)
        .load(&mut *app.db.conn().unwrap())
        .unwrap();
    let last: Value = serde_json::from_str(payloads.last().unwrap()).unwrap();
    assert_eq!(last["beslissing"]["geldigTot"], days(300).to_string());
    assert_eq!(last["beslissing"]["herziening"]["soort"], "Verlenging");
}

#[tokio::test]
async fn every_invalid_revision_is_refused_with_its_code_and_stores_nothing() {
    let (app, provider) = fixtures::app_with_provider().await;
    let ins = insurer(&app);
    let (id, number) = granted(&provider, &ins, "Toegekend").await;
    let before = footprint(&app, &id);
    let cases = [
        ("HER-001", json!({"soort": "Herroeping"})),
        (
            "HER-001",
            json!({"soort": "Herroeping", "redenCode": "X", "redenTekst": "  "}),
        ),
        (
            "HER-002",
            reason(json!({"soort": "Inkorting", "geldigTot": days(-1)})),
        ),
        (
            "HER-002",
            reason(json!({"soort": "Inkorting", "geldigTot": days(180)})),
        ),
        (
            "HER-002",
            reason(json!({"soort": "Inkorting", "geldigTot": days(5)})),
        ),
        ("HER-002", reason(json!({"soort": "Inkorting"}))),
        (
            "HER-003",
            reason(json!({"soort": "Verlenging", "geldigTot": days(180)})),
        ),
        (
            "HER-003",
            reason(json!({"soort": "Verlenging", "geldigTot": days(100)})),
        ),
        (
            "HER-004",
            reason(json!({"soort": "Herroeping", "ingangsdatum": days(-1)})),
        ),
        (
            "HER-004",
            reason(json!({"soort": "Herroeping", "ingangsdatum": days(181)})),
        ),
        (
            "HER-004",
            reason(json!({"soort": "Herroeping", "geldigTot": days(30)})),
        ),
        ("REQ-004", reason(json!({"soort": "Intrekking"}))),
        (
            "REQ-004",
            reason(json!({"soort": "Herroeping", "per": days(3)})),
        ),
    ];
    for (code, body) in cases {
        let (s, v) = revise(&ins, &id, body.clone()).await;
        assert_eq!(v["code"].as_str(), Some(code), "{body}: {s} {v}");
        assert!((400..500).contains(&s), "{body}: {s}");
        assert_eq!(footprint(&app, &id), before, "{body}: something was stored");
    }
    assert_eq!(
        answer(&check(&ins, &number, days(100)).await),
        (true, "GELDIG")
    );

    // Only a grant is revised: not a request still being assessed, nor a
    // rejected one.
    for status in ["Ingediend", "InBehandeling", "Afgewezen"] {
        let other = submit(&provider, &Aanvraag::default()).await;
        fixtures::insurer_sets(&app, &other, status).await;
        let before = footprint(&app, &other);
        let (s, v) = revise(&ins, &other, reason(json!({"soort": "Herroeping"}))).await;
        assert_eq!((s, v["code"].as_str()), (409, Some("STA-001")), "{v}");
        assert_eq!(footprint(&app, &other), before);
    }
}

#[tokio::test]
async fn only_the_insurer_that_granted_it_may_revise_it() {
    let (app, provider) = fixtures::app_with_provider().await;
    let ins = insurer(&app);
    let (id, number) = granted(&provider, &ins, "Toegekend").await;
    let before = footprint(&app, &id);
    let body = reason(json!({"soort": "Herroeping"}));

    // Another insurer does not see it; the provider may not assess.
    let other = app.party(PartyKind::Zorgverzekeraar, "3399");
    let other = app.client(&app.issue(&other, CertKind::Systeem, &[Scope::Beoordelen], &[]));
    let (s, v) = revise(&other, &id, body.clone()).await;
    assert_eq!((s, v["code"].as_str()), (404, Some("REQ-001")), "{v}");
    // The attempt is audited as refused, as every look-up of another's request.
    use machtigingen::db::schema::audit_log as a;
    let refused: Vec<(String, String)> = a::table
        .filter(a::object_id.eq(&id))
        .filter(a::action.eq("beoordeling.herzien"))
        .select((a::actor, a::outcome))
        .load(&mut *app.db.conn().unwrap())
        .unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].0.contains("3399"), "{refused:?}");
    assert_eq!(refused[0].1, "geweigerd: niet gevonden");
    let (s, v) = revise(&provider, &id, body.clone()).await;
    assert_eq!((s, v["code"].as_str()), (403, Some("AUTZ-001")), "{v}");
    // The insurer's certificate without `beoordelen` may not either.
    let me = app.party(PartyKind::Zorgverzekeraar, "3311");
    let without =
        app.client(&app.issue(&me, CertKind::Systeem, &[Scope::TerugkoppelingBeheren], &[]));
    let (s, v) = revise(&without, &id, body.clone()).await;
    assert_eq!((s, v["code"].as_str()), (403, Some("AUTZ-001")), "{v}");
    assert_eq!(footprint(&app, &id), before);
    assert_eq!(
        answer(&check(&ins, &number, days(30)).await),
        (true, "GELDIG")
    );

    // An assessor's persoonlijk certificate with `beoordelen` may.
    let assessor = app.client(&app.issue(&me, CertKind::Persoonlijk, &[Scope::Beoordelen], &[]));
    let (s, v) = revise(&assessor, &id, body).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("Herroepen")), "{v}");
}

async fn soap_revise(c: &TestClient, v: Soap, inner: &str) -> crate::support::soap::Answer {
    const NS: &str = "urn:machtigingen:beoordeling:v1";
    let op = "HerzienenMachtiging";
    crate::support::soap::call(
        c,
        "/soap/beoordeling/v1",
        v,
        NS,
        op,
        &format!("<{op} xmlns=\"{NS}\">{inner}</{op}>"),
    )
    .await
}

#[tokio::test]
async fn over_soap_with_a_soap_callback() {
    let app = tk::app(r#"["0s", "200ms", "500ms"]"#).await;
    fixtures::load_sample_catalog(&app);
    let provider = tk::provider(&app);
    let rx = tk::receiver();
    tk::register(&provider, &rx, "soap").await;
    let ins = insurer(&app);
    for v in BOTH {
        let (id, number) = granted(&provider, &ins, "Toegekend").await;
        // Refusals are Faults with their code, and store nothing.
        let before = footprint(&app, &id);
        let f = soap_revise(&ins, v, &format!("<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId><Soort>Verlenging</Soort><GeldigTot>{}</GeldigTot><RedenCode>R</RedenCode><RedenTekst>Langer.</RedenTekst>", days(10))).await;
        assert_eq!(f.fault_code().as_deref(), Some("HER-003"), "{}", f.body);
        let f = soap_revise(&ins, v, &format!("<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId><Soort>Herroeping</Soort><RedenCode>R</RedenCode><RedenTekst> </RedenTekst>")).await;
        assert_eq!(f.fault_code().as_deref(), Some("HER-001"), "{}", f.body);
        let f = soap_revise(
            &ins,
            v,
            &format!(
                "<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId><Soort>Herroeping</Soort>"
            ),
        )
        .await;
        assert_eq!(f.fault_code().as_deref(), Some("XSD-001"), "{}", f.body);
        let f = soap_revise(&provider, v, &format!("<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId><Soort>Herroeping</Soort><RedenCode>R</RedenCode><RedenTekst>Weg.</RedenTekst>")).await;
        assert_eq!(f.fault_code().as_deref(), Some("AUTZ-001"), "{}", f.body);
        assert_eq!(footprint(&app, &id), before);

        let ans = soap_revise(&ins, v, &format!("<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId><Soort>Inkorting</Soort><GeldigTot>{}</GeldigTot><RedenCode>KORTER</RedenCode><RedenTekst>Minder nodig.</RedenTekst>", days(40))).await;
        assert!(!ans.is_fault(), "{}", ans.body);
        assert_eq!(ans.text("Status").as_deref(), Some("Toegekend"));
        assert_eq!(ans.text("GeldigTot"), Some(days(40).to_string()));
        assert_eq!(ans.text("VorigeGeldigTot"), Some(days(180).to_string()));
        let ans = soap_revise(&ins, v, &format!("<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId><Soort>Herroeping</Soort><RedenCode>FRAUDE</RedenCode><RedenTekst>Onjuist.</RedenTekst>")).await;
        assert_eq!(
            ans.text("Status").as_deref(),
            Some("Herroepen"),
            "{}",
            ans.body
        );
        assert_eq!(ans.text("Ingangsdatum"), Some(days(0).to_string()));

        // The validity check over SOAP says no, with the reason.
        let c = crate::support::soap::call(&ins, "/soap/beoordeling/v1", v, "urn:machtigingen:beoordeling:v1", "ControlerenMachtiging",
            &format!("<ControlerenMachtiging xmlns=\"urn:machtigingen:beoordeling:v1\"><Uzovi>3311</Uzovi><Machtigingsnummer>{number}</Machtigingsnummer><Bsn>999999990</Bsn><Prestatie>DBC-OOGLID</Prestatie><Datum>{}</Datum></ControlerenMachtiging>", days(20))).await;
        assert_eq!(
            (c.text("Geldig").as_deref(), c.text("RedenCode").as_deref()),
            (Some("false"), Some("HERROEPEN")),
            "{}",
            c.body
        );

        // The provider's SOAP receiver gets the revocation, schema-valid.
        let revoked = || {
            rx.received()
                .into_iter()
                .find(|m| m.body.contains(&id) && m.body.contains("<Status>Herroepen</Status>"))
        };
        assert!(eventually(10, || async { revoked().is_some() }).await);
        let m = revoked().unwrap();
        assert!(m.content_type.starts_with("text/xml"), "{}", m.content_type);
        for part in [
            "<Herziening><Soort>Herroeping</Soort>",
            "<RedenCode>FRAUDE</RedenCode>",
            &format!("<Ingangsdatum>{}</Ingangsdatum>", days(0)),
        ] {
            assert!(m.body.contains(part), "{part}: {}", m.body);
        }
        let doc = machtigingen::validation::xsd::parse(m.body.as_bytes()).unwrap();
        let root = doc.get_root_element().unwrap();
        let body = root.get_first_element_child().unwrap();
        let op = body.get_first_element_child().unwrap();
        machtigingen::validation::xsd::validate(
            machtigingen::validation::SchemaSet::Terugkoppeling,
            &op,
        )
        .unwrap_or_else(|p| panic!("{p:?}\n{}", m.body));
    }
}
