//! Public identifiers of stored objects: a prefix naming the kind and 32
//! lowercase hex digits, opaque to clients. Each kind is its own type
//! ([`MachtigingId`], [`TerugkoppelingId`], …), so a function that takes the
//! id of a machtigingsaanvraag cannot be handed that of a terugkoppeling.
//!
//! A new id's first 12 digits are the creation time in milliseconds, the other
//! 20 are 80 random bits (the layout of a UUIDv7). The randomness keeps an id
//! unguessable and the ids of other parties unenumerable; the time prefix
//! makes every index on an id — the table's key, the history, the audit log —
//! grow at its right edge. With fully random ids each insert touched a random
//! leaf page of each of those indexes, and on SQLite every such page is
//! rewritten in the WAL at the next commit: about three pages more per
//! submission (docs/benchmarks.md). Older ids are 32 random digits; they parse
//! the same.
//!
//! What a client sends is parsed with `FromStr`; a door that looks an object up
//! by it passes a [`Requested`] on, so that an id that cannot be well-formed
//! meets the same answer ("not found", and its audit entry) at the same point
//! as a well-formed one that matches nothing. The store binds ids as text
//! (`as_str`) and parses what it loads.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::Refusal;

/// A new id `PREFIX` + 12 hex digits of milliseconds + 20 hex random digits.
fn generate(prefix: &str) -> Result<String, openssl::error::ErrorStack> {
    let mut random = [0u8; 10];
    openssl::rand::rand_bytes(&mut random)?;
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    // 48 bits of milliseconds last until the year 10889.
    let millis = (millis & 0xffff_ffff_ffff) as u64;
    Ok(format!("{prefix}{millis:012x}{}", hex::encode(random)))
}

/// No randomness is an internal error of the request that needed an id.
fn internal(e: openssl::error::ErrorStack) -> Refusal {
    tracing::error!(error = %e, "no randomness for an id");
    Refusal::internal("Interne fout.")
}

/// Why a string is not an id of a kind; a client only ever sees "not found".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a {kind} id: {prefix} and 32 lowercase hex digits expected")]
pub struct Malformed {
    kind: &'static str,
    prefix: &'static str,
}

fn check(s: &str, prefix: &'static str, kind: &'static str) -> Result<(), Malformed> {
    let ok = s.strip_prefix(prefix).is_some_and(|hex| {
        hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    if ok {
        Ok(())
    } else {
        Err(Malformed { kind, prefix })
    }
}

macro_rules! public_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id.
            pub fn new() -> Result<Self, openssl::error::ErrorStack> {
                generate($prefix).map(Self)
            }

            /// [`Self::new`] for request handlers: no randomness is an
            /// internal error.
            pub fn for_request() -> Result<Self, Refusal> {
                Self::new().map_err(internal)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = Malformed;

            fn from_str(s: &str) -> Result<Self, Malformed> {
                check(s, $prefix, $kind).map(|()| Self(s.to_owned()))
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Malformed;

            fn try_from(s: &str) -> Result<Self, Malformed> {
                s.parse()
            }
        }

        impl TryFrom<String> for $name {
            type Error = Malformed;

            fn try_from(s: String) -> Result<Self, Malformed> {
                check(&s, $prefix, $kind).map(|()| Self(s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        /// As the bare string, so a log line reads as it did when ids were
        /// strings.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        /// Deserialising checks the form too: a malformed id in a stored
        /// event or a client's JSON is refused, never carried on as one.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                Self::try_from(s).map_err(serde::de::Error::custom)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

public_id!(
    /// A machtigingsaanvraag (`MA…`), given at submission.
    MachtigingId, "MA", "machtigingsaanvraag"
);
public_id!(
    /// A terugkoppeling in the outbox (`TK…`): the `webhook-id` receivers
    /// deduplicate on.
    TerugkoppelingId, "TK", "terugkoppeling"
);
public_id!(
    /// An opt-in (consent) registration from a patient portal (`OI…`).
    OptinId, "OI", "opt-in registratie"
);
public_id!(
    /// A toestemmingsverklaring, a provider's consent statement for a
    /// software vendor (`TV…`).
    ConsentId, "TV", "toestemmingsverklaring"
);
public_id!(
    /// A run of the platform's receiver check (`TKC…`).
    CheckId, "TKC", "ontvangercontrole"
);

/// An id as a client sent it to look something up: well-formed, or kept as
/// sent. A malformed id matches nothing; the service answers it as it answers
/// an unknown one, at the same point (after the authorization checks, with
/// the same audit entry), so the wire cannot tell the two apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested<T> {
    Valid(T),
    Malformed(String),
}

impl<T: FromStr> Requested<T> {
    pub fn parse(s: String) -> Self {
        match s.parse() {
            Ok(id) => Requested::Valid(id),
            Err(_) => Requested::Malformed(s),
        }
    }
}

impl<T: FromStr> From<String> for Requested<T> {
    fn from(s: String) -> Self {
        Self::parse(s)
    }
}

impl<T: FromStr> From<&str> for Requested<T> {
    fn from(s: &str) -> Self {
        Self::parse(s.to_owned())
    }
}

impl<T> Requested<T> {
    /// The id, if it can name anything.
    pub fn valid(&self) -> Option<&T> {
        match self {
            Requested::Valid(id) => Some(id),
            Requested::Malformed(_) => None,
        }
    }
}

impl<T: AsRef<str>> Requested<T> {
    /// As the client sent it (for the audit log and error messages).
    pub fn as_str(&self) -> &str {
        match self {
            Requested::Valid(id) => id.as_ref(),
            Requested::Malformed(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_hex_ordered_by_time_and_distinct() {
        let a = MachtigingId::new().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = MachtigingId::new().unwrap();
        let c = MachtigingId::new().unwrap();
        for id in [&a, &b, &c] {
            let s = id.as_str();
            assert_eq!(s.len(), 34, "{s}");
            assert!(s.starts_with("MA"));
            assert_eq!(s.parse::<MachtigingId>().as_ref(), Ok(id));
        }
        assert!(a < b, "{a} then {b}");
        // Same millisecond or not, the random part differs.
        assert_ne!(b.as_str()[14..], c.as_str()[14..]);
        let check = CheckId::new().unwrap();
        assert_eq!(check.as_str().len(), 35);
        assert!(check.as_str().parse::<CheckId>().is_ok());
    }

    const HEX: &str = "0190a1b2c3d4e5f60718293a4b5c6d7e";

    #[test]
    fn parses_prefix_and_32_lowercase_hex_digits() {
        let good = format!("MA{HEX}");
        let id: MachtigingId = good.parse().unwrap();
        assert_eq!(id.as_str(), good);
        assert_eq!(id.to_string(), good);
        assert_eq!(MachtigingId::try_from(good.as_str()), Ok(id.clone()));
        assert_eq!(MachtigingId::try_from(good.clone()), Ok(id));
        // Older, fully random ids have the same form.
        assert!(format!("TV{}", "f".repeat(32)).parse::<ConsentId>().is_ok());
        assert!(format!("TKC{HEX}").parse::<CheckId>().is_ok());
    }

    #[test]
    fn refuses_a_wrong_prefix() {
        assert!(format!("TK{HEX}").parse::<MachtigingId>().is_err());
        assert!(format!("ma{HEX}").parse::<MachtigingId>().is_err());
        assert!(HEX.parse::<MachtigingId>().is_err());
        // A receiver check's id is not a terugkoppeling's, nor the reverse,
        // though one prefix begins the other.
        assert!(format!("TKC{HEX}").parse::<TerugkoppelingId>().is_err());
        assert!(format!("TK{HEX}").parse::<CheckId>().is_err());
        assert!(format!("TKV{HEX}").parse::<TerugkoppelingId>().is_err());
    }

    #[test]
    fn refuses_a_wrong_length() {
        assert!("".parse::<OptinId>().is_err());
        assert!("OI".parse::<OptinId>().is_err());
        assert!(format!("OI{}", &HEX[1..]).parse::<OptinId>().is_err());
        assert!(format!("OI{HEX}0").parse::<OptinId>().is_err());
        assert!(format!("OI{HEX} ").parse::<OptinId>().is_err());
    }

    #[test]
    fn refuses_uppercase_and_non_hex() {
        let upper = format!("MA{}", HEX.to_ascii_uppercase());
        assert!(upper.parse::<MachtigingId>().is_err());
        assert!(format!("MA{}A", &HEX[1..]).parse::<MachtigingId>().is_err());
        assert!(format!("MA{}g", &HEX[1..]).parse::<MachtigingId>().is_err());
        assert!(format!("MA{}-", &HEX[1..]).parse::<MachtigingId>().is_err());
        // 32 characters, but 33 bytes: not hex.
        assert!(format!("MA{}é", &HEX[2..]).parse::<MachtigingId>().is_err());
    }

    #[test]
    fn serde_is_the_bare_string_and_checks_on_the_way_in() {
        let id: TerugkoppelingId = format!("TK{HEX}").parse().unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"TK{HEX}\""));
        assert_eq!(serde_json::from_str::<TerugkoppelingId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<TerugkoppelingId>(&format!("\"MA{HEX}\"")).is_err());
    }

    #[test]
    fn a_requested_id_keeps_what_was_sent() {
        let good: Requested<OptinId> = format!("OI{HEX}").into();
        assert_eq!(
            good.valid().map(OptinId::as_str),
            Some(format!("OI{HEX}").as_str())
        );
        let bad: Requested<OptinId> = "OI' or 1=1".into();
        assert_eq!(bad.valid(), None);
        assert_eq!(bad.as_str(), "OI' or 1=1");
    }
}
