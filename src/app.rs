//! How the service is put together, in one place: the listeners (the mTLS
//! listener carrying the REST and SOAP doors, the plain ops listener, the
//! certificate-less contract listener), the shared [`AppState`], the TLS
//! reloader, the callback dispatcher, the retention purge and the audit index
//! pass. [`run`] takes already-bound listeners so tests bind port 0 and learn
//! the address; `serve` binds the configured addresses.
//!
//! Dependencies point one way: `app` knows the doors (`rest`, `soap`, `ops`,
//! `contract`, `portal`) and the transport (`http`); they know only `state`.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

use crate::config::Config;
use crate::db::Db;
use crate::http::{error, middleware};
pub use crate::state::AppState;
use crate::tls;

/// The listening sockets; the contract listener is optional.
#[derive(Debug)]
pub struct Listeners {
    pub api: TcpListener,
    pub ops: TcpListener,
    pub contract: Option<TcpListener>,
}

impl Listeners {
    pub fn bind(config: &Config) -> std::io::Result<Self> {
        let bind = |addr: SocketAddr, key: &str| {
            TcpListener::bind(addr)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{key} {addr}: {e}")))
        };
        Ok(Self {
            api: bind(config.server.listen, "server.listen")?,
            ops: bind(config.server.ops_listen, "server.ops_listen")?,
            contract: match config.server.contract_addr() {
                Ok(Some(addr)) => Some(bind(addr, "server.contract_listen")?),
                _ => None,
            },
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// A started service: its addresses, and what it takes to stop it.
pub struct Running {
    pub api_addr: SocketAddr,
    pub ops_addr: SocketAddr,
    pub contract_addr: Option<SocketAddr>,
    api: Server,
    ops: Server,
    contract: Option<Server>,
    background: Vec<tokio::task::JoinHandle<()>>,
    reload: tls::reload::ReloadHandle,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("api_addr", &self.api_addr)
            .field("ops_addr", &self.ops_addr)
            .field("contract_addr", &self.contract_addr)
            .finish()
    }
}

/// Stops a running service from anywhere (signal handler, test teardown).
#[derive(Clone)]
pub struct StopHandle {
    api: ServerHandle,
    ops: ServerHandle,
    contract: Option<ServerHandle>,
}

impl StopHandle {
    /// Graceful: stop accepting, let in-flight requests finish (up to
    /// `server.shutdown_timeout_secs`), then stop.
    pub async fn stop(&self) {
        self.api.stop(true).await;
        self.ops.stop(true).await;
        if let Some(contract) = &self.contract {
            contract.stop(true).await;
        }
    }
}

impl Running {
    /// Reads certificates, keys, CAs and CRLs again now (what SIGHUP does).
    pub fn reload_handle(&self) -> tls::reload::ReloadHandle {
        self.reload.clone()
    }

    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            api: self.api.handle(),
            ops: self.ops.handle(),
            contract: self.contract.as_ref().map(Server::handle),
        }
    }

    /// Runs until both listeners have stopped, then ends background work.
    pub async fn wait(self) -> std::io::Result<()> {
        let contract = async {
            match self.contract {
                Some(server) => server.await,
                None => Ok(()),
            }
        };
        let (api, ops, contract) = futures_util::future::join3(self.api, self.ops, contract).await;
        for task in self.background {
            task.abort();
        }
        api.and(ops).and(contract)
    }
}

/// The retention purge, now and then every `every`; several instances may run
/// it (on PostgreSQL their batches skip each other's rows; deleting what is
/// already gone is a no-op).
fn spawn_purge(
    db: Db,
    every: Duration,
    policy: crate::retention::Policy,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let options = crate::retention::service::Options::new(crate::audit::PLATFORM);
        loop {
            if let Err(e) = crate::retention::service::run(&db, policy, options).await {
                tracing::warn!(error = %e, "retention purge failed; retrying later");
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// Starts both listeners and the background tasks. Must run inside a tokio
/// (actix) runtime. Signals are not handled here: the caller decides (see
/// `cli::serve`), so tests can run many servers in one process.
pub fn run(config: Arc<Config>, db: Db, listeners: Listeners) -> Result<Running, StartError> {
    let tls::Setup {
        acceptor,
        serving,
        crls,
    } = tls::setup(&config.tls)?;
    let identity = tls::reload::platform_identity(&config.terugkoppeling);
    let reload = tls::reload::ReloadHandle::default();
    let reloader = tls::reload::Reloader {
        tls: config.tls.clone(),
        terugkoppeling: config.terugkoppeling.clone(),
        serving: serving.clone(),
        crls,
        identity: identity.clone(),
    }
    .spawn(reload.clone());

    let mut background = vec![reloader];
    if config.terugkoppeling.dispatcher {
        background.extend(crate::dispatch::spawn_with(
            db.clone(),
            &config.terugkoppeling,
            identity,
        ));
    }
    background.extend(crate::email::spawn(db.clone(), &config));
    background.push(crate::audit::index::spawn(db.clone()));
    if let Some(every) = config.retentie.interval() {
        background.push(spawn_purge(
            db.clone(),
            every,
            crate::retention::Policy::from(&config.retentie),
        ));
    }

    let api_addr = listeners.api.local_addr()?;
    let ops_addr = listeners.ops.local_addr()?;
    let contract_addr = match &listeners.contract {
        Some(l) => Some(l.local_addr()?),
        None => None,
    };
    let csrf = match std::fs::read(&config.tls.key) {
        Ok(secret) => crate::formtoken::Key::derive(&secret),
        Err(_) => crate::formtoken::Key::random(),
    };
    let state = web::Data::new(AppState {
        db,
        config: config.clone(),
        csrf,
    });

    let api_state = state.clone();
    let body_limit = config.server.body_limit;
    let mut api = HttpServer::new(move || {
        App::new()
            .app_data(api_state.clone())
            .configure(|cfg| error::configure_extractors(cfg, body_limit))
            .wrap(from_fn(middleware::observe))
            .configure(crate::rest::configure)
            .configure(crate::soap::configure)
            .configure(crate::portal::configure)
            .default_service(web::to(error::not_found))
    })
    .on_connect(crate::http::capture_peer)
    .disable_signals()
    .shutdown_timeout(config.server.shutdown_timeout_secs)
    .tls_handshake_timeout(Duration::from_secs(
        config.tls.handshake_timeout_secs.max(1),
    ));
    if config.server.workers > 0 {
        api = api.workers(config.server.workers);
    }
    let api = api.listen_openssl(listeners.api, acceptor)?.run();

    let ops_state = state.clone();
    let ops = HttpServer::new(move || {
        App::new()
            .app_data(ops_state.clone())
            .configure(crate::ops::configure)
            .default_service(web::to(error::not_found))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(5)
    .listen(listeners.ops)?
    .run();

    let contract = match listeners.contract {
        Some(listener) => Some(contract_server(
            &config,
            api_addr.port(),
            listener,
            serving,
        )?),
        None => None,
    };

    Ok(Running {
        api_addr,
        ops_addr,
        contract_addr,
        api,
        ops,
        contract,
        background,
        reload,
    })
}

/// The certificate-less contract listener (see [`crate::contract::listener`]).
fn contract_server(
    config: &Config,
    api_port: u16,
    listener: TcpListener,
    serving: tls::SharedServing,
) -> Result<Server, StartError> {
    let acceptor = tls::public_acceptor(&config.tls, serving)?;
    let state = web::Data::new(crate::contract::listener::ContractState {
        public_url: config.server.public_url.clone(),
        api_port,
    });
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(middleware::observe))
            .configure(crate::contract::listener::configure)
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(5)
    .tls_handshake_timeout(Duration::from_secs(
        config.tls.handshake_timeout_secs.max(1),
    ))
    .listen_openssl(listener, acceptor)?
    .run())
}
