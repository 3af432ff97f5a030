//! Version 1 of the events on the wire: the `data` of a JSON callback and of a
//! pulled `bericht`, and what the SOAP rendering reads
//! (`schemas/terugkoppeling-v1.xsd`). docs/callbacks.md describes them for
//! receivers; `rest::payloads` as JSON Schema.
//!
//! Every field is declared in the byte order of its wire name. The JSON text
//! is then the same, byte for byte, as the text of the rows written before
//! these types existed (built as a `serde_json::Value`, whose keys are
//! sorted), so stored rows still decode and receivers, whose signatures
//! cover the bytes, see no change. `super::tests` holds every type to it.
//!
//! A change to what any of these serialises to is a new wire version: add it
//! beside this one, keep this one for the rows already stored.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::ids::{MachtigingId, OptinId};

/// `machtiging.status`, to the provider: one of its requests changed status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachtigingStatus {
    pub agb_praktijk: String,
    /// Present for Toegekend, DeelsToegekend and Afgewezen.
    pub beslissing: Option<Beslissing>,
    pub machtigingsaanvraag_id: MachtigingId,
    pub referentie: String,
    /// The lifecycle state's wire name (`Ingediend`, `Toegekend`, …).
    pub status: String,
    #[serde(
        serialize_with = "crate::json_time::utc",
        deserialize_with = "crate::json_time::instant"
    )]
    pub tijdstip: NaiveDateTime,
    pub uzovi: String,
    /// The insurer's questions, for AanvullendeInformatieGevraagd.
    #[serde(default)]
    pub vragen: Vec<Vraag>,
}

/// The insurer's decision as a provider hears it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Beslissing {
    /// Decided by an automatic rule of the insurer's catalog.
    pub automatisch: bool,
    pub geldig_tot: Option<NaiveDate>,
    pub geldig_van: Option<NaiveDate>,
    /// The latest revision of a grant (revoked, shortened, extended). Absent
    /// — not `null` — without one, so every message and stored row of
    /// before revisions keeps its bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub herziening: Option<Herziening>,
    pub machtigingsnummer: Option<String>,
    pub reden_code: Option<String>,
    pub reden_tekst: Option<String>,
    #[serde(
        serialize_with = "crate::json_time::utc",
        deserialize_with = "crate::json_time::instant"
    )]
    pub tijdstip: NaiveDateTime,
    pub toegekende_prestaties: Vec<ToegekendePrestatie>,
    /// `Toegekend`, `DeelsToegekend` or `Afgewezen`.
    pub uitkomst: String,
}

/// The insurer revised a grant: the `beslissing` it is part of holds the
/// grant as it now is (a shortened or extended `geldigTot`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Herziening {
    /// Herroeping: the first day the machtiging is no longer valid.
    pub ingangsdatum: Option<NaiveDate>,
    pub reden_code: String,
    pub reden_tekst: String,
    /// `Herroeping`, `Inkorting` or `Verlenging`.
    pub soort: String,
    #[serde(
        serialize_with = "crate::json_time::utc",
        deserialize_with = "crate::json_time::instant"
    )]
    pub tijdstip: NaiveDateTime,
    /// Inkorting and Verlenging: the end of the validity before.
    pub vorige_geldig_tot: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToegekendePrestatie {
    pub aantal: u32,
    /// Euro cents.
    pub bedrag_centen: Option<i64>,
    pub code: String,
}

/// A question of the insurer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vraag {
    pub tekst: String,
    pub vraag_id: String,
}

/// `machtiging.inbox`, to the insurer: a new or changed request in its inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachtigingInbox {
    pub machtigingsaanvraag_id: MachtigingId,
    /// What happened (`indienen`, `intrekken`, `beslissing`, …).
    pub soort: String,
    pub status: String,
}

/// `optin.registratie`, to the provider: a patient's registration, with the
/// patient (it needs them to find the file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OptinRegistratie {
    pub agb_zorgaanbieder: String,
    #[serde(
        serialize_with = "crate::json_time::utc",
        deserialize_with = "crate::json_time::instant"
    )]
    pub gegeven_op: NaiveDateTime,
    #[serde(
        serialize_with = "crate::json_time::utc",
        deserialize_with = "crate::json_time::instant"
    )]
    pub ontvangen_op: NaiveDateTime,
    pub patient: Patient,
    pub registratie_id: OptinId,
    /// `NogNietVerwerkt`, `Verwerkt` or `Afgewezen`.
    pub status: String,
    /// `Ja` or `Nee`.
    pub toestemming: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Patient {
    pub bsn: String,
    pub geboortedatum: NaiveDate,
    pub naam: Naam,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Naam {
    pub achternaam: String,
    pub tussenvoegsel: Option<String>,
    pub voorletters: Option<String>,
}

/// `optin.status`, to the patient portal: its registration was handled. No
/// patient data: the portal knows its own registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OptinStatus {
    #[serde(
        serialize_with = "crate::json_time::utc",
        deserialize_with = "crate::json_time::instant"
    )]
    pub afgehandeld_op: NaiveDateTime,
    pub agb_zorgaanbieder: String,
    pub reden_code: Option<String>,
    pub reden_tekst: Option<String>,
    pub referentie: String,
    pub registratie_id: OptinId,
    pub status: String,
}
