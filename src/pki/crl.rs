//! Building and signing a CRL. The `openssl` crate can read CRLs but not make
//! them, so this calls OpenSSL's own X509_CRL functions through `openssl-sys`;
//! all cryptography (DER encoding, the signature) is OpenSSL's.

use foreign_types::{ForeignType, ForeignTypeRef};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKeyRef, Private};
use openssl::x509::{X509Crl, X509Ref};

/// One revoked certificate: its serial number and when it was revoked (Unix s).
#[derive(Debug, Clone)]
pub struct Revoked {
    pub serial_hex: String,
    pub revoked_at: i64,
}

fn check(ret: std::os::raw::c_int) -> Result<(), ErrorStack> {
    if ret <= 0 {
        Err(ErrorStack::get())
    } else {
        Ok(())
    }
}

/// A version 2 CRL issued by `ca`, listing `revoked`, valid from `this_update`
/// to `next_update` (Unix seconds), signed with SHA-256.
pub fn build(
    ca: &X509Ref,
    ca_key: &PKeyRef<Private>,
    revoked: &[Revoked],
    this_update: i64,
    next_update: i64,
) -> Result<X509Crl, ErrorStack> {
    // SAFETY: every pointer handed to OpenSSL below is either owned by a Rust
    // wrapper that outlives the call (ca, key, times, serials) or freshly
    // allocated and checked for null. X509_CRL_add0_revoked takes ownership of
    // `rev` only on success; on failure we free it ourselves.
    unsafe {
        let raw = openssl_sys::X509_CRL_new();
        if raw.is_null() {
            return Err(ErrorStack::get());
        }
        let crl = X509Crl::from_ptr(raw);
        check(openssl_sys::X509_CRL_set_version(crl.as_ptr(), 1))?;
        check(openssl_sys::X509_CRL_set_issuer_name(
            crl.as_ptr(),
            ca.subject_name().as_ptr(),
        ))?;
        let last = Asn1Time::from_unix(this_update)?;
        check(openssl_sys::X509_CRL_set1_lastUpdate(
            crl.as_ptr(),
            last.as_ptr(),
        ))?;
        let next = Asn1Time::from_unix(next_update)?;
        check(openssl_sys::X509_CRL_set1_nextUpdate(
            crl.as_ptr(),
            next.as_ptr(),
        ))?;

        for entry in revoked {
            let serial = BigNum::from_hex_str(&entry.serial_hex)?.to_asn1_integer()?;
            let when = Asn1Time::from_unix(entry.revoked_at)?;
            let rev = openssl_sys::X509_REVOKED_new();
            if rev.is_null() {
                return Err(ErrorStack::get());
            }
            let added = check(openssl_sys::X509_REVOKED_set_serialNumber(
                rev,
                serial.as_ptr(),
            ))
            .and_then(|_| {
                check(openssl_sys::X509_REVOKED_set_revocationDate(
                    rev,
                    when.as_ptr(),
                ))
            })
            .and_then(|_| check(openssl_sys::X509_CRL_add0_revoked(crl.as_ptr(), rev)));
            if let Err(e) = added {
                openssl_sys::X509_REVOKED_free(rev);
                return Err(e);
            }
        }
        check(openssl_sys::X509_CRL_sort(crl.as_ptr()))?;
        check(openssl_sys::X509_CRL_sign(
            crl.as_ptr(),
            ca_key.as_ptr(),
            MessageDigest::sha256().as_ptr(),
        ))?;
        Ok(crl)
    }
}
