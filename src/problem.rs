//! The error vocabulary of the wire contract: every refusal the service gives is
//! a [`Problem`] with a stable [`Code`], optionally a list of [`Finding`]s. Each
//! layer maps its own error type into a `Problem` once; the transport renders a
//! `Problem` as `application/problem+json` or as a SOAP Fault. No actix types.
//!
//! Every code is documented in `docs/foutcodes.md` (a test keeps them in step).

use serde::Serialize;

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $status:literal, $title:literal; )*) => {
        /// A stable, documented error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $( $(#[$doc])* $variant, )* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The code as it appears on the wire, e.g. `AUTH-001`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// HTTP status used for REST and for the SOAP Fault response.
            pub fn status(self) -> u16 {
                match self { $(Code::$variant => $status,)* }
            }

            /// Short Dutch title, the `title` of a problem+json body.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }
        }
    };
}

codes! {
    /// The certificate is valid for TLS but not registered to any party.
    CertificateUnknown = "AUTH-001", 401, "Niet geauthenticeerd: certificaat onbekend";
    /// The certificate is registered but revoked.
    CertificateRevoked = "AUTH-002", 401, "Niet geauthenticeerd: certificaat ingetrokken";
    /// The certificate is outside its validity period.
    CertificateExpired = "AUTH-003", 401, "Niet geauthenticeerd: certificaat niet geldig op dit moment";
    /// No client certificate reached the application.
    CertificateMissing = "AUTH-004", 401, "Niet geauthenticeerd: geen clientcertificaat";
    /// The certificate lacks the authorization the operation needs.
    ScopeMissing = "AUTZ-001", 403, "Niet geautoriseerd: autorisatie ontbreekt";
    /// The certificate's IP allow-list does not contain the caller's address.
    AddressNotAllowed = "AUTZ-002", 403, "Niet geautoriseerd: IP-adres niet toegestaan";
    /// No resource at this address, or not visible to the caller.
    NotFound = "REQ-001", 404, "Niet gevonden";
    /// The request body exceeds the configured limit.
    BodyTooLarge = "REQ-002", 413, "Bericht te groot";
    /// The Content-Type is not one this endpoint accepts.
    UnsupportedMediaType = "REQ-003", 415, "Content-Type niet ondersteund";
    /// The request could not be read (query, path or JSON body).
    BadRequest = "REQ-004", 400, "Ongeldig verzoek";
    /// The HTTP method is not supported on this resource.
    MethodNotAllowed = "REQ-005", 405, "Methode niet toegestaan";
    /// An unexpected error; details are in the server log under the request id.
    Internal = "SYS-001", 500, "Interne fout";
    /// The database cannot be reached in time; retry later.
    Unavailable = "SYS-002", 503, "Dienst tijdelijk niet beschikbaar";
}

impl Code {
    /// Whether the caller can fix it (SOAP `Client`/`Sender`) or not
    /// (`Server`/`Receiver`).
    pub fn is_client_fault(self) -> bool {
        self.status() < 500
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One specific finding within a refusal, e.g. one failed JVC check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: Code,
    /// Where: an element path with line (`/Machtigingsaanvraag/Verzekerde/Bsn`,
    /// line 12) or a field name; `None` when it concerns the whole message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub message: String,
}

/// A refusal as the caller sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub code: Code,
    pub detail: String,
    pub findings: Vec<Finding>,
}

impl Problem {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            findings: Vec::new(),
        }
    }

    pub fn with_findings(code: Code, detail: impl Into<String>, findings: Vec<Finding>) -> Self {
        Self {
            code,
            detail: detail.into(),
            findings,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.detail)
    }
}

impl From<crate::db::DbError> for Problem {
    fn from(e: crate::db::DbError) -> Self {
        use crate::db::DbError;
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
                Problem::new(Code::Internal, "Interne fout.")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {}", c.as_str());
        }
    }

    #[test]
    fn every_code_is_documented() {
        let doc = include_str!("../docs/foutcodes.md");
        for c in Code::ALL {
            assert!(
                doc.contains(&format!("`{}`", c.as_str())),
                "{} is missing from docs/foutcodes.md",
                c.as_str()
            );
        }
    }
}
