//! The schemas cannot be planted (issue 21): they used to be written to the
//! predictable `$TMPDIR/machtigingen-schemas-<hash>`, which another local user
//! could create first. Here that directory exists with hostile schemas that
//! accept anything; the binary (with its own `TMPDIR`, so no other process on
//! this machine is affected) still validates with the genuine schemas, and
//! leaves the directory untouched.

use std::collections::BTreeMap;
use std::path::Path;

use machtigingen::validation::xsd::FILES;

use crate::fixtures::{self, Aanvraag, post_xml};
use crate::support::TestApp;
use crate::support::service::Service;

/// The directory name the former code derived from the schema contents.
fn predictable_name() -> String {
    let mut h = openssl::sha::Sha256::new();
    for (name, text) in FILES {
        h.update(name.as_bytes());
        h.update(text.as_bytes());
    }
    format!("machtigingen-schemas-{}", hex::encode(&h.finish()[..8]))
}

/// A schema for `ns` whose every element accepts any content.
fn permissive(ns: &str) -> String {
    let mut elements = String::new();
    for name in [
        "Machtigingsaanvraag",
        "AanvullendeInformatie",
        "Toestemmingsregistratie",
    ] {
        elements.push_str(&format!(
            "<xs:element name=\"{name}\"><xs:complexType><xs:sequence>\
             <xs:any processContents=\"skip\" minOccurs=\"0\" maxOccurs=\"unbounded\"/>\
             </xs:sequence></xs:complexType></xs:element>"
        ));
    }
    format!(
        "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" targetNamespace=\"{ns}\" \
         elementFormDefault=\"qualified\">{elements}</xs:schema>"
    )
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_planted_schema_directory_is_neither_used_nor_touched() {
    let app = TestApp::spawn().await;
    fixtures::load_sample_catalog(&app);
    let client = app.provider(
        "03123456",
        &[machtigingen::registry::Scope::MachtigingenIndienen],
    );

    let tmp = tempfile::tempdir().unwrap();
    let planted = tmp.path().join(predictable_name());
    std::fs::create_dir(&planted).unwrap();
    for (name, _) in FILES {
        std::fs::write(
            planted.join(name),
            permissive("urn:machtigingen:machtigingen:v1"),
        )
        .unwrap();
    }
    let before = snapshot(&planted);

    let mut service = Service::configure(&app, "schemas", "[terugkoppeling]\ndispatcher = false");
    service
        .env
        .push(("TMPDIR".into(), tmp.path().display().to_string()));
    service.start();
    assert!(service.ready().await, "the binary did not start");
    let client = client.with_base(&service.base_url());

    let (status, body) = post_xml(
        &client,
        "/api/v1/machtigingsaanvragen",
        &Aanvraag::default().xml(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let bad = Aanvraag {
        bsn: "12".into(),
        ..Aanvraag::default()
    };
    let (status, body) = post_xml(&client, "/api/v1/machtigingsaanvragen", &bad.xml()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("XSD-001")),
        "the permissive planted schema was used: {body}"
    );
    assert!(
        body.to_string().contains("[0-9]{9}"),
        "not the genuine BSN pattern: {body}"
    );

    assert_eq!(
        snapshot(&planted),
        before,
        "the planted directory was written to"
    );
    let others: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| *n != planted.file_name().unwrap())
        .collect();
    assert!(others.is_empty(), "files written to TMPDIR: {others:?}");
}
