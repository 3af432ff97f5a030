//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256
//! over "id.timestamp.body">`, keyed with the decoded bytes of a `whsec_`
//! secret. During a rotation both the new and the previous secret sign, space
//! separated. HMAC and comparison are OpenSSL's.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

pub const SECRET_PREFIX: &str = "whsec_";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("secret is not whsec_ followed by base64")]
    BadSecret,
    #[error("missing webhook-id, webhook-timestamp or webhook-signature")]
    MissingHeader,
    #[error("webhook-timestamp is not a number")]
    BadTimestamp,
    #[error("webhook-timestamp outside the tolerance")]
    Stale,
    #[error("no signature matches")]
    NoMatch,
    #[error("openssl: {0}")]
    Ssl(String),
}

/// A fresh secret: 32 random bytes.
pub fn new_secret() -> Result<String, SignatureError> {
    let mut b = [0u8; 32];
    openssl::rand::rand_bytes(&mut b).map_err(|e| SignatureError::Ssl(e.to_string()))?;
    Ok(format!("{SECRET_PREFIX}{}", STANDARD.encode(b)))
}

pub fn decode_secret(secret: &str) -> Result<Vec<u8>, SignatureError> {
    let b64 = secret
        .strip_prefix(SECRET_PREFIX)
        .ok_or(SignatureError::BadSecret)?;
    STANDARD.decode(b64).map_err(|_| SignatureError::BadSecret)
}

fn hmac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Result<Vec<u8>, SignatureError> {
    let ssl = |e: openssl::error::ErrorStack| SignatureError::Ssl(e.to_string());
    let pkey = PKey::hmac(key).map_err(ssl)?;
    let mut signer = Signer::new(MessageDigest::sha256(), &pkey).map_err(ssl)?;
    signer.update(id.as_bytes()).map_err(ssl)?;
    signer.update(b".").map_err(ssl)?;
    signer
        .update(timestamp.to_string().as_bytes())
        .map_err(ssl)?;
    signer.update(b".").map_err(ssl)?;
    signer.update(body).map_err(ssl)?;
    signer.sign_to_vec().map_err(ssl)
}

/// `v1,<base64>` for one secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
    let key = decode_secret(secret)?;
    Ok(format!(
        "v1,{}",
        STANDARD.encode(hmac(&key, id, timestamp, body)?)
    ))
}

/// The `webhook-signature` header value for every current secret.
pub fn header(
    secrets: &[&str],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SignatureError> {
    let parts = secrets
        .iter()
        .map(|s| sign(s, id, timestamp, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parts.join(" "))
}

/// Checks a received callback: timestamp within `tolerance_secs` of `now`
/// and at least one `v1,` signature matching one of `secrets`.
pub fn verify(
    secrets: &[String],
    id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if (now - ts).abs() > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    for secret in secrets {
        let key = decode_secret(secret)?;
        let expected = hmac(&key, id, ts, body)?;
        for candidate in signature.split_whitespace() {
            let Some(b64) = candidate.strip_prefix("v1,") else {
                continue;
            };
            let Ok(given) = STANDARD.decode(b64) else {
                continue;
            };
            if given.len() == expected.len() && openssl::memcmp::eq(&given, &expected) {
                return Ok(());
            }
        }
    }
    Err(SignatureError::NoMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_reference_vector() {
        // The example from the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let sig = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn verify_accepts_either_rotated_secret_and_refuses_forgeries() {
        let old = new_secret().unwrap();
        let new = new_secret().unwrap();
        let h = header(&[&new, &old], "TK1", 1000, b"body").unwrap();
        assert_eq!(h.split(' ').count(), 2);
        assert!(
            verify(
                std::slice::from_ref(&old),
                "TK1",
                "1000",
                &h,
                b"body",
                1000,
                300
            )
            .is_ok()
        );
        assert!(
            verify(
                std::slice::from_ref(&new),
                "TK1",
                "1000",
                &h,
                b"body",
                1000,
                300
            )
            .is_ok()
        );
        assert_eq!(
            verify(
                std::slice::from_ref(&new),
                "TK1",
                "1000",
                &h,
                b"bodx",
                1000,
                300
            ),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(&[new], "TK1", "1000", &h, b"body", 2000, 300),
            Err(SignatureError::Stale)
        );
    }
}
