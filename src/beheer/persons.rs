//! The persons of a party: who its contact person is, as every certificate
//! holder of the party may read it (whoami, the portal's "Mijn Gegevens"),
//! and the operator's change of contact person — the role
//! (`gebruikersbeheer`) moves to another persoonlijk certificate and the
//! contact details change with it, in one audited transaction whose audit
//! row (`partij.contactpersoon`, before and after) is the history.

use serde::Serialize;
use serde_json::json;

use super::service::BeheerError;
use super::store::{self, Contact};
use crate::audit::{self, Actor, AuditEntry};
use crate::db::{Db, DbConnection, write_tx};
use crate::error::{Code, Refusal};
use crate::identity::Caller;
use crate::registry::admin;
use crate::registry::{self, CertKind, CertStatus, PartyRef, Scope, Scopes};

/// The party's contact person as its certificate holders see it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ContactPerson {
    pub naam: Option<String>,
    pub email: Option<String>,
    pub telefoon: Option<String>,
}

impl ContactPerson {
    fn of(c: &Contact) -> Self {
        Self {
            naam: c.contactpersoon_naam.clone(),
            email: c.contactpersoon_email.clone(),
            telefoon: c.contactpersoon_telefoon.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.naam.is_none() && self.email.is_none() && self.telefoon.is_none()
    }
}

/// Who the caller's contact person is. Needs no authorization: any
/// certificate of the party may know whom to ask for its authorizations.
/// `None` while the party has no contact details registered.
pub async fn contact_person(
    db: &Db,
    caller: &Caller,
) -> Result<Option<ContactPerson>, BeheerError> {
    let party = caller.party().reference.to_string();
    db.run(move |conn| {
        let person = ContactPerson::of(&store::contact(conn, &party)?);
        Ok((!person.is_empty()).then_some(person))
    })
    .await
}

/// The operator's change of contact person.
#[derive(Debug, Clone)]
pub struct NewContactPerson {
    /// The persoonlijk certificate of the new contact person.
    pub fingerprint: String,
    /// Defaults to the certificate's holder.
    pub naam: Option<String>,
    pub email: Option<String>,
    pub telefoon: Option<String>,
}

/// One contact person as the history records it.
#[derive(Debug, Clone, Serialize)]
pub struct ContactPersonState {
    #[serde(flatten)]
    pub person: ContactPerson,
    /// The certificates holding `gebruikersbeheer`.
    pub certificaten: Vec<String>,
}

/// Makes the holder of `new.fingerprint` (an active persoonlijk certificate
/// of `party`) its contact person: `gebruikersbeheer` is granted to that
/// certificate and withdrawn from every other certificate of the party (each
/// an audited authorization change), the contact details become the new
/// person's (the notification addresses stay), and one `partij.contactpersoon`
/// audit row records before and after — `beheer history` shows it. All in one
/// transaction. Returns before and after.
pub fn change_contact_person(
    conn: &mut DbConnection,
    party: &PartyRef,
    new: &NewContactPerson,
    actor: &Actor,
) -> Result<(ContactPersonState, ContactPersonState), BeheerError> {
    write_tx(conn, |c| {
        registry::store::find_party(c, party)?;
        let target = match registry::store::certificate_by_fingerprint(c, &new.fingerprint)? {
            Some(t) if &t.party.reference == party => t,
            _ => return Err(Refusal::new(Code::NotFound, "Certificaat niet gevonden.").into()),
        };
        if target.kind != CertKind::Persoonlijk || target.status != CertStatus::Actief {
            return Err(Refusal::new(
                Code::BadRequest,
                "De contactpersoon heeft een actief persoonlijk certificaat.",
            )
            .into());
        }
        let naam = match new.naam.as_deref().or(target.holder.as_deref()) {
            Some(n) => registry::holder_name(n)?,
            None => {
                return Err(Refusal::new(
                    Code::BadRequest,
                    "Het certificaat noemt geen houder: geef de naam van de contactpersoon.",
                )
                .into());
            }
        };
        let key = party.to_string();
        let contact_before = store::contact(c, &key)?;
        let certs = registry::store::list_certificates(c, Some(party))?;
        let before_certs: Vec<String> = certs
            .iter()
            .filter(|x| x.scopes.contains(Scope::Gebruikersbeheer))
            .map(|x| x.fingerprint.clone())
            .collect();
        let role: Scopes = [Scope::Gebruikersbeheer].into_iter().collect();
        for fp in before_certs.iter().filter(|fp| **fp != target.fingerprint) {
            admin::change_scopes(c, fp, Scopes::default(), role, actor)?;
        }
        if !target.scopes.contains(Scope::Gebruikersbeheer) {
            admin::change_scopes(c, &target.fingerprint, role, Scopes::default(), actor)?;
        }
        let contact_after = Contact {
            contactpersoon_naam: Some(naam),
            contactpersoon_email: new.email.clone(),
            contactpersoon_telefoon: new.telefoon.clone(),
            notificatie_emails: contact_before.notificatie_emails.clone(),
        };
        store::set_contact(c, &key, &contact_after)?;
        let before = ContactPersonState {
            person: ContactPerson::of(&contact_before),
            certificaten: before_certs,
        };
        let after = ContactPersonState {
            person: ContactPerson::of(&contact_after),
            certificaten: vec![target.fingerprint.clone()],
        };
        audit::record(
            c,
            &AuditEntry {
                fingerprint: actor.fingerprint.as_deref(),
                actor: actor.name.clone(),
                acting_for: None,
                action: "partij.contactpersoon",
                object_type: "partij",
                object_id: Some(key),
                outcome: "ok",
                detail: json!({"voor": before, "na": after}),
            },
        )?;
        Ok((before, after))
    })
}
