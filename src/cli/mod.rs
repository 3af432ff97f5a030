//! The command line: `serve`, `migrate`, `contract export`, the operator's
//! `pki`, `party`, `cert`, `catalog`, `purge` and `audit` commands, and shell
//! `completions`. `main.rs` parses [`Cli`] and calls [`run`].

mod audit;
mod beheer;
mod catalog;
mod contract;
mod email;
mod pki;
mod purge;
mod receiver;
mod receiver_check;
mod registry;
mod serve;
mod values;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, LogFormat};
use crate::db::Db;

#[derive(Debug, Parser)]
#[command(
    name = "machtigingen",
    version,
    about = "Exchange for Dutch prior-authorization requests (machtigingsaanvragen) over mutual TLS",
    long_about = "Exchange for Dutch prior-authorization requests (machtigingsaanvragen) over mutual TLS.\n\n\
        Start with `machtigingen serve`: on a fresh checkout it creates ./data with an SQLite \
        database and a development-only PKI with demo certificates, and prints a curl line to try.\n\n\
        Configuration: embedded defaults, then --config FILE (TOML), then environment variables \
        MACHTIGINGEN_<SECTION>__<KEY> (e.g. MACHTIGINGEN_DATABASE__URL=postgres://…)."
)]
pub struct Cli {
    /// TOML configuration file, merged over the embedded defaults.
    #[arg(long, global = true, value_name = "FILE", env = "MACHTIGINGEN_CONFIG")]
    pub config: Option<PathBuf>,

    /// Log JSON lines instead of human-readable text (same as log.format = "json").
    #[arg(long, global = true)]
    pub log_json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: the mTLS listener (SOAP and REST), the ops listener
    /// (health, metrics) and, unless server.contract_listen is empty, the
    /// public contract listener (no client certificate). Applies pending
    /// migrations first.
    Serve,
    /// Apply pending database migrations and exit (running it again is a no-op).
    Migrate,
    /// The platform's certificate authority: create it, issue and revoke certificates.
    #[command(subcommand)]
    Pki(pki::PkiCommand),
    /// Parties: care providers (AGB), insurers (UZOVI), vendors and patient portals.
    #[command(subcommand)]
    Party(registry::PartyCommand),
    /// Registered certificates and their authorizations.
    #[command(subcommand)]
    Cert(registry::CertCommand),
    /// Gebruikersbeheer as the operator: contact details, consent statements
    /// of providers for software vendors, a party's change history.
    #[command(subcommand)]
    Beheer(beheer::BeheerCommand),
    /// E-mail notifications (docs/email.md): mails by state, dead letters,
    /// and dead letters sent again.
    #[command(subcommand)]
    Email(email::EmailCommand),
    /// Insurers' verstrekkingen catalogs (the JVC checks and automatic rules use them).
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
    /// The public contract: `contract export DIR` writes the WSDLs, XSDs and
    /// the OpenAPI document (the files the contract listener serves).
    #[command(subcommand)]
    Contract(contract::ContractCommand),
    /// The retention purge now: delete, in short batches, what passed its
    /// period (retentie.*: finished and abandoned requests, handled opt-in
    /// registrations, delivered terugkoppelingen, old audit rows). With
    /// --dry-run only count it.
    Purge(purge::PurgeArgs),
    /// The audit log: search it (by patient, party, certificate, object,
    /// action, period), print a patient's access overview (in Dutch), and
    /// verify its hash chains. Every query is audited itself.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Reference callback receiver: requires the platform's client certificate,
    /// verifies signatures, deduplicates, appends JSON lines (docs/callbacks.md).
    Receiver(receiver::ReceiverArgs),
    /// Check a callback receiver against the contract: sends signed, forged,
    /// replayed, stale and certificate-less test callbacks as the platform
    /// would and reports each answer (docs/callbacks.md §10). Exit 0 only
    /// when every case is as required.
    ReceiverCheck(receiver_check::ReceiverCheckArgs),
    /// Print a shell completion script, e.g.
    /// `machtigingen completions bash > /etc/bash_completion.d/machtigingen`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Errors a command reports before exiting non-zero.
pub type CliResult = Result<(), Box<dyn std::error::Error>>;

pub fn run(cli: Cli) -> ExitCode {
    // Needs no configuration: works before one exists.
    if let Command::Completions { shell } = cli.command {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd, "machtigingen", &mut script);
        // A closed pipe (`| head`) is the reader's choice, not a crash.
        return match std::io::Write::write_all(&mut std::io::stdout(), &script) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        };
    }
    let mut config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.log_json {
        config.log.format = LogFormat::Json;
    }
    crate::telemetry::init(&config.log);
    let result = match cli.command {
        Command::Serve => serve::serve(config),
        Command::Migrate => migrate(&config),
        Command::Pki(cmd) => pki::run(cmd, &config),
        Command::Party(cmd) => registry::run_party(cmd, &config),
        Command::Cert(cmd) => registry::run_cert(cmd, &config),
        Command::Beheer(cmd) => beheer::run(cmd, &config),
        Command::Catalog(cmd) => catalog::run(cmd, &config),
        Command::Email(cmd) => email::run(cmd, &config),
        Command::Contract(cmd) => contract::run(cmd, &config),
        Command::Purge(args) => purge::run(args, &config),
        Command::Audit(cmd) => audit::run(cmd, &config),
        Command::Receiver(args) => receiver::run(args),
        Command::ReceiverCheck(args) => receiver_check::run(args, &config),
        Command::Completions { .. } => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn open_db(config: &Config) -> Result<Db, Box<dyn std::error::Error>> {
    let db = Db::open(&config.database)?;
    migrate_and_chain(&db)?;
    Ok(db)
}

/// The migrations, then the step after them: audit rows written before the
/// hash chain existed are chained (`audit::chain::adopt`). Returns how many
/// migrations ran.
fn migrate_and_chain(db: &Db) -> Result<usize, Box<dyn std::error::Error>> {
    let applied = db.migrate()?;
    let chained = crate::audit::chain::adopt(&mut *db.conn()?)?;
    if chained > 0 {
        tracing::info!(
            rows = chained,
            "audit rows from before the hash chain chained"
        );
    }
    Ok(applied)
}

fn migrate(config: &Config) -> CliResult {
    let db = Db::open(&config.database)?;
    let applied = migrate_and_chain(&db)?;
    println!(
        "{applied} migration(s) applied ({} database)",
        db.backend().name()
    );
    Ok(())
}
