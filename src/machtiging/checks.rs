//! The checks of a new or changed request before it is written: JVC with its
//! context from registry and catalog, and the insurer's automatic rules.
//!
//! Their keyed look-ups — an earlier request under the same referentie, the
//! insurer, the verstrekking — are read in one statement ([`look_up`]): on
//! PostgreSQL every statement is a round trip with its own wake-ups of the
//! server, and these were three of a submission's thirteen. The statement is
//! built with diesel's query builder, so each connection prepares it once.

use chrono::Utc;
use diesel::prelude::*;

use super::MachtigingError;
use super::change::Automatic;
use super::jvc::{self, Context};
use super::model::Aanvraag;
use super::rules;
use crate::catalog::{self, PrestatieDef, Verstrekking};
use crate::db::DbConnection;
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
    let (existing, active_kind, definition): (Option<String>, Option<String>, Option<String>) =
        diesel::select((existing, active_kind, definition))
            .get_result(conn)
            .map_err(crate::db::DbError::from)?;
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
    let codes: Vec<&str> = a.prestaties.iter().map(|p| p.code.as_str()).collect();
    let prestaties = catalog::store::prestaties(conn, &a.uzovi, &codes)?;
    Ok(Lookups {
        existing: existing.is_some(),
        insurer_registered,
        verstrekking,
        prestaties,
    })
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
