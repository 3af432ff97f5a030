//! What happened, as the domain records it: one typed event per kind of
//! terugkoppeling. The domain builds an [`Event`] in the transaction of the
//! change and hands it to [`super::record`]; the outbox stores its JSON; the
//! dispatcher and the pull decode it again ([`Event::decode`]) and render it
//! as JSON or SOAP. No step in between goes through `serde_json::Value`.
//!
//! The types are the wire's ([`v1`]), not the domain model's: nothing here
//! imports a domain module, so the outbox and dispatch need none, and a
//! change to the model cannot change what receivers get without a change
//! here.

pub mod v1;

use serde::Serialize;

/// To a provider: one of its machtigingsaanvragen changed status.
pub const MACHTIGING_STATUS: &str = "machtiging.status";
/// To an insurer: a new or changed request in its inbox (push instead of pull).
pub const MACHTIGING_INBOX: &str = "machtiging.inbox";
/// To a provider: a new opt-in registration.
pub const OPTIN_REGISTRATIE: &str = "optin.registratie";
/// To a patient portal: a registration was handled.
pub const OPTIN_STATUS: &str = "optin.status";

/// One event, of one of the kinds in `super::kinds`. Serialises as its
/// payload alone (the `data` of a message); the kind travels beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Event {
    MachtigingStatus(v1::MachtigingStatus),
    MachtigingInbox(v1::MachtigingInbox),
    OptinRegistratie(v1::OptinRegistratie),
    OptinStatus(v1::OptinStatus),
}

/// A stored payload that does not fit its kind.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown kind of terugkoppeling: {0}")]
    UnknownKind(String),
    #[error("{kind} payload: {source}")]
    Payload {
        kind: &'static str,
        source: serde_json::Error,
    },
}

impl Event {
    /// The kind's wire name (`type` of a JSON message, `Soort` in SOAP).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MachtigingStatus(_) => MACHTIGING_STATUS,
            Self::MachtigingInbox(_) => MACHTIGING_INBOX,
            Self::OptinRegistratie(_) => OPTIN_REGISTRATIE,
            Self::OptinStatus(_) => OPTIN_STATUS,
        }
    }

    /// What it is about (a request or a registration id): events with one
    /// subject are delivered to an endpoint in the order they were written.
    pub fn subject(&self) -> &str {
        match self {
            Self::MachtigingStatus(e) => e.machtigingsaanvraag_id.as_str(),
            Self::MachtigingInbox(e) => e.machtigingsaanvraag_id.as_str(),
            Self::OptinRegistratie(e) => e.registratie_id.as_str(),
            Self::OptinStatus(e) => e.registratie_id.as_str(),
        }
    }

    /// The stored form and the `data` of a message.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// An event from its kind and stored payload.
    pub fn decode(kind: &str, payload: &str) -> Result<Self, DecodeError> {
        fn read<T: serde::de::DeserializeOwned>(
            kind: &'static str,
            payload: &str,
        ) -> Result<T, DecodeError> {
            serde_json::from_str(payload).map_err(|source| DecodeError::Payload { kind, source })
        }
        Ok(match kind {
            MACHTIGING_STATUS => Self::MachtigingStatus(read(MACHTIGING_STATUS, payload)?),
            MACHTIGING_INBOX => Self::MachtigingInbox(read(MACHTIGING_INBOX, payload)?),
            OPTIN_REGISTRATIE => Self::OptinRegistratie(read(OPTIN_REGISTRATIE, payload)?),
            OPTIN_STATUS => Self::OptinStatus(read(OPTIN_STATUS, payload)?),
            other => return Err(DecodeError::UnknownKind(other.to_owned())),
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::v1::*;
    use super::*;

    const MA: &str = "MA0190a1b2c3d4e5f60718293a4b5c6d7e";
    const OI: &str = "OI0190a1b2c3d4e5f60718293a4b5c6d7e";

    fn at() -> chrono::NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 22)
            .unwrap()
            .and_hms_micro_opt(9, 30, 1, 123_456)
            .unwrap()
    }

    fn samples() -> Vec<Event> {
        let status = MachtigingStatus {
            agb_praktijk: "03123456".into(),
            beslissing: Some(Beslissing {
                automatisch: false,
                geldig_tot: NaiveDate::from_ymd_opt(2026, 12, 31),
                geldig_van: NaiveDate::from_ymd_opt(2026, 1, 1),
                herziening: None,
                machtigingsnummer: Some("M2026X001".into()),
                reden_code: Some("R1".into()),
                reden_tekst: None,
                tijdstip: at(),
                toegekende_prestaties: vec![ToegekendePrestatie {
                    aantal: 3,
                    bedrag_centen: Some(12_345),
                    code: "P001".into(),
                }],
                uitkomst: "DeelsToegekend".into(),
            }),
            machtigingsaanvraag_id: MA.parse().unwrap(),
            referentie: "REF-1".into(),
            status: "DeelsToegekend".into(),
            tijdstip: at(),
            uzovi: "3311".into(),
            vragen: vec![Vraag {
                tekst: "Welke diagnose?".into(),
                vraag_id: "V1".into(),
            }],
        };
        let bare = MachtigingStatus {
            beslissing: None,
            vragen: Vec::new(),
            ..status.clone()
        };
        let mut revised = status.clone();
        if let Some(b) = revised.beslissing.as_mut() {
            b.herziening = Some(Herziening {
                ingangsdatum: NaiveDate::from_ymd_opt(2026, 6, 1),
                reden_code: "FRAUDE".into(),
                reden_tekst: "Onjuiste gegevens.".into(),
                soort: "Herroeping".into(),
                tijdstip: at(),
                vorige_geldig_tot: None,
            });
        }
        revised.status = "Herroepen".into();
        vec![
            Event::MachtigingStatus(status),
            Event::MachtigingStatus(revised),
            Event::MachtigingStatus(bare),
            Event::MachtigingInbox(MachtigingInbox {
                machtigingsaanvraag_id: MA.parse().unwrap(),
                soort: "indienen".into(),
                status: "Ingediend".into(),
            }),
            Event::OptinRegistratie(OptinRegistratie {
                agb_zorgaanbieder: "01234567".into(),
                gegeven_op: at(),
                ontvangen_op: at(),
                patient: Patient {
                    bsn: "999999990".into(),
                    geboortedatum: NaiveDate::from_ymd_opt(1980, 1, 2).unwrap(),
                    naam: Naam {
                        achternaam: "Jansen".into(),
                        tussenvoegsel: Some("de".into()),
                        voorletters: None,
                    },
                },
                registratie_id: OI.parse().unwrap(),
                status: "NogNietVerwerkt".into(),
                toestemming: "Ja".into(),
            }),
            Event::OptinStatus(OptinStatus {
                afgehandeld_op: at(),
                agb_zorgaanbieder: "01234567".into(),
                reden_code: None,
                reden_tekst: Some("Onbekende patiënt".into()),
                referentie: "P-1".into(),
                registratie_id: OI.parse().unwrap(),
                status: "Afgewezen".into(),
            }),
        ]
    }

    /// The stored text is the one a `serde_json::Value` of the same content
    /// gives (keys sorted), which is how every row before the typed events
    /// was written; and it decodes back to the same event.
    #[test]
    fn the_json_of_every_event_is_that_of_the_rows_before_it() {
        for e in samples() {
            let text = e.to_json().unwrap();
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(text, value.to_string(), "{}", e.kind());
            assert_eq!(Event::decode(e.kind(), &text).unwrap(), e);
        }
    }

    /// A decision of before revisions existed has no `herziening` key and
    /// keeps its exact text; one with a revision carries it.
    #[test]
    fn a_decision_without_a_revision_keeps_its_bytes() {
        let samples = samples();
        let plain = samples[0].to_json().unwrap();
        assert!(!plain.contains("herziening"), "{plain}");
        let revised = samples[1].to_json().unwrap();
        assert!(
            revised.contains(r#""herziening":{"ingangsdatum":"2026-06-01""#),
            "{revised}"
        );
    }

    #[test]
    fn a_row_of_before_the_typed_events_decodes() {
        // As `optin::service` wrote it with `json!`.
        let old = r#"{"afgehandeldOp":"2026-11-22T09:30:01.123456Z","agbZorgaanbieder":"01234567","redenCode":null,"redenTekst":null,"referentie":"P-1","registratieId":"OI0190a1b2c3d4e5f60718293a4b5c6d7e","status":"Verwerkt"}"#;
        let e = Event::decode(OPTIN_STATUS, old).unwrap();
        assert_eq!(e.subject(), OI);
        assert_eq!(e.to_json().unwrap(), old);
        assert!(matches!(
            Event::decode("onbekend", old),
            Err(DecodeError::UnknownKind(_))
        ));
        assert!(Event::decode(MACHTIGING_STATUS, old).is_err());
    }
}
