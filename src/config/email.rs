//! The `[email]` section: the SMTP relay e-mail notifications go through
//! (docs/email.md), the sender, the portal the mails link to, and the retry
//! schedule. No relay: notifications are off and nothing is queued.

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use super::terugkoppeling::parse_duration;

/// How the connection to the relay is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP: only for a relay on the same host or a trusted network.
    None,
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// Host name of the relay; empty: notifications off.
    pub relay: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// PEM file of the CAs the relay's certificate must chain to, instead of
    /// the system's; empty: the system's CAs.
    pub ca_bundle: String,
    /// Optional SMTP AUTH user; with it `password` is required.
    pub username: String,
    pub password: String,
    /// `From:` of every mail, e.g. `Machtigingen <noreply@example.nl>`.
    pub sender: String,
    /// Base URL of the portal the mails link to; empty: `server.public_url`.
    pub portaal_url: String,
    pub timeout: String,
    /// Delay before each attempt; its length is the number of attempts.
    pub retry_schedule: Vec<String>,
    pub jitter: f64,
    pub poll_interval: String,
    /// A leased mail is taken over by another instance after this.
    pub lease: String,
    /// How far ahead a certificate's expiry is announced, in days.
    pub verloop_dagen: u32,
    /// How often certificates are looked at.
    pub verloop_interval: String,
}

/// The section with every duration parsed.
#[derive(Debug, Clone)]
pub struct EmailTiming {
    pub timeout: Duration,
    pub retry_schedule: Vec<Duration>,
    pub poll_interval: Duration,
    pub lease: Duration,
    pub verloop_interval: Duration,
}

impl EmailConfig {
    /// Whether notifications are on (a relay is configured).
    pub fn enabled(&self) -> bool {
        !self.relay.trim().is_empty()
    }

    pub fn timing(&self) -> Result<EmailTiming, ConfigError> {
        let d = |key: &'static str, v: &str| {
            parse_duration(v).map_err(|message| ConfigError::Invalid { key, message })
        };
        Ok(EmailTiming {
            timeout: d("email.timeout", &self.timeout)?,
            retry_schedule: self
                .retry_schedule
                .iter()
                .map(|v| d("email.retry_schedule", v))
                .collect::<Result<_, _>>()?,
            poll_interval: d("email.poll_interval", &self.poll_interval)?,
            lease: d("email.lease", &self.lease)?,
            verloop_interval: d("email.verloop_interval", &self.verloop_interval)?,
        })
    }

    /// The portal's base URL without a trailing slash.
    pub fn portal_base(&self, public_url: &str) -> String {
        let base = if self.portaal_url.trim().is_empty() {
            public_url
        } else {
            self.portaal_url.trim()
        };
        base.trim_end_matches('/').to_owned()
    }

    /// The CAs of `ca_bundle` (empty when none is configured): at least one
    /// certificate, every PEM block readable.
    pub fn relay_cas(&self) -> Result<Vec<openssl::x509::X509>, String> {
        let path = self.ca_bundle.trim();
        if path.is_empty() {
            return Ok(Vec::new());
        }
        let pem = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let cas = openssl::x509::X509::stack_from_pem(&pem)
            .map_err(|e| format!("{path} is not a PEM certificate bundle: {e}"))?;
        if cas.is_empty() {
            return Err(format!("{path} holds no certificate"));
        }
        Ok(cas)
    }

    pub fn validate(&self, public_url: &str) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        let t = self.timing()?;
        if t.retry_schedule.is_empty() {
            return invalid("email.retry_schedule", "needs at least one entry");
        }
        if !(0.0..1.0).contains(&self.jitter) {
            return invalid("email.jitter", "must be at least 0 and below 1");
        }
        if t.poll_interval.is_zero() || t.verloop_interval.is_zero() {
            return invalid("email.poll_interval", "intervals must be above zero");
        }
        if t.lease <= t.timeout {
            return invalid("email.lease", "must be longer than email.timeout");
        }
        if !self.portaal_url.is_empty() && !self.portaal_url.starts_with("https://") {
            return invalid("email.portaal_url", "must be empty or start with https://");
        }
        if !(1..=365).contains(&self.verloop_dagen) {
            return invalid("email.verloop_dagen", "must be 1 to 365");
        }
        if !self.enabled() {
            return Ok(());
        }
        if self.port == 0 {
            return invalid("email.port", "must be 1 to 65535");
        }
        if self.sender.parse::<lettre::message::Mailbox>().is_err() {
            return invalid(
                "email.sender",
                "must be an address, e.g. \"Machtigingen <noreply@example.nl>\"",
            );
        }
        if !self.ca_bundle.trim().is_empty() {
            if self.tls == SmtpTls::None {
                return invalid(
                    "email.ca_bundle",
                    "only applies with tls = \"starttls\" or \"tls\"",
                );
            }
            if let Err(message) = self.relay_cas() {
                return invalid("email.ca_bundle", &message);
            }
        }
        if !self.username.is_empty() && self.password.is_empty() {
            return invalid(
                "email.password",
                "is required with email.username (set MACHTIGINGEN_EMAIL__PASSWORD)",
            );
        }
        if self.portal_base(public_url).is_empty() {
            return invalid(
                "email.portaal_url",
                "is required when a relay is configured and server.public_url is empty",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn off_by_default_and_checked_when_on() {
        let c = Config::from_toml_str("").unwrap();
        assert!(!c.email.enabled());
        let on = "[email]\nrelay = \"smtp.example.nl\"\nportaal_url = \"https://p.example.nl/\"";
        let c = Config::from_toml_str(on).unwrap();
        assert!(c.email.enabled());
        assert_eq!(c.email.portal_base(""), "https://p.example.nl");
        for (extra, key) in [
            ("sender = \"geen adres\"", "email.sender"),
            ("username = \"u\"", "email.password"),
            ("tls = \"ssl\"", "email.tls"),
            ("retry_schedule = []", "email.retry_schedule"),
            ("port = 0", "email.port"),
            (
                "ca_bundle = \"/nonexistent/relay-ca.pem\"",
                "email.ca_bundle",
            ),
            ("ca_bundle = \"Cargo.toml\"", "email.ca_bundle"),
            (
                "tls = \"none\"\nca_bundle = \"Cargo.toml\"",
                "email.ca_bundle",
            ),
        ] {
            let err = Config::from_toml_str(&format!("{on}\n{extra}")).unwrap_err();
            assert!(err.to_string().contains(key), "{extra}: {err}");
        }
        let err = Config::from_toml_str("[email]\nrelay = \"smtp.example.nl\"").unwrap_err();
        assert!(err.to_string().contains("email.portaal_url"), "{err}");
        let c = Config::from_toml_str(
            "[server]\npublic_url = \"https://m.example.nl\"\n[email]\nrelay = \"smtp.example.nl\"",
        )
        .unwrap();
        assert_eq!(
            c.email.portal_base(&c.server.public_url),
            "https://m.example.nl"
        );
    }
}
