//! Writers for the shared elements of `schemas/machtigingen-v1.xsd`
//! (`m:Beslissing`, `m:Vraag`), used by every SOAP service that answers with
//! a decision or a question. They live in the machtigingen namespace in every
//! service, so each is written with that namespace as its default: the whole
//! subtree is then right wherever it is embedded.

use chrono::NaiveDateTime;

use super::writer::Xml;
use crate::machtiging::model::{Beslissing, Outcome, Vraag, euro};

/// An `xs:dateTime` in UTC (the store keeps UTC without an offset).
pub fn timestamp(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Namespace of the shared elements.
pub const NS: &str = "urn:machtigingen:machtigingen:v1";

fn uitkomst(o: Outcome) -> &'static str {
    o.status().as_str()
}

/// An `m:Beslissing` element.
pub fn beslissing(x: &mut Xml, b: &Beslissing) {
    x.open_ns("Beslissing", NS)
        .leaf("Uitkomst", uitkomst(b.uitkomst))
        .opt_leaf("Machtigingsnummer", b.machtigingsnummer.as_deref())
        .opt_leaf("GeldigVan", b.geldig_van)
        .opt_leaf("GeldigTot", b.geldig_tot);
    if !b.toegekende_prestaties.is_empty() {
        x.open("ToegekendePrestaties");
        for p in &b.toegekende_prestaties {
            x.open("Prestatie")
                .leaf("Code", &p.code)
                .leaf("Aantal", p.aantal)
                .opt_leaf("Bedrag", p.bedrag_centen.map(euro))
                .close("Prestatie");
        }
        x.close("ToegekendePrestaties");
    }
    x.opt_leaf("RedenCode", b.reden_code.as_deref())
        .opt_leaf("RedenTekst", b.reden_tekst.as_deref())
        .leaf("Automatisch", b.automatisch)
        .leaf("Tijdstip", timestamp(b.tijdstip));
    if let Some(h) = &b.herziening {
        x.open("Herziening")
            .leaf("Soort", h.soort.as_str())
            .opt_leaf("Ingangsdatum", h.ingangsdatum)
            .opt_leaf("VorigeGeldigTot", h.vorige_geldig_tot)
            .leaf("RedenCode", &h.reden_code)
            .leaf("RedenTekst", &h.reden_tekst)
            .leaf("Tijdstip", timestamp(h.tijdstip))
            .close("Herziening");
    }
    x.close("Beslissing");
}

/// An `m:Vraag` element.
pub fn vraag(x: &mut Xml, v: &Vraag) {
    x.open_ns("Vraag", NS)
        .leaf("VraagId", &v.vraag_id)
        .leaf("Tekst", &v.tekst)
        .close("Vraag");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_times() {
        assert_eq!(euro(12345), "123.45");
        assert_eq!(euro(5), "0.05");
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 22)
            .unwrap()
            .and_hms_micro_opt(9, 5, 0, 42)
            .unwrap();
        assert_eq!(timestamp(t), "2026-11-22T09:05:00.000042Z");
    }
}
