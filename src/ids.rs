//! Public identifiers of stored objects: a two-letter prefix and 32 hex
//! digits, opaque to clients.
//!
//! The first 12 digits are the creation time in milliseconds, the other 20 are
//! 80 random bits (the layout of a UUIDv7). The randomness keeps an id
//! unguessable and the ids of other parties unenumerable; the time prefix
//! makes every index on an id — the table's key, the history, the audit log —
//! grow at its right edge. With fully random ids each insert touched a random
//! leaf page of each of those indexes, and on SQLite every such page is
//! rewritten in the WAL at the next commit: about three pages more per
//! submission (docs/benchmarks.md).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::Refusal;

/// A new id `PREFIX` + 12 hex digits of milliseconds + 20 hex random digits.
pub fn new(prefix: &str) -> Result<String, openssl::error::ErrorStack> {
    let mut random = [0u8; 10];
    openssl::rand::rand_bytes(&mut random)?;
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    // 48 bits of milliseconds last until the year 10889.
    let millis = (millis & 0xffff_ffff_ffff) as u64;
    Ok(format!("{prefix}{millis:012x}{}", hex::encode(random)))
}

/// [`new`] for request handlers: no randomness is an internal error.
pub fn for_request(prefix: &str) -> Result<String, Refusal> {
    new(prefix).map_err(|e| {
        tracing::error!(error = %e, "no randomness for an id");
        Refusal::internal("Interne fout.")
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_prefixed_hex_ordered_by_time_and_distinct() {
        let a = super::new("MA").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = super::new("MA").unwrap();
        let c = super::new("MA").unwrap();
        for id in [&a, &b, &c] {
            assert_eq!(id.len(), 34, "{id}");
            assert!(id.starts_with("MA"));
            assert!(
                id[2..]
                    .bytes()
                    .all(|x| x.is_ascii_hexdigit() && !x.is_ascii_uppercase())
            );
        }
        assert!(a < b, "{a} then {b}");
        // Same millisecond or not, the random part differs.
        assert_ne!(b[14..], c[14..]);
    }
}
