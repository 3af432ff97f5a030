//! Consent statements (toestemmingsverklaringen): a provider's consent for a
//! software vendor to act for it. Part of the registry because identity reads
//! them with the certificate on every request (`Caller::consented_agbs`), and
//! the dispatcher reads them when it fans a provider's terugkoppeling out to
//! the vendors that serve it and again before each delivery to one
//! ([`serving`], [`allows`]); the provider's contact person manages them
//! through `beheer`, the operator through the CLI.
//!
//! A statement covers the provider's machtigingsaanvragen (submitting,
//! reading, searching, their terugkoppelingen) and, only when it says so
//! (`optin`), the provider's opt-in registrations.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::toestemmingsverklaringen as tv;
use crate::db::{DbConnection, DbError, DbResult, now};
use crate::ids::ConsentId;

/// A provider's consent for a vendor to act for it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Verklaring {
    #[schema(value_type = String)]
    pub id: ConsentId,
    pub provider_agb: String,
    pub vendor: String,
    pub geldig_tot: Option<NaiveDate>,
    /// The vendor may also read, fetch and handle the provider's opt-in
    /// registrations (and receives their terugkoppelingen).
    pub optin: bool,
    #[serde(serialize_with = "crate::json_time::utc")]
    pub created_at: NaiveDateTime,
    pub created_by: String,
    #[serde(serialize_with = "crate::json_time::utc_opt")]
    pub revoked_at: Option<NaiveDateTime>,
}

/// The stored row; `optin` is an integer on both backends.
#[derive(Queryable, Selectable)]
#[diesel(table_name = tv)]
struct Row {
    id: String,
    provider_agb: String,
    vendor: String,
    geldig_tot: Option<NaiveDate>,
    created_at: NaiveDateTime,
    created_by: String,
    revoked_at: Option<NaiveDateTime>,
    optin: i32,
}

impl TryFrom<Row> for Verklaring {
    type Error = DbError;

    fn try_from(r: Row) -> Result<Self, DbError> {
        Ok(Self {
            id: r.id.parse()?,
            provider_agb: r.provider_agb,
            vendor: r.vendor,
            geldig_tot: r.geldig_tot,
            optin: r.optin != 0,
            created_at: r.created_at,
            created_by: r.created_by,
            revoked_at: r.revoked_at,
        })
    }
}

fn load(rows: Vec<Row>) -> DbResult<Vec<Verklaring>> {
    rows.into_iter().map(Verklaring::try_from).collect()
}

impl Verklaring {
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        self.revoked_at.is_none() && self.geldig_tot.is_none_or(|t| day <= t)
    }
}

pub fn add(
    conn: &mut DbConnection,
    id: &ConsentId,
    provider_agb: &str,
    vendor: &str,
    geldig_tot: Option<NaiveDate>,
    optin: bool,
    by: &str,
) -> DbResult<Verklaring> {
    diesel::insert_into(tv::table)
        .values((
            tv::id.eq(id.as_str()),
            tv::provider_agb.eq(provider_agb),
            tv::vendor.eq(vendor),
            tv::geldig_tot.eq(geldig_tot),
            tv::optin.eq(i32::from(optin)),
            tv::created_at.eq(now()),
            tv::created_by.eq(by),
        ))
        .execute(conn)?;
    tv::table
        .filter(tv::id.eq(id.as_str()))
        .select(Row::as_select())
        .first(conn)?
        .try_into()
}

pub fn of_provider(conn: &mut DbConnection, agb: &str) -> DbResult<Vec<Verklaring>> {
    load(
        tv::table
            .filter(tv::provider_agb.eq(agb))
            .order(tv::created_at.asc())
            .select(Row::as_select())
            .load(conn)?,
    )
}

/// Revokes a provider's statement; false when there was none to revoke.
pub fn revoke(conn: &mut DbConnection, agb: &str, id: &ConsentId) -> DbResult<bool> {
    Ok(diesel::update(
        tv::table
            .filter(tv::id.eq(id.as_str()))
            .filter(tv::provider_agb.eq(agb))
            .filter(tv::revoked_at.is_null()),
    )
    .set(tv::revoked_at.eq(Some(now())))
    .execute(conn)?
        == 1)
}

/// Whom a vendor may act for today: the providers with a valid statement,
/// and of them those whose statement also covers opt-in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consented {
    pub agbs: Vec<String>,
    pub optin_agbs: Vec<String>,
}

/// The AGB-codes a vendor may act for today.
pub fn consented_agbs(
    conn: &mut DbConnection,
    vendor: &str,
    today: NaiveDate,
) -> DbResult<Consented> {
    let list = load(
        tv::table
            .filter(tv::vendor.eq(vendor))
            .filter(tv::revoked_at.is_null())
            .select(Row::as_select())
            .load(conn)?,
    )?;
    let valid: Vec<Verklaring> = list.into_iter().filter(|v| v.valid_on(today)).collect();
    let collect = |optin_only: bool| {
        let mut agbs: Vec<String> = valid
            .iter()
            .filter(|v| v.optin || !optin_only)
            .map(|v| v.provider_agb.clone())
            .collect();
        agbs.sort();
        agbs.dedup();
        agbs
    };
    Ok(Consented {
        agbs: collect(false),
        optin_agbs: collect(true),
    })
}

/// The statements valid today of any of `providers` (AGB-codes): whom the
/// dispatcher also delivers those providers' terugkoppelingen to.
pub fn serving(
    conn: &mut DbConnection,
    providers: &[&str],
    today: NaiveDate,
) -> DbResult<Vec<Verklaring>> {
    if providers.is_empty() {
        return Ok(Vec::new());
    }
    Ok(load(
        tv::table
            .filter(tv::provider_agb.eq_any(providers))
            .filter(tv::revoked_at.is_null())
            .select(Row::as_select())
            .load(conn)?,
    )?
    .into_iter()
    .filter(|v| v.valid_on(today))
    .collect())
}

/// Whether `vendor` holds a statement of `provider` valid today (that also
/// covers opt-in, when `optin`): checked before every delivery to a vendor,
/// so a revoked or expired statement stops what was still waiting.
pub fn allows(
    conn: &mut DbConnection,
    vendor: &str,
    provider: &str,
    optin: bool,
    today: NaiveDate,
) -> DbResult<bool> {
    let list = load(
        tv::table
            .filter(tv::vendor.eq(vendor))
            .filter(tv::provider_agb.eq(provider))
            .filter(tv::revoked_at.is_null())
            .select(Row::as_select())
            .load(conn)?,
    )?;
    Ok(list
        .iter()
        .any(|v| v.valid_on(today) && (v.optin || !optin)))
}
