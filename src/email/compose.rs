//! The Dutch texts of the mails. A mail says what happened, gives a
//! reference and a link to the portal, and nothing else: no BSN, no patient
//! name, no medical content (no verstrekking, no answers, no question text,
//! no reason of a rejection). The reference is the platform's own id (the
//! machtiging or registration id), never the party's `referentie`: that is
//! free text the practice chose, and may name the patient.
//! docs/email.md lists every mail.

use chrono::NaiveDate;

/// What a mail is about; its `soort` in the table and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Soort {
    CallbackUitgeschakeld,
    OptinWacht,
    VraagVerzekeraar,
    Besluit,
    CertificaatVerloopt,
}

impl Soort {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CallbackUitgeschakeld => "callback_uitgeschakeld",
            Self::OptinWacht => "optin_wacht",
            Self::VraagVerzekeraar => "vraag_verzekeraar",
            Self::Besluit => "besluit",
            Self::CertificaatVerloopt => "certificaat_verloopt",
        }
    }
}

/// A composed mail: subject and plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub soort: Soort,
    pub onderwerp: String,
    pub inhoud: String,
}

fn body(party: &str, lines: &[&str], link: &str) -> String {
    let mut s = String::from("Beste relatie,\n\n");
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    s.push_str(&format!(
        "\nBekijk het in het portaal:\n{link}\n\n\
         Met vriendelijke groet,\nMachtigingen\n\n\
         --\n\
         Dit is een automatisch bericht. U ontvangt het omdat dit adres als \
         notificatie-adres van {party} is geregistreerd. Antwoorden op dit \
         bericht worden niet gelezen. Gegevens van patiënten staan nooit in \
         deze e-mail; u leest ze in het portaal.\n"
    ));
    s
}

/// The party's callback endpoint was disabled after failing deliveries.
pub fn callback_uitgeschakeld(base: &str, party: &str) -> Text {
    let link = format!("{base}/portaal/beheer/terugkoppeling");
    Text {
        soort: Soort::CallbackUitgeschakeld,
        onderwerp: "Terugkoppeling uitgeschakeld: afleveren aan uw systeem mislukt".into(),
        inhoud: body(
            party,
            &[
                "De terugkoppeling (callback) naar uw systeem is uitgeschakeld, omdat",
                "afleveren daar bleef mislukken. Er gaat niets verloren: berichten",
                "blijven wachten en zijn op te halen. Herstel uw ontvanger en zet de",
                "terugkoppeling in het portaal weer aan; de reden staat daar.",
            ],
            &link,
        ),
    }
}

/// A new opt-in registration waits for the provider.
pub fn optin_wacht(base: &str, party: &str, registratie_id: &str) -> Text {
    let link = format!("{base}/portaal/optin");
    let line = format!("Kenmerk van de registratie: {registratie_id}.");
    Text {
        soort: Soort::OptinWacht,
        onderwerp: format!("Nieuwe opt-in-registratie wacht op verwerking ({registratie_id})"),
        inhoud: body(
            party,
            &[
                "Er is een nieuwe opt-in-registratie van een patiënt voor u ontvangen.",
                "Wilt u deze verwerken of afwijzen?",
                &line,
            ],
            &link,
        ),
    }
}

/// The insurer asks for more information about a request.
pub fn vraag(base: &str, party: &str, machtiging_id: &str) -> Text {
    let link = format!("{base}/portaal/aanvragen/{machtiging_id}");
    let line = format!("Kenmerk van de aanvraag: {machtiging_id}.");
    Text {
        soort: Soort::VraagVerzekeraar,
        onderwerp: format!("Zorgverzekeraar vraagt aanvullende informatie ({machtiging_id})"),
        inhoud: body(
            party,
            &[
                "De zorgverzekeraar heeft vragen over een machtigingsaanvraag van u.",
                "Beantwoord de vragen in het portaal om de beoordeling te laten doorgaan.",
                &line,
            ],
            &link,
        ),
    }
}

/// The status word of a decision in a sentence.
fn besluit_woord(status: &str) -> Option<&'static str> {
    Some(match status {
        "Toegekend" => "toegekend",
        "DeelsToegekend" => "gedeeltelijk toegekend",
        "Afgewezen" => "afgewezen",
        "Herroepen" => "herroepen",
        _ => return None,
    })
}

/// Whether a request in `status` has a decision worth a mail.
pub fn is_besluit(status: &str) -> bool {
    besluit_woord(status).is_some()
}

/// The insurer decided on a request, or `revised` an earlier grant
/// (shortened, extended or revoked it).
pub fn besluit(base: &str, party: &str, machtiging_id: &str, status: &str, revised: bool) -> Text {
    let link = format!("{base}/portaal/aanvragen/{machtiging_id}");
    let woord = besluit_woord(status).unwrap_or("beoordeeld");
    let (line1, onderwerp) = if revised {
        (
            format!(
                "De zorgverzekeraar heeft het besluit over een machtiging van u herzien; \
                 de machtiging is nu {woord}."
            ),
            format!("Besluit over uw machtiging herzien ({machtiging_id})"),
        )
    } else {
        (
            format!("De zorgverzekeraar heeft een machtigingsaanvraag van u {woord}."),
            format!("Besluit over uw machtigingsaanvraag ({machtiging_id})"),
        )
    };
    let line2 = format!("Kenmerk van de aanvraag: {machtiging_id}.");
    // A rejection has no validity or number; naming them would puzzle the reader.
    let details = if status == "Afgewezen" {
        "Het besluit met de reden leest u in het portaal."
    } else {
        "Het besluit met de geldigheid en het machtigingsnummer leest u in het portaal."
    };
    Text {
        soort: Soort::Besluit,
        onderwerp,
        inhoud: body(party, &[&line1, details, &line2], &link),
    }
}

/// One of the party's certificates expires soon.
pub fn certificaat_verloopt(base: &str, party: &str, serial: &str, op: NaiveDate) -> Text {
    let link = format!("{base}/portaal/beheer/certificaten");
    let datum = op.format("%d-%m-%Y").to_string();
    let line1 = format!("Een certificaat van uw organisatie verloopt op {datum}.");
    let line2 = format!("Serienummer van het certificaat: {serial}.");
    Text {
        soort: Soort::CertificaatVerloopt,
        onderwerp: format!("Certificaat verloopt op {datum}"),
        inhoud: body(
            party,
            &[
                &line1,
                &line2,
                "Vraag op tijd een nieuw certificaat aan, anders kunnen uw systemen of",
                "medewerkers na die datum geen verbinding meer maken.",
            ],
            &link,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_links_to_the_portal_and_names_the_party() {
        let base = "https://p.example.nl";
        let d = NaiveDate::from_ymd_opt(2027, 1, 31).unwrap_or_default();
        for t in [
            callback_uitgeschakeld(base, "AGB:1"),
            optin_wacht(base, "AGB:1", "OPT-1"),
            vraag(base, "AGB:1", "M-1"),
            besluit(base, "AGB:1", "M-1", "Afgewezen", false),
            besluit(base, "AGB:1", "M-1", "Toegekend", true),
            certificaat_verloopt(base, "AGB:1", "0A", d),
        ] {
            assert!(t.inhoud.contains("https://p.example.nl/portaal/"), "{t:?}");
            assert!(t.inhoud.contains("AGB:1"), "{t:?}");
        }
        assert!(
            besluit(base, "p", "M-1", "DeelsToegekend", false)
                .inhoud
                .contains("gedeeltelijk")
        );
        assert!(!is_besluit("InBehandeling"));
    }

    #[test]
    fn a_rejection_does_not_promise_a_validity_or_number() {
        let afgewezen = besluit("https://p", "p", "M-1", "Afgewezen", false).inhoud;
        assert!(!afgewezen.contains("machtigingsnummer"), "{afgewezen}");
        assert!(afgewezen.contains("reden"), "{afgewezen}");
        let toegekend = besluit("https://p", "p", "M-1", "Toegekend", false).inhoud;
        assert!(toegekend.contains("machtigingsnummer"), "{toegekend}");
    }
}
