//! Automatic decision rules of an insurer's catalog: the first rule of the
//! verstrekking that matches the request decides it. Pure: evaluated once, by
//! the checks before a submission's write transaction, which applies the
//! outcome as it was found (`super::change::automatic`).

use chrono::{Months, NaiveDate, NaiveDateTime};

use super::model::{Aanvraag, Beslissing, Outcome, ToegekendePrestatie};
use crate::catalog::{Regel, RegelUitkomst, Verstrekking};

fn matches(rule: &Regel, a: &Aanvraag) -> bool {
    let total: u64 = a.prestaties.iter().map(|p| u64::from(p.aantal)).sum();
    let amount_ok = rule
        .max_totaal_aantal
        .is_none_or(|max| total <= u64::from(max));
    let kind_ok = rule
        .zorgverlenersoorten
        .as_ref()
        .is_none_or(|kinds| kinds.iter().any(|k| k == a.zorgverlenersoort()));
    amount_ok && kind_ok
}

/// The decision of the first matching rule, without a Machtigingsnummer (the
/// caller assigns one); `None` leaves the request to the insurer.
pub fn evaluate(v: &Verstrekking, a: &Aanvraag, now: NaiveDateTime) -> Option<Beslissing> {
    let rule = v.regels.iter().find(|r| matches(r, a))?;
    Some(match rule.uitkomst {
        RegelUitkomst::Toekennen => {
            let tot = rule
                .geldig_maanden
                .and_then(|m| a.begindatum.checked_add_months(Months::new(m)))
                .map_or(a.gewenste_einddatum, |limit: NaiveDate| {
                    limit.min(a.gewenste_einddatum)
                });
            Beslissing {
                uitkomst: Outcome::Toegekend,
                machtigingsnummer: None,
                geldig_van: Some(a.begindatum),
                geldig_tot: Some(tot),
                toegekende_prestaties: a
                    .prestaties
                    .iter()
                    .map(|p| ToegekendePrestatie {
                        code: p.code.clone(),
                        aantal: p.aantal,
                        bedrag_centen: None,
                    })
                    .collect(),
                reden_code: None,
                reden_tekst: None,
                automatisch: true,
                tijdstip: now,
                herziening: None,
            }
        }
        RegelUitkomst::Afwijzen => Beslissing {
            uitkomst: Outcome::Afgewezen,
            machtigingsnummer: None,
            geldig_van: None,
            geldig_tot: None,
            toegekende_prestaties: Vec::new(),
            reden_code: Some(rule.reden_code.clone().unwrap_or_else(|| "REGEL".into())),
            reden_tekst: Some(
                rule.reden_tekst
                    .clone()
                    .unwrap_or_else(|| "Afgewezen volgens de regels van de verzekeraar.".into()),
            ),
            automatisch: true,
            tijdstip: now,
            herziening: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::InsurerCatalog;
    use crate::machtiging::model::Prestatie;

    fn sample() -> (Verstrekking, Aanvraag) {
        let file: crate::catalog::CatalogFile =
            serde_json::from_str(include_str!("../../docs/examples/catalogus.json")).unwrap();
        let cat: &InsurerCatalog = file
            .verzekeraars
            .iter()
            .find(|c| c.uzovi == "3311")
            .unwrap();
        let mut v = cat.verstrekkingen[0].clone();
        v.regels = vec![
            Regel {
                uitkomst: RegelUitkomst::Afwijzen,
                max_totaal_aantal: None,
                zorgverlenersoorten: Some(vec!["22".into()]),
                geldig_maanden: None,
                reden_code: Some("SOORT".into()),
                reden_tekst: None,
            },
            Regel {
                uitkomst: RegelUitkomst::Toekennen,
                max_totaal_aantal: Some(2),
                zorgverlenersoorten: Some(vec!["03".into()]),
                geldig_maanden: Some(3),
                reden_code: None,
                reden_tekst: None,
            },
        ];
        let a: Aanvraag = serde_json::from_value(serde_json::json!({
            "referentie": "R", "agb_praktijk": "03123456", "agb_zorgverlener": null,
            "software_naam": "x", "software_versie": "1", "bsn": "999999990",
            "geboortedatum": "1970-01-01", "naam": null, "verzekerdennummer": null,
            "uzovi": "3311", "grondslag": "Zvw", "verstrekking": v.code, "zorgsoort": "0301",
            "prestaties": [{"code": "DBC-OOGLID", "aantal": 1}], "diagnosecode": null,
            "begindatum": "2026-12-01", "gewenste_einddatum": "2027-12-01",
            "antwoorden": [], "toelichting": null, "bijlagen": []
        }))
        .unwrap_or_else(|_| panic!("Aanvraag json shape"));
        (v, a)
    }

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 22)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap()
    }

    #[test]
    fn grant_within_the_limits_capped_to_the_validity() {
        let (v, a) = sample();
        let b = evaluate(&v, &a, now()).unwrap();
        assert_eq!(b.uitkomst, Outcome::Toegekend);
        assert!(b.automatisch);
        assert_eq!(b.geldig_tot, NaiveDate::from_ymd_opt(2027, 3, 1));
        assert_eq!(b.toegekende_prestaties.len(), 1);
    }

    #[test]
    fn reject_rule_and_no_match() {
        let (v, mut a) = sample();
        a.agb_praktijk = "22123456".into();
        assert_eq!(
            evaluate(&v, &a, now()).unwrap().uitkomst,
            Outcome::Afgewezen
        );
        let (v, mut a) = sample();
        a.prestaties = vec![Prestatie {
            code: "DBC-OOGLID".into(),
            aantal: 3,
        }];
        assert!(evaluate(&v, &a, now()).is_none());
    }
}
