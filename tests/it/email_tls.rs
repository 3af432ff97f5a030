//! E-mail through a relay that speaks TLS (docs/email.md §3): STARTTLS and
//! implicit TLS against a real SMTP server behind OpenSSL
//! (`support::smtp::TlsSmtpServer`) whose certificate comes from the
//! project's own PKI, trusted through `email.ca_bundle`. The mail arrives
//! over TLS; a relay whose certificate another CA signed is refused — the
//! mail stays queued and is retried, and arrives once the relay presents a
//! certificate of the configured CA; a relay that offers no STARTTLS gets
//! nothing (no downgrade to plain SMTP).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use diesel::prelude::*;
use machtigingen::beheer::store::{Contact, set_contact};
use machtigingen::config::KeyType;
use machtigingen::db::schema::email_berichten as mail;
use machtigingen::pki::{self, Ca, Validity};
use machtigingen::registry::Scope;

use crate::support::smtp::{SmtpServer, TlsMode, TlsSmtpServer};
use crate::support::{TestApp, eventually};

/// A relay CA and a certificate it issued for `localhost` (chain PEM, key
/// PEM); the CA written to a file for `email.ca_bundle`.
struct RelayPki {
    ca_file: PathBuf,
    chain: Vec<u8>,
    key: Vec<u8>,
    _dir: tempfile::TempDir,
}

fn relay_pki(name: &str) -> RelayPki {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::create(name, "test", KeyType::EcP256, 30).unwrap();
    let key = pki::generate_key(KeyType::EcP256).unwrap();
    let cert = ca
        .issue_server(
            &["localhost"],
            &["127.0.0.1".parse().unwrap()],
            &key,
            Validity::days_from_now(30),
        )
        .unwrap();
    let mut chain = cert.to_pem().unwrap();
    chain.extend(ca.cert.to_pem().unwrap());
    let ca_file = dir.path().join("relay-ca.pem");
    std::fs::write(&ca_file, ca.cert.to_pem().unwrap()).unwrap();
    RelayPki {
        ca_file,
        chain,
        key: key.private_key_to_pem_pkcs8().unwrap(),
        _dir: dir,
    }
}

fn config(port: u16, tls: &str, ca: &std::path::Path) -> String {
    format!(
        r#"
[email]
relay = "localhost"
port = {port}
tls = "{tls}"
ca_bundle = "{}"
sender = "Machtigingen <noreply@machtigingen.test>"
portaal_url = "https://portaal.test/"
retry_schedule = ["0s", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms"]
jitter = 0.0
poll_interval = "100ms"
timeout = "3s"
lease = "4s"
verloop_interval = "200ms"
"#,
        ca.display()
    )
}

/// A practice with a notification address and a certificate expiring within
/// 30 days: one mail ("Certificaat verloopt op") to send.
fn one_mail_due(app: &TestApp) {
    let mut conn = app.db.conn().unwrap();
    set_contact(
        &mut conn,
        "AGB:03123456",
        &Contact {
            notificatie_emails: vec!["praktijk@zorg.test".into()],
            ..Contact::default()
        },
    )
    .unwrap();
    drop(conn);
    app.provider("03123456", &[Scope::MachtigingenIndienen]);
}

fn rows(app: &TestApp) -> Vec<(String, i32, Option<String>)> {
    mail::table
        .select((mail::status, mail::attempts, mail::last_error))
        .order(mail::id)
        .load(&mut *app.db.conn().unwrap())
        .unwrap()
}

fn free() -> SocketAddr {
    SmtpServer::free_port()
}

async fn delivered_over(mode: TlsMode, tls: &str) {
    let relay = relay_pki("relay CA");
    let smtp = TlsSmtpServer::start_on(free(), mode, &relay.chain, &relay.key);
    let app = TestApp::builder()
        .config(&config(smtp.addr.port(), tls, &relay.ca_file))
        .spawn()
        .await;
    one_mail_due(&app);
    let mails = smtp.wait_for(1, 20).await;
    assert_eq!(
        mails.len(),
        1,
        "{:?} {:?}",
        rows(&app),
        smtp.failed_handshakes()
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "sent twice");
    assert!(mails[0].tls, "over TLS");
    assert_eq!(mails[0].to, ["praktijk@zorg.test"]);
    assert!(mails[0].subject().contains("Certificaat verloopt op"));
    assert_eq!(smtp.failed_handshakes(), 0);
    let want = usize::from(mode == TlsMode::StartTls);
    assert_eq!(smtp.starttls_upgrades(), want);
    let r = rows(&app);
    assert_eq!(
        (r.len(), r[0].0.as_str(), r[0].1),
        (1, "verzonden", 1),
        "{r:?}"
    );
}

#[tokio::test]
async fn starttls_to_a_relay_with_a_certificate_of_the_configured_ca_delivers() {
    delivered_over(TlsMode::StartTls, "starttls").await;
}

#[tokio::test]
async fn implicit_tls_to_a_relay_with_a_certificate_of_the_configured_ca_delivers() {
    delivered_over(TlsMode::Implicit, "tls").await;
}

#[tokio::test]
async fn a_relay_certificate_of_another_ca_is_refused_and_the_mail_waits_until_the_right_one() {
    let trusted = relay_pki("relay CA");
    let impostor = relay_pki("another CA");
    for (mode, tls) in [(TlsMode::Implicit, "tls"), (TlsMode::StartTls, "starttls")] {
        let addr = free();
        let mut bad = TlsSmtpServer::start_on(addr, mode, &impostor.chain, &impostor.key);
        let app = TestApp::builder()
            .config(&config(addr.port(), tls, &trusted.ca_file))
            .spawn()
            .await;
        one_mail_due(&app);
        // Refused at every attempt, retried, never sent, never given up.
        assert!(
            eventually(15, || async {
                rows(&app)
                    .first()
                    .is_some_and(|(s, attempts, _)| s == "wachtend" && *attempts >= 3)
            })
            .await,
            "{tls}: {:?}",
            rows(&app)
        );
        assert!(bad.mails().is_empty(), "{tls}: sent to an untrusted relay");
        assert!(
            bad.failed_handshakes() >= 3,
            "{tls}: {}",
            bad.failed_handshakes()
        );
        let error = rows(&app)[0].2.clone().unwrap_or_default();
        assert!(
            error.to_lowercase().contains("certificate"),
            "{tls}: {error}"
        );
        bad.stop();

        // The relay gets a certificate of the configured CA: the mail arrives, once.
        let good = TlsSmtpServer::start_on(addr, mode, &trusted.chain, &trusted.key);
        let mails = good.wait_for(1, 20).await;
        assert_eq!(mails.len(), 1, "{tls}: {:?}", rows(&app));
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(good.mails().len(), 1, "{tls}: sent twice");
        assert!(good.mails()[0].tls);
        let r = rows(&app);
        assert_eq!(r[0].0, "verzonden", "{tls}: {r:?}");
        assert!(r[0].1 >= 4, "{tls}: {r:?}");
    }
}

#[tokio::test]
async fn a_relay_without_starttls_gets_nothing_in_plain_text() {
    let trusted = relay_pki("relay CA");
    let plain = SmtpServer::start().await;
    let app = TestApp::builder()
        .config(&config(plain.addr.port(), "starttls", &trusted.ca_file))
        .spawn()
        .await;
    one_mail_due(&app);
    assert!(
        eventually(15, || async {
            rows(&app)
                .first()
                .is_some_and(|(s, attempts, _)| s == "wachtend" && *attempts >= 3)
        })
        .await,
        "{:?}",
        rows(&app)
    );
    assert!(plain.mails().is_empty(), "sent without TLS");
}
