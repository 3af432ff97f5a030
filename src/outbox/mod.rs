//! The outbox of terugkoppelingen (feedback to care providers and portals).
//!
//! A terugkoppeling is written with [`enqueue`] inside the same database
//! transaction as the change that caused it, so a committed change always has
//! its terugkoppeling and a rolled-back one never does. Nothing is sent from
//! inside that transaction: delivery (push and pull) reads this table later.
//! The row's `id` orders terugkoppelingen; `public_id` is the stable identity
//! receivers deduplicate on (`webhook-id`).
//!
//! Once such a transaction has committed, dispatchers in this process are
//! woken ([`subscribe`]) instead of finding the row at their next poll.

pub mod kinds;

use std::sync::LazyLock;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::db::schema::terugkoppelingen;
use crate::db::{DbConnection, DbError, now};
use crate::machtiging::model::{Beslissing, Status, Vraag};

/// Bumped after every commit that wrote a terugkoppeling.
static WRITTEN: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::channel(0).0);

/// Changes after each commit that wrote terugkoppelingen in this process.
pub fn subscribe() -> watch::Receiver<u64> {
    WRITTEN.subscribe()
}

fn announce() {
    WRITTEN.send_modify(|n| *n = n.wrapping_add(1));
}

/// Event types a callback can subscribe to.
pub const MACHTIGING_STATUS: &str = "machtiging.status";
/// To an insurer: a new or changed request in its inbox (push instead of pull).
pub const MACHTIGING_INBOX: &str = "machtiging.inbox";

/// What a provider hears when one of its machtigingsaanvragen changes status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachtigingStatus {
    pub machtigingsaanvraag_id: String,
    pub referentie: String,
    pub agb_praktijk: String,
    pub uzovi: String,
    pub status: Status,
    #[serde(
        serialize_with = "crate::json_time::utc",
        deserialize_with = "crate::json_time::instant"
    )]
    pub tijdstip: NaiveDateTime,
    /// Present for Toegekend, DeelsToegekend and Afgewezen.
    pub beslissing: Option<Beslissing>,
    /// The insurer's questions, for AanvullendeInformatieGevraagd.
    #[serde(default)]
    pub vragen: Vec<Vraag>,
}

/// A terugkoppeling to be written.
#[derive(Debug, Clone)]
pub struct NewTerugkoppeling<'a> {
    /// Party reference of the receiver, e.g. `AGB:03123456`.
    pub recipient: &'a str,
    pub event_type: &'a str,
    /// FIFO key: terugkoppelingen with one subject are delivered in `id` order.
    pub subject_id: &'a str,
    /// The JSON body (format-independent; SOAP is rendered from it).
    pub payload: serde_json::Value,
}

#[derive(Insertable)]
#[diesel(table_name = terugkoppelingen)]
struct Row<'a> {
    public_id: &'a str,
    recipient: &'a str,
    event_type: &'a str,
    subject_id: &'a str,
    payload: &'a str,
    created_at: NaiveDateTime,
}

/// Writes a terugkoppeling; call inside the transaction of the change.
/// Returns its public id.
pub fn enqueue(conn: &mut DbConnection, t: &NewTerugkoppeling<'_>) -> Result<String, DbError> {
    let public_id = crate::ids::new("TK")
        .map_err(|e| DbError::Invalid(format!("no randomness for an id: {e}")))?;
    let payload = serde_json::to_string(&t.payload)
        .map_err(|e| DbError::Invalid(format!("terugkoppeling payload: {e}")))?;
    diesel::insert_into(terugkoppelingen::table)
        .values(&Row {
            public_id: &public_id,
            recipient: t.recipient,
            event_type: t.event_type,
            subject_id: t.subject_id,
            payload: &payload,
            created_at: now(),
        })
        .execute(conn)?;
    crate::db::on_commit(announce);
    Ok(public_id)
}
