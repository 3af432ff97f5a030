//! The contact person's commands on its own party: certificates (CSR,
//! revocation), authorizations, consent statements, contact details.

use super::store;
use chrono::NaiveDate;
use serde_json::json;

use crate::audit::{self, AsActor, AuditRecord};
use crate::config::PkiConfig;
use crate::db::{Db, DbConnection, DbError, write_tx};
use crate::error::{Code, Refusal};
use crate::identity::{AuthError, Caller};
use crate::ids::{ConsentId, Requested};
use crate::pki::{Ca, Validity};
use crate::registry::admin::{self, AdminError, IssueRequest, KeySource};
use crate::registry::consent::{self, Verklaring};
use crate::registry::{self, CertKind, Certificate, PartyKind, PartyRef, RegistryError, Scopes};

/// Why a management request fails: a refusal decided here, or the typed
/// error of identity, the registry or the store (`problem` maps each).
#[derive(Debug, thiserror::Error)]
pub enum BeheerError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for BeheerError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

fn not_found() -> BeheerError {
    Refusal::new(Code::NotFound, "Certificaat niet gevonden.").into()
}

/// Every change here is the caller's own, recorded against its party.
fn audit_party(
    conn: &mut DbConnection,
    caller: &Caller,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), DbError> {
    let party = caller.party().reference.to_string();
    audit::ByCaller {
        caller,
        object_type: "partij",
        acting_for: None,
    }
    .record(conn, action, Some(&party), "ok", detail)
}

/// The caller's party, once `gebruikersbeheer` is checked.
fn own_party(caller: &Caller) -> Result<PartyRef, BeheerError> {
    caller.require(registry::Scope::Gebruikersbeheer)?;
    Ok(caller.party().reference.clone())
}

/// A certificate of the caller's own party; another party's is "not found".
fn own_certificate(
    conn: &mut DbConnection,
    party: &PartyRef,
    fingerprint: &str,
) -> Result<Certificate, BeheerError> {
    match registry::store::certificate_by_fingerprint(conn, fingerprint)? {
        Some(c) if &c.party.reference == party => Ok(c),
        _ => Err(not_found()),
    }
}

pub async fn certificates(db: &Db, caller: Caller) -> Result<Vec<Certificate>, BeheerError> {
    let party = own_party(&caller)?;
    db.run(move |conn| Ok(registry::store::list_certificates(conn, Some(&party))?))
        .await
}

/// Grants and withdraws authorizations (indienen implies raadplegen;
/// withdrawing raadplegen withdraws indienen), within the party-kind limits.
pub async fn change_scopes(
    db: &Db,
    caller: Caller,
    fingerprint: String,
    grant: Scopes,
    withdraw: Scopes,
) -> Result<Certificate, BeheerError> {
    let party = own_party(&caller)?;
    db.run(move |conn| {
        let cert = own_certificate(conn, &party, &fingerprint)?;
        let mut after = cert.scopes;
        for s in grant.iter() {
            after.grant(s);
        }
        for s in withdraw.iter() {
            after.withdraw(s);
        }
        // Refused as the change itself would be (`BEH-001`), before it is tried.
        registry::check_scopes(cert.party.kind, cert.kind, after).map_err(AdminError::from)?;
        // Nor may the contact person hand out its own role, or take it away: a
        // contact person who withdrew it from the party's last holder would
        // lock the party out of Gebruikersbeheer until the operator stepped in.
        grantable(cert.party.kind, cert.kind, grant)?;
        if withdraw.contains(registry::Scope::Gebruikersbeheer) {
            return Err(Refusal::new(
                Code::ScopeNotAllowed,
                "De autorisatie 'gebruikersbeheer' trekt alleen de beheerder van het platform in.",
            )
            .into());
        }
        Ok(admin::change_scopes(
            conn,
            &fingerprint,
            grant,
            withdraw,
            &caller.as_actor(),
        )?)
    })
    .await
}

pub async fn set_allowlist(
    db: &Db,
    caller: Caller,
    fingerprint: String,
    list: Vec<String>,
) -> Result<Certificate, BeheerError> {
    let party = own_party(&caller)?;
    let nets = registry::parse_allowlist(&list)?;
    db.run(move |conn| {
        let cert = own_certificate(conn, &party, &fingerprint)?;
        if cert.kind != CertKind::Systeem {
            return Err(Refusal::new(
                Code::BadRequest,
                "Een IP-allowlist hoort bij een systeemcertificaat.",
            )
            .into());
        }
        Ok(admin::set_allowlist(
            conn,
            &fingerprint,
            &nets,
            &caller.as_actor(),
        )?)
    })
    .await
}

/// Revokes a certificate of the party: refused on the very next request. When
/// this instance signs with the platform CA (`pki.csr_signing`), the CRL is
/// republished too; otherwise the revocation is recorded for the offline
/// CA's next `pki crl`. The CA is read only after the caller's party and
/// certificate are checked.
pub async fn revoke(
    db: &Db,
    caller: Caller,
    fingerprint: String,
    pki: PkiConfig,
) -> Result<Certificate, BeheerError> {
    let party = own_party(&caller)?;
    db.run(move |conn| {
        let cert = own_certificate(conn, &party, &fingerprint)?;
        if cert.status == registry::CertStatus::Ingetrokken {
            return Err(
                Refusal::new(Code::AlreadyRevoked, "Het certificaat is al ingetrokken.").into(),
            );
        }
        let signing = if pki.csr_signing {
            Ca::load(&pki.dir).ok()
        } else {
            None
        };
        // Offline CA: only its public certificate, to know whether the
        // revoked certificate belongs on its CRL.
        let issuer = match &signing {
            Some(ca) => Some(ca.subject()),
            None => crate::pki::read_cert(&pki.dir.join("ca.pem"))
                .ok()
                .map(|c| crate::pki::name_to_string(c.subject_name())),
        };
        let on_crl = admin::revoke_for_issuer(
            conn,
            issuer.as_deref(),
            &cert,
            "ingetrokken door contactpersoon",
            &caller.as_actor(),
        )?;
        if let (true, Some(ca)) = (on_crl, &signing) {
            // The registry already refuses it; a stale CRL only delays the TLS
            // layer, so a failed write is logged, not fatal.
            if let Err(e) = admin::publish_crl(conn, ca, &pki.dir.join("ca.crl"), 30) {
                tracing::warn!(error = %e, "CRL not republished after revocation");
            }
        }
        registry::store::certificate_by_fingerprint(conn, &fingerprint)?.ok_or_else(not_found)
    })
    .await
}

/// The platform CA, once the caller is known to be allowed to ask for it:
/// refused with `BEH-006` where signing is off (an offline CA), `BEH-003`
/// when the key cannot be read.
fn signing_ca(pki: &PkiConfig) -> Result<Ca, Refusal> {
    if !pki.csr_signing {
        return Err(Refusal::new(
            Code::CsrSigningDisabled,
            "Deze instantie ondertekent geen certificaataanvragen; de beheerder ondertekent ze \
             met de offline CA (machtigingen pki sign).",
        ));
    }
    Ca::load(&pki.dir).map_err(|e| {
        tracing::warn!(error = %e, "no platform CA for CSR signing");
        Refusal::new(
            Code::CaUnavailable,
            "Deze instantie kan geen certificaten ondertekenen.",
        )
    })
}

/// What the contact person asks for: a certificate for its CSR, of `kind`,
/// for `holder` (a persoonlijk certificate's person), with `scopes`.
#[derive(Debug)]
pub struct CertificateRequest {
    /// PKCS#10, PEM or DER.
    pub csr: Vec<u8>,
    pub kind: CertKind,
    /// The colleague a persoonlijk certificate is for; required for one,
    /// refused for a systeem certificate.
    pub holder: Option<String>,
    pub scopes: Scopes,
    /// A systeem certificate's allowed addresses.
    pub ip_allowlist: Vec<String>,
}

/// A new certificate from the contact person's CSR — systeem (the party's
/// software) or persoonlijk (a colleague, named as `holder`) — signed by the
/// platform CA with a subject the platform builds, registered with the chosen
/// authorizations (within [`grantable`]). Everything is checked before the
/// CA key is read, and that only after `gebruikersbeheer` is checked.
pub async fn request_certificate(
    db: &Db,
    caller: Caller,
    pki: PkiConfig,
    req: CertificateRequest,
) -> Result<(Certificate, String), BeheerError> {
    let party = own_party(&caller)?;
    let nets = registry::parse_allowlist(&req.ip_allowlist)?;
    let holder = match (req.kind, &req.holder) {
        (CertKind::Persoonlijk, Some(name)) => Some(registry::holder_name(name)?),
        (CertKind::Persoonlijk, None) => {
            return Err(Refusal::new(
                Code::BadRequest,
                "Een persoonlijk certificaat heeft een houder: geef 'houder' (naam van de \
                 medewerker).",
            )
            .into());
        }
        (CertKind::Systeem, Some(_)) => {
            return Err(Refusal::new(
                Code::BadRequest,
                "'houder' hoort bij een persoonlijk certificaat, niet bij een systeemcertificaat.",
            )
            .into());
        }
        (CertKind::Systeem, None) => None,
    };
    if req.kind == CertKind::Persoonlijk && !nets.is_empty() {
        return Err(Refusal::new(
            Code::BadRequest,
            "Een IP-allowlist hoort bij een systeemcertificaat.",
        )
        .into());
    }
    grantable(caller.party().kind, req.kind, req.scopes)?;
    let validity_days = pki.cert_validity_days;
    db.run(move |conn| {
        // The key is read here, after the caller's authorization, and only
        // for as long as this signature takes.
        let ca = signing_ca(&pki)?;
        let issued = admin::issue(
            conn,
            &ca,
            IssueRequest {
                party,
                kind: req.kind,
                scopes: req.scopes,
                ip_allowlist: nets,
                key: KeySource::Csr(req.csr),
                // A persoonlijk certificate is named for its holder; a
                // systeem certificate gets the platform's default name.
                common_name: holder,
                validity: Validity::days_from_now(validity_days),
            },
            &caller.as_actor(),
        )?;
        let pem = issued
            .cert
            .to_pem()
            .map(|p| String::from_utf8_lossy(&p).into_owned())
            .map_err(|e| Refusal::internal(format!("PEM: {e}")))?;
        Ok((issued.registered, pem))
    })
    .await
}

/// What a contact person may give a certificate of its party: what the
/// party's kind may hold on that kind of certificate (`registry::check_scopes`),
/// except `gebruikersbeheer`, the contact person's own role, which only the
/// platform operator assigns (`machtigingen beheer contactpersoon`). `BEH-001`
/// otherwise.
pub fn grantable(party: PartyKind, kind: CertKind, scopes: Scopes) -> Result<(), BeheerError> {
    registry::check_scopes(party, kind, scopes).map_err(AdminError::from)?;
    if scopes.contains(registry::Scope::Gebruikersbeheer) {
        return Err(Refusal::new(
            Code::ScopeNotAllowed,
            "De autorisatie 'gebruikersbeheer' hoort bij de contactpersoon; die wijst de \
             beheerder van het platform aan.",
        )
        .into());
    }
    Ok(())
}

pub async fn contact(db: &Db, caller: Caller) -> Result<store::Contact, BeheerError> {
    let party = own_party(&caller)?;
    db.run(move |conn| Ok(store::contact(conn, &party.to_string())?))
        .await
}

pub async fn set_contact(
    db: &Db,
    caller: Caller,
    c: store::Contact,
) -> Result<store::Contact, BeheerError> {
    let party = own_party(&caller)?;
    for e in c.contactpersoon_email.iter().chain(&c.notificatie_emails) {
        if !plausible_email(e) {
            return Err(
                Refusal::new(Code::BadRequest, format!("'{e}' is geen e-mailadres.")).into(),
            );
        }
    }
    db.run(move |conn| {
        write_tx::<_, DbError, _>(conn, |tx| {
            let key = party.to_string();
            let before = store::contact(tx, &key)?;
            store::set_contact(tx, &key, &c)?;
            audit_party(
                tx,
                &caller,
                "partij.contact",
                json!({"voor": before, "na": c}),
            )?;
            Ok(c)
        })
        .map_err(BeheerError::from)
    })
    .await
}

fn plausible_email(e: &str) -> bool {
    let e = e.trim();
    matches!(e.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && e.len() <= 254
        && !e.chars().any(char::is_whitespace)
}

/// The provider's consent for `vendor` (a softwareleverancier) to act for it;
/// with `optin` also for its opt-in registrations.
pub async fn add_consent(
    db: &Db,
    caller: Caller,
    vendor: String,
    geldig_tot: Option<NaiveDate>,
    optin: bool,
) -> Result<Verklaring, BeheerError> {
    let party = own_party(&caller)?;
    if caller.party().kind != PartyKind::Zorgaanbieder {
        return Err(Refusal::new(
            Code::BadRequest,
            "Alleen een zorgaanbieder geeft een toestemmingsverklaring.",
        )
        .into());
    }
    let vendor_ref: PartyRef = vendor.parse()?;
    let id = ConsentId::for_request()?;
    db.run(move |conn| {
        match registry::store::find_party(conn, &vendor_ref) {
            Ok(p) if p.kind == PartyKind::Softwareleverancier => {}
            Ok(_) | Err(RegistryError::UnknownParty(_)) => {
                return Err(Refusal::new(
                    Code::UnknownVendor,
                    format!("{vendor_ref} is geen geregistreerde softwareleverancier."),
                )
                .into());
            }
            Err(e) => return Err(e.into()),
        }
        write_tx::<_, DbError, _>(conn, |tx| {
            let v = consent::add(
                tx,
                &id,
                &party.code,
                &vendor_ref.to_string(),
                geldig_tot,
                optin,
                &party.to_string(),
            )?;
            audit_party(
                tx,
                &caller,
                "toestemmingsverklaring.registreren",
                json!({"id": id, "leverancier": vendor_ref.to_string(), "geldigTot": geldig_tot, "optin": optin}),
            )?;
            Ok(v)
        })
        .map_err(BeheerError::from)
    })
    .await
}

pub async fn consents(db: &Db, caller: Caller) -> Result<Vec<Verklaring>, BeheerError> {
    let party = own_party(&caller)?;
    db.run(move |conn| Ok(consent::of_provider(conn, &party.code)?))
        .await
}

pub async fn revoke_consent(
    db: &Db,
    caller: Caller,
    id: Requested<ConsentId>,
) -> Result<(), BeheerError> {
    let party = own_party(&caller)?;
    db.run(move |conn| {
        write_tx::<_, DbError, _>(conn, |tx| {
            // A malformed id names no statement to revoke.
            let Some(id) = id.valid() else {
                return Ok(false);
            };
            if !consent::revoke(tx, &party.code, id)? {
                return Ok(false);
            }
            audit_party(
                tx,
                &caller,
                "toestemmingsverklaring.intrekken",
                json!({"id": id}),
            )?;
            Ok(true)
        })
        .map_err(BeheerError::from)?
        .then_some(())
        .ok_or_else(|| Refusal::new(Code::NotFound, "Toestemmingsverklaring niet gevonden.").into())
    })
    .await
}

/// The party's change history: its own changes and those to its certificates.
pub async fn history(db: &Db, caller: Caller) -> Result<Vec<AuditRecord>, BeheerError> {
    let party = own_party(&caller)?;
    db.run(move |conn| {
        let fingerprints: Vec<String> = registry::store::list_certificates(conn, Some(&party))?
            .into_iter()
            .map(|c| c.fingerprint)
            .collect();
        Ok(audit::for_party(conn, &party.to_string(), &fingerprints)?)
    })
    .await
}
