//! Persistence of the registry (parties, certificates, CRL entries). Row structs
//! stay in this file; callers get the domain types of [`super`].

use diesel::prelude::*;
use ipnet::IpNet;

use super::{
    CertKind, CertStatus, Certificate, IdScheme, Party, PartyKind, PartyRef, RegistryError, Scopes,
    check_scopes,
};
use crate::db::schema::{certificates, crl_entries, parties};
use crate::db::{DbConnection, DbError, now, write_tx};
use crate::pki::CertInfo;

type Result<T> = std::result::Result<T, RegistryError>;

#[derive(Queryable, Selectable)]
#[diesel(table_name = parties)]
struct PartyRow {
    id: i64,
    kind: String,
    id_scheme: String,
    code: String,
    name: String,
    deactivated_at: Option<chrono::NaiveDateTime>,
}

impl TryFrom<PartyRow> for Party {
    type Error = RegistryError;
    fn try_from(r: PartyRow) -> Result<Self> {
        let kind: PartyKind = r.kind.parse()?;
        let scheme: IdScheme = r.id_scheme.parse()?;
        Ok(Party {
            id: r.id,
            kind,
            reference: PartyRef {
                scheme,
                code: r.code,
            },
            name: r.name,
            deactivated_at: r.deactivated_at,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = certificates)]
struct CertRow {
    id: i64,
    kind: String,
    fingerprint: String,
    serial: String,
    issuer: String,
    subject: String,
    holder: Option<String>,
    not_before: chrono::NaiveDateTime,
    not_after: chrono::NaiveDateTime,
    status: String,
    scopes: String,
    ip_allowlist: String,
}

fn to_certificate(row: CertRow, party: PartyRow) -> Result<Certificate> {
    let party = Party::try_from(party)?;
    let allow: Vec<&str> = row.ip_allowlist.split_whitespace().collect();
    Ok(Certificate {
        id: row.id,
        party,
        kind: row.kind.parse()?,
        fingerprint: row.fingerprint,
        serial: row.serial,
        issuer: row.issuer,
        subject: row.subject,
        holder: row.holder,
        not_before: row.not_before,
        not_after: row.not_after,
        status: if row.status == CertStatus::Ingetrokken.as_str() {
            CertStatus::Ingetrokken
        } else {
            CertStatus::Actief
        },
        scopes: Scopes::from_db(&row.scopes)?,
        ip_allowlist: super::parse_allowlist(&allow)?,
    })
}

fn allowlist_to_db(list: &[IpNet]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn add_party(
    conn: &mut DbConnection,
    kind: PartyKind,
    reference: &PartyRef,
    name: &str,
) -> Result<Party> {
    if kind.scheme() != reference.scheme {
        return Err(RegistryError::Invalid(format!(
            "a {} is identified by {}, not {}",
            kind.as_str(),
            kind.scheme().as_str(),
            reference.scheme.as_str()
        )));
    }
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(RegistryError::Invalid(
            "a party name is 1-200 characters".into(),
        ));
    }
    write_tx(conn, |c| {
        diesel::insert_into(parties::table)
            .values((
                parties::kind.eq(kind.as_str()),
                parties::id_scheme.eq(reference.scheme.as_str()),
                parties::code.eq(&reference.code),
                parties::name.eq(name),
                parties::created_at.eq(now()),
            ))
            .execute(c)
            .map_err(|e| match DbError::from(e) {
                DbError::Conflict(_) => RegistryError::DuplicateParty(reference.to_string()),
                other => other.into(),
            })?;
        find_party(c, reference)
    })
}

pub fn find_party(conn: &mut DbConnection, reference: &PartyRef) -> Result<Party> {
    parties::table
        .filter(parties::id_scheme.eq(reference.scheme.as_str()))
        .filter(parties::code.eq(&reference.code))
        .select(PartyRow::as_select())
        .first(conn)
        .optional()
        .map_err(DbError::from)?
        .ok_or_else(|| RegistryError::UnknownParty(reference.to_string()))?
        .try_into()
}

pub fn list_parties(conn: &mut DbConnection) -> Result<Vec<Party>> {
    parties::table
        .order(parties::id)
        .select(PartyRow::as_select())
        .load(conn)
        .map_err(DbError::from)?
        .into_iter()
        .map(Party::try_from)
        .collect()
}

/// Everything needed to register one certificate.
#[derive(Debug, Clone)]
pub struct NewCertificate {
    pub party: PartyRef,
    pub kind: CertKind,
    pub info: CertInfo,
    pub pem: String,
    pub scopes: Scopes,
    pub ip_allowlist: Vec<IpNet>,
    /// The person holding a persoonlijk certificate.
    pub holder: Option<String>,
}

pub fn register_certificate(conn: &mut DbConnection, new: &NewCertificate) -> Result<Certificate> {
    write_tx(conn, |c| {
        let party = find_party(c, &new.party)?;
        check_scopes(party.kind, new.kind, new.scopes)?;
        if new.kind == CertKind::Persoonlijk && !new.ip_allowlist.is_empty() {
            return Err(RegistryError::Invalid(
                "an IP allow-list applies to systeem certificates only".into(),
            ));
        }
        diesel::insert_into(certificates::table)
            .values((
                certificates::party_id.eq(party.id),
                certificates::kind.eq(new.kind.as_str()),
                certificates::fingerprint.eq(&new.info.fingerprint),
                certificates::serial.eq(&new.info.serial),
                certificates::issuer.eq(&new.info.issuer),
                certificates::subject.eq(&new.info.subject),
                certificates::not_before.eq(new.info.not_before),
                certificates::not_after.eq(new.info.not_after),
                certificates::status.eq(CertStatus::Actief.as_str()),
                certificates::scopes.eq(new.scopes.to_db()),
                certificates::ip_allowlist.eq(allowlist_to_db(&new.ip_allowlist)),
                certificates::pem.eq(&new.pem),
                certificates::holder.eq(&new.holder),
                certificates::created_at.eq(now()),
            ))
            .execute(c)
            .map_err(|e| match DbError::from(e) {
                DbError::Conflict(_) => {
                    RegistryError::DuplicateCertificate(new.info.fingerprint.clone())
                }
                other => other.into(),
            })?;
        certificate_by_fingerprint(c, &new.info.fingerprint)?
            .ok_or_else(|| RegistryError::UnknownCertificate(new.info.fingerprint.clone()))
    })
}

/// The identity lookup made on every request: one indexed read joining the party.
pub fn certificate_by_fingerprint(
    conn: &mut DbConnection,
    fingerprint: &str,
) -> Result<Option<Certificate>> {
    let row = certificates::table
        .inner_join(parties::table)
        .filter(certificates::fingerprint.eq(fingerprint))
        .select((CertRow::as_select(), PartyRow::as_select()))
        .first::<(CertRow, PartyRow)>(conn)
        .optional()
        .map_err(DbError::from)?;
    row.map(|(c, p)| to_certificate(c, p)).transpose()
}

pub fn list_certificates(
    conn: &mut DbConnection,
    party: Option<&PartyRef>,
) -> Result<Vec<Certificate>> {
    let mut q = certificates::table
        .inner_join(parties::table)
        .select((CertRow::as_select(), PartyRow::as_select()))
        .order(certificates::id)
        .into_boxed();
    if let Some(p) = party {
        q = q
            .filter(parties::id_scheme.eq(p.scheme.as_str()))
            .filter(parties::code.eq(p.code.clone()));
    }
    q.load::<(CertRow, PartyRow)>(conn)
        .map_err(DbError::from)?
        .into_iter()
        .map(|(c, p)| to_certificate(c, p))
        .collect()
}

fn require(conn: &mut DbConnection, fingerprint: &str) -> Result<Certificate> {
    certificate_by_fingerprint(conn, fingerprint)?
        .ok_or_else(|| RegistryError::UnknownCertificate(fingerprint.to_owned()))
}

/// Changes a certificate's authorizations through `change`, enforcing the
/// party-kind limits; returns the certificate before and after.
pub fn update_scopes(
    conn: &mut DbConnection,
    fingerprint: &str,
    change: impl FnOnce(&mut Scopes),
) -> Result<(Certificate, Certificate)> {
    write_tx(conn, |c| {
        let before = require(c, fingerprint)?;
        let mut scopes = before.scopes;
        change(&mut scopes);
        check_scopes(before.party.kind, before.kind, scopes)?;
        diesel::update(certificates::table.filter(certificates::id.eq(before.id)))
            .set(certificates::scopes.eq(scopes.to_db()))
            .execute(c)
            .map_err(DbError::from)?;
        let after = require(c, fingerprint)?;
        Ok((before, after))
    })
}

pub fn set_allowlist(
    conn: &mut DbConnection,
    fingerprint: &str,
    list: &[IpNet],
) -> Result<(Certificate, Certificate)> {
    write_tx(conn, |c| {
        let before = require(c, fingerprint)?;
        if before.kind == CertKind::Persoonlijk && !list.is_empty() {
            return Err(RegistryError::Invalid(
                "an IP allow-list applies to systeem certificates only".into(),
            ));
        }
        diesel::update(certificates::table.filter(certificates::id.eq(before.id)))
            .set(certificates::ip_allowlist.eq(allowlist_to_db(list)))
            .execute(c)
            .map_err(DbError::from)?;
        let after = require(c, fingerprint)?;
        Ok((before, after))
    })
}

/// Marks a certificate revoked in the registry: refused from the next request on.
pub fn revoke_certificate(conn: &mut DbConnection, fingerprint: &str) -> Result<Certificate> {
    write_tx(conn, |c| {
        let cert = require(c, fingerprint)?;
        diesel::update(certificates::table.filter(certificates::id.eq(cert.id)))
            .set((
                certificates::status.eq(CertStatus::Ingetrokken.as_str()),
                certificates::revoked_at.eq(Some(now())),
            ))
            .execute(c)
            .map_err(DbError::from)?;
        require(c, fingerprint)
    })
}

/// Deactivates (`active = false`) or reactivates a party; refuses a change
/// to the state it is already in. Returns the party after the change.
pub fn set_party_active(
    conn: &mut DbConnection,
    reference: &PartyRef,
    active: bool,
) -> Result<Party> {
    write_tx(conn, |c| {
        let party = find_party(c, reference)?;
        if party.is_active() == active {
            let state = if active { "active" } else { "deactivated" };
            return Err(RegistryError::PartyStatus(reference.to_string(), state));
        }
        let at = (!active).then(now);
        diesel::update(parties::table.filter(parties::id.eq(party.id)))
            .set(parties::deactivated_at.eq(at))
            .execute(c)
            .map_err(DbError::from)?;
        find_party(c, reference)
    })
}

/// Records a serial of `issuer` for the CRL; recording it twice is harmless.
pub fn add_crl_entry(
    conn: &mut DbConnection,
    issuer: &str,
    serial: &str,
    reason: &str,
) -> Result<()> {
    let exists = crl_entries::table
        .filter(crl_entries::issuer.eq(issuer))
        .filter(crl_entries::serial.eq(serial))
        .count()
        .get_result::<i64>(conn)
        .map_err(DbError::from)?
        > 0;
    if !exists {
        diesel::insert_into(crl_entries::table)
            .values((
                crl_entries::issuer.eq(issuer),
                crl_entries::serial.eq(serial),
                crl_entries::revoked_at.eq(now()),
                crl_entries::reason.eq(reason),
            ))
            .execute(conn)
            .map_err(DbError::from)?;
    }
    Ok(())
}

/// `(serial, revoked_at)` of every revoked certificate of `issuer`.
pub fn crl_entries(
    conn: &mut DbConnection,
    issuer: &str,
) -> Result<Vec<(String, chrono::NaiveDateTime)>> {
    Ok(crl_entries::table
        .filter(crl_entries::issuer.eq(issuer))
        .order(crl_entries::revoked_at)
        .select((crl_entries::serial, crl_entries::revoked_at))
        .load(conn)
        .map_err(DbError::from)?)
}
