//! What the insurer decides and what it sees of a request: the types the
//! doors map to and from. No actix, no diesel.

use chrono::NaiveDate;

use crate::machtiging::model::{Outcome, ToegekendePrestatie, Vraag};
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

/// The request as the insurer sees it.
#[derive(Debug, Clone)]
pub struct Dossier {
    pub record: Record,
    pub document: String,
    pub history: Vec<Event>,
}
