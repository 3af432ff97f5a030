//! Tamper evidence: every audit row carries a SHA-256 hash over its own
//! content and the hash of its predecessor in its chain, so a row altered,
//! removed or slipped in afterwards breaks the chain at that point
//! ([`super::verify`] walks it).
//!
//! **Chains (lanes).** There are [`LANES`] chains, each with a head row in
//! `audit_chains` (last seq and hash). On PostgreSQL a transaction's audit
//! rows are not chained when they are written but just before its `COMMIT`
//! (`db::before_commit`): it then locks the first lane no other committing
//! transaction holds (`FOR UPDATE SKIP LOCKED`), appends all its rows there
//! and moves the head. The lock is held for the commit only and is the last
//! lock the transaction takes, so concurrent writers — of one instance or of
//! several on one database — append side by side and cannot deadlock on it;
//! only when every lane is busy does a transaction wait, for one lane. On
//! SQLite the file's single writer already orders everything: rows are
//! chained as they are written, in lane 0. Within a lane, seq order is
//! commit order.
//!
//! **Encoding** (version 1; docs/privacy.md). The hash is SHA-256 (OpenSSL)
//! over the bytes `machtigingen-audit-v1` followed by twelve fields in this
//! order: chain, seq (both in decimal), prev_hash, at (`%Y-%m-%dT%H:%M:%S%.6fZ`),
//! fingerprint, actor, acting_for, action, object_type, object_id, outcome,
//! detail (the stored JSON text). A present field is the byte 1, its length
//! in bytes as 8 bytes big-endian, and its UTF-8 bytes; an absent (NULL)
//! field is the byte 0. The row id is not covered: the database assigns it,
//! and the chain position (chain, seq) is what identifies a row's place.
//! Hashes are stored as lowercase hex; the first row of a fresh chain
//! follows [`GENESIS`].
//!
//! **Anchors.** The retention purge removes a chain's oldest rows only as a
//! prefix and records the last removed row's seq and hash as the chain's
//! anchor, in the same transaction (`super::purge`); verification starts there.

use std::any::Any;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use openssl::hash::{Hasher, MessageDigest};

use crate::db::schema::{audit_chains, audit_log};
use crate::db::{DbConnection, DbError, DbResult, write_tx};

/// How many chains there are (rows of `audit_chains`, made by the migration).
pub const LANES: i64 = 16;

/// The hash a chain's first row follows.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a row's hash covers besides its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub at: NaiveDateTime,
    pub fingerprint: Option<String>,
    pub actor: String,
    pub acting_for: Option<String>,
    pub action: String,
    pub object_type: String,
    pub object_id: Option<String>,
    pub outcome: String,
    pub detail: String,
}

/// A row's place in its chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    pub chain: i64,
    pub seq: i64,
    pub prev_hash: &'a str,
}

fn field(h: &mut Hasher, value: Option<&str>) -> Result<(), openssl::error::ErrorStack> {
    match value {
        None => h.update(&[0]),
        Some(v) => {
            h.update(&[1])?;
            h.update(&(v.len() as u64).to_be_bytes())?;
            h.update(v.as_bytes())
        }
    }
}

/// The row's hash in the encoding of the module docs, as lowercase hex.
pub fn hash(place: Place<'_>, c: &Content) -> DbResult<String> {
    let digest = (|| {
        let mut h = Hasher::new(MessageDigest::sha256())?;
        h.update(b"machtigingen-audit-v1")?;
        let at = c.at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        for v in [
            Some(place.chain.to_string().as_str()),
            Some(place.seq.to_string().as_str()),
            Some(place.prev_hash),
            Some(at.as_str()),
            c.fingerprint.as_deref(),
            Some(c.actor.as_str()),
            c.acting_for.as_deref(),
            Some(c.action.as_str()),
            Some(c.object_type.as_str()),
            c.object_id.as_deref(),
            Some(c.outcome.as_str()),
            Some(c.detail.as_str()),
        ] {
            field(&mut h, v)?;
        }
        h.finish()
    })()
    .map_err(|e| DbError::Invalid(format!("audit hash: {e}")))?;
    Ok(hex::encode(digest))
}

/// Writes one row into the chain: on SQLite at once (the writer holds the
/// file), on PostgreSQL just before the transaction commits.
pub(super) fn append(conn: &mut DbConnection, content: Content) -> DbResult<()> {
    if !crate::db::in_transaction(conn)? {
        return write_tx(conn, |c| append(c, content));
    }
    match conn {
        DbConnection::Sqlite(_) => {
            let head = lock_lane(conn, Some(0))?;
            write_rows(conn, head, vec![content])
        }
        DbConnection::Pg(_) => {
            crate::db::before_commit(seal, Box::new(content));
            Ok(())
        }
    }
}

/// PostgreSQL, before `COMMIT`: the transaction's rows into one free lane.
fn seal(conn: &mut DbConnection, items: Vec<Box<dyn Any>>) -> DbResult<()> {
    let rows: Vec<Content> = items
        .into_iter()
        .filter_map(|i| i.downcast::<Content>().ok().map(|c| *c))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let head = lock_lane(conn, None)?;
    write_rows(conn, head, rows)
}

/// A lane's head: (chain, seq, hash).
type Head = (i64, i64, String);

/// Locks a lane's head for the rest of the transaction: `lane`, or on
/// PostgreSQL the first free one (waiting, when all are busy, for the one
/// this connection's backend maps to).
pub(super) fn lock_lane(conn: &mut DbConnection, lane: Option<i64>) -> DbResult<Head> {
    let cols = (audit_chains::chain, audit_chains::seq, audit_chains::hash);
    match conn {
        DbConnection::Pg(c) => {
            if let Some(lane) = lane {
                return Ok(audit_chains::table
                    .find(lane)
                    .select(cols)
                    .for_update()
                    .first(c)?);
            }
            let free: Option<Head> = audit_chains::table
                .select(cols)
                .order(audit_chains::chain)
                .limit(1)
                .for_update()
                .skip_locked()
                .first(c)
                .optional()?;
            match free {
                Some(h) => Ok(h),
                None => Ok(audit_chains::table
                    .filter(
                        audit_chains::chain.eq(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                            &format!("(pg_backend_pid() % {LANES})::bigint"),
                        )),
                    )
                    .select(cols)
                    .for_update()
                    .first(c)?),
            }
        }
        DbConnection::Sqlite(_) => Ok(audit_chains::table
            .find(lane.unwrap_or(0))
            .select(cols)
            .first(conn)?),
    }
}

/// Appends `rows` after `head` and moves the head; the lane is locked.
fn write_rows(conn: &mut DbConnection, head: Head, rows: Vec<Content>) -> DbResult<()> {
    let (chain, mut seq, mut prev) = head;
    let mut linked = Vec::with_capacity(rows.len());
    for c in rows {
        seq += 1;
        let h = hash(
            Place {
                chain,
                seq,
                prev_hash: &prev,
            },
            &c,
        )?;
        linked.push((c, seq, std::mem::replace(&mut prev, h.clone()), h));
    }
    if let DbConnection::Pg(pg) = conn {
        // One statement for the rows and the head: a round trip less at
        // every audited commit.
        return append_pg(pg, chain, &linked);
    }
    for (c, seq, prev_hash, h) in &linked {
        diesel::insert_into(audit_log::table)
            .values((
                audit_log::at.eq(c.at),
                audit_log::fingerprint.eq(&c.fingerprint),
                audit_log::actor.eq(&c.actor),
                audit_log::acting_for.eq(&c.acting_for),
                audit_log::action.eq(&c.action),
                audit_log::object_type.eq(&c.object_type),
                audit_log::object_id.eq(&c.object_id),
                audit_log::outcome.eq(&c.outcome),
                audit_log::detail.eq(&c.detail),
                audit_log::chain.eq(Some(chain)),
                audit_log::seq.eq(Some(*seq)),
                audit_log::prev_hash.eq(Some(prev_hash)),
                audit_log::hash.eq(Some(h)),
            ))
            .execute(conn)?;
    }
    move_head(conn, chain, seq, &prev)
}

/// PostgreSQL: `WITH rows AS (INSERT …) UPDATE audit_chains …`.
fn append_pg(
    pg: &mut diesel::PgConnection,
    chain: i64,
    linked: &[(Content, i64, String, String)],
) -> DbResult<()> {
    use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
    let Some((_, last_seq, _, last_hash)) = linked.last() else {
        return Ok(());
    };
    let mut values = Vec::with_capacity(linked.len());
    let mut n = 0;
    for _ in linked {
        let p: Vec<String> = (1..=13).map(|i| format!("${}", n + i)).collect();
        values.push(format!("({})", p.join(", ")));
        n += 13;
    }
    let sql = format!(
        "WITH new_rows AS (INSERT INTO audit_log (at, fingerprint, actor, acting_for, action, \
         object_type, object_id, outcome, detail, chain, seq, prev_hash, hash) VALUES {}) \
         UPDATE audit_chains SET seq = ${}, hash = ${} WHERE chain = ${}",
        values.join(", "),
        n + 1,
        n + 2,
        n + 3
    );
    let mut q = diesel::sql_query(sql).into_boxed::<diesel::pg::Pg>();
    for (c, seq, prev_hash, h) in linked {
        q = q
            .bind::<Timestamp, _>(c.at)
            .bind::<Nullable<Text>, _>(c.fingerprint.clone())
            .bind::<Text, _>(c.actor.clone())
            .bind::<Nullable<Text>, _>(c.acting_for.clone())
            .bind::<Text, _>(c.action.clone())
            .bind::<Text, _>(c.object_type.clone())
            .bind::<Nullable<Text>, _>(c.object_id.clone())
            .bind::<Text, _>(c.outcome.clone())
            .bind::<Text, _>(c.detail.clone())
            .bind::<BigInt, _>(chain)
            .bind::<BigInt, _>(*seq)
            .bind::<Text, _>(prev_hash.clone())
            .bind::<Text, _>(h.clone());
    }
    q.bind::<BigInt, _>(*last_seq)
        .bind::<Text, _>(last_hash.clone())
        .bind::<BigInt, _>(chain)
        .execute(pg)?;
    Ok(())
}

fn move_head(conn: &mut DbConnection, chain: i64, seq: i64, hash: &str) -> DbResult<()> {
    diesel::update(audit_chains::table.find(chain))
        .set((audit_chains::seq.eq(seq), audit_chains::hash.eq(hash)))
        .execute(conn)?;
    Ok(())
}

/// The row as the chain covers it, for code that reads rows back.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct ChainedRow {
    pub id: i64,
    pub at: NaiveDateTime,
    pub fingerprint: Option<String>,
    pub actor: String,
    pub acting_for: Option<String>,
    pub action: String,
    pub object_type: String,
    pub object_id: Option<String>,
    pub outcome: String,
    pub detail: String,
    pub chain: Option<i64>,
    pub seq: Option<i64>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

impl ChainedRow {
    pub fn content(&self) -> Content {
        Content {
            at: self.at,
            fingerprint: self.fingerprint.clone(),
            actor: self.actor.clone(),
            acting_for: self.acting_for.clone(),
            action: self.action.clone(),
            object_type: self.object_type.clone(),
            object_id: self.object_id.clone(),
            outcome: self.outcome.clone(),
            detail: self.detail.clone(),
        }
    }
}

/// The mark the migration put on the rows that existed before the chain.
pub const LEGACY: i64 = -1;

/// Chains the rows written before the chain existed (marked [`LEGACY`] by
/// the migration), in id order, into lane 0, in batches. Runs after the
/// migrations (`migrate`, `serve` and every command that opens the
/// database); a no-op once done. Only marked rows: a row that appears later
/// without a chain (slipped in, or written by an instance of the previous
/// version still running after the migration) stays out and verification
/// reports it. Returns how many rows it chained.
pub fn adopt(conn: &mut DbConnection) -> DbResult<usize> {
    let mut total = 0;
    loop {
        let n = write_tx::<_, DbError, _>(conn, |c| {
            let unchained: Vec<ChainedRow> = audit_log::table
                .filter(audit_log::chain.eq(LEGACY))
                .filter(audit_log::hash.is_null())
                .select(ChainedRow::as_select())
                .order(audit_log::id)
                .limit(500)
                .load(c)?;
            if unchained.is_empty() {
                return Ok(0);
            }
            let (chain, mut seq, mut prev) = lock_lane(c, Some(0))?;
            for row in &unchained {
                seq += 1;
                let h = hash(
                    Place {
                        chain,
                        seq,
                        prev_hash: &prev,
                    },
                    &row.content(),
                )?;
                diesel::update(audit_log::table.find(row.id))
                    .set((
                        audit_log::chain.eq(Some(chain)),
                        audit_log::seq.eq(Some(seq)),
                        audit_log::prev_hash.eq(Some(&prev)),
                        audit_log::hash.eq(Some(&h)),
                    ))
                    .execute(c)?;
                prev = h;
            }
            move_head(c, chain, seq, &prev)?;
            Ok(unchained.len())
        })?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> Content {
        Content {
            at: chrono::NaiveDate::from_ymd_opt(2026, 12, 5)
                .unwrap()
                .and_hms_micro_opt(10, 11, 12, 345_678)
                .unwrap(),
            fingerprint: None,
            actor: "AGB:03123456".into(),
            acting_for: None,
            action: "machtigingsaanvraag.indienen".into(),
            object_type: "machtigingsaanvraag".into(),
            object_id: Some("MA1".into()),
            outcome: "ok".into(),
            detail: "{}".into(),
        }
    }

    const PLACE: Place<'static> = Place {
        chain: 0,
        seq: 1,
        prev_hash: GENESIS,
    };

    #[test]
    fn hash_is_sha256_hex_and_covers_every_field_and_the_place() {
        let base = hash(PLACE, &content()).unwrap();
        assert_eq!(base.len(), 64);
        assert!(
            base.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(base, hash(PLACE, &content()).unwrap(), "deterministic");
        let mut changed = Vec::new();
        let mut c = content();
        c.detail = "{ }".into();
        changed.push(hash(PLACE, &c).unwrap());
        let mut c = content();
        c.at += chrono::Duration::microseconds(1);
        changed.push(hash(PLACE, &c).unwrap());
        // NULL and the empty string differ; so do shifted field boundaries.
        let mut c = content();
        c.fingerprint = Some(String::new());
        changed.push(hash(PLACE, &c).unwrap());
        let mut c = content();
        c.actor = "AGB:0312345".into();
        c.acting_for = Some("6".into());
        changed.push(hash(PLACE, &c).unwrap());
        changed.push(hash(Place { seq: 2, ..PLACE }, &content()).unwrap());
        changed.push(hash(Place { chain: 1, ..PLACE }, &content()).unwrap());
        let other = "1".repeat(64);
        changed.push(
            hash(
                Place {
                    prev_hash: &other,
                    ..PLACE
                },
                &content(),
            )
            .unwrap(),
        );
        for h in &changed {
            assert_ne!(h, &base);
        }
    }

    #[test]
    fn encoding_is_the_documented_one() {
        // Recomputed by hand from the module docs with OpenSSL's SHA-256.
        let c = content();
        let mut bytes = b"machtigingen-audit-v1".to_vec();
        let at = "2026-12-05T10:11:12.345678Z";
        for v in [
            Some("0"),
            Some("1"),
            Some(GENESIS),
            Some(at),
            None,
            Some("AGB:03123456"),
            None,
            Some("machtigingsaanvraag.indienen"),
            Some("machtigingsaanvraag"),
            Some("MA1"),
            Some("ok"),
            Some("{}"),
        ] {
            match v {
                None => bytes.push(0),
                Some(s) => {
                    bytes.push(1);
                    bytes.extend_from_slice(&(s.len() as u64).to_be_bytes());
                    bytes.extend_from_slice(s.as_bytes());
                }
            }
        }
        let want = hex::encode(openssl::sha::sha256(&bytes));
        assert_eq!(hash(PLACE, &c).unwrap(), want);
    }
}
