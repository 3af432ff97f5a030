//! `machtigingen contract export DIR`: the public contract as files.

use std::path::PathBuf;

use clap::Subcommand;

use super::CliResult;
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum ContractCommand {
    /// Write the five WSDLs (wsdl/, relative schemaLocations), every XSD
    /// (schemas/) and openapi.json into DIR. Service addresses are
    /// server.public_url, or https://machtigingen.example.nl when it is empty.
    Export {
        /// Target directory (created when missing; files are overwritten).
        dir: PathBuf,
    },
}

pub fn run(cmd: ContractCommand, config: &Config) -> CliResult {
    match cmd {
        ContractCommand::Export { dir } => {
            let base = crate::contract::base_or_placeholder(&config.server.public_url);
            let written = crate::contract::export(&dir, &base)?;
            println!(
                "{} contract file(s) written to {} (service address {base})",
                written.len(),
                dir.display()
            );
            Ok(())
        }
    }
}
