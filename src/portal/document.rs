//! The aanvraag form as a `Machtigingsaanvraag` document: the fields as
//! entered (escaped, so the XSD judges them as it judges the API's), the
//! answers, and the attachments — the stored Concept's that are kept, then
//! the uploads, each upload's kind taken from its file field.

use super::aanvraag::Mode;
use super::field;
use super::upload::{self, Attachment, Upload};
use crate::catalog::Verstrekking;
use crate::identity::Caller;

/// The kind an upload in `field` is sent as: `bijlage-foto` is a `foto`.
pub(super) fn soort_of(field: &str) -> Option<&str> {
    field.strip_prefix("bijlage-").filter(|s| !s.is_empty())
}

/// The attachments of the document in order: the kept ones of the stored
/// Concept, then the uploads.
pub(super) fn attachments(
    form: &[(String, String)],
    files: &[Upload],
    mode: &Mode,
) -> Vec<Attachment> {
    let removed = |i: usize| {
        form.iter()
            .any(|(k, v)| k == "verwijder-bijlage" && v == &i.to_string())
    };
    let mut list: Vec<Attachment> = mode
        .bestaand
        .iter()
        .enumerate()
        .filter(|(i, _)| !removed(*i))
        .map(|(_, b)| Attachment {
            origin: "bestaand".into(),
            xml: upload::bijlage(&b.soort, &b.naam, &b.media_type, &b.inhoud_base64),
        })
        .collect();
    for f in files {
        if let Some(soort) = soort_of(&f.field) {
            list.push(f.attachment(soort));
        }
    }
    list
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The form as a `Machtigingsaanvraag` document; fields are passed on as
/// entered (escaped), so the XSD judges them exactly as it judges the API's.
pub(super) fn document(
    caller: &Caller,
    form: &[(String, String)],
    v: &Verstrekking,
    uzovi: &str,
    attachments: &[Attachment],
) -> String {
    let f = |k: &str| esc(field(form, k));
    let agb = esc(&caller.party().reference.code);
    let mut x = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Machtigingsaanvraag xmlns=\"urn:machtigingen:machtigingen:v1\">\
         <Referentie>{}</Referentie>\
         <Indiener><AgbPraktijk>{agb}</AgbPraktijk><Software><Naam>machtigingen portaal</Naam>\
         <Versie>{}</Versie></Software></Indiener>\
         <Verzekerde><Bsn>{}</Bsn><Geboortedatum>{}</Geboortedatum>\
         <Naam><Achternaam>{}</Achternaam></Naam></Verzekerde>\
         <Uzovi>{}</Uzovi><Grondslag>{}</Grondslag><Verstrekking>{}</Verstrekking>\
         <Zorgsoort>{}</Zorgsoort><Prestaties>",
        f("referentie"),
        env!("CARGO_PKG_VERSION"),
        f("bsn"),
        f("geboortedatum"),
        f("achternaam"),
        esc(uzovi),
        v.grondslag.as_str(),
        esc(&v.code),
        f("zorgsoort"),
    );
    for (k, code) in form {
        if k == "prestatie" {
            x.push_str(&format!(
                "<Prestatie><Code>{}</Code><Aantal>1</Aantal></Prestatie>",
                esc(code)
            ));
        }
    }
    x.push_str(&format!(
        "</Prestaties><Begindatum>{}</Begindatum><GewensteEinddatum>{}</GewensteEinddatum>",
        f("begindatum"),
        f("einddatum")
    ));
    let answers: Vec<String> = v
        .vragen
        .iter()
        .filter_map(|q| {
            let w = field(form, &format!("vraag-{}", q.id));
            (!w.is_empty()).then(|| {
                format!(
                    "<Antwoord><VraagId>{}</VraagId><Waarde>{}</Waarde></Antwoord>",
                    esc(&q.id),
                    esc(w)
                )
            })
        })
        .collect();
    if !answers.is_empty() {
        x.push_str(&format!("<Antwoorden>{}</Antwoorden>", answers.concat()));
    }
    if !field(form, "toelichting").is_empty() {
        x.push_str(&format!("<Toelichting>{}</Toelichting>", f("toelichting")));
    }
    x.push_str(&upload::bijlagen(attachments));
    x.push_str("</Machtigingsaanvraag>\n");
    x
}
