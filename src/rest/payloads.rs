//! The JSON Schemas of terugkoppeling payloads for the OpenAPI document: the
//! `data` of a bericht (`GET /api/v1/terugkoppeling/berichten`) is the same
//! JSON a callback carries, one shape per event type (docs/callbacks.md).

use serde_json::{Value, json};

/// The payloads of terugkoppelingen (`data` of a bericht), one per event type;
/// the same JSON a callback carries (docs/callbacks.md).
pub(super) fn schemas() -> Vec<(&'static str, Value)> {
    use crate::machtiging::model::Status;
    let status: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
    let reg = ["NogNietVerwerkt", "Verwerkt", "Afgewezen"];
    let text = json!({"type": "string"});
    let opt_text = json!({"type": ["string", "null"]});
    let instant = json!({"type": "string", "format": "date-time"});
    vec![
        (
            "BerichtMachtigingStatus",
            json!({
                "type": "object",
                "description": "machtiging.status: a request of yours changed status.",
                "required": ["machtigingsaanvraagId", "referentie", "agbPraktijk", "uzovi", "status", "tijdstip"],
                "properties": {
                    "machtigingsaanvraagId": text, "referentie": text, "agbPraktijk": text, "uzovi": text,
                    "status": {"type": "string", "enum": status},
                    "tijdstip": instant,
                    "beslissing": {"oneOf": [{"type": "null"}, {
                        "type": "object",
                        "required": ["uitkomst", "toegekendePrestaties", "automatisch", "tijdstip"],
                        "properties": {
                            "uitkomst": {"type": "string", "enum": ["Toegekend", "DeelsToegekend", "Afgewezen"]},
                            "machtigingsnummer": opt_text,
                            "geldigVan": {"type": ["string", "null"], "format": "date"},
                            "geldigTot": {"type": ["string", "null"], "format": "date"},
                            "toegekendePrestaties": {"type": "array", "items": {
                                "type": "object", "required": ["code", "aantal"],
                                "properties": {"code": text, "aantal": {"type": "integer"},
                                               "bedragCenten": {"type": ["integer", "null"]}}}},
                            "redenCode": opt_text, "redenTekst": opt_text,
                            "automatisch": {"type": "boolean"},
                            "tijdstip": instant,
                            "herziening": {
                                "type": "object",
                                "description": "The latest revision of the grant by the insurer; absent without one.",
                                "required": ["soort", "ingangsdatum", "vorigeGeldigTot", "redenCode", "redenTekst", "tijdstip"],
                                "properties": {
                                    "soort": {"type": "string", "enum": ["Herroeping", "Inkorting", "Verlenging"]},
                                    "ingangsdatum": {"type": ["string", "null"], "format": "date"},
                                    "vorigeGeldigTot": {"type": ["string", "null"], "format": "date"},
                                    "redenCode": text, "redenTekst": text,
                                    "tijdstip": instant
                                }
                            }
                        }
                    }]},
                    "vragen": {"type": "array", "items": {"type": "object", "required": ["vraagId", "tekst"],
                        "properties": {"vraagId": text, "tekst": text}}}
                }
            }),
        ),
        (
            "BerichtMachtigingInbox",
            json!({
                "type": "object",
                "description": "machtiging.inbox: a new or changed request in your inbox (insurer).",
                "required": ["machtigingsaanvraagId", "soort", "status"],
                "properties": {"machtigingsaanvraagId": text, "soort": text,
                               "status": {"type": "string", "enum": status}}
            }),
        ),
        (
            "BerichtOptinRegistratie",
            json!({
                "type": "object",
                "description": "optin.registratie: a registration for you (provider), with the patient.",
                "required": ["registratieId", "agbZorgaanbieder", "patient", "toestemming", "gegevenOp", "status", "ontvangenOp"],
                "properties": {
                    "registratieId": text, "agbZorgaanbieder": text,
                    "patient": {"type": "object", "required": ["bsn", "geboortedatum", "naam"], "properties": {
                        "bsn": text, "geboortedatum": {"type": "string", "format": "date"},
                        "naam": {"$ref": "#/components/schemas/Naam"}}},
                    "toestemming": {"type": "string", "enum": ["Ja", "Nee"]},
                    "gegevenOp": instant,
                    "status": {"type": "string", "enum": reg},
                    "ontvangenOp": instant
                }
            }),
        ),
        (
            "BerichtOptinStatus",
            json!({
                "type": "object",
                "description": "optin.status: your registration was handled (patient portal).",
                "required": ["registratieId", "referentie", "agbZorgaanbieder", "status", "afgehandeldOp"],
                "properties": {
                    "registratieId": text, "referentie": text, "agbZorgaanbieder": text,
                    "status": {"type": "string", "enum": reg},
                    "redenCode": opt_text, "redenTekst": opt_text,
                    "afgehandeldOp": instant
                }
            }),
        ),
    ]
}
