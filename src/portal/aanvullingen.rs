//! The supplements (aanvullingen) as both detail pages show them — the
//! staff's request page and the assessor's — in
//! `templates/portaal/aanvullingen.html`: when, the answers with their
//! questions, the remark and the attachments as download links numbered after
//! the request's own (`machtiging::aanvulling`).

use super::layout;
use crate::machtiging::aanvulling::Supplement;

pub(super) struct Aanvulling {
    pub at: String,
    pub antwoorden: Vec<Antwoord>,
    pub toelichting: Option<String>,
    pub bijlagen: Vec<Bestand>,
}

pub(super) struct Antwoord {
    /// The question's text, or its id when the text is not known.
    pub vraag: String,
    pub waarde: String,
}

pub(super) struct Bestand {
    /// The download number (`/bijlagen/{nummer}`).
    pub nummer: usize,
    pub tekst: String,
}

pub(super) fn view(list: Vec<Supplement>) -> Vec<Aanvulling> {
    list.into_iter()
        .map(|s| Aanvulling {
            at: layout::when(&s.at),
            antwoorden: s
                .antwoorden
                .into_iter()
                .map(|a| Antwoord {
                    vraag: a.vraag.unwrap_or_else(|| format!("Vraag {}", a.vraag_id)),
                    waarde: a.waarde,
                })
                .collect(),
            toelichting: s.toelichting.filter(|t| !t.trim().is_empty()),
            bijlagen: s
                .bijlagen
                .iter()
                .enumerate()
                .map(|(i, b)| Bestand {
                    nummer: s.first + i,
                    tekst: format!(
                        "{} ({}, {}, {} bytes)",
                        b.naam, b.soort, b.media_type, b.grootte
                    ),
                })
                .collect(),
        })
        .collect()
}
