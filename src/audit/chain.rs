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

use crate::db::pg_prepared::{Statement, prepared};
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

fn field(buf: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => buf.push(0),
        Some(v) => {
            buf.push(1);
            buf.extend_from_slice(&(v.len() as u64).to_be_bytes());
            buf.extend_from_slice(v);
        }
    }
}

/// `at` as `%Y-%m-%dT%H:%M:%S%.6fZ`, through `write!` for the ordinary years:
/// chrono's formatter interprets its pattern anew at every call, and a
/// search page hashes twenty rows on the SQLite writer.
fn timestamp(at: &NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    let (year, nanos) = (at.year(), at.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        // Signs and leap seconds: what chrono does with them is the encoding.
        return at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    }
    let mut out = String::with_capacity(27);
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        nanos / 1000
    );
    out
}

/// The row's hash in the encoding of the module docs, as lowercase hex. The
/// bytes are gathered first and hashed in one call, not three digest updates
/// per field.
pub fn hash(place: Place<'_>, c: &Content) -> String {
    let at = timestamp(&c.at);
    let (chain, seq) = (place.chain.to_string(), place.seq.to_string());
    let mut buf = Vec::with_capacity(256 + c.detail.len());
    buf.extend_from_slice(b"machtigingen-audit-v1");
    for v in [
        Some(chain.as_str()),
        Some(seq.as_str()),
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
        field(&mut buf, v.map(str::as_bytes));
    }
    hex::encode(openssl::sha::sha256(&buf))
}

/// Writes rows into the chain, in order: on SQLite at once (the writer holds
/// the file), on PostgreSQL just before the transaction commits. Several rows
/// share one read and one move of the head: a search page's twenty rows
/// cost the SQLite writer three statements, not sixty.
pub(super) fn append(conn: &mut DbConnection, rows: Vec<Content>) -> DbResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    if !crate::db::in_transaction(conn)? {
        return write_tx(conn, |c| append(c, rows));
    }
    match conn {
        DbConnection::Sqlite(_) => {
            let head = lock_lane(conn, Some(0))?;
            write_rows(conn, head, rows)
        }
        DbConnection::Pg(_) => {
            for content in rows {
                crate::db::before_commit(seal, Box::new(content));
            }
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

/// PostgreSQL: the first lane no other transaction holds, locked. A
/// statement without values, so it is planned once per connection; through
/// the query builder (`LIMIT` bound as a value) PostgreSQL planned it at
/// every write, 28 µs each (pg_stat_statements, under submit load).
struct FreeLane;
impl Statement for FreeLane {
    const SQL: &'static str = "SELECT chain, seq, hash FROM audit_chains ORDER BY chain \
        LIMIT 1 FOR UPDATE SKIP LOCKED";
}

#[derive(QueryableByName)]
struct HeadRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    chain: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    hash: String,
}

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
            let free: Option<HeadRow> = prepared::<FreeLane, _>(()).get_result(c).optional()?;
            match free {
                Some(h) => Ok((h.chain, h.seq, h.hash)),
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
        );
        linked.push((c, seq, std::mem::replace(&mut prev, h.clone()), h));
    }
    let sqlite = match conn {
        DbConnection::Pg(pg) => {
            // One statement for the rows and the head: a round trip less at
            // every audited commit.
            super::pg_append::Append::new(chain, linked).execute(pg)?;
            return Ok(());
        }
        DbConnection::Sqlite(c) => c,
    };
    // On the SQLite connection itself: through the two-backend connection,
    // binding a row's values cost about as much again as inserting it.
    let values: Vec<_> = linked
        .into_iter()
        .map(|(c, seq, prev_hash, h)| {
            (
                audit_log::at.eq(c.at),
                audit_log::fingerprint.eq(c.fingerprint),
                audit_log::actor.eq(c.actor),
                audit_log::acting_for.eq(c.acting_for),
                audit_log::action.eq(c.action),
                audit_log::object_type.eq(c.object_type),
                audit_log::object_id.eq(c.object_id),
                audit_log::outcome.eq(c.outcome),
                audit_log::detail.eq(c.detail),
                audit_log::chain.eq(Some(chain)),
                audit_log::seq.eq(Some(seq)),
                audit_log::prev_hash.eq(Some(prev_hash)),
                audit_log::hash.eq(Some(h)),
            )
        })
        .collect();
    // Twenty at a time (a search page): a statement of a fixed size is
    // prepared once; one of any size would be compiled at every page.
    let mut twenties = values.chunks_exact(20);
    for twenty in twenties.by_ref() {
        let twenty = <&[_; 20]>::try_from(twenty)
            .map_err(|_| DbError::Invalid("audit rows: a chunk of twenty".into()))?;
        diesel::insert_into(audit_log::table)
            .values(twenty)
            .execute(sqlite)?;
    }
    for row in twenties.remainder() {
        diesel::insert_into(audit_log::table)
            .values(row)
            .execute(sqlite)?;
    }
    move_head(conn, chain, seq, &prev)
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
                );
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
        let base = hash(PLACE, &content());
        assert_eq!(base.len(), 64);
        assert!(
            base.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(base, hash(PLACE, &content()), "deterministic");
        let mut changed = Vec::new();
        let mut c = content();
        c.detail = "{ }".into();
        changed.push(hash(PLACE, &c));
        let mut c = content();
        c.at += chrono::Duration::microseconds(1);
        changed.push(hash(PLACE, &c));
        // NULL and the empty string differ; so do shifted field boundaries.
        let mut c = content();
        c.fingerprint = Some(String::new());
        changed.push(hash(PLACE, &c));
        let mut c = content();
        c.actor = "AGB:0312345".into();
        c.acting_for = Some("6".into());
        changed.push(hash(PLACE, &c));
        changed.push(hash(Place { seq: 2, ..PLACE }, &content()));
        changed.push(hash(Place { chain: 1, ..PLACE }, &content()));
        let other = "1".repeat(64);
        changed.push(hash(
            Place {
                prev_hash: &other,
                ..PLACE
            },
            &content(),
        ));
        for h in &changed {
            assert_ne!(h, &base);
        }
    }

    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        for at in [
            day(2026, 12, 5)
                .and_hms_micro_opt(10, 11, 12, 345_678)
                .unwrap(),
            day(2026, 1, 9).and_hms_micro_opt(0, 0, 0, 0).unwrap(),
            day(999, 10, 31)
                .and_hms_nano_opt(23, 59, 59, 999_999_999)
                .unwrap(),
            day(9999, 12, 31).and_hms_nano_opt(7, 8, 9, 1_000).unwrap(),
            day(10000, 1, 1).and_hms_opt(1, 2, 3).unwrap(),
            day(-1, 1, 1).and_hms_opt(1, 2, 3).unwrap(),
            day(2016, 12, 31)
                .and_hms_micro_opt(23, 59, 59, 1_500_000)
                .unwrap(),
        ] {
            assert_eq!(
                timestamp(&at),
                at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                "{at:?}"
            );
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
        assert_eq!(hash(PLACE, &c), want);
    }
}
