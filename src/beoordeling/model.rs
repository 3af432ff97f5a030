//! What the insurer decides and what it sees of a request: the types the
//! doors map to and from. No actix, no diesel.

use chrono::NaiveDate;

use crate::machtiging::model::{Outcome, Soort, ToegekendePrestatie, Vraag};
use crate::machtiging::store::{Event, Record};

/// What the insurer decides.
#[derive(Debug, Clone)]
pub enum Beoordeling {
    InBehandeling,
    Vragen(Vec<Vraag>),
    Besluit(Besluit),
}

/// A grant (possibly partial) or a rejection.
#[derive(Debug, Clone)]
pub struct Besluit {
    pub uitkomst: Outcome,
    pub machtigingsnummer: Option<String>,
    pub geldig_van: Option<NaiveDate>,
    pub geldig_tot: Option<NaiveDate>,
    pub prestaties: Vec<ToegekendePrestatie>,
    pub reden_code: Option<String>,
    pub reden_tekst: Option<String>,
}

/// A revision of a grant as the insurer asks it (`HerzienenMachtiging`):
/// which dates apply depends on `soort`, and the service checks them.
#[derive(Debug, Clone)]
pub struct Herzien {
    pub soort: Soort,
    /// Inkorting and Verlenging: the new end of the validity.
    pub geldig_tot: Option<NaiveDate>,
    /// Herroeping: the first day it is no longer valid (default: today).
    pub ingangsdatum: Option<NaiveDate>,
    pub reden_code: Option<String>,
    pub reden_tekst: Option<String>,
}

/// The request as the insurer sees it.
#[derive(Debug, Clone)]
pub struct Dossier {
    pub record: Record,
    pub document: String,
    pub history: Vec<Event>,
}
