//! The test harness: a real server on random ports with real mutual TLS,
//! certificates made by the project's own PKI code, and a fresh database on the
//! backend chosen by `MACHTIGINGEN_TEST_DATABASE_URL` (SQLite when unset).

#![allow(dead_code)]

pub mod broken_receiver;
pub mod db;
pub mod form;
pub mod private_pg;
pub mod redact;
pub mod service;
pub mod smtp;
pub mod soap;
pub mod tls;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use machtigingen::app::{self, Listeners};
use machtigingen::audit::Actor;
use machtigingen::config::{Config, KeyType};
use machtigingen::db::Db;
use machtigingen::pki::{self, Ca, Validity};
use machtigingen::registry::admin::{self, IssueRequest, KeySource};
use machtigingen::registry::{CertKind, PartyKind, PartyRef, Scope, store};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

pub use db::TestDb;

/// The platform CA and server certificate shared by every test of this binary
/// (making keys is the slow part; sharing them changes nothing under test).
pub struct TestPki {
    pub dir: PathBuf,
    pub ca: Ca,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub ca_pem: PathBuf,
}

pub fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("mt-pki-")
            .tempdir()
            .unwrap()
            .keep();
        let ca = Ca::create("machtigingen test CA", "test", KeyType::EcP256, 30).unwrap();
        ca.save(&dir).unwrap();
        let key = pki::generate_key(KeyType::EcP256).unwrap();
        let server = ca
            .issue_server(
                &["localhost"],
                &["127.0.0.1".parse().unwrap()],
                &key,
                Validity::days_from_now(30),
            )
            .unwrap();
        let server_cert = dir.join("server.pem");
        let server_key = dir.join("server.key");
        let mut chain = server.to_pem().unwrap();
        chain.extend(ca.cert.to_pem().unwrap());
        std::fs::write(&server_cert, chain).unwrap();
        std::fs::write(&server_key, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        TestPki {
            ca_pem: dir.join("ca.pem"),
            dir,
            ca,
            server_cert,
            server_key,
        }
    })
}

/// A running server plus everything a test needs to talk to it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub ops_addr: SocketAddr,
    /// The certificate-less contract listener.
    pub contract_addr: Option<SocketAddr>,
    pub db: Db,
    pub config: Arc<Config>,
    pub dir: tempfile::TempDir,
    pub crl_path: PathBuf,
    /// What SIGHUP does to the binary: read certificates, keys, CAs again.
    pub reload: machtigingen::tls::reload::ReloadHandle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    _testdb: Option<TestDb>,
}

pub struct TestAppBuilder {
    overrides: String,
    database_url: Option<String>,
}

impl TestAppBuilder {
    /// Extra TOML merged over the test configuration.
    pub fn config(mut self, toml: &str) -> Self {
        self.overrides.push('\n');
        self.overrides.push_str(toml);
        self
    }

    /// Use another app's database (a second instance, or a restart); the
    /// first app owns it and must outlive this one.
    pub fn database_of(mut self, other: &TestApp) -> Self {
        self.database_url = Some(other.config.database.url.clone());
        self
    }

    /// Use this database (e.g. on a private PostgreSQL server); the caller
    /// owns it.
    pub fn database(mut self, url: &str) -> Self {
        self.database_url = Some(url.to_owned());
        self
    }

    pub async fn spawn(self) -> TestApp {
        let pki = pki();
        let dir = tempfile::Builder::new()
            .prefix("mt-app-")
            .tempdir()
            .unwrap();
        let crl_path = dir.path().join("ca.crl");
        std::fs::write(&crl_path, pki.ca.crl(&[], 30).unwrap().to_pem().unwrap()).unwrap();
        let (testdb, db_url) = match self.database_url.clone() {
            Some(url) => (None, url),
            None => {
                let t = TestDb::create().await;
                let url = t.url.clone();
                (Some(t), url)
            }
        };
        let toml = format!(
            r#"
[server]
listen = "127.0.0.1:0"
ops_listen = "127.0.0.1:0"
workers = 2
shutdown_timeout_secs = 1
[database]
url = "{db}"
pool_size = 8
connect_timeout_secs = 3
[tls]
cert = "{cert}"
key = "{key}"
client_ca = ["{ca}"]
crl = ["{crl}"]
crl_reload_secs = 1
[pki]
dir = "{pkidir}"
[dev]
bootstrap = false
"#,
            db = db_url,
            cert = pki.server_cert.display(),
            key = pki.server_key.display(),
            ca = pki.ca_pem.display(),
            crl = crl_path.display(),
            pkidir = pki.dir.display(),
        );
        let config = Arc::new(Config::from_toml_layers(&[&toml, &self.overrides]).unwrap());
        let db = Db::open(&config.database).unwrap();
        db.migrate().unwrap();

        let listeners = Listeners {
            api: TcpListener::bind("127.0.0.1:0").unwrap(),
            ops: TcpListener::bind("127.0.0.1:0").unwrap(),
            contract: Some(TcpListener::bind("127.0.0.1:0").unwrap()),
        };
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (cfg, server_db) = (config.clone(), db.clone());
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let running = app::run(cfg, server_db, listeners).unwrap();
                addr_tx
                    .send((
                        running.api_addr,
                        running.ops_addr,
                        running.contract_addr,
                        running.reload_handle(),
                    ))
                    .unwrap();
                let handle = running.stop_handle();
                actix_web::rt::spawn(async move {
                    let _ = stop_rx.await;
                    handle.stop().await;
                });
                let _ = running.wait().await;
            })
        });
        let (addr, ops_addr, contract_addr, reload) = addr_rx.recv().unwrap();
        TestApp {
            addr,
            ops_addr,
            contract_addr,
            db,
            config,
            dir,
            crl_path,
            reload,
            stop: Some(stop_tx),
            thread: Some(thread),
            _testdb: testdb,
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            overrides: String::new(),
            database_url: None,
        }
    }

    /// Stops the server (background tasks are cut off mid-work, like a
    /// crash of the dispatcher); the database stays for another instance.
    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    pub async fn spawn() -> Self {
        Self::builder().spawn().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{}", self.addr.port(), path)
    }

    pub fn ops_url(&self, path: &str) -> String {
        format!("http://{}{}", self.ops_addr, path)
    }

    /// Registers a party (idempotent) and returns its reference.
    pub fn party(&self, kind: PartyKind, code: &str) -> PartyRef {
        let reference = PartyRef::new(kind.scheme(), code).unwrap();
        let mut conn = self.db.conn().unwrap();
        if store::find_party(&mut conn, &reference).is_err() {
            store::add_party(
                &mut conn,
                kind,
                &reference,
                &format!("Test {} {code}", kind.as_str()),
            )
            .unwrap();
        }
        reference
    }

    /// Issues and registers a certificate through the registry's own code.
    pub fn issue(
        &self,
        party: &PartyRef,
        kind: CertKind,
        scopes: &[Scope],
        ips: &[&str],
    ) -> TestCert {
        let mut conn = self.db.conn().unwrap();
        let issued = admin::issue(
            &mut conn,
            &pki().ca,
            IssueRequest {
                party: party.clone(),
                kind,
                scopes: scopes.iter().copied().collect(),
                ip_allowlist: machtigingen::registry::parse_allowlist(ips).unwrap(),
                key: KeySource::Generate(KeyType::EcP256),
                common_name: None,
                validity: Validity::days_from_now(10),
            },
            &Actor::operator(),
        )
        .unwrap();
        TestCert::new(issued.cert, issued.key.unwrap())
    }

    /// A provider (zorgaanbieder) system certificate with the given scopes.
    pub fn provider(&self, agb: &str, scopes: &[Scope]) -> TestClient {
        let p = self.party(PartyKind::Zorgaanbieder, agb);
        self.client(&self.issue(&p, CertKind::Systeem, scopes, &[]))
    }

    /// An HTTPS client presenting `cert`, trusting only the test CA.
    pub fn client(&self, cert: &TestCert) -> TestClient {
        TestClient::new(cert, self)
    }

    /// Rewrites the CRL file with the platform's admin code (the server reloads
    /// it within `crl_reload_secs`).
    pub fn publish_crl(&self) {
        let mut conn = self.db.conn().unwrap();
        admin::publish_crl(&mut conn, &pki().ca, &self.crl_path, 30).unwrap();
    }
}

/// A certificate with its private key.
#[derive(Clone)]
pub struct TestCert {
    pub cert: X509,
    pub key: PKey<Private>,
    pub fingerprint: String,
}

impl TestCert {
    pub fn new(cert: X509, key: PKey<Private>) -> Self {
        let fingerprint = pki::fingerprint(&cert).unwrap();
        Self {
            cert,
            key,
            fingerprint,
        }
    }

    pub fn cert_pem(&self) -> Vec<u8> {
        self.cert.to_pem().unwrap()
    }

    pub fn key_pem(&self) -> Vec<u8> {
        self.key.private_key_to_pem_pkcs8().unwrap()
    }

    /// Writes PEM files into `dir` for tools that want paths (curl, CLI).
    pub fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let c = dir.join(format!("{name}.pem"));
        let k = dir.join(format!("{name}.key"));
        std::fs::write(&c, self.cert_pem()).unwrap();
        std::fs::write(&k, self.key_pem()).unwrap();
        (c, k)
    }
}

/// An HTTPS client bound to one certificate and one server.
#[derive(Clone)]
pub struct TestClient {
    pub http: reqwest::Client,
    pub cert: TestCert,
    base: String,
}

impl TestClient {
    pub fn new(cert: &TestCert, app: &TestApp) -> Self {
        let ca = reqwest::Certificate::from_pem(&std::fs::read(&pki().ca_pem).unwrap()).unwrap();
        let identity =
            reqwest::Identity::from_pkcs8_pem(&cert.cert_pem(), &cert.key_pem()).unwrap();
        let http = reqwest::Client::builder()
            .tls_backend_native()
            .tls_certs_only([ca])
            .identity(identity)
            .build()
            .unwrap();
        Self {
            http,
            cert: cert.clone(),
            base: app.url(""),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The same certificate against another server (e.g. the external binary).
    pub fn with_base(&self, base: &str) -> Self {
        Self {
            base: base.to_owned(),
            ..self.clone()
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        json_of(self.get(path).await).await
    }

    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        json_of(
            self.http
                .post(self.url(path))
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
}

/// Status and JSON body; panics with the raw body when it is not JSON.
pub async fn json_of(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let value = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, value)
}

/// A port free right now on loopback (for servers started by port number).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `f` until it returns true or `secs` pass.
pub async fn eventually<F, Fut>(secs: u64, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}
