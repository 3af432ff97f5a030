//! Rotation without a restart: the server certificate and key, the trusted
//! client CA bundles, the CRLs and the platform's client certificate for
//! callbacks are read again on SIGHUP ([`ReloadHandle::reload`]) and when
//! their files change (the content is compared every `tls.watch_secs`, which
//! also catches a symlink swapped to a new target); the CRLs moreover every
//! `tls.crl_reload_secs`.
//!
//! Each part is loaded completely before it replaces the one in force, and a
//! part that fails to load (a half-written file, a key that does not match
//! its certificate yet) keeps the previous one: logged, and counted in
//! `machtigingen_tls_reloads_total{part, result="failed"}`. A failed file is
//! tried again when it changes again or on the next SIGHUP.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use prometheus::IntCounterVec;
use tokio::sync::Notify;

use super::{SharedCrls, SharedServing, load_crls, load_serving};
use crate::config::{TerugkoppelingConfig, TlsConfig};

/// The platform's client certificate for callbacks as last loaded; the
/// generation changes with every successful reload, so HTTP clients built
/// with an older one are replaced.
pub struct PlatformIdentity {
    pub identity: Result<reqwest::Identity, String>,
    pub generation: u64,
}

pub type SharedIdentity = Arc<ArcSwap<PlatformIdentity>>;

/// Reads the platform's client certificate and key (PEM, PKCS#8 key).
pub fn load_platform_identity(c: &TerugkoppelingConfig) -> Result<reqwest::Identity, String> {
    let cert = std::fs::read(&c.client_cert).map_err(|e| {
        format!(
            "terugkoppeling.client_cert {}: {e}",
            c.client_cert.display()
        )
    })?;
    let key = std::fs::read(&c.client_key)
        .map_err(|e| format!("terugkoppeling.client_key {}: {e}", c.client_key.display()))?;
    reqwest::Identity::from_pkcs8_pem(&cert, &key)
        .map_err(|e| format!("terugkoppeling.client_cert/client_key: {e}"))
}

/// The identity loaded now, shared with whoever sends callbacks.
pub fn platform_identity(c: &TerugkoppelingConfig) -> SharedIdentity {
    Arc::new(ArcSwap::from_pointee(PlatformIdentity {
        identity: load_platform_identity(c),
        generation: 0,
    }))
}

/// Asks a running reloader to read every part again now (SIGHUP).
#[derive(Clone, Default)]
pub struct ReloadHandle(Arc<Notify>);

impl std::fmt::Debug for ReloadHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReloadHandle")
    }
}

impl ReloadHandle {
    /// Never blocks; a request made while a reload runs starts another one.
    pub fn reload(&self) {
        self.0.notify_one();
    }
}

fn counter() -> &'static IntCounterVec {
    static C: OnceLock<IntCounterVec> = OnceLock::new();
    C.get_or_init(|| {
        let c = IntCounterVec::new(
            prometheus::Opts::new(
                "tls_reloads_total",
                "Reloads of rotated TLS material by part (server, crl, platform_client) and result (ok, failed)",
            ),
            &["part", "result"],
        )
        .unwrap_or_else(|e| panic!("metric definition: {e}"));
        crate::metrics::register(Box::new(c.clone()));
        c
    })
}

fn count(part: &str, ok: bool) {
    counter()
        .with_label_values(&[part, if ok { "ok" } else { "failed" }])
        .inc();
}

/// What the reloader watches and where it puts what it loaded.
pub struct Reloader {
    pub tls: TlsConfig,
    pub terugkoppeling: TerugkoppelingConfig,
    pub serving: SharedServing,
    pub crls: SharedCrls,
    pub identity: SharedIdentity,
}

/// A digest of each part's files: paths and contents (or the read error).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Digests {
    server: Vec<u8>,
    crl: Vec<u8>,
    platform: Vec<u8>,
}

fn digest<'a>(paths: impl IntoIterator<Item = &'a PathBuf>) -> Vec<u8> {
    let mut h = openssl::sha::Sha256::new();
    for p in paths {
        h.update(p.as_os_str().as_encoded_bytes());
        match std::fs::read(p) {
            Ok(data) => {
                h.update(b"\x00ok\x00");
                h.update(&data);
            }
            Err(e) => h.update(format!("\x00err\x00{}", e.kind()).as_bytes()),
        }
    }
    h.finish().to_vec()
}

impl Reloader {
    fn digests(&self) -> Digests {
        let t = &self.tls;
        Digests {
            server: digest([&t.cert, &t.key].into_iter().chain(&t.client_ca)),
            crl: digest(&t.crl),
            platform: digest([
                &self.terugkoppeling.client_cert,
                &self.terugkoppeling.client_key,
            ]),
        }
    }

    fn reload_serving(&self) -> bool {
        match load_serving(&self.tls) {
            Ok(s) => {
                self.serving.store(Arc::new(s));
                count("server", true);
                tracing::info!(
                    "server certificate, key and client CA bundles reloaded; new connections use them"
                );
                true
            }
            Err(e) => {
                count("server", false);
                tracing::error!(error = %e, "TLS reload failed; keeping the previous certificate, key and CAs");
                false
            }
        }
    }

    fn reload_crls(&self) {
        match load_crls(&self.tls.crl, &self.serving.load().cas) {
            Ok(set) => {
                tracing::debug!(crls = set.len(), "CRLs reloaded");
                self.crls.store(Arc::new(set));
                count("crl", true);
            }
            Err(e) => {
                count("crl", false);
                tracing::error!(error = %e, "CRL reload failed; keeping the previous CRLs");
            }
        }
    }

    fn reload_platform(&self) {
        match load_platform_identity(&self.terugkoppeling) {
            Ok(identity) => {
                let generation = self.identity.load().generation + 1;
                self.identity.store(Arc::new(PlatformIdentity {
                    identity: Ok(identity),
                    generation,
                }));
                count("platform_client", true);
                tracing::info!("platform client certificate for callbacks reloaded");
            }
            Err(e) => {
                count("platform_client", false);
                tracing::error!(error = %e, "platform client certificate reload failed; keeping the previous one");
            }
        }
    }

    /// Runs until aborted: reloads on `handle`, on a changed file, and the
    /// CRLs on their interval.
    pub fn spawn(self, handle: ReloadHandle) -> tokio::task::JoinHandle<()> {
        let crl_interval = Duration::from_secs(self.tls.crl_reload_secs.max(1));
        let tick = match self.tls.watch_secs {
            0 => crl_interval,
            s => Duration::from_secs(s).min(crl_interval),
        };
        let watching = self.tls.watch_secs > 0;
        counter();
        let this = Arc::new(self);
        tokio::spawn(async move {
            let r = this.clone();
            let mut seen = tokio::task::spawn_blocking(move || r.digests())
                .await
                .unwrap_or_default();
            let mut crls_loaded = Instant::now();
            loop {
                let forced = tokio::select! {
                    () = handle.0.notified() => true,
                    () = tokio::time::sleep(tick) => false,
                };
                if forced {
                    tracing::info!("reload requested (SIGHUP): reading TLS material again");
                }
                let r = this.clone();
                let prev = seen.clone();
                let step = tokio::task::spawn_blocking(move || {
                    let now = if watching || forced {
                        r.digests()
                    } else {
                        prev.clone()
                    };
                    let server = (forced || now.server != prev.server) && r.reload_serving();
                    let crl_due = crls_loaded.elapsed() >= crl_interval;
                    let crl = forced || server || crl_due || now.crl != prev.crl;
                    if crl {
                        r.reload_crls();
                    }
                    if forced || now.platform != prev.platform {
                        r.reload_platform();
                    }
                    (now, crl)
                })
                .await;
                match step {
                    Ok((now, crl)) => {
                        // A part that failed is not retried until its files
                        // change again (or SIGHUP): no error every tick.
                        seen = now;
                        if crl {
                            crls_loaded = Instant::now();
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "TLS reload task failed"),
                }
            }
        })
    }
}
