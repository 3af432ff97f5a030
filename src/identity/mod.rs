//! Identity: from the verified TLS peer certificate to a [`Caller`] — the party
//! and the authorizations of this request — or a refusal with a documented
//! code. Chain, validity and CRL are already checked in the TLS handshake
//! (`tls`); here the registry decides whether the certificate is *known* (not
//! authenticated otherwise) and *allowed* (not authorized otherwise).

use std::net::IpAddr;

use chrono::Utc;

use crate::audit::{Actor, AsActor};
use crate::db::{Db, DbError};
use crate::metrics;
use crate::registry::{CertStatus, Certificate, Party, PartyKind, Scope, consent, store};

/// What the TLS layer learned about a connection: captured once per
/// connection and attached to each of its requests.
#[derive(Debug, Clone)]
pub struct PeerIdentity {
    /// SHA-256 fingerprint of the verified client certificate.
    pub fingerprint: Option<String>,
    pub addr: Option<IpAddr>,
}

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub certificate: Certificate,
    pub addr: IpAddr,
    /// For a software vendor: the AGB-codes of providers whose valid consent
    /// statement (toestemmingsverklaring) lets it act for them, read with the
    /// certificate so a withdrawn statement applies to the next request.
    pub consented_agbs: Vec<String>,
    /// Of those, the providers whose statement also covers their opt-in
    /// registrations.
    pub consented_optin_agbs: Vec<String>,
}

impl Caller {
    pub fn party(&self) -> &Party {
        &self.certificate.party
    }

    pub fn fingerprint(&self) -> &str {
        &self.certificate.fingerprint
    }

    /// Refuses with `AUTZ-001` unless the certificate holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), AuthError> {
        if self.certificate.scopes.contains(scope) {
            Ok(())
        } else {
            let err = AuthError::ScopeMissing(scope);
            log_refusal(Some(self.fingerprint()), &err);
            Err(err)
        }
    }
}

/// The audit log records a caller by its certificate and party.
impl AsActor for Caller {
    fn as_actor(&self) -> Actor {
        Actor {
            fingerprint: Some(self.fingerprint().to_owned()),
            name: self.party().reference.to_string(),
        }
    }
}

/// Why a request is not authenticated or not authorized; `problem` gives
/// each its `AUTH-*`/`AUTZ-*` code.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no client certificate")]
    NoCertificate,
    #[error("certificate not registered")]
    Unknown,
    #[error("certificate revoked")]
    Revoked,
    #[error("party deactivated")]
    PartyDeactivated,
    #[error("certificate outside its validity period")]
    Expired,
    #[error("authorization {0} missing")]
    ScopeMissing(Scope),
    #[error("address not on the certificate's allow-list")]
    AddressNotAllowed,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl AuthError {
    /// Short label for logs and the `auth_refusals_total{reason}` metric.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NoCertificate => "no_certificate",
            Self::Unknown => "unknown",
            Self::Revoked => "revoked",
            Self::PartyDeactivated => "party_deactivated",
            Self::Expired => "expired",
            Self::ScopeMissing(_) => "scope_missing",
            Self::AddressNotAllowed => "address_not_allowed",
            Self::Db(_) => "database",
        }
    }
}

/// Logs a refusal (fingerprint and reason only) and counts it.
fn log_refusal(fingerprint: Option<&str>, err: &AuthError) {
    metrics::auth_refusal(err.reason());
    tracing::warn!(
        fingerprint = fingerprint.unwrap_or("-"),
        reason = err.reason(),
        "request refused"
    );
}

/// Checks a registered certificate against status, its party's status,
/// validity and allow-list. A deactivated party is checked here, with the
/// certificate read on every request, so deactivation refuses every
/// certificate of the party from the next request on, on every instance —
/// there is no cached identity to invalidate.
pub fn check(cert: &Certificate, addr: IpAddr) -> Result<(), AuthError> {
    if cert.status == CertStatus::Ingetrokken {
        return Err(AuthError::Revoked);
    }
    if !cert.party.is_active() {
        return Err(AuthError::PartyDeactivated);
    }
    let now = Utc::now().naive_utc();
    if now < cert.not_before || now > cert.not_after {
        return Err(AuthError::Expired);
    }
    let addr = canonical(addr);
    if !cert.ip_allowlist.is_empty() && !cert.ip_allowlist.iter().any(|net| net.contains(&addr)) {
        return Err(AuthError::AddressNotAllowed);
    }
    Ok(())
}

/// IPv4 clients on a dual-stack socket arrive as `::ffff:a.b.c.d`; allow-lists
/// are written in IPv4.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
        v4 => v4,
    }
}

/// Resolves the peer to a caller, reading the registry on every request so a
/// revocation or authorization change applies to the very next request.
pub async fn authenticate(db: &Db, peer: Option<&PeerIdentity>) -> Result<Caller, AuthError> {
    let result = resolve(db, peer).await;
    if let Err(e) = &result {
        log_refusal(peer.and_then(|p| p.fingerprint.as_deref()), e);
    }
    result
}

async fn resolve(db: &Db, peer: Option<&PeerIdentity>) -> Result<Caller, AuthError> {
    let peer = peer.ok_or(AuthError::NoCertificate)?;
    let fingerprint = peer.fingerprint.clone().ok_or(AuthError::NoCertificate)?;
    let addr = peer.addr.ok_or(AuthError::NoCertificate)?;
    let found = db
        .run(move |c| {
            let cert = store::certificate_by_fingerprint(c, &fingerprint).map_err(|e| match e {
                crate::registry::RegistryError::Db(db) => db,
                other => DbError::Invalid(other.to_string()),
            })?;
            let consented = match &cert {
                Some(cert) if cert.party.kind == PartyKind::Softwareleverancier => {
                    consent::consented_agbs(
                        c,
                        &cert.party.reference.to_string(),
                        chrono::Utc::now().date_naive(),
                    )?
                }
                _ => consent::Consented::default(),
            };
            Ok::<_, DbError>(cert.map(|cert| (cert, consented)))
        })
        .await?;
    let (cert, consented) = found.ok_or(AuthError::Unknown)?;
    check(&cert, addr)?;
    Ok(Caller {
        certificate: cert,
        addr,
        consented_agbs: consented.agbs,
        consented_optin_agbs: consented.optin_agbs,
    })
}
