//! `machtigingen serve`: migrate, bootstrap a development PKI on a fresh
//! checkout, start the listeners, reload certificates on SIGHUP, and shut
//! down gracefully on SIGTERM/SIGINT.

use std::io::Write;
use std::sync::Arc;

use super::{CliResult, migrate_and_chain};
use crate::app::{self, Listeners};
use crate::config::Config;
use crate::db::Db;
use crate::devsetup;

pub fn serve(config: Config) -> CliResult {
    let config = Arc::new(config);
    let db = Db::open(&config.database)?;
    let applied = migrate_and_chain(&db)?;
    tracing::info!(backend = db.backend().name(), applied, "database ready");
    if devsetup::needs_bootstrap(&config) {
        tracing::warn!(
            "no PKI configured: creating a DEVELOPMENT-ONLY PKI and demo parties under ./data"
        );
        devsetup::bootstrap(&config, &db)?;
    }
    if let Some(banner) = devsetup::banner(&config) {
        // A closed stdout (detached, piped into a finished reader) must not stop the service.
        let _ = writeln!(std::io::stdout(), "{banner}");
    }
    let listeners = Listeners::bind(&config)?;
    actix_web::rt::System::new().block_on(async move {
        let running = app::run(config, db, listeners)?;
        tracing::info!(api = %running.api_addr, ops = %running.ops_addr, "listening");
        let reload = running.reload_handle();
        actix_web::rt::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::hangup()) {
                Ok(mut hup) => {
                    while hup.recv().await.is_some() {
                        reload.reload();
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot listen for SIGHUP; certificates reload only when their files change"),
            }
        });
        let stop = running.stop_handle();
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutdown requested: finishing in-flight requests");
            stop.stop().await;
        });
        running.wait().await?;
        tracing::info!("stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the service");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
