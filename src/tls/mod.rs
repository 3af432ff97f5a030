//! The mutual-TLS listener configuration: TLS 1.2+ with Mozilla's intermediate
//! cipher list, a client certificate required and verified against the
//! configured CA bundles, and revocation checked against CRLs that are reloaded
//! on an interval without restarting.
//!
//! OpenSSL's own CRL checking is bound to the X509_STORE, which cannot be
//! swapped under a running acceptor; so the chain is verified by OpenSSL and the
//! leaf and intermediates are then looked up, in the verify callback, in the
//! current set of signature-checked CRLs held in an `ArcSwap`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use openssl::ssl::{
    SslAcceptor, SslAcceptorBuilder, SslFiletype, SslMethod, SslOptions, SslSessionCacheMode,
    SslVerifyMode,
};
use openssl::x509::{CrlStatus, X509, X509Crl, X509VerifyResult};

use crate::config::TlsConfig;
use crate::pki;

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

/// The acceptor of the contract listener: the same server certificate and
/// protocol floor, but no client certificate is requested, so anyone can read
/// the public contract. It never carries the API (see `http::contract`).
pub fn public_acceptor(config: &TlsConfig) -> Result<SslAcceptorBuilder, TlsError> {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    b.set_min_proto_version(Some(openssl::ssl::SslVersion::TLS1_2))?;
    b.set_options(SslOptions::NO_RENEGOTIATION | SslOptions::CIPHER_SERVER_PREFERENCE);
    b.set_certificate_chain_file(&config.cert)
        .map_err(|e| file_err("tls.cert", &config.cert)(e.to_string()))?;
    b.set_private_key_file(&config.key, SslFiletype::PEM)
        .map_err(|e| file_err("tls.key", &config.key)(e.to_string()))?;
    b.check_private_key()
        .map_err(|_| file_err("tls.key", &config.key)("does not match tls.cert".into()))?;
    b.set_verify(SslVerifyMode::NONE);
    Ok(b)
}

/// Builds the acceptor for the mTLS listener.
pub fn acceptor(
    config: &TlsConfig,
    cas: &[X509],
    crls: SharedCrls,
) -> Result<SslAcceptorBuilder, TlsError> {
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    b.set_min_proto_version(Some(openssl::ssl::SslVersion::TLS1_2))?;
    b.set_options(
        SslOptions::NO_RENEGOTIATION | SslOptions::CIPHER_SERVER_PREFERENCE | SslOptions::NO_TICKET,
    );
    // No session resumption: every connection presents and verifies its
    // certificate against the CRLs in force now.
    b.set_session_cache_mode(SslSessionCacheMode::OFF);
    b.set_session_id_context(b"machtigingen")?;

    b.set_certificate_chain_file(&config.cert)
        .map_err(|e| file_err("tls.cert", &config.cert)(e.to_string()))?;
    b.set_private_key_file(&config.key, SslFiletype::PEM)
        .map_err(|e| file_err("tls.key", &config.key)(e.to_string()))?;
    b.check_private_key()
        .map_err(|_| file_err("tls.key", &config.key)("does not match tls.cert".into()))?;

    for ca in cas {
        b.cert_store_mut().add_cert(ca.clone())?;
        b.add_client_ca(ca)?;
    }
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

/// Loads CAs and CRLs and builds the acceptor; returns the shared CRL set so
/// the caller can keep it fresh with [`spawn_crl_reloader`].
pub fn setup(config: &TlsConfig) -> Result<(SslAcceptorBuilder, SharedCrls, Vec<X509>), TlsError> {
    let cas = load_client_cas(config)?;
    let crls: SharedCrls = Arc::new(ArcSwap::from_pointee(load_crls(&config.crl, &cas)?));
    let acceptor = acceptor(config, &cas, crls.clone())?;
    Ok((acceptor, crls, cas))
}

/// Reloads the CRLs every `interval`. A CRL that fails to load keeps the
/// previous set in force (and is logged), so a half-written file never opens
/// the door to revoked certificates.
pub fn spawn_crl_reloader(
    paths: Vec<PathBuf>,
    cas: Vec<X509>,
    crls: SharedCrls,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let (paths, cas) = (paths.clone(), cas.clone());
            match tokio::task::spawn_blocking(move || load_crls(&paths, &cas)).await {
                Ok(Ok(set)) => {
                    tracing::debug!(crls = set.len(), "CRLs reloaded");
                    crls.store(Arc::new(set));
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "CRL reload failed; keeping the previous CRLs")
                }
                Err(e) => tracing::error!(error = %e, "CRL reload task failed"),
            }
        }
    })
}
