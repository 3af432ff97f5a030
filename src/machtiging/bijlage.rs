//! One attachment (bijlage) of a request, with its content: read from the
//! stored document, for the provider's people and software (`raadplegen`,
//! [`for_provider`]) and — through `beoordeling::bijlage` — for the insurer.
//! The access checks and the audit rows are those of reading the request
//! (`machtigingsaanvraag.raadplegen`, with the attachment's number in the
//! detail): another party's request, or one that does not exist, is the same
//! "not found", audited as refused.

use base64::Engine;
use serde_json::json;

use super::MachtigingError;
use super::model::Bijlage;
use super::service::{audit_request, load_visible};
use super::store::{self, Record};
use crate::db::{Db, DbConnection};
use crate::error::{Code, Refusal};
use crate::identity::Caller;
use crate::ids::{MachtigingId, Requested};
use crate::registry::Scope;
use crate::validation::{El, xsd};

/// An attachment as submitted: its description and decoded content.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub id: MachtigingId,
    pub bijlage: Bijlage,
    pub content: Vec<u8>,
}

fn not_found() -> Refusal {
    Refusal::new(Code::NotFound, "Bijlage niet gevonden.")
}

/// Attachment `n` (1-based, in the order of the document's `Bijlagen`) of a
/// request of the caller's providers.
pub async fn for_provider(
    db: &Db,
    caller: Caller,
    id: Requested<MachtigingId>,
    n: usize,
) -> Result<Attachment, MachtigingError> {
    caller.require(Scope::MachtigingenRaadplegen)?;
    const ACTION: &str = "machtigingsaanvraag.raadplegen";
    db.run(move |conn| {
        let record = load_visible(conn, &caller, &id, ACTION)?;
        let found = of_record(conn, &record, n)?;
        let outcome = if found.is_some() {
            "ok"
        } else {
            "geweigerd: bijlage niet gevonden"
        };
        audit_request(
            conn,
            &caller,
            ACTION,
            Some(&record.id),
            outcome,
            json!({ "bijlage": n }),
        )?;
        found.ok_or_else(|| not_found().into())
    })
    .await
}

/// Attachment `n` of `record`, read from its stored document; `None` when
/// the request has no such attachment. The content is checked against the
/// SHA-256 recorded at submission, so what is served is what was submitted.
/// Numbers past the request's own attachments name those of its supplements
/// (`super::aanvulling`, which explains the numbering and their check).
pub fn of_record(
    conn: &mut DbConnection,
    record: &Record,
    n: usize,
) -> Result<Option<Attachment>, MachtigingError> {
    if n > record.aanvraag.bijlagen.len() {
        return super::aanvulling::attachment(conn, record, n);
    }
    let Some(bijlage) = n
        .checked_sub(1)
        .and_then(|i| record.aanvraag.bijlagen.get(i))
    else {
        return Ok(None);
    };
    let document = store::document(conn, &record.id)?;
    let doc = xsd::parse(document.as_bytes())?;
    let root = doc.get_root_element().map(El::new).ok_or_else(unreadable)?;
    let content = decoded(&root, n - 1)?;
    verify(&content, &bijlage.sha256, &record.id, n)?;
    Ok(Some(Attachment {
        id: record.id.clone(),
        bijlage: bijlage.clone(),
        content,
    }))
}

fn unreadable() -> Refusal {
    Refusal::internal("De bijlage kon niet worden gelezen.")
}

/// The decoded `Inhoud` of the `i`-th (0-based) `Bijlage` under `root`, a
/// stored document's root (schema-valid when the intake stored it, so a
/// miss is an internal error). Shared with the supplements
/// (`super::aanvulling`).
pub(super) fn decoded(root: &El, i: usize) -> Result<Vec<u8>, Refusal> {
    let el = root
        .opt("Bijlagen")
        .and_then(|list| list.all("Bijlage").into_iter().nth(i))
        .ok_or_else(unreadable)?;
    let mut text = el.req("Inhoud")?.text();
    text.retain(|c| !c.is_ascii_whitespace());
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|_| unreadable())
}

/// Refuses `content` (attachment `n` of request `id`) unless it has the
/// SHA-256 recorded for it (hex): what is served is what was received.
pub(super) fn verify(
    content: &[u8],
    recorded: &str,
    id: &MachtigingId,
    n: usize,
) -> Result<(), Refusal> {
    if hex::encode(openssl::sha::sha256(content)) == recorded {
        return Ok(());
    }
    tracing::error!(request = %id, bijlage = n, "stored attachment differs from its recorded hash");
    Err(unreadable())
}
