//! Configuration: the embedded `default.toml`, then an optional TOML file, then
//! `MACHTIGINGEN_*` environment variables, merged by figment and validated once at
//! start. Every error names the key it is about, so an operator can fix it without
//! reading code.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

pub mod email;
pub mod terugkoppeling;
pub use email::EmailConfig;
pub use terugkoppeling::TerugkoppelingConfig;

/// The defaults, compiled into the binary so `serve` works without any file.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// Environment prefix; nested keys use a double underscore:
/// `MACHTIGINGEN_DATABASE__URL` sets `database.url`.
pub const ENV_PREFIX: &str = "MACHTIGINGEN_";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(String),
    #[error("configuration key `{key}`: {message}")]
    Invalid { key: &'static str, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub tls: TlsConfig,
    pub pki: PkiConfig,
    pub dev: DevConfig,
    pub log: LogConfig,
    pub terugkoppeling: TerugkoppelingConfig,
    pub retentie: RetentieConfig,
    pub email: EmailConfig,
}

/// How long patient data is kept, per kind (see `retention` and
/// default.toml, where each key is explained).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentieConfig {
    /// Finished requests, after their machtiging ended or they were
    /// rejected or withdrawn.
    pub bewaartermijn_dagen: u32,
    /// Requests abandoned open (Concept, AanvullendeInformatieGevraagd),
    /// after their last change.
    pub open_aanvragen_dagen: u32,
    /// Opt-in registrations, after they were handled.
    pub optin_dagen: u32,
    /// Terugkoppelingen with deliveries and attempts, after they were done with.
    pub terugkoppelingen_dagen: u32,
    /// Audit rows, after they were written.
    pub audit_dagen: u32,
    /// Rows per purge batch (one write transaction each).
    pub batch_size: u32,
    pub purge_interval: String,
}

impl RetentieConfig {
    /// The floors protect data still in use from a typo (`open_aanvragen_dagen
    /// = 3` would delete drafts being worked on); audit rows must outlive the
    /// requests they describe.
    fn validate(&self) -> Result<(), ConfigError> {
        let at_least = |key: &'static str, value: u32, min: u32, why: &str| {
            if value < min {
                Err(ConfigError::Invalid {
                    key,
                    message: format!("must be at least {min}{why}"),
                })
            } else {
                Ok(())
            }
        };
        at_least(
            "retentie.bewaartermijn_dagen",
            self.bewaartermijn_dagen,
            183,
            " (six months)",
        )?;
        at_least(
            "retentie.open_aanvragen_dagen",
            self.open_aanvragen_dagen,
            30,
            "",
        )?;
        at_least("retentie.optin_dagen", self.optin_dagen, 7, "")?;
        at_least(
            "retentie.terugkoppelingen_dagen",
            self.terugkoppelingen_dagen,
            7,
            "",
        )?;
        at_least(
            "retentie.audit_dagen",
            self.audit_dagen,
            self.bewaartermijn_dagen,
            " (retentie.bewaartermijn_dagen: the audit log outlives the requests it describes)",
        )?;
        if !(1..=10_000).contains(&self.batch_size) {
            return Err(ConfigError::Invalid {
                key: "retentie.batch_size",
                message: "must be 1 to 10000".into(),
            });
        }
        Ok(())
    }

    /// The purge interval; `None` when the background purge is off.
    pub fn interval(&self) -> Option<std::time::Duration> {
        terugkoppeling::parse_duration(&self.purge_interval)
            .ok()
            .filter(|d| !d.is_zero())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub ops_listen: SocketAddr,
    pub body_limit: usize,
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    pub public_url: String,
    /// The certificate-less contract listener (`host:port`); empty: off.
    pub contract_listen: String,
}

impl ServerConfig {
    /// The contract listener's address, `None` when it is off.
    pub fn contract_addr(&self) -> Result<Option<SocketAddr>, std::net::AddrParseError> {
        let v = self.contract_listen.trim();
        if v.is_empty() {
            Ok(None)
        } else {
            v.parse().map(Some)
        }
    }
}

/// Which database a `database.url` names (by its scheme).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite://") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub pool_size: u32,
    pub connect_timeout_secs: u64,
    pub busy_timeout_ms: u64,
    /// PostgreSQL: writer threads batching concurrent submissions into
    /// shared transactions (`db::pg_writer`); 0 commits each on its own.
    /// Unset: chosen by where the database is ([`Self::batch_writers`]).
    pub pg_batch_writers: Option<usize>,
}

impl DatabaseConfig {
    /// The PostgreSQL batch writers to run: as configured; otherwise one for
    /// a database on this machine and two for one across a network.
    ///
    /// A writer runs the jobs of its batch one after another, so across a
    /// network its rate is bounded by the round trips, and a second writer
    /// working while the first waits doubles it. On this machine a round
    /// trip costs CPU rather than waiting, and a second writer only splits
    /// the batches: SOAP submit ran at 2,162–2,294/s with one writer and
    /// 1,845–1,859/s with two (docs/benchmarks.md, 2026-12-07).
    pub fn batch_writers(&self) -> usize {
        self.pg_batch_writers
            .unwrap_or(if pg_host_is_local(&self.url) { 1 } else { 2 })
    }
}

/// Whether a `postgres://` URL names this machine: no host or a `host=`
/// that is a path (a Unix socket), `localhost`, or a loopback address. With
/// several hosts, only if every one is.
fn pg_host_is_local(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let from_query = query.split('&').find_map(|kv| kv.strip_prefix("host="));
    let hosts = match from_query {
        Some(h) => h.to_owned(),
        None => {
            let authority = path.split('/').next().unwrap_or_default();
            authority
                .rsplit_once('@')
                .map_or(authority, |(_, h)| h)
                .to_owned()
        }
    };
    hosts.split(',').all(|h| {
        let host = match h.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None if from_query.is_some() => h,
            None => h.split(':').next().unwrap_or_default(),
        };
        host.is_empty()
            || host.starts_with('/')
            || host.to_ascii_lowercase().starts_with("%2f")
            || host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Vec<PathBuf>,
    pub crl: Vec<PathBuf>,
    pub crl_reload_secs: u64,
    /// Seconds between checks whether a certificate, key, CA or CRL file
    /// changed; 0: only SIGHUP (and the CRL interval) reloads.
    pub watch_secs: u64,
    pub handshake_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PkiConfig {
    pub dir: PathBuf,
    pub cert_validity_days: u32,
    pub key_type: KeyType,
    /// Sign CSRs of contact persons on this instance (reads `ca.key` from
    /// `dir` per request); false for an offline CA (`pki sign` elsewhere).
    pub csr_signing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum KeyType {
    #[serde(rename = "ec-p256")]
    EcP256,
    #[serde(rename = "rsa-3072")]
    Rsa3072,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevConfig {
    pub bootstrap: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

impl Config {
    /// Defaults + `file` (when given) + environment, validated.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        // MACHTIGINGEN_CONFIG names the file (see the CLI), MACHTIGINGEN_P12_PASSWORD
        // is the password `pki issue` writes PKCS#12 files with,
        // MACHTIGINGEN_RECEIVER_SECRET the reference receiver's secrets, and
        // MACHTIGINGEN_TEST_* belong to the test harness; none is a configuration key.
        let env = Env::prefixed(ENV_PREFIX)
            .filter(|k| {
                let k = k.as_str().to_ascii_lowercase();
                k != "config"
                    && k != "p12_password"
                    && k != "receiver_secret"
                    && !k.starts_with("test_")
            })
            .split("__");
        figment = figment.merge(env);
        Self::from_figment(figment)
    }

    /// Defaults plus the given TOML text; for tests and tools that build a
    /// configuration in memory.
    pub fn from_toml_str(overrides: &str) -> Result<Self, ConfigError> {
        Self::from_toml_layers(&[overrides])
    }

    /// Defaults plus several TOML texts, later ones winning.
    pub fn from_toml_layers(layers: &[&str]) -> Result<Self, ConfigError> {
        let figment = layers
            .iter()
            .fold(Figment::from(Toml::string(DEFAULT_TOML)), |f, layer| {
                f.merge(Toml::string(layer))
            });
        Self::from_figment(figment)
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Load(describe_figment_error(e)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        if Backend::from_url(&self.database.url).is_none() {
            return invalid(
                "database.url",
                "must start with sqlite:// or postgres:// (or postgresql://)",
            );
        }
        if self.database.pool_size == 0 {
            return invalid("database.pool_size", "must be at least 1");
        }
        if self.server.body_limit < 1024 {
            return invalid("server.body_limit", "must be at least 1024 bytes");
        }
        if self.tls.client_ca.is_empty() {
            return invalid("tls.client_ca", "at least one CA bundle is required");
        }
        if self.tls.crl_reload_secs == 0 {
            return invalid("tls.crl_reload_secs", "must be at least 1");
        }
        if self.pki.cert_validity_days == 0 {
            return invalid("pki.cert_validity_days", "must be at least 1");
        }
        if !self.server.public_url.is_empty() && !self.server.public_url.starts_with("https://") {
            return invalid("server.public_url", "must be empty or start with https://");
        }
        if self.server.contract_addr().is_err() {
            return invalid(
                "server.contract_listen",
                "must be empty (off) or host:port, e.g. 127.0.0.1:8444",
            );
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return invalid("log.level", &e.to_string());
        }
        self.terugkoppeling.validate()?;
        self.retentie.validate()?;
        self.email.validate(&self.server.public_url)?;
        if let Err(e) = terugkoppeling::parse_duration(&self.retentie.purge_interval) {
            return Err(ConfigError::Invalid {
                key: "retentie.purge_interval",
                message: e,
            });
        }
        Ok(())
    }

    /// True when the TLS paths are the shipped defaults, i.e. the operator has not
    /// configured a PKI of their own and a development PKI may be created.
    pub fn uses_default_pki_paths(&self) -> bool {
        // Compare against a pristine parse of the embedded defaults so the rule
        // follows default.toml instead of repeating its values.
        match Self::from_toml_str("") {
            Ok(d) => {
                d.tls.cert == self.tls.cert
                    && d.tls.key == self.tls.key
                    && d.tls.client_ca == self.tls.client_ca
                    && d.tls.crl == self.tls.crl
                    && d.pki.dir == self.pki.dir
            }
            Err(_) => false,
        }
    }

    pub fn crl_reload_interval(&self) -> Duration {
        Duration::from_secs(self.tls.crl_reload_secs)
    }
}

/// figment's messages already name the key (`for key "database.pool_size"`); keep
/// them, one line per error.
fn describe_figment_error(e: figment::Error) -> String {
    e.into_iter()
        .map(|err| {
            let key = err.path.join(".");
            if key.is_empty() {
                err.kind.to_string()
            } else {
                format!("key `{key}`: {}", err.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_load_and_validate() {
        let c = Config::from_toml_str("").unwrap();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(c.server.ops_listen.to_string(), "127.0.0.1:9464");
        assert_eq!(c.database.url, "sqlite://data/machtigingen.db");
        assert_eq!(c.tls.crl_reload_secs, 3600);
        assert!(c.uses_default_pki_paths());
    }

    /// One batch writer for a database on this machine, two across a
    /// network, unless configured.
    #[test]
    fn batch_writers_follow_where_the_database_is() {
        let writers = |extra: &str| {
            Config::from_toml_str(&format!("[database]\n{extra}"))
                .unwrap()
                .database
                .batch_writers()
        };
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgresql://u:p@localhost/db",
            "postgres://u@[::1]:5432/db",
            "postgres://127.0.0.2/db",
            "postgres:///db",
            "postgres://u@/db?host=/var/run/postgresql",
            "postgres://u@/db?host=%2Fvar%2Frun%2Fpostgresql",
            "postgres://localhost,127.0.0.1/db",
        ] {
            assert_eq!(writers(&format!("url = \"{url}\"")), 1, "{url}");
        }
        for url in [
            "postgres://postgres@db.example.org:5432/test",
            "postgres://u@10.0.0.7/db",
            "postgres://u@[2001:db8::1]:5432/db",
            "postgres://u@localhost/db?host=db.example.org",
            "postgres://localhost,db.example.org/db",
        ] {
            assert_eq!(writers(&format!("url = \"{url}\"")), 2, "{url}");
        }
        let set = "url = \"postgres://u@127.0.0.1/db\"\npg_batch_writers = 3";
        assert_eq!(writers(set), 3);
        assert_eq!(
            writers("url = \"postgres://u@db/x\"\npg_batch_writers = 0"),
            0
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::from_toml_str("[server]\nlisten_adress = \"x\"").unwrap_err();
        assert!(err.to_string().contains("listen_adress"), "{err}");
    }

    #[test]
    fn bad_value_is_named() {
        let err = Config::from_toml_str("[server]\nlisten = \"not an address\"").unwrap_err();
        assert!(err.to_string().contains("server.listen"), "{err}");
        let err = Config::from_toml_str("[database]\nurl = \"mysql://x\"").unwrap_err();
        assert!(err.to_string().contains("database.url"), "{err}");
        let err = Config::from_toml_str("[database]\npool_size = 0").unwrap_err();
        assert!(err.to_string().contains("database.pool_size"), "{err}");
        let err = Config::from_toml_str("[log]\nformat = \"xml\"").unwrap_err();
        assert!(err.to_string().contains("log.format"), "{err}");
        let err = Config::from_toml_str("[terugkoppeling]\nretry_schedule = [\"5x\"]").unwrap_err();
        assert!(
            err.to_string().contains("terugkoppeling.retry_schedule"),
            "{err}"
        );
    }

    #[test]
    fn retention_periods_have_floors_and_audit_outlives_requests() {
        let c = Config::from_toml_str("").unwrap();
        assert_eq!(c.retentie.bewaartermijn_dagen, 730);
        assert_eq!(c.retentie.open_aanvragen_dagen, 180);
        assert_eq!(c.retentie.batch_size, 500);
        for (toml, key) in [
            ("open_aanvragen_dagen = 29", "retentie.open_aanvragen_dagen"),
            ("optin_dagen = 6", "retentie.optin_dagen"),
            (
                "terugkoppelingen_dagen = 0",
                "retentie.terugkoppelingen_dagen",
            ),
            ("audit_dagen = 729", "retentie.audit_dagen"),
            ("batch_size = 0", "retentie.batch_size"),
            ("bewaartermijn_dagen = 100", "retentie.bewaartermijn_dagen"),
        ] {
            let err = Config::from_toml_str(&format!("[retentie]\n{toml}")).unwrap_err();
            assert!(err.to_string().contains(key), "{toml}: {err}");
        }
        // The audit floor follows the request period.
        let err = Config::from_toml_str("[retentie]\nbewaartermijn_dagen = 6000").unwrap_err();
        assert!(err.to_string().contains("retentie.audit_dagen"), "{err}");
    }

    #[test]
    fn changed_tls_paths_are_not_default() {
        let c = Config::from_toml_str("[tls]\ncert = \"/etc/m/server.pem\"").unwrap();
        assert!(!c.uses_default_pki_paths());
    }
}
