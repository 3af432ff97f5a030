//! The `vervolg` token of a search: where the next page starts, as an opaque
//! string for the client to send back.
//!
//! It holds the sort key of the last request on the page (creation time and
//! id: pages are newest first) and the number of the next page, so a page is
//! an index range that starts at that key, whatever its depth, instead of an
//! `OFFSET` that reads and drops every earlier match. The token is base64url
//! (no padding) of a version byte, the page number, the time in microseconds
//! and the id, closed by four bytes of SHA-256 over the rest: a token that was
//! cut short, retyped or edited is refused with `REQ-006`, never half read. It
//! is not secret and needs no key — it names only a position, and a search
//! from that position still sees only the caller's own requests.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDateTime};

use crate::error::{Code, Refusal};

const VERSION: u8 = 1;
const CHECK: usize = 4;
/// An id is a two-letter prefix and 32 hex digits; a little slack for rows
/// written with longer ids before.
const MAX_ID: usize = 64;

/// The position after the last request of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The number of the page this token opens (the first page is 1).
    pub page: i64,
    pub created_at: NaiveDateTime,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let micros = self.created_at.and_utc().timestamp_micros();
        let page = u32::try_from(self.page).unwrap_or(u32::MAX);
        let mut bytes = Vec::with_capacity(1 + 4 + 8 + self.id.len() + CHECK);
        bytes.push(VERSION);
        bytes.extend_from_slice(&page.to_be_bytes());
        bytes.extend_from_slice(&micros.to_be_bytes());
        bytes.extend_from_slice(self.id.as_bytes());
        let check = openssl::sha::sha256(&bytes);
        bytes.extend_from_slice(&check[..CHECK]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(token: &str) -> Result<Self, Refusal> {
        let bad = || {
            Refusal::new(
                Code::Paging,
                "Het vervolgtoken is ongeldig: gebruik het ongewijzigd uit het vorige antwoord, \
                 of begin opnieuw zonder vervolgtoken.",
            )
        };
        if token.len() > 4 * (1 + 4 + 8 + MAX_ID + CHECK) / 3 + 3 {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
        if bytes.len() < 1 + 4 + 8 + 1 + CHECK || bytes[0] != VERSION {
            return Err(bad());
        }
        let (body, check) = bytes.split_at(bytes.len() - CHECK);
        if openssl::sha::sha256(body)[..CHECK] != *check {
            return Err(bad());
        }
        let page = u32::from_be_bytes(body[1..5].try_into().map_err(|_| bad())?);
        let micros = i64::from_be_bytes(body[5..13].try_into().map_err(|_| bad())?);
        let id = std::str::from_utf8(&body[13..]).map_err(|_| bad())?;
        if page < 2 || id.len() > MAX_ID || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(bad());
        }
        let created_at = DateTime::from_timestamp_micros(micros)
            .ok_or_else(bad)?
            .naive_utc();
        Ok(Self {
            page: i64::from(page),
            created_at,
            id: id.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> Cursor {
        Cursor {
            page: 7,
            created_at: DateTime::from_timestamp_micros(1_795_000_000_123_456)
                .unwrap()
                .naive_utc(),
            id: "MA019a2b3c4d5e6f708192a3b4c5d6e7f8".into(),
        }
    }

    #[test]
    fn a_token_reads_back_as_written() {
        let c = cursor();
        let token = c.encode();
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(Cursor::decode(&token).unwrap(), c);
    }

    #[test]
    fn every_changed_or_shortened_token_is_refused() {
        let token = cursor().encode();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in 0..token.len() {
            for &b in alphabet {
                let mut t = token.clone().into_bytes();
                if t[i] == b {
                    continue;
                }
                t[i] = b;
                let t = String::from_utf8(t).unwrap();
                // A change in the unused low bits of the last character
                // decodes to the same bytes; base64 then refuses it.
                if let Ok(c) = Cursor::decode(&t) {
                    assert_eq!(c, cursor(), "{t}");
                    continue;
                }
                assert_eq!(Cursor::decode(&t).unwrap_err().code, Code::Paging);
            }
        }
        for n in 0..token.len() {
            assert!(Cursor::decode(&token[..n]).is_err(), "{n}");
        }
        for t in ["", "!!!!", "a b", &"A".repeat(10_000), "AQ"] {
            assert_eq!(Cursor::decode(t).unwrap_err().code, Code::Paging, "{t}");
        }
    }
}
