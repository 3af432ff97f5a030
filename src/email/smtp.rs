//! The SMTP relay (lettre over tokio, TLS through native-tls: the system's
//! OpenSSL, the same stack as the rest of the service; the relay's
//! certificate checked against the system's CAs or `email.ca_bundle`). One mail per
//! conversation, with a Message-ID derived from its row, so a resend after a
//! crash carries the same id and a relay or mailbox that deduplicates on it
//! shows the mail once.

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::store::{Leased, Outcome};
use crate::config::EmailConfig;
use crate::config::email::SmtpTls;

pub struct Relay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    sender: Mailbox,
    /// The domain of the Message-IDs (the sender's).
    domain: String,
}

impl Relay {
    /// The relay of a validated configuration.
    pub fn new(c: &EmailConfig, timeout: std::time::Duration) -> Result<Self, String> {
        let host = c.relay.trim();
        let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host);
        let builder = match c.tls {
            SmtpTls::None => builder,
            SmtpTls::Starttls => builder.tls(Tls::Required(tls_parameters(c, host)?)),
            SmtpTls::Tls => builder.tls(Tls::Wrapper(tls_parameters(c, host)?)),
        };
        let mut builder = builder.port(c.port).timeout(Some(timeout));
        if !c.username.is_empty() {
            builder = builder.credentials(Credentials::new(c.username.clone(), c.password.clone()));
        }
        let sender: Mailbox = c.sender.parse().map_err(|e| format!("email.sender: {e}"))?;
        let domain = sender.email.domain().to_owned();
        Ok(Self {
            transport: builder.build(),
            sender,
            domain,
        })
    }

    /// The Message-ID of a mail: its row and creation time, which never
    /// change between attempts.
    pub fn message_id(&self, m: &Leased) -> String {
        format!(
            "<machtigingen.email.{}.{}@{}>",
            m.id,
            m.created_at.and_utc().timestamp_micros(),
            self.domain
        )
    }

    /// One attempt. A message that cannot be built (a stored address the
    /// relay would never take) is refused for good.
    pub async fn send(&self, m: &Leased) -> Outcome {
        let to: Mailbox = match m.recipient.parse() {
            Ok(to) => to,
            Err(e) => return Outcome::Permanent(format!("ongeldig adres: {e}")),
        };
        let message = Message::builder()
            .from(self.sender.clone())
            .to(to)
            .subject(m.onderwerp.clone())
            .message_id(Some(self.message_id(m)))
            .header(ContentType::TEXT_PLAIN)
            .body(m.inhoud.clone());
        let message = match message {
            Ok(message) => message,
            Err(e) => return Outcome::Permanent(format!("bericht: {e}")),
        };
        match self.transport.send(message).await {
            Ok(_) => Outcome::Sent,
            Err(e) if e.is_permanent() => Outcome::Permanent(describe(&e)),
            Err(e) => Outcome::Transient(describe(&e)),
        }
    }
}

/// TLS to the relay: its certificate must chain to the system's CAs, or
/// with `email.ca_bundle` to those alone, and name `host`.
fn tls_parameters(c: &EmailConfig, host: &str) -> Result<TlsParameters, String> {
    let cas = c.relay_cas().map_err(|e| format!("email.ca_bundle: {e}"))?;
    let mut b = TlsParameters::builder(host.to_owned());
    if !cas.is_empty() {
        b = b.certificate_store(CertificateStore::None);
    }
    for ca in cas {
        let pem = ca.to_pem().map_err(|e| format!("email.ca_bundle: {e}"))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| format!("email.ca_bundle: {e}"))?;
        b = b.add_root_certificate(cert);
    }
    b.build_native().map_err(|e| format!("email.tls: {e}"))
}

/// The relay's answer without anything of the mail in it.
fn describe(e: &lettre::transport::smtp::Error) -> String {
    match e.status() {
        Some(code) => format!("SMTP {code}: {e}"),
        None => e.to_string(),
    }
}
