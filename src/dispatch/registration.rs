//! Registering a callback: checks (HTTPS URL, format, event types, CA bundle,
//! SSRF), storing, and the verification call whose outcome the provider sees
//! in the response. Shared by the REST and SOAP doors, which map a
//! [`RegistrationError`] onto the wire (`problem`).

use std::time::Duration;

use chrono::NaiveDateTime;

use super::endpoints::{self, Endpoint, Registration};
use super::render::{Body, Format, Message};
use super::ssrf::{self, UrlError};
use super::transport::{Target, Transport};
use crate::audit::{self, AuditEntry};
use crate::config::Config;
use crate::db::{Db, DbError, now};
use crate::error::{Code, Refusal};
use crate::identity::Caller;
use crate::outbox::{MACHTIGING_INBOX, MACHTIGING_STATUS, OPTIN_REGISTRATIE, OPTIN_STATUS};

/// Event types a callback can subscribe to: machtiging status changes (to
/// providers), inbox entries (to insurers), new opt-in registrations (to
/// providers) and their outcome (to patient portals).
pub const EVENT_TYPES: &[&str] = &[
    MACHTIGING_STATUS,
    MACHTIGING_INBOX,
    OPTIN_REGISTRATIE,
    OPTIN_STATUS,
];

/// The outcome of the verification call.
#[derive(Debug, Clone)]
pub struct Verification {
    pub id: String,
    pub ok: bool,
    pub http_status: Option<u16>,
    pub latency: Duration,
    pub error: Option<String>,
}

/// What the provider asks to register.
#[derive(Debug, Clone)]
pub struct Request {
    pub url: String,
    pub format: String,
    pub ca_bundle: Option<String>,
    pub event_types: Vec<String>,
}

/// Why a registration is refused or cannot be stored: a refusal decided
/// here, a callback URL that fails the SSRF rule (`TKP-001`/`TKP-002`), or
/// the store.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Url(#[from] UrlError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for RegistrationError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

/// Checks a request without storing it; returns the normalised registration.
pub async fn check(
    config: &Config,
    party: &str,
    r: Request,
) -> Result<Registration, RegistrationError> {
    let url = ssrf::parse_url(&r.url)?;
    let format = Format::parse(&r.format).ok_or_else(|| {
        Refusal::new(
            Code::CallbackEventType,
            format!("Formaat '{}' onbekend; kies soap of json.", r.format),
        )
    })?;
    let mut events: Vec<String> = if r.event_types.is_empty() {
        EVENT_TYPES.iter().map(|s| (*s).to_owned()).collect()
    } else {
        r.event_types
    };
    events.sort();
    events.dedup();
    if let Some(bad) = events.iter().find(|e| !EVENT_TYPES.contains(&e.as_str())) {
        return Err(Refusal::new(
            Code::CallbackEventType,
            format!(
                "Gebeurtenis '{bad}' onbekend; mogelijk: {}.",
                EVENT_TYPES.join(", ")
            ),
        )
        .into());
    }
    let ca_bundle = match r.ca_bundle.filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(pem) => {
            match openssl::x509::X509::stack_from_pem(pem.as_bytes()) {
                Ok(certs) if !certs.is_empty() => {}
                _ => {
                    return Err(Refusal::new(
                        Code::CallbackCaBundle,
                        "caBundle bevat geen PEM-certificaten.",
                    )
                    .into());
                }
            }
            Some(pem)
        }
    };
    ssrf::resolve(&url, &config.terugkoppeling.toegestane_netwerken).await?;
    Ok(Registration {
        party: party.to_owned(),
        url: url.to_string(),
        format: format.as_str().to_owned(),
        ca_bundle,
        event_types: events,
    })
}

/// Sends the verification call (`webhook-id` `TKV…`, type
/// `terugkoppeling.verificatie`) to a stored endpoint.
pub async fn verify(config: &Config, e: &Endpoint) -> Verification {
    let mut b = [0u8; 16];
    let _ = openssl::rand::rand_bytes(&mut b);
    let id = format!("TKV{}", hex::encode(b));
    let transport = Transport::from_config(&config.terugkoppeling);
    let at = now();
    let target = Target {
        endpoint_id: e.id,
        url: e.url.clone(),
        format: Format::parse(&e.format).unwrap_or(Format::Json),
        ca_bundle: e.ca_bundle.clone(),
        secrets: e.signing_secrets(at),
        version: e.updated_at,
    };
    let o = transport
        .send(
            &target,
            &Message {
                id: &id,
                created_at: at,
                body: Body::Verificatie { partij: &e.party },
                zorgaanbieder: None,
            },
        )
        .await;
    Verification {
        id,
        ok: o.status.is_some_and(|s| (200..300).contains(&s)),
        http_status: o.status,
        latency: o.latency,
        error: o.error,
    }
}

fn audit_entry<'a>(
    caller: &'a Caller,
    action: &'a str,
    detail: serde_json::Value,
) -> AuditEntry<'a> {
    AuditEntry {
        fingerprint: Some(caller.fingerprint()),
        actor: caller.party().reference.to_string(),
        acting_for: None,
        action,
        object_type: "terugkoppeling_abonnement",
        object_id: Some(caller.party().reference.to_string()),
        outcome: "ok",
        detail,
    }
}

/// Checks, stores and verifies a registration.
pub async fn register(
    db: &Db,
    config: &Config,
    caller: &Caller,
    r: Request,
) -> Result<(Endpoint, Verification), RegistrationError> {
    let party = caller.party().reference.to_string();
    let reg = check(config, &party, r).await?;
    let c2 = caller.clone();
    let endpoint = db
        .run(move |c| -> Result<Endpoint, DbError> {
            let e = endpoints::upsert(c, &reg, now())?;
            let detail = serde_json::json!({ "url": e.url, "formaat": e.format, "gebeurtenissen": e.event_types });
            audit::record(c, &audit_entry(&c2, "terugkoppeling.registreren", detail))?;
            Ok(e)
        })
        .await?;
    let v = verify(config, &endpoint).await;
    Ok((endpoint, v))
}

pub async fn remove(db: &Db, caller: &Caller) -> Result<bool, RegistrationError> {
    let c2 = caller.clone();
    Ok(db
        .run(move |c| -> Result<bool, DbError> {
            let party = c2.party().reference.to_string();
            let removed = endpoints::remove(c, &party, now())?;
            if removed {
                audit::record(
                    c,
                    &audit_entry(&c2, "terugkoppeling.verwijderen", serde_json::json!({})),
                )?;
            }
            Ok(removed)
        })
        .await?)
}

/// Rotates the secret; returns the endpoint and until when the old one signs.
pub async fn rotate(
    db: &Db,
    config: &Config,
    caller: &Caller,
) -> Result<(Endpoint, NaiveDateTime), RegistrationError> {
    let grace = config
        .terugkoppeling
        .timing()
        .map(|t| t.secret_grace)
        .unwrap_or(Duration::from_secs(86_400));
    let at = now();
    let until = at + chrono::TimeDelta::from_std(grace).unwrap_or(chrono::TimeDelta::days(1));
    let c2 = caller.clone();
    let e = db
        .run(move |c| -> Result<Endpoint, DbError> {
            let party = c2.party().reference.to_string();
            let e = endpoints::rotate(c, &party, at, until)?;
            audit::record(
                c,
                &audit_entry(&c2, "terugkoppeling.geheim_roteren", serde_json::json!({})),
            )?;
            Ok(e)
        })
        .await
        .map_err(|e| match e {
            DbError::NotFound => RegistrationError::from(no_subscription()),
            other => other.into(),
        })?;
    Ok((e, until))
}

pub fn no_subscription() -> Refusal {
    Refusal::new(
        Code::SubscriptionMissing,
        "Er is geen actief terugkoppelingsabonnement voor deze partij.",
    )
}
