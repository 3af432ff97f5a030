//! The registry's model: parties, certificates, authorizations and the rules
//! between them (identifier formats, which party kind may hold which
//! authorization, indienen ⇒ raadplegen). Pure: no diesel.

use std::fmt;
use std::str::FromStr;

use ipnet::IpNet;
use serde::Serialize;

/// What kind of organisation a party is. Wire names are the Dutch domain words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PartyKind {
    Zorgaanbieder,
    Zorgverzekeraar,
    Zorgkantoor,
    Softwareleverancier,
    Patientportaal,
}

impl PartyKind {
    pub const ALL: [PartyKind; 5] = [
        Self::Zorgaanbieder,
        Self::Zorgverzekeraar,
        Self::Zorgkantoor,
        Self::Softwareleverancier,
        Self::Patientportaal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zorgaanbieder => "zorgaanbieder",
            Self::Zorgverzekeraar => "zorgverzekeraar",
            Self::Zorgkantoor => "zorgkantoor",
            Self::Softwareleverancier => "softwareleverancier",
            Self::Patientportaal => "patientportaal",
        }
    }

    /// The identifier scheme a party of this kind is known by.
    pub fn scheme(self) -> IdScheme {
        match self {
            Self::Zorgaanbieder => IdScheme::Agb,
            Self::Zorgverzekeraar | Self::Zorgkantoor => IdScheme::Uzovi,
            Self::Softwareleverancier | Self::Patientportaal => IdScheme::Platform,
        }
    }

    /// Authorizations a certificate of a party of this kind may ever hold.
    pub fn allowed_scopes(self) -> Scopes {
        use Scope::*;
        let list: &[Scope] = match self {
            Self::Zorgaanbieder => &[
                MachtigingenRaadplegen,
                MachtigingenIndienen,
                TerugkoppelingBeheren,
                OptinAfhandelen,
                Gebruikersbeheer,
            ],
            Self::Zorgverzekeraar | Self::Zorgkantoor => {
                &[Beoordelen, TerugkoppelingBeheren, Gebruikersbeheer]
            }
            // A vendor acts for providers that consented to it (issue 7), so it
            // may hold the provider-side authorizations.
            Self::Softwareleverancier => &[
                MachtigingenRaadplegen,
                MachtigingenIndienen,
                TerugkoppelingBeheren,
                OptinAfhandelen,
                Gebruikersbeheer,
            ],
            Self::Patientportaal => &[OptinAanmelden, TerugkoppelingBeheren, Gebruikersbeheer],
        };
        Scopes::from_iter(list.iter().copied())
    }
}

impl FromStr for PartyKind {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| RegistryError::Invalid(format!("unknown party kind '{s}'")))
    }
}

/// How a party is identified: AGB-code, UZOVI-code, or a platform-assigned id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum IdScheme {
    Agb,
    Uzovi,
    Platform,
}

impl IdScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agb => "AGB",
            Self::Uzovi => "UZOVI",
            Self::Platform => "PLATFORM",
        }
    }

    /// Checks an identifier's format for this scheme.
    pub fn validate(self, code: &str) -> Result<(), RegistryError> {
        let digits = |n: usize| code.len() == n && code.bytes().all(|b| b.is_ascii_digit());
        let ok = match self {
            Self::Agb => digits(8),
            Self::Uzovi => digits(4),
            Self::Platform => {
                (3..=64).contains(&code.len())
                    && code
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            }
        };
        if ok {
            Ok(())
        } else {
            let rule = match self {
                Self::Agb => "an AGB-code is exactly 8 digits",
                Self::Uzovi => "a UZOVI-code is exactly 4 digits",
                Self::Platform => "a platform id is 3-64 characters a-z, 0-9 or '-'",
            };
            Err(RegistryError::Invalid(format!("'{code}': {rule}")))
        }
    }
}

impl FromStr for IdScheme {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "AGB" => Ok(Self::Agb),
            "UZOVI" => Ok(Self::Uzovi),
            "PLATFORM" => Ok(Self::Platform),
            _ => Err(RegistryError::Invalid(format!(
                "unknown identifier scheme '{s}' (AGB, UZOVI or PLATFORM)"
            ))),
        }
    }
}

/// `AGB:03123456`, `UZOVI:3311`, `PLATFORM:vendor-x`: how parties are named on
/// the command line, in logs and in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartyRef {
    pub scheme: IdScheme,
    pub code: String,
}

impl PartyRef {
    pub fn new(scheme: IdScheme, code: impl Into<String>) -> Result<Self, RegistryError> {
        let code = code.into();
        scheme.validate(&code)?;
        Ok(Self { scheme, code })
    }

    /// The insurer with this UZOVI-code, as read from a stored row (it was
    /// checked when it was written).
    pub fn insurer(uzovi: &str) -> Self {
        Self {
            scheme: IdScheme::Uzovi,
            code: uzovi.to_owned(),
        }
    }

    /// The care provider with this AGB-code, as read from a stored row.
    pub fn provider(agb: &str) -> Self {
        Self {
            scheme: IdScheme::Agb,
            code: agb.to_owned(),
        }
    }
}

impl fmt::Display for PartyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.scheme.as_str(), self.code)
    }
}

impl FromStr for PartyRef {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (scheme, code) = s.split_once(':').ok_or_else(|| {
            RegistryError::Invalid(format!(
                "party '{s}' must look like AGB:03123456, UZOVI:3311 or PLATFORM:some-id"
            ))
        })?;
        Self::new(scheme.parse()?, code)
    }
}

impl Serialize for PartyRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Party {
    pub id: i64,
    pub kind: PartyKind,
    pub reference: PartyRef,
    pub name: String,
    /// Set while the operator has deactivated the party: every certificate
    /// of it is refused (`AUTH-005`) until it is reactivated.
    pub deactivated_at: Option<chrono::NaiveDateTime>,
}

impl Party {
    pub fn is_active(&self) -> bool {
        self.deactivated_at.is_none()
    }
}

/// `persoonlijk` (a person) or `systeem` (software of the organisation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CertKind {
    Persoonlijk,
    Systeem,
}

impl CertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Persoonlijk => "persoonlijk",
            Self::Systeem => "systeem",
        }
    }
}

impl FromStr for CertKind {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "persoonlijk" => Ok(Self::Persoonlijk),
            "systeem" => Ok(Self::Systeem),
            _ => Err(RegistryError::Invalid(format!(
                "certificate kind '{s}' must be persoonlijk or systeem"
            ))),
        }
    }
}

/// One authorization a certificate can carry (DESIGN.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    MachtigingenRaadplegen,
    MachtigingenIndienen,
    Beoordelen,
    TerugkoppelingBeheren,
    OptinAanmelden,
    OptinAfhandelen,
    Gebruikersbeheer,
}

impl Scope {
    pub const ALL: [Scope; 7] = [
        Self::MachtigingenRaadplegen,
        Self::MachtigingenIndienen,
        Self::Beoordelen,
        Self::TerugkoppelingBeheren,
        Self::OptinAanmelden,
        Self::OptinAfhandelen,
        Self::Gebruikersbeheer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MachtigingenRaadplegen => "machtigingen:raadplegen",
            Self::MachtigingenIndienen => "machtigingen:indienen",
            Self::Beoordelen => "beoordelen",
            Self::TerugkoppelingBeheren => "terugkoppeling:beheren",
            Self::OptinAanmelden => "optin:aanmelden",
            Self::OptinAfhandelen => "optin:afhandelen",
            Self::Gebruikersbeheer => "gebruikersbeheer",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|x| x.as_str()).collect();
                RegistryError::Invalid(format!(
                    "unknown authorization '{s}' (known: {})",
                    known.join(", ")
                ))
            })
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A set of authorizations. Holding `machtigingen:indienen` always includes
/// `machtigingen:raadplegen`: the set keeps that invariant on every change.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Scopes(u8);

impl Scopes {
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Adds `scope` and what it implies.
    pub fn grant(&mut self, scope: Scope) {
        self.0 |= scope.bit();
        if scope == Scope::MachtigingenIndienen {
            self.0 |= Scope::MachtigingenRaadplegen.bit();
        }
    }

    /// Removes `scope` and what depends on it.
    pub fn withdraw(&mut self, scope: Scope) {
        self.0 &= !scope.bit();
        if scope == Scope::MachtigingenRaadplegen {
            self.0 &= !Scope::MachtigingenIndienen.bit();
        }
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    pub fn difference(self, other: Scopes) -> Scopes {
        Scopes(self.0 & !other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Space-separated canonical form, as stored.
    pub fn to_db(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }

    pub fn from_db(s: &str) -> Result<Self, RegistryError> {
        s.split_whitespace().map(str::parse).collect()
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut s = Scopes::default();
        for scope in iter {
            s.grant(scope);
        }
        s
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(Scope::as_str))
            .finish()
    }
}

impl Serialize for Scopes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// Checks that a certificate of `kind` belonging to a `party_kind` may hold
/// every scope in `scopes`.
pub fn check_scopes(
    party_kind: PartyKind,
    kind: CertKind,
    scopes: Scopes,
) -> Result<(), RegistryError> {
    let forbidden = scopes.difference(party_kind.allowed_scopes());
    if let Some(scope) = forbidden.iter().next() {
        return Err(RegistryError::ScopeNotAllowed {
            scope,
            reason: format!("a {} cannot hold it", party_kind.as_str()),
        });
    }
    if kind == CertKind::Systeem && scopes.contains(Scope::Gebruikersbeheer) {
        return Err(RegistryError::ScopeNotAllowed {
            scope: Scope::Gebruikersbeheer,
            reason: "only a persoonlijk certificate (the contact person) can hold it".into(),
        });
    }
    Ok(())
}

/// The name of the person holding a persoonlijk certificate, as it goes into
/// the certificate's common name: trimmed, 1-64 characters (the X.509 upper
/// bound of a common name), no control characters.
pub fn holder_name(s: &str) -> Result<String, RegistryError> {
    let name = s.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > 64 || name.chars().any(char::is_control) {
        return Err(RegistryError::Invalid(
            "a holder's name is 1-64 characters without control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

/// Parses a list of CIDRs (a bare address counts as a /32 or /128).
pub fn parse_allowlist<S: AsRef<str>>(items: &[S]) -> Result<Vec<IpNet>, RegistryError> {
    items
        .iter()
        .map(|s| {
            let s = s.as_ref().trim();
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| RegistryError::Invalid(format!("'{s}' is not an IP address or CIDR")))
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CertStatus {
    Actief,
    Ingetrokken,
}

impl CertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Actief => "actief",
            Self::Ingetrokken => "ingetrokken",
        }
    }
}

/// A registered certificate with its party, as identity and management see it.
#[derive(Debug, Clone, Serialize)]
pub struct Certificate {
    pub id: i64,
    pub party: Party,
    pub kind: CertKind,
    pub fingerprint: String,
    pub serial: String,
    pub issuer: String,
    pub subject: String,
    /// The person a persoonlijk certificate was issued to (its subject's
    /// common name), when the platform issued it; `None` for a systeem
    /// certificate or one registered from another CA.
    pub holder: Option<String>,
    pub not_before: chrono::NaiveDateTime,
    pub not_after: chrono::NaiveDateTime,
    pub status: CertStatus,
    pub scopes: Scopes,
    pub ip_allowlist: Vec<IpNet>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    Invalid(String),
    #[error("party {0} is not registered")]
    UnknownParty(String),
    #[error("party {0} is already registered")]
    DuplicateParty(String),
    #[error("certificate {0} is not registered")]
    UnknownCertificate(String),
    #[error("certificate with fingerprint {0} is already registered")]
    DuplicateCertificate(String),
    #[error("party {0} is already {1}")]
    PartyStatus(String, &'static str),
    #[error("authorization {scope} is not allowed here: {reason}")]
    ScopeNotAllowed { scope: Scope, reason: String },
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

impl From<diesel::result::Error> for RegistryError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_formats() {
        assert!(IdScheme::Agb.validate("03123456").is_ok());
        assert!(IdScheme::Agb.validate("0312345").is_err());
        assert!(IdScheme::Agb.validate("0312345a").is_err());
        assert!(IdScheme::Uzovi.validate("3311").is_ok());
        assert!(IdScheme::Uzovi.validate("33111").is_err());
        assert!(IdScheme::Platform.validate("vendor-x").is_ok());
        assert!(IdScheme::Platform.validate("Vendor X").is_err());
        let r: PartyRef = "AGB:03123456".parse().unwrap();
        assert_eq!(r.to_string(), "AGB:03123456");
        assert!("AGB-03123456".parse::<PartyRef>().is_err());
    }

    #[test]
    fn indienen_implies_raadplegen_and_withdrawal_cascades() {
        let mut s = Scopes::default();
        s.grant(Scope::MachtigingenIndienen);
        assert!(s.contains(Scope::MachtigingenRaadplegen));
        s.withdraw(Scope::MachtigingenIndienen);
        assert!(s.contains(Scope::MachtigingenRaadplegen));
        s.grant(Scope::MachtigingenIndienen);
        s.withdraw(Scope::MachtigingenRaadplegen);
        assert!(!s.contains(Scope::MachtigingenIndienen));
        assert!(s.is_empty());
    }

    #[test]
    fn scopes_roundtrip_through_storage_form() {
        let s: Scopes = [Scope::Beoordelen, Scope::MachtigingenIndienen]
            .into_iter()
            .collect();
        assert_eq!(
            s.to_db(),
            "machtigingen:raadplegen machtigingen:indienen beoordelen"
        );
        assert_eq!(Scopes::from_db(&s.to_db()).unwrap(), s);
        assert!(Scopes::from_db("bogus").is_err());
    }

    #[test]
    fn party_kind_limits() {
        let ind: Scopes = [Scope::MachtigingenIndienen].into_iter().collect();
        assert!(check_scopes(PartyKind::Zorgaanbieder, CertKind::Systeem, ind).is_ok());
        assert!(check_scopes(PartyKind::Zorgverzekeraar, CertKind::Systeem, ind).is_err());
        let beheer: Scopes = [Scope::Gebruikersbeheer].into_iter().collect();
        assert!(check_scopes(PartyKind::Zorgaanbieder, CertKind::Persoonlijk, beheer).is_ok());
        assert!(check_scopes(PartyKind::Zorgaanbieder, CertKind::Systeem, beheer).is_err());
    }

    #[test]
    fn holder_names() {
        assert_eq!(holder_name("  J. Jansen ").unwrap(), "J. Jansen");
        assert!(holder_name("").is_err());
        assert!(holder_name("a\nb").is_err());
        assert!(holder_name(&"x".repeat(65)).is_err());
        assert!(holder_name(&"é".repeat(64)).is_ok());
    }

    #[test]
    fn allowlist_parsing() {
        let l = parse_allowlist(&["10.0.0.0/8", "192.168.1.7", "::1"]).unwrap();
        assert_eq!(l.len(), 3);
        assert!(l[1].contains(&"192.168.1.7".parse::<std::net::IpAddr>().unwrap()));
        assert!(parse_allowlist(&["10.0.0.0/33"]).is_err());
    }
}
