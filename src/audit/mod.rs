//! The audit log (NEN 7513 style): who did what to which object, when, and with
//! what outcome. Written in the same transaction as the change it describes.
//! `detail` is structured JSON and never carries a BSN or a message body.
//!
//! Every row is hash-chained (`chain`: tamper evidence, checked by `verify`).
//! A read that shows several objects at once (a search page) is one row
//! naming them (`shown_rows`), found by each through `index`.
//! The operator's queries are in `query` (search by patient, party,
//! certificate, object, action and period) and `overview` (the access
//! overview a patient may ask for, in Dutch); each is audited itself.

pub mod chain;
pub mod index;
pub mod overview;
mod pg_append;
pub mod purge;
pub mod query;
pub mod verify;

use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{audit_log, audit_objects};
use crate::db::{Db, DbConnection, DbError, DbResult, now, write_tx};

/// The actor of CLI commands.
pub const OPERATOR: &str = "operator";
/// The actor of what the platform does by itself (pushing terugkoppelingen).
pub const PLATFORM: &str = "platform";

#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// Certificate of the caller; `None` for the operator CLI.
    pub fingerprint: Option<&'a str>,
    /// Party reference of the caller (`AGB:…`) or [`OPERATOR`].
    pub actor: String,
    /// The party acted for, when an intermediary acts for a provider.
    pub acting_for: Option<String>,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: Option<String>,
    pub outcome: &'a str,
    pub detail: serde_json::Value,
}

/// Writes one audit row: in the caller's transaction when there is one
/// (a savepoint), otherwise as a write of its own. Reads are audited too, and
/// on SQLite that write must queue with the others (`db::write_tx`) rather
/// than take the write lock on the reader's connection, where it waited in
/// SQLite's sleeping busy handler (p99 of `GET` by id 200+ ms under load).
pub fn record(conn: &mut DbConnection, e: &AuditEntry<'_>) -> DbResult<()> {
    write_tx(conn, |c| insert(c, e))
}

/// Several audit rows as one write (a pull that returned many messages).
pub fn record_all(conn: &mut DbConnection, entries: &[AuditEntry<'_>]) -> DbResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    write_tx(conn, |c| chain::append(c, rows(entries)))
}

/// Writes one audit row on `conn` as it is: for callers already inside a
/// write transaction that want no savepoint of their own (the dispatcher's
/// record of a delivered push). On PostgreSQL the row is written, chained,
/// just before that transaction commits (`chain`).
pub fn insert(conn: &mut DbConnection, e: &AuditEntry<'_>) -> DbResult<()> {
    chain::append(conn, vec![content(e)])
}

/// The rows of `entries` as they will be written, owned: for
/// [`read_then_record`].
pub fn rows(entries: &[AuditEntry<'_>]) -> Vec<chain::Content> {
    entries.iter().map(content).collect()
}

/// Runs `read` and then writes the audit rows it returns, and answers once
/// they have committed: what a read shows is on record before it is shown.
/// The rows are written after the read, not from inside it (`Db::read_then_write`).
/// A read refused before it shows anything records its refusal itself,
/// inside `read`.
pub async fn read_then_record<T, E, F>(db: &Db, read: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<(T, Vec<chain::Content>), E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    db.read_then_write(
        move |c| {
            let (value, rows) = read(c)?;
            Ok((value, (!rows.is_empty()).then_some(rows)))
        },
        chain::append,
    )
    .await
}

fn content(e: &AuditEntry<'_>) -> chain::Content {
    chain::Content {
        at: now(),
        fingerprint: e.fingerprint.map(str::to_owned),
        actor: e.actor.clone(),
        acting_for: e.acting_for.clone(),
        action: e.action.to_owned(),
        object_type: e.object_type.to_owned(),
        object_id: e.object_id.clone(),
        outcome: e.outcome.to_owned(),
        detail: e.detail.to_string(),
    }
}

/// The rows of a read that showed several objects of `object_type` at once
/// (a search page), to write after it ([`read_then_record`]): one row per
/// party acted for (`shown`: each object's id and the party acted for on
/// it), naming its objects in `detail.getoond`, which the hash covers.
/// [`index`] makes them findable by object. A row per object shown was
/// most of a page's cost (docs/benchmarks.md).
pub fn shown_rows(
    caller: &dyn AsActor,
    action: &str,
    object_type: &str,
    shown: Vec<(String, Option<String>)>,
) -> Vec<chain::Content> {
    let mut groups: Vec<(Option<String>, Vec<String>)> = Vec::new();
    for (id, acting_for) in shown {
        match groups.iter_mut().find(|(a, _)| *a == acting_for) {
            Some((_, ids)) => ids.push(id),
            None => groups.push((acting_for, vec![id])),
        }
    }
    let actor = caller.as_actor();
    groups
        .into_iter()
        .map(|(acting_for, ids)| {
            content(&AuditEntry {
                fingerprint: actor.fingerprint.as_deref(),
                actor: actor.name.clone(),
                acting_for,
                action,
                object_type,
                object_id: None,
                outcome: "ok",
                detail: serde_json::json!({ SHOWN: ids }),
            })
        })
        .collect()
}

/// The key in `detail` under which a row about several objects names them.
pub const SHOWN: &str = "getoond";

/// Who made a change, as the log records it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Certificate of the caller; `None` for the operator CLI.
    pub fingerprint: Option<String>,
    /// Party reference of the caller (`AGB:…`) or [`OPERATOR`].
    pub name: String,
}

impl Actor {
    pub fn operator() -> Self {
        Self {
            fingerprint: None,
            name: OPERATOR.into(),
        }
    }
}

/// Whatever acts under a certificate and is recorded as an [`Actor`]:
/// identity's `Caller` implements it. A trait, so the log depends on no
/// module above the store (identity reads the registry, which audits);
/// `Sync`, so a [`ByCaller`] may be held across an `await`.
pub trait AsActor: Sync {
    fn as_actor(&self) -> Actor;
}

/// What a certificate-authenticated caller did to an object of `object_type`.
pub struct ByCaller<'a> {
    pub caller: &'a dyn AsActor,
    pub object_type: &'a str,
    /// The provider an intermediary acted for.
    pub acting_for: Option<String>,
}

impl ByCaller<'_> {
    pub fn record(
        &self,
        conn: &mut DbConnection,
        action: &str,
        id: Option<&str>,
        outcome: &str,
        detail: serde_json::Value,
    ) -> DbResult<()> {
        let actor = self.caller.as_actor();
        record(conn, &self.entry(&actor, action, id, outcome, detail))
    }

    /// As [`Self::record`], on `conn` as it is ([`insert`]): for a caller
    /// already inside its write transaction, where a savepoint of its own
    /// would cost two round trips and undo nothing the transaction does not.
    pub fn insert(
        &self,
        conn: &mut DbConnection,
        action: &str,
        id: Option<&str>,
        outcome: &str,
        detail: serde_json::Value,
    ) -> DbResult<()> {
        let actor = self.caller.as_actor();
        insert(conn, &self.entry(&actor, action, id, outcome, detail))
    }

    /// As [`Self::record`], the row to write later ([`read_then_record`]).
    pub fn row(
        &self,
        action: &str,
        id: Option<&str>,
        outcome: &str,
        detail: serde_json::Value,
    ) -> chain::Content {
        let actor = self.caller.as_actor();
        content(&self.entry(&actor, action, id, outcome, detail))
    }

    fn entry<'e>(
        &'e self,
        actor: &'e Actor,
        action: &'e str,
        id: Option<&str>,
        outcome: &'e str,
        detail: serde_json::Value,
    ) -> AuditEntry<'e> {
        AuditEntry {
            fingerprint: actor.fingerprint.as_deref(),
            actor: actor.name.clone(),
            acting_for: self.acting_for.clone(),
            action,
            object_type: self.object_type,
            object_id: id.map(str::to_owned),
            outcome,
            detail,
        }
    }
}

/// One audit row as read back.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = audit_log)]
pub struct AuditRecord {
    pub id: i64,
    #[serde(serialize_with = "crate::json_time::utc")]
    pub at: chrono::NaiveDateTime,
    pub fingerprint: Option<String>,
    pub actor: String,
    pub acting_for: Option<String>,
    pub action: String,
    pub object_type: String,
    pub object_id: Option<String>,
    pub outcome: String,
    pub detail: String,
}

/// Audit rows about one object, oldest first: its own and those of reads
/// that showed it among others ([`index`]), each with `object_id` set to it.
pub fn for_object(
    conn: &mut DbConnection,
    object_type: &str,
    object_id: &str,
) -> DbResult<Vec<AuditRecord>> {
    index::catch_up(conn)?;
    let shown_in = audit_objects::table
        .filter(audit_objects::object_id.eq(object_id))
        .select(audit_objects::audit_id);
    let mut rows: Vec<AuditRecord> = audit_log::table
        .filter(audit_log::object_type.eq(object_type))
        .filter(
            audit_log::object_id
                .eq(object_id)
                .or(audit_log::id.eq_any(shown_in)),
        )
        .order(audit_log::id)
        .select(AuditRecord::as_select())
        .load(conn)?;
    for r in &mut rows {
        r.object_id = Some(object_id.to_owned());
    }
    Ok(rows)
}

/// A party's change history: changes to the party itself and to any of its
/// certificates, oldest first (at most the last 1000).
pub fn for_party(
    conn: &mut DbConnection,
    party: &str,
    fingerprints: &[String],
) -> DbResult<Vec<AuditRecord>> {
    let mut rows: Vec<AuditRecord> = audit_log::table
        .filter(
            audit_log::object_type
                .eq("partij")
                .and(audit_log::object_id.eq(party))
                .or(audit_log::object_type
                    .eq("certificaat")
                    .and(audit_log::object_id.eq_any(fingerprints))),
        )
        .order(audit_log::id.desc())
        .limit(1000)
        .select(AuditRecord::as_select())
        .load(conn)?;
    rows.reverse();
    Ok(rows)
}
