//! From a schema-valid `Toestemmingsregistratie` element to the model.

use chrono::DateTime;

use super::{Naam, Registratie, Toestemming};
use crate::error::Refusal;
use crate::validation::El;

fn mapping(what: &str) -> Refusal {
    tracing::error!(element = what, "schema-valid registration cannot be mapped");
    Refusal::internal("Interne fout bij het lezen van het bericht.")
}

/// A `Toestemmingsregistratie` element.
pub fn registratie(el: &El) -> Result<Registratie, Refusal> {
    let patient = el.req("Patient")?;
    let naam = patient.req("Naam")?;
    // The schema requires an offset, so the moment is unambiguous; keep UTC.
    let gegeven_op = DateTime::parse_from_rfc3339(&el.str("GegevenOp")?)
        .map_err(|_| mapping("GegevenOp"))?
        .naive_utc();
    Ok(Registratie {
        referentie: el.str("Referentie")?,
        bsn: patient.str("Bsn")?,
        geboortedatum: patient.date("Geboortedatum")?,
        naam: Naam {
            voorletters: naam.opt_str("Voorletters"),
            tussenvoegsel: naam.opt_str("Tussenvoegsel"),
            achternaam: naam.str("Achternaam")?,
        },
        agb_zorgaanbieder: el.str("AgbZorgaanbieder")?,
        toestemming: Toestemming::parse(&el.str("Toestemming")?)
            .ok_or_else(|| mapping("Toestemming"))?,
        gegeven_op,
    })
}
