//! Software vendors as receivers of the providers they serve
//! (docs/callbacks.md §11). A provider's terugkoppeling goes to the
//! provider's own callback and to the callback of every vendor holding a
//! consent statement of that provider valid at fan-out ([`Served`]); before
//! each delivery to a vendor the statement is checked again
//! ([`lapse_unconsented`]), so revoking it stops what still waits at once.
//! The pull reads the same way ([`Mailbox`]), with the statements identity
//! read for this very request. Opt-in registrations (`optin.registratie`)
//! only under a statement that covers opt-in.
//!
//! A message to a vendor names the provider it is for (`zorgaanbieder`,
//! [`on_behalf`]); the audit rows of its push and pull record the vendor
//! as the recipient or actor and the provider as the party acted for.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::endpoints::Endpoint;
use super::lease::Leased;
use super::queue::{VERVALLEN, WACHTEND};
use crate::db::schema::terugkoppeling_deliveries as del;
use crate::db::{DbConnection, DbError, DbResult, write_tx};
use crate::identity::Caller;
use crate::outbox::kinds;
use crate::registry::consent::{self, Verklaring};
use crate::registry::{IdScheme, PartyKind, PartyRef};

/// The AGB-code of a recipient that is a provider.
pub fn provider_of(recipient: &str) -> Option<String> {
    recipient
        .parse::<PartyRef>()
        .ok()
        .filter(|p| p.scheme == IdScheme::Agb)
        .map(|p| p.code)
}

/// The provider a message is for when it goes to someone else than its
/// recipient (a vendor): what its `zorgaanbieder` says. `None` for a
/// message to its own recipient, whose wire form is unchanged.
pub fn on_behalf(recipient: &str, receiver: &str) -> Option<String> {
    (recipient != receiver)
        .then(|| provider_of(recipient))
        .flatten()
}

/// Whom a delivered push to a vendor was for, as the audit log records it
/// (`AGB:…`); `None` for a push to the recipient itself.
pub fn acting_for(l: &Leased) -> Option<String> {
    on_behalf(&l.recipient, &l.endpoint.party).map(|agb| PartyRef::provider(&agb).to_string())
}

/// The consent statements that let vendors receive the terugkoppelingen of
/// one fan-out round.
pub struct Served {
    consents: Vec<Verklaring>,
}

impl Served {
    /// The statements valid on `today` of the providers among `recipients`.
    pub fn load(
        conn: &mut DbConnection,
        recipients: &[&str],
        today: chrono::NaiveDate,
    ) -> DbResult<Self> {
        let mut agbs: Vec<String> = recipients.iter().filter_map(|r| provider_of(r)).collect();
        agbs.sort();
        agbs.dedup();
        let agbs: Vec<&str> = agbs.iter().map(String::as_str).collect();
        Ok(Self {
            consents: consent::serving(conn, &agbs, today)?,
        })
    }

    /// The vendors (party references) whose endpoints may receive some.
    pub fn vendors(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.consents.iter().map(|c| c.vendor.as_str()).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Whether `endpoint` receives a terugkoppeling of `kind` for
    /// `recipient`: its own, or a vendor's under a statement of the
    /// recipient (covering opt-in where the kind needs it).
    pub fn receives(&self, endpoint: &Endpoint, recipient: &str, kind: &str) -> bool {
        if !endpoint.subscribes(kind) {
            return false;
        }
        if endpoint.party == recipient {
            return true;
        }
        let Some(agb) = provider_of(recipient) else {
            return false;
        };
        let optin = kinds::needs_optin_consent(kind);
        self.consents
            .iter()
            .any(|c| c.vendor == endpoint.party && c.provider_agb == agb && (c.optin || !optin))
    }
}

/// Of leased deliveries, those to a vendor whose statement no longer allows
/// it (revoked, expired, opt-in no longer covered) lapse (`vervallen`)
/// instead of being sent; the rest is returned. The pull shows a lapsed
/// terugkoppeling to whoever may still read it.
pub fn lapse_unconsented(
    conn: &mut DbConnection,
    leased: Vec<Leased>,
    now: NaiveDateTime,
) -> DbResult<Vec<Leased>> {
    let mut keep = Vec::with_capacity(leased.len());
    let mut lapsed = Vec::new();
    for l in leased {
        let allowed = match on_behalf(&l.recipient, &l.endpoint.party) {
            None => true,
            Some(agb) => consent::allows(
                conn,
                &l.endpoint.party,
                &agb,
                kinds::needs_optin_consent(&l.event_type),
                now.date(),
            )?,
        };
        if allowed {
            keep.push(l);
        } else {
            lapsed.push(l.delivery_id);
        }
    }
    if !lapsed.is_empty() {
        write_tx(conn, |conn| {
            diesel::update(
                del::table
                    .filter(del::id.eq_any(&lapsed))
                    .filter(del::status.eq(WACHTEND)),
            )
            .set((
                del::status.eq(VERVALLEN),
                del::lease_owner.eq(None::<String>),
                del::lease_until.eq(None::<NaiveDateTime>),
                del::last_error.eq(Some("toestemmingsverklaring niet (meer) geldig")),
                del::updated_at.eq(now),
            ))
            .execute(conn)
            .map_err(DbError::from)
        })?;
        tracing::info!(
            deliveries = lapsed.len(),
            "deliveries to a vendor lapsed: no valid consent statement"
        );
    }
    Ok(keep)
}

/// Whose terugkoppelingen a caller reads (pull, acknowledgement, delivery
/// log, replay): its own party's; for a software vendor also those of the
/// providers whose statement it holds today — opt-in registrations only of
/// those whose statement covers opt-in.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub own: String,
    /// `AGB:…` of every provider served.
    pub served: Vec<String>,
    /// `AGB:…` of the providers served for opt-in as well.
    pub served_optin: Vec<String>,
}

impl Mailbox {
    pub fn of(caller: &Caller) -> Self {
        let refs = |agbs: &[String]| -> Vec<String> {
            agbs.iter()
                .map(|a| PartyRef::provider(a).to_string())
                .collect()
        };
        let vendor = caller.party().kind == PartyKind::Softwareleverancier;
        Self {
            own: caller.party().reference.to_string(),
            served: if vendor {
                refs(&caller.consented_agbs)
            } else {
                Vec::new()
            },
            served_optin: if vendor {
                refs(&caller.consented_optin_agbs)
            } else {
                Vec::new()
            },
        }
    }

    /// Only the party's own, as before intermediaries received anything.
    pub fn own_only(&self) -> bool {
        self.served.is_empty()
    }

    /// Whether a terugkoppeling of `kind` for `recipient` is in it.
    pub fn covers(&self, recipient: &str, kind: &str) -> bool {
        recipient == self.own
            || if kinds::needs_optin_consent(kind) {
                self.served_optin.iter().any(|r| r == recipient)
            } else {
                self.served.iter().any(|r| r == recipient)
            }
    }
}
