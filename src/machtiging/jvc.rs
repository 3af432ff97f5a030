//! The JVC business checks — juistheid (correct), volledigheid (complete),
//! consistentie (consistent) — run after XSD validation. Every finding is
//! collected; none stops the others. Pure: the facts it needs from the registry
//! and the catalog are handed in as a [`Context`].

use chrono::{Days, NaiveDate};

use super::model::{Aanvraag, AanvullendeInformatie, Antwoord, Bijlage};
use crate::catalog::{ALLOWED_MEDIA_TYPES, PrestatieDef, Verstrekking};
use crate::problem::{Code, Finding, Problem};
use crate::validation::bsn;

/// Attachments may not exceed this many bytes in total, decoded.
pub const MAX_ATTACHMENT_BYTES: u64 = 20 * 1024 * 1024;

/// What the checks need to know beyond the document.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub today: NaiveDate,
    /// The AGB-codes the caller may submit for (its own, or providers that
    /// registered a consent statement for it as intermediary).
    pub allowed_agb: &'a [String],
    /// Whether the UZOVI belongs to a registered insurer.
    pub insurer_registered: bool,
    /// The verstrekking from that insurer's catalog, when it exists.
    pub verstrekking: Option<&'a Verstrekking>,
    /// The insurer's definitions of the requested prestatie codes (unknown
    /// codes are absent).
    pub prestaties: &'a [PrestatieDef],
}

fn finding(code: Code, location: &str, message: impl Into<String>) -> Finding {
    Finding {
        code,
        location: Some(location.to_owned()),
        message: message.into(),
    }
}

fn check_attachments(bijlagen: &[Bijlage], base: &str, out: &mut Vec<Finding>) {
    let mut total = 0u64;
    for (i, b) in bijlagen.iter().enumerate() {
        total += b.grootte;
        if !ALLOWED_MEDIA_TYPES.contains(&b.media_type.as_str()) {
            out.push(finding(
                Code::JvcMediaType,
                &format!("{base}/Bijlagen/Bijlage[{}]/MediaType", i + 1),
                format!(
                    "mediatype '{}' niet toegestaan; toegestaan: {}",
                    b.media_type,
                    ALLOWED_MEDIA_TYPES.join(", ")
                ),
            ));
        }
    }
    if total > MAX_ATTACHMENT_BYTES {
        out.push(finding(
            Code::JvcAttachmentsTooLarge,
            &format!("{base}/Bijlagen"),
            format!("bijlagen samen {total} bytes; maximaal {MAX_ATTACHMENT_BYTES}"),
        ));
    }
}

fn check_answers(antwoorden: &[Antwoord], v: &Verstrekking, base: &str, out: &mut Vec<Finding>) {
    for (i, a) in antwoorden.iter().enumerate() {
        let loc = format!("{base}/Antwoorden/Antwoord[{}]", i + 1);
        match v.vragen.iter().find(|q| q.id == a.vraag_id) {
            None => out.push(finding(
                Code::JvcUnknownQuestion,
                &loc,
                format!(
                    "vraag '{}' hoort niet bij verstrekking {}",
                    a.vraag_id, v.code
                ),
            )),
            Some(q) if !q.antwoord_type.accepts(&a.waarde) => out.push(finding(
                Code::JvcAnswerType,
                &format!("{loc}/Waarde"),
                format!(
                    "vraag '{}' verwacht een antwoord van type {}",
                    q.id,
                    q.antwoord_type.as_str()
                ),
            )),
            Some(_) => {}
        }
    }
}

/// All JVC findings for a submission; `Ok` when there are none.
pub fn check_aanvraag(a: &Aanvraag, ctx: &Context<'_>) -> Result<(), Problem> {
    const BASE: &str = "/Machtigingsaanvraag";
    let mut out = Vec::new();

    // Juistheid
    if !bsn::valid(&a.bsn) {
        out.push(finding(
            Code::JvcBsn,
            "/Machtigingsaanvraag/Verzekerde/Bsn",
            "BSN voldoet niet aan de 11-proef",
        ));
    }
    if a.geboortedatum > ctx.today {
        out.push(finding(
            Code::JvcBirthDate,
            "/Machtigingsaanvraag/Verzekerde/Geboortedatum",
            "geboortedatum ligt na vandaag",
        ));
    }
    if !ctx.insurer_registered {
        out.push(finding(
            Code::JvcUzovi,
            "/Machtigingsaanvraag/Uzovi",
            format!("UZOVI {} is niet aangesloten", a.uzovi),
        ));
    }
    check_attachments(&a.bijlagen, BASE, &mut out);

    // Consistentie that needs no catalog
    if !ctx.allowed_agb.iter().any(|agb| agb == &a.agb_praktijk) {
        out.push(finding(
            Code::JvcIndiener,
            "/Machtigingsaanvraag/Indiener/AgbPraktijk",
            format!("AGB {} is niet de partij van het certificaat en heeft geen toestemmingsverklaring voor deze indiener", a.agb_praktijk),
        ));
    }
    if a.gewenste_einddatum < a.begindatum {
        out.push(finding(
            Code::JvcDateOrder,
            "/Machtigingsaanvraag/GewensteEinddatum",
            "gewenste einddatum ligt voor de begindatum",
        ));
    }

    match (ctx.insurer_registered, ctx.verstrekking) {
        (true, None) => out.push(finding(
            Code::JvcVerstrekking,
            "/Machtigingsaanvraag/Verstrekking",
            format!(
                "verstrekking '{}' komt niet voor in de catalogus van UZOVI {}",
                a.verstrekking, a.uzovi
            ),
        )),
        (_, Some(v)) => {
            for (i, p) in a.prestaties.iter().enumerate() {
                let loc = format!("/Machtigingsaanvraag/Prestaties/Prestatie[{}]/Code", i + 1);
                match ctx.prestaties.iter().find(|d| d.code == p.code) {
                    None => out.push(finding(
                        Code::JvcPrestatie,
                        &loc,
                        format!("prestatie '{}' is onbekend bij UZOVI {}", p.code, a.uzovi),
                    )),
                    Some(d) if d.grondslag != a.grondslag => out.push(finding(
                        Code::JvcPrestatieGrondslag,
                        &loc,
                        format!(
                            "prestatie '{}' valt onder {}, de aanvraag onder {}",
                            p.code,
                            d.grondslag.as_str(),
                            a.grondslag.as_str()
                        ),
                    )),
                    Some(_) if !v.prestaties.contains(&p.code) => out.push(finding(
                        Code::JvcPrestatieVerstrekking,
                        &loc,
                        format!(
                            "prestatie '{}' hoort niet bij verstrekking {}",
                            p.code, v.code
                        ),
                    )),
                    Some(_) => {}
                }
            }
            check_answers(&a.antwoorden, v, BASE, &mut out);

            // Volledigheid
            for q in v.vragen.iter().filter(|q| q.verplicht) {
                if !a
                    .antwoorden
                    .iter()
                    .any(|x| x.vraag_id == q.id && !x.waarde.trim().is_empty())
                {
                    out.push(finding(
                        Code::JvcQuestionMissing,
                        "/Machtigingsaanvraag/Antwoorden",
                        format!("vraag '{}' ({}) is verplicht", q.id, q.tekst),
                    ));
                }
            }
            for soort in &v.verplichte_bijlagen {
                if !a.bijlagen.iter().any(|b| &b.soort == soort) {
                    out.push(finding(
                        Code::JvcAttachmentMissing,
                        "/Machtigingsaanvraag/Bijlagen",
                        format!("bijlage van soort '{soort}' is verplicht"),
                    ));
                }
            }

            // Consistentie against the catalog
            if !v
                .zorgverlenersoorten
                .iter()
                .any(|s| s == a.zorgverlenersoort())
            {
                out.push(finding(
                    Code::JvcProviderType,
                    "/Machtigingsaanvraag/Indiener/AgbPraktijk",
                    format!(
                        "zorgverlenersoort {} mag verstrekking {} niet aanvragen",
                        a.zorgverlenersoort(),
                        v.code
                    ),
                ));
            }
            if v.grondslag != a.grondslag {
                out.push(finding(
                    Code::JvcGrondslag,
                    "/Machtigingsaanvraag/Grondslag",
                    format!(
                        "verstrekking {} valt onder {}",
                        v.code,
                        v.grondslag.as_str()
                    ),
                ));
            }
            let earliest = ctx
                .today
                .checked_sub_days(Days::new(v.max_dagen_terug.into()));
            let latest = ctx
                .today
                .checked_add_days(Days::new(v.max_dagen_vooruit.into()));
            if earliest.is_some_and(|d| a.begindatum < d) {
                out.push(finding(
                    Code::JvcTooFarBack,
                    "/Machtigingsaanvraag/Begindatum",
                    format!(
                        "begindatum mag hoogstens {} dagen terug liggen",
                        v.max_dagen_terug
                    ),
                ));
            }
            if latest.is_some_and(|d| a.begindatum > d) {
                out.push(finding(
                    Code::JvcTooFarAhead,
                    "/Machtigingsaanvraag/Begindatum",
                    format!(
                        "begindatum mag hoogstens {} dagen vooruit liggen",
                        v.max_dagen_vooruit
                    ),
                ));
            }
        }
        (false, None) => {}
    }
    verdict(out)
}

/// Checks additional information against the questions of the verstrekking.
pub fn check_aanvulling(
    info: &AanvullendeInformatie,
    verstrekking: Option<&Verstrekking>,
) -> Result<(), Problem> {
    const BASE: &str = "/AanvullendeInformatie";
    let mut out = Vec::new();
    if info.antwoorden.is_empty()
        && info.bijlagen.is_empty()
        && info
            .toelichting
            .as_deref()
            .is_none_or(|t| t.trim().is_empty())
    {
        out.push(finding(
            Code::JvcNothingSupplied,
            BASE,
            "geef ten minste een antwoord, toelichting of bijlage",
        ));
    }
    check_attachments(&info.bijlagen, BASE, &mut out);
    verdict(out).and_then(|()| {
        // Answers to the insurer's ad-hoc questions are free text; answers to
        // catalog questions must fit their type.
        let mut out = Vec::new();
        if let Some(v) = verstrekking {
            for (i, a) in info.antwoorden.iter().enumerate() {
                if let Some(q) = v.vragen.iter().find(|q| q.id == a.vraag_id) {
                    if !q.antwoord_type.accepts(&a.waarde) {
                        out.push(finding(
                            Code::JvcAnswerType,
                            &format!("{BASE}/Antwoorden/Antwoord[{}]/Waarde", i + 1),
                            format!(
                                "vraag '{}' verwacht een antwoord van type {}",
                                q.id,
                                q.antwoord_type.as_str()
                            ),
                        ));
                    }
                }
            }
        }
        verdict(out)
    })
}

fn verdict(findings: Vec<Finding>) -> Result<(), Problem> {
    if findings.is_empty() {
        Ok(())
    } else {
        Err(Problem::with_findings(
            Code::JvcFailed,
            format!(
                "De aanvraag voldoet niet aan {} JVC-controle(s).",
                findings.len()
            ),
            findings,
        ))
    }
}
