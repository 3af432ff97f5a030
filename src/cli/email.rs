//! `machtigingen email status|herstel`: the e-mail notifications as the
//! operator sees them (docs/email.md §3) — mails by state and the dead
//! letters with the relay's answer — and dead letters put back in the queue
//! once their cause is fixed. Never prints a mail's text.

use clap::Subcommand;

use super::{CliResult, open_db};
use crate::config::Config;
use crate::email::store;

#[derive(Debug, Subcommand)]
pub enum EmailCommand {
    /// Mails waiting, sent and given up, and each dead letter (id, kind,
    /// party, address, attempts, the relay's last answer).
    Status {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Put dead letters back in the queue: due now, a fresh retry schedule,
    /// the same Message-ID. Audited per mail (`email.herstel`).
    Herstel {
        /// The dead letters to send again (ids from `email status`).
        #[arg(long = "id", required_unless_present = "alle")]
        ids: Vec<i64>,
        /// Every dead letter.
        #[arg(long, conflicts_with = "ids")]
        alle: bool,
    },
}

pub fn run(cmd: EmailCommand, config: &Config) -> CliResult {
    let db = open_db(config)?;
    let mut conn = db.conn()?;
    match cmd {
        EmailCommand::Status { json } => {
            let facts = store::facts(&mut conn)?;
            let dead = store::dead_letters(&mut conn)?;
            if json {
                let v = serde_json::json!({
                    "aan": config.email.enabled(),
                    "berichten": facts,
                    "dood": dead,
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            println!(
                "notifications {}; waiting {}, sent {}, dead {}",
                if config.email.enabled() {
                    "on"
                } else {
                    "off (email.relay is empty)"
                },
                facts.wachtend,
                facts.verzonden,
                facts.dood
            );
            for d in dead {
                println!(
                    "  dead {:>6}  {:<24} {:<16} {:<32} attempts {}  {}",
                    d.id,
                    d.soort,
                    d.party,
                    d.recipient,
                    d.attempts,
                    d.last_error.unwrap_or_default()
                );
            }
        }
        EmailCommand::Herstel { ids, alle } => {
            let ids = (!alle).then_some(ids.as_slice());
            let n = store::requeue(&mut conn, ids, crate::audit::OPERATOR, crate::db::now())?;
            println!("{n} e-mail(s) queued again");
        }
    }
    Ok(())
}
