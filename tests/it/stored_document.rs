//! A submitted document is stored in one form whichever door it came through
//! (docs/architecture.md, Decisions): the element as a document of its own,
//! nothing the caller put around it, and embeddable as it is in the insurer's
//! SOAP answer.

use machtigingen::machtiging::store;
use machtigingen::validation::{self, SchemaSet};

use crate::fixtures::{Aanvraag, NS, app_with_provider, insurer, post_xml, random_suffix};
use crate::support::soap::{self, Soap};

#[tokio::test]
async fn both_doors_store_the_same_form() {
    let (app, client) = app_with_provider().await;
    let rest = Aanvraag::default();
    let body = format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?>\n<!-- uit het PMS -->\n{}\n<!-- einde -->\n",
        rest.element()
    );
    let (status, v) = post_xml(&client, "/api/v1/machtigingsaanvragen", &body).await;
    assert_eq!(status, 201, "{v}");
    let rest_id = v["machtigingsaanvraagId"].as_str().unwrap().to_owned();

    let over_soap = Aanvraag {
        referentie: format!("SOAP-{}", random_suffix()),
        ..rest.clone()
    };
    let ans = soap::call(
        &client,
        "/soap/machtigingen/v1",
        Soap::V11,
        NS,
        "IndienenMachtigingsaanvraag",
        &format!(
            "<IndienenMachtigingsaanvraag xmlns=\"{NS}\">{}</IndienenMachtigingsaanvraag>",
            over_soap.element()
        ),
    )
    .await;
    assert!(!ans.is_fault(), "{}", ans.body);
    let soap_id = ans.text("MachtigingsaanvraagId").unwrap();

    let stored =
        |id: &str| store::document(&mut app.db.conn().unwrap(), &id.parse().unwrap()).unwrap();
    let (from_rest, from_soap) = (stored(&rest_id), stored(&soap_id));
    assert_eq!(
        from_rest.replace(&rest.referentie, "R"),
        from_soap.replace(&over_soap.referentie, "R"),
    );
    assert!(
        from_rest.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Machtigingsaanvraag "),
        "{from_rest}"
    );
    assert!(!from_rest.contains("<!--"), "{from_rest}");
    validation::document(
        from_rest.as_bytes(),
        SchemaSet::Machtigingen,
        "Machtigingsaanvraag",
    )
    .unwrap_or_else(|p| panic!("{p:?}\n{from_rest}"));

    // The insurer's SOAP answer embeds it; `soap::read` checks the answer
    // against its schema.
    let ins = insurer(&app);
    let ans = soap::call(
        &ins,
        "/soap/beoordeling/v1",
        Soap::V11,
        "urn:machtigingen:beoordeling:v1",
        "RaadplegenAanvraag",
        &format!(
            "<RaadplegenAanvraag xmlns=\"urn:machtigingen:beoordeling:v1\"><MachtigingsaanvraagId>{rest_id}</MachtigingsaanvraagId></RaadplegenAanvraag>"
        ),
    )
    .await;
    assert!(!ans.is_fault(), "{}", ans.body);
    assert_eq!(ans.text("Referentie"), Some(rest.referentie.clone()));
}
