//! Persons (issue 18): the contact person requests persoonlijk certificates
//! for colleagues by CSR, with exactly the authorizations it chose; every
//! holder sees who its contact person is (REST whoami, SOAP WieBenIk in both
//! services); the operator deactivates and reactivates a party (every
//! certificate refused at once with AUTH-005, callbacks held, audited) and
//! changes the contact person with history. Real server, real mTLS, the
//! binary for the operator's commands, on SQLite or PostgreSQL.

use std::process::{Command, Output};
use std::time::Duration;

use machtigingen::registry::{CertKind, PartyKind, Scope};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509, X509NameBuilder, X509ReqBuilder};
use serde_json::{Value, json};

use crate::beheer::contact_and_system;
use crate::support::soap::{self, Soap};
use crate::support::{TestApp, TestCert, TestClient, eventually, json_of};
use crate::terugkoppeling_support as tk;

const AGB: &str = "03123456";
const BIN: &str = env!("CARGO_BIN_EXE_machtigingen");

fn fingerprint(c: &TestClient) -> String {
    machtigingen::pki::fingerprint(&c.cert.cert).unwrap()
}

/// The operator's command line against the app's database.
fn operator(app: &TestApp, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(app.dir.path())
        .env("MACHTIGINGEN_DATABASE__URL", &app.config.database.url)
        .env("RUST_LOG", "warn")
        .args(args)
        .output()
        .unwrap()
}

fn operator_ok(app: &TestApp, args: &[&str]) -> String {
    let o = operator(app, args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{args:?}: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// `beheer history` of the party, one JSON object per line.
fn history(app: &TestApp, party: &str) -> Vec<Value> {
    operator_ok(app, &["beheer", "history", "--party", party])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn csr(key: &PKey<Private>) -> String {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "ignored").unwrap();
    let mut req = X509ReqBuilder::new().unwrap();
    req.set_subject_name(&name.build()).unwrap();
    req.set_pubkey(key).unwrap();
    req.sign(key, MessageDigest::sha256()).unwrap();
    String::from_utf8(req.build().to_pem().unwrap()).unwrap()
}

/// The contact person requests a certificate; on 201 answers a client for it.
async fn request(
    contact: &TestClient,
    app: &TestApp,
    body: Value,
) -> (u16, Value, Option<TestClient>) {
    let key = key();
    let mut body = body;
    body["csr"] = json!(csr(&key));
    let (status, v) = contact
        .post_json("/api/v1/beheer/certificaten", &body)
        .await;
    let client = (status == 201).then(|| {
        let cert = X509::from_pem(v["pem"].as_str().unwrap().as_bytes()).unwrap();
        app.client(&TestCert::new(cert, key))
    });
    (status, v, client)
}

async fn code_of(c: &TestClient, path: &str) -> (u16, Option<String>) {
    let (status, v) = c.get_json(path).await;
    (status, v["code"].as_str().map(str::to_owned))
}

async fn put_contact(contact: &TestClient, body: Value) {
    let (status, v) = json_of(
        contact
            .http
            .put(contact.url("/api/v1/beheer/contact"))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn a_contact_person_issues_a_persoonlijk_certificate_with_exactly_the_chosen_authorizations()
{
    let app = TestApp::spawn().await;
    let (contact, _) = contact_and_system(&app, AGB, &[]);
    let (status, colleague_json, colleague) = request(
        &contact,
        &app,
        json!({"soort": "persoonlijk", "houder": "  J. Jansen ", "autorisaties": ["machtigingen:raadplegen"]}),
    )
    .await;
    assert_eq!(status, 201, "{colleague_json}");
    let c = &colleague_json["certificaat"];
    assert_eq!(c["soort"], "persoonlijk");
    assert_eq!(c["houder"], "J. Jansen");
    assert!(
        c["onderwerp"].as_str().unwrap().contains("J. Jansen"),
        "the holder is the subject's common name: {c}"
    );
    let colleague = colleague.unwrap();

    // Exactly raadplegen: searching works, submitting and managing do not.
    let (status, who) = colleague.get_json("/api/v1/whoami").await;
    assert_eq!(status, 200, "{who}");
    assert_eq!(who["autorisaties"], json!(["machtigingen:raadplegen"]));
    assert_eq!(who["certificaat"]["soort"], "persoonlijk");
    assert_eq!(who["certificaat"]["houder"], "J. Jansen");
    assert_eq!(
        code_of(&colleague, "/api/v1/machtigingsaanvragen").await,
        (200, None)
    );
    let (status, p) = crate::fixtures::post_xml(
        &colleague,
        "/api/v1/machtigingsaanvragen",
        &crate::fixtures::Aanvraag::default().xml(),
    )
    .await;
    assert_eq!((status, p["code"].as_str()), (403, Some("AUTZ-001")), "{p}");
    assert_eq!(
        code_of(&colleague, "/api/v1/beheer/certificaten").await,
        (403, Some("AUTZ-001".into()))
    );

    // indienen brings raadplegen, as always.
    let (status, v, submitter) = request(
        &contact,
        &app,
        json!({"soort": "persoonlijk", "houder": "P. de Boer", "autorisaties": ["machtigingen:indienen"]}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let (_, who) = submitter.unwrap().get_json("/api/v1/whoami").await;
    assert_eq!(
        who["autorisaties"],
        json!(["machtigingen:raadplegen", "machtigingen:indienen"])
    );

    // More than the contact person may give is refused with a code, and
    // nothing is signed or stored.
    let (_, before) = contact.get_json("/api/v1/beheer/certificaten").await;
    let refused = [
        (
            json!({"soort": "persoonlijk", "houder": "X", "autorisaties": ["gebruikersbeheer"]}),
            422,
            "BEH-001",
        ),
        (
            json!({"soort": "persoonlijk", "houder": "X", "autorisaties": ["beoordelen"]}),
            422,
            "BEH-001",
        ),
        (
            json!({"soort": "persoonlijk", "autorisaties": []}),
            400,
            "REQ-004",
        ),
        (
            json!({"soort": "persoonlijk", "houder": " ", "autorisaties": []}),
            400,
            "REQ-004",
        ),
        (
            json!({"soort": "persoonlijk", "houder": "X", "ipAllowlist": ["10.0.0.0/8"]}),
            400,
            "REQ-004",
        ),
        (json!({"soort": "systeem", "houder": "X"}), 400, "REQ-004"),
        (
            json!({"soort": "medewerker", "houder": "X"}),
            400,
            "REQ-004",
        ),
    ];
    for (body, status, code) in refused {
        let (s, p, _) = request(&contact, &app, body.clone()).await;
        assert_eq!((s, p["code"].as_str()), (status, Some(code)), "{body}: {p}");
    }
    let (_, after) = contact.get_json("/api/v1/beheer/certificaten").await;
    assert_eq!(before, after);

    // Nor can the role be handed out afterwards.
    let (status, p) = contact
        .post_json(
            &format!(
                "/api/v1/beheer/certificaten/{}/autorisaties",
                fingerprint(&colleague)
            ),
            &json!({"toekennen": ["gebruikersbeheer"]}),
        )
        .await;
    assert_eq!((status, p["code"].as_str()), (422, Some("BEH-001")), "{p}");
    let (_, who) = colleague.get_json("/api/v1/whoami").await;
    assert_eq!(who["autorisaties"], json!(["machtigingen:raadplegen"]));

    // The listing names the holder; the history records the issuing.
    let (_, list) = contact.get_json("/api/v1/beheer/certificaten").await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|c| c["houder"] == "J. Jansen"),
        "{list}"
    );
    let (_, hist) = contact.get_json("/api/v1/beheer/historie").await;
    assert!(
        hist.as_array().unwrap().iter().any(|r| {
            r["action"] == "certificaat.registreren"
                && r["object_id"].as_str() == Some(fingerprint(&colleague).as_str())
                && r["detail"].as_str().unwrap().contains("J. Jansen")
        }),
        "{hist}"
    );
}

#[tokio::test]
async fn every_holder_sees_its_contact_person_over_rest_and_soap() {
    let app = TestApp::spawn().await;
    let (contact, system) = contact_and_system(&app, AGB, &[Scope::MachtigingenRaadplegen]);
    // None registered yet: no contactpersoon in the answer.
    let (_, who) = system.get_json("/api/v1/whoami").await;
    assert!(who.get("contactpersoon").is_none(), "{who}");
    let a = soap::call(
        &system,
        "/soap/machtigingen/v1",
        Soap::V11,
        "urn:machtigingen:machtigingen:v1",
        "WieBenIk",
        r#"<m:WieBenIk xmlns:m="urn:machtigingen:machtigingen:v1"/>"#,
    )
    .await;
    assert_eq!(a.element, "WieBenIkResponse", "{}", a.body);
    assert!(a.text("Contactpersoon").is_none(), "{}", a.body);

    put_contact(
        &contact,
        json!({"contactpersoonNaam": "M. de Vries", "contactpersoonEmail": "m.devries@praktijk.example", "contactpersoonTelefoon": "030-1234567"}),
    )
    .await;
    let (status, who) = system.get_json("/api/v1/whoami").await;
    assert_eq!(status, 200, "{who}");
    assert_eq!(
        who["contactpersoon"],
        json!({"naam": "M. de Vries", "email": "m.devries@praktijk.example", "telefoon": "030-1234567"})
    );
    assert_eq!(who["autorisaties"], json!(["machtigingen:raadplegen"]));

    for version in soap::BOTH {
        let a = soap::call(
            &system,
            "/soap/machtigingen/v1",
            version,
            "urn:machtigingen:machtigingen:v1",
            "WieBenIk",
            r#"<m:WieBenIk xmlns:m="urn:machtigingen:machtigingen:v1"/>"#,
        )
        .await;
        assert_eq!(
            (a.status, a.element.as_str()),
            (200, "WieBenIkResponse"),
            "{}",
            a.body
        );
        assert_eq!(a.text("Id").as_deref(), Some("AGB:03123456"));
        assert_eq!(a.texts("Autorisatie"), ["machtigingen:raadplegen"]);
        assert_eq!(a.text("Vingerafdruk"), Some(fingerprint(&system)));
        assert_eq!(
            a.texts("Naam").last().map(String::as_str),
            Some("M. de Vries")
        );
        assert_eq!(
            a.text("Email").as_deref(),
            Some("m.devries@praktijk.example")
        );
    }

    // An insurer's assessor asks its own service; no authorization needed.
    let insurer = app.party(PartyKind::Zorgverzekeraar, "3311");
    let ic = app.client(&app.issue(
        &insurer,
        CertKind::Persoonlijk,
        &[Scope::Gebruikersbeheer],
        &[],
    ));
    put_contact(&ic, json!({"contactpersoonNaam": "A. Beoordelaar"})).await;
    let assessor = app.client(&app.issue(&insurer, CertKind::Persoonlijk, &[], &[]));
    let a = soap::call(
        &assessor,
        "/soap/beoordeling/v1",
        Soap::V12,
        "urn:machtigingen:beoordeling:v1",
        "WieBenIk",
        r#"<b:WieBenIk xmlns:b="urn:machtigingen:beoordeling:v1"/>"#,
    )
    .await;
    assert_eq!(
        (a.status, a.element.as_str()),
        (200, "WieBenIkResponse"),
        "{}",
        a.body
    );
    assert_eq!(a.text("Soort").as_deref(), Some("zorgverzekeraar"));
    assert!(a.texts("Autorisatie").is_empty(), "{}", a.body);
    assert_eq!(
        a.texts("Naam").last().map(String::as_str),
        Some("A. Beoordelaar")
    );
    // The provider's contact person is not the insurer's.
    assert!(!a.body.contains("M. de Vries"), "{}", a.body);
}

#[tokio::test]
async fn a_deactivated_party_is_refused_at_once_and_accepted_again_after_reactivation() {
    let app = tk::app(r#"["0s", "200ms", "500ms", "1s", "1s", "1s"]"#).await;
    let party = format!("AGB:{AGB}");
    let (contact, system) = contact_and_system(
        &app,
        AGB,
        &[Scope::MachtigingenRaadplegen, Scope::TerugkoppelingBeheren],
    );
    let other = app.provider("03999998", &[Scope::MachtigingenRaadplegen]);
    let r = tk::receiver();
    tk::register(&system, &r, "json").await;
    let search = "/api/v1/machtigingsaanvragen";
    assert_eq!(code_of(&system, search).await, (200, None));

    let out = operator_ok(
        &app,
        &[
            "party",
            "deactivate",
            "--party",
            &party,
            "--reden",
            "overeenkomst opgezegd",
        ],
    );
    assert!(out.contains("1 callback endpoint(s) held"), "{out}");
    // Every certificate of the party, on every door, from the next request on.
    let refused = (401, Some("AUTH-005".to_owned()));
    assert_eq!(code_of(&system, search).await, refused);
    assert_eq!(code_of(&system, "/api/v1/whoami").await, refused);
    assert_eq!(
        code_of(&contact, "/api/v1/beheer/certificaten").await,
        refused
    );
    let a = soap::call(
        &system,
        "/soap/machtigingen/v1",
        Soap::V11,
        "urn:machtigingen:machtigingen:v1",
        "WieBenIk",
        r#"<m:WieBenIk xmlns:m="urn:machtigingen:machtigingen:v1"/>"#,
    )
    .await;
    assert_eq!(a.fault_code().as_deref(), Some("AUTH-005"), "{}", a.body);
    // Another party is untouched.
    assert_eq!(code_of(&other, search).await, (200, None));
    // Listed as such; deactivating twice is an error.
    let list = operator_ok(&app, &["party", "list"]);
    assert!(
        list.lines()
            .any(|l| l.starts_with(&party) && l.contains("gedeactiveerd")),
        "{list}"
    );
    let again = operator(&app, &["party", "deactivate", "--party", &party]);
    assert!(!again.status.success());

    // Terugkoppelingen for the party wait: none is sent, none is lost.
    tk::enqueue(&app, "MA-held", "held-1");
    tk::enqueue(&app, "MA-held", "held-2");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(tk::referenties(&r).is_empty(), "{:?}", tk::referenties(&r));

    let out = operator_ok(&app, &["party", "reactivate", "--party", &party]);
    assert!(out.contains("1 callback endpoint(s) released"), "{out}");
    // The same certificates work again, with their authorizations.
    assert_eq!(code_of(&system, search).await, (200, None));
    assert_eq!(
        code_of(&contact, "/api/v1/beheer/certificaten").await,
        (200, None)
    );
    assert!(
        eventually(20, || async { tk::referenties(&r).len() == 2 }).await,
        "{:?}",
        tk::referenties(&r)
    );
    assert_eq!(tk::referenties(&r), ["held-1", "held-2"]);

    // Both changes are in the party's history, as the operator's.
    let rows = history(&app, &party);
    let actions: Vec<&str> = rows.iter().filter_map(|r| r["action"].as_str()).collect();
    let de = actions.iter().position(|a| *a == "partij.deactiveren");
    let re = actions.iter().position(|a| *a == "partij.heractiveren");
    assert!(
        matches!((de, re), (Some(d), Some(r)) if d < r),
        "{actions:?}"
    );
    let row = &rows[de.unwrap()];
    assert_eq!(row["actor"], "operator");
    assert!(
        row["detail"]
            .as_str()
            .unwrap()
            .contains("overeenkomst opgezegd"),
        "{row}"
    );
}

#[tokio::test]
async fn the_operator_changes_the_contact_person_with_history() {
    let app = TestApp::spawn().await;
    let party = format!("AGB:{AGB}");
    let (old, system) = contact_and_system(&app, AGB, &[]);
    put_contact(
        &old,
        json!({"contactpersoonNaam": "M. de Vries", "notificatieEmails": ["ict@praktijk.example"]}),
    )
    .await;
    let (status, v, new) = request(
        &old,
        &app,
        json!({"soort": "persoonlijk", "houder": "B. Bakker", "autorisaties": ["machtigingen:raadplegen"]}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let new = new.unwrap();

    // A systeem certificate cannot be the contact person.
    let o = operator(
        &app,
        &[
            "beheer",
            "contactpersoon",
            "--party",
            &party,
            "--fingerprint",
            &fingerprint(&system),
        ],
    );
    assert!(!o.status.success());

    let out = operator_ok(
        &app,
        &[
            "beheer",
            "contactpersoon",
            "--party",
            &party,
            "--fingerprint",
            &fingerprint(&new),
            "--email",
            "b.bakker@praktijk.example",
        ],
    );
    let change: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(change["voor"]["naam"], "M. de Vries");
    assert_eq!(change["na"]["naam"], "B. Bakker");

    // The role moved with the person, on the next request.
    assert_eq!(
        code_of(&old, "/api/v1/beheer/certificaten").await,
        (403, Some("AUTZ-001".into()))
    );
    let (_, who) = new.get_json("/api/v1/whoami").await;
    assert_eq!(
        who["autorisaties"],
        json!(["machtigingen:raadplegen", "gebruikersbeheer"])
    );
    let (_, contact) = new.get_json("/api/v1/beheer/contact").await;
    assert_eq!(contact["contactpersoonNaam"], "B. Bakker");
    assert_eq!(contact["contactpersoonEmail"], "b.bakker@praktijk.example");
    assert_eq!(
        contact["notificatieEmails"],
        json!(["ict@praktijk.example"])
    );
    let (_, who) = system.get_json("/api/v1/whoami").await;
    assert_eq!(who["contactpersoon"]["naam"], "B. Bakker");

    // The history holds the change: before and after, by the operator.
    let rows = history(&app, &party);
    let row = rows
        .iter()
        .find(|r| r["action"] == "partij.contactpersoon")
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(row["actor"], "operator");
    let detail: Value = serde_json::from_str(row["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["voor"]["naam"], "M. de Vries");
    assert_eq!(detail["voor"]["certificaten"], json!([fingerprint(&old)]));
    assert_eq!(detail["na"]["naam"], "B. Bakker");
    assert_eq!(detail["na"]["certificaten"], json!([fingerprint(&new)]));
    // ... and the new contact person reads it too.
    let (_, hist) = new.get_json("/api/v1/beheer/historie").await;
    assert!(
        hist.as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "partij.contactpersoon"),
        "{hist}"
    );
}
