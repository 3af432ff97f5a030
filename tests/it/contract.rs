//! The public contract and the REST contract's promises, over real TLS: the
//! contract listener serves the WSDLs, XSDs and OpenAPI document without a
//! client certificate and nothing else; the mTLS listener still refuses a
//! certificate-less handshake; a wrong method is 405 with `Allow` (REST and
//! SOAP), `HEAD` answers like `GET` without a body; a missing
//! body is refused; timestamps go out with `Z` and come in with an offset.

use machtigingen::registry::Scope;
use serde_json::json;

use crate::support::tls::{Probe, probe};
use crate::support::{TestApp, json_of, pki};

/// An HTTPS client that trusts the test CA and presents no certificate.
fn anonymous() -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&pki().ca_pem).unwrap()).unwrap();
    reqwest::Client::builder()
        .tls_backend_native()
        .tls_certs_only([ca])
        .build()
        .unwrap()
}

fn contract_url(app: &TestApp, path: &str) -> String {
    let port = app.contract_addr.expect("contract listener").port();
    format!("https://localhost:{port}{path}")
}

#[tokio::test]
async fn the_contract_is_served_without_a_client_certificate() {
    let app = TestApp::spawn().await;
    let http = anonymous();
    let (status, index) = json_of(http.get(contract_url(&app, "/")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{index}");
    let base = format!("https://localhost:{}", app.addr.port());
    assert_eq!(index["dienst"], base.as_str());
    let expected = machtigingen::contract::files(&base);
    let listed: Vec<String> = index["bestanden"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed.len(), expected.len());
    for f in &expected {
        assert!(
            listed.contains(&format!("/{}", f.path)),
            "{} not listed",
            f.path
        );
        let resp = http
            .get(contract_url(&app, &format!("/{}", f.path)))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{}", f.path);
        assert_eq!(resp.text().await.unwrap(), f.text, "{}", f.path);
    }
    // The service WSDLs point at the mTLS listener; the OpenAPI servers too.
    let wsdl = &expected[0];
    assert!(wsdl.text.contains(&format!("{base}/soap/machtigingen/v1")));
    let doc: serde_json::Value = serde_json::from_str(&expected.last().unwrap().text).unwrap();
    assert_eq!(doc["servers"][0]["url"], base.as_str());
}

#[tokio::test]
async fn the_contract_listener_serves_nothing_else() {
    let app = TestApp::spawn().await;
    let http = anonymous();
    for path in [
        "/api/v1/whoami",
        "/soap/machtigingen/v1?wsdl",
        "/wsdl/../Cargo.toml",
        "/metrics",
    ] {
        let resp = http.get(contract_url(&app, path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
    let resp = http
        .post(contract_url(&app, "/openapi.json"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "GET, HEAD");
    // The API listener still refuses a handshake without a certificate.
    assert!(probe(app.addr, &Probe::default()).is_err());
}

#[tokio::test]
async fn public_url_is_the_address_in_every_served_contract() {
    let app = TestApp::builder()
        .config("[server]\npublic_url = \"https://mt.example.nl\"\n")
        .spawn()
        .await;
    let http = anonymous();
    let text = http
        .get(contract_url(&app, "/wsdl/optin-v1.wsdl"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("location=\"https://mt.example.nl/soap/optin/v1\""),
        "{text}"
    );
    let client = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    let (status, doc) = client.get_json("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["servers"][0]["url"], "https://mt.example.nl");
    let wsdl = client
        .get("/soap/optin/v1?wsdl")
        .await
        .text()
        .await
        .unwrap();
    assert!(wsdl.contains("location=\"https://mt.example.nl/soap/optin/v1\""));
}

#[tokio::test]
async fn a_wrong_method_on_a_known_path_is_405_with_allow() {
    let app = TestApp::spawn().await;
    let client = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    let resp = client
        .http
        .delete(client.url("/api/v1/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["allow"], "GET, HEAD");
    let (status, body) = json_of(resp).await;
    assert_eq!((status, body["code"].as_str()), (405, Some("REQ-005")));
    let resp = client
        .http
        .get(client.url("/api/v1/machtigingsaanvragen/zoeken"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    // An unknown path is still 404.
    let (status, body) = client.get_json("/api/v1/bestaat-niet").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("REQ-001")));
}

#[tokio::test]
async fn a_wrong_method_on_a_soap_endpoint_is_405_req_005_with_allow() {
    let app = TestApp::spawn().await;
    let client = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    for path in [
        "/soap/machtigingen/v1",
        "/soap/beoordeling/v1",
        "/soap/optin/v1",
        "/soap/terugkoppelingbeheer/v1",
    ] {
        let resp = client
            .http
            .put(client.url(path))
            .header("Content-Type", "text/xml; charset=utf-8")
            .body("<x/>")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["allow"], "GET, HEAD, POST", "{path}");
        assert_eq!(
            resp.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let (status, body) = json_of(resp).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (405, Some("REQ-005")),
            "{path}: {body}"
        );
    }
    // The methods it has still work: the WSDL by GET, and by HEAD without a body.
    let resp = client
        .http
        .get(client.url("/soap/optin/v1?wsdl"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let get_len = resp.bytes().await.unwrap().len();
    let head = client
        .http
        .head(client.url("/soap/optin/v1?wsdl"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        get_len.to_string().as_str()
    );
    assert!(head.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn head_on_a_rest_get_route_answers_like_get_without_a_body() {
    let app = TestApp::spawn().await;
    let client = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    let get = client
        .http
        .get(client.url("/api/v1/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let get_type = get.headers()["content-type"].clone();
    let get_len = get.bytes().await.unwrap().len();
    assert!(get_len > 0);
    let head = client
        .http
        .head(client.url("/api/v1/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-type"], get_type);
    let len: usize = head.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(len, get_len, "HEAD announces the GET body's length");
    assert!(head.bytes().await.unwrap().is_empty());
    // No body bytes were left on the connection: the next request on it is whole.
    let (status, me) = client.get_json("/api/v1/whoami").await;
    assert_eq!(status, 200, "{me}");
    // A route without GET has no HEAD either.
    let resp = client
        .http
        .head(client.url("/api/v1/machtigingsaanvragen/zoeken"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
}

#[tokio::test]
async fn a_missing_required_body_is_refused() {
    let app = TestApp::spawn().await;
    let client = app.provider("03123456", &[Scope::OptinAfhandelen]);
    let resp = client
        .http
        .put(client.url("/api/v1/optin/abonnement"))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(resp).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (415, Some("REQ-003")),
        "{body}"
    );
    let resp = client
        .http
        .put(client.url("/api/v1/optin/abonnement"))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(resp).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("REQ-004")),
        "{body}"
    );
    let (status, body) = json_of(
        client
            .http
            .put(client.url("/api/v1/optin/abonnement"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["aangemeldOp"].as_str().unwrap().ends_with('Z'),
        "{body}"
    );
}

#[tokio::test]
async fn timestamps_carry_an_offset_both_ways() {
    let app = TestApp::spawn().await;
    let client = app.provider("03123456", &[Scope::TerugkoppelingBeheren]);
    let (_, me) = client.get_json("/api/v1/whoami").await;
    let until = me["certificaat"]["geldigTot"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(until).is_ok(),
        "{until}"
    );
    for sinds in [
        "2026-11-20T00:00:00Z",
        "2026-11-20T01:00:00+01:00",
        "2026-11-20T00:00:00.5Z",
    ] {
        let (status, body) = client
            .post_json("/api/v1/terugkoppeling/herstel", &json!({ "sinds": sinds }))
            .await;
        // No callback registered: TKP-005, but the timestamp was read.
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("TKP-005")),
            "{sinds}: {body}"
        );
    }
    let (status, body) = client
        .post_json(
            "/api/v1/terugkoppeling/herstel",
            &json!({ "sinds": "20-11-2026" }),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("REQ-004")),
        "{body}"
    );
}

#[tokio::test]
async fn a_page_far_beyond_the_end_is_a_coded_refusal_not_a_server_error() {
    let app = TestApp::spawn().await;
    let client = app.provider("03123456", &[Scope::MachtigingenRaadplegen]);
    // (page - 1) * size overflowed into a database error (503) before; now a
    // page number reaches only the first 1000 results (REQ-006, use vervolg).
    let (status, body) = client
        .get_json("/api/v1/machtigingsaanvragen?pagina=9223372036854775806&paginaGrootte=100")
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("REQ-006")),
        "{body}"
    );
    let (status, body) = client
        .post_json(
            "/api/v1/machtigingsaanvragen/zoeken",
            &json!({"pagina": 9223372036854775806_i64, "paginaGrootte": 0}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("REQ-006")),
        "{body}"
    );
    // Past the end but within the first 1000: an empty page.
    let (status, body) = client
        .get_json("/api/v1/machtigingsaanvragen?pagina=10&paginaGrootte=100")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resultaten"], json!([]));
}

#[tokio::test]
async fn an_integer_written_with_a_zero_fraction_is_an_integer() {
    let app = TestApp::spawn().await;
    let insurer = app.party(machtigingen::registry::PartyKind::Zorgverzekeraar, "3311");
    let client = app.client(&app.issue(
        &insurer,
        machtigingen::registry::CertKind::Systeem,
        &[Scope::Beoordelen],
        &[],
    ));
    let (status, body) = client
        .post_json(
            "/api/v1/beoordeling/inbox/ontvangst",
            &json!({"inboxIds": [1.0, 2]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = client
        .post_json(
            "/api/v1/beoordeling/inbox/ontvangst",
            &json!({"inboxIds": [1.5]}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("REQ-004")),
        "{body}"
    );
}
