//! `machtigingen audit …`: the operator's queries of the audit log — `search`
//! (by patient, party, certificate, object, action and period), `patient`
//! (the access overview a patient may ask for, in Dutch) — and `verify` (the
//! hash chains, docs/privacy.md). Every one of them is audited itself
//! (`audit.zoeken`, `audit.inzage`, `audit.controleren`).
//!
//! A BSN given here is never printed, logged or put in an error message:
//! clap does not parse it (its errors repeat the value), the check below
//! names the option only, and the audit row of the query records the ids it
//! was resolved to instead.

use chrono::{NaiveDate, NaiveDateTime};
use clap::{Args, Subcommand};
use serde_json::json;

use super::{CliResult, open_db};
use crate::audit::overview;
use crate::audit::query::{self, Filter, Patient};
use crate::audit::verify::{self, Report};
use crate::audit::{self, AuditEntry, AuditRecord};
use crate::config::Config;
use crate::registry::PartyRef;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Audit rows matching every filter given, oldest first, as a table or
    /// JSON. The search is audited itself (audit.zoeken).
    Search(SearchArgs),
    /// The access overview of one patient (in Dutch): who — party and, where
    /// known, person — when, what, in which role and on whose behalf, over
    /// the patient's requests, opt-in registrations and terugkoppelingen
    /// still stored. Audited itself (audit.inzage), without the BSN.
    Patient(PatientArgs),
    /// Walk every hash chain of the audit log from its anchor to its head and
    /// report the first break of each, and check the index of search pages
    /// against the rows; exit 1 when either is broken.
    Verify(VerifyArgs),
}

/// A patient: BSN and date of birth, both needed.
#[derive(Debug, Args)]
pub struct PatientOpts {
    /// The patient's BSN. Prefer the environment variable: a command line
    /// is visible to other users of the machine (ps) and in shell history.
    #[arg(
        long,
        env = "AUDIT_BSN",
        hide_env_values = true,
        requires = "geboortedatum"
    )]
    pub bsn: Option<String>,
    /// The patient's date of birth, YYYY-MM-DD.
    #[arg(long, requires = "bsn")]
    pub geboortedatum: Option<String>,
}

impl PatientOpts {
    fn patient(&self) -> Result<Option<Patient>, String> {
        let (Some(bsn), Some(date)) = (&self.bsn, &self.geboortedatum) else {
            return Ok(None);
        };
        let bsn = bsn.trim();
        if !crate::validation::bsn::valid(bsn) {
            return Err("--bsn is not a valid BSN (9 digits, 11-proef)".into());
        }
        let geboortedatum = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
            .map_err(|_| "--geboortedatum must be a date, YYYY-MM-DD".to_owned())?;
        Ok(Some(Patient {
            bsn: bsn.to_owned(),
            geboortedatum,
        }))
    }
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    #[command(flatten)]
    pub patient: PatientOpts,
    /// The party that acted or was acted for, e.g. AGB:03123456.
    #[arg(long)]
    pub partij: Option<PartyRef>,
    /// The certificate that acted: its SHA-256 fingerprint (hex).
    #[arg(long)]
    pub certificaat: Option<String>,
    /// The object: a request (MA…), registration (OI…), terugkoppeling
    /// (TK…), party or certificate.
    #[arg(long)]
    pub object: Option<String>,
    /// An action (machtigingsaanvraag.raadplegen), or a prefix ending in *
    /// (beoordeling.*).
    #[arg(long)]
    pub actie: Option<String>,
    /// From this moment on: YYYY-MM-DD (00:00 UTC) or RFC 3339.
    #[arg(long, value_parser = moment)]
    pub van: Option<NaiveDateTime>,
    /// Before this moment: YYYY-MM-DD (00:00 UTC) or RFC 3339.
    #[arg(long, value_parser = moment)]
    pub tot: Option<NaiveDateTime>,
    /// At most this many rows.
    #[arg(long, default_value_t = 1000)]
    pub limit: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PatientArgs {
    #[command(flatten)]
    pub patient: PatientOpts,
    /// At most this many accesses.
    #[arg(long, default_value_t = 10_000)]
    pub limit: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

fn moment(s: &str) -> Result<NaiveDateTime, String> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN));
    }
    crate::json_time::parse(s).ok_or_else(|| {
        "expected YYYY-MM-DD or an RFC 3339 time such as 2026-12-01T08:00:00Z".into()
    })
}

pub fn run(cmd: AuditCommand, config: &Config) -> CliResult {
    match cmd {
        AuditCommand::Search(a) => search(a, config),
        AuditCommand::Patient(a) => patient(a, config),
        AuditCommand::Verify(a) => verify(a, config),
    }
}

fn search(a: SearchArgs, config: &Config) -> CliResult {
    let patient = a.patient.patient()?;
    let db = open_db(config)?;
    let mut conn = db.conn()?;
    let objects = match &patient {
        Some(p) => Some(query::resolve(&mut conn, p)?.0),
        None => None,
    };
    let filter = Filter {
        objects,
        party: a.partij.map(|p| p.to_string()),
        fingerprint: a.certificaat,
        object_id: a.object,
        action: a.actie,
        from: a.van,
        until: a.tot,
    };
    let (rows, more) = query::search(&mut conn, &filter, i64::from(a.limit))?;
    query::record_query(&mut conn, "audit.zoeken", &filter, rows.len())?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"rijen": rows, "meer": more}))?
        );
    } else {
        print!("{}", table(&rows, more));
    }
    Ok(())
}

/// One line per row under a header.
fn table(rows: &[AuditRecord], more: bool) -> String {
    let mut out = format!(
        "{:<8} {:<20} {:<26} {:<20} {:<13} {:<32} {:<30} {}\n",
        "id", "at (UTC)", "actor", "acting for", "certificate", "action", "object", "outcome"
    );
    for r in rows {
        let fp = r
            .fingerprint
            .as_deref()
            .map_or("-", |f| &f[..f.len().min(12)]);
        out.push_str(&format!(
            "{:<8} {:<20} {:<26} {:<20} {:<13} {:<32} {:<30} {}\n",
            r.id,
            r.at.format("%Y-%m-%d %H:%M:%S"),
            r.actor,
            r.acting_for.as_deref().unwrap_or("-"),
            fp,
            r.action,
            format!(
                "{} {}",
                r.object_type,
                r.object_id.as_deref().unwrap_or("-")
            ),
            r.outcome,
        ));
    }
    out.push_str(&format!("{} row(s)", rows.len()));
    if more {
        out.push_str("; more match: narrow the search or raise --limit");
    }
    out.push('\n');
    out
}

fn patient(a: PatientArgs, config: &Config) -> CliResult {
    let Some(p) = a.patient.patient()? else {
        return Err("audit patient needs --bsn (or AUDIT_BSN) and --geboortedatum".into());
    };
    let db = open_db(config)?;
    let mut conn = db.conn()?;
    let o = overview::patient(&mut conn, &p, i64::from(a.limit))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&o)?);
    } else {
        print!("{}", overview::render(&o));
    }
    Ok(())
}

fn verify(a: VerifyArgs, config: &Config) -> CliResult {
    let db = open_db(config)?;
    let mut conn = db.conn()?;
    let report = verify::verify(&mut conn)?;
    let first = report.first_break().map(|(chain, f)| {
        json!({"keten": chain, "seq": f.seq, "rij": f.row_id, "breuk": f.what.to_string()})
    });
    audit::record(
        &mut conn,
        &AuditEntry {
            fingerprint: None,
            actor: audit::OPERATOR.into(),
            acting_for: None,
            action: "audit.controleren",
            object_type: "audit",
            object_id: None,
            outcome: if report.ok { "ok" } else { "breuk" },
            detail: json!({
                "rijen": report.total_rows,
                "zonder_keten": report.unchained,
                "index_afwijkend": report.index.rows_differing + report.index.stray,
                "eerste_breuk": first,
            }),
        },
    )?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", human(&report));
    }
    if report.ok {
        Ok(())
    } else {
        Err(broken(&report).into())
    }
}

/// One line per chain that holds or held rows, then the verdict.
fn human(r: &Report) -> String {
    let mut out = String::new();
    for c in &r.chains {
        if c.head_seq == 0 && c.first_break.is_none() {
            continue;
        }
        let state = match &c.first_break {
            None => "ok".to_owned(),
            Some(f) => format!(
                "BREAK at seq {} (row id {}): {}",
                f.seq.map_or("-".into(), |s| s.to_string()),
                f.row_id.map_or("-".into(), |s| s.to_string()),
                f.what
            ),
        };
        out.push_str(&format!(
            "chain {:>2}: {state}; {} row(s) checked from anchor seq {} to head seq {} (head hash {})\n",
            c.chain, c.rows, c.anchor_seq, c.head_seq, c.head_hash
        ));
    }
    if r.unchained > 0 {
        out.push_str(&format!(
            "{} row(s) in no chain (first row id {})\n",
            r.unchained,
            r.first_unchained_id.map_or("-".into(), |s| s.to_string())
        ));
    }
    if !r.index.ok() {
        out.push_str(&format!(
            "index of search pages: {} row(s) whose entries differ from the objects they name (first row id {}), {} entry(ies) of no row\n",
            r.index.rows_differing,
            r.index.first_row_id.map_or("-".into(), |s| s.to_string()),
            r.index.stray
        ));
    }
    if r.ok {
        out.push_str(&format!(
            "audit log intact: {} row(s) in {} chain(s)\n",
            r.total_rows,
            r.chains.len()
        ));
    }
    out
}

fn broken(r: &Report) -> String {
    match r.first_break() {
        Some((chain, f)) => format!(
            "audit log broken: chain {chain} at seq {} (row id {}): {}",
            f.seq.map_or("-".into(), |s| s.to_string()),
            f.row_id.map_or("-".into(), |s| s.to_string()),
            f.what
        ),
        None if r.unchained > 0 => format!(
            "audit log broken: {} row(s) in no chain (first row id {})",
            r.unchained,
            r.first_unchained_id.map_or("-".into(), |s| s.to_string())
        ),
        None => format!(
            "audit log broken: its index of search pages differs in {} row(s) (first row id {}), {} entry(ies) of no row",
            r.index.rows_differing,
            r.index.first_row_id.map_or("-".into(), |s| s.to_string()),
            r.index.stray
        ),
    }
}
