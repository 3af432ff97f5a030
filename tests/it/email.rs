//! E-mail notifications against a real SMTP server the test starts
//! (`support::smtp`, real SMTP over TCP): each trigger mails its recipients
//! once, in Dutch, with a portal link and no patient data; a relay that is
//! down gets the mail once it is back, exactly once; a relay that refuses
//! leaves a dead letter the operator sees; without a relay nothing is
//! queued. docs/email.md describes the behaviour.

use std::time::Duration;

use diesel::prelude::*;
use machtigingen::beheer::store::{Contact, set_contact};
use machtigingen::db::schema::{audit_log, email_berichten as mail, email_state};
use machtigingen::registry::{CertKind, PartyKind, Scope};
use serde_json::json;

use crate::audit_log::{cli, out};
use crate::fixtures::{Aanvraag, insurer_sets, load_sample_catalog, random_suffix, submit};
use crate::support::smtp::{Mail, SmtpServer};
use crate::support::{TestApp, eventually, json_of};
use crate::terugkoppeling_support as tks;

const PORTAL: &str = "https://portaal.test";

/// `[email]` for a relay on `port`: plain SMTP, fast polling, short retries.
fn email_config(port: u16) -> String {
    format!(
        r#"
[email]
relay = "127.0.0.1"
port = {port}
tls = "none"
sender = "Machtigingen <noreply@machtigingen.test>"
portaal_url = "{PORTAL}/"
retry_schedule = ["0s", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms", "200ms"]
jitter = 0.0
poll_interval = "100ms"
timeout = "3s"
lease = "4s"
verloop_interval = "200ms"
"#
    )
}

fn set_addresses(app: &TestApp, party: &str, addresses: &[&str]) {
    let mut conn = app.db.conn().unwrap();
    set_contact(
        &mut conn,
        party,
        &Contact {
            notificatie_emails: addresses.iter().map(|a| (*a).to_owned()).collect(),
            ..Contact::default()
        },
    )
    .unwrap();
}

/// The mails whose subject contains `needle`.
fn with_subject(mails: &[Mail], needle: &str) -> Vec<Mail> {
    mails
        .iter()
        .filter(|m| m.subject().contains(needle))
        .cloned()
        .collect()
}

/// Nothing of the patient or the request's content in a mail.
fn assert_no_patient_data(m: &Mail, also: &[&str]) {
    for s in [
        "999999990",
        "Jansen",
        "dermatochalasis",
        "FOTO-ZIJ",
        "foto van opzij",
    ]
    .iter()
    .chain(also)
    {
        assert!(!m.raw.contains(s), "{s} in the mail:\n{}", m.raw);
        assert!(!m.body().contains(s), "{s} in the mail:\n{}", m.body());
    }
}

fn assert_one(mails: &[Mail], needle: &str, to: &str, link: &str) -> Mail {
    let found = with_subject(mails, needle);
    assert_eq!(
        found.len(),
        1,
        "{needle}: {:#?}",
        mails.iter().map(Mail::subject).collect::<Vec<_>>()
    );
    let m = found[0].clone();
    assert_eq!(m.to, [to], "{needle}");
    assert_eq!(m.from, "noreply@machtigingen.test");
    assert!(m.body().contains(link), "{link} not in:\n{}", m.body());
    assert!(m.body().contains("Met vriendelijke groet"), "{}", m.body());
    assert!(
        m.header("Content-Type").is_some_and(
            |t| t.starts_with("text/plain") && t.to_ascii_lowercase().contains("utf-8")
        ),
        "{}",
        m.raw
    );
    assert!(
        m.header("Message-ID")
            .is_some_and(|id| id.contains("@machtigingen.test")),
        "{}",
        m.raw
    );
    m
}

fn rows(app: &TestApp) -> Vec<(String, String, i32)> {
    mail::table
        .select((mail::soort, mail::status, mail::attempts))
        .order(mail::id)
        .load(&mut *app.db.conn().unwrap())
        .unwrap()
}

fn audited(app: &TestApp, action: &str) -> i64 {
    audit_log::table
        .filter(audit_log::action.eq(action))
        .count()
        .get_result(&mut *app.db.conn().unwrap())
        .unwrap()
}

#[tokio::test]
async fn questions_decisions_and_expiring_certificates_mail_the_practice_once_each() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::builder()
        .config(&email_config(smtp.addr.port()))
        .spawn()
        .await;
    load_sample_catalog(&app);
    set_addresses(&app, "AGB:03123456", &["praktijk@zorg.test"]);
    // Issued for 10 days by the harness: within the 30 days of a warning.
    let provider = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    let doc = Aanvraag {
        referentie: format!("Jansen-{}", random_suffix()),
        ..Aanvraag::default()
    };
    let asked = submit(&provider, &doc).await;
    insurer_sets(&app, &asked, "InBehandeling").await;
    insurer_sets(&app, &asked, "AanvullendeInformatieGevraagd").await;
    let decided = submit(&provider, &Aanvraag::default()).await;
    insurer_sets(&app, &decided, "InBehandeling").await;
    insurer_sets(&app, &decided, "Afgewezen").await;

    smtp.wait_for(3, 20).await;
    // Nothing more arrives: submissions and InBehandeling mail no one, and
    // every round after reads the same events and certificates again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mails = smtp.mails();
    assert_eq!(
        mails.len(),
        3,
        "{:#?}",
        mails.iter().map(Mail::subject).collect::<Vec<_>>()
    );

    let q = assert_one(
        &mails,
        "Zorgverzekeraar vraagt aanvullende informatie",
        "praktijk@zorg.test",
        &format!("{PORTAL}/portaal/aanvragen/{asked}"),
    );
    assert!(q.subject().contains(&asked), "{}", q.subject());
    let b = assert_one(
        &mails,
        "Besluit over uw machtigingsaanvraag",
        "praktijk@zorg.test",
        &format!("{PORTAL}/portaal/aanvragen/{decided}"),
    );
    assert!(b.body().contains("afgewezen"), "{}", b.body());
    let c = assert_one(
        &mails,
        "Certificaat verloopt op",
        "praktijk@zorg.test",
        &format!("{PORTAL}/portaal/beheer/certificaten"),
    );
    for m in [&q, &b, &c] {
        // The practice's own referentie may name the patient: never mailed.
        assert_no_patient_data(m, &[&doc.referentie, "Geen medische noodzaak", "MEDISCH"]);
    }
    assert!(
        rows(&app)
            .iter()
            .all(|(_, status, attempts)| status == "verzonden" && *attempts == 1),
        "{:?}",
        rows(&app)
    );
    assert_eq!(audited(&app, "email.verzonden"), 3);
}

#[tokio::test]
async fn a_revised_grant_mails_once_more_as_a_revision() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::builder()
        .config(&email_config(smtp.addr.port()))
        .spawn()
        .await;
    load_sample_catalog(&app);
    let provider = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    // The first decision and the certificate may mail too (the addresses are
    // set while they are read); only the revision is counted here.
    let id = submit(&provider, &Aanvraag::default()).await;
    insurer_sets(&app, &id, "Toegekend").await;
    set_addresses(&app, "AGB:03123456", &["praktijk@zorg.test"]);
    let ins = crate::fixtures::insurer(&app);
    let (status, v) = ins
        .post_json(
            &format!("/api/v1/beoordeling/machtigingsaanvragen/{id}/herziening"),
            &json!({"soort": "Verlenging", "geldigTot": crate::fixtures::days(300),
                    "redenCode": "VERLENGD", "redenTekst": "Behandeling duurt langer."}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let link = format!("{PORTAL}/portaal/aanvragen/{id}");
    assert!(
        eventually(10, || async {
            with_subject(&smtp.mails(), "herzien").len() == 1
        })
        .await,
        "{:#?}",
        smtp.mails().iter().map(Mail::subject).collect::<Vec<_>>()
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    let m = assert_one(
        &smtp.mails(),
        "Besluit over uw machtiging herzien",
        "praktijk@zorg.test",
        &link,
    );
    assert!(m.body().contains("toegekend"), "{}", m.body());
    assert_no_patient_data(&m, &["Behandeling duurt langer", "VERLENGD"]);
}

#[tokio::test]
async fn a_waiting_optin_registration_mails_the_subscription_address() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::builder()
        .config(&email_config(smtp.addr.port()))
        .spawn()
        .await;
    let agb = "01234567";
    let provider = app.provider(agb, &[Scope::OptinAfhandelen]);
    let (status, body) = json_of(
        provider
            .http
            .put(provider.url("/api/v1/optin/abonnement"))
            .json(&json!({"notificatieEmail": "optin@praktijk.test"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let p = app.party(
        PartyKind::Patientportaal,
        &format!("portaal-{}", random_suffix()),
    );
    let portal = app.client(&app.issue(&p, CertKind::Systeem, &[Scope::OptinAanmelden], &[]));
    let resp = portal
        .http
        .post(portal.url("/api/v1/optin/registraties"))
        .header("content-type", "application/xml")
        .body(crate::optin::registratie("R-mail-1", "999999990", agb))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(resp).await;
    assert_eq!(status, 201, "{body}");
    let id = body["registratieId"].as_str().unwrap().to_owned();

    smtp.wait_for(1, 20).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mails = smtp.mails();
    // No notificatieEmails for the party: no certificate warning either.
    assert_eq!(
        mails.len(),
        1,
        "{:#?}",
        mails.iter().map(Mail::subject).collect::<Vec<_>>()
    );
    let m = assert_one(
        &mails,
        "Nieuwe opt-in-registratie wacht op verwerking",
        "optin@praktijk.test",
        &format!("{PORTAL}/portaal/optin"),
    );
    assert!(m.body().contains(&id), "{}", m.body());
    assert_no_patient_data(&m, &["R-mail-1", "1980-01-02"]);
}

#[tokio::test]
async fn a_disabled_callback_mails_the_party() {
    let smtp = SmtpServer::start().await;
    let config = tks::config_with(
        r#"["0s", "100ms", "100ms", "100ms", "100ms", "100ms", "100ms"]"#,
        "disable_after = \"300ms\"",
    );
    let app = TestApp::builder()
        .config(&config)
        .config(&email_config(smtp.addr.port()))
        .spawn()
        .await;
    let party = format!("AGB:{}", tks::AGB);
    set_addresses(&app, &party, &["beheer@zorg.test", "ict@zorg.test"]);
    let client = tks::provider(&app);
    let r = tks::receiver();
    tks::register(&client, &r, "json").await;
    r.respond_with(Some(500), None);
    tks::enqueue(&app, "MA-mail", "F-1");
    assert!(
        eventually(10, || async {
            let (_, v) = client.get_json("/api/v1/terugkoppeling/abonnement").await;
            v["status"] == "uitgeschakeld"
        })
        .await
    );
    let needle = "Terugkoppeling uitgeschakeld";
    assert!(
        eventually(10, || async {
            with_subject(&smtp.mails(), needle).len() >= 2
        })
        .await,
        "{:#?}",
        smtp.mails().iter().map(Mail::subject).collect::<Vec<_>>()
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mails = with_subject(&smtp.mails(), needle);
    assert_eq!(mails.len(), 2, "one per address");
    let mut to: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, ["beheer@zorg.test", "ict@zorg.test"]);
    for m in &mails {
        assert!(
            m.body()
                .contains(&format!("{PORTAL}/portaal/beheer/terugkoppeling"))
        );
        assert_no_patient_data(m, &["F-1"]);
    }
}

#[tokio::test]
async fn a_relay_that_is_down_gets_the_mail_once_it_is_back() {
    let addr = SmtpServer::free_port();
    let app = TestApp::builder()
        .config(&email_config(addr.port()))
        .spawn()
        .await;
    set_addresses(&app, "AGB:03123456", &["praktijk@zorg.test"]);
    app.provider("03123456", &[Scope::MachtigingenIndienen]);
    // Queued and retried while nothing listens.
    assert!(
        eventually(10, || async {
            rows(&app)
                .iter()
                .any(|(_, status, attempts)| status == "wachtend" && *attempts >= 2)
        })
        .await,
        "{:?}",
        rows(&app)
    );
    let smtp = SmtpServer::start_on(addr).await;
    let mails = smtp.wait_for(1, 20).await;
    assert_eq!(mails.len(), 1);
    // Later rounds and retries send nothing more.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.mails().len(), 1, "sent twice");
    assert_one(
        &smtp.mails(),
        "Certificaat verloopt op",
        "praktijk@zorg.test",
        &format!("{PORTAL}/portaal/beheer/certificaten"),
    );
    let r = rows(&app);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].0, "certificaat_verloopt");
    assert_eq!(r[0].1, "verzonden");
    assert!(r[0].2 >= 3, "{r:?}");
    assert_eq!(audited(&app, "email.verzonden"), 1);
}

#[tokio::test]
async fn a_relay_that_refuses_leaves_a_dead_letter_the_operator_sees_and_sends_again() {
    let smtp = SmtpServer::start().await;
    smtp.refuse();
    let app = TestApp::builder()
        .config(&email_config(smtp.addr.port()))
        .spawn()
        .await;
    set_addresses(&app, "AGB:03123456", &["praktijk@zorg.test"]);
    app.provider("03123456", &[Scope::MachtigingenIndienen]);
    assert!(
        eventually(10, || async {
            rows(&app).iter().any(|(_, s, _)| s == "dood")
        })
        .await,
        "{:?}",
        rows(&app)
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    // One attempt: a 5xx is final, retrying would not change it.
    assert_eq!(
        rows(&app),
        [("certificaat_verloopt".to_owned(), "dood".to_owned(), 1)]
    );
    let error: Option<String> = mail::table
        .select(mail::last_error)
        .first(&mut *app.db.conn().unwrap())
        .unwrap();
    assert!(error.unwrap_or_default().contains("554"));
    assert!(smtp.mails().is_empty());
    assert_eq!(audited(&app, "email.dood"), 1);
    let metrics = crate::ops::scrape(&app).await;
    assert!(
        metrics.contains("email_berichten{state=\"dood\"} 1"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("email"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let status = cli(&app, &["email", "status"]);
    let text = out(&status);
    assert!(status.status.success(), "{text}");
    assert!(text.contains("dead 1"), "{text}");
    assert!(
        text.contains("certificaat_verloopt")
            && text.contains("praktijk@zorg.test")
            && text.contains("554"),
        "{text}"
    );

    // The cause fixed, the operator sends it again: it arrives once.
    smtp.accept();
    let again = cli(&app, &["email", "herstel", "--alle"]);
    assert!(
        out(&again).contains("1 e-mail(s) queued again"),
        "{}",
        out(&again)
    );
    smtp.wait_for(1, 20).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(smtp.mails().len(), 1);
    assert_eq!(
        rows(&app),
        [("certificaat_verloopt".to_owned(), "verzonden".to_owned(), 1)]
    );
    assert_eq!(audited(&app, "email.herstel"), 1);
}

#[tokio::test]
async fn without_a_relay_nothing_is_queued() {
    let app = TestApp::spawn().await;
    load_sample_catalog(&app);
    set_addresses(&app, "AGB:03123456", &["praktijk@zorg.test"]);
    let provider = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    let id = submit(&provider, &Aanvraag::default()).await;
    insurer_sets(&app, &id, "InBehandeling").await;
    insurer_sets(&app, &id, "AanvullendeInformatieGevraagd").await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mut conn = app.db.conn().unwrap();
    let queued: i64 = mail::table.count().get_result(&mut *conn).unwrap();
    let state: i64 = email_state::table.count().get_result(&mut *conn).unwrap();
    assert_eq!((queued, state), (0, 0));
}
