//! Storage of a party's contact details (the consent statements are the
//! registry's: `registry::consent`).

use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::party_contacts as pc;
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
