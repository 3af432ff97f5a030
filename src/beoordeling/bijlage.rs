//! One attachment of a request addressed to the insurer, with its content,
//! for its assessors (`beoordelen`). The access checks and the audit rows are
//! those of `RaadplegenAanvraag` (`beoordeling.raadplegen`, with the
//! attachment's number in the detail): another insurer's request, a Concept
//! or an unknown id is "not found", audited as refused.

use serde_json::json;

use super::BeoordelingError;
use super::service::{auditor, insurer_uzovi, load_own};
use crate::db::Db;
use crate::error::{Code, Refusal};
use crate::identity::Caller;
use crate::ids::{MachtigingId, Requested};
use crate::machtiging::bijlage::{Attachment, of_record};

/// Attachment `n` (1-based) of a request addressed to the caller's UZOVI.
pub async fn get(
    db: &Db,
    caller: Caller,
    id: Requested<MachtigingId>,
    n: usize,
) -> Result<Attachment, BeoordelingError> {
    let uzovi = insurer_uzovi(&caller)?;
    const ACTION: &str = "beoordeling.raadplegen";
    db.run(move |conn| {
        let record = load_own(conn, &caller, &uzovi, &id, ACTION)?;
        let found = of_record(conn, &record, n).map_err(|e| match e {
            crate::machtiging::MachtigingError::Db(e) => BeoordelingError::Db(e),
            crate::machtiging::MachtigingError::Refused(r) => BeoordelingError::Refused(r),
            other => BeoordelingError::Refused(Refusal::internal(other.to_string())),
        })?;
        let outcome = if found.is_some() {
            "ok"
        } else {
            "geweigerd: bijlage niet gevonden"
        };
        auditor(&caller).record(
            conn,
            ACTION,
            Some(record.id.as_str()),
            outcome,
            json!({ "bijlage": n }),
        )?;
        found.ok_or_else(|| Refusal::new(Code::NotFound, "Bijlage niet gevonden.").into())
    })
    .await
}
