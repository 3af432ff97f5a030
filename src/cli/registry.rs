//! `machtigingen party …` and `machtigingen cert …`: the operator's view of the
//! registry. Every change goes through `registry::admin` and is audited.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};

use super::{CliResult, open_db};
use crate::audit::Actor;
use crate::config::Config;
use crate::dispatch::endpoints;
use crate::pki;
use crate::registry::admin;
use crate::registry::{
    CertKind, Certificate, IdScheme, PartyKind, PartyRef, Scope, Scopes, parse_allowlist, store,
};

#[derive(Debug, Subcommand)]
pub enum PartyCommand {
    /// Register a party. Give exactly one of --agb, --uzovi, --vendor, --portal.
    #[command(group(ArgGroup::new("id").required(true).args(["agb", "uzovi", "vendor", "portal"])))]
    Add {
        /// Care provider (zorgaanbieder) by its 8-digit AGB-code.
        #[arg(long, value_name = "AGB")]
        agb: Option<String>,
        /// Insurer (zorgverzekeraar) by its 4-digit UZOVI-code.
        #[arg(long, value_name = "UZOVI")]
        uzovi: Option<String>,
        /// With --uzovi: the party is a zorgkantoor (long-term care office).
        #[arg(long, requires = "uzovi")]
        zorgkantoor: bool,
        /// Software vendor (softwareleverancier) by a platform id (a-z, 0-9, '-').
        #[arg(long, value_name = "ID")]
        vendor: Option<String>,
        /// Patient portal (opt-in channel) by a platform id (a-z, 0-9, '-').
        #[arg(long, value_name = "ID")]
        portal: Option<String>,
        /// Display name of the organisation.
        #[arg(long)]
        name: String,
    },
    /// List all parties, or those of one kind.
    List {
        #[arg(long, value_name = "KIND")]
        kind: Option<PartyKind>,
    },
    /// Deactivate a party: every certificate of it is refused from the next
    /// request on (AUTH-005), none is revoked; its callback endpoint is held
    /// (deliveries wait, nothing is sent) until it is reactivated. Audited.
    Deactivate {
        #[arg(long, value_name = "PARTY")]
        party: PartyRef,
        /// Why, for the audit log.
        #[arg(long)]
        reden: Option<String>,
    },
    /// Reactivate a deactivated party: its certificates are accepted again as
    /// they were (no reissuing) and held callbacks are delivered. Audited.
    Reactivate {
        #[arg(long, value_name = "PARTY")]
        party: PartyRef,
        /// Why, for the audit log.
        #[arg(long)]
        reden: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Register a certificate from another CA (e.g. a government PKI) to a party.
    /// Its CA must be in tls.client_ca for the listener to accept it.
    Register {
        /// The certificate (PEM or DER).
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// The party: AGB:03123456, UZOVI:3311 or PLATFORM:some-id.
        #[arg(long, value_name = "PARTY")]
        party: PartyRef,
        /// persoonlijk or systeem.
        #[arg(long, value_name = "KIND", default_value = "systeem")]
        kind: CertKind,
        /// Authorization to grant; repeat for more.
        #[arg(long = "grant", value_name = "AUTHORIZATION")]
        grants: Vec<Scope>,
        /// Allowed source address or CIDR; repeat for more.
        #[arg(long = "ip", value_name = "CIDR")]
        ips: Vec<String>,
    },
    /// List registered certificates, optionally of one party.
    List {
        #[arg(long, value_name = "PARTY")]
        party: Option<PartyRef>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Grant authorizations (machtigingen:indienen also grants machtigingen:raadplegen).
    Grant {
        #[command(flatten)]
        target: Target,
        #[arg(long = "grant", value_name = "AUTHORIZATION", required = true)]
        grants: Vec<Scope>,
    },
    /// Withdraw authorizations (withdrawing machtigingen:raadplegen also withdraws indienen).
    RevokeGrant {
        #[command(flatten)]
        target: Target,
        #[arg(long = "grant", value_name = "AUTHORIZATION", required = true)]
        grants: Vec<Scope>,
    },
    /// Set a systeem certificate's IP allow-list; without --ip the list is cleared.
    SetIp {
        #[command(flatten)]
        target: Target,
        #[arg(long = "ip", value_name = "CIDR")]
        ips: Vec<String>,
    },
    /// Revoke a certificate in the registry only (use `pki revoke` for the
    /// platform CA's own certificates, which also updates the CRL).
    Revoke {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value = "ingetrokken door beheerder")]
        reason: String,
    },
}

/// Which certificate: by file or by fingerprint.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// The certificate file (PEM or DER).
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// The certificate's SHA-256 fingerprint (hex, as `cert list` shows).
    #[arg(long, value_name = "HEX")]
    fingerprint: Option<String>,
}

impl Target {
    fn fingerprint(&self) -> Result<String, Box<dyn std::error::Error>> {
        match (&self.cert, &self.fingerprint) {
            (Some(path), _) => {
                let cert = pki::read_cert(path)?;
                Ok(pki::fingerprint(&cert)?)
            }
            (None, Some(fp)) => Ok(fp.to_ascii_lowercase().replace(':', "")),
            (None, None) => Err("give --cert or --fingerprint".into()),
        }
    }
}

pub fn run_party(cmd: PartyCommand, config: &Config) -> CliResult {
    let db = open_db(config)?;
    let mut conn = db.conn()?;
    match cmd {
        PartyCommand::Add {
            agb,
            uzovi,
            zorgkantoor,
            vendor,
            portal,
            name,
        } => {
            let (kind, scheme, code) = match (agb, uzovi, vendor, portal) {
                (Some(c), ..) => (PartyKind::Zorgaanbieder, IdScheme::Agb, c),
                (_, Some(c), ..) if zorgkantoor => (PartyKind::Zorgkantoor, IdScheme::Uzovi, c),
                (_, Some(c), ..) => (PartyKind::Zorgverzekeraar, IdScheme::Uzovi, c),
                (.., Some(c), _) => (PartyKind::Softwareleverancier, IdScheme::Platform, c),
                (.., Some(c)) => (PartyKind::Patientportaal, IdScheme::Platform, c),
                _ => return Err("give one of --agb, --uzovi, --vendor, --portal".into()),
            };
            let party = store::add_party(&mut conn, kind, &PartyRef::new(scheme, code)?, &name)?;
            println!(
                "Registered {} {} ({})",
                party.kind.as_str(),
                party.reference,
                party.name
            );
        }
        PartyCommand::List { kind } => {
            let parties = store::list_parties(&mut conn)?;
            for p in parties.iter().filter(|p| kind.is_none_or(|k| p.kind == k)) {
                println!(
                    "{:<22} {:<20} {:<13} {}",
                    p.reference.to_string(),
                    p.kind.as_str(),
                    if p.is_active() {
                        "actief"
                    } else {
                        "gedeactiveerd"
                    },
                    p.name
                );
            }
        }
        PartyCommand::Deactivate { party, reden } => {
            let held = set_active(&mut conn, &party, false, reden.as_deref())?;
            println!(
                "Deactivated {party}: all its certificates are refused (AUTH-005); \
                 {held} callback endpoint(s) held."
            );
        }
        PartyCommand::Reactivate { party, reden } => {
            let released = set_active(&mut conn, &party, true, reden.as_deref())?;
            println!(
                "Reactivated {party}: its certificates are accepted again; \
                 {released} callback endpoint(s) released."
            );
        }
    }
    Ok(())
}

/// The party's new state and its callback endpoint's, in one transaction;
/// answers how many endpoints were held or released.
fn set_active(
    conn: &mut crate::db::DbConnection,
    party: &PartyRef,
    active: bool,
    reason: Option<&str>,
) -> Result<usize, admin::AdminError> {
    crate::db::write_tx(conn, |c| {
        admin::set_party_active(c, party, active, reason, &Actor::operator())?;
        let key = party.to_string();
        let now = crate::db::now();
        Ok(if active {
            endpoints::release_for_party(c, &key, now)?
        } else {
            endpoints::hold_for_party(c, &key, now)?
        })
    })
}

pub fn run_cert(cmd: CertCommand, config: &Config) -> CliResult {
    let db = open_db(config)?;
    let mut conn = db.conn()?;
    let operator = Actor::operator();
    match cmd {
        CertCommand::Register {
            cert,
            party,
            kind,
            grants,
            ips,
        } => {
            let x509 = pki::read_cert(&cert)?;
            let scopes: Scopes = grants.into_iter().collect();
            let c = admin::register(
                &mut conn,
                &x509,
                party,
                kind,
                scopes,
                parse_allowlist(&ips)?,
                &operator,
            )?;
            println!("Registered {} for {}", c.fingerprint, c.party.reference);
        }
        CertCommand::List { party, json } => {
            let certs = store::list_certificates(&mut conn, party.as_ref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&certs)?);
            } else {
                for c in &certs {
                    print_cert(c);
                }
            }
        }
        CertCommand::Grant { target, grants } => {
            let c = admin::change_scopes(
                &mut conn,
                &target.fingerprint()?,
                grants.into_iter().collect(),
                Scopes::default(),
                &operator,
            )?;
            print_cert(&c);
        }
        CertCommand::RevokeGrant { target, grants } => {
            let c = admin::change_scopes(
                &mut conn,
                &target.fingerprint()?,
                Scopes::default(),
                grants.into_iter().collect(),
                &operator,
            )?;
            print_cert(&c);
        }
        CertCommand::SetIp { target, ips } => {
            let c = admin::set_allowlist(
                &mut conn,
                &target.fingerprint()?,
                &parse_allowlist(&ips)?,
                &operator,
            )?;
            print_cert(&c);
        }
        CertCommand::Revoke { target, reason } => {
            let fp = target.fingerprint()?;
            let c = store::certificate_by_fingerprint(&mut conn, &fp)?
                .ok_or_else(|| format!("certificate {fp} is not registered"))?;
            admin::revoke(&mut conn, None, &c, &reason, &operator)?;
            println!("Revoked {fp} in the registry.");
        }
    }
    Ok(())
}

fn print_cert(c: &Certificate) {
    let ips: Vec<String> = c.ip_allowlist.iter().map(ToString::to_string).collect();
    println!(
        "{}  {:<16} {:<11} {:<11} until {}  [{}]{}",
        c.fingerprint,
        c.party.reference.to_string(),
        c.kind.as_str(),
        c.status.as_str(),
        c.not_after.format("%Y-%m-%d"),
        c.scopes.to_db(),
        if ips.is_empty() {
            String::new()
        } else {
            format!("  ip {}", ips.join(","))
        }
    );
}
