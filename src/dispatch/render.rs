//! The two callback body formats, rendered from a terugkoppeling's typed
//! event (`outbox::event`): `json` (`{"data","id","tijdstip","type"}`) and
//! `soap` (a SOAP 1.1 envelope with `OntvangenTerugkoppeling`,
//! schemas/terugkoppeling-v1.xsd). Bodies are never logged.

use std::io;

use chrono::{NaiveDate, NaiveDateTime};
use quick_xml::Writer;
use quick_xml::events::BytesText;
use serde::Serialize;

use crate::outbox::Event;
use crate::outbox::event::v1::{Beslissing, Herziening, MachtigingStatus};

/// Event type of the call made when a callback is registered.
pub const VERIFICATIE: &str = "terugkoppeling.verificatie";
pub const NAMESPACE: &str = "urn:machtigingen:terugkoppeling:v1";
/// Namespace of the shared `Beslissing` and `Vraag` elements
/// (the shared structures of schemas/machtigingen-v1.xsd), declared as the default on each.
pub const MACHTIGINGEN_NS: &str = "urn:machtigingen:machtigingen:v1";
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const SOAP_ACTION: &str = "urn:machtigingen:terugkoppeling:v1/OntvangenTerugkoppeling";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Soap,
    Json,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Soap => "soap",
            Self::Json => "json",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "soap" => Some(Self::Soap),
            "json" => Some(Self::Json),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Soap => "text/xml; charset=utf-8",
            Self::Json => "application/json",
        }
    }
}

/// What a message carries: its `data`.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
pub enum Body<'a> {
    /// A terugkoppeling from the outbox.
    Event(&'a Event),
    /// The verification call of a registration, and the receiver check's
    /// messages: `{"partij": …}`.
    Verificatie { partij: &'a str },
}

/// One message to render.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub id: &'a str,
    pub created_at: NaiveDateTime,
    pub body: Body<'a>,
    /// The provider (AGB-code) a message to a software vendor is for
    /// (`zorgaanbieder`); absent in a message to its own recipient, whose
    /// bytes are what they always were.
    pub zorgaanbieder: Option<&'a str>,
}

impl Message<'_> {
    /// The `type` (`Soort` in SOAP).
    pub fn event_type(&self) -> &'static str {
        match self.body {
            Body::Event(e) => e.kind(),
            Body::Verificatie { .. } => VERIFICATIE,
        }
    }
}

pub fn timestamp(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub fn render(format: Format, m: &Message<'_>) -> Result<Vec<u8>, String> {
    match format {
        Format::Json => json(m),
        Format::Soap => soap(m),
    }
}

/// A JSON message; its fields in byte order, as receivers have always had
/// them (the body was once a `serde_json::Value`, which sorts its keys).
#[derive(Serialize)]
struct JsonMessage<'a> {
    data: Body<'a>,
    id: &'a str,
    tijdstip: String,
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    zorgaanbieder: Option<&'a str>,
}

pub fn json(m: &Message<'_>) -> Result<Vec<u8>, String> {
    serde_json::to_vec(&JsonMessage {
        data: m.body,
        id: m.id,
        tijdstip: timestamp(m.created_at),
        kind: m.event_type(),
        zorgaanbieder: m.zorgaanbieder,
    })
    .map_err(|e| e.to_string())
}

type W = Writer<Vec<u8>>;

fn text(w: &mut W, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(value))?;
    Ok(())
}

fn opt(w: &mut W, name: &str, value: Option<&str>) -> io::Result<()> {
    match value {
        Some(v) => text(w, name, v),
        None => Ok(()),
    }
}

fn euro(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}

fn beslissing(w: &mut W, b: &Beslissing) -> io::Result<()> {
    w.create_element("Beslissing")
        .with_attribute(("xmlns", MACHTIGINGEN_NS))
        .write_inner_content(|w| {
            text(w, "Uitkomst", &b.uitkomst)?;
            opt(w, "Machtigingsnummer", b.machtigingsnummer.as_deref())?;
            opt(w, "GeldigVan", b.geldig_van.map(date).as_deref())?;
            opt(w, "GeldigTot", b.geldig_tot.map(date).as_deref())?;
            if !b.toegekende_prestaties.is_empty() {
                w.create_element("ToegekendePrestaties")
                    .write_inner_content(|w| {
                        for p in &b.toegekende_prestaties {
                            w.create_element("Prestatie").write_inner_content(|w| {
                                text(w, "Code", &p.code)?;
                                text(w, "Aantal", &p.aantal.to_string())?;
                                opt(w, "Bedrag", p.bedrag_centen.map(euro).as_deref())
                            })?;
                        }
                        Ok(())
                    })?;
            }
            opt(w, "RedenCode", b.reden_code.as_deref())?;
            opt(w, "RedenTekst", b.reden_tekst.as_deref())?;
            text(
                w,
                "Automatisch",
                if b.automatisch { "true" } else { "false" },
            )?;
            text(w, "Tijdstip", &timestamp(b.tijdstip))?;
            match &b.herziening {
                Some(h) => herziening(w, h),
                None => Ok(()),
            }
        })?;
    Ok(())
}

fn herziening(w: &mut W, h: &Herziening) -> io::Result<()> {
    w.create_element("Herziening").write_inner_content(|w| {
        text(w, "Soort", &h.soort)?;
        opt(w, "Ingangsdatum", h.ingangsdatum.map(date).as_deref())?;
        opt(
            w,
            "VorigeGeldigTot",
            h.vorige_geldig_tot.map(date).as_deref(),
        )?;
        text(w, "RedenCode", &h.reden_code)?;
        text(w, "RedenTekst", &h.reden_tekst)?;
        text(w, "Tijdstip", &timestamp(h.tijdstip))
    })?;
    Ok(())
}

fn machtiging_status(w: &mut W, s: &MachtigingStatus) -> io::Result<()> {
    w.create_element("MachtigingStatus")
        .write_inner_content(|w| {
            text(
                w,
                "MachtigingsaanvraagId",
                s.machtigingsaanvraag_id.as_str(),
            )?;
            text(w, "Referentie", &s.referentie)?;
            text(w, "AgbPraktijk", &s.agb_praktijk)?;
            text(w, "Uzovi", &s.uzovi)?;
            text(w, "Status", &s.status)?;
            text(w, "Tijdstip", &timestamp(s.tijdstip))?;
            if let Some(b) = &s.beslissing {
                beslissing(w, b)?;
            }
            if !s.vragen.is_empty() {
                w.create_element("Vragen").write_inner_content(|w| {
                    for v in &s.vragen {
                        w.create_element("Vraag")
                            .with_attribute(("xmlns", MACHTIGINGEN_NS))
                            .write_inner_content(|w| {
                                text(w, "VraagId", &v.vraag_id)?;
                                text(w, "Tekst", &v.tekst)
                            })?;
                    }
                    Ok(())
                })?;
            }
            Ok(())
        })?;
    Ok(())
}

/// The `OntvangenTerugkoppeling` element alone (what the XSD validates).
pub fn soap_operation(m: &Message<'_>) -> Result<Vec<u8>, String> {
    let mut w = Writer::new(Vec::new());
    operation(&mut w, m).map_err(|e| e.to_string())?;
    Ok(w.into_inner())
}

/// The element after `Tijdstip`: the kinds without an element of their own
/// travel as their JSON text.
enum Content<'a> {
    Status(&'a MachtigingStatus),
    Verificatie(&'a str),
    Gegevens(String),
}

fn operation(w: &mut W, m: &Message<'_>) -> io::Result<()> {
    let content = match m.body {
        Body::Event(Event::MachtigingStatus(s)) => Content::Status(s),
        Body::Verificatie { partij } => Content::Verificatie(partij),
        Body::Event(e) => Content::Gegevens(
            e.to_json()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
        ),
    };
    w.create_element("OntvangenTerugkoppeling")
        .with_attribute(("xmlns", NAMESPACE))
        .write_inner_content(|w| {
            w.create_element("Terugkoppeling")
                .write_inner_content(|w| {
                    text(w, "TerugkoppelingId", m.id)?;
                    text(w, "Soort", m.event_type())?;
                    text(w, "Tijdstip", &timestamp(m.created_at))?;
                    opt(w, "Zorgaanbieder", m.zorgaanbieder)?;
                    match &content {
                        Content::Status(s) => machtiging_status(w, s),
                        Content::Verificatie(partij) => {
                            w.create_element("Verificatie")
                                .write_inner_content(|w| text(w, "Partij", partij))?;
                            Ok(())
                        }
                        Content::Gegevens(g) => text(w, "Gegevens", g),
                    }
                })?;
            Ok(())
        })?;
    Ok(())
}

pub fn soap(m: &Message<'_>) -> Result<Vec<u8>, String> {
    envelope(SOAP11_NS, m)
}

/// The same message in a SOAP 1.2 envelope, as the WSDL's soap12 binding
/// defines it. The platform sends SOAP 1.1; the receiver check also sends
/// this, since a receiver implementing the WSDL serves both bindings.
pub fn soap12(m: &Message<'_>) -> Result<Vec<u8>, String> {
    envelope(SOAP12_NS, m)
}

/// Content-Type of a SOAP 1.2 callback: the action travels in it.
pub fn soap12_content_type() -> String {
    format!("application/soap+xml; charset=utf-8; action=\"{SOAP_ACTION}\"")
}

fn envelope(namespace: &str, m: &Message<'_>) -> Result<Vec<u8>, String> {
    let mut w = Writer::new(Vec::new());
    let io = |e: io::Error| e.to_string();
    w.get_mut()
        .extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    w.create_element("soap:Envelope")
        .with_attribute(("xmlns:soap", namespace))
        .write_inner_content(|w| {
            w.create_element("soap:Body")
                .write_inner_content(|w| operation(w, m))?;
            Ok(())
        })
        .map_err(io)?;
    Ok(w.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::event::v1::MachtigingInbox;

    /// The bytes receivers got when the message was built as a
    /// `serde_json::Value` (keys sorted): their signatures cover them.
    #[test]
    fn a_json_message_is_the_text_it_always_was() {
        let event = Event::MachtigingInbox(MachtigingInbox {
            machtigingsaanvraag_id: "MA0190a1b2c3d4e5f60718293a4b5c6d7e".parse().unwrap(),
            soort: "indienen".into(),
            status: "Ingediend".into(),
        });
        let at = crate::db::now();
        for body in [
            Body::Event(&event),
            Body::Verificatie {
                partij: "UZOVI:3311",
            },
        ] {
            let m = Message {
                id: "TK1",
                created_at: at,
                body,
                zorgaanbieder: None,
            };
            let data = serde_json::to_value(body).unwrap();
            let before = serde_json::json!({
                "id": m.id,
                "type": m.event_type(),
                "tijdstip": timestamp(m.created_at),
                "data": data,
            });
            assert_eq!(json(&m).unwrap(), serde_json::to_vec(&before).unwrap());
        }
    }
}
