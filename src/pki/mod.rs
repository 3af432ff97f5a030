//! The platform's own PKI, on OpenSSL: a CA that issues server and client
//! certificates, signs CSRs, and publishes a CRL. Used by the operator CLI, by
//! the development bootstrap and by the tests, so every certificate the tests use
//! is made by the same code an operator runs.

pub mod crl;

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime};
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Private};
use openssl::rsa::Rsa;
use openssl::stack::Stack;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509Crl, X509Name, X509NameRef, X509Ref, X509Req};

use crate::config::KeyType;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("openssl: {0}")]
    Ssl(#[from] openssl::error::ErrorStack),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("weak or unsupported key: {0}")]
    WeakKey(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Seconds of clock skew tolerated: certificates start this long before "now".
const BACKDATE_SECS: i64 = 300;

/// Validity window, in Unix seconds.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    pub not_before: i64,
    pub not_after: i64,
}

impl Validity {
    pub fn days_from_now(days: u32) -> Self {
        let now = chrono::Utc::now().timestamp();
        Self {
            not_before: now - BACKDATE_SECS,
            not_after: now + i64::from(days) * 86_400,
        }
    }
}

/// The subject the platform builds for a client certificate; callers never
/// choose their own subject (a CSR's subject is ignored).
#[derive(Debug, Clone)]
pub struct ClientSubject {
    pub common_name: String,
    pub organization: String,
    /// The party reference (`AGB:03123456`), so the certificate names its party.
    pub organizational_unit: String,
}

impl ClientSubject {
    fn to_name(&self) -> Result<X509Name, PkiError> {
        let mut b = X509Name::builder()?;
        b.append_entry_by_nid(Nid::COUNTRYNAME, "NL")?;
        b.append_entry_by_nid(Nid::ORGANIZATIONNAME, &self.organization)?;
        b.append_entry_by_nid(Nid::ORGANIZATIONALUNITNAME, &self.organizational_unit)?;
        b.append_entry_by_nid(Nid::COMMONNAME, &self.common_name)?;
        Ok(b.build())
    }
}

/// What the registry records about a certificate.
#[derive(Debug, Clone)]
pub struct CertInfo {
    /// SHA-256 over the DER encoding, lowercase hex.
    pub fingerprint: String,
    /// Serial number, uppercase hex.
    pub serial: String,
    pub subject: String,
    pub issuer: String,
    pub not_before: NaiveDateTime,
    pub not_after: NaiveDateTime,
}

impl CertInfo {
    pub fn from_x509(cert: &X509Ref) -> Result<Self, PkiError> {
        Ok(Self {
            fingerprint: fingerprint(cert)?,
            serial: cert.serial_number().to_bn()?.to_hex_str()?.to_string(),
            subject: name_to_string(cert.subject_name()),
            issuer: name_to_string(cert.issuer_name()),
            not_before: asn1_to_naive(cert.not_before())?,
            not_after: asn1_to_naive(cert.not_after())?,
        })
    }
}

/// SHA-256 fingerprint of a certificate, lowercase hex: the registry key.
pub fn fingerprint(cert: &X509Ref) -> Result<String, PkiError> {
    Ok(hex::encode(cert.digest(MessageDigest::sha256())?))
}

/// `C=NL, O=…, OU=…, CN=…` in certificate order.
pub fn name_to_string(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_else(|_| "?".into());
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn asn1_to_unix(t: &Asn1TimeRef) -> Result<i64, PkiError> {
    let epoch = Asn1Time::from_unix(0)?;
    let d = epoch.diff(t)?;
    Ok(i64::from(d.days) * 86_400 + i64::from(d.secs))
}

fn asn1_to_naive(t: &Asn1TimeRef) -> Result<NaiveDateTime, PkiError> {
    let secs = asn1_to_unix(t)?;
    DateTime::from_timestamp(secs, 0)
        .map(|d| d.naive_utc())
        .ok_or_else(|| PkiError::Invalid("certificate time out of range".into()))
}

pub fn generate_key(kind: KeyType) -> Result<PKey<Private>, PkiError> {
    Ok(match kind {
        KeyType::EcP256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
            PKey::from_ec_key(EcKey::generate(&group)?)?
        }
        KeyType::Rsa3072 => PKey::from_rsa(Rsa::generate(3072)?)?,
    })
}

/// Refuses keys too weak for the platform: RSA below 2048 bits, curves other
/// than P-256/P-384/P-521, and anything else.
pub fn check_key_strength<T: HasPublic>(key: &PKeyRef<T>) -> Result<(), PkiError> {
    match key.id() {
        Id::RSA if key.bits() >= 2048 => Ok(()),
        Id::RSA => Err(PkiError::WeakKey(format!(
            "RSA key of {} bits; at least 2048 required",
            key.bits()
        ))),
        Id::EC => {
            let curve = key.ec_key()?.group().curve_name();
            match curve {
                Some(Nid::X9_62_PRIME256V1 | Nid::SECP384R1 | Nid::SECP521R1) => Ok(()),
                _ => Err(PkiError::WeakKey(
                    "EC key on an unsupported curve; use P-256, P-384 or P-521".into(),
                )),
            }
        }
        other => Err(PkiError::WeakKey(format!(
            "key type {other:?} not supported"
        ))),
    }
}

fn random_serial() -> Result<openssl::asn1::Asn1Integer, PkiError> {
    // 127 random bits, positive: unguessable and unique without a counter.
    let mut bn = BigNum::new()?;
    bn.rand(127, MsbOption::MAYBE_ZERO, false)?;
    Ok(bn.to_asn1_integer()?)
}

/// A certificate authority: its certificate and private key.
pub struct Ca {
    pub cert: X509,
    key: PKey<Private>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("subject", &name_to_string(self.cert.subject_name()))
            .finish()
    }
}

impl Ca {
    /// A new self-signed CA valid for `days`.
    pub fn create(
        common_name: &str,
        organization: &str,
        key_type: KeyType,
        days: u32,
    ) -> Result<Self, PkiError> {
        let key = generate_key(key_type)?;
        let mut name = X509Name::builder()?;
        name.append_entry_by_nid(Nid::COUNTRYNAME, "NL")?;
        name.append_entry_by_nid(Nid::ORGANIZATIONNAME, organization)?;
        name.append_entry_by_nid(Nid::COMMONNAME, common_name)?;
        let name = name.build();
        let v = Validity::days_from_now(days);

        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        let serial = random_serial()?;
        b.set_serial_number(&serial)?;
        b.set_subject_name(&name)?;
        b.set_issuer_name(&name)?;
        b.set_pubkey(&key)?;
        let (not_before, not_after) = (
            Asn1Time::from_unix(v.not_before)?,
            Asn1Time::from_unix(v.not_after)?,
        );
        b.set_not_before(&not_before)?;
        b.set_not_after(&not_after)?;
        b.append_extension(BasicConstraints::new().critical().ca().pathlen(0).build()?)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()?,
        )?;
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
        b.append_extension(ski)?;
        b.sign(&key, MessageDigest::sha256())?;
        Ok(Self {
            cert: b.build(),
            key,
        })
    }

    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, PkiError> {
        let cert = X509::from_pem(cert_pem)?;
        let key = PKey::private_key_from_pem(key_pem)?;
        if !cert.public_key()?.public_eq(&key) {
            return Err(PkiError::Invalid(
                "CA key does not match the CA certificate".into(),
            ));
        }
        Ok(Self { cert, key })
    }

    /// Loads `ca.pem` and `ca.key` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca.key"));
        let cert = fs::read(&cert_path).map_err(io_err(&cert_path))?;
        let key = fs::read(&key_path).map_err(io_err(&key_path))?;
        Self::from_pem(&cert, &key)
    }

    /// Writes `ca.pem` and `ca.key` (mode 0600) to `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), PkiError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        write_file(&dir.join("ca.pem"), &self.cert.to_pem()?, false)?;
        write_file(
            &dir.join("ca.key"),
            &self.key.private_key_to_pem_pkcs8()?,
            true,
        )
    }

    fn builder(
        &self,
        subject: &X509NameRef,
        key: &PKeyRef<impl HasPublic>,
        v: Validity,
    ) -> Result<X509Builder, PkiError> {
        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        let serial = random_serial()?;
        b.set_serial_number(&serial)?;
        b.set_subject_name(subject)?;
        b.set_issuer_name(self.cert.subject_name())?;
        b.set_pubkey(key)?;
        let (not_before, not_after) = (
            Asn1Time::from_unix(v.not_before)?,
            Asn1Time::from_unix(v.not_after)?,
        );
        b.set_not_before(&not_before)?;
        b.set_not_after(&not_after)?;
        b.append_extension(BasicConstraints::new().critical().build()?)?;
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(Some(&self.cert), None))?;
        b.append_extension(ski)?;
        let aki = AuthorityKeyIdentifier::new()
            .keyid(false)
            .build(&b.x509v3_context(Some(&self.cert), None))?;
        b.append_extension(aki)?;
        Ok(b)
    }

    /// A TLS server certificate for the given host names and addresses.
    pub fn issue_server(
        &self,
        dns: &[&str],
        ips: &[IpAddr],
        key: &PKeyRef<Private>,
        v: Validity,
    ) -> Result<X509, PkiError> {
        let mut name = X509Name::builder()?;
        name.append_entry_by_nid(Nid::COUNTRYNAME, "NL")?;
        name.append_entry_by_nid(Nid::COMMONNAME, dns.first().copied().unwrap_or("localhost"))?;
        let name = name.build();
        let mut b = self.builder(&name, key, v)?;
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_encipherment()
                .build()?,
        )?;
        b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
        let mut san = SubjectAlternativeName::new();
        for d in dns {
            san.dns(d);
        }
        for ip in ips {
            san.ip(&ip.to_string());
        }
        let san = san.build(&b.x509v3_context(Some(&self.cert), None))?;
        b.append_extension(san)?;
        b.sign(&self.key, MessageDigest::sha256())?;
        Ok(b.build())
    }

    /// A TLS client certificate (clientAuth) with a platform-built subject.
    pub fn issue_client(
        &self,
        subject: &ClientSubject,
        key: &PKeyRef<impl HasPublic>,
        v: Validity,
    ) -> Result<X509, PkiError> {
        check_key_strength(key)?;
        let name = subject.to_name()?;
        let mut b = self.builder(&name, key, v)?;
        b.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
        b.append_extension(ExtendedKeyUsage::new().client_auth().build()?)?;
        b.sign(&self.key, MessageDigest::sha256())?;
        Ok(b.build())
    }

    /// Signs a CSR: its signature must verify and its key must be strong enough;
    /// the subject it asks for is replaced by `subject`.
    pub fn sign_csr(
        &self,
        csr_pem: &[u8],
        subject: &ClientSubject,
        v: Validity,
    ) -> Result<X509, PkiError> {
        let req = X509Req::from_pem(csr_pem)
            .or_else(|_| X509Req::from_der(csr_pem))
            .map_err(|_| {
                PkiError::Invalid("not a PEM or DER certificate signing request".into())
            })?;
        let key = req.public_key()?;
        if !req.verify(&key)? {
            return Err(PkiError::Invalid(
                "the CSR's signature does not verify".into(),
            ));
        }
        self.issue_client(subject, &key, v)
    }

    /// A CRL of this CA listing `revoked`, valid for `days`.
    pub fn crl(&self, revoked: &[crl::Revoked], days: u32) -> Result<X509Crl, PkiError> {
        let now = chrono::Utc::now().timestamp();
        Ok(crl::build(
            &self.cert,
            &self.key,
            revoked,
            now - BACKDATE_SECS,
            now + i64::from(days) * 86_400,
        )?)
    }

    pub fn subject(&self) -> String {
        name_to_string(self.cert.subject_name())
    }
}

/// Writes a file; `secret` files get mode 0600 from the start.
pub fn write_file(path: &Path, data: &[u8], secret: bool) -> Result<(), PkiError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io_err(path))?;
    f.write_all(data).map_err(io_err(path))
}

/// The files written for an issued certificate.
#[derive(Debug, Clone)]
pub struct IssuedFiles {
    pub cert: PathBuf,
    pub key: Option<PathBuf>,
    pub p12: Option<PathBuf>,
}

/// Writes `PREFIX.pem` (certificate), and when the key is known `PREFIX.key`
/// (PKCS#8, 0600) and `PREFIX.p12` (PKCS#12 with the CA chain).
///
/// The PKCS#12 file needs a non-empty password: Java's key store (JSSE) and
/// .NET decrypt the certificate bag with it, and with an empty password they
/// load the key without its certificate, so the client sends none. Written
/// with OpenSSL 3's defaults made explicit: AES-256-CBC with PBKDF2 for key
/// and certificates, an HMAC-SHA256 MAC (both read by Java 8u301+, .NET,
/// OpenSSL 1.1.1+).
pub fn write_issued(
    prefix: &Path,
    cert: &X509Ref,
    key: Option<&PKeyRef<Private>>,
    ca: &X509Ref,
    p12_password: &str,
) -> Result<IssuedFiles, PkiError> {
    let with_ext = |ext: &str| {
        let mut s = prefix.as_os_str().to_owned();
        s.push(ext);
        PathBuf::from(s)
    };
    let cert_path = with_ext(".pem");
    write_file(&cert_path, &cert.to_pem()?, false)?;
    let Some(key) = key else {
        return Ok(IssuedFiles {
            cert: cert_path,
            key: None,
            p12: None,
        });
    };
    if p12_password.is_empty() {
        return Err(PkiError::Invalid(
            "the PKCS#12 file needs a non-empty password".into(),
        ));
    }
    let key_path = with_ext(".key");
    write_file(&key_path, &key.private_key_to_pem_pkcs8()?, true)?;
    let mut chain = Stack::new()?;
    chain.push(ca.to_owned())?;
    let friendly = cert
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok())
        .unwrap_or_else(|| "machtigingen".into());
    let p12 = Pkcs12::builder()
        .name(&friendly)
        .pkey(key)
        .cert(cert)
        .ca(chain)
        .key_algorithm(Nid::AES_256_CBC)
        .cert_algorithm(Nid::AES_256_CBC)
        .mac_md(MessageDigest::sha256())
        .build2(p12_password)?;
    let p12_path = with_ext(".p12");
    write_file(&p12_path, &p12.to_der()?, true)?;
    Ok(IssuedFiles {
        cert: cert_path,
        key: Some(key_path),
        p12: Some(p12_path),
    })
}

/// Reads every certificate in a PEM bundle.
pub fn read_pem_bundle(path: &Path) -> Result<Vec<X509>, PkiError> {
    let data = fs::read(path).map_err(io_err(path))?;
    let certs = X509::stack_from_pem(&data)?;
    if certs.is_empty() {
        return Err(PkiError::Invalid(format!(
            "{}: no certificates in file",
            path.display()
        )));
    }
    Ok(certs)
}

/// Reads one certificate (PEM or DER).
pub fn read_cert(path: &Path) -> Result<X509, PkiError> {
    let data = fs::read(path).map_err(io_err(path))?;
    X509::from_pem(&data)
        .or_else(|_| X509::from_der(&data))
        .map_err(|_| PkiError::Invalid(format!("{}: not a PEM or DER certificate", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> ClientSubject {
        ClientSubject {
            common_name: "test systeem".into(),
            organization: "Test Zorg".into(),
            organizational_unit: "AGB:03123456".into(),
        }
    }

    #[test]
    fn issues_client_certificate_that_verifies_against_ca() {
        let ca = Ca::create("Test CA", "Test", KeyType::EcP256, 30).unwrap();
        let key = generate_key(KeyType::EcP256).unwrap();
        let cert = ca
            .issue_client(&subject(), &key, Validity::days_from_now(10))
            .unwrap();
        assert!(cert.verify(&ca.cert.public_key().unwrap()).unwrap());
        let info = CertInfo::from_x509(&cert).unwrap();
        assert_eq!(info.fingerprint.len(), 64);
        assert!(info.subject.contains("OU=AGB:03123456"), "{}", info.subject);
        assert!(info.not_after > info.not_before);
    }

    #[test]
    fn csr_with_weak_rsa_key_is_refused() {
        let ca = Ca::create("Test CA", "Test", KeyType::EcP256, 30).unwrap();
        let weak = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
        let mut req = X509Req::builder().unwrap();
        req.set_pubkey(&weak).unwrap();
        req.sign(&weak, MessageDigest::sha256()).unwrap();
        let pem = req.build().to_pem().unwrap();
        let err = ca
            .sign_csr(&pem, &subject(), Validity::days_from_now(1))
            .unwrap_err();
        assert!(matches!(err, PkiError::WeakKey(_)), "{err}");
    }

    #[test]
    fn crl_lists_revoked_serials_and_verifies() {
        let ca = Ca::create("Test CA", "Test", KeyType::EcP256, 30).unwrap();
        let key = generate_key(KeyType::EcP256).unwrap();
        let cert = ca
            .issue_client(&subject(), &key, Validity::days_from_now(10))
            .unwrap();
        let other = ca
            .issue_client(&subject(), &key, Validity::days_from_now(10))
            .unwrap();
        let serial = CertInfo::from_x509(&cert).unwrap().serial;
        let crl = ca
            .crl(
                &[crl::Revoked {
                    serial_hex: serial,
                    revoked_at: 1_700_000_000,
                }],
                7,
            )
            .unwrap();
        let crl = X509Crl::from_pem(&crl.to_pem().unwrap()).unwrap();
        assert!(crl.verify(&ca.cert.public_key().unwrap()).unwrap());
        assert!(matches!(
            crl.get_by_cert(&cert),
            openssl::x509::CrlStatus::Revoked(_)
        ));
        assert!(matches!(
            crl.get_by_cert(&other),
            openssl::x509::CrlStatus::NotRevoked
        ));
    }
}
