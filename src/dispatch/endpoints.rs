//! Registered callback endpoints (`terugkoppeling_endpoints`): one per party,
//! with its signing secret(s), format, event types, and whether it is active,
//! disabled (with the reason) or removed.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::signature;
use crate::db::schema::{terugkoppeling_deliveries, terugkoppeling_endpoints as ep};
use crate::db::{DbConnection, DbError, DbResult, write_tx};

pub const ACTIEF: &str = "actief";
pub const UITGESCHAKELD: &str = "uitgeschakeld";
pub const VERWIJDERD: &str = "verwijderd";

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = ep)]
pub struct Endpoint {
    pub id: i64,
    pub party: String,
    pub url: String,
    pub format: String,
    pub ca_bundle: Option<String>,
    pub event_types: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<NaiveDateTime>,
    pub status: String,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Endpoint {
    pub fn event_types(&self) -> Vec<&str> {
        self.event_types.split_whitespace().collect()
    }

    pub fn subscribes(&self, event_type: &str) -> bool {
        self.event_types().contains(&event_type)
    }

    /// The secrets that sign at `now`: the current one, and the previous
    /// one during its grace period.
    pub fn signing_secrets(&self, now: NaiveDateTime) -> Vec<String> {
        let mut v = vec![self.secret.clone()];
        if let (Some(prev), Some(until)) = (&self.previous_secret, self.previous_secret_until) {
            if now < until {
                v.push(prev.clone());
            }
        }
        v
    }
}

/// What a registration asks for.
#[derive(Debug, Clone)]
pub struct Registration {
    pub party: String,
    pub url: String,
    pub format: String,
    pub ca_bundle: Option<String>,
    pub event_types: Vec<String>,
}

fn secret() -> DbResult<String> {
    signature::new_secret().map_err(|e| DbError::Invalid(e.to_string()))
}

pub fn find(conn: &mut DbConnection, party: &str) -> DbResult<Option<Endpoint>> {
    Ok(ep::table
        .filter(ep::party.eq(party))
        .filter(ep::status.ne(VERWIJDERD))
        .select(Endpoint::as_select())
        .first(conn)
        .optional()?)
}

pub fn by_id(conn: &mut DbConnection, id: i64) -> DbResult<Endpoint> {
    Ok(ep::table
        .find(id)
        .select(Endpoint::as_select())
        .first(conn)?)
}

/// Creates or replaces the party's endpoint and (re)activates it. A new or
/// previously removed endpoint gets a fresh secret; a changed one keeps its
/// secret so the provider's receiver keeps verifying.
pub fn upsert(conn: &mut DbConnection, r: &Registration, now: NaiveDateTime) -> DbResult<Endpoint> {
    let events = r.event_types.join(" ");
    write_tx(conn, |conn| {
        let existing: Option<Endpoint> = ep::table
            .filter(ep::party.eq(&r.party))
            .select(Endpoint::as_select())
            .first(conn)
            .optional()?;
        match existing {
            Some(e) => {
                let fresh = e.status == VERWIJDERD;
                let new_secret = if fresh { secret()? } else { e.secret.clone() };
                diesel::update(ep::table.find(e.id))
                    .set((
                        ep::url.eq(&r.url),
                        ep::format.eq(&r.format),
                        ep::ca_bundle.eq(&r.ca_bundle),
                        ep::event_types.eq(&events),
                        ep::secret.eq(&new_secret),
                        ep::status.eq(ACTIEF),
                        ep::disabled_reason.eq(None::<String>),
                        ep::failing_since.eq(None::<NaiveDateTime>),
                        ep::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                if fresh {
                    diesel::update(ep::table.find(e.id))
                        .set((
                            ep::previous_secret.eq(None::<String>),
                            ep::previous_secret_until.eq(None::<NaiveDateTime>),
                            ep::created_at.eq(now),
                        ))
                        .execute(conn)?;
                }
                by_id(conn, e.id)
            }
            None => {
                diesel::insert_into(ep::table)
                    .values((
                        ep::party.eq(&r.party),
                        ep::url.eq(&r.url),
                        ep::format.eq(&r.format),
                        ep::ca_bundle.eq(&r.ca_bundle),
                        ep::event_types.eq(&events),
                        ep::secret.eq(secret()?),
                        ep::status.eq(ACTIEF),
                        ep::created_at.eq(now),
                        ep::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                find(conn, &r.party)?.ok_or(DbError::NotFound)
            }
        }
    })
}

/// Removes the party's endpoint; its undelivered deliveries lapse
/// (`vervallen`) — they stay available by pull.
pub fn remove(conn: &mut DbConnection, party: &str, now: NaiveDateTime) -> DbResult<bool> {
    write_tx(conn, |conn| {
        let Some(e) = find(conn, party)? else {
            return Ok(false);
        };
        diesel::update(ep::table.find(e.id))
            .set((ep::status.eq(VERWIJDERD), ep::updated_at.eq(now)))
            .execute(conn)?;
        diesel::update(
            terugkoppeling_deliveries::table
                .filter(terugkoppeling_deliveries::endpoint_id.eq(e.id))
                .filter(terugkoppeling_deliveries::status.eq(super::queue::WACHTEND)),
        )
        .set((
            terugkoppeling_deliveries::status.eq(super::queue::VERVALLEN),
            terugkoppeling_deliveries::lease_owner.eq(None::<String>),
            terugkoppeling_deliveries::updated_at.eq(now),
        ))
        .execute(conn)?;
        Ok(true)
    })
}

/// A new secret; the previous one keeps signing until `grace_until`.
pub fn rotate(
    conn: &mut DbConnection,
    party: &str,
    now: NaiveDateTime,
    grace_until: NaiveDateTime,
) -> DbResult<Endpoint> {
    write_tx(conn, |conn| {
        let e = find(conn, party)?.ok_or(DbError::NotFound)?;
        diesel::update(ep::table.find(e.id))
            .set((
                ep::previous_secret.eq(Some(&e.secret)),
                ep::previous_secret_until.eq(Some(grace_until)),
                ep::secret.eq(secret()?),
                ep::updated_at.eq(now),
            ))
            .execute(conn)?;
        by_id(conn, e.id)
    })
}

/// Disables an endpoint with a reason the provider can read.
pub fn disable(conn: &mut DbConnection, id: i64, reason: &str, now: NaiveDateTime) -> DbResult<()> {
    diesel::update(ep::table.find(id).filter(ep::status.eq(ACTIEF)))
        .set((
            ep::status.eq(UITGESCHAKELD),
            ep::disabled_reason.eq(Some(reason)),
            ep::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records the outcome on the endpoint's failure clock: a success clears it,
/// the first failure starts it. Returns when the failures started.
pub fn note_outcome(
    conn: &mut DbConnection,
    id: i64,
    success: bool,
    now: NaiveDateTime,
) -> DbResult<Option<NaiveDateTime>> {
    if success {
        diesel::update(ep::table.find(id).filter(ep::failing_since.is_not_null()))
            .set(ep::failing_since.eq(None::<NaiveDateTime>))
            .execute(conn)?;
        return Ok(None);
    }
    diesel::update(ep::table.find(id).filter(ep::failing_since.is_null()))
        .set(ep::failing_since.eq(Some(now)))
        .execute(conn)?;
    Ok(ep::table
        .find(id)
        .select(ep::failing_since)
        .first::<Option<NaiveDateTime>>(conn)?)
}

/// The `disabled_reason` of an endpoint held while its party is deactivated.
pub const PARTY_DEACTIVATED: &str = "partij gedeactiveerd door de beheerder";

/// Holds the party's active endpoint while the party is deactivated: it is
/// disabled with [`PARTY_DEACTIVATED`], so nothing is sent to it, while its
/// deliveries keep waiting (new terugkoppelingen still fan out to it) —
/// nothing is lost or lapses. Returns how many endpoints were held.
pub fn hold_for_party(conn: &mut DbConnection, party: &str, now: NaiveDateTime) -> DbResult<usize> {
    Ok(diesel::update(
        ep::table
            .filter(ep::party.eq(party))
            .filter(ep::status.eq(ACTIEF)),
    )
    .set((
        ep::status.eq(UITGESCHAKELD),
        ep::disabled_reason.eq(Some(PARTY_DEACTIVATED)),
        ep::updated_at.eq(now),
    ))
    .execute(conn)?)
}

/// Undoes [`hold_for_party`] when the party is reactivated: only an endpoint
/// held for the deactivation becomes active again (one disabled for its own
/// failures stays disabled), with a fresh failure clock; its waiting
/// deliveries then go out in their order. Returns how many were released.
pub fn release_for_party(
    conn: &mut DbConnection,
    party: &str,
    now: NaiveDateTime,
) -> DbResult<usize> {
    Ok(diesel::update(
        ep::table
            .filter(ep::party.eq(party))
            .filter(ep::status.eq(UITGESCHAKELD))
            .filter(ep::disabled_reason.eq(PARTY_DEACTIVATED)),
    )
    .set((
        ep::status.eq(ACTIEF),
        ep::disabled_reason.eq(None::<String>),
        ep::failing_since.eq(None::<NaiveDateTime>),
        ep::updated_at.eq(now),
    ))
    .execute(conn)?)
}
