//! The certificate and access matrix: every REST route (from the OpenAPI
//! document) and every SOAP operation (from the service contracts), for every
//! kind of caller that must not get in. A route without an entry in `BODIES`
//! fails the test, so a new route cannot be forgotten.
//!
//! Caller kinds and their documented refusal: no certificate, a foreign CA's
//! and an expired certificate → the TLS handshake fails; unregistered →
//! AUTH-001; revoked → AUTH-002; of a deactivated party → AUTH-005; wrong IP →
//! AUTZ-002; registered without the authorization → AUTZ-001. Another party's valid certificate is answered
//! "not found" (REQ-001): its own generated matrix is in `access_parties`.

use std::path::Path;

use machtigingen::audit::Actor;
use machtigingen::config::KeyType;
use machtigingen::pki::{self, Ca, ClientSubject, Validity};
use machtigingen::registry::admin;
use machtigingen::registry::{CertKind, PartyKind, Scope};

use crate::support::soap::{self, Soap};
use crate::support::{TestApp, TestCert, TestClient, pki as test_pki};

/// Routes any registered certificate may call (still refused to every other
/// kind of caller).
const NEEDS_NO_AUTHORIZATION: &[&str] = &["/api/v1/whoami"];

/// SOAP operations any registered certificate may call.
const SOAP_NEEDS_NO_AUTHORIZATION: &[&str] = &["WieBenIk"];

/// A body each route accepts far enough to reach the authorization check:
/// `xml:` a file from docs/examples, `json:` inline JSON, `-` none.
const BODIES: &[(&str, &str, &str)] = &[
    ("get", "/api/v1/whoami", "-"),
    ("get", "/api/v1/beheer/certificaten", "-"),
    (
        "post",
        "/api/v1/beheer/certificaten",
        r#"json:{"csr": "x"}"#,
    ),
    (
        "post",
        "/api/v1/beheer/certificaten/{fp}/autorisaties",
        "json:{}",
    ),
    ("post", "/api/v1/beheer/certificaten/{fp}/intrekking", "-"),
    (
        "put",
        "/api/v1/beheer/certificaten/{fp}/ip-allowlist",
        r#"json:{"netwerken": []}"#,
    ),
    ("get", "/api/v1/beheer/contact", "-"),
    ("put", "/api/v1/beheer/contact", "json:{}"),
    ("get", "/api/v1/beheer/historie", "-"),
    ("get", "/api/v1/beheer/toestemmingsverklaringen", "-"),
    (
        "post",
        "/api/v1/beheer/toestemmingsverklaringen",
        r#"json:{"leverancier": "PLATFORM:pms-x"}"#,
    ),
    (
        "delete",
        "/api/v1/beheer/toestemmingsverklaringen/{id}",
        "-",
    ),
    ("get", "/api/v1/beoordeling/catalogus", "-"),
    (
        "put",
        "/api/v1/beoordeling/catalogus",
        r#"json:{"uzovi": "3311"}"#,
    ),
    ("get", "/api/v1/beoordeling/inbox", "-"),
    (
        "post",
        "/api/v1/beoordeling/inbox/ontvangst",
        r#"json:{"inboxIds": []}"#,
    ),
    ("get", "/api/v1/beoordeling/machtigingsaanvragen", "-"),
    (
        "post",
        "/api/v1/beoordeling/machtigingsaanvragen/zoeken",
        r#"json:{"verzekerde": {"bsn": "999999990", "geboortedatum": "1970-03-14"}}"#,
    ),
    ("get", "/api/v1/beoordeling/machtigingsaanvragen/{id}", "-"),
    (
        "post",
        "/api/v1/beoordeling/machtigingsaanvragen/{id}/beoordeling",
        r#"json:{"status": "InBehandeling"}"#,
    ),
    (
        "post",
        "/api/v1/beoordeling/machtigingsaanvragen/{id}/herziening",
        r#"json:{"soort": "Herroeping", "redenCode": "R", "redenTekst": "Weg."}"#,
    ),
    (
        "post",
        "/api/v1/machtigingen/controle",
        r#"json:{"uzovi": "3311", "machtigingsnummer": "M1", "bsn": "999999990", "prestatie": "X", "datum": "2026-01-01"}"#,
    ),
    ("get", "/api/v1/machtigingsaanvragen", "-"),
    (
        "post",
        "/api/v1/machtigingsaanvragen",
        "xml:machtigingen/Machtigingsaanvraag.xml",
    ),
    ("post", "/api/v1/machtigingsaanvragen/zoeken", "json:{}"),
    ("get", "/api/v1/machtigingsaanvragen/{id}", "-"),
    (
        "put",
        "/api/v1/machtigingsaanvragen/{id}",
        "xml:machtigingen/Machtigingsaanvraag.xml",
    ),
    (
        "post",
        "/api/v1/machtigingsaanvragen/{id}/aanvullende-informatie",
        "xml:machtigingen/AanvullendeInformatie.xml",
    ),
    (
        "post",
        "/api/v1/machtigingsaanvragen/{id}/intrekking",
        "json:{}",
    ),
    ("delete", "/api/v1/optin/abonnement", "-"),
    ("get", "/api/v1/optin/abonnement", "-"),
    ("put", "/api/v1/optin/abonnement", "json:{}"),
    ("get", "/api/v1/optin/inbox", "-"),
    (
        "post",
        "/api/v1/optin/inbox/ontvangst",
        r#"json:{"registratieIds": []}"#,
    ),
    ("get", "/api/v1/optin/registraties", "-"),
    (
        "post",
        "/api/v1/optin/registraties",
        "xml:optin/Toestemmingsregistratie.xml",
    ),
    ("get", "/api/v1/optin/registraties/{id}", "-"),
    (
        "post",
        "/api/v1/optin/registraties/{id}/afhandeling",
        r#"json:{"status": "Verwerkt"}"#,
    ),
    ("delete", "/api/v1/terugkoppeling/abonnement", "-"),
    ("get", "/api/v1/terugkoppeling/abonnement", "-"),
    (
        "put",
        "/api/v1/terugkoppeling/abonnement",
        r#"json:{"url": "https://x.example/tk", "formaat": "json"}"#,
    ),
    ("get", "/api/v1/terugkoppeling/abonnement/controle", "-"),
    ("post", "/api/v1/terugkoppeling/abonnement/controle", "-"),
    (
        "get",
        "/api/v1/terugkoppeling/abonnement/controle/{id}",
        "-",
    ),
    ("post", "/api/v1/terugkoppeling/abonnement/geheim", "-"),
    ("get", "/api/v1/terugkoppeling/berichten", "-"),
    (
        "post",
        "/api/v1/terugkoppeling/berichten/bevestiging",
        r#"json:{"ids": []}"#,
    ),
    ("get", "/api/v1/terugkoppeling/berichten/{id}", "-"),
    ("post", "/api/v1/terugkoppeling/berichten/{id}/opnieuw", "-"),
    (
        "post",
        "/api/v1/terugkoppeling/herstel",
        r#"json:{"sinds": "2026-01-01T00:00:00"}"#,
    ),
    ("get", "/api/v1/verstrekkingen", "-"),
];

/// Payloads for SOAP operations without an example file.
const SOAP_PAYLOADS: &[(&str, &str)] = &[
    (
        "RegistrerenAbonnement",
        "<Url>https://x.example/tk</Url><Formaat>json</Formaat>",
    ),
    ("OpzeggenAbonnement", ""),
    ("RoterenGeheim", ""),
    ("OphalenTerugkoppelingen", ""),
    (
        "BevestigenTerugkoppelingen",
        "<TerugkoppelingId>TK0</TerugkoppelingId>",
    ),
    ("ControlerenOntvanger", ""),
    ("OphalenControles", ""),
];

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples")
}

fn concrete(path: &str) -> String {
    path.replace("{id}", &format!("MA{}", "0".repeat(32)))
        .replace("{fp}", &"0".repeat(64))
}

async fn send(
    c: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, String), String> {
    let url = format!("{base}{}", concrete(path));
    let mut req = c.request(method.to_uppercase().parse().unwrap(), url);
    if let Some(file) = body.strip_prefix("xml:") {
        req = req
            .header("content-type", "application/xml")
            .body(std::fs::read(examples().join(file)).unwrap());
    } else if let Some(json) = body.strip_prefix("json:") {
        req = req
            .header("content-type", "application/json")
            .body(json.to_owned());
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let v: serde_json::Value = resp.json().await.unwrap_or_default();
    Ok((status, v["code"].as_str().unwrap_or_default().to_owned()))
}

pub fn soap_payload(service: &str, namespace: &str, op: &str) -> String {
    if let Some((_, inner)) = SOAP_PAYLOADS.iter().find(|(o, _)| *o == op) {
        return format!("<{op} xmlns=\"{namespace}\">{inner}</{op}>");
    }
    let text = std::fs::read_to_string(examples().join(service).join(format!("{op}.xml")))
        .unwrap_or_else(|_| panic!("no example payload for {service}/{op}"));
    text.split_once("?>")
        .map_or(text.clone(), |(_, b)| b.trim().to_owned())
}

fn client_without_identity() -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&test_pki().ca_pem).unwrap()).unwrap();
    reqwest::Client::builder()
        .tls_backend_native()
        .tls_certs_only([ca])
        .build()
        .unwrap()
}

fn subject(ou: &str) -> ClientSubject {
    ClientSubject {
        common_name: "matrix".into(),
        organization: "matrix".into(),
        organizational_unit: ou.into(),
    }
}

#[tokio::test]
async fn every_route_refuses_every_caller_that_must_not_get_in() {
    let app = TestApp::spawn().await;
    let base = app.url("");

    // The route list comes from the OpenAPI document; BODIES must match it.
    let doc = machtigingen::rest::openapi::document(machtigingen::rest::openapi::PLACEHOLDER_URL);
    let mut routes: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.push((method.clone(), path.clone()));
        }
    }
    for (m, p) in &routes {
        assert!(
            BODIES.iter().any(|(bm, bp, _)| bm == m && bp == p),
            "route {m} {p} is not in the access matrix"
        );
    }
    assert_eq!(
        routes.len(),
        BODIES.len(),
        "BODIES lists a route that no longer exists"
    );

    // The callers.
    let party = app.party(PartyKind::Zorgaanbieder, "03123456");
    let no_scopes = app.client(&app.issue(&party, CertKind::Systeem, &[], &[]));
    let wrong_ip = app.client(&app.issue(&party, CertKind::Systeem, &[], &["192.0.2.0/24"]));
    let revoked = app.client(&app.issue(&party, CertKind::Systeem, &[], &[]));
    {
        let mut conn = app.db.conn().unwrap();
        let cert = machtigingen::registry::store::certificate_by_fingerprint(
            &mut conn,
            &revoked.cert.fingerprint,
        )
        .unwrap()
        .unwrap();
        admin::revoke(&mut conn, None, &cert, "matrix", &Actor::operator()).unwrap();
    }
    // Every certificate of a deactivated party, whatever it holds.
    let deactivated = {
        let gone = app.party(PartyKind::Zorgaanbieder, "03999997");
        let all: Vec<Scope> = PartyKind::Zorgaanbieder
            .allowed_scopes()
            .iter()
            .filter(|s| *s != Scope::Gebruikersbeheer)
            .collect();
        let c = app.client(&app.issue(&gone, CertKind::Systeem, &all, &[]));
        let mut conn = app.db.conn().unwrap();
        admin::set_party_active(&mut conn, &gone, false, None, &Actor::operator()).unwrap();
        c
    };
    let key = pki::generate_key(KeyType::EcP256).unwrap();
    let unregistered = {
        let cert = test_pki()
            .ca
            .issue_client(&subject("AGB:03123456"), &key, Validity::days_from_now(5))
            .unwrap();
        app.client(&TestCert::new(cert, key.clone()))
    };
    let foreign = {
        let ca = Ca::create("foreign CA", "elsewhere", KeyType::EcP256, 10).unwrap();
        let cert = ca
            .issue_client(&subject("AGB:03123456"), &key, Validity::days_from_now(5))
            .unwrap();
        TestClient::new(&TestCert::new(cert, key.clone()), &app)
    };
    let expired = {
        let now = chrono::Utc::now().timestamp();
        let cert = test_pki()
            .ca
            .issue_client(
                &subject("AGB:03123456"),
                &key,
                Validity {
                    not_before: now - 864_000,
                    not_after: now - 86_400,
                },
            )
            .unwrap();
        TestClient::new(&TestCert::new(cert, key.clone()), &app)
    };
    let no_cert = client_without_identity();

    let refusals: [(&str, &TestClient, u16, &str); 5] = [
        ("unregistered", &unregistered, 401, "AUTH-001"),
        ("revoked", &revoked, 401, "AUTH-002"),
        ("deactivated party", &deactivated, 401, "AUTH-005"),
        ("wrong IP", &wrong_ip, 403, "AUTZ-002"),
        ("no authorization", &no_scopes, 403, "AUTZ-001"),
    ];
    let mut checks = 0;
    for (method, path, body) in BODIES {
        for (who, c, status, code) in &refusals {
            if *code == "AUTZ-001" && NEEDS_NO_AUTHORIZATION.contains(path) {
                continue;
            }
            let got = send(&c.http, &base, method, path, body).await.unwrap();
            assert_eq!(got, (*status, (*code).to_owned()), "{who}: {method} {path}");
            checks += 1;
        }
        for (who, c) in [
            ("no certificate", &no_cert),
            ("foreign CA", &foreign.http),
            ("expired", &expired.http),
        ] {
            let got = send(c, &base, method, path, body).await;
            assert!(
                got.is_err(),
                "{who} got an answer on {method} {path}: {got:?}"
            );
            checks += 1;
        }
    }

    // Every SOAP operation of every service, over SOAP 1.1.
    for contract in machtigingen::soap::contracts() {
        let service = contract.path.split('/').nth(2).unwrap();
        for op in contract.operations {
            let payload = soap_payload(service, contract.namespace, op);
            for (who, c, _, code) in &refusals {
                if *code == "AUTZ-001" && SOAP_NEEDS_NO_AUTHORIZATION.contains(op) {
                    continue;
                }
                let ans = soap::call(
                    c,
                    contract.path,
                    Soap::V11,
                    contract.namespace,
                    op,
                    &payload,
                )
                .await;
                assert_eq!(
                    ans.fault_code().as_deref(),
                    Some(*code),
                    "{who}: {} {op}: {}",
                    contract.path,
                    ans.body
                );
                checks += 1;
            }
            let resp = no_cert
                .post(format!("{base}{}", contract.path))
                .header("content-type", "text/xml")
                .body(Soap::V11.envelope(&payload))
                .send()
                .await;
            assert!(
                resp.is_err(),
                "no certificate got an answer on {} {op}",
                contract.path
            );
            checks += 1;
        }
    }
    assert!(checks > 400, "{checks}");
    // Nothing was created by any of it.
    assert_eq!(crate::fixtures::stored_requests(&app), 0);
}
