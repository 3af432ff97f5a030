//! The real binary as a separate process on the database of an in-process
//! [`TestApp`]: for what only a process shows (SIGKILL, its log output).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::{TestApp, free_port, pki};

const BIN: &str = env!("CARGO_BIN_EXE_machtigingen");

pub struct Service {
    pub config: PathBuf,
    pub port: u16,
    pub ops: u16,
    /// `RUST_LOG` of the process.
    pub log_level: String,
    /// Where stderr (the log) goes; discarded when `None`.
    pub log_file: Option<PathBuf>,
    /// Extra environment of the process (e.g. `TMPDIR`).
    pub env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Service {
    /// Configures (does not start) the binary on `app`'s database with its own
    /// ports; `terugkoppeling` is the `[terugkoppeling]` section
    /// (`terugkoppeling_support::config_with`).
    pub fn configure(app: &TestApp, name: &str, terugkoppeling: &str) -> Self {
        let (port, ops) = (free_port(), free_port());
        let p = pki();
        let config = app.dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:{port}\"\nops_listen = \"127.0.0.1:{ops}\"\ncontract_listen = \"\"\nshutdown_timeout_secs = 1\n\
                 [database]\nurl = \"{db}\"\n[tls]\ncert = \"{cert}\"\nkey = \"{key}\"\nclient_ca = [\"{ca}\"]\ncrl = [\"{crl}\"]\n\
                 [pki]\ndir = \"{pkidir}\"\n[dev]\nbootstrap = false\n[retentie]\npurge_interval = \"0s\"\n{terugkoppeling}",
                db = app.config.database.url,
                cert = p.server_cert.display(),
                key = p.server_key.display(),
                ca = p.ca_pem.display(),
                crl = app.crl_path.display(),
                pkidir = p.dir.display(),
            ),
        )
        .unwrap();
        Self {
            config,
            port,
            ops,
            log_level: "error".into(),
            log_file: None,
            env: Vec::new(),
            child: None,
        }
    }

    pub fn base_url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    pub fn start(&mut self) {
        let stderr = match &self.log_file {
            Some(f) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(f)
                    .unwrap(),
            ),
            None => Stdio::null(),
        };
        let child = Command::new(BIN)
            .args(["--config", self.config.to_str().unwrap(), "serve"])
            .env("RUST_LOG", &self.log_level)
            .envs(self.env.iter().cloned())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    pub async fn ready(&self) -> bool {
        let url = format!("http://127.0.0.1:{}/health/ready", self.ops);
        super::eventually(20, || {
            let url = url.clone();
            async move {
                reqwest::get(&url)
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            // std's kill is SIGKILL on Unix: no shutdown, no flushing.
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill9();
    }
}
