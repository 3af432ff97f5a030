//! The machtiging domain: the request document as typed data, its lifecycle as
//! a state machine, the insurer's decision. Pure: no actix, no diesel.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The legal basis; the catalog's, since its verstrekkingen are grouped by it.
pub use crate::catalog::Grondslag;

/// Lifecycle states (DESIGN.md §4.2), with their wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    Concept,
    Ingediend,
    InBehandeling,
    AanvullendeInformatieGevraagd,
    Toegekend,
    DeelsToegekend,
    Afgewezen,
    Ingetrokken,
    /// A grant the insurer revoked (`herroepen`); not the provider's
    /// withdrawal of its request, which is `Ingetrokken`.
    Herroepen,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Self::Concept,
        Self::Ingediend,
        Self::InBehandeling,
        Self::AanvullendeInformatieGevraagd,
        Self::Toegekend,
        Self::DeelsToegekend,
        Self::Afgewezen,
        Self::Ingetrokken,
        Self::Herroepen,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Concept => "Concept",
            Self::Ingediend => "Ingediend",
            Self::InBehandeling => "InBehandeling",
            Self::AanvullendeInformatieGevraagd => "AanvullendeInformatieGevraagd",
            Self::Toegekend => "Toegekend",
            Self::DeelsToegekend => "DeelsToegekend",
            Self::Afgewezen => "Afgewezen",
            Self::Ingetrokken => "Ingetrokken",
            Self::Herroepen => "Herroepen",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Toegekend
                | Self::DeelsToegekend
                | Self::Afgewezen
                | Self::Ingetrokken
                | Self::Herroepen
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to a request, as its history and the insurer's inbox name
/// it; which command leads to which is `super::lifecycle`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Provider: save a new request as Concept.
    SaveConcept,
    /// Provider: submit (new, or a Concept).
    Submit,
    /// Provider: change the content, keeping the state (Concept or Ingediend).
    Modify,
    /// Provider: withdraw.
    Withdraw,
    /// Provider: answer the insurer's questions.
    SupplyInformation,
    /// Insurer: start assessing.
    StartAssessment,
    /// Insurer: ask for additional information.
    AskInformation,
    /// Insurer: decide.
    Decide(Outcome),
    /// Insurer: revise a grant (revoke, shorten or extend it).
    Revise(Soort),
}

impl Action {
    /// Name for history and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SaveConcept => "opslaanConcept",
            Self::Submit => "indienen",
            Self::Modify => "wijzigen",
            Self::Withdraw => "intrekken",
            Self::SupplyInformation => "aanvullendeInformatie",
            Self::StartAssessment => "inBehandeling",
            Self::AskInformation => "aanvullendeInformatieGevraagd",
            Self::Decide(_) => "beslissing",
            Self::Revise(s) => s.action(),
        }
    }
}

/// The outcome of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Toegekend,
    DeelsToegekend,
    Afgewezen,
}

impl Outcome {
    pub fn status(self) -> Status {
        match self {
            Self::Toegekend => Status::Toegekend,
            Self::DeelsToegekend => Status::DeelsToegekend,
            Self::Afgewezen => Status::Afgewezen,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.status().as_str()
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Toegekend" => Some(Self::Toegekend),
            "DeelsToegekend" => Some(Self::DeelsToegekend),
            "Afgewezen" => Some(Self::Afgewezen),
            _ => None,
        }
    }
}

// The state machine itself is the table in `super::lifecycle`.

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prestatie {
    pub code: String,
    pub aantal: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Antwoord {
    pub vraag_id: String,
    pub waarde: String,
}

/// An attachment's description; the content stays in the stored document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bijlage {
    pub soort: String,
    pub naam: String,
    pub media_type: String,
    /// Decoded size in bytes.
    pub grootte: u64,
    /// SHA-256 of the decoded content, hex: identifies it without carrying it.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Naam {
    pub voorletters: Option<String>,
    pub tussenvoegsel: Option<String>,
    pub achternaam: String,
}

/// The Machtigingsaanvraag document as typed data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aanvraag {
    pub referentie: String,
    pub agb_praktijk: String,
    pub agb_zorgverlener: Option<String>,
    pub software_naam: String,
    pub software_versie: String,
    pub bsn: String,
    pub geboortedatum: NaiveDate,
    pub naam: Option<Naam>,
    pub verzekerdennummer: Option<String>,
    pub uzovi: String,
    pub grondslag: Grondslag,
    pub verstrekking: String,
    pub zorgsoort: String,
    pub prestaties: Vec<Prestatie>,
    pub diagnosecode: Option<String>,
    pub begindatum: NaiveDate,
    pub gewenste_einddatum: NaiveDate,
    pub antwoorden: Vec<Antwoord>,
    pub toelichting: Option<String>,
    pub bijlagen: Vec<Bijlage>,
}

impl Aanvraag {
    /// The provider type: first two digits of the practice's AGB-code.
    pub fn zorgverlenersoort(&self) -> &str {
        self.agb_praktijk.get(..2).unwrap_or("")
    }

    /// The JSON its row keeps and the content hash over that same text,
    /// serialised once for both.
    pub fn stored_form(&self) -> StoredForm {
        let json = serde_json::to_string(self).unwrap_or_default();
        let content_hash = hex::encode(openssl::sha::sha256(json.as_bytes()));
        StoredForm { json, content_hash }
    }

    /// Fingerprint of the content for idempotent resubmission: equal documents
    /// (whatever their whitespace or prefixes) give equal hashes.
    pub fn content_hash(&self) -> String {
        self.stored_form().content_hash
    }
}

/// An [`Aanvraag`] as it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredForm {
    /// Its JSON (the row's `aanvraag` column).
    pub json: String,
    /// SHA-256 of `json`, hex: the identity of the content.
    pub content_hash: String,
}

/// The provider's answer to the insurer's questions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AanvullendeInformatie {
    pub antwoorden: Vec<Antwoord>,
    pub toelichting: Option<String>,
    pub bijlagen: Vec<Bijlage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToegekendePrestatie {
    pub code: String,
    pub aantal: u32,
    /// Amount in euro cents.
    pub bedrag_centen: Option<i64>,
}

/// Euro cents as the wire writes amounts: euro with two decimals, `"12.34"`.
pub fn euro(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}

/// The inverse of [`euro`]: `"12.34"`, `"12.3"` or `"12"` to cents; `None`
/// for anything else (negative, more than two decimals, not a number).
pub fn parse_euro(s: &str) -> Option<i64> {
    let (whole, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
    if whole.is_empty() || !whole.chars().all(|c| c.is_ascii_digit()) || frac.len() > 2 {
        return None;
    }
    if !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let cents = format!("{frac:0<2}").parse::<i64>().ok()?;
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

/// The insurer's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Beslissing {
    pub uitkomst: Outcome,
    pub machtigingsnummer: Option<String>,
    pub geldig_van: Option<NaiveDate>,
    pub geldig_tot: Option<NaiveDate>,
    pub toegekende_prestaties: Vec<ToegekendePrestatie>,
    pub reden_code: Option<String>,
    pub reden_tekst: Option<String>,
    /// Decided by an automatic rule of the catalog.
    pub automatisch: bool,
    #[serde(
        serialize_with = "crate::json_time::utc",
        deserialize_with = "crate::json_time::instant"
    )]
    pub tijdstip: chrono::NaiveDateTime,
    /// The latest revision of a grant; absent until there is one (and in
    /// every decision stored before revisions existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub herziening: Option<Herziening>,
}

/// What a revision of a grant does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Soort {
    /// Revoked from `ingangsdatum` on: the status becomes `Herroepen`.
    Herroeping,
    /// A new, earlier end of the validity.
    Inkorting,
    /// A new, later end of the validity.
    Verlenging,
}

impl Soort {
    pub const ALL: [Soort; 3] = [Self::Herroeping, Self::Inkorting, Self::Verlenging];

    /// The wire name (`Soort` of a revision).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Herroeping => "Herroeping",
            Self::Inkorting => "Inkorting",
            Self::Verlenging => "Verlenging",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The name the history gives it (a `GebeurtenisSoort`).
    pub fn action(self) -> &'static str {
        match self {
            Self::Herroeping => "herroepen",
            Self::Inkorting => "inkorten",
            Self::Verlenging => "verlengen",
        }
    }
}

/// The latest revision of a grant, kept with its decision: what changed,
/// from when, and why. Every revision is also in the request's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Herziening {
    pub soort: Soort,
    /// Herroeping: the first day the machtiging is no longer valid.
    pub ingangsdatum: Option<NaiveDate>,
    /// Inkorting and Verlenging: the end of the validity before.
    pub vorige_geldig_tot: Option<NaiveDate>,
    pub reden_code: String,
    pub reden_tekst: String,
    #[serde(
        serialize_with = "crate::json_time::utc",
        deserialize_with = "crate::json_time::instant"
    )]
    pub tijdstip: chrono::NaiveDateTime,
}

/// A question of the insurer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vraag {
    pub vraag_id: String,
    pub tekst: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euro_round_trip() {
        assert_eq!(parse_euro("12.34"), Some(1234));
        assert_eq!(parse_euro("12.3"), Some(1230));
        assert_eq!(parse_euro("7"), Some(700));
        assert_eq!(parse_euro("-1"), None);
        assert_eq!(parse_euro("1.234"), None);
        assert_eq!(parse_euro("1e3"), None);
        assert_eq!(euro(parse_euro("1250.05").unwrap()), "1250.05");
    }
}
