//! Registry administration shared by the operator CLI and the contact person's
//! management API: issuing (or CSR-signing) and registering certificates,
//! revoking them with a fresh CRL, changing authorizations — each change audited
//! in the same transaction.

use std::path::Path;

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use serde_json::json;

use super::store::{self, NewCertificate};
use super::{CertKind, CertStatus, Certificate, Party, PartyRef, RegistryError, Scopes};
use crate::audit::{self, Actor, AuditEntry};
use crate::config::KeyType;
use crate::db::{DbConnection, DbError, write_tx};
use crate::pki::{self, Ca, CertInfo, ClientSubject, PkiError, Validity};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Pki(#[from] PkiError),
}

impl From<DbError> for AdminError {
    fn from(e: DbError) -> Self {
        Self::Registry(e.into())
    }
}

impl From<diesel::result::Error> for AdminError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Registry(DbError::from(e).into())
    }
}

fn audit_change(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    object_id: &str,
    detail: serde_json::Value,
) -> Result<(), AdminError> {
    audit_object(conn, actor, action, "certificaat", object_id, detail)
}

fn audit_object(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    object_type: &str,
    object_id: &str,
    detail: serde_json::Value,
) -> Result<(), AdminError> {
    audit::record(
        conn,
        &AuditEntry {
            fingerprint: actor.fingerprint.as_deref(),
            actor: actor.name.clone(),
            acting_for: None,
            action,
            object_type,
            object_id: Some(object_id.to_owned()),
            outcome: "ok",
            detail,
        },
    )?;
    Ok(())
}

/// Where the key of a new certificate comes from.
#[derive(Debug)]
pub enum KeySource {
    /// Generate a key pair here; the private key is returned once.
    Generate(KeyType),
    /// Sign this CSR (PEM or DER); the platform never sees the private key.
    Csr(Vec<u8>),
}

#[derive(Debug)]
pub struct IssueRequest {
    pub party: PartyRef,
    pub kind: CertKind,
    pub scopes: Scopes,
    pub ip_allowlist: Vec<ipnet::IpNet>,
    pub key: KeySource,
    pub common_name: Option<String>,
    pub validity: Validity,
}

#[derive(Debug)]
pub struct Issued {
    pub cert: X509,
    pub key: Option<PKey<Private>>,
    pub registered: Certificate,
}

/// Issues a client certificate from `ca` for the party and registers it with
/// the requested authorizations, atomically: the registry rules are checked
/// before anything is signed, so a refused request leaves no orphan.
pub fn issue(
    conn: &mut DbConnection,
    ca: &Ca,
    req: IssueRequest,
    actor: &Actor,
) -> Result<Issued, AdminError> {
    let party = store::find_party(conn, &req.party)?;
    super::check_scopes(party.kind, req.kind, req.scopes)?;
    let subject = ClientSubject {
        common_name: req
            .common_name
            .clone()
            .unwrap_or_else(|| format!("{} {}", party.name, req.kind.as_str())),
        organization: party.name.clone(),
        organizational_unit: party.reference.to_string(),
    };
    let (cert, key) = match &req.key {
        KeySource::Generate(kind) => {
            let key = pki::generate_key(*kind)?;
            (ca.issue_client(&subject, &key, req.validity)?, Some(key))
        }
        KeySource::Csr(csr) => (ca.sign_csr(csr, &subject, req.validity)?, None),
    };
    // A persoonlijk certificate's common name is its holder's name.
    let holder = match req.kind {
        CertKind::Persoonlijk => req.common_name,
        CertKind::Systeem => None,
    };
    let registered = register_new(
        conn,
        NewCertificate {
            party: req.party,
            kind: req.kind,
            info: CertInfo::from_x509(&cert)?,
            pem: pem_of(&cert)?,
            scopes: req.scopes,
            ip_allowlist: req.ip_allowlist,
            holder,
        },
        actor,
    )?;
    Ok(Issued {
        cert,
        key,
        registered,
    })
}

/// Registers an existing certificate (e.g. from another CA) to a party.
pub fn register(
    conn: &mut DbConnection,
    cert: &X509,
    party: PartyRef,
    kind: CertKind,
    scopes: Scopes,
    ip_allowlist: Vec<ipnet::IpNet>,
    actor: &Actor,
) -> Result<Certificate, AdminError> {
    let new = NewCertificate {
        party,
        kind,
        info: CertInfo::from_x509(cert)?,
        pem: pem_of(cert)?,
        scopes,
        ip_allowlist,
        holder: None,
    };
    register_new(conn, new, actor)
}

fn pem_of(cert: &X509) -> Result<String, AdminError> {
    Ok(String::from_utf8_lossy(&cert.to_pem().map_err(PkiError::from)?).into_owned())
}

fn register_new(
    conn: &mut DbConnection,
    new: NewCertificate,
    actor: &Actor,
) -> Result<Certificate, AdminError> {
    write_tx(conn, |c| {
        let registered = store::register_certificate(c, &new)?;
        audit_change(
            c,
            actor,
            "certificaat.registreren",
            &registered.fingerprint,
            json!({
                "partij": registered.party.reference.to_string(),
                "soort": registered.kind.as_str(),
                "autorisaties": registered.scopes,
                "serienummer": registered.serial,
                "houder": registered.holder,
            }),
        )?;
        Ok(registered)
    })
}

/// Changes authorizations; returns the certificate after the change.
pub fn change_scopes(
    conn: &mut DbConnection,
    fingerprint: &str,
    grant: Scopes,
    withdraw: Scopes,
    actor: &Actor,
) -> Result<Certificate, AdminError> {
    write_tx(conn, |c| {
        let (before, after) = store::update_scopes(c, fingerprint, |s| {
            for scope in grant.iter() {
                s.grant(scope);
            }
            for scope in withdraw.iter() {
                s.withdraw(scope);
            }
        })?;
        audit_change(
            c,
            actor,
            "certificaat.autorisaties",
            fingerprint,
            json!({"voor": before.scopes, "na": after.scopes}),
        )?;
        Ok(after)
    })
}

pub fn set_allowlist(
    conn: &mut DbConnection,
    fingerprint: &str,
    list: &[ipnet::IpNet],
    actor: &Actor,
) -> Result<Certificate, AdminError> {
    write_tx(conn, |c| {
        let (before, after) = store::set_allowlist(c, fingerprint, list)?;
        let show = |l: &[ipnet::IpNet]| l.iter().map(ToString::to_string).collect::<Vec<_>>();
        audit_change(
            c,
            actor,
            "certificaat.ip-allowlist",
            fingerprint,
            json!({"voor": show(&before.ip_allowlist), "na": show(&after.ip_allowlist)}),
        )?;
        Ok(after)
    })
}

/// Revokes a certificate in the registry (effective on the next request) and,
/// when `ca` issued it, records it for the CRL. Returns whether the CRL of
/// `ca` changed and must be republished with [`publish_crl`].
pub fn revoke(
    conn: &mut DbConnection,
    ca: Option<&Ca>,
    cert: &Certificate,
    reason: &str,
    actor: &Actor,
) -> Result<bool, AdminError> {
    revoke_for_issuer(conn, ca.map(Ca::subject).as_deref(), cert, reason, actor)
}

/// [`revoke`] knowing only the platform CA's subject (an offline CA: its
/// certificate is public, its key elsewhere): the entry is recorded for the
/// next CRL all the same.
pub fn revoke_for_issuer(
    conn: &mut DbConnection,
    ca_subject: Option<&str>,
    cert: &Certificate,
    reason: &str,
    actor: &Actor,
) -> Result<bool, AdminError> {
    write_tx(conn, |c| {
        store::revoke_certificate(c, &cert.fingerprint)?;
        let ours = ca_subject.is_some_and(|s| s == cert.issuer);
        if ours {
            store::add_crl_entry(c, &cert.issuer, &cert.serial, reason)?;
        }
        audit_change(
            c,
            actor,
            "certificaat.intrekken",
            &cert.fingerprint,
            json!({"reden": reason, "opCrl": ours}),
        )?;
        Ok(ours)
    })
}

/// Deactivates (`active = false`) or reactivates a party, audited as a change
/// of the party (`partij.deactiveren` / `partij.heractiveren`). Nothing else
/// changes: no certificate is revoked or loses an authorization, so every one
/// is refused from the next request on while the party is deactivated
/// (identity checks the party with the certificate), and accepted again as
/// it was once the party is reactivated. What the rest of the platform holds
/// back meanwhile (callbacks) is the caller's to do in the same transaction.
pub fn set_party_active(
    conn: &mut DbConnection,
    party: &PartyRef,
    active: bool,
    reason: Option<&str>,
    actor: &Actor,
) -> Result<Party, AdminError> {
    write_tx(conn, |c| {
        let after = store::set_party_active(c, party, active)?;
        let certificates = store::list_certificates(c, Some(party))?
            .iter()
            .filter(|cert| cert.status == CertStatus::Actief)
            .count();
        let action = if active {
            "partij.heractiveren"
        } else {
            "partij.deactiveren"
        };
        audit_object(
            c,
            actor,
            action,
            "partij",
            &party.to_string(),
            json!({"reden": reason, "actieveCertificaten": certificates}),
        )?;
        Ok(after)
    })
}

/// Writes the CRL of `ca` listing every revocation recorded for it.
pub fn publish_crl(
    conn: &mut DbConnection,
    ca: &Ca,
    path: &Path,
    days: u32,
) -> Result<usize, AdminError> {
    let entries = store::crl_entries(conn, &ca.subject())?;
    let revoked: Vec<_> = entries
        .into_iter()
        .map(|(serial_hex, at)| pki::crl::Revoked {
            serial_hex,
            revoked_at: at.and_utc().timestamp(),
        })
        .collect();
    let crl = ca.crl(&revoked, days)?;
    // Write beside and rename, so the reloader never reads half a file.
    let tmp = path.with_extension("crl.tmp");
    pki::write_file(&tmp, &crl.to_pem().map_err(PkiError::from)?, false)?;
    std::fs::rename(&tmp, path).map_err(|source| PkiError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(revoked.len())
}
