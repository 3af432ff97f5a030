//! Documents for the tests: a Machtigingsaanvraag that passes every check
//! against the sample catalog (`docs/examples/catalogus.json`), with every
//! field open to variation, and the sample catalog loaded into a test app.

#![allow(dead_code)]

use base64::Engine;
use chrono::{Days, NaiveDate, Utc};
use machtigingen::catalog::CatalogFile;
use machtigingen::registry::{CertKind, PartyKind, Scope};

use crate::support::{TestApp, TestClient};

pub const NS: &str = "urn:machtigingen:machtigingen:v1";

pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

pub fn days(n: i64) -> NaiveDate {
    if n >= 0 {
        today() + Days::new(n as u64)
    } else {
        today() - Days::new((-n) as u64)
    }
}

/// Registers the sample catalog's insurers and loads the catalog.
pub fn load_sample_catalog(app: &TestApp) {
    let file: CatalogFile =
        serde_json::from_str(include_str!("../../docs/examples/catalogus.json")).unwrap();
    let mut conn = app.db.conn().unwrap();
    for c in &file.verzekeraars {
        let kind = if c.uzovi.starts_with('9') {
            PartyKind::Zorgkantoor
        } else {
            PartyKind::Zorgverzekeraar
        };
        app.party(kind, &c.uzovi);
        machtigingen::catalog::store::replace(&mut conn, c).unwrap();
    }
}

/// A test app with the sample catalog and a provider (AGB 03123456, a
/// medisch specialist) holding machtigingen:indienen.
pub async fn app_with_provider() -> (TestApp, TestClient) {
    let app = TestApp::spawn().await;
    load_sample_catalog(&app);
    let client = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    (app, client)
}

#[derive(Debug, Clone)]
pub struct Bijlage {
    pub soort: String,
    pub naam: String,
    pub media_type: String,
    pub inhoud: Vec<u8>,
}

/// A Machtigingsaanvraag; `Default` is valid for UZOVI 3311, PLAST-OOGLID.
#[derive(Debug, Clone)]
pub struct Aanvraag {
    pub referentie: String,
    pub agb: String,
    pub bsn: String,
    pub geboortedatum: NaiveDate,
    pub uzovi: String,
    pub grondslag: String,
    pub verstrekking: String,
    pub prestaties: Vec<(String, u32)>,
    pub begindatum: NaiveDate,
    pub einddatum: NaiveDate,
    pub antwoorden: Vec<(String, String)>,
    pub toelichting: Option<String>,
    pub bijlagen: Vec<Bijlage>,
}

impl Default for Aanvraag {
    fn default() -> Self {
        Self {
            referentie: format!("REF-{}", random_suffix()),
            agb: "03123456".into(),
            bsn: "999999990".into(),
            geboortedatum: NaiveDate::from_ymd_opt(1970, 3, 14).unwrap(),
            uzovi: "3311".into(),
            grondslag: "Zvw".into(),
            verstrekking: "PLAST-OOGLID".into(),
            prestaties: vec![("DBC-OOGLID".into(), 1)],
            begindatum: days(7),
            einddatum: days(180),
            antwoorden: vec![
                ("GEZICHTSVELD".into(), "ja".into()),
                ("GRADEN".into(), "25".into()),
            ],
            toelichting: Some("Beiderzijds dermatochalasis met gezichtsveldbeperking.".into()),
            bijlagen: vec![Bijlage {
                soort: "foto".into(),
                naam: "vooraanzicht.jpg".into(),
                media_type: "image/jpeg".into(),
                inhoud: b"\xff\xd8\xff\xe0 not really a jpeg".to_vec(),
            }],
        }
    }
}

pub fn random_suffix() -> String {
    let mut b = [0u8; 6];
    openssl::rand::rand_bytes(&mut b).unwrap();
    hex::encode(b)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Aanvraag {
    /// The element alone, in the default namespace (for SOAP bodies).
    pub fn element(&self) -> String {
        let mut x = String::new();
        x.push_str(&format!("<Machtigingsaanvraag xmlns=\"{NS}\">\n"));
        x.push_str(&format!(
            "  <Referentie>{}</Referentie>\n",
            esc(&self.referentie)
        ));
        x.push_str(&format!(
            "  <Indiener>\n    <AgbPraktijk>{}</AgbPraktijk>\n    <Software><Naam>TestPMS</Naam><Versie>1.0</Versie></Software>\n  </Indiener>\n",
            self.agb
        ));
        x.push_str(&format!(
            "  <Verzekerde>\n    <Bsn>{}</Bsn>\n    <Geboortedatum>{}</Geboortedatum>\n    <Naam><Voorletters>J.</Voorletters><Achternaam>Jansen</Achternaam></Naam>\n  </Verzekerde>\n",
            self.bsn, self.geboortedatum
        ));
        x.push_str(&format!(
            "  <Uzovi>{}</Uzovi>\n  <Grondslag>{}</Grondslag>\n",
            self.uzovi, self.grondslag
        ));
        x.push_str(&format!(
            "  <Verstrekking>{}</Verstrekking>\n  <Zorgsoort>0303</Zorgsoort>\n",
            self.verstrekking
        ));
        x.push_str("  <Prestaties>\n");
        for (code, aantal) in &self.prestaties {
            x.push_str(&format!(
                "    <Prestatie><Code>{code}</Code><Aantal>{aantal}</Aantal></Prestatie>\n"
            ));
        }
        x.push_str("  </Prestaties>\n");
        x.push_str(&format!(
            "  <Begindatum>{}</Begindatum>\n  <GewensteEinddatum>{}</GewensteEinddatum>\n",
            self.begindatum, self.einddatum
        ));
        if !self.antwoorden.is_empty() {
            x.push_str("  <Antwoorden>\n");
            for (id, w) in &self.antwoorden {
                x.push_str(&format!(
                    "    <Antwoord><VraagId>{id}</VraagId><Waarde>{}</Waarde></Antwoord>\n",
                    esc(w)
                ));
            }
            x.push_str("  </Antwoorden>\n");
        }
        if let Some(t) = &self.toelichting {
            x.push_str(&format!("  <Toelichting>{}</Toelichting>\n", esc(t)));
        }
        if !self.bijlagen.is_empty() {
            x.push_str(&bijlagen_xml(&self.bijlagen, "  "));
        }
        x.push_str("</Machtigingsaanvraag>");
        x
    }

    /// A whole document for the REST door.
    pub fn xml(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}\n",
            self.element()
        )
    }
}

pub fn bijlagen_xml(bijlagen: &[Bijlage], indent: &str) -> String {
    let mut x = format!("{indent}<Bijlagen>\n");
    for b in bijlagen {
        x.push_str(&format!(
            "{indent}  <Bijlage><Soort>{}</Soort><Naam>{}</Naam><MediaType>{}</MediaType><Inhoud>{}</Inhoud></Bijlage>\n",
            b.soort,
            esc(&b.naam),
            b.media_type,
            base64::engine::general_purpose::STANDARD.encode(&b.inhoud)
        ));
    }
    x.push_str(&format!("{indent}</Bijlagen>\n"));
    x
}

/// An `AanvullendeInformatie` element with one answer and a remark.
pub fn aanvulling_element(antwoorden: &[(&str, &str)], toelichting: Option<&str>) -> String {
    let mut x = format!("<AanvullendeInformatie xmlns=\"{NS}\">\n");
    if !antwoorden.is_empty() {
        x.push_str("  <Antwoorden>\n");
        for (id, w) in antwoorden {
            x.push_str(&format!(
                "    <Antwoord><VraagId>{id}</VraagId><Waarde>{}</Waarde></Antwoord>\n",
                esc(w)
            ));
        }
        x.push_str("  </Antwoorden>\n");
    }
    if let Some(t) = toelichting {
        x.push_str(&format!("  <Toelichting>{}</Toelichting>\n", esc(t)));
    }
    x.push_str("</AanvullendeInformatie>");
    x
}

/// POSTs XML to the REST door.
pub async fn post_xml(client: &TestClient, path: &str, xml: &str) -> (u16, serde_json::Value) {
    let resp = client
        .http
        .post(client.url(path))
        .header("content-type", "application/xml")
        .body(xml.to_owned())
        .send()
        .await
        .unwrap();
    crate::support::json_of(resp).await
}

pub async fn put_xml(client: &TestClient, path: &str, xml: &str) -> (u16, serde_json::Value) {
    let resp = client
        .http
        .put(client.url(path))
        .header("content-type", "application/xml")
        .body(xml.to_owned())
        .send()
        .await
        .unwrap();
    crate::support::json_of(resp).await
}

/// Submits over REST and returns the new id (asserting success).
pub async fn submit(client: &TestClient, a: &Aanvraag) -> String {
    let (status, body) = post_xml(client, "/api/v1/machtigingsaanvragen", &a.xml()).await;
    assert_eq!(status, 201, "{body}");
    body["machtigingsaanvraagId"].as_str().unwrap().to_owned()
}

/// Codes of the findings of a problem body.
pub fn finding_codes(body: &serde_json::Value) -> Vec<String> {
    body["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["code"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Number of stored requests (to prove nothing was stored on a refusal).
pub fn stored_requests(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    machtigingen::db::schema::machtigingsaanvragen::table
        .count()
        .get_result(&mut *app.db.conn().unwrap())
        .unwrap()
}

/// An insurer (UZOVI 3311) system certificate with `beoordelen`.
pub fn insurer(app: &TestApp) -> TestClient {
    let p = app.party(PartyKind::Zorgverzekeraar, "3311");
    app.client(&app.issue(&p, CertKind::Systeem, &[Scope::Beoordelen], &[]))
}

/// The decision body that brings a request to `status`.
pub fn beoordeling(status: &str) -> serde_json::Value {
    match status {
        "InBehandeling" => serde_json::json!({"status": status}),
        "AanvullendeInformatieGevraagd" => serde_json::json!({
            "status": status,
            "vragen": [{"vraagId": "FOTO-ZIJ", "tekst": "Graag ook een foto van opzij."}]
        }),
        "Toegekend" => {
            serde_json::json!({"status": status, "geldigVan": days(7), "geldigTot": days(180)})
        }
        "DeelsToegekend" => serde_json::json!({
            "status": status, "geldigVan": days(7), "geldigTot": days(90),
            "toegekendePrestaties": [{"code": "DBC-OOGLID", "aantal": 1, "bedrag": "1250.00"}]
        }),
        "Afgewezen" => {
            serde_json::json!({"status": status, "redenCode": "MEDISCH", "redenTekst": "Geen medische noodzaak."})
        }
        other => panic!("no decision reaches {other}"),
    }
}

/// Brings a request to `status` the way the insurer does: over its own API
/// (from Ingediend; InBehandeling first where the state machine asks for it).
pub async fn insurer_sets(app: &TestApp, id: &str, status: &str) {
    if status == "Ingediend" {
        return;
    }
    let client = insurer(app);
    let path = format!("/api/v1/beoordeling/machtigingsaanvragen/{id}/beoordeling");
    let (code, body) = client.post_json(&path, &beoordeling(status)).await;
    assert_eq!(code, 200, "{status}: {body}");
    assert_eq!(body["status"], status, "{body}");
}
