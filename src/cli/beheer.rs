//! `machtigingen beheer …`: the operator's side of gebruikersbeheer — contact
//! details, the change of contact person, consent statements and a party's
//! change history — next to the `cert` commands for certificates and the
//! `party` commands (deactivation). Audited as the operator.

use chrono::NaiveDate;
use clap::Subcommand;
use serde_json::json;

use super::{CliResult, open_db};
use crate::audit::{self, AuditEntry};
use crate::beheer::persons::{self, NewContactPerson};
use crate::beheer::store::{self, Contact};
use crate::config::Config;
use crate::db::{DbConnection, DbError, write_tx};
use crate::ids::ConsentId;
use crate::registry::{PartyKind, PartyRef, consent, store as registry};

#[derive(Debug, Subcommand)]
pub enum BeheerCommand {
    /// Show or change a party's contact person and notification addresses.
    Contact {
        #[arg(long)]
        party: PartyRef,
        #[arg(long)]
        naam: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        telefoon: Option<String>,
        /// Notification address (repeatable); replaces the list when given.
        #[arg(long = "notificatie")]
        notificatie: Vec<String>,
    },
    /// Change a party's contact person: gebruikersbeheer moves to the given
    /// persoonlijk certificate (withdrawn from every other certificate of the
    /// party) and the contact details become the new person's. One audited
    /// change (partij.contactpersoon, before and after), shown by `history`.
    #[command(group(clap::ArgGroup::new("target").required(true).args(["cert", "fingerprint"])))]
    Contactpersoon {
        #[arg(long)]
        party: PartyRef,
        /// The new contact person's persoonlijk certificate (PEM or DER).
        #[arg(long, value_name = "FILE")]
        cert: Option<std::path::PathBuf>,
        /// ... or its SHA-256 fingerprint (hex, as `cert list` shows).
        #[arg(long, value_name = "HEX")]
        fingerprint: Option<String>,
        /// Name; defaults to the certificate's holder.
        #[arg(long)]
        naam: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        telefoon: Option<String>,
    },
    /// Consent statements (toestemmingsverklaringen) of providers for vendors.
    #[command(subcommand)]
    Consent(ConsentCommand),
    /// A party's change history (who, what, before/after) as JSON lines.
    History {
        #[arg(long)]
        party: PartyRef,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Let a softwareleverancier act for a provider.
    Add {
        /// The provider, e.g. AGB:03123456.
        #[arg(long)]
        provider: PartyRef,
        /// The vendor, e.g. PLATFORM:pms-leverancier.
        #[arg(long)]
        vendor: PartyRef,
        /// Last valid day (YYYY-MM-DD); open-ended when absent.
        #[arg(long)]
        tot: Option<NaiveDate>,
        /// The vendor may also handle the provider's opt-in registrations
        /// (and receives their terugkoppelingen).
        #[arg(long)]
        optin: bool,
    },
    List {
        #[arg(long)]
        provider: PartyRef,
    },
    Revoke {
        #[arg(long)]
        provider: PartyRef,
        #[arg(long)]
        id: String,
    },
}

fn audit_op(
    conn: &mut DbConnection,
    action: &str,
    party: &PartyRef,
    detail: serde_json::Value,
) -> Result<(), DbError> {
    audit::record(
        conn,
        &AuditEntry {
            fingerprint: None,
            actor: audit::OPERATOR.into(),
            acting_for: None,
            action,
            object_type: "partij",
            object_id: Some(party.to_string()),
            outcome: "ok",
            detail,
        },
    )
}

fn provider_of(conn: &mut DbConnection, r: &PartyRef) -> Result<(), Box<dyn std::error::Error>> {
    let p = registry::find_party(conn, r)?;
    if p.kind != PartyKind::Zorgaanbieder {
        return Err(format!("{r} is not a zorgaanbieder").into());
    }
    Ok(())
}

pub fn run(cmd: BeheerCommand, config: &Config) -> CliResult {
    let db = open_db(config)?;
    let mut conn = db.conn()?;
    match cmd {
        BeheerCommand::Contact {
            party,
            naam,
            email,
            telefoon,
            notificatie,
        } => {
            registry::find_party(&mut conn, &party)?;
            let key = party.to_string();
            let before = store::contact(&mut conn, &key)?;
            if naam.is_none() && email.is_none() && telefoon.is_none() && notificatie.is_empty() {
                println!("{}", serde_json::to_string_pretty(&before)?);
                return Ok(());
            }
            let after = Contact {
                contactpersoon_naam: naam.or(before.contactpersoon_naam.clone()),
                contactpersoon_email: email.or(before.contactpersoon_email.clone()),
                contactpersoon_telefoon: telefoon.or(before.contactpersoon_telefoon.clone()),
                notificatie_emails: if notificatie.is_empty() {
                    before.notificatie_emails.clone()
                } else {
                    notificatie
                },
            };
            write_tx::<_, DbError, _>(&mut conn, |c| {
                store::set_contact(c, &key, &after)?;
                audit_op(
                    c,
                    "partij.contact",
                    &party,
                    json!({"voor": before, "na": after}),
                )
            })?;
            println!("{}", serde_json::to_string_pretty(&after)?);
        }
        BeheerCommand::Contactpersoon {
            party,
            cert,
            fingerprint,
            naam,
            email,
            telefoon,
        } => {
            let fingerprint = match (cert, fingerprint) {
                (Some(path), _) => {
                    let cert = crate::pki::read_cert(&path)?;
                    crate::pki::fingerprint(&cert)?
                }
                (None, Some(fp)) => fp.to_ascii_lowercase().replace(':', ""),
                (None, None) => return Err("give --cert or --fingerprint".into()),
            };
            let new = NewContactPerson {
                fingerprint,
                naam,
                email,
                telefoon,
            };
            let (before, after) =
                persons::change_contact_person(&mut conn, &party, &new, &audit::Actor::operator())?;
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({"voor": before, "na": after}))?
            );
        }
        BeheerCommand::Consent(ConsentCommand::Add {
            provider,
            vendor,
            tot,
            optin,
        }) => {
            provider_of(&mut conn, &provider)?;
            if registry::find_party(&mut conn, &vendor)?.kind != PartyKind::Softwareleverancier {
                return Err(format!("{vendor} is not a softwareleverancier").into());
            }
            let id = ConsentId::new()?;
            let v = write_tx::<_, DbError, _>(&mut conn, |c| {
                let v = consent::add(
                    c,
                    &id,
                    &provider.code,
                    &vendor.to_string(),
                    tot,
                    optin,
                    audit::OPERATOR,
                )?;
                audit_op(
                    c,
                    "toestemmingsverklaring.registreren",
                    &provider,
                    json!({"id": id, "leverancier": vendor.to_string(), "geldigTot": tot, "optin": optin}),
                )?;
                Ok(v)
            })?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        BeheerCommand::Consent(ConsentCommand::List { provider }) => {
            provider_of(&mut conn, &provider)?;
            for v in consent::of_provider(&mut conn, &provider.code)? {
                println!("{}", serde_json::to_string(&v)?);
            }
        }
        BeheerCommand::Consent(ConsentCommand::Revoke { provider, id }) => {
            provider_of(&mut conn, &provider)?;
            let done = write_tx::<_, DbError, _>(&mut conn, |c| {
                // A malformed id names no statement: the same answer as an unknown one.
                let done = match id.parse::<ConsentId>() {
                    Ok(id) => consent::revoke(c, &provider.code, &id)?,
                    Err(_) => false,
                };
                if done {
                    audit_op(
                        c,
                        "toestemmingsverklaring.intrekken",
                        &provider,
                        json!({"id": id}),
                    )?;
                }
                Ok(done)
            })?;
            if !done {
                return Err(format!("no active consent statement {id} of {provider}").into());
            }
            println!("revoked {id}");
        }
        BeheerCommand::History { party } => {
            registry::find_party(&mut conn, &party)?;
            let fingerprints: Vec<String> = registry::list_certificates(&mut conn, Some(&party))?
                .into_iter()
                .map(|c| c.fingerprint)
                .collect();
            for row in audit::for_party(&mut conn, &party.to_string(), &fingerprints)? {
                println!("{}", serde_json::to_string(&row)?);
            }
        }
    }
    Ok(())
}
