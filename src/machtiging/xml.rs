//! Reading schema-valid machtigingen XML (a `Machtigingsaanvraag` or
//! `AanvullendeInformatie` element, from a REST body or a SOAP payload) into
//! the domain types. Runs on the thread that parsed the document.

use base64::Engine;

use super::model::{
    Aanvraag, AanvullendeInformatie, Antwoord, Bijlage, Grondslag, Naam, Prestatie,
};
use crate::error::{Code, Finding, Refusal};
use crate::validation::El;

fn antwoorden(parent: &El) -> Result<Vec<Antwoord>, Refusal> {
    let Some(list) = parent.opt("Antwoorden") else {
        return Ok(Vec::new());
    };
    list.all("Antwoord")
        .iter()
        .map(|a| {
            Ok(Antwoord {
                vraag_id: a.str("VraagId")?,
                waarde: a.req("Waarde")?.text(),
            })
        })
        .collect()
}

fn bijlagen(parent: &El) -> Result<Vec<Bijlage>, Refusal> {
    let Some(list) = parent.opt("Bijlagen") else {
        return Ok(Vec::new());
    };
    list.all("Bijlage")
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let mut content = b.req("Inhoud")?.text();
            content.retain(|c| !c.is_ascii_whitespace());
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(content.as_bytes())
                .map_err(|e| {
                    Refusal::with_findings(
                        Code::SchemaInvalid,
                        "Het bericht voldoet niet aan het schema.",
                        vec![Finding {
                            code: Code::SchemaInvalid,
                            location: Some(format!("Bijlagen/Bijlage[{}]/Inhoud", i + 1)),
                            message: format!("geen geldige base64: {e}"),
                        }],
                    )
                })?;
            Ok(Bijlage {
                soort: b.str("Soort")?,
                naam: b.str("Naam")?,
                media_type: b.str("MediaType")?,
                grootte: decoded.len() as u64,
                sha256: hex::encode(openssl::sha::sha256(&decoded)),
            })
        })
        .collect()
}

/// A `Machtigingsaanvraag` element.
pub fn aanvraag(el: &El) -> Result<Aanvraag, Refusal> {
    let indiener = el.req("Indiener")?;
    let software = indiener.req("Software")?;
    let verzekerde = el.req("Verzekerde")?;
    let naam = verzekerde
        .opt("Naam")
        .map(|n| {
            Ok::<_, Refusal>(Naam {
                voorletters: n.opt_str("Voorletters"),
                tussenvoegsel: n.opt_str("Tussenvoegsel"),
                achternaam: n.str("Achternaam")?,
            })
        })
        .transpose()?;
    let grondslag = Grondslag::parse(&el.str("Grondslag")?)
        .ok_or_else(|| Refusal::internal("Interne fout bij het lezen van de grondslag."))?;
    let prestaties = el
        .req("Prestaties")?
        .all("Prestatie")
        .iter()
        .map(|p| {
            Ok(Prestatie {
                code: p.str("Code")?,
                aantal: p.number("Aantal")?,
            })
        })
        .collect::<Result<Vec<_>, Refusal>>()?;
    Ok(Aanvraag {
        referentie: el.str("Referentie")?,
        agb_praktijk: indiener.str("AgbPraktijk")?,
        agb_zorgverlener: indiener.opt_str("AgbZorgverlener"),
        software_naam: software.str("Naam")?,
        software_versie: software.str("Versie")?,
        bsn: verzekerde.str("Bsn")?,
        geboortedatum: verzekerde.date("Geboortedatum")?,
        naam,
        verzekerdennummer: verzekerde.opt_str("Verzekerdennummer"),
        uzovi: el.str("Uzovi")?,
        grondslag,
        verstrekking: el.str("Verstrekking")?,
        zorgsoort: el.str("Zorgsoort")?,
        prestaties,
        diagnosecode: el.opt_str("Diagnosecode"),
        begindatum: el.date("Begindatum")?,
        gewenste_einddatum: el.date("GewensteEinddatum")?,
        antwoorden: antwoorden(el)?,
        toelichting: el.opt("Toelichting").map(|t| t.text()),
        bijlagen: bijlagen(el)?,
    })
}

/// An `AanvullendeInformatie` element.
pub fn aanvullende_informatie(el: &El) -> Result<AanvullendeInformatie, Refusal> {
    Ok(AanvullendeInformatie {
        antwoorden: antwoorden(el)?,
        toelichting: el.opt("Toelichting").map(|t| t.text()),
        bijlagen: bijlagen(el)?,
    })
}
