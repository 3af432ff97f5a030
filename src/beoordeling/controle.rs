//! `ControlerenMachtiging`: is machtiging N of insurer U valid for this
//! patient, this prestatie, on this date? For the provider whose request it
//! was, and for the insurer that gave it (at claim time). Anything else hears
//! "unknown", like a number that does not exist.
//!
//! A revised grant answers from its revision: a shortened or extended one
//! up to its new `geldigTot`; a revoked one (`Herroepen`) `HERROEPEN` for
//! every date from its ingangsdatum on, and for the days before as the
//! grant did (care given before the revocation stays covered).

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;

use super::BeoordelingError;
use super::store;
use crate::audit;
use crate::db::Db;
use crate::error::{Code, Refusal};
use crate::identity::Caller;
use crate::machtiging::model::Status;
use crate::machtiging::store as requests;
use crate::registry::{PartyKind, Scope};

#[derive(Debug, Clone)]
pub struct Controle {
    pub uzovi: String,
    pub machtigingsnummer: String,
    pub bsn: String,
    pub prestatie: String,
    pub datum: NaiveDate,
}

/// The answer: valid or not, and why (a stable code and a text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Uitkomst {
    pub geldig: bool,
    pub reden_code: &'static str,
    pub reden: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geldig_van: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geldig_tot: Option<NaiveDate>,
    /// How many of this prestatie were granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aantal: Option<u32>,
}

fn no(code: &'static str, reden: &'static str) -> Uitkomst {
    Uitkomst {
        geldig: false,
        reden_code: code,
        reden,
        geldig_van: None,
        geldig_tot: None,
        aantal: None,
    }
}

/// Who may ask about which machtigingen.
enum Asker {
    Provider(Vec<String>),
    Insurer(String),
}

fn asker(caller: &Caller) -> Result<Asker, BeoordelingError> {
    let party = caller.party();
    match party.kind {
        PartyKind::Zorgverzekeraar | PartyKind::Zorgkantoor => {
            caller.require(Scope::Beoordelen)?;
            Ok(Asker::Insurer(party.reference.code.clone()))
        }
        PartyKind::Zorgaanbieder => {
            caller.require(Scope::MachtigingenRaadplegen)?;
            Ok(Asker::Provider(vec![party.reference.code.clone()]))
        }
        PartyKind::Softwareleverancier => {
            caller.require(Scope::MachtigingenRaadplegen)?;
            Ok(Asker::Provider(caller.consented_agbs.clone()))
        }
        PartyKind::Patientportaal => Err(Refusal::new(
            Code::ScopeMissing,
            "Een patiëntportaal kan machtigingen niet controleren.",
        )
        .into()),
    }
}

pub async fn check(db: &Db, caller: Caller, q: Controle) -> Result<Uitkomst, BeoordelingError> {
    let who = asker(&caller)?;
    db.run(move |conn| {
        let record = match store::by_number(conn, &q.uzovi, &q.machtigingsnummer)? {
            Some(id) => requests::get(conn, &id)?,
            None => None,
        };
        let record = record.filter(|r| match &who {
            Asker::Insurer(u) => &r.uzovi == u,
            Asker::Provider(agbs) => agbs.contains(&r.provider_agb),
        });
        let answer = match &record {
            None => no(
                "ONBEKEND",
                "Machtigingsnummer onbekend bij deze verzekeraar.",
            ),
            Some(r) => judge(r, &q),
        };
        audit::ByCaller {
            caller: &caller,
            object_type: "machtigingsaanvraag",
            acting_for: None,
        }
        .record(
            conn,
            "machtiging.controleren",
            record.as_ref().map(|r| r.id.as_str()),
            "ok",
            json!({"geldig": answer.geldig, "reden": answer.reden_code}),
        )?;
        Ok(answer)
    })
    .await
}

fn judge(r: &requests::Record, q: &Controle) -> Uitkomst {
    if !matches!(
        r.status,
        Status::Toegekend | Status::DeelsToegekend | Status::Herroepen
    ) {
        return no(
            "NIET_TOEGEKEND",
            "Deze machtiging is niet (meer) toegekend.",
        );
    }
    if r.aanvraag.bsn != q.bsn {
        return no(
            "ANDERE_VERZEKERDE",
            "De machtiging hoort bij een andere verzekerde.",
        );
    }
    let Some(b) = &r.beslissing else {
        return no(
            "NIET_TOEGEKEND",
            "Deze machtiging is niet (meer) toegekend.",
        );
    };
    let granted: u32 = b
        .toegekende_prestaties
        .iter()
        .filter(|p| p.code == q.prestatie)
        .map(|p| p.aantal)
        .sum();
    if granted == 0 {
        return no(
            "PRESTATIE_NIET_TOEGEKEND",
            "Deze prestatie valt niet onder de machtiging.",
        );
    }
    // Revoked from `from` on: the days before are what is left of the grant.
    let revoked_from = b
        .herziening
        .as_ref()
        .filter(|_| r.status == Status::Herroepen)
        .and_then(|h| h.ingangsdatum);
    let geldig_tot = match revoked_from {
        Some(from) => b.geldig_tot.map(|t| t.min(from.pred_opt().unwrap_or(from))),
        None => b.geldig_tot,
    };
    let inside =
        b.geldig_van.is_some_and(|v| v <= q.datum) && geldig_tot.is_some_and(|t| q.datum <= t);
    let mut u = if inside {
        Uitkomst {
            geldig: true,
            reden_code: "GELDIG",
            reden: "De machtiging is geldig voor deze verzekerde, prestatie en datum.",
            geldig_van: None,
            geldig_tot: None,
            aantal: None,
        }
    } else if r.status == Status::Herroepen && revoked_from.is_none_or(|from| from <= q.datum) {
        no(
            "HERROEPEN",
            "De verzekeraar heeft de machtiging herroepen met ingang van deze datum of eerder.",
        )
    } else {
        no(
            "BUITEN_GELDIGHEIDSPERIODE",
            "De datum valt buiten de geldigheidsperiode.",
        )
    };
    u.geldig_van = b.geldig_van;
    u.geldig_tot = geldig_tot;
    u.aantal = Some(granted);
    u
}
