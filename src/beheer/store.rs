//! Storage of contact details and consent statements (toestemmingsverklaringen).

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{party_contacts as pc, toestemmingsverklaringen as tv};
use crate::db::{DbConnection, DbResult, now};

/// A party's contact person and notification addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Contact {
    pub contactpersoon_naam: Option<String>,
    pub contactpersoon_email: Option<String>,
    pub contactpersoon_telefoon: Option<String>,
    #[serde(default)]
    pub notificatie_emails: Vec<String>,
}

/// Naam, e-mail, telefoon, notification list (JSON).
type ContactRow = (Option<String>, Option<String>, Option<String>, String);

pub fn contact(conn: &mut DbConnection, party: &str) -> DbResult<Contact> {
    let row: Option<ContactRow> = pc::table
        .filter(pc::party.eq(party))
        .select((
            pc::contactpersoon_naam,
            pc::contactpersoon_email,
            pc::contactpersoon_telefoon,
            pc::notificatie_emails,
        ))
        .first(conn)
        .optional()?;
    Ok(match row {
        Some((naam, email, telefoon, list)) => Contact {
            contactpersoon_naam: naam,
            contactpersoon_email: email,
            contactpersoon_telefoon: telefoon,
            notificatie_emails: serde_json::from_str(&list).unwrap_or_default(),
        },
        None => Contact::default(),
    })
}

pub fn set_contact(conn: &mut DbConnection, party: &str, c: &Contact) -> DbResult<()> {
    let list = serde_json::to_string(&c.notificatie_emails).unwrap_or_else(|_| "[]".into());
    let at = now();
    let updated = diesel::update(pc::table.filter(pc::party.eq(party)))
        .set((
            pc::contactpersoon_naam.eq(&c.contactpersoon_naam),
            pc::contactpersoon_email.eq(&c.contactpersoon_email),
            pc::contactpersoon_telefoon.eq(&c.contactpersoon_telefoon),
            pc::notificatie_emails.eq(&list),
            pc::updated_at.eq(at),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(pc::table)
            .values((
                pc::party.eq(party),
                pc::contactpersoon_naam.eq(&c.contactpersoon_naam),
                pc::contactpersoon_email.eq(&c.contactpersoon_email),
                pc::contactpersoon_telefoon.eq(&c.contactpersoon_telefoon),
                pc::notificatie_emails.eq(&list),
                pc::updated_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A provider's consent for a vendor to act for it.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = tv)]
#[serde(rename_all = "camelCase")]
pub struct Verklaring {
    pub id: String,
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

pub fn add_consent(
    conn: &mut DbConnection,
    id: &str,
    provider_agb: &str,
    vendor: &str,
    geldig_tot: Option<NaiveDate>,
    by: &str,
) -> DbResult<Verklaring> {
    diesel::insert_into(tv::table)
        .values((
            tv::id.eq(id),
            tv::provider_agb.eq(provider_agb),
            tv::vendor.eq(vendor),
            tv::geldig_tot.eq(geldig_tot),
            tv::created_at.eq(now()),
            tv::created_by.eq(by),
        ))
        .execute(conn)?;
    Ok(tv::table
        .filter(tv::id.eq(id))
        .select(Verklaring::as_select())
        .first(conn)?)
}

pub fn consents_of_provider(conn: &mut DbConnection, agb: &str) -> DbResult<Vec<Verklaring>> {
    Ok(tv::table
        .filter(tv::provider_agb.eq(agb))
        .order(tv::created_at.asc())
        .select(Verklaring::as_select())
        .load(conn)?)
}

/// Revokes a provider's statement; false when there was none to revoke.
pub fn revoke_consent(conn: &mut DbConnection, agb: &str, id: &str) -> DbResult<bool> {
    Ok(diesel::update(
        tv::table
            .filter(tv::id.eq(id))
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
