//! The machtigingen service through the SOAP door, over SOAP 1.1 and 1.2:
//! every operation, the WSDL and its schemas from the service, the Fault
//! shapes, and refusals that store nothing.

use machtigingen::registry::Scope;

use crate::fixtures::{self, Aanvraag, NS, app_with_provider, days, stored_requests};
use crate::support::TestClient;
use crate::support::soap::{self, Answer, BOTH, Soap};

const PATH: &str = "/soap/machtigingen/v1";

async fn call(client: &TestClient, v: Soap, op: &str, payload: &str) -> Answer {
    soap::call(client, PATH, v, NS, op, payload).await
}

fn op(name: &str, inner: &str) -> String {
    format!("<{name} xmlns=\"{NS}\">{inner}</{name}>")
}

fn indienen(a: &Aanvraag, concept: bool) -> String {
    let concept = if concept {
        "<Concept>true</Concept>"
    } else {
        ""
    };
    op(
        "IndienenMachtigingsaanvraag",
        &format!("{}{concept}", a.element()),
    )
}

fn by_id(name: &str, id: &str) -> String {
    op(
        name,
        &format!("<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId>"),
    )
}

async fn submit(client: &TestClient, v: Soap, a: &Aanvraag) -> String {
    let ans = call(
        client,
        v,
        "IndienenMachtigingsaanvraag",
        &indienen(a, false),
    )
    .await;
    assert_eq!(ans.status, 200, "{}", ans.body);
    assert_eq!(ans.element, "IndienenMachtigingsaanvraagResponse");
    ans.text("MachtigingsaanvraagId").unwrap()
}

#[tokio::test]
async fn every_operation_over_soap_11_and_12() {
    let (app, client) = app_with_provider().await;
    for v in BOTH {
        // Indienen; the content type answers in the request's version.
        let a = Aanvraag::default();
        let ans = call(
            &client,
            v,
            "IndienenMachtigingsaanvraag",
            &indienen(&a, false),
        )
        .await;
        assert_eq!(ans.status, 200, "{}", ans.body);
        let expected_ct = match v {
            Soap::V11 => "text/xml",
            Soap::V12 => "application/soap+xml",
        };
        assert!(
            ans.content_type.starts_with(expected_ct),
            "{}",
            ans.content_type
        );
        assert_eq!(ans.text("Status").as_deref(), Some("Ingediend"));
        assert_eq!(ans.text("Herhaald").as_deref(), Some("false"));
        let id = ans.text("MachtigingsaanvraagId").unwrap();

        // Raadplegen: details and history.
        let ans = call(
            &client,
            v,
            "RaadplegenMachtigingsaanvraag",
            &by_id("RaadplegenMachtigingsaanvraag", &id),
        )
        .await;
        assert_eq!(
            ans.element, "RaadplegenMachtigingsaanvraagResponse",
            "{}",
            ans.body
        );
        assert_eq!(
            ans.text("Referentie").as_deref(),
            Some(a.referentie.as_str())
        );
        assert_eq!(ans.texts("Soort"), ["indienen"]);

        // Wijzigen while Ingediend.
        let mut changed = a.clone();
        changed.toelichting = Some("Aangevuld met foto's.".into());
        let ans = call(
            &client,
            v,
            "WijzigenMachtigingsaanvraag",
            &op(
                "WijzigenMachtigingsaanvraag",
                &format!(
                    "<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId>{}",
                    changed.element()
                ),
            ),
        )
        .await;
        assert_eq!(
            ans.element, "WijzigenMachtigingsaanvraagResponse",
            "{}",
            ans.body
        );
        assert_eq!(ans.text("Status").as_deref(), Some("Ingediend"));

        // Zoeken by reference, and by patient.
        let ans = call(
            &client,
            v,
            "ZoekenMachtigingsaanvragen",
            &op(
                "ZoekenMachtigingsaanvragen",
                &format!("<Referentie>{}</Referentie>", a.referentie),
            ),
        )
        .await;
        assert_eq!(ans.text("Totaal").as_deref(), Some("1"), "{}", ans.body);
        assert_eq!(
            ans.text("MachtigingsaanvraagId").as_deref(),
            Some(id.as_str())
        );
        let ans = call(
            &client,
            v,
            "ZoekenMachtigingsaanvragen",
            &op(
                "ZoekenMachtigingsaanvragen",
                "<Verzekerde><Bsn>999999990</Bsn><Geboortedatum>1970-03-14</Geboortedatum></Verzekerde><Paginering><Pagina>1</Pagina><PaginaGrootte>100</PaginaGrootte></Paginering>",
            ),
        )
        .await;
        assert!(
            ans.texts("MachtigingsaanvraagId").contains(&id),
            "{}",
            ans.body
        );

        // AanleverenAanvullendeInformatie once the insurer asked.
        fixtures::insurer_sets(&app, &id, "AanvullendeInformatieGevraagd").await;
        let ans = call(
            &client,
            v,
            "AanleverenAanvullendeInformatie",
            &op(
                "AanleverenAanvullendeInformatie",
                &format!(
                    "<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId>{}",
                    fixtures::aanvulling_element(&[("GRADEN", "30")], Some("Opnieuw gemeten."))
                ),
            ),
        )
        .await;
        assert_eq!(
            ans.element, "AanleverenAanvullendeInformatieResponse",
            "{}",
            ans.body
        );
        assert_eq!(ans.text("Status").as_deref(), Some("InBehandeling"));

        // Intrekken.
        let ans = call(
            &client,
            v,
            "IntrekkenMachtigingsaanvraag",
            &op(
                "IntrekkenMachtigingsaanvraag",
                &format!("<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId><Reden>Patiënt ziet af.</Reden>"),
            ),
        )
        .await;
        assert_eq!(
            ans.text("Status").as_deref(),
            Some("Ingetrokken"),
            "{}",
            ans.body
        );

        // RaadplegenVerstrekkingen: the catalog without the insurer's rules.
        let ans = call(
            &client,
            v,
            "RaadplegenVerstrekkingen",
            &op("RaadplegenVerstrekkingen", "<Uzovi>3311</Uzovi>"),
        )
        .await;
        assert_eq!(
            ans.element, "RaadplegenVerstrekkingenResponse",
            "{}",
            ans.body
        );
        assert!(ans.texts("Code").contains(&"PLAST-OOGLID".to_owned()));
        assert!(!ans.body.contains("regels") && !ans.body.contains("Regel"));
    }
    assert_eq!(stored_requests(&app), 2);
}

#[tokio::test]
async fn concept_idempotency_and_conflict() {
    let (app, client) = app_with_provider().await;
    for v in BOTH {
        let a = Aanvraag::default();
        let ans = call(
            &client,
            v,
            "IndienenMachtigingsaanvraag",
            &indienen(&a, true),
        )
        .await;
        assert_eq!(
            ans.text("Status").as_deref(),
            Some("Concept"),
            "{}",
            ans.body
        );
        let id = ans.text("MachtigingsaanvraagId").unwrap();
        // Submitting the Concept: Wijzigen without Concept=true.
        let ans = call(
            &client,
            v,
            "WijzigenMachtigingsaanvraag",
            &op(
                "WijzigenMachtigingsaanvraag",
                &format!(
                    "<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId>{}",
                    a.element()
                ),
            ),
        )
        .await;
        assert_eq!(
            ans.text("Status").as_deref(),
            Some("Ingediend"),
            "{}",
            ans.body
        );

        let b = Aanvraag::default();
        let first = submit(&client, v, &b).await;
        let again = call(
            &client,
            v,
            "IndienenMachtigingsaanvraag",
            &indienen(&b, false),
        )
        .await;
        assert_eq!(again.text("MachtigingsaanvraagId"), Some(first));
        assert_eq!(again.text("Herhaald").as_deref(), Some("true"));
        let mut other = b.clone();
        other.prestaties = vec![("DBC-OOGLID".into(), 2)];
        let conflict = call(
            &client,
            v,
            "IndienenMachtigingsaanvraag",
            &indienen(&other, false),
        )
        .await;
        assert!(conflict.is_fault());
        assert_eq!(
            conflict.fault_code().as_deref(),
            Some("DUP-001"),
            "{}",
            conflict.body
        );
    }
    assert_eq!(stored_requests(&app), 4);
}

#[tokio::test]
async fn faults_have_the_shape_of_each_version_and_list_every_finding() {
    let (app, client) = app_with_provider().await;
    // XSD: two errors, both reported with line and path.
    let a = Aanvraag {
        bsn: "12345".into(),
        ..Default::default()
    };
    let bad = indienen(&a, false).replace("<Uzovi>3311</Uzovi>", "<Uzovi>33</Uzovi>");
    let f11 = call(&client, Soap::V11, "IndienenMachtigingsaanvraag", &bad).await;
    assert_eq!(f11.status, 500);
    assert_eq!(
        f11.soap_fault_code().as_deref(),
        Some("soap:Client"),
        "{}",
        f11.body
    );
    assert_eq!(f11.fault_code().as_deref(), Some("XSD-001"));
    assert_eq!(f11.finding_codes().len(), 2, "{}", f11.body);
    assert!(
        f11.texts("Locatie").iter().all(|l| l.contains("regel")),
        "{}",
        f11.body
    );
    let f12 = call(&client, Soap::V12, "IndienenMachtigingsaanvraag", &bad).await;
    assert_eq!(f12.status, 400);
    assert_eq!(
        f12.soap_fault_code().as_deref(),
        Some("soap:Sender"),
        "{}",
        f12.body
    );

    // JVC: every finding in one fault.
    let a = Aanvraag {
        bsn: "123456789".into(),
        einddatum: days(1),
        ..Default::default()
    };
    let f = call(
        &client,
        Soap::V12,
        "IndienenMachtigingsaanvraag",
        &indienen(&a, false),
    )
    .await;
    assert_eq!(f.fault_code().as_deref(), Some("JVC-000"), "{}", f.body);
    let codes = f.finding_codes();
    assert!(
        codes.contains(&"JVC-J01".into()) && codes.contains(&"JVC-C03".into()),
        "{codes:?}"
    );
    assert_eq!(stored_requests(&app), 0);
}

#[tokio::test]
async fn envelope_and_operation_refusals() {
    let (app, client) = app_with_provider().await;
    let payload = indienen(&Aanvraag::default(), false);
    let action = format!("{NS}/IndienenMachtigingsaanvraag");

    // A 1.2 envelope as text/xml, and a 1.1 envelope as application/soap+xml.
    let resp = soap::post_raw(
        &client,
        PATH,
        "text/xml",
        Some(&action),
        Soap::V12.envelope(&payload),
    )
    .await;
    let ans = soap::read(resp, Soap::V11).await;
    assert_eq!(ans.fault_code().as_deref(), Some("SOAP-004"));
    assert_eq!(
        ans.soap_fault_code().as_deref(),
        Some("soap:VersionMismatch")
    );
    let resp = soap::post_raw(
        &client,
        PATH,
        "application/soap+xml",
        None,
        Soap::V11.envelope(&payload),
    )
    .await;
    let ans = soap::read(resp, Soap::V12).await;
    assert_eq!(ans.fault_code().as_deref(), Some("SOAP-004"));

    // Two bodies; an empty body; text in the body.
    let two = format!(
        "<s:Envelope xmlns:s=\"{}\"><s:Body>{payload}</s:Body><s:Body>{payload}</s:Body></s:Envelope>",
        Soap::V11.envelope_ns()
    );
    let resp = soap::post_raw(&client, PATH, "text/xml", None, two).await;
    assert_eq!(
        soap::read(resp, Soap::V11).await.fault_code().as_deref(),
        Some("SOAP-001")
    );
    let resp = soap::post_raw(&client, PATH, "text/xml", None, Soap::V11.envelope("")).await;
    assert_eq!(
        soap::read(resp, Soap::V11).await.fault_code().as_deref(),
        Some("SOAP-001")
    );

    // Not an envelope at all; an unknown operation; an action that names another one.
    let resp = soap::post_raw(&client, PATH, "text/xml", None, payload.clone()).await;
    assert_eq!(
        soap::read(resp, Soap::V11).await.fault_code().as_deref(),
        Some("SOAP-001")
    );
    let unknown = Soap::V11.envelope(&op("VerwijderenAlles", ""));
    let resp = soap::post_raw(&client, PATH, "text/xml", None, unknown).await;
    assert_eq!(
        soap::read(resp, Soap::V11).await.fault_code().as_deref(),
        Some("SOAP-002")
    );
    let other_action = format!("{NS}/IntrekkenMachtigingsaanvraag");
    let resp = soap::post_raw(
        &client,
        PATH,
        "text/xml",
        Some(&other_action),
        Soap::V11.envelope(&payload),
    )
    .await;
    assert_eq!(
        soap::read(resp, Soap::V11).await.fault_code().as_deref(),
        Some("SOAP-002")
    );

    // A header we must understand but do not.
    let mu = format!(
        "<s:Envelope xmlns:s=\"{0}\"><s:Header><x:Iets xmlns:x=\"urn:x\" s:mustUnderstand=\"1\"/></s:Header><s:Body>{payload}</s:Body></s:Envelope>",
        Soap::V12.envelope_ns()
    );
    let resp = soap::post_raw(&client, PATH, "application/soap+xml", None, mu).await;
    let ans = soap::read(resp, Soap::V12).await;
    assert_eq!(ans.fault_code().as_deref(), Some("SOAP-003"));
    assert_eq!(
        ans.soap_fault_code().as_deref(),
        Some("soap:MustUnderstand")
    );

    // DOCTYPE inside an envelope.
    let dtd = format!(
        "<!DOCTYPE x [<!ENTITY e \"x\">]>{}",
        Soap::V11
            .envelope(&payload)
            .replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", "")
    );
    let resp = soap::post_raw(&client, PATH, "text/xml", None, dtd).await;
    assert_eq!(
        soap::read(resp, Soap::V11).await.fault_code().as_deref(),
        Some("XML-002")
    );

    // Another media type is not SOAP at all.
    let resp = soap::post_raw(&client, PATH, "application/json", None, "{}").await;
    assert_eq!(resp.status(), 415);

    assert_eq!(stored_requests(&app), 0);
}

#[tokio::test]
async fn cross_party_and_missing_authorization_are_refused() {
    let (app, client) = app_with_provider().await;
    let id = submit(&client, Soap::V11, &Aanvraag::default()).await;
    let other = app.provider("03999998", &[Scope::MachtigingenIndienen]);
    for v in BOTH {
        for name in [
            "RaadplegenMachtigingsaanvraag",
            "IntrekkenMachtigingsaanvraag",
        ] {
            let f = call(&other, v, name, &by_id(name, &id)).await;
            assert_eq!(
                f.fault_code().as_deref(),
                Some("REQ-001"),
                "{name}: {}",
                f.body
            );
        }
        let wijzig = op(
            "WijzigenMachtigingsaanvraag",
            &format!(
                "<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId>{}",
                Aanvraag::default().element()
            ),
        );
        let f = call(&other, v, "WijzigenMachtigingsaanvraag", &wijzig).await;
        assert_eq!(f.fault_code().as_deref(), Some("REQ-001"), "{}", f.body);
        let aanvul = op(
            "AanleverenAanvullendeInformatie",
            &format!(
                "<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId>{}",
                fixtures::aanvulling_element(&[("GRADEN", "30")], None)
            ),
        );
        let f = call(&other, v, "AanleverenAanvullendeInformatie", &aanvul).await;
        assert_eq!(f.fault_code().as_deref(), Some("REQ-001"), "{}", f.body);
        let zoek = call(
            &other,
            v,
            "ZoekenMachtigingsaanvragen",
            &op(
                "ZoekenMachtigingsaanvragen",
                &format!("<MachtigingsaanvraagId>{id}</MachtigingsaanvraagId>"),
            ),
        )
        .await;
        assert_eq!(zoek.text("Totaal").as_deref(), Some("0"), "{}", zoek.body);
    }
    // Read-only certificate: reads yes, writes AUTZ-001.
    let reader = app.provider("03123456", &[Scope::MachtigingenRaadplegen]);
    let f = call(
        &reader,
        Soap::V12,
        "IndienenMachtigingsaanvraag",
        &indienen(&Aanvraag::default(), false),
    )
    .await;
    assert_eq!(f.fault_code().as_deref(), Some("AUTZ-001"), "{}", f.body);
    let ok = call(
        &reader,
        Soap::V12,
        "RaadplegenMachtigingsaanvraag",
        &by_id("RaadplegenMachtigingsaanvraag", &id),
    )
    .await;
    assert!(!ok.is_fault(), "{}", ok.body);
    // The original is untouched.
    let d = call(
        &client,
        Soap::V11,
        "RaadplegenMachtigingsaanvraag",
        &by_id("RaadplegenMachtigingsaanvraag", &id),
    )
    .await;
    assert_eq!(d.text("Status").as_deref(), Some("Ingediend"));
    assert_eq!(stored_requests(&app), 1);
}

#[tokio::test]
async fn wsdl_and_schemas_are_served_from_the_service() {
    let (app, client) = app_with_provider().await;
    let resp = client.get(&format!("{PATH}?wsdl")).await;
    assert_eq!(resp.status(), 200);
    let wsdl = resp.text().await.unwrap();
    let endpoint = app.url(PATH);
    assert!(wsdl.contains(&format!("location=\"{endpoint}\"")), "{wsdl}");
    // Follow every schemaLocation, transitively: all resolve from the service.
    let mut todo: Vec<String> = locations(&wsdl);
    let mut seen = std::collections::HashSet::new();
    assert!(!todo.is_empty());
    while let Some(url) = todo.pop() {
        if !seen.insert(url.clone()) {
            continue;
        }
        assert!(url.starts_with(&endpoint), "{url}");
        let resp = client.http.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        let text = resp.text().await.unwrap();
        libxml::parser::Parser::default()
            .parse_string(&text)
            .unwrap();
        todo.extend(locations(&text));
    }
    // The service schema and the common types it imports.
    assert_eq!(seen.len(), 2, "{seen:?}");
    let resp = client.get(&format!("{PATH}?xsd=../../etc/passwd")).await;
    assert_eq!(resp.status(), 404);
}

fn locations(text: &str) -> Vec<String> {
    text.split("schemaLocation=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn prefixes_declared_on_the_envelope_and_the_stored_document_stands_alone() {
    let (app, client) = app_with_provider().await;
    let a = Aanvraag::default();
    // Everything prefixed, namespaces declared once on the Envelope, as
    // generated clients (JAX-WS, .NET, zeep) tend to send.
    let inner = a
        .element()
        .replace(
            &format!("<Machtigingsaanvraag xmlns=\"{NS}\">"),
            "<Machtigingsaanvraag>",
        )
        .replace("</", "</m:")
        .replace('<', "<m:")
        .replace("<m:/", "</");
    let body = format!(
        "<soapenv:Envelope xmlns:soapenv=\"{}\" xmlns:m=\"{NS}\"><soapenv:Header/><soapenv:Body><m:IndienenMachtigingsaanvraag>{inner}</m:IndienenMachtigingsaanvraag></soapenv:Body></soapenv:Envelope>",
        Soap::V11.envelope_ns()
    );
    let resp = soap::post_raw(&client, PATH, "text/xml;charset=UTF-8", Some(""), body).await;
    let ans = soap::read(resp, Soap::V11).await;
    assert!(!ans.is_fault(), "{}", ans.body);
    let id = ans.text("MachtigingsaanvraagId").unwrap();
    // What the insurer gets is a document of its own, valid on its own.
    let stored = machtigingen::machtiging::store::document(
        &mut app.db.conn().unwrap(),
        &id.parse().unwrap(),
    )
    .unwrap();
    machtigingen::validation::document(
        stored.as_bytes(),
        machtigingen::validation::SchemaSet::Machtigingen,
        "Machtigingsaanvraag",
    )
    .unwrap_or_else(|p| panic!("{p:?}\n{stored}"));
}
