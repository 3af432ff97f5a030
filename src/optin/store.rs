//! Storage of subscriptions and registrations (diesel, both backends).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Naam, RegStatus, Registratie, Toestemming};
use crate::db::schema::{optin_abonnementen as ab, optin_registraties as reg};
use crate::db::{DbConnection, DbError, DbResult, now};
use crate::ids::OptinId;

/// A provider's subscription.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ab)]
pub struct Abonnement {
    pub provider_agb: String,
    pub status: String,
    pub notificatie_email: Option<String>,
    pub aangemeld_op: NaiveDateTime,
    pub afgemeld_op: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

pub const ACTIEF: &str = "actief";
pub const AFGEMELD: &str = "afgemeld";

impl Abonnement {
    pub fn active(&self) -> bool {
        self.status == ACTIEF
    }
}

pub fn subscription(conn: &mut DbConnection, agb: &str) -> DbResult<Option<Abonnement>> {
    Ok(ab::table
        .filter(ab::provider_agb.eq(agb))
        .select(Abonnement::as_select())
        .first(conn)
        .optional()?)
}

/// Subscribes (again); a renewed subscription starts a new period.
pub fn subscribe(conn: &mut DbConnection, agb: &str, email: Option<&str>) -> DbResult<Abonnement> {
    let at = now();
    match subscription(conn, agb)? {
        Some(existing) if existing.active() => {
            diesel::update(ab::table.filter(ab::provider_agb.eq(agb)))
                .set((ab::notificatie_email.eq(email), ab::updated_at.eq(at)))
                .execute(conn)?;
        }
        Some(_) => {
            diesel::update(ab::table.filter(ab::provider_agb.eq(agb)))
                .set((
                    ab::status.eq(ACTIEF),
                    ab::notificatie_email.eq(email),
                    ab::aangemeld_op.eq(at),
                    ab::afgemeld_op.eq(None::<NaiveDateTime>),
                    ab::updated_at.eq(at),
                ))
                .execute(conn)?;
        }
        None => {
            diesel::insert_into(ab::table)
                .values((
                    ab::provider_agb.eq(agb),
                    ab::status.eq(ACTIEF),
                    ab::notificatie_email.eq(email),
                    ab::aangemeld_op.eq(at),
                    ab::updated_at.eq(at),
                ))
                .execute(conn)?;
        }
    }
    subscription(conn, agb)?.ok_or(DbError::NotFound)
}

pub fn unsubscribe(conn: &mut DbConnection, agb: &str) -> DbResult<Option<Abonnement>> {
    let at = now();
    diesel::update(
        ab::table
            .filter(ab::provider_agb.eq(agb))
            .filter(ab::status.eq(ACTIEF)),
    )
    .set((
        ab::status.eq(AFGEMELD),
        ab::afgemeld_op.eq(Some(at)),
        ab::updated_at.eq(at),
    ))
    .execute(conn)?;
    subscription(conn, agb)
}

/// A registration as stored.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: OptinId,
    pub portal: String,
    pub content_hash: String,
    pub registratie: Registratie,
    pub status: RegStatus,
    pub reden_code: Option<String>,
    pub reden_tekst: Option<String>,
    pub afgehandeld_op: Option<NaiveDateTime>,
    pub opgehaald_op: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = reg)]
struct Row {
    id: String,
    portal: String,
    referentie: String,
    content_hash: String,
    provider_agb: String,
    bsn: String,
    geboortedatum: chrono::NaiveDate,
    naam: String,
    toestemming: String,
    gegeven_op: NaiveDateTime,
    status: String,
    reden_code: Option<String>,
    reden_tekst: Option<String>,
    afgehandeld_op: Option<NaiveDateTime>,
    opgehaald_op: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

fn corrupt(what: &str) -> DbError {
    DbError::Invalid(format!("stored opt-in registration: {what}"))
}

impl TryFrom<Row> for Record {
    type Error = DbError;
    fn try_from(r: Row) -> DbResult<Self> {
        let naam: Naam = serde_json::from_str(&r.naam).map_err(|_| corrupt("naam"))?;
        Ok(Record {
            registratie: Registratie {
                referentie: r.referentie,
                bsn: r.bsn,
                geboortedatum: r.geboortedatum,
                naam,
                agb_zorgaanbieder: r.provider_agb,
                toestemming: Toestemming::parse(&r.toestemming)
                    .ok_or_else(|| corrupt("toestemming"))?,
                gegeven_op: r.gegeven_op,
            },
            status: RegStatus::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            id: r.id.parse()?,
            portal: r.portal,
            content_hash: r.content_hash,
            reden_code: r.reden_code,
            reden_tekst: r.reden_tekst,
            afgehandeld_op: r.afgehandeld_op,
            opgehaald_op: r.opgehaald_op,
            created_at: r.created_at,
        })
    }
}

fn records(rows: Vec<Row>) -> DbResult<Vec<Record>> {
    rows.into_iter().map(Record::try_from).collect()
}

pub fn insert(
    conn: &mut DbConnection,
    id: &OptinId,
    portal: &str,
    r: &Registratie,
    content_hash: &str,
) -> DbResult<()> {
    let at = now();
    diesel::insert_into(reg::table)
        .values((
            reg::id.eq(id.as_str()),
            reg::portal.eq(portal),
            reg::referentie.eq(&r.referentie),
            reg::content_hash.eq(content_hash),
            reg::provider_agb.eq(&r.agb_zorgaanbieder),
            reg::bsn.eq(&r.bsn),
            reg::geboortedatum.eq(r.geboortedatum),
            reg::naam.eq(serde_json::to_string(&r.naam).unwrap_or_default()),
            reg::toestemming.eq(r.toestemming.as_str()),
            reg::gegeven_op.eq(r.gegeven_op),
            reg::status.eq(RegStatus::NogNietVerwerkt.as_str()),
            reg::created_at.eq(at),
            reg::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn get(conn: &mut DbConnection, id: &OptinId) -> DbResult<Option<Record>> {
    reg::table
        .filter(reg::id.eq(id.as_str()))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Record::try_from)
        .transpose()
}

pub fn by_reference(
    conn: &mut DbConnection,
    portal: &str,
    referentie: &str,
) -> DbResult<Option<Record>> {
    reg::table
        .filter(reg::portal.eq(portal))
        .filter(reg::referentie.eq(referentie))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Record::try_from)
        .transpose()
}

/// The oldest registrations of the providers (`agbs`: the caller's own, or
/// those a vendor handles them for) not yet acknowledged. No cursor: what is
/// not acknowledged comes again, so nothing committed late is skipped.
pub fn pending(conn: &mut DbConnection, agbs: &[String], max: i64) -> DbResult<Vec<Record>> {
    records(
        reg::table
            .filter(reg::provider_agb.eq_any(agbs))
            .filter(reg::opgehaald_op.is_null())
            .order((reg::created_at.asc(), reg::id.asc()))
            .limit(max)
            .select(Row::as_select())
            .load(conn)?,
    )
}

/// Marks registrations of these providers as received; returns how many.
pub fn acknowledge(conn: &mut DbConnection, agbs: &[String], ids: &[&OptinId]) -> DbResult<usize> {
    let ids: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
    Ok(diesel::update(
        reg::table
            .filter(reg::provider_agb.eq_any(agbs))
            .filter(reg::id.eq_any(ids))
            .filter(reg::opgehaald_op.is_null()),
    )
    .set(reg::opgehaald_op.eq(Some(now())))
    .execute(conn)?)
}

/// Who sees which registrations in a listing.
pub enum Owner<'a> {
    Portal(&'a str),
    /// The providers' (a provider's own, or those a vendor serves).
    Provider(&'a [String]),
}

pub fn list(
    conn: &mut DbConnection,
    owner: Owner<'_>,
    status: Option<RegStatus>,
    limit: i64,
) -> DbResult<Vec<Record>> {
    let mut q = reg::table.select(Row::as_select()).into_boxed();
    q = match owner {
        Owner::Portal(p) => q.filter(reg::portal.eq(p.to_owned())),
        Owner::Provider(a) => q.filter(reg::provider_agb.eq_any(a.to_vec())),
    };
    if let Some(s) = status {
        q = q.filter(reg::status.eq(s.as_str()));
    }
    records(
        q.order((reg::created_at.desc(), reg::id.asc()))
            .limit(limit)
            .load(conn)?,
    )
}

/// Records the provider's handling, only from NogNietVerwerkt (a concurrent
/// second handling finds nothing to update).
pub fn handle(
    conn: &mut DbConnection,
    id: &OptinId,
    status: RegStatus,
    reden_code: Option<&str>,
    reden_tekst: Option<&str>,
    by: &str,
) -> DbResult<NaiveDateTime> {
    let at = now();
    let n = diesel::update(
        reg::table
            .filter(reg::id.eq(id.as_str()))
            .filter(reg::status.eq(RegStatus::NogNietVerwerkt.as_str())),
    )
    .set((
        reg::status.eq(status.as_str()),
        reg::reden_code.eq(reden_code),
        reg::reden_tekst.eq(reden_tekst),
        reg::afgehandeld_op.eq(Some(at)),
        reg::afgehandeld_door.eq(Some(by)),
        reg::updated_at.eq(at),
    ))
    .execute(conn)?;
    if n == 1 {
        Ok(at)
    } else {
        Err(DbError::Conflict("registration already handled".into()))
    }
}
