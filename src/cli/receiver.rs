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
    /// Signing secret (whsec_…); repeat during a rotation.
    #[arg(long = "secret", required = true)]
    pub secrets: Vec<String>,
    /// Append each terugkoppeling as a JSON line to this file (default: stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seconds webhook-timestamp may differ from the clock.
    #[arg(long, default_value_t = 300)]
    pub tolerance_secs: i64,
}

pub fn run(a: ReceiverArgs) -> CliResult {
    receiver::run(ReceiverConfig {
        listen: a.listen,
        tls_cert: a.tls_cert,
        tls_key: a.tls_key,
        client_ca: a.client_ca,
        secrets: a.secrets,
        out: a.out,
        tolerance_secs: a.tolerance_secs,
    })?;
    Ok(())
}
