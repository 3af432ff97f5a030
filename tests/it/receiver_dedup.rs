//! The reference receiver remembers stored webhook-ids across a restart: a
//! redelivery after the restart is acknowledged as a duplicate
//! (`X-Machtigingen-Dubbel: true`) and not written to `--out` again.

use machtigingen::dispatch::signature;
use machtigingen::receiver::{self, ReceiverConfig, dedup};

use crate::support::pki;
use crate::terugkoppeling_support::platform_client;

fn start(port: u16, secret: &str, out: &std::path::Path) -> receiver::Receiver {
    let p = pki();
    receiver::start(ReceiverConfig {
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        tls_cert: p.server_cert.clone(),
        tls_key: p.server_key.clone(),
        client_ca: p.ca_pem.clone(),
        secrets: vec![secret.to_owned()],
        out: Some(out.to_owned()),
        tolerance_secs: 300,
        dedup_file: Some(out.with_extension("ids")),
        dedup: dedup::Limits::default(),
    })
    .unwrap()
}

async fn deliver(port: u16, secret: &str, id: &str) -> (u16, bool) {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&pki().ca_pem).unwrap()).unwrap();
    let (_, _, platform) = platform_client();
    let client = reqwest::Client::builder()
        .tls_backend_native()
        .tls_certs_only([ca])
        .identity(
            reqwest::Identity::from_pkcs8_pem(&platform.cert_pem(), &platform.key_pem()).unwrap(),
        )
        .build()
        .unwrap();
    let ts = chrono::Utc::now().timestamp();
    let body = format!(r#"{{"id":"{id}","type":"machtiging.status"}}"#).into_bytes();
    let sig = signature::sign(secret, id, ts, &body).unwrap();
    let resp = client
        .post(format!("https://localhost:{port}/cb"))
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    let duplicate = resp.headers().get("x-machtigingen-dubbel").is_some();
    (resp.status().as_u16(), duplicate)
}

fn lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .count()
}

#[tokio::test]
async fn a_redelivery_after_a_restart_is_recognised() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("berichten.jsonl");
    let secret = signature::new_secret().unwrap();
    let r = start(0, &secret, &out);
    let port = r.addr.port();
    assert_eq!(deliver(port, &secret, "TK0001").await, (200, false));
    assert_eq!(deliver(port, &secret, "TK0001").await, (200, true));
    r.stop();

    let r = start(port, &secret, &out);
    assert_eq!(
        deliver(port, &secret, "TK0001").await,
        (200, true),
        "forgotten across the restart"
    );
    assert_eq!(deliver(port, &secret, "TK0002").await, (200, false));
    assert_eq!(deliver(port, &secret, "bad id").await.0, 400);
    r.stop();
    assert_eq!(lines(&out), 2, "each message stored once");
    assert_eq!(lines(&out.with_extension("ids")), 2);
}
