//! Timestamps on the JSON wire: always RFC 3339 in UTC with `Z` on the way out
//! (the same moments SOAP sends), any RFC 3339 offset on the way in. The
//! database keeps naive UTC, so this is the one place the offset is added.

use chrono::{DateTime, NaiveDateTime};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

/// `2026-11-30T23:51:16.645593Z`.
pub fn format(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub fn utc<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*t))
}

pub fn utc_opt<S: Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format(*t)),
        None => s.serialize_none(),
    }
}

/// Reads an RFC 3339 timestamp with any offset and converts it to UTC. A
/// timestamp without an offset is still read as UTC, as it always was.
pub fn parse(s: &str) -> Option<NaiveDateTime> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.naive_utc())
        .ok()
        .or_else(|| s.parse::<NaiveDateTime>().ok())
}

pub fn instant<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
    let s = String::deserialize(d)?;
    parse(&s).ok_or_else(|| {
        D::Error::custom(format!(
            "'{s}' is geen RFC 3339-tijdstip (bijvoorbeeld 2026-11-20T00:00:00Z)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_converted_to_utc() {
        let z = parse("2026-11-20T00:00:00Z").unwrap();
        assert_eq!(parse("2026-11-20T01:00:00+01:00"), Some(z));
        assert_eq!(parse("2026-11-20T00:00:00"), Some(z));
        assert_eq!(parse("20-11-2026"), None);
        assert_eq!(format(z), "2026-11-20T00:00:00.000000Z");
    }
}
