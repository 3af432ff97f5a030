//! The provider-side operations on machtigingsaanvragen, shared by the SOAP and
//! REST doors: authorization, visibility, idempotency, JVC, the state machine,
//! and one write transaction per command that also writes history, the
//! insurer's inbox and the audit log.

use serde_json::json;

use super::MachtigingError;
use super::change::{self, Automatic, Target};
use super::checks;
use super::lifecycle::{Command, IllegalTransition, transition};
use super::model::{Aanvraag, Action, Beslissing, Status, StoredForm};
use super::search::Visibility;
use super::store::{self, NewEvent, NewRecord, Record, StatusChange};
use crate::audit;
use crate::db::{Db, DbConnection, DbError, write_tx};
use crate::error::{Code, Refusal};
use crate::identity::Caller;
use crate::ids::{MachtigingId, Requested};
use crate::registry::{PartyKind, PartyRef, Scope};

pub use super::aanvulling::supply_information;

/// A document as received: typed, plus its XML for the insurer.
#[derive(Debug, Clone)]
pub struct Submission {
    pub aanvraag: Aanvraag,
    pub document: String,
    pub concept: bool,
}

/// The answer to a command.
#[derive(Debug, Clone)]
pub struct Confirmation {
    pub id: MachtigingId,
    pub status: Status,
    /// A resubmission of an identical earlier request.
    pub repeated: bool,
    pub beslissing: Option<Beslissing>,
}

pub(super) fn not_found() -> Refusal {
    Refusal::new(Code::NotFound, "Machtigingsaanvraag niet gevonden.")
}

pub(super) fn illegal(e: IllegalTransition) -> Refusal {
    Refusal::new(Code::StatusTransition, format!("Niet toegestaan: {e}."))
}

pub(super) fn conflict_or(e: DbError) -> MachtigingError {
    match e {
        DbError::Conflict(_) => Refusal::new(
            Code::StatusTransition,
            "De aanvraag is intussen gewijzigd; haal de actuele status op en probeer opnieuw.",
        )
        .into(),
        other => other.into(),
    }
}

/// The AGB-codes the caller may act for: a provider its own; a software
/// vendor those of providers with a valid consent statement for it.
pub(super) fn provider_agbs(caller: &Caller) -> Vec<String> {
    let party = caller.party();
    match party.kind {
        PartyKind::Zorgaanbieder => vec![party.reference.code.clone()],
        PartyKind::Softwareleverancier => caller.consented_agbs.clone(),
        _ => Vec::new(),
    }
}

/// The requests of the providers the caller acts for — a vendor's own
/// submissions included only while the provider's consent statement holds:
/// revoking it ends the vendor's reads and searches of that provider's
/// requests at once, the ones it submitted as well (every one of them
/// carries a provider's AGB, JVC-C01).
pub(super) fn visibility(caller: &Caller) -> Visibility {
    Visibility::Provider {
        agbs: provider_agbs(caller),
    }
}

/// Whether the caller may see this request: one of its providers'.
fn visible(record: &Record, caller: &Caller) -> bool {
    provider_agbs(caller).contains(&record.provider_agb)
}

pub(super) fn audit_request(
    conn: &mut DbConnection,
    caller: &Caller,
    action: &str,
    id: Option<&MachtigingId>,
    outcome: &str,
    detail: serde_json::Value,
) -> Result<(), DbError> {
    // An intermediary's actions name the provider it acted for.
    let acting_for = match (caller.party().kind, id) {
        (PartyKind::Softwareleverancier, Some(id)) => {
            store::get(conn, id)?.map(|r| PartyRef::provider(&r.provider_agb).to_string())
        }
        _ => None,
    };
    audit::ByCaller {
        caller,
        object_type: "machtigingsaanvraag",
        acting_for,
    }
    .record(conn, action, id.map(MachtigingId::as_str), outcome, detail)
}

/// The provider an intermediary acts for on a request of `provider_agb`, as
/// the audit log names it; `None` for any other caller.
pub(super) fn acting_for(caller: &Caller, provider_agb: &str) -> Option<String> {
    (caller.party().kind == PartyKind::Softwareleverancier)
        .then(|| PartyRef::provider(provider_agb).to_string())
}

/// The audit row of `caller`'s successful `action` on `record`, to write
/// after the read (`audit::read_then_record`).
pub(super) fn request_row(
    caller: &Caller,
    record: &Record,
    action: &str,
    detail: serde_json::Value,
) -> audit::chain::Content {
    audit::ByCaller {
        caller,
        object_type: "machtigingsaanvraag",
        acting_for: acting_for(caller, &record.provider_agb),
    }
    .row(action, Some(record.id.as_str()), "ok", detail)
}

/// Loads a request the caller may see; not found and not visible are the same
/// answer, and both are audited as a refused access.
pub(super) fn load_visible(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &Requested<MachtigingId>,
    action: &str,
) -> Result<Record, MachtigingError> {
    let found = match id.valid() {
        Some(id) => store::get(conn, id)?,
        None => None,
    };
    match found {
        Some(r) if visible(&r, caller) => Ok(r),
        _ => {
            const REFUSED: &str = "geweigerd: niet gevonden";
            match id.valid() {
                Some(id) => audit_request(conn, caller, action, Some(id), REFUSED, json!({}))?,
                // Audited as sent; it names no request, so nobody it was for.
                None => audit::ByCaller {
                    caller,
                    object_type: "machtigingsaanvraag",
                    acting_for: None,
                }
                .record(conn, action, Some(id.as_str()), REFUSED, json!({}))?,
            }
            Err(not_found().into())
        }
    }
}

pub(super) fn event<'a>(
    caller: &'a Caller,
    actor: &'a str,
    id: &'a MachtigingId,
    action: Action,
    status: Status,
    detail: serde_json::Value,
) -> NewEvent<'a> {
    NewEvent {
        request_id: id,
        action: action.as_str(),
        status,
        actor,
        fingerprint: Some(caller.fingerprint()),
        detail,
        document: None,
    }
}

/// `IndienenMachtigingsaanvraag`: stores a new request (or a Concept), or
/// returns the earlier one for an identical resubmission.
///
/// Two steps: the checks and reads (idempotency, JVC) on a pooled connection,
/// in parallel with other requests; then only the inserts as one write
/// transaction ([`Db::write_batched`]), which shares its commit with the
/// other submissions queued at that moment (SQLite's group commit; on
/// PostgreSQL the batch writer, `db::pg_writer`).
pub async fn submit(
    db: &Db,
    caller: Caller,
    s: Submission,
) -> Result<Confirmation, MachtigingError> {
    caller.require(Scope::MachtigingenIndienen)?;
    let checked = db
        .run(move |conn| check_submission(conn, caller, s))
        .await?;
    let new = match checked {
        Checked::Repeated(c) => return Ok(*c),
        Checked::New(new) => new,
    };
    let (submitter, referentie, hash) = (
        new.submitter.clone(),
        new.submission.aanvraag.referentie.clone(),
        new.stored.content_hash.clone(),
    );
    match db.write_batched(move |c| new.store(c)).await {
        Ok(c) => Ok(c),
        // A concurrent identical submission won the race for the reference.
        Err(DbError::Conflict(_)) => {
            db.run(
                move |conn| match store::by_reference(conn, &submitter, &referentie)? {
                    Some(existing) => repeated(existing, &hash),
                    None => Err(Refusal::new(
                        Code::Unavailable,
                        "Gelijktijdige wijziging; probeer opnieuw.",
                    )
                    .into()),
                },
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// A submission that passed every check, ready to be stored.
struct NewSubmission {
    caller: Caller,
    submission: Submission,
    submitter: String,
    stored: StoredForm,
    id: MachtigingId,
    action: Action,
    status: Status,
    /// What the insurer's rules decided, found by the checks.
    rule: Option<Automatic>,
}

enum Checked {
    /// An identical earlier submission: answered without writing.
    Repeated(Box<Confirmation>),
    New(Box<NewSubmission>),
}

fn check_submission(
    conn: &mut DbConnection,
    caller: Caller,
    s: Submission,
) -> Result<Checked, MachtigingError> {
    let submitter = caller.party().reference.to_string();
    let stored = s.aanvraag.stored_form();
    let found = checks::look_up(
        conn,
        &s.aanvraag,
        Some((&submitter, &s.aanvraag.referentie)),
    )?;
    if found.existing {
        if let Some(existing) = store::by_reference(conn, &submitter, &s.aanvraag.referentie)? {
            return repeated(existing, &stored.content_hash)
                .map(|c| Checked::Repeated(Box::new(c)));
        }
    }
    let rule = checks::jvc(&caller, &s.aanvraag, !s.concept, &found)?;
    let command = if s.concept {
        Command::OpslaanConcept
    } else {
        Command::Indienen
    };
    let status = transition(None, command, None).map_err(illegal)?;
    let action = command.action(None, None);
    Ok(Checked::New(Box::new(NewSubmission {
        id: MachtigingId::for_request()?,
        caller,
        submission: s,
        submitter,
        stored,
        action,
        status,
        rule,
    })))
}

impl NewSubmission {
    /// The write transaction of a submission: request, history, the
    /// insurer's inbox, the automatic decision if a rule applies, audit.
    fn store(self, c: &mut DbConnection) -> Result<Confirmation, DbError> {
        let NewSubmission {
            caller,
            submission: s,
            submitter,
            stored,
            id,
            action,
            status,
            rule,
        } = self;
        // A submission no rule decides enters the insurer's inbox as it is;
        // otherwise the decision does (`change::after_submit`).
        let announcement = (status == Status::Ingediend && rule.is_none())
            .then(|| change::inbox_event(&id, action, status));
        let inbox = announcement.as_ref().map(|announcement| store::Inbox {
            uzovi: &s.aanvraag.uzovi,
            action: action.as_str(),
            announcement,
        });
        let event_id = store::insert_submitted(
            c,
            &NewRecord {
                id: &id,
                provider_agb: &s.aanvraag.agb_praktijk,
                submitter: &submitter,
                aanvraag: &s.aanvraag,
                stored: &stored,
                document: &s.document,
                status,
            },
            &event(&caller, &submitter, &id, action, status, json!({})),
            inbox,
        )?;
        let decided = if inbox.is_some() {
            None
        } else if status == Status::Ingediend {
            // The insurer's automatic rules may decide at once, in this
            // same transaction; the decision is then in the answer.
            let target = Target {
                id: &id,
                version: 1,
                referentie: &s.aanvraag.referentie,
                provider_agb: &s.aanvraag.agb_praktijk,
                uzovi: &s.aanvraag.uzovi,
            };
            change::after_submit(c, &target, event_id, action, rule)?
        } else {
            None
        };
        // Written on the submission's own transaction (no savepoint: any error
        // undoes the whole submission anyway); an intermediary acted for the
        // practice the request names, so no lookup of it either.
        audit::ByCaller {
            caller: &caller,
            object_type: "machtigingsaanvraag",
            acting_for: (caller.party().kind == PartyKind::Softwareleverancier)
                .then(|| PartyRef::provider(&s.aanvraag.agb_praktijk).to_string()),
        }
        .insert(
            c,
            "machtigingsaanvraag.indienen",
            Some(id.as_str()),
            "ok",
            json!({"status": status.as_str()}),
        )?;
        Ok(Confirmation {
            status: decided.as_ref().map_or(status, |b| b.uitkomst.status()),
            id,
            repeated: false,
            beslissing: decided,
        })
    }
}

fn repeated(existing: Record, hash: &str) -> Result<Confirmation, MachtigingError> {
    if existing.content_hash == hash {
        Ok(Confirmation {
            id: existing.id,
            status: existing.status,
            repeated: true,
            beslissing: existing.beslissing,
        })
    } else {
        Err(Refusal::new(
            Code::ReferenceConflict,
            format!(
                "Referentie '{}' is eerder gebruikt voor machtigingsaanvraag {} met andere inhoud.",
                existing.referentie, existing.id
            ),
        )
        .into())
    }
}

/// `WijzigenMachtigingsaanvraag`: new content for a Concept (optionally
/// submitting it) or for an Ingediend request the insurer has not started on.
pub async fn modify(
    db: &Db,
    caller: Caller,
    id: Requested<MachtigingId>,
    s: Submission,
) -> Result<Confirmation, MachtigingError> {
    caller.require(Scope::MachtigingenIndienen)?;
    db.run(move |conn| modify_blocking(conn, &caller, &id, &s))
        .await
}

fn modify_blocking(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &Requested<MachtigingId>,
    s: &Submission,
) -> Result<Confirmation, MachtigingError> {
    let record = load_visible(conn, caller, id, "machtigingsaanvraag.wijzigen")?;
    let id = &record.id;
    let command = if s.concept {
        Command::WijzigenConcept
    } else {
        Command::Wijzigen
    };
    let status = transition(Some(record.status), command, None).map_err(illegal)?;
    let action = command.action(Some(record.status), None);
    if s.aanvraag.referentie != record.referentie {
        return Err(Refusal::new(
            Code::BadRequest,
            "De Referentie van een aanvraag kan niet worden gewijzigd.",
        )
        .into());
    }
    if record.status == Status::Ingediend && s.aanvraag.uzovi != record.uzovi {
        return Err(Refusal::new(
            Code::BadRequest,
            "De verzekeraar van een ingediende aanvraag kan niet worden gewijzigd; trek haar in en dien een nieuwe in.",
        )
        .into());
    }
    let found = checks::look_up(conn, &s.aanvraag, None)?;
    let rule = checks::jvc(caller, &s.aanvraag, status != Status::Concept, &found)?;
    let stored = s.aanvraag.stored_form();
    let actor = caller.party().reference.to_string();
    let decided = write_tx(conn, |c| {
        store::update_content(c, &record, &s.aanvraag, &stored, &s.document, status)?;
        let event_id = store::add_event(c, &event(caller, &actor, id, action, status, json!({})))?;
        let decided = if status == Status::Ingediend {
            // A Concept submitted now meets the automatic rules as a new one
            // would; a change of a submitted request does not.
            let rule = rule.clone().filter(|_| record.status == Status::Concept);
            let target = Target {
                version: record.version + 1,
                uzovi: &s.aanvraag.uzovi,
                ..Target::from(&record)
            };
            change::after_submit(c, &target, event_id, action, rule)?
        } else {
            None
        };
        audit_request(
            c,
            caller,
            "machtigingsaanvraag.wijzigen",
            Some(id),
            "ok",
            json!({"status": status.as_str()}),
        )?;
        Ok(decided)
    })
    .map_err(conflict_or)?;
    Ok(Confirmation {
        id: id.clone(),
        status: decided.as_ref().map_or(status, |b| b.uitkomst.status()),
        repeated: false,
        beslissing: decided,
    })
}

/// `IntrekkenMachtigingsaanvraag`.
pub async fn withdraw(
    db: &Db,
    caller: Caller,
    id: Requested<MachtigingId>,
    reden: Option<String>,
) -> Result<Confirmation, MachtigingError> {
    caller.require(Scope::MachtigingenIndienen)?;
    db.run(move |conn| {
        let record = load_visible(conn, &caller, &id, "machtigingsaanvraag.intrekken")?;
        let id = record.id.clone();
        let status = transition(Some(record.status), Command::Intrekken, None).map_err(illegal)?;
        let actor = caller.party().reference.to_string();
        write_tx(conn, |c| {
            store::set_status(c, &id, record.version, status, StatusChange::default())?;
            let detail = json!({ "reden": reden });
            let event_id = store::add_event(
                c,
                &event(&caller, &actor, &id, Action::Withdraw, status, detail),
            )?;
            if record.status != Status::Concept {
                change::to_inbox(c, &record.uzovi, &id, event_id, Action::Withdraw, status)?;
            }
            audit_request(
                c,
                &caller,
                "machtigingsaanvraag.intrekken",
                Some(&id),
                "ok",
                json!({}),
            )
        })
        .map_err(conflict_or)?;
        Ok(Confirmation {
            id: id.clone(),
            status,
            repeated: false,
            beslissing: None,
        })
    })
    .await
}
