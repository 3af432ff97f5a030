//! The ops listener: health and metrics.

use machtigingen::registry::Scope;

use crate::support::TestApp;

#[tokio::test]
async fn health_and_metrics() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    let live = http.get(app.ops_url("/health/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let ready = http.get(app.ops_url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    let client = app.provider("03123456", &[Scope::MachtigingenRaadplegen]);
    assert_eq!(client.get_json("/api/v1/whoami").await.0, 200);
    let metrics = http
        .get(app.ops_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains(r#"machtigingen_http_requests_total{route="/api/v1/whoami",status="200"}"#),
        "{metrics}"
    );
    assert!(metrics.contains("machtigingen_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_unknown_routes_are_problems() {
    let app = TestApp::spawn().await;
    let client = app.provider("03123456", &[Scope::MachtigingenRaadplegen]);
    let resp = client.get("/api/v1/bestaat-niet").await;
    assert_eq!(resp.status(), 404);
    assert!(resp.headers().get("x-request-id").is_some());
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "REQ-001");
}
