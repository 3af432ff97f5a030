//! Every conversion into a [`Problem`]: the one table of which failure the
//! caller sees as which code. A domain's own refusals ([`Refusal`]) pass
//! through unchanged; store failures and the typed errors of identity, the
//! registry, the catalog and gebruikersbeheer are given their code here, and
//! each domain's error enum is taken apart into those.
//! What the caller cannot act on is logged here and answered as `SYS-001`.

use super::{Code, Problem};
use crate::beheer::BeheerError;
use crate::beoordeling::BeoordelingError;
use crate::catalog::CatalogError;
use crate::db::DbError;
use crate::dispatch::registration::RegistrationError;
use crate::dispatch::ssrf::UrlError;
use crate::error::Refusal;
use crate::identity::AuthError;
use crate::machtiging::MachtigingError;
use crate::optin::OptinError;
use crate::pki::PkiError;
use crate::registry::RegistryError;
use crate::registry::admin::AdminError;

impl From<Refusal> for Problem {
    fn from(r: Refusal) -> Self {
        Problem::with_findings(r.code, r.detail, r.findings)
    }
}

impl From<DbError> for Problem {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => Problem::new(Code::NotFound, "Niet gevonden."),
            DbError::Unavailable(reason) => {
                tracing::warn!(%reason, "database unavailable");
                Problem::new(
                    Code::Unavailable,
                    "De database is tijdelijk niet bereikbaar; probeer het later opnieuw.",
                )
            }
            other => {
                tracing::error!(error = %other, "database error");
                Problem::internal("Interne fout.")
            }
        }
    }
}

impl From<AuthError> for Problem {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::NoCertificate => Problem::new(
                Code::CertificateMissing,
                "Er is geen clientcertificaat aangeboden.",
            ),
            AuthError::Unknown => Problem::new(
                Code::CertificateUnknown,
                "Het certificaat is niet geregistreerd bij een partij.",
            ),
            AuthError::Revoked => {
                Problem::new(Code::CertificateRevoked, "Het certificaat is ingetrokken.")
            }
            AuthError::PartyDeactivated => Problem::new(
                Code::PartyDeactivated,
                "De partij van dit certificaat is gedeactiveerd door de beheerder van het \
                 platform; alle certificaten van de partij worden geweigerd.",
            ),
            AuthError::Expired => Problem::new(
                Code::CertificateExpired,
                "Het certificaat is op dit moment niet geldig.",
            ),
            AuthError::ScopeMissing(scope) => Problem::new(
                Code::ScopeMissing,
                format!("Het certificaat mist de autorisatie '{scope}' voor deze dienst."),
            ),
            AuthError::AddressNotAllowed => Problem::new(
                Code::AddressNotAllowed,
                "Het certificaat mag niet vanaf dit IP-adres worden gebruikt.",
            ),
            AuthError::Db(db) => db.into(),
        }
    }
}

/// A registry rule a request broke (an identifier, an allow-list entry) is
/// the caller's to fix; an unknown party or certificate is "not found".
impl From<RegistryError> for Problem {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Db(db) => db.into(),
            RegistryError::UnknownParty(_) | RegistryError::UnknownCertificate(_) => {
                Problem::new(Code::NotFound, e.to_string())
            }
            other => Problem::new(Code::BadRequest, other.to_string()),
        }
    }
}

/// A change to a certificate by its party's contact person (gebruikersbeheer).
impl From<AdminError> for Problem {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Registry(RegistryError::ScopeNotAllowed { .. }) => {
                Problem::new(Code::ScopeNotAllowed, e.to_string())
            }
            AdminError::Registry(RegistryError::UnknownCertificate(_)) => {
                Problem::new(Code::NotFound, "Certificaat niet gevonden.")
            }
            AdminError::Registry(r) => r.into(),
            AdminError::Pki(PkiError::WeakKey(m) | PkiError::Invalid(m)) => {
                Problem::new(Code::CsrRefused, m)
            }
            AdminError::Pki(p) => {
                tracing::error!(error = %p, "certificate issuing failed");
                Problem::internal("Interne fout bij het ondertekenen.")
            }
        }
    }
}

impl From<CatalogError> for Problem {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Db(db) => db.into(),
            CatalogError::Invalid(m) => Problem::new(Code::BadRequest, m),
        }
    }
}

impl From<BeheerError> for Problem {
    fn from(e: BeheerError) -> Self {
        match e {
            BeheerError::Refused(r) => r.into(),
            BeheerError::Auth(a) => a.into(),
            BeheerError::Admin(a) => a.into(),
            BeheerError::Registry(r) => r.into(),
            BeheerError::Db(db) => db.into(),
        }
    }
}

/// A callback URL of the wrong form is `TKP-001`; one whose host is internal
/// or does not resolve, `TKP-002`.
impl From<UrlError> for Problem {
    fn from(e: UrlError) -> Self {
        match e {
            UrlError::Forbidden { .. } | UrlError::Unresolvable(_) => {
                Problem::new(Code::CallbackAddress, e.to_string())
            }
            other => Problem::new(Code::CallbackUrl, other.to_string()),
        }
    }
}

impl From<MachtigingError> for Problem {
    fn from(e: MachtigingError) -> Self {
        match e {
            MachtigingError::Refused(r) => r.into(),
            MachtigingError::Auth(a) => a.into(),
            MachtigingError::Registry(r) => r.into(),
            MachtigingError::Catalog(c) => c.into(),
            MachtigingError::Db(db) => db.into(),
        }
    }
}

impl From<OptinError> for Problem {
    fn from(e: OptinError) -> Self {
        match e {
            OptinError::Refused(r) => r.into(),
            OptinError::Auth(a) => a.into(),
            OptinError::Db(db) => db.into(),
        }
    }
}

impl From<BeoordelingError> for Problem {
    fn from(e: BeoordelingError) -> Self {
        match e {
            BeoordelingError::Refused(r) => r.into(),
            BeoordelingError::Auth(a) => a.into(),
            BeoordelingError::Catalog(c) => c.into(),
            BeoordelingError::Db(db) => db.into(),
        }
    }
}

impl From<RegistrationError> for Problem {
    fn from(e: RegistrationError) -> Self {
        match e {
            RegistrationError::Refused(r) => r.into(),
            RegistrationError::Url(u) => u.into(),
            RegistrationError::Db(db) => db.into(),
        }
    }
}
