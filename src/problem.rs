//! The wire form of a refusal: a [`Problem`] with a stable [`Code`] and
//! optionally a list of [`Finding`]s, which the doors render as
//! `application/problem+json` or as a SOAP Fault. No actix types.
//!
//! Every mapping of an error type onto a `Problem` lives in [`from`], so the
//! whole table of "which failure is which code" is in one place; the domain
//! modules return their own errors (built on [`crate::error`]) and never name
//! `Problem`.

mod from;

/// The vocabulary lives in [`crate::error`]; re-exported here for the
/// modules that still build a `Problem` themselves, until they return errors
/// of their own.
pub use crate::error::{Code, Finding};

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

    /// `SYS-001`; the cause is logged where it happened, never sent.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(Code::Internal, detail)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.detail)
    }
}
