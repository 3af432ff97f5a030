//! `machtigingen purge [--dry-run] [--json]`: the retention purge now, as the
//! background purge of `serve` runs it (`retentie.*`, docs/privacy.md), or
//! only counted. Prints rows per rule and table; never an id or a BSN.

use clap::Args;

use super::{CliResult, open_db};
use crate::config::Config;
use crate::retention::service::{self, Options, Report};
use crate::retention::{Policy, Table};

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Count what would be deleted now, per rule and table, and delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: PurgeArgs, config: &Config) -> CliResult {
    let db = open_db(config)?;
    let mut conn = db.conn()?;
    let options = Options {
        dry_run: args.dry_run,
        ..Options::new(crate::audit::OPERATOR)
    };
    let report = service::run_blocking(&mut conn, Policy::from(&config.retentie), options)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", human(&report));
    }
    Ok(())
}

/// One line per rule, then the total per table.
fn human(r: &Report) -> String {
    let mut out = String::from(if r.dry_run {
        "dry run: would remove (nothing deleted)\n"
    } else {
        "removed\n"
    });
    for rule in &r.rules {
        let rows: Vec<String> = rule
            .rows
            .nonzero()
            .map(|(t, n)| format!("{n} {}", t.name()))
            .collect();
        out.push_str(&format!(
            "  {:<20} {:>6} days ({}), before {}: {}\n",
            rule.rule,
            rule.days,
            rule.key,
            rule.before.format("%Y-%m-%d %H:%M UTC"),
            if rows.is_empty() {
                "nothing".to_owned()
            } else {
                rows.join(", ")
            }
        ));
    }
    out.push_str(&format!("total: {} row(s)", r.total.total()));
    for t in Table::ALL {
        let n = r.total.get(t);
        if n > 0 {
            out.push_str(&format!("; {} {n}", t.name()));
        }
    }
    out.push('\n');
    if !r.complete {
        out.push_str("stopped before the end; the next run continues\n");
    }
    out
}
