//! `machtigingen receiver`: the reference callback receiver (see
//! `receiver` and docs/callbacks.md) for providers to test their setup.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::CliResult;
use crate::receiver::{self, ReceiverConfig};

#[derive(Debug, Args)]
pub struct ReceiverArgs {
    /// Address to listen on, e.g. 0.0.0.0:9443.
    #[arg(long)]
    pub listen: SocketAddr,
    /// Server certificate chain (PEM).
    #[arg(long)]
    pub tls_cert: PathBuf,
    /// Server private key (PEM).
    #[arg(long)]
    pub tls_key: PathBuf,
    /// CA bundle (PEM) the platform's client certificate must chain to.
    #[arg(long)]
    pub client_ca: PathBuf,
    /// File with the signing secrets (whsec_…), one per line; two during a
    /// rotation. Or set MACHTIGINGEN_RECEIVER_SECRET (whitespace-separated).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// Signing secret on the command line (discouraged: other local users can
    /// read it in the process list); repeatable.
    #[arg(long = "secret", value_name = "SECRET")]
    pub secrets: Vec<String>,
    /// Append each terugkoppeling as a JSON line to this file (default: stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seconds webhook-timestamp may differ from the clock.
    #[arg(long, default_value_t = 300)]
    pub tolerance_secs: i64,
    /// File remembering the webhook-ids already stored, so a redelivery after
    /// a restart is recognised (default with --out: that file plus `.ids`;
    /// without --out: in memory only).
    #[arg(long, value_name = "FILE")]
    pub dedup_file: Option<PathBuf>,
    /// Days a webhook-id is remembered (the platform retries for about 3 days).
    #[arg(long, default_value_t = 7)]
    pub dedup_days: u32,
    /// Most webhook-ids remembered; the oldest are forgotten first.
    #[arg(long, default_value_t = 1_000_000)]
    pub dedup_max: usize,
}

/// Environment variable with the receiver's signing secrets.
pub const SECRET_ENV: &str = "MACHTIGINGEN_RECEIVER_SECRET";

/// The secrets from `--secret-file`, the environment and `--secret`, in
/// that order; at least one is required.
fn secrets(a: &ReceiverArgs) -> Result<Vec<String>, String> {
    let mut all = Vec::new();
    if let Some(path) = &a.secret_file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        all.extend(text.split_whitespace().map(str::to_owned));
    }
    if let Ok(v) = std::env::var(SECRET_ENV) {
        all.extend(v.split_whitespace().map(str::to_owned));
    }
    all.extend(a.secrets.iter().cloned());
    if all.is_empty() {
        return Err(format!(
            "a signing secret is required: --secret-file FILE or {SECRET_ENV}"
        ));
    }
    Ok(all)
}

pub fn run(a: ReceiverArgs) -> CliResult {
    let secrets = secrets(&a)?;
    let dedup_file = a.dedup_file.clone().or_else(|| {
        a.out.as_ref().map(|o| {
            let mut p = o.clone().into_os_string();
            p.push(".ids");
            PathBuf::from(p)
        })
    });
    receiver::run(ReceiverConfig {
        listen: a.listen,
        tls_cert: a.tls_cert,
        tls_key: a.tls_key,
        client_ca: a.client_ca,
        secrets,
        out: a.out,
        tolerance_secs: a.tolerance_secs,
        dedup_file,
        dedup: receiver::dedup::Limits {
            window_secs: i64::from(a.dedup_days) * 24 * 3600,
            max_ids: a.dedup_max,
        },
    })?;
    Ok(())
}
