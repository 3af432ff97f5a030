//! `machtigingen catalog …`: the operator loads insurers' verstrekkingen
//! catalogs from a file, and shows one.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use super::{CliResult, open_db};
use crate::audit::{self, AuditEntry};
use crate::catalog::{self, CatalogFile};
use crate::config::Config;
use crate::db::write_tx;
use crate::registry::{IdScheme, PartyKind, PartyRef, store as registry};

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Replace the catalogs of the insurers in FILE (format of
    /// docs/examples/catalogus.json). Each insurer must be registered.
    Load { file: PathBuf },
    /// Print one insurer's catalog (with its automatic rules) as JSON.
    Show {
        #[arg(long)]
        uzovi: String,
    },
}

pub fn run(cmd: CatalogCommand, config: &Config) -> CliResult {
    let db = open_db(config)?;
    let mut conn = db.conn()?;
    match cmd {
        CatalogCommand::Load { file } => {
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let parsed: CatalogFile =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            for c in &parsed.verzekeraars {
                c.validate()?;
                let party = registry::find_party(
                    &mut conn,
                    &PartyRef {
                        scheme: IdScheme::Uzovi,
                        code: c.uzovi.clone(),
                    },
                )?;
                if !matches!(
                    party.kind,
                    PartyKind::Zorgverzekeraar | PartyKind::Zorgkantoor
                ) {
                    return Err(format!("UZOVI:{} is not an insurer", c.uzovi).into());
                }
            }
            for c in &parsed.verzekeraars {
                write_tx::<_, Box<dyn std::error::Error>, _>(&mut conn, |tx| {
                    catalog::store::replace(tx, c)?;
                    audit::record(
                        tx,
                        &AuditEntry {
                            fingerprint: None,
                            actor: audit::OPERATOR.into(),
                            acting_for: None,
                            action: "catalogus.vervangen",
                            object_type: "partij",
                            object_id: Some(format!("UZOVI:{}", c.uzovi)),
                            outcome: "ok",
                            detail: json!({"verstrekkingen": c.verstrekkingen.len()}),
                        },
                    )?;
                    Ok(())
                })?;
                println!(
                    "UZOVI:{}: {} verstrekking(en), {} prestatie(s)",
                    c.uzovi,
                    c.verstrekkingen.len(),
                    c.prestaties.len()
                );
            }
        }
        CatalogCommand::Show { uzovi } => {
            let c = catalog::store::load(&mut conn, &uzovi)?;
            println!("{}", serde_json::to_string_pretty(&c)?);
        }
    }
    Ok(())
}
