//! The opt-in model: a patient's consent registration, its status and its
//! handling, with their checks. Pure: no actix, no diesel.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::problem::{Code, Finding, Problem};

/// Consent given (`Ja`) or refused/withdrawn (`Nee`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Toestemming {
    Ja,
    Nee,
}

impl Toestemming {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ja => "Ja",
            Self::Nee => "Nee",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Ja" => Some(Self::Ja),
            "Nee" => Some(Self::Nee),
            _ => None,
        }
    }
}

/// A registration's state: `NogNietVerwerkt` until the provider handled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegStatus {
    NogNietVerwerkt,
    Verwerkt,
    Afgewezen,
}

impl RegStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NogNietVerwerkt => "NogNietVerwerkt",
            Self::Verwerkt => "Verwerkt",
            Self::Afgewezen => "Afgewezen",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::NogNietVerwerkt, Self::Verwerkt, Self::Afgewezen]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

impl std::fmt::Display for RegStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Naam {
    pub voorletters: Option<String>,
    pub tussenvoegsel: Option<String>,
    pub achternaam: String,
}

/// What a portal submits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registratie {
    pub referentie: String,
    pub bsn: String,
    pub geboortedatum: NaiveDate,
    pub naam: Naam,
    pub agb_zorgaanbieder: String,
    pub toestemming: Toestemming,
    /// UTC.
    pub gegeven_op: NaiveDateTime,
}

impl Registratie {
    /// Identity of the content, for idempotent resubmission.
    pub fn content_hash(&self) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(openssl::sha::sha256(&canonical))
    }

    /// The checks after the schema: every finding together.
    pub fn check(&self, now: NaiveDateTime) -> Result<(), Problem> {
        let mut findings = Vec::new();
        if !crate::validation::bsn::valid(&self.bsn) {
            findings.push(Finding {
                code: Code::OptinBsn,
                location: Some("/Toestemmingsregistratie/Patient/Bsn".into()),
                message: "BSN voldoet niet aan de 11-proef".into(),
            });
        }
        let skew = chrono::Duration::minutes(5);
        if self.geboortedatum > now.date() {
            findings.push(Finding {
                code: Code::OptinMoment,
                location: Some("/Toestemmingsregistratie/Patient/Geboortedatum".into()),
                message: "geboortedatum ligt in de toekomst".into(),
            });
        }
        if self.gegeven_op > now + skew || self.gegeven_op.date() < self.geboortedatum {
            findings.push(Finding {
                code: Code::OptinMoment,
                location: Some("/Toestemmingsregistratie/GegevenOp".into()),
                message: "tijdstip van toestemming ligt in de toekomst of voor de geboortedatum"
                    .into(),
            });
        }
        match findings.first() {
            None => Ok(()),
            Some(first) => Err(Problem::with_findings(
                first.code,
                format!(
                    "De registratie voldoet niet aan {} controle(s).",
                    findings.len()
                ),
                findings,
            )),
        }
    }
}

/// A provider's handling of a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Afhandeling {
    pub status: RegStatus,
    pub reden_code: Option<String>,
    pub reden_tekst: Option<String>,
}

impl Afhandeling {
    pub fn check(&self) -> Result<(), Problem> {
        match self.status {
            RegStatus::NogNietVerwerkt => Err(Problem::new(
                Code::BadRequest,
                "Afhandelen kan alleen naar Verwerkt of Afgewezen.",
            )),
            RegStatus::Afgewezen
                if self.reden_code.as_deref().unwrap_or("").trim().is_empty()
                    && self.reden_tekst.as_deref().unwrap_or("").trim().is_empty() =>
            {
                Err(Problem::new(
                    Code::OptinReason,
                    "Geef bij Afgewezen een RedenCode of RedenTekst.",
                ))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg() -> Registratie {
        Registratie {
            referentie: "P-1".into(),
            bsn: "999999990".into(),
            geboortedatum: NaiveDate::from_ymd_opt(1980, 1, 2).unwrap(),
            naam: Naam {
                voorletters: None,
                tussenvoegsel: None,
                achternaam: "Jansen".into(),
            },
            agb_zorgaanbieder: "01234567".into(),
            toestemming: Toestemming::Ja,
            gegeven_op: NaiveDate::from_ymd_opt(2026, 11, 22)
                .unwrap()
                .and_hms_opt(10, 0, 0)
                .unwrap(),
        }
    }

    #[test]
    fn checks_collect_every_finding() {
        let now = NaiveDate::from_ymd_opt(2026, 11, 22)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        assert!(reg().check(now).is_ok());
        let mut r = reg();
        r.bsn = "123456789".into();
        r.gegeven_op = now + chrono::Duration::hours(1);
        let p = r.check(now).unwrap_err();
        assert_eq!(p.code, Code::OptinBsn);
        assert_eq!(p.findings.len(), 2);
        // Five minutes of clock skew are tolerated.
        let mut r = reg();
        r.gegeven_op = now + chrono::Duration::minutes(4);
        assert!(r.check(now).is_ok());
    }

    #[test]
    fn rejection_needs_a_reason() {
        let a = Afhandeling {
            status: RegStatus::Afgewezen,
            reden_code: None,
            reden_tekst: Some("  ".into()),
        };
        assert_eq!(a.check().unwrap_err().code, Code::OptinReason);
        let ok = Afhandeling {
            reden_code: Some("GEGEVENS".into()),
            ..a
        };
        assert!(ok.check().is_ok());
    }
}
