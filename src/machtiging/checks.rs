//! The checks of a new or changed request before it is written: JVC with its
//! context from registry and catalog, and the insurer's automatic rules.
//!
//! Their keyed look-ups — an earlier request under the same referentie, the
//! insurer, the verstrekking, the requested prestaties — are read together
//! ([`look_up`]): on PostgreSQL every statement is a round trip with its own
//! wake-ups of the server, and these were four of a submission's thirteen
//! (and one more per further code). Each connection prepares the statements
//! once.

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{Array, Nullable, Text};

use super::MachtigingError;
use super::change::Automatic;
use super::jvc::{self, Context};
use super::model::Aanvraag;
use super::rules;
use crate::catalog::{self, PrestatieDef, Verstrekking};
use crate::db::DbConnection;
use crate::db::pg_prepared::{Statement, bind, prepared};
use crate::db::schema::{catalog_verstrekkingen as cv, machtigingsaanvragen as ma, parties};
use crate::error::{Code, Refusal};
use crate::identity::Caller;
use crate::registry::{IdScheme, PartyKind};

/// What the checks read about one request.
pub(super) struct Lookups {
    /// Whether the submitter already stored a request under this referentie
    /// (asked only by a new submission).
    pub existing: bool,
    /// Whether the UZOVI belongs to an active insurer (zorgverzekeraar or
    /// zorgkantoor): a deactivated one would assess nothing.
    pub insurer_registered: bool,
    pub verstrekking: Option<Verstrekking>,
    /// The insurer's definitions of the requested codes (unknown ones absent).
    pub prestaties: Vec<PrestatieDef>,
}

/// Reads what [`jvc`] needs; `reference` (submitter, referentie) also asks
/// whether that key is taken.
pub(super) fn look_up(
    conn: &mut DbConnection,
    a: &Aanvraag,
    reference: Option<(&str, &str)>,
) -> Result<Lookups, MachtigingError> {
    // No request is stored under an empty submitter: the statement keeps one
    // shape (and one prepared form) whether or not the key is asked.
    let (submitter, referentie) = reference.unwrap_or(("", ""));
    let codes: Vec<&str> = a.prestaties.iter().map(|p| p.code.as_str()).collect();
    let Found {
        existing,
        active_kind,
        definition,
        prestaties,
    } = match conn {
        DbConnection::Pg(pg) => prepared::<LookUpPg, _>((
            bind::<Text, _>(submitter),
            bind::<Text, _>(referentie),
            bind::<Text, _>(IdScheme::Uzovi.as_str()),
            bind::<Text, _>(a.uzovi.as_str()),
            bind::<Text, _>(a.verstrekking.as_str()),
            bind::<Array<Text>, _>(&codes),
        ))
        .get_result::<FoundPg>(pg)
        .map_err(crate::db::DbError::from)?
        .into_found()?,
        conn => look_up_each(conn, a, submitter, referentie, &codes)?,
    };
    let insurer_registered = match active_kind {
        Some(kind) => matches!(
            kind.parse::<PartyKind>()?,
            PartyKind::Zorgverzekeraar | PartyKind::Zorgkantoor
        ),
        None => false,
    };
    let verstrekking = definition
        .as_deref()
        .map(catalog::store::parse_verstrekking)
        .transpose()?;
    Ok(Lookups {
        existing: existing.is_some(),
        insurer_registered,
        verstrekking,
        prestaties,
    })
}

/// The rows [`look_up`] reads, before they are interpreted.
struct Found {
    existing: Option<String>,
    active_kind: Option<String>,
    definition: Option<String>,
    prestaties: Vec<PrestatieDef>,
}

/// SQLite: a statement for the keyed look-ups, and one per requested code
/// (a statement is no round trip there, and each is prepared once).
fn look_up_each(
    conn: &mut DbConnection,
    a: &Aanvraag,
    submitter: &str,
    referentie: &str,
    codes: &[&str],
) -> Result<Found, MachtigingError> {
    let existing = ma::table
        .filter(ma::submitter.eq(submitter))
        .filter(ma::referentie.eq(referentie))
        .select(ma::id)
        .single_value();
    // A deactivated insurer is not aangesloten: nobody would assess the
    // request. Its kind is read only while it is active.
    let active_kind = parties::table
        .filter(parties::id_scheme.eq(IdScheme::Uzovi.as_str()))
        .filter(parties::code.eq(&a.uzovi))
        .filter(parties::deactivated_at.is_null())
        .select(parties::kind)
        .single_value();
    let definition = cv::table
        .filter(cv::uzovi.eq(&a.uzovi))
        .filter(cv::code.eq(&a.verstrekking))
        .select(cv::definition)
        .single_value();
    let (existing, active_kind, definition) = diesel::select((existing, active_kind, definition))
        .get_result(conn)
        .map_err(crate::db::DbError::from)?;
    Ok(Found {
        existing,
        active_kind,
        definition,
        prestaties: catalog::store::prestaties(conn, &a.uzovi, codes)?,
    })
}

/// PostgreSQL: the same look-ups and every requested code's definition in
/// one prepared statement: one round trip, where the look-ups and each code
/// were one each (`$6` is the array of codes; the definitions come back as
/// three arrays in the order of their codes, NULL when none is known).
struct LookUpPg;

impl Statement for LookUpPg {
    const SQL: &'static str = "SELECT \
        (SELECT id FROM machtigingsaanvragen WHERE submitter = $1 AND referentie = $2) \
            AS existing, \
        (SELECT kind FROM parties \
            WHERE id_scheme = $3 AND code = $4 AND deactivated_at IS NULL) AS active_kind, \
        (SELECT definition FROM catalog_verstrekkingen WHERE uzovi = $4 AND code = $5) \
            AS definition, \
        p.codes, p.omschrijvingen, p.grondslagen \
        FROM (SELECT array_agg(code ORDER BY code) AS codes, \
            array_agg(omschrijving ORDER BY code) AS omschrijvingen, \
            array_agg(grondslag ORDER BY code) AS grondslagen \
            FROM catalog_prestaties WHERE uzovi = $4 AND code = ANY ($6)) AS p";
}

#[derive(QueryableByName)]
struct FoundPg {
    #[diesel(sql_type = Nullable<Text>)]
    existing: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    active_kind: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    definition: Option<String>,
    #[diesel(sql_type = Nullable<Array<Text>>)]
    codes: Option<Vec<String>>,
    #[diesel(sql_type = Nullable<Array<Text>>)]
    omschrijvingen: Option<Vec<String>>,
    #[diesel(sql_type = Nullable<Array<Text>>)]
    grondslagen: Option<Vec<String>>,
}

impl FoundPg {
    fn into_found(self) -> Result<Found, MachtigingError> {
        let codes = self.codes.unwrap_or_default();
        let omschrijvingen = self.omschrijvingen.unwrap_or_default();
        let grondslagen = self.grondslagen.unwrap_or_default();
        if omschrijvingen.len() != codes.len() || grondslagen.len() != codes.len() {
            return Err(crate::db::DbError::Invalid(
                "catalog_prestaties: arrays of unequal length".into(),
            )
            .into());
        }
        let prestaties = codes
            .into_iter()
            .zip(omschrijvingen)
            .zip(grondslagen)
            .map(|((code, omschrijving), g)| catalog::store::prestatie(code, omschrijving, &g))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Found {
            existing: self.existing,
            active_kind: self.active_kind,
            definition: self.definition,
            prestaties,
        })
    }
}

/// The JVC checks against what [`look_up`] read; and the decision of the
/// insurer's automatic rules, if one matches the request. Both are found
/// once, here: the write applies the decision as data. `full` is false for
/// a Concept, which may be incomplete: only who it is for is checked then.
pub(super) fn jvc(
    caller: &Caller,
    a: &Aanvraag,
    full: bool,
    found: &Lookups,
) -> Result<Option<Automatic>, MachtigingError> {
    let allowed = super::service::provider_agbs(caller);
    if caller.party().kind == PartyKind::Softwareleverancier && !allowed.contains(&a.agb_praktijk) {
        return Err(Refusal::new(
            Code::NoConsent,
            format!(
                "Zorgaanbieder {} heeft geen geldige toestemmingsverklaring voor {}.",
                a.agb_praktijk,
                caller.party().reference
            ),
        )
        .into());
    }
    if !full && allowed.contains(&a.agb_praktijk) {
        return Ok(None);
    }
    let ctx = Context {
        today: Utc::now().date_naive(),
        allowed_agb: &allowed,
        insurer_registered: found.insurer_registered,
        verstrekking: found.verstrekking.as_ref(),
        prestaties: &found.prestaties,
    };
    // Evaluated here, outside the write transaction: SQLite has one writer,
    // so everything done under its lock limits submit throughput.
    let rule = found
        .verstrekking
        .as_ref()
        .and_then(|v| rules::evaluate(v, a, crate::db::now()))
        .and_then(Automatic::new);
    match jvc::check_aanvraag(a, &ctx) {
        Ok(()) => Ok(rule),
        // For a Concept only the indiener finding counts.
        Err(mut p) if !full => {
            p.findings.retain(|f| f.code == Code::JvcIndiener);
            if p.findings.is_empty() {
                Ok(rule)
            } else {
                Err(p.into())
            }
        }
        Err(p) => Err(p.into()),
    }
}
