//! CSRF tokens of the portal's forms (below `state`, which holds the key;
//! the portal checks them): `<expiry>.<HMAC-SHA256(key, fingerprint
//! "|" expiry)>`, hex. The token is bound to the certificate that loaded the
//! form, so a token seen by one person is worthless to another, and expires
//! after [`VALIDITY_SECS`]. Another site can make a browser *send* a form
//! with the person's certificate, but cannot *read* a portal page to learn
//! the token (same-origin policy, `frame-ancestors 'none'`), and cannot
//! compute it without the key. Stateless: nothing to store per session.
//!
//! The key is derived from the server's TLS private key at start
//! ([`Key::derive`]), so every instance serving the same certificate accepts
//! every other instance's tokens without a configured secret; a new server
//! key invalidates open forms (the person reloads the page). Documented in
//! `docs/security.md`.

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

/// How long a form stays valid after it was rendered.
pub const VALIDITY_SECS: i64 = 12 * 3600;

/// The name of the hidden field in every POST form.
pub const FIELD: &str = "_csrf";

/// The server-side HMAC key.
#[derive(Clone)]
pub struct Key(Option<[u8; 32]>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(…)")
    }
}

impl Key {
    /// HMAC-SHA256 keyed by `secret` over a fixed label: a key of its own
    /// for this purpose, from which the secret cannot be learned.
    pub fn derive(secret: &[u8]) -> Self {
        match hmac(secret, b"machtigingen portaal csrf v1") {
            Some(k) => Self(Some(k)),
            None => Self::random(),
        }
    }

    /// A key for this process only (when the server key cannot be read).
    pub fn random() -> Self {
        let mut k = [0u8; 32];
        // Without randomness there is no secret key: every form is refused
        // (fails closed) rather than accepting guessable tokens.
        if openssl::rand::rand_bytes(&mut k).is_err() {
            tracing::error!("no randomness for the portal's CSRF key; portal forms are refused");
            return Self(None);
        }
        Self(Some(k))
    }

    /// The token for a form rendered now for `fingerprint`.
    pub fn token(&self, fingerprint: &str) -> String {
        self.token_at(fingerprint, chrono::Utc::now().timestamp() + VALIDITY_SECS)
    }

    fn token_at(&self, fingerprint: &str, expiry: i64) -> String {
        let mac = self
            .0
            .and_then(|k| hmac(&k, format!("{fingerprint}|{expiry}").as_bytes()))
            .map(hex::encode)
            .unwrap_or_default();
        format!("{expiry}.{mac}")
    }

    /// True when `token` was made by this key for `fingerprint` and has not
    /// expired. Compared in constant time.
    pub fn verify(&self, fingerprint: &str, token: &str) -> bool {
        let Some((expiry, mac)) = token.split_once('.') else {
            return false;
        };
        let Ok(expiry) = expiry.parse::<i64>() else {
            return false;
        };
        if expiry < chrono::Utc::now().timestamp() || mac.is_empty() {
            return false;
        }
        let expected = self.token_at(fingerprint, expiry);
        let given = format!("{expiry}.{mac}");
        expected.len() == given.len()
            && !expected.ends_with('.')
            && openssl::memcmp::eq(expected.as_bytes(), given.as_bytes())
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Option<[u8; 32]> {
    let pkey = PKey::hmac(key).ok()?;
    let mut signer = Signer::new(MessageDigest::sha256(), &pkey).ok()?;
    signer.update(data).ok()?;
    signer.sign_to_vec().ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_holds_only_for_its_certificate_and_until_it_expires() {
        let key = Key::derive(b"server key");
        let t = key.token("aa");
        assert!(key.verify("aa", &t));
        assert!(!key.verify("bb", &t), "bound to the certificate");
        assert!(!Key::derive(b"other").verify("aa", &t), "bound to the key");
        let expired = key.token_at("aa", chrono::Utc::now().timestamp() - 1);
        assert!(!key.verify("aa", &expired));
        let (exp, mac) = t.split_once('.').unwrap();
        let later = format!("{}.{mac}", exp.parse::<i64>().unwrap() + 1);
        assert!(!key.verify("aa", &later), "the expiry is under the MAC");
        for bad in ["", ".", "x.y", &format!("{exp}."), &t[..t.len() - 1]] {
            assert!(!key.verify("aa", bad), "{bad:?}");
        }
    }
}
