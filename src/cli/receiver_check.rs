//! `machtigingen receiver-check`: the receiver check (docs/callbacks.md §10)
//! run from a provider's or vendor's own machine against its callback
//! endpoint, with the platform's client certificate (or a test one). The
//! signing secret comes from a file or the environment, never the command
//! line (it would sit in the shell history and the process list). No SSRF
//! rule here: the operator of this command points it at its own endpoint,
//! which may well be on an internal network.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::CliResult;
use crate::config::Config;
use crate::dispatch::check::{self, Target};
use crate::dispatch::render::Format;
use crate::dispatch::{ssrf, transport};

/// Environment variable with the signing secret when `--secret-file` is not given.
pub const SECRET_ENV: &str = "MACHTIGINGEN_RECEIVER_SECRET";

#[derive(Debug, Args)]
pub struct ReceiverCheckArgs {
    /// The receiver's callback URL (https://…).
    #[arg(long)]
    pub url: String,
    /// Callback format the receiver expects.
    #[arg(long, default_value = "json", value_parser = ["json", "soap"])]
    pub format: String,
    /// File with the signing secret (whsec_…); a second line is the previous
    /// secret during a rotation. Default: the MACHTIGINGEN_RECEIVER_SECRET variable.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// Client certificate (PEM) presented as the platform [default: terugkoppeling.client_cert].
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// Its private key (PEM, PKCS#8) [default: terugkoppeling.client_key].
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// CA bundle (PEM) that issued the receiver's server certificate [default: system roots].
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Report as a table or as JSON.
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    pub output: String,
}

fn secrets(a: &ReceiverCheckArgs) -> Result<Vec<String>, String> {
    let text = match &a.secret_file {
        Some(p) => {
            std::fs::read_to_string(p).map_err(|e| format!("--secret-file {}: {e}", p.display()))?
        }
        None => std::env::var(SECRET_ENV)
            .map_err(|_| format!("give --secret-file FILE or set {SECRET_ENV}"))?,
    };
    let secrets: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if secrets.is_empty() {
        return Err("the signing secret is empty".into());
    }
    for s in &secrets {
        crate::dispatch::signature::decode_secret(s)
            .map_err(|_| "the signing secret is not whsec_ followed by base64".to_owned())?;
    }
    Ok(secrets)
}

pub fn run(a: ReceiverCheckArgs, config: &Config) -> CliResult {
    let url = ssrf::parse_url(&a.url).map_err(|e| format!("--url: {e}"))?;
    let format = Format::parse(&a.format).unwrap_or(Format::Json);
    let secrets = secrets(&a)?;
    let mut tk = config.terugkoppeling.clone();
    if let (Some(c), Some(k)) = (&a.client_cert, &a.client_key) {
        tk.client_cert = c.clone();
        tk.client_key = k.clone();
    }
    let identity = transport::load_identity(&tk)?;
    let ca_bundle = match &a.ca {
        Some(p) => {
            Some(std::fs::read_to_string(p).map_err(|e| format!("--ca {}: {e}", p.display()))?)
        }
        None => None,
    };
    let timing = tk.timing()?;
    let target = Target {
        url,
        format,
        secrets,
        party: "receiver-check".into(),
        identity,
        ca_bundle,
        address: None,
        connect_timeout: timing.connect_timeout.min(Duration::from_secs(10)),
        timeout: timing.timeout,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(check::run(&target))?;
    if a.output == "json" {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    if report.geslaagd {
        Ok(())
    } else {
        Err(format!(
            "{} of {} cases not as the contract requires: {}",
            report.failures().len(),
            report.gevallen.len(),
            report.failures().join(", ")
        )
        .into())
    }
}
