//! The access overview a patient may ask for (inzage in de logging, NEN 7513
//! and AVG art. 15): who — party and, where known, person — when, what, in
//! which role, and on whose behalf, over the patient's requests, opt-in
//! registrations and the terugkoppelingen about them. In Dutch.
//!
//! Who: the party that acted (`actor`), with its registered name and role
//! (its kind). For a terugkoppeling the platform delivered, the party that
//! received it (`detail.ontvanger`): that is who got the patient's data. The
//! person is the subject's common name of a `persoonlijk` certificate (the
//! registry keeps the certificate); a system certificate names no person.
//! The operator's own queries of the log are not accesses to these objects
//! and are not listed (`audit search --actie 'audit.*'` finds them).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use super::query::{self, Filter, Patient, PatientObjects};
use super::{AuditRecord, OPERATOR, PLATFORM};
use crate::db::schema::{certificates, parties};
use crate::db::{DbConnection, DbResult};

/// One access to the patient's data.
#[derive(Debug, Clone, Serialize)]
pub struct Toegang {
    #[serde(serialize_with = "crate::json_time::utc")]
    pub wanneer: NaiveDateTime,
    /// The party (`AGB:…`, `UZOVI:…`, `PLATFORM:…`).
    pub partij: String,
    /// Its registered name, when registered.
    pub naam: Option<String>,
    /// The person, when a personal certificate was used.
    pub persoon: Option<String>,
    /// Its role (the kind of party), or `platformbeheerder`/`platform`.
    pub rol: String,
    /// The party acted for, when an intermediary acted.
    pub namens: Option<String>,
    /// What happened, in words.
    pub wat: String,
    /// The audit action, as recorded.
    pub actie: String,
    /// The request or registration concerned.
    pub betreft: String,
    /// `ok`, or why it was refused.
    pub uitkomst: String,
}

/// The overview: the objects it covers and every access, oldest first.
#[derive(Debug, Clone, Serialize)]
pub struct Overzicht {
    pub objecten: PatientObjects,
    pub toegangen: Vec<Toegang>,
    /// More rows than the limit: the overview is cut off.
    pub afgekapt: bool,
}

/// Reads the overview of one patient and records the query itself
/// (`audit.inzage`, with the object ids, never the BSN).
pub fn patient(conn: &mut DbConnection, p: &Patient, limit: i64) -> DbResult<Overzicht> {
    let (objecten, about) = query::resolve(conn, p)?;
    let filter = Filter {
        objects: Some(objecten.clone()),
        ..Filter::default()
    };
    let (rows, afgekapt) = query::search(conn, &filter, limit)?;
    let about: HashMap<String, String> = about.into_iter().collect();
    let mut names = Names::default();
    let mut toegangen = Vec::with_capacity(rows.len());
    for r in &rows {
        toegangen.push(toegang(conn, &mut names, &about, r)?);
    }
    query::record_query(conn, "audit.inzage", &filter, rows.len())?;
    Ok(Overzicht {
        objecten,
        toegangen,
        afgekapt,
    })
}

/// Registered names and kinds of parties and persons of certificates, read
/// once per overview.
#[derive(Default)]
struct Names {
    parties: HashMap<String, Option<(String, String)>>,
    persons: HashMap<String, Option<String>>,
}

impl Names {
    /// (name, kind) of a party reference.
    fn party(&mut self, conn: &mut DbConnection, r: &str) -> DbResult<Option<(String, String)>> {
        if let Some(found) = self.parties.get(r) {
            return Ok(found.clone());
        }
        let found = match r.split_once(':') {
            Some((scheme, code)) => parties::table
                .filter(parties::id_scheme.eq(scheme))
                .filter(parties::code.eq(code))
                .select((parties::name, parties::kind))
                .first(conn)
                .optional()?,
            None => None,
        };
        self.parties.insert(r.to_owned(), found.clone());
        Ok(found)
    }

    /// The person of a personal certificate: its subject's CN.
    fn person(&mut self, conn: &mut DbConnection, fingerprint: &str) -> DbResult<Option<String>> {
        if let Some(found) = self.persons.get(fingerprint) {
            return Ok(found.clone());
        }
        let cert: Option<(String, String)> = certificates::table
            .filter(certificates::fingerprint.eq(fingerprint))
            .select((certificates::kind, certificates::subject))
            .first(conn)
            .optional()?;
        let found = cert
            .filter(|(kind, _)| kind == "persoonlijk")
            .and_then(|(_, subject)| common_name(&subject));
        self.persons.insert(fingerprint.to_owned(), found.clone());
        Ok(found)
    }
}

/// `CN=…` of a subject as the registry stores it (`C=NL, O=…, CN=…`).
fn common_name(subject: &str) -> Option<String> {
    subject
        .split(", ")
        .find_map(|part| part.strip_prefix("CN="))
        .map(str::to_owned)
}

fn toegang(
    conn: &mut DbConnection,
    names: &mut Names,
    about: &HashMap<String, String>,
    r: &AuditRecord,
) -> DbResult<Toegang> {
    let detail: serde_json::Value = serde_json::from_str(&r.detail).unwrap_or_default();
    // A push the platform delivered: the receiving party got the data.
    let receiver = (r.actor == PLATFORM)
        .then(|| detail["ontvanger"].as_str().map(str::to_owned))
        .flatten();
    let partij = receiver.clone().unwrap_or_else(|| r.actor.clone());
    let registered = names.party(conn, &partij)?;
    let rol = match (&registered, partij.as_str()) {
        (Some((_, kind)), _) => kind.clone(),
        (None, OPERATOR) => "platformbeheerder".to_owned(),
        (None, PLATFORM) => "platform".to_owned(),
        (None, _) => "onbekend".to_owned(),
    };
    let persoon = match &r.fingerprint {
        Some(fp) => names.person(conn, fp)?,
        None => None,
    };
    let namens = match &r.acting_for {
        Some(p) => Some(match names.party(conn, p)? {
            Some((name, _)) => format!("{name} ({p})"),
            None => p.clone(),
        }),
        None => None,
    };
    let object = r.object_id.clone().unwrap_or_default();
    let betreft = about.get(&object).cloned().unwrap_or(object);
    Ok(Toegang {
        wanneer: r.at,
        naam: registered.map(|(name, _)| name),
        partij,
        persoon,
        rol,
        namens,
        wat: wat(&r.action, receiver.is_some()).to_owned(),
        actie: r.action.clone(),
        betreft,
        uitkomst: r.outcome.clone(),
    })
}

/// An action in words, from the point of view of the party listed.
fn wat(action: &str, received: bool) -> &'static str {
    if received {
        return "ontving een terugkoppeling over de aanvraag (bezorgd door het platform)";
    }
    match action {
        "machtigingsaanvraag.indienen" => "diende de machtigingsaanvraag in",
        "machtigingsaanvraag.wijzigen" => "wijzigde de machtigingsaanvraag",
        "machtigingsaanvraag.aanvullen" => "vulde de machtigingsaanvraag aan",
        "machtigingsaanvraag.intrekken" => "trok de machtigingsaanvraag in",
        "machtigingsaanvraag.raadplegen" => "bekeek de machtigingsaanvraag",
        "machtigingsaanvraag.zoeken" => "vond de machtigingsaanvraag bij een zoekopdracht",
        "machtiging.controleren" => "controleerde de geldigheid van de machtiging",
        "beoordeling.raadplegen" => "bekeek de aanvraag om die te beoordelen",
        "beoordeling.zoeken" => "vond de aanvraag bij een zoekopdracht van de verzekeraar",
        "beoordeling.vastleggen" => "legde een beslissing over de aanvraag vast",
        "beoordeling.herzien" => "herzag de verleende machtiging (herroepen, ingekort of verlengd)",
        "terugkoppeling.ophalen" => "haalde een terugkoppeling over de aanvraag op",
        "terugkoppeling.raadplegen" => "bekeek een terugkoppeling over de aanvraag",
        "terugkoppeling.afgeleverd" => "bezorgde een terugkoppeling",
        "optin.registreren" => "registreerde de opt-in",
        "optin.raadplegen" => "bekeek de opt-in-registratie",
        "optin.zoeken" => "vond de opt-in-registratie bij een zoekopdracht",
        "optin.ophalen" => "haalde de opt-in-registratie op",
        "optin.bevestigen" => "bevestigde de ontvangst van de opt-in-registratie",
        "optin.afhandelen" => "handelde de opt-in-registratie af",
        _ => "andere handeling (zie de actie)",
    }
}

/// The overview as text for the patient: a heading, then one block per
/// access.
pub fn render(o: &Overzicht) -> String {
    let mut out = String::from("Overzicht van toegang tot uw gegevens\n");
    out.push_str("=====================================\n\n");
    if o.objecten.is_empty() {
        out.push_str(
            "Er zijn geen machtigingsaanvragen of opt-in-registraties (meer) opgeslagen voor \
             deze patiënt.\nGegevens die volgens de bewaartermijnen zijn verwijderd, zijn niet \
             meer aan de patiënt te koppelen.\n",
        );
        return out;
    }
    let list = |ids: &[String]| {
        if ids.is_empty() {
            "geen".to_owned()
        } else {
            ids.join(", ")
        }
    };
    out.push_str(&format!(
        "Machtigingsaanvragen: {}\nOpt-in-registraties: {}\n\n",
        list(&o.objecten.aanvragen),
        list(&o.objecten.registraties)
    ));
    if o.toegangen.is_empty() {
        out.push_str("Er is geen toegang vastgelegd.\n");
    }
    for t in &o.toegangen {
        out.push_str(&format!(
            "{}  {}\n",
            t.wanneer.format("%Y-%m-%d %H:%M:%S UTC"),
            t.wat
        ));
        let wie = match &t.naam {
            Some(n) => format!("{n} ({})", t.partij),
            None => t.partij.clone(),
        };
        out.push_str(&format!("    wie:      {wie}, als {}\n", t.rol));
        if let Some(p) = &t.persoon {
            out.push_str(&format!("    persoon:  {p}\n"));
        }
        if let Some(n) = &t.namens {
            out.push_str(&format!("    namens:   {n}\n"));
        }
        out.push_str(&format!("    betreft:  {}\n", t.betreft));
        if t.uitkomst != "ok" {
            out.push_str(&format!("    uitkomst: geweigerd ({})\n", t.uitkomst));
        }
    }
    out.push_str(&format!("\n{} toegang(en).\n", o.toegangen.len()));
    if o.afgekapt {
        out.push_str("Het overzicht is afgekapt: er zijn meer vermeldingen (--limit).\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_name_of_a_stored_subject() {
        assert_eq!(
            common_name("C=NL, O=Praktijk, CN=J. de Vries").as_deref(),
            Some("J. de Vries")
        );
        assert_eq!(common_name("C=NL, O=Praktijk"), None);
    }
}
