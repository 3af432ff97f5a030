//! The mutual-TLS listener configuration: TLS 1.2+ with Mozilla's intermediate
//! cipher list, a client certificate required and verified against the
//! configured CA bundles, and revocation checked against CRLs. Certificate,
//! key, CA bundles and CRLs are reloaded without a restart ([`reload`]).
//!
//! OpenSSL's own CRL checking is bound to the X509_STORE, which cannot be
//! swapped under a running acceptor; so the chain is verified by OpenSSL and the
//! leaf and intermediates are then looked up, in the verify callback, in the
//! current set of signature-checked CRLs held in an `ArcSwap`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use openssl::ssl::{
    SniError, SslAcceptor, SslAcceptorBuilder, SslContext, SslFiletype, SslMethod, SslOptions,
    SslSessionCacheMode, SslVerifyMode,
};
use openssl::x509::{CrlStatus, X509, X509Crl, X509VerifyResult};

use crate::config::TlsConfig;
use crate::pki;

pub mod reload;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{key} ({path}): {message}")]
    File {
        key: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error("openssl: {0}")]
    Ssl(#[from] openssl::error::ErrorStack),
}

fn file_err<'a>(key: &'static str, path: &'a Path) -> impl FnOnce(String) -> TlsError + 'a {
    move |message| TlsError::File {
        key,
        path: path.to_owned(),
        message,
    }
}

/// The CRLs in force, each verified against a trusted CA.
#[derive(Default)]
pub struct CrlSet {
    crls: Vec<X509Crl>,
}

impl CrlSet {
    pub fn len(&self) -> usize {
        self.crls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.crls.is_empty()
    }

    /// True when a CRL of the certificate's issuer lists it.
    pub fn is_revoked(&self, cert: &X509) -> bool {
        self.crls.iter().any(|crl| {
            crl.issuer_name()
                .try_cmp(cert.issuer_name())
                .map(|o| o.is_eq())
                .unwrap_or(false)
                && matches!(crl.get_by_cert(cert), CrlStatus::Revoked(_))
        })
    }
}

/// Shared, hot-swappable CRL set.
pub type SharedCrls = Arc<ArcSwap<CrlSet>>;

/// Reads every CA certificate of the configured bundles.
pub fn load_client_cas(config: &TlsConfig) -> Result<Vec<X509>, TlsError> {
    let mut cas = Vec::new();
    for path in &config.client_ca {
        let certs = pki::read_pem_bundle(path)
            .map_err(|e| file_err("tls.client_ca", path)(e.to_string()))?;
        cas.extend(certs);
    }
    Ok(cas)
}

/// Reads the CRL files (PEM or DER); each must be signed by one of `cas`.
pub fn load_crls(paths: &[PathBuf], cas: &[X509]) -> Result<CrlSet, TlsError> {
    let mut crls = Vec::new();
    for path in paths {
        let data = std::fs::read(path).map_err(|e| file_err("tls.crl", path)(e.to_string()))?;
        let crl = X509Crl::from_pem(&data)
            .or_else(|_| X509Crl::from_der(&data))
            .map_err(|_| file_err("tls.crl", path)("not a PEM or DER CRL".into()))?;
        let issuer = cas.iter().find(|ca| {
            ca.subject_name()
                .try_cmp(crl.issuer_name())
                .map(|o| o.is_eq())
                .unwrap_or(false)
        });
        let Some(issuer) = issuer else {
            return Err(file_err("tls.crl", path)(
                "issued by none of the tls.client_ca CAs".into(),
            ));
        };
        let issuer_key = issuer.public_key()?;
        if !crl.verify(&issuer_key)? {
            return Err(file_err("tls.crl", path)(
                "signature does not verify".into(),
            ));
        }
        if let Some(next) = crl.next_update() {
            let now = openssl::asn1::Asn1Time::days_from_now(0)?;
            if next < now {
                tracing::warn!(path = %path.display(), "CRL is past its nextUpdate; still enforcing it");
            }
        }
        crls.push(crl);
    }
    Ok(CrlSet { crls })
}

/// The acceptor of the contract listener: the same server certificate (and
/// its rotation) and protocol floor, but no client certificate is requested,
/// so anyone can read the public contract. It never carries the API (see
/// `http::contract`). Switching to the mTLS serving context keeps this
/// connection's verify mode (none): OpenSSL takes only the certificate, key,
/// chain store and CA names from it.
pub fn public_acceptor(
    config: &TlsConfig,
    serving: SharedServing,
) -> Result<SslAcceptorBuilder, TlsError> {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    b.set_min_proto_version(Some(openssl::ssl::SslVersion::TLS1_2))?;
    b.set_options(SslOptions::NO_RENEGOTIATION | SslOptions::CIPHER_SERVER_PREFERENCE);
    load_server_identity(&mut b, config)?;
    b.set_verify(SslVerifyMode::NONE);
    follow(&mut b, serving);
    Ok(b)
}

/// Switches every new connection of `b` to the serving set in force at its
/// ClientHello (the servername callback runs with or without SNI).
fn follow(b: &mut SslAcceptorBuilder, serving: SharedServing) {
    b.set_servername_callback(move |ssl, _alert| {
        let current = serving.load();
        ssl.set_ssl_context(&current.context).map_err(|e| {
            tracing::error!(error = %e, "switching to the current TLS context failed");
            SniError::ALERT_FATAL
        })
    });
}

/// Protocol floor, options and session policy shared by the listener's
/// acceptor and every serving context swapped into it.
fn harden(b: &mut SslAcceptorBuilder) -> Result<(), TlsError> {
    b.set_min_proto_version(Some(openssl::ssl::SslVersion::TLS1_2))?;
    b.set_options(
        SslOptions::NO_RENEGOTIATION | SslOptions::CIPHER_SERVER_PREFERENCE | SslOptions::NO_TICKET,
    );
    // No session resumption: every connection presents and verifies its
    // certificate against the CRLs in force now.
    b.set_session_cache_mode(SslSessionCacheMode::OFF);
    b.set_session_id_context(b"machtigingen")?;
    Ok(())
}

/// The server certificate chain and key of `config`, checked to match.
fn load_server_identity(b: &mut SslAcceptorBuilder, config: &TlsConfig) -> Result<(), TlsError> {
    b.set_certificate_chain_file(&config.cert)
        .map_err(|e| file_err("tls.cert", &config.cert)(e.to_string()))?;
    b.set_private_key_file(&config.key, SslFiletype::PEM)
        .map_err(|e| file_err("tls.key", &config.key)(e.to_string()))?;
    b.check_private_key()
        .map_err(|_| file_err("tls.key", &config.key)("does not match tls.cert".into()))?;
    Ok(())
}

/// What one connection is served with and verified against: the server
/// certificate and key, and the trusted client CAs (chain store and the CA
/// names sent in the certificate request). Replaced as a whole on reload.
pub struct Serving {
    pub context: SslContext,
    pub cas: Vec<X509>,
}

/// Reads the server certificate, key and CA bundles into a [`Serving`].
pub fn load_serving(config: &TlsConfig) -> Result<Serving, TlsError> {
    let cas = load_client_cas(config)?;
    if cas.is_empty() {
        return Err(TlsError::File {
            key: "tls.client_ca",
            path: config.client_ca.first().cloned().unwrap_or_default(),
            message: "no CA certificate in the configured bundles".into(),
        });
    }
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    harden(&mut b)?;
    load_server_identity(&mut b, config)?;
    for ca in &cas {
        b.cert_store_mut().add_cert(ca.clone())?;
        b.add_client_ca(ca)?;
    }
    b.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    Ok(Serving {
        context: b.build().into_context(),
        cas,
    })
}

/// Shared, hot-swappable serving set.
pub type SharedServing = Arc<ArcSwap<Serving>>;

/// Builds the acceptor for the mTLS listener. Its own certificate and CAs are
/// those of `initial`; on every handshake the servername callback (which
/// OpenSSL runs for every ClientHello, with or without SNI) switches the
/// connection to the serving set in force now, so a reload reaches the next
/// connection without rebuilding the listener. The verify callback (CRLs)
/// stays this acceptor's: OpenSSL keeps the connection's verify mode and
/// callback, and takes the chain store and CA names from the switched-to
/// context.
pub fn acceptor(
    config: &TlsConfig,
    serving: SharedServing,
    crls: SharedCrls,
) -> Result<SslAcceptorBuilder, TlsError> {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    harden(&mut b)?;
    load_server_identity(&mut b, config)?;
    for ca in &serving.load().cas {
        b.cert_store_mut().add_cert(ca.clone())?;
        b.add_client_ca(ca)?;
    }
    follow(&mut b, serving);
    b.set_verify_callback(
        SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
        move |preverified, ctx| {
            if !preverified {
                return false;
            }
            let Some(cert) = ctx.current_cert().map(|c| c.to_owned()) else {
                return false;
            };
            if crls.load().is_revoked(&cert) {
                // SAFETY: X509_V_ERR_CERT_REVOKED is a valid OpenSSL verify result code.
                let revoked =
                    unsafe { X509VerifyResult::from_raw(openssl_sys::X509_V_ERR_CERT_REVOKED) };
                ctx.set_error(revoked);
                return false;
            }
            true
        },
    );
    Ok(b)
}

/// The listener's acceptor and the shared sets a [`reload::Reloader`] keeps
/// fresh.
pub struct Setup {
    pub acceptor: SslAcceptorBuilder,
    pub serving: SharedServing,
    pub crls: SharedCrls,
}

/// Loads certificate, key, CAs and CRLs and builds the acceptor.
pub fn setup(config: &TlsConfig) -> Result<Setup, TlsError> {
    let serving = load_serving(config)?;
    let crls: SharedCrls = Arc::new(ArcSwap::from_pointee(load_crls(&config.crl, &serving.cas)?));
    let serving: SharedServing = Arc::new(ArcSwap::from_pointee(serving));
    let acceptor = acceptor(config, serving.clone(), crls.clone())?;
    Ok(Setup {
        acceptor,
        serving,
        crls,
    })
}
