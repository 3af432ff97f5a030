//! The scope × event-kind axis of the access matrix: for every kind of
//! terugkoppeling and every authorization, a certificate of the recipient
//! party holding only that authorization pulls (REST and SOAP), reads the
//! delivery log and acknowledges, and sees the message exactly when this
//! file's table says so. The table is the test's own, not the code's; its
//! rows are checked against the kinds the platform writes, so a new kind
//! without a row here fails. Reads, pulls and pushes of kinds that carry
//! patient data must leave audit rows.

use diesel::prelude::*;
use machtigingen::registry::{CertKind, PartyKind, PartyRef, Scope};
use serde_json::json;

use crate::fixtures::{self, Aanvraag};
use crate::support::soap::{self, Soap};
use crate::support::{TestApp, TestClient};
use crate::terugkoppeling_support as tk;
use machtigingen::receiver::Receiver;

const NS: &str = "urn:machtigingen:terugkoppelingbeheer:v1";
const PATH: &str = "/soap/terugkoppelingbeheer/v1";

/// Who receives a kind.
#[derive(Clone, Copy, Debug)]
enum Recipient {
    Provider,
    Insurer,
    Portal,
}

/// (kind, recipient, the authorizations that read it, carries patient data)
const ROWS: &[(&str, Recipient, &[Scope], bool)] = &[
    (
        "machtiging.status",
        Recipient::Provider,
        &[Scope::MachtigingenRaadplegen, Scope::MachtigingenIndienen],
        true,
    ),
    (
        "machtiging.inbox",
        Recipient::Insurer,
        &[Scope::Beoordelen],
        false,
    ),
    (
        "optin.registratie",
        Recipient::Provider,
        &[Scope::OptinAfhandelen],
        true,
    ),
    (
        "optin.status",
        Recipient::Portal,
        &[Scope::OptinAanmelden],
        false,
    ),
];

#[test]
fn every_kind_has_a_row_and_every_row_is_a_kind() {
    use machtigingen::dispatch::registration::EVENT_TYPES;
    use machtigingen::outbox::kinds::KINDS;
    for k in KINDS {
        assert!(
            ROWS.iter().any(|r| r.0 == k.name),
            "kind {} has no row in the scope × kind matrix",
            k.name
        );
    }
    for t in EVENT_TYPES {
        assert!(ROWS.iter().any(|r| r.0 == *t), "{t} has no row");
    }
    for r in ROWS {
        assert!(
            KINDS.iter().any(|k| k.name == r.0),
            "row {} is no kind",
            r.0
        );
    }
}

struct World {
    provider: PartyRef,
    insurer: PartyRef,
    portal: PartyRef,
    provider_rx: Receiver,
    insurer_rx: Receiver,
}

impl World {
    fn party(&self, r: Recipient) -> (&PartyRef, PartyKind) {
        match r {
            Recipient::Provider => (&self.provider, PartyKind::Zorgaanbieder),
            Recipient::Insurer => (&self.insurer, PartyKind::Zorgverzekeraar),
            Recipient::Portal => (&self.portal, PartyKind::Patientportaal),
        }
    }
}

/// One message of every kind, each made by the real operations.
async fn world(app: &TestApp) -> World {
    fixtures::load_sample_catalog(app);
    let provider = app.party(PartyKind::Zorgaanbieder, tk::AGB);
    let p = app.client(&app.issue(
        &provider,
        CertKind::Systeem,
        &[
            Scope::MachtigingenIndienen,
            Scope::TerugkoppelingBeheren,
            Scope::OptinAfhandelen,
        ],
        &[],
    ));
    let provider_rx = tk::receiver();
    tk::register(&p, &provider_rx, "json").await;
    let insurer = app.party(PartyKind::Zorgverzekeraar, "3311");
    let ins = app.client(&app.issue(
        &insurer,
        CertKind::Systeem,
        &[Scope::Beoordelen, Scope::TerugkoppelingBeheren],
        &[],
    ));
    let insurer_rx = tk::receiver();
    tk::register(&ins, &insurer_rx, "json").await;
    let portal = app.party(PartyKind::Patientportaal, "portaal-x");
    let portal_client =
        app.client(&app.issue(&portal, CertKind::Systeem, &[Scope::OptinAanmelden], &[]));

    let ma = fixtures::submit(&p, &Aanvraag::default()).await;
    fixtures::insurer_sets(app, &ma, "InBehandeling").await;
    let resp = p
        .http
        .put(p.url("/api/v1/optin/abonnement"))
        .json(&json!({"notificatieEmail": "optin@praktijk.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let doc = crate::optin::registratie("P-1", "999999990", tk::AGB);
    let (s, v) = fixtures::post_xml(&portal_client, "/api/v1/optin/registraties", &doc).await;
    assert_eq!(s, 201, "{v}");
    let reg = v["registratieId"].as_str().unwrap();
    let (s, v) = p
        .post_json(
            &format!("/api/v1/optin/registraties/{reg}/afhandeling"),
            &json!({"status": "Verwerkt"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    World {
        provider,
        insurer,
        portal,
        provider_rx,
        insurer_rx,
    }
}

/// The terugkoppeling ids of `kind` addressed to `party`.
fn messages(app: &TestApp, party: &PartyRef, kind: &str) -> Vec<String> {
    use machtigingen::db::schema::terugkoppelingen as t;
    t::table
        .filter(t::recipient.eq(party.to_string()))
        .filter(t::event_type.eq(kind))
        .select(t::public_id)
        .load(&mut *app.db.conn().unwrap())
        .unwrap()
}

fn audit_actions(app: &TestApp, id: &str) -> Vec<(String, Option<String>)> {
    machtigingen::audit::for_object(&mut app.db.conn().unwrap(), "terugkoppeling", id)
        .unwrap()
        .into_iter()
        .map(|r| (r.action, r.fingerprint))
        .collect()
}

async fn rest_pull(c: &TestClient) -> (u16, serde_json::Value) {
    c.get_json("/api/v1/terugkoppeling/berichten?alle=true&max=500")
        .await
}

async fn soap_pull(c: &TestClient) -> soap::Answer {
    soap::call(
        c,
        PATH,
        Soap::V11,
        NS,
        "OphalenTerugkoppelingen",
        &format!("<OphalenTerugkoppelingen xmlns=\"{NS}\"><Maximum>500</Maximum></OphalenTerugkoppelingen>"),
    )
    .await
}

#[tokio::test]
async fn each_kind_reaches_only_the_authorization_it_concerns() {
    let app = tk::app(r#"["0s"]"#).await;
    let w = world(&app).await;
    let mut cells = 0;
    for (kind, recipient, readers, patient_data) in ROWS {
        let (party, party_kind) = w.party(*recipient);
        let ids = messages(&app, party, kind);
        assert!(!ids.is_empty(), "the world made no {kind}");
        let id = &ids[0];
        for scope in Scope::ALL {
            if !party_kind.allowed_scopes().contains(scope) {
                // No such certificate can be issued to this party.
                continue;
            }
            // Only the contact person's persoonlijk certificate holds gebruikersbeheer.
            let cert_kind = if scope == Scope::Gebruikersbeheer {
                CertKind::Persoonlijk
            } else {
                CertKind::Systeem
            };
            let cert = app.issue(party, cert_kind, &[scope], &[]);
            let c = app.client(&cert);
            let reads = readers.contains(&scope);
            let reads_any = ROWS.iter().any(|r| r.2.contains(&scope));
            let cell = format!("{kind} × {scope}");

            // Pull, REST and SOAP.
            let (s, v) = rest_pull(&c).await;
            let soap = soap_pull(&c).await;
            if reads_any {
                assert_eq!(s, 200, "{cell}: {v}");
                let got: Vec<&str> = v["berichten"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b["id"].as_str().unwrap())
                    .collect();
                assert_eq!(got.contains(&id.as_str()), reads, "{cell}: {v}");
                assert!(
                    v["berichten"].as_array().unwrap().iter().all(|b| ROWS
                        .iter()
                        .any(|r| r.0 == b["type"] && r.2.contains(&scope))),
                    "{cell}: a kind outside the authorization: {v}"
                );
                assert!(!soap.is_fault(), "{cell}: {}", soap.body);
                assert_eq!(
                    soap.texts("TerugkoppelingId").contains(id),
                    reads,
                    "{cell}: {}",
                    soap.body
                );
            } else {
                assert_eq!(
                    (s, v["code"].as_str()),
                    (403, Some("AUTZ-001")),
                    "{cell}: {v}"
                );
                assert_eq!(soap.fault_code().as_deref(), Some("AUTZ-001"), "{cell}");
            }
            if reads && *patient_data {
                let rows = audit_actions(&app, id);
                let pulls = rows
                    .iter()
                    .filter(|(a, f)| {
                        a == "terugkoppeling.ophalen" && f.as_deref() == Some(&cert.fingerprint)
                    })
                    .count();
                assert_eq!(pulls, 2, "{cell}: one audit row per pull: {rows:?}");
            }

            // The delivery log: delivery management, content only for a reader.
            let (s, v) = c
                .get_json(&format!("/api/v1/terugkoppeling/berichten/{id}"))
                .await;
            if scope == Scope::TerugkoppelingBeheren {
                assert_eq!(s, 200, "{cell}: {v}");
                assert!(v["bericht"]["data"].is_null(), "{cell}: content shown: {v}");
                assert_eq!(v["bericht"]["id"], id.as_str(), "{cell}");
            } else {
                assert_eq!(
                    (s, v["code"].as_str()),
                    (403, Some("AUTZ-001")),
                    "{cell}: {v}"
                );
            }

            // Acknowledging a kind one may not read acknowledges nothing.
            if reads_any && !reads {
                let (s, v) = c
                    .post_json(
                        "/api/v1/terugkoppeling/berichten/bevestiging",
                        &json!({"ids": [id]}),
                    )
                    .await;
                assert_eq!((s, &v["onbekend"]), (200, &json!([id])), "{cell}: {v}");
            }
            cells += 1;
        }

        // A callback manager that may also read the kind sees its content,
        // and that read is audited.
        let reader = readers[readers.len() - 1];
        let cert = app.issue(
            party,
            CertKind::Systeem,
            &[Scope::TerugkoppelingBeheren, reader],
            &[],
        );
        let c = app.client(&cert);
        let (s, v) = c
            .get_json(&format!("/api/v1/terugkoppeling/berichten/{id}"))
            .await;
        assert_eq!(s, 200, "{kind}: {v}");
        assert!(v["bericht"]["data"].is_object(), "{kind}: {v}");
        let read_rows = audit_actions(&app, id)
            .into_iter()
            .filter(|(a, f)| {
                a == "terugkoppeling.raadplegen" && f.as_deref() == Some(&cert.fingerprint)
            })
            .count();
        assert_eq!(read_rows, usize::from(*patient_data), "{kind}");
        let (s, v) = c
            .post_json(
                "/api/v1/terugkoppeling/berichten/bevestiging",
                &json!({"ids": [id]}),
            )
            .await;
        assert_eq!((s, &v["bevestigd"]), (200, &json!(1)), "{kind}: {v}");
    }
    // provider 5 × 2 kinds, insurer 3, portal 3: the certificates that can exist.
    assert_eq!(cells, 16);

    // Pushes of patient data are audited by the dispatcher, one row per
    // delivered terugkoppeling; kinds without patient data are not.
    for (kind, recipient, _, patient_data) in ROWS {
        let (party, _) = w.party(*recipient);
        for id in messages(&app, party, kind) {
            let rx = match recipient {
                Recipient::Provider => &w.provider_rx,
                Recipient::Insurer => &w.insurer_rx,
                // The portal registered no callback.
                Recipient::Portal => continue,
            };
            assert!(
                crate::support::eventually(10, || async {
                    rx.received().iter().any(|m| m.webhook_id == id)
                })
                .await,
                "{kind} {id} not pushed"
            );
            let pushed = || {
                audit_actions(&app, &id)
                    .iter()
                    .filter(|(a, f)| a == "terugkoppeling.afgeleverd" && f.is_none())
                    .count()
            };
            assert!(
                crate::support::eventually(10, || async { pushed() == usize::from(*patient_data) })
                    .await,
                "{kind} {id}: {:?}",
                audit_actions(&app, &id)
            );
        }
    }
}

/// Whoever registers the callback chooses where the content goes: only
/// kinds the registering certificate may read itself, on both doors.
#[tokio::test]
async fn a_callback_subscribes_only_to_kinds_its_registrar_may_read() {
    let app = tk::app(r#"["0s"]"#).await;
    let rx = tk::receiver();
    let body = |kinds: Option<&[&str]>| {
        let mut b = json!({
            "url": format!("https://localhost:{}/tk", rx.addr.port()),
            "formaat": "json",
            "caBundle": tk::ca_pem(),
        });
        if let Some(k) = kinds {
            b["gebeurtenissen"] = json!(k);
        }
        b
    };
    let manager = app.provider(tk::AGB, &[Scope::TerugkoppelingBeheren]);
    for kinds in [None, Some(&["machtiging.status"][..])] {
        let (s, v) = tk::put_abonnement(&manager, &body(kinds)).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (403, Some("AUTZ-001")),
            "{kinds:?}: {v}"
        );
    }
    let ans = soap::call(
        &manager,
        PATH,
        Soap::V11,
        NS,
        "RegistrerenAbonnement",
        &format!(
            "<RegistrerenAbonnement xmlns=\"{NS}\"><Url>https://localhost:{}/tk</Url><Formaat>json</Formaat></RegistrerenAbonnement>",
            rx.addr.port()
        ),
    )
    .await;
    assert_eq!(
        ans.fault_code().as_deref(),
        Some("AUTZ-001"),
        "{}",
        ans.body
    );

    let submitter = app.provider(
        tk::AGB,
        &[Scope::TerugkoppelingBeheren, Scope::MachtigingenIndienen],
    );
    let (s, v) = tk::put_abonnement(&submitter, &body(Some(&["optin.registratie"]))).await;
    assert_eq!((s, v["code"].as_str()), (403, Some("AUTZ-001")), "{v}");
    let (s, v) = tk::put_abonnement(&submitter, &body(None)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["gebeurtenissen"], json!(["machtiging.status"]), "{v}");

    let both = app.provider(
        tk::AGB,
        &[
            Scope::TerugkoppelingBeheren,
            Scope::MachtigingenRaadplegen,
            Scope::OptinAfhandelen,
        ],
    );
    let (s, v) = tk::put_abonnement(&both, &body(None)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["gebeurtenissen"],
        json!(["machtiging.status", "optin.registratie"]),
        "{v}"
    );
}
