//! Helpers for the terugkoppeling tests: the platform's client certificate,
//! a server configuration with a short retry schedule, the reference receiver
//! as the real HTTPS endpoint, and terugkoppelingen written with the real
//! outbox contract (`outbox::record`).

use std::path::PathBuf;
use std::sync::OnceLock;

use machtigingen::ids::MachtigingId;
use machtigingen::machtiging::model::Status;
use machtigingen::outbox::event::v1::MachtigingStatus;
use machtigingen::outbox::{self, Event, MACHTIGING_STATUS};
use machtigingen::pki::{self, ClientSubject, Validity};
use machtigingen::receiver::{self, Receiver, ReceiverConfig};
use machtigingen::registry::Scope;
use serde_json::json;

use crate::support::{TestApp, TestCert, TestClient, pki};

pub const AGB: &str = "03123456";

/// The platform's callback client certificate, issued once by the test CA.
pub fn platform_client() -> &'static (PathBuf, PathBuf, TestCert) {
    static C: OnceLock<(PathBuf, PathBuf, TestCert)> = OnceLock::new();
    C.get_or_init(|| {
        let p = pki();
        let key = pki::generate_key(machtigingen::config::KeyType::EcP256).unwrap();
        let cert =
            p.ca.issue_client(
                &ClientSubject {
                    common_name: "platform terugkoppeling test".into(),
                    organization: "machtigingen test".into(),
                    organizational_unit: "PLATFORM:machtigingen".into(),
                },
                &key,
                Validity::days_from_now(10),
            )
            .unwrap();
        let tc = TestCert::new(cert, key);
        let (c, k) = tc.write(&p.dir, "platform-client");
        (c, k, tc)
    })
}

/// `[terugkoppeling]` for tests: the platform certificate, loopback
/// allow-listed, fast polling, and the given retry schedule.
pub fn config(schedule: &str) -> String {
    config_with(schedule, "")
}

/// [`config`] with some `[terugkoppeling]` keys replaced or added
/// (`key = value` lines).
pub fn config_with(schedule: &str, extra: &str) -> String {
    let (c, k, _) = platform_client();
    let mut keys: Vec<(String, String)> = [
        ("dispatcher", "true".to_owned()),
        ("client_cert", format!("\"{}\"", c.display())),
        ("client_key", format!("\"{}\"", k.display())),
        (
            "toegestane_netwerken",
            r#"["127.0.0.0/8", "::1/128"]"#.to_owned(),
        ),
        ("retry_schedule", schedule.to_owned()),
        ("poll_interval", r#""50ms""#.to_owned()),
        ("connect_timeout", r#""1s""#.to_owned()),
        ("timeout", r#""3s""#.to_owned()),
        ("lease", r#""4s""#.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for line in extra.lines().filter(|l| l.contains('=')) {
        let (k, v) = line.split_once('=').unwrap();
        let (k, v) = (k.trim().to_owned(), v.trim().to_owned());
        match keys.iter_mut().find(|(key, _)| *key == k) {
            Some(slot) => slot.1 = v,
            None => keys.push((k, v)),
        }
    }
    let body: Vec<String> = keys.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    format!("\n[terugkoppeling]\n{}\n", body.join("\n"))
}

pub async fn app(schedule: &str) -> TestApp {
    TestApp::builder().config(&config(schedule)).spawn().await
}

/// A reference receiver on `addr` (port 0 for a fresh one) using the test
/// server certificate and requiring a client certificate of the test CA.
pub fn receiver_on(addr: &str, secrets: Vec<String>) -> Receiver {
    let p = pki();
    receiver::start(ReceiverConfig {
        listen: addr.parse().unwrap(),
        tls_cert: p.server_cert.clone(),
        tls_key: p.server_key.clone(),
        client_ca: p.ca_pem.clone(),
        secrets,
        // Tests read `received()`; the JSON lines would only flood the output.
        out: Some("/dev/null".into()),
        tolerance_secs: 300,
        dedup_file: None,
        dedup: Default::default(),
    })
    .unwrap()
}

pub fn receiver() -> Receiver {
    receiver_on("127.0.0.1:0", Vec::new())
}

pub fn ca_pem() -> String {
    std::fs::read_to_string(&pki().ca_pem).unwrap()
}

pub fn provider(app: &TestApp) -> TestClient {
    app.provider(
        AGB,
        &[Scope::TerugkoppelingBeheren, Scope::MachtigingenIndienen],
    )
}

pub async fn put_abonnement(
    client: &TestClient,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    crate::support::json_of(
        client
            .http
            .put(client.url("/api/v1/terugkoppeling/abonnement"))
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Registers `r` as the provider's callback and teaches `r` the secret.
pub async fn register(client: &TestClient, r: &Receiver, formaat: &str) -> String {
    let body = json!({
        "url": format!("https://localhost:{}/terugkoppeling", r.addr.port()),
        "formaat": formaat,
        "caBundle": ca_pem(),
    });
    let (status, v) = put_abonnement(client, &body).await;
    assert_eq!(status, 200, "{v}");
    let secret = v["geheim"].as_str().unwrap().to_owned();
    r.set_secrets(vec![secret.clone()]);
    secret
}

pub fn status_payload(referentie: &str, status: Status) -> MachtigingStatus {
    MachtigingStatus {
        machtigingsaanvraag_id: MachtigingId::new().unwrap(),
        referentie: referentie.into(),
        agb_praktijk: AGB.into(),
        uzovi: "3311".into(),
        status: status.as_str().into(),
        tijdstip: machtigingen::db::now(),
        beslissing: None,
        vragen: Vec::new(),
    }
}

/// The request id a test names `label` ("MA-o"): the label itself when it is
/// one, else always the same id for the same label, so the terugkoppelingen
/// about it share a subject.
pub fn subject(label: &str) -> MachtigingId {
    label.parse().unwrap_or_else(|_| {
        let digest = openssl::sha::sha256(label.as_bytes());
        format!("MA{}", hex::encode(&digest[..16])).parse().unwrap()
    })
}

/// Writes one terugkoppeling about request `subject` (a label, see
/// [`subject`]) for the provider through the outbox contract.
pub fn enqueue_for(app: &TestApp, recipient: &str, subject: &str, referentie: &str) -> String {
    let mut conn = app.db.conn().unwrap();
    let mut event = status_payload(referentie, Status::InBehandeling);
    event.machtigingsaanvraag_id = self::subject(subject);
    outbox::record(
        &mut conn,
        &recipient.parse().unwrap(),
        &Event::MachtigingStatus(event),
    )
    .unwrap()
    .unwrap()
    .into()
}

pub fn enqueue(app: &TestApp, subject: &str, referentie: &str) -> String {
    enqueue_for(app, &format!("AGB:{AGB}"), subject, referentie)
}

/// The `referentie` of each received JSON terugkoppeling, in arrival order.
pub fn referenties(r: &Receiver) -> Vec<String> {
    r.received()
        .iter()
        .filter_map(|m| serde_json::from_str::<serde_json::Value>(&m.body).ok())
        .filter(|v| v["type"] == MACHTIGING_STATUS)
        .map(|v| {
            v["data"]["referentie"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

pub async fn detail(client: &TestClient, id: &str) -> serde_json::Value {
    let (s, v) = client
        .get_json(&format!("/api/v1/terugkoppeling/berichten/{id}"))
        .await;
    assert_eq!(s, 200, "{v}");
    v
}
