//! Recording delivery attempts: each attempt's row, the delivery moved on
//! (delivered, retried, dead, its endpoint disabled) if this instance still
//! holds the lease, and an audit row for a delivered push of patient data.
//!
//! [`complete_all`] records a round's finished attempts together. The common
//! case — delivered, to an endpoint that was not failing — is one multi-row
//! `INSERT` of the attempts and one `UPDATE … RETURNING` of the deliveries for
//! the whole chunk: on PostgreSQL every statement is a round trip, and the
//! one-by-one path (a savepoint, an insert, an update, a release per
//! attempt) held the drain rate at four round trips per callback. Everything
//! else (failures, a failing endpoint that recovers, `410 Gone`) goes the
//! one-by-one way, [`complete`], in a savepoint each.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamp};

use super::endpoints;
use super::lease::Leased;
use super::queue::{AFGELEVERD, DOOD, WACHTEND, add};
use super::schedule::{self, Verdict};
use super::transport::AttemptOutcome;
use crate::db::pg_prepared::{Statement, bind, prepared};
use crate::db::schema::{terugkoppeling_attempts as att, terugkoppeling_deliveries as del};
use crate::db::{DbConnection, DbError, DbResult, write_tx};

/// The retry policy the queue applies.
#[derive(Debug, Clone)]
pub struct Policy {
    pub schedule: Vec<Duration>,
    pub jitter: f64,
    pub disable_after: Duration,
}

/// What completing an attempt led to (for metrics and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    Delivered,
    Retry,
    Dead,
    EndpointDisabled,
    /// Our lease had expired and another instance took over.
    LeaseLost,
}

/// Records an attempt and moves the delivery on, if we still hold its lease.
pub fn complete(
    conn: &mut DbConnection,
    owner: &str,
    l: &Leased,
    o: &AttemptOutcome,
    policy: &Policy,
    now: NaiveDateTime,
) -> DbResult<Completion> {
    write_tx(conn, |conn| {
        diesel::insert_into(att::table)
            .values(attempt_row(l, o, owner, now))
            .execute(conn)?;
        let mine = del::table
            .filter(del::id.eq(l.delivery_id))
            .filter(del::lease_owner.eq(owner))
            .filter(del::status.eq(WACHTEND));
        let verdict = schedule::verdict(o.status);
        let attempts = l.attempts + 1;
        let (status, next, completion) = match verdict {
            Verdict::Delivered => (AFGELEVERD, now, Completion::Delivered),
            Verdict::Gone => (WACHTEND, now, Completion::EndpointDisabled),
            Verdict::Failed => {
                let done = usize::try_from(l.attempts).unwrap_or(usize::MAX);
                match schedule::next_delay(
                    &policy.schedule,
                    done,
                    policy.jitter,
                    schedule::random_unit(),
                    o.retry_after,
                ) {
                    Some(d) => (WACHTEND, add(now, d), Completion::Retry),
                    None => (DOOD, now, Completion::Dead),
                }
            }
        };
        let changed = diesel::update(mine)
            .set((
                del::status.eq(status),
                del::attempts.eq(attempts),
                del::next_attempt_at.eq(next),
                del::lease_owner.eq(None::<String>),
                del::lease_until.eq(None::<NaiveDateTime>),
                del::last_error.eq(&o.error),
                del::updated_at.eq(now),
                del::delivered_at.eq((status == AFGELEVERD).then_some(now)),
            ))
            .execute(conn)?;
        if changed == 0 {
            return Ok(Completion::LeaseLost);
        }
        let delivered = verdict == Verdict::Delivered;
        if delivered {
            audit_delivered(conn, l, attempts)?;
        }
        // A success on an endpoint that was not failing when leased changes
        // nothing there: skip the statement (one per callback on the hot path).
        let failing_since = if delivered && l.endpoint.failing_since.is_none() {
            None
        } else {
            endpoints::note_outcome(conn, l.endpoint.id, delivered, now)?
        };
        if verdict == Verdict::Gone {
            endpoints::disable(
                conn,
                l.endpoint.id,
                &format!(
                    "HTTP 410 Gone ontvangen op {}",
                    now.format("%Y-%m-%d %H:%M:%S UTC")
                ),
                now,
            )?;
            return Ok(Completion::EndpointDisabled);
        }
        if let Some(since) = failing_since {
            if now - since
                >= chrono::TimeDelta::from_std(policy.disable_after)
                    .unwrap_or(chrono::TimeDelta::MAX)
            {
                endpoints::disable(
                    conn,
                    l.endpoint.id,
                    &format!(
                        "Alleen mislukte afleveringen sinds {}; laatste fout: {}",
                        since.format("%Y-%m-%d %H:%M:%S UTC"),
                        o.error.as_deref().unwrap_or("onbekend")
                    ),
                    now,
                )?;
                return Ok(Completion::EndpointDisabled);
            }
        }
        Ok(completion)
    })
}

/// An attempt's row as inserted.
type AttemptRow = (
    diesel::dsl::Eq<att::delivery_id, i64>,
    diesel::dsl::Eq<att::at, NaiveDateTime>,
    diesel::dsl::Eq<att::http_status, Option<i32>>,
    diesel::dsl::Eq<att::latency_ms, i64>,
    diesel::dsl::Eq<att::error, Option<String>>,
    diesel::dsl::Eq<att::instance, String>,
);

/// The attempt's row as inserted.
fn attempt_row(l: &Leased, o: &AttemptOutcome, owner: &str, now: NaiveDateTime) -> AttemptRow {
    (
        att::delivery_id.eq(l.delivery_id),
        att::at.eq(now),
        att::http_status.eq(o.status.map(i32::from)),
        att::latency_ms.eq(latency_ms(o)),
        att::error.eq(o.error.clone()),
        att::instance.eq(owner.to_owned()),
    )
}

fn latency_ms(o: &AttemptOutcome) -> i64 {
    i64::try_from(o.latency.as_millis()).unwrap_or(i64::MAX)
}

/// PostgreSQL: a chunk's delivered attempts (`$2`, with their HTTP status,
/// latency and error as arrays `$4`–`$6`, at `$1` by `$3`) and the move of
/// their deliveries to delivered, where `$3` still holds the lease, as one
/// prepared statement: one round trip, and no statement planned per chunk
/// (diesel plans its `UPDATE`s and its multi-row inserts every time).
/// Returns the deliveries moved.
struct DeliveredPg;
impl Statement for DeliveredPg {
    const SQL: &'static str = "WITH a AS (INSERT INTO terugkoppeling_attempts \
        (delivery_id, at, http_status, latency_ms, error, instance) \
        SELECT x.d, $1, x.s, x.l, x.e, $3 FROM unnest($2, $4, $5, $6) AS x(d, s, l, e)) \
        UPDATE terugkoppeling_deliveries SET status = 'afgeleverd', attempts = attempts + 1, \
        next_attempt_at = $1, lease_owner = NULL, lease_until = NULL, last_error = NULL, \
        updated_at = $1, delivered_at = $1 \
        WHERE id = ANY($2) AND lease_owner = $3 AND status = 'wachtend' RETURNING id";
}

#[derive(QueryableByName)]
struct DeliveredRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Whether an attempt can be recorded in the chunk's shared statements:
/// delivered, to an endpoint that was not failing when leased (so nothing
/// on the endpoint changes).
fn plain_success(l: &Leased, o: &AttemptOutcome) -> bool {
    schedule::verdict(o.status) == Verdict::Delivered && l.endpoint.failing_since.is_none()
}

/// Records the attempts of one chunk in the caller's write transaction; the
/// results are in the order of `items`. An error in the shared statements
/// fails the whole chunk (the caller's transaction is then rolled back and
/// every lease runs out, so all are sent again: at least once); an error in
/// one attempt of the one-by-one path fails only that attempt.
pub fn complete_all(
    conn: &mut DbConnection,
    owner: &str,
    items: &[(&Leased, &AttemptOutcome)],
    policy: &Policy,
    now: NaiveDateTime,
) -> DbResult<Vec<Result<Completion, DbError>>> {
    let plain: Vec<&(&Leased, &AttemptOutcome)> =
        items.iter().filter(|(l, o)| plain_success(l, o)).collect();
    let mut delivered: Vec<i64> = Vec::new();
    if !plain.is_empty() {
        let ids: Vec<i64> = plain.iter().map(|(l, _)| l.delivery_id).collect();
        delivered = match conn {
            DbConnection::Pg(c) => {
                let status: Vec<Option<i32>> =
                    plain.iter().map(|(_, o)| o.status.map(i32::from)).collect();
                let latency: Vec<i64> = plain.iter().map(|(_, o)| latency_ms(o)).collect();
                let error: Vec<Option<&str>> =
                    plain.iter().map(|(_, o)| o.error.as_deref()).collect();
                prepared::<DeliveredPg, _>((
                    bind::<Timestamp, _>(now),
                    bind::<Array<BigInt>, _>(&ids),
                    bind::<Text, _>(owner),
                    bind::<Array<Nullable<Integer>>, _>(&status),
                    bind::<Array<BigInt>, _>(&latency),
                    bind::<Array<Nullable<Text>>, _>(&error),
                ))
                .load::<DeliveredRow>(c)?
                .into_iter()
                .map(|r| r.id)
                .collect()
            }
            DbConnection::Sqlite(c) => {
                let rows: Vec<_> = plain
                    .iter()
                    .map(|(l, o)| attempt_row(l, o, owner, now))
                    .collect();
                diesel::insert_into(att::table).values(&rows).execute(c)?;
                diesel::update(
                    del::table
                        .filter(del::id.eq_any(ids))
                        .filter(del::lease_owner.eq(owner))
                        .filter(del::status.eq(WACHTEND)),
                )
                .set((
                    del::status.eq(AFGELEVERD),
                    del::attempts.eq(del::attempts + 1),
                    del::next_attempt_at.eq(now),
                    del::lease_owner.eq(None::<String>),
                    del::lease_until.eq(None::<NaiveDateTime>),
                    del::last_error.eq(None::<String>),
                    del::updated_at.eq(now),
                    del::delivered_at.eq(Some(now)),
                ))
                .returning(del::id)
                .get_results(c)?
            }
        };
        for (l, _) in &plain {
            if delivered.contains(&l.delivery_id) {
                audit_delivered(conn, l, l.attempts + 1)?;
            }
        }
    }
    items
        .iter()
        .map(|(l, o)| {
            Ok(if plain_success(l, o) {
                Ok(if delivered.contains(&l.delivery_id) {
                    Completion::Delivered
                } else {
                    Completion::LeaseLost
                })
            } else {
                complete(conn, owner, l, o, policy, now)
            })
        })
        .collect()
}

/// Patient data left the platform: one audit row per delivered push, in the
/// caller's transaction (no savepoint of its own).
fn audit_delivered(conn: &mut DbConnection, l: &Leased, attempt: i32) -> DbResult<()> {
    if !crate::outbox::kinds::audited(&l.event_type) {
        return Ok(());
    }
    crate::audit::insert(
        conn,
        &crate::audit::AuditEntry {
            fingerprint: None,
            actor: crate::audit::PLATFORM.to_owned(),
            acting_for: super::intermediary::acting_for(l),
            action: "terugkoppeling.afgeleverd",
            object_type: "terugkoppeling",
            object_id: Some(l.public_id.to_string()),
            outcome: "ok",
            detail: serde_json::json!({
                "ontvanger": l.endpoint.party,
                "soort": l.event_type,
                "url": l.endpoint.url,
                "poging": attempt,
            }),
        },
    )
}

/// Gives back leases this instance will not use (deliveries that waited here
/// too long to be sent within their lease): due again at once, for any
/// instance, instead of after the lease runs out.
pub fn give_back(
    conn: &mut DbConnection,
    owner: &str,
    ids: &[i64],
    now: NaiveDateTime,
) -> DbResult<usize> {
    Ok(diesel::update(
        del::table
            .filter(del::id.eq_any(ids))
            .filter(del::lease_owner.eq(owner))
            .filter(del::status.eq(WACHTEND)),
    )
    .set((
        del::lease_owner.eq(None::<String>),
        del::lease_until.eq(None::<NaiveDateTime>),
        del::updated_at.eq(now),
    ))
    .execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statement writes the statuses as literals (a partial index is
    /// only used for a literal): they must be the ones the rest reads.
    #[test]
    fn the_pg_statement_writes_the_queue_statuses() {
        let sql = <DeliveredPg as Statement>::SQL;
        assert!(
            sql.contains(&format!("SET status = '{AFGELEVERD}'")),
            "{sql}"
        );
        assert!(sql.contains(&format!("AND status = '{WACHTEND}'")), "{sql}");
    }
}
