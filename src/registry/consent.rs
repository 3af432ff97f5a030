//! Consent statements (toestemmingsverklaringen): a provider's consent for a
//! software vendor to act for it. Part of the registry because identity reads
//! them with the certificate on every request (`Caller::consented_agbs`); the
//! provider's contact person manages them through `beheer`, the operator
//! through the CLI.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::toestemmingsverklaringen as tv;
use crate::db::{DbConnection, DbResult, now};
use crate::ids::ConsentId;

/// A provider's consent for a vendor to act for it.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = tv)]
#[serde(rename_all = "camelCase")]
pub struct Verklaring {
    #[diesel(deserialize_as = String)]
    #[schema(value_type = String)]
    pub id: ConsentId,
    pub provider_agb: String,
    pub vendor: String,
    pub geldig_tot: Option<NaiveDate>,
    #[serde(serialize_with = "crate::json_time::utc")]
    pub created_at: NaiveDateTime,
    pub created_by: String,
    #[serde(serialize_with = "crate::json_time::utc_opt")]
    pub revoked_at: Option<NaiveDateTime>,
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
    by: &str,
) -> DbResult<Verklaring> {
    diesel::insert_into(tv::table)
        .values((
            tv::id.eq(id.as_str()),
            tv::provider_agb.eq(provider_agb),
            tv::vendor.eq(vendor),
            tv::geldig_tot.eq(geldig_tot),
            tv::created_at.eq(now()),
            tv::created_by.eq(by),
        ))
        .execute(conn)?;
    Ok(tv::table
        .filter(tv::id.eq(id.as_str()))
        .select(Verklaring::as_select())
        .first(conn)?)
}

pub fn of_provider(conn: &mut DbConnection, agb: &str) -> DbResult<Vec<Verklaring>> {
    Ok(tv::table
        .filter(tv::provider_agb.eq(agb))
        .order(tv::created_at.asc())
        .select(Verklaring::as_select())
        .load(conn)?)
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

/// The AGB-codes a vendor may act for today.
pub fn consented_agbs(
    conn: &mut DbConnection,
    vendor: &str,
    today: NaiveDate,
) -> DbResult<Vec<String>> {
    let list: Vec<Verklaring> = tv::table
        .filter(tv::vendor.eq(vendor))
        .filter(tv::revoked_at.is_null())
        .select(Verklaring::as_select())
        .load(conn)?;
    let mut agbs: Vec<String> = list
        .into_iter()
        .filter(|v| v.valid_on(today))
        .map(|v| v.provider_agb)
        .collect();
    agbs.sort();
    agbs.dedup();
    Ok(agbs)
}
