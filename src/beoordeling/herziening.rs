//! `HerzienenMachtiging`: the insurer that granted a machtiging revokes it
//! (from today or a later date), shortens or extends it, always with a
//! reason. Each is a transition of the lifecycle table (`herroepen`,
//! `inkorten`, `verlengen`; only from `Toegekend` or `DeelsToegekend`),
//! written with a history entry, an audit entry and the provider's
//! terugkoppeling in one transaction; the validity check
//! (`super::controle`) answers from the revised decision.

use chrono::{NaiveDate, NaiveDateTime, Utc};
use serde_json::json;

use super::BeoordelingError;
use super::model::Herzien;
use super::service::{auditor, insurer_uzovi, load_own};
use crate::db::{Db, now, write_tx};
use crate::error::{Code, Refusal};
use crate::identity::Caller;
use crate::ids::{MachtigingId, Requested};
use crate::machtiging::change::{self, Target};
use crate::machtiging::lifecycle::{Command, transition};
use crate::machtiging::model::{Beslissing, Herziening, Soort, Status};

fn blank(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(|s| s.trim().is_empty())
}

/// The decision `b` as revised by `h` on `today`, or the refusal with its
/// code. The dates of the revision's kind are checked first, then the
/// reason.
pub fn check(
    h: &Herzien,
    b: &Beslissing,
    today: NaiveDate,
    at: NaiveDateTime,
) -> Result<Beslissing, Refusal> {
    let Some(tot) = b.geldig_tot else {
        return Err(Refusal::new(
            Code::StatusTransition,
            "Deze beslissing heeft geen geldigheid om te herzien.",
        ));
    };
    let mut revised = b.clone();
    let (ingangsdatum, vorige) = match h.soort {
        Soort::Inkorting => {
            let refuse = |why: String| Refusal::new(Code::RevisionShorten, why);
            let new = match (h.geldig_tot, h.ingangsdatum) {
                (Some(new), None) => new,
                (None, _) => return Err(refuse("Inkorten vraagt een nieuwe geldigTot.".into())),
                (Some(_), Some(_)) => {
                    return Err(refuse("Inkorten neemt geen ingangsdatum.".into()));
                }
            };
            if new < today || b.geldig_van.is_some_and(|van| new < van) || new >= tot {
                return Err(refuse(format!(
                    "De nieuwe geldigTot {new} ligt niet op of na vandaag ({today}) en geldigVan, \
                     en voor de huidige geldigTot {tot}."
                )));
            }
            revised.geldig_tot = Some(new);
            (None, Some(tot))
        }
        Soort::Verlenging => {
            let refuse = |why: String| Refusal::new(Code::RevisionExtend, why);
            let new = match (h.geldig_tot, h.ingangsdatum) {
                (Some(new), None) => new,
                (None, _) => return Err(refuse("Verlengen vraagt een nieuwe geldigTot.".into())),
                (Some(_), Some(_)) => {
                    return Err(refuse("Verlengen neemt geen ingangsdatum.".into()));
                }
            };
            if new <= tot {
                return Err(refuse(format!(
                    "De nieuwe geldigTot {new} ligt niet na de huidige geldigTot {tot}."
                )));
            }
            revised.geldig_tot = Some(new);
            (None, Some(tot))
        }
        Soort::Herroeping => {
            let refuse = |why: String| Refusal::new(Code::RevisionRevoke, why);
            if h.geldig_tot.is_some() {
                return Err(refuse(
                    "Herroepen neemt geen geldigTot; geef een ingangsdatum.".into(),
                ));
            }
            let from = h.ingangsdatum.unwrap_or(today);
            if from < today || from > tot {
                return Err(refuse(format!(
                    "De ingangsdatum {from} ligt niet tussen vandaag ({today}) en de geldigTot \
                     {tot}."
                )));
            }
            (Some(from), None)
        }
    };
    if blank(&h.reden_code) || blank(&h.reden_tekst) {
        return Err(Refusal::new(
            Code::RevisionReason,
            "Een herziening vraagt redenCode en redenTekst.",
        ));
    }
    revised.herziening = Some(Herziening {
        soort: h.soort,
        ingangsdatum,
        vorige_geldig_tot: vorige,
        reden_code: h.reden_code.clone().unwrap_or_default(),
        reden_tekst: h.reden_tekst.clone().unwrap_or_default(),
        tijdstip: at,
    });
    Ok(revised)
}

/// `HerzienenMachtiging`: the new status and the revised decision.
pub async fn revise(
    db: &Db,
    caller: Caller,
    id: Requested<MachtigingId>,
    h: Herzien,
) -> Result<(Status, Beslissing), BeoordelingError> {
    let uzovi = insurer_uzovi(&caller)?;
    db.run(move |conn| {
        let r = load_own(conn, &caller, &uzovi, &id, "beoordeling.herzien")?;
        let command = Command::of_revision(h.soort);
        let refused =
            |why: String| Refusal::new(Code::StatusTransition, format!("Niet toegestaan: {why}."));
        let status =
            transition(Some(r.status), command, None).map_err(|e| refused(e.to_string()))?;
        let current = r
            .beslissing
            .as_ref()
            .ok_or_else(|| refused("de aanvraag heeft geen beslissing".into()))?;
        let revised = check(&h, current, Utc::now().date_naive(), now())?;
        let actor = caller.party().reference.to_string();
        write_tx::<_, BeoordelingError, _>(conn, |c| {
            change::revise(
                c,
                &Target::from(&r),
                status,
                &revised,
                &actor,
                Some(caller.fingerprint()),
            )?;
            auditor(&caller).record(
                c,
                "beoordeling.herzien",
                Some(r.id.as_str()),
                "ok",
                json!({"soort": h.soort.as_str(), "status": status.as_str()}),
            )?;
            Ok(())
        })?;
        Ok((status, revised))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machtiging::model::Outcome;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 3, day).unwrap()
    }

    fn grant() -> Beslissing {
        Beslissing {
            uitkomst: Outcome::Toegekend,
            machtigingsnummer: Some("M1".into()),
            geldig_van: Some(d(5)),
            geldig_tot: Some(d(20)),
            toegekende_prestaties: Vec::new(),
            reden_code: None,
            reden_tekst: None,
            automatisch: false,
            tijdstip: d(1).and_hms_opt(9, 0, 0).unwrap(),
            herziening: None,
        }
    }

    fn ask(soort: Soort, geldig_tot: Option<u32>, ingangsdatum: Option<u32>) -> Herzien {
        Herzien {
            soort,
            geldig_tot: geldig_tot.map(d),
            ingangsdatum: ingangsdatum.map(d),
            reden_code: Some("R".into()),
            reden_tekst: Some("Reden.".into()),
        }
    }

    fn code(h: Herzien, today: u32) -> Result<Beslissing, Code> {
        check(
            &h,
            &grant(),
            d(today),
            d(today).and_hms_opt(12, 0, 0).unwrap(),
        )
        .map_err(|r| r.code)
    }

    #[test]
    fn each_kind_has_its_dates() {
        use Soort::*;
        // Shorten: on or after today and geldigVan, before the current end.
        assert_eq!(
            code(ask(Inkorting, Some(10), None), 8).unwrap().geldig_tot,
            Some(d(10))
        );
        assert_eq!(code(ask(Inkorting, Some(8), None), 8).map(|_| ()), Ok(()));
        for bad in [
            ask(Inkorting, Some(7), None),
            ask(Inkorting, Some(20), None),
            ask(Inkorting, None, None),
            ask(Inkorting, Some(10), Some(10)),
        ] {
            assert_eq!(code(bad, 8).err(), Some(Code::RevisionShorten));
        }
        assert_eq!(
            code(ask(Inkorting, Some(4), None), 1).err(),
            Some(Code::RevisionShorten),
            "before geldigVan"
        );
        // Extend: after the current end.
        let b = code(ask(Verlenging, Some(25), None), 8).unwrap();
        assert_eq!(b.geldig_tot, Some(d(25)));
        assert_eq!(b.herziening.unwrap().vorige_geldig_tot, Some(d(20)));
        for bad in [ask(Verlenging, Some(20), None), ask(Verlenging, None, None)] {
            assert_eq!(code(bad, 8).err(), Some(Code::RevisionExtend));
        }
        // Revoke: today by default, or a day up to the current end.
        let b = code(ask(Herroeping, None, None), 8).unwrap();
        assert_eq!(b.geldig_tot, Some(d(20)), "the period is kept");
        assert_eq!(b.herziening.unwrap().ingangsdatum, Some(d(8)));
        assert!(code(ask(Herroeping, None, Some(20)), 8).is_ok());
        for bad in [
            ask(Herroeping, None, Some(7)),
            ask(Herroeping, None, Some(21)),
            ask(Herroeping, Some(10), None),
        ] {
            assert_eq!(code(bad, 8).err(), Some(Code::RevisionRevoke));
        }
        // An expired grant cannot be revoked: nothing is left of it.
        assert_eq!(
            code(ask(Herroeping, None, None), 21).err(),
            Some(Code::RevisionRevoke)
        );
    }

    #[test]
    fn a_reason_is_required() {
        for (c, t) in [(None, Some("x")), (Some("R"), Some("  ")), (Some(""), None)] {
            let h = Herzien {
                reden_code: c.map(Into::into),
                reden_tekst: t.map(Into::into),
                ..ask(Soort::Herroeping, None, None)
            };
            assert_eq!(code(h, 8).err(), Some(Code::RevisionReason));
        }
    }
}
