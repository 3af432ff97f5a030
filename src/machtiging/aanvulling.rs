//! The supplements (aanvullingen) of a request: what the practice supplies
//! in answer to the insurer's questions (`AanvullendeInformatie`: answers, a
//! remark, attachments) — [`supply_information`], shared by the doors — and
//! the same read back from its events for the portal's detail pages, with
//! their attachments for download.
//!
//! A supplement's attachments are numbered after the request's own: the
//! original attachments are 1..n, the first supplement's follow from n+1,
//! and so on in the order they were supplied. The request's attachments can
//! no longer change once the insurer has asked a question, and supplements
//! are only ever appended, so a number keeps naming the same file.
//!
//! Integrity: the original attachments are checked against the SHA-256 in
//! the request's row (`bijlage::of_record`). A supplement's event carries
//! no such column; rather than a migration on both backends,
//! `supply_information` records the hashes in the event's `detail` JSON
//! (`sha256`, one per attachment, written in the same insert as the
//! document) and the download checks against it. Events written before
//! that carry no hashes: their attachments are served unchecked — the event
//! row is append-only and never rewritten, so there is no second copy that
//! could have drifted from it.

use chrono::NaiveDateTime;
use serde::Deserialize;

use serde_json::json;

use super::MachtigingError;
use super::bijlage::Attachment;
use super::change;
use super::jvc;
use super::lifecycle::{Command, transition};

use super::model::{AanvullendeInformatie, Action, Bijlage, Vraag};
use super::service::{Confirmation, audit_request, conflict_or, event, illegal, load_visible};

use super::store::{self, Record, StatusChange, SupplementRow};
use crate::catalog;
use crate::db::write_tx;
use crate::db::{Db, DbConnection};
use crate::error::Refusal;
use crate::identity::Caller;
use crate::ids::{MachtigingId, Requested};
use crate::registry::Scope;
use crate::validation::{El, xsd};

/// One supplement as the pages show it.
#[derive(Debug, Clone)]
pub struct Supplement {
    pub at: NaiveDateTime,
    pub antwoorden: Vec<Answer>,
    pub toelichting: Option<String>,
    pub bijlagen: Vec<Bijlage>,
    /// The download number of its first attachment (see the module docs).
    pub first: usize,
}

/// One answer with the question's text where it is known.
#[derive(Debug, Clone)]
pub struct Answer {
    pub vraag_id: String,
    /// The text of the question as asked (recorded with the supplement), or
    /// the catalog's text of that question; `None` when neither knows it.
    pub vraag: Option<String>,
    pub waarde: String,
}

/// What `supply_information` records in the event's `detail` besides the
/// counts (absent in events written before this was recorded).
#[derive(Debug, Default, Deserialize)]
struct Detail {
    #[serde(default)]
    vragen: Vec<Vraag>,
    #[serde(default)]
    sha256: Vec<String>,
}

fn lost() -> Refusal {
    Refusal::internal("De aanvullende informatie kon niet worden gelezen.")
}

/// The parsed document and detail of one supplement event.
fn parse(row: &SupplementRow) -> Result<(AanvullendeInformatie, Detail), Refusal> {
    let document = row.document.as_deref().ok_or_else(lost)?;
    let doc = xsd::parse(document.as_bytes())?;
    let root = doc.get_root_element().map(El::new).ok_or_else(lost)?;
    let info = super::xml::aanvullende_informatie(&root)?;
    let detail = serde_json::from_str(&row.detail).unwrap_or_default();
    Ok((info, detail))
}

/// The supplements of `record`, in the order they were supplied. `record`
/// is one the caller was just allowed to read (`query::get`,
/// `beoordeling::service::get`, which checked access and audited the read),
/// so this reads without a check or audit row of its own.
pub async fn list(db: &Db, record: Record) -> Result<Vec<Supplement>, MachtigingError> {
    db.run(move |conn| {
        let rows = store::supplements(conn, &record.id)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let verstrekking =
            catalog::store::verstrekking(conn, &record.uzovi, &record.aanvraag.verstrekking)?;
        let mut first = record.aanvraag.bijlagen.len() + 1;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let (info, detail) = parse(row)?;
            let antwoorden = info
                .antwoorden
                .into_iter()
                .map(|a| {
                    let asked = detail.vragen.iter().find(|v| v.vraag_id == a.vraag_id);
                    let vraag = asked.map(|v| v.tekst.clone()).or_else(|| {
                        verstrekking
                            .as_ref()
                            .and_then(|v| v.vragen.iter().find(|q| q.id == a.vraag_id))
                            .map(|q| q.tekst.clone())
                    });
                    Answer {
                        vraag_id: a.vraag_id,
                        vraag,
                        waarde: a.waarde,
                    }
                })
                .collect();
            let n = info.bijlagen.len();
            out.push(Supplement {
                at: row.at,
                antwoorden,
                toelichting: info.toelichting,
                bijlagen: info.bijlagen,
                first,
            });
            first += n;
        }
        Ok(out)
    })
    .await
}

/// Attachment `n` (numbered as the module docs say, `n` past the request's
/// own attachments) of `record`'s supplements; `None` when there is none.
pub fn attachment(
    conn: &mut DbConnection,
    record: &Record,
    n: usize,
) -> Result<Option<Attachment>, MachtigingError> {
    let Some(mut i) = n.checked_sub(record.aanvraag.bijlagen.len() + 1) else {
        return Ok(None);
    };
    for row in store::supplements(conn, &record.id)? {
        let document = row.document.as_deref().ok_or_else(lost)?;
        let doc = xsd::parse(document.as_bytes())?;
        let root = doc.get_root_element().map(El::new).ok_or_else(lost)?;
        let count = root.opt("Bijlagen").map_or(0, |l| l.all("Bijlage").len());
        if i >= count {
            i -= count;
            continue;
        }
        let info = super::xml::aanvullende_informatie(&root)?;
        let bijlage = info.bijlagen.get(i).cloned().ok_or_else(lost)?;
        let content = super::bijlage::decoded(&root, i)?;
        let detail: Detail = serde_json::from_str(&row.detail).unwrap_or_default();
        if let Some(recorded) = detail.sha256.get(i) {
            super::bijlage::verify(&content, recorded, &record.id, n)?;
        }
        return Ok(Some(Attachment {
            id: record.id.clone(),
            bijlage,
            content,
        }));
    }
    Ok(None)
}

/// `AanleverenAanvullendeInformatie`: answers the insurer's questions; the
/// request goes to InBehandeling (the insurer has started, so the document
/// can no longer be replaced — `docs/levenscyclus.md`).
pub async fn supply_information(
    db: &Db,
    caller: Caller,
    id: Requested<MachtigingId>,
    info: AanvullendeInformatie,
    document: String,
) -> Result<Confirmation, MachtigingError> {
    caller.require(Scope::MachtigingenIndienen)?;
    db.run(move |conn| {
        let record = load_visible(conn, &caller, &id, "machtigingsaanvraag.aanvullen")?;
        let id = record.id.clone();
        let status = transition(Some(record.status), Command::Aanvullen, None).map_err(illegal)?;
        let verstrekking =
            catalog::store::verstrekking(conn, &record.uzovi, &record.aanvraag.verstrekking)?;
        jvc::check_aanvulling(&info, verstrekking.as_ref())?;
        let actor = caller.party().reference.to_string();
        write_tx(conn, |c| {
            store::set_status(
                c,
                &id,
                record.version,
                status,
                StatusChange {
                    open_vragen: Some(&[]),
                    beslissing: None,
                },
            )?;
            let mut e = event(
                &caller,
                &actor,
                &id,
                Action::SupplyInformation,
                status,
                // Questions as asked, attachments' hashes: `super::aanvulling`.
                json!({
                    "antwoorden": info.antwoorden.len(),
                    "bijlagen": info.bijlagen.len(),
                    "vragen": record.open_vragen,
                    "sha256": info.bijlagen.iter().map(|b| b.sha256.as_str()).collect::<Vec<_>>(),
                }),
            );
            e.document = Some(&document);
            let event_id = store::add_event(c, &e)?;
            change::to_inbox(
                c,
                &record.uzovi,
                &id,
                event_id,
                Action::SupplyInformation,
                status,
            )?;
            audit_request(
                c,
                &caller,
                "machtigingsaanvraag.aanvullen",
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
