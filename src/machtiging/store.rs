//! Persistence of machtigingsaanvragen, their event history and the insurers'
//! inbox. Rows stay here; the service gets [`Record`]s. Listing queries never
//! select the `document` column (it may hold 27 MB of attachments).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{Aanvraag, Beslissing, Status, StoredForm, Vraag};
use crate::db::schema::{insurer_inbox, machtiging_events, machtigingsaanvragen as ma};
use crate::db::{DbConnection, DbError, DbResult, now};
use crate::ids::MachtigingId;
use crate::outbox::{self, store::Pending};
use crate::registry::PartyRef;

/// A stored request without its XML document.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: MachtigingId,
    pub provider_agb: String,
    pub submitter: String,
    pub uzovi: String,
    pub referentie: String,
    pub content_hash: String,
    pub status: Status,
    pub aanvraag: Aanvraag,
    pub open_vragen: Vec<Vraag>,
    pub beslissing: Option<Beslissing>,
    pub machtigingsnummer: Option<String>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub submitted_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = ma)]
struct Row {
    id: String,
    provider_agb: String,
    submitter: String,
    uzovi: String,
    referentie: String,
    content_hash: String,
    status: String,
    aanvraag: String,
    open_vragen: Option<String>,
    beslissing: Option<String>,
    machtigingsnummer: Option<String>,
    version: i32,
    created_at: NaiveDateTime,
    submitted_at: Option<NaiveDateTime>,
    updated_at: NaiveDateTime,
}

fn corrupt(what: &str) -> DbError {
    DbError::Invalid(format!("stored machtigingsaanvraag: {what}"))
}

impl TryFrom<Row> for Record {
    type Error = DbError;
    fn try_from(r: Row) -> DbResult<Self> {
        Ok(Record {
            status: Status::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            aanvraag: serde_json::from_str(&r.aanvraag).map_err(|_| corrupt("aanvraag"))?,
            open_vragen: match r.open_vragen {
                Some(v) => serde_json::from_str(&v).map_err(|_| corrupt("open_vragen"))?,
                None => Vec::new(),
            },
            beslissing: r
                .beslissing
                .map(|b| serde_json::from_str(&b).map_err(|_| corrupt("beslissing")))
                .transpose()?,
            id: r.id.parse()?,
            provider_agb: r.provider_agb,
            submitter: r.submitter,
            uzovi: r.uzovi,
            referentie: r.referentie,
            content_hash: r.content_hash,
            machtigingsnummer: r.machtigingsnummer,
            version: r.version,
            created_at: r.created_at,
            submitted_at: r.submitted_at,
            updated_at: r.updated_at,
        })
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// A new request as the service decided it.
pub struct NewRecord<'a> {
    pub id: &'a MachtigingId,
    pub provider_agb: &'a str,
    pub submitter: &'a str,
    pub aanvraag: &'a Aanvraag,
    /// `aanvraag` serialised, with its content hash.
    pub stored: &'a StoredForm,
    pub document: &'a str,
    pub status: Status,
}

pub fn insert(conn: &mut DbConnection, n: &NewRecord<'_>) -> DbResult<()> {
    crate::db::execute(conn, request_row(n, now()))?;
    Ok(())
}

/// The insert of a new request's row.
fn request_row<'a>(
    n: &'a NewRecord<'a>,
    at: NaiveDateTime,
) -> impl diesel::query_dsl::methods::ExecuteDsl<diesel::SqliteConnection>
+ diesel::query_dsl::methods::ExecuteDsl<diesel::PgConnection>
+ diesel::query_builder::QueryFragment<diesel::pg::Pg>
+ 'a {
    let a = n.aanvraag;
    diesel::insert_into(ma::table).values((
        ma::id.eq(n.id.as_str()),
        ma::provider_agb.eq(n.provider_agb),
        ma::submitter.eq(n.submitter),
        ma::uzovi.eq(&a.uzovi),
        ma::referentie.eq(&a.referentie),
        ma::content_hash.eq(&n.stored.content_hash),
        ma::status.eq(n.status.as_str()),
        ma::grondslag.eq(a.grondslag.as_str()),
        ma::verstrekking.eq(&a.verstrekking),
        ma::bsn.eq(&a.bsn),
        ma::geboortedatum.eq(a.geboortedatum),
        ma::begindatum.eq(a.begindatum),
        ma::einddatum.eq(a.gewenste_einddatum),
        ma::aanvraag.eq(&n.stored.json),
        ma::document.eq(n.document),
        ma::version.eq(1),
        ma::created_at.eq(at),
        ma::submitted_at.eq((n.status != Status::Concept).then_some(at)),
        ma::updated_at.eq(at),
    ))
}

/// A new submission's place in the insurer's inbox: its row there and the
/// terugkoppeling that announces it (written only where the insurer
/// subscribed to its inbox).
#[derive(Clone, Copy)]
pub struct Inbox<'a> {
    pub uzovi: &'a str,
    pub action: &'a str,
    /// The announcing terugkoppeling's event.
    pub announcement: &'a outbox::Event,
}

/// A new request's row, its first history event and, when given, its row in
/// the insurer's inbox (which names that event) with its announcement;
/// returns the event's id. PostgreSQL writes them in one prepared statement
/// (`super::pg_submission`): each statement is a round trip, and a
/// submission made nine.
pub fn insert_submitted(
    conn: &mut DbConnection,
    n: &NewRecord<'_>,
    e: &NewEvent<'_>,
    inbox: Option<Inbox<'_>>,
) -> DbResult<i64> {
    match (conn, inbox) {
        (DbConnection::Pg(pg), Some(inbox)) => {
            let at = now();
            let announcement = Pending::new(&PartyRef::insurer(inbox.uzovi), inbox.announcement)?;
            let (event_id, announced) = super::pg_submission::Submitted {
                request: request_row(n, at),
                event: event_row(e),
                uzovi: inbox.uzovi,
                request_id: n.id.as_str(),
                action: inbox.action,
                status: n.status.as_str(),
                at,
                announcement: &announcement,
            }
            .run(pg)?;
            if announced {
                announcement.written();
            }
            Ok(event_id)
        }
        (conn, inbox) => {
            insert(conn, n)?;
            let event_id = add_event(conn, e)?;
            if let Some(inbox) = inbox {
                add_inbox(conn, inbox.uzovi, n.id, event_id, inbox.action, n.status)?;
                outbox::record(conn, &PartyRef::insurer(inbox.uzovi), inbox.announcement)?;
            }
            Ok(event_id)
        }
    }
}

pub fn get(conn: &mut DbConnection, id: &MachtigingId) -> DbResult<Option<Record>> {
    ma::table
        .filter(ma::id.eq(id.as_str()))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Record::try_from)
        .transpose()
}

/// The request `submitter` sent with `referentie` (the idempotency key).
pub fn by_reference(
    conn: &mut DbConnection,
    submitter: &str,
    referentie: &str,
) -> DbResult<Option<Record>> {
    ma::table
        .filter(ma::submitter.eq(submitter))
        .filter(ma::referentie.eq(referentie))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Record::try_from)
        .transpose()
}

pub fn document(conn: &mut DbConnection, id: &MachtigingId) -> DbResult<String> {
    Ok(ma::table
        .filter(ma::id.eq(id.as_str()))
        .select(ma::document)
        .first(conn)?)
}

/// Replaces the content of a request, guarded by its version.
pub fn update_content(
    conn: &mut DbConnection,
    record: &Record,
    aanvraag: &Aanvraag,
    stored: &StoredForm,
    document: &str,
    status: Status,
) -> DbResult<()> {
    let at = now();
    let n = diesel::update(
        ma::table
            .filter(ma::id.eq(record.id.as_str()))
            .filter(ma::version.eq(record.version)),
    )
    .set((
        ma::uzovi.eq(&aanvraag.uzovi),
        ma::content_hash.eq(&stored.content_hash),
        ma::status.eq(status.as_str()),
        ma::grondslag.eq(aanvraag.grondslag.as_str()),
        ma::verstrekking.eq(&aanvraag.verstrekking),
        ma::bsn.eq(&aanvraag.bsn),
        ma::geboortedatum.eq(aanvraag.geboortedatum),
        ma::begindatum.eq(aanvraag.begindatum),
        ma::einddatum.eq(aanvraag.gewenste_einddatum),
        ma::aanvraag.eq(&stored.json),
        ma::document.eq(document),
        ma::version.eq(record.version + 1),
        ma::submitted_at.eq(record
            .submitted_at
            .or((status != Status::Concept).then_some(at))),
        ma::updated_at.eq(at),
    ))
    .execute(conn)?;
    if n == 1 {
        Ok(())
    } else {
        Err(DbError::Conflict("concurrent change".into()))
    }
}

/// What a status change writes besides the status.
#[derive(Debug, Default)]
pub struct StatusChange<'a> {
    pub open_vragen: Option<&'a [Vraag]>,
    pub beslissing: Option<&'a Beslissing>,
}

/// Sets a new status on version `version` of request `id`, guarded by it.
pub fn set_status(
    conn: &mut DbConnection,
    id: &MachtigingId,
    version: i32,
    status: Status,
    change: StatusChange<'_>,
) -> DbResult<()> {
    let at = now();
    let open = change
        .open_vragen
        .map(|v| if v.is_empty() { None } else { Some(json(&v)) });
    let target = ma::table
        .filter(ma::id.eq(id.as_str()))
        .filter(ma::version.eq(version));
    let n = match (open, change.beslissing) {
        (open, Some(b)) => diesel::update(target)
            .set((
                ma::status.eq(status.as_str()),
                ma::open_vragen.eq(open.flatten()),
                ma::beslissing.eq(Some(json(b))),
                ma::machtigingsnummer.eq(&b.machtigingsnummer),
                ma::geldig_van.eq(b.geldig_van),
                ma::geldig_tot.eq(b.geldig_tot),
                ma::version.eq(version + 1),
                ma::updated_at.eq(at),
            ))
            .execute(conn)?,
        (Some(open), None) => diesel::update(target)
            .set((
                ma::status.eq(status.as_str()),
                ma::open_vragen.eq(open),
                ma::version.eq(version + 1),
                ma::updated_at.eq(at),
            ))
            .execute(conn)?,
        (None, None) => diesel::update(target)
            .set((
                ma::status.eq(status.as_str()),
                ma::version.eq(version + 1),
                ma::updated_at.eq(at),
            ))
            .execute(conn)?,
    };
    if n == 1 {
        Ok(())
    } else {
        Err(DbError::Conflict("concurrent change".into()))
    }
}

/// Whether this insurer already gave a machtiging this Machtigingsnummer.
pub fn number_taken(conn: &mut DbConnection, uzovi: &str, number: &str) -> DbResult<bool> {
    let found: Option<String> = ma::table
        .filter(ma::uzovi.eq(uzovi))
        .filter(ma::machtigingsnummer.eq(number))
        .select(ma::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

/// One entry of a request's history.
#[derive(Debug, Clone, Queryable)]
pub struct Event {
    pub id: i64,
    pub at: NaiveDateTime,
    pub action: String,
    pub status: String,
    pub actor: String,
    pub detail: String,
}

pub struct NewEvent<'a> {
    pub request_id: &'a MachtigingId,
    pub action: &'a str,
    pub status: Status,
    pub actor: &'a str,
    pub fingerprint: Option<&'a str>,
    pub detail: serde_json::Value,
    pub document: Option<&'a str>,
}

/// Appends to the history; returns the event id.
pub fn add_event(conn: &mut DbConnection, e: &NewEvent<'_>) -> DbResult<i64> {
    // The id comes back with the insert (a look-up less in every submission
    // and decision), on the backend's own connection (`db::execute`).
    let insert = event_row(e);
    Ok(match conn {
        DbConnection::Pg(pg) => insert.get_result(pg)?,
        DbConnection::Sqlite(c) => insert.get_result(c)?,
    })
}

/// A history event's columns as inserted.
type EventValues<'a> = (
    diesel::dsl::Eq<machtiging_events::request_id, &'a str>,
    diesel::dsl::Eq<machtiging_events::at, NaiveDateTime>,
    diesel::dsl::Eq<machtiging_events::action, &'a str>,
    diesel::dsl::Eq<machtiging_events::status, &'static str>,
    diesel::dsl::Eq<machtiging_events::actor, &'a str>,
    diesel::dsl::Eq<machtiging_events::fingerprint, Option<&'a str>>,
    diesel::dsl::Eq<machtiging_events::detail, String>,
    diesel::dsl::Eq<machtiging_events::document, Option<&'a str>>,
);

/// The insert of a history event, returning its id.
type EventInsert<'a> = diesel::dsl::Returning<
    diesel::dsl::Values<diesel::dsl::insert_into<machtiging_events::table>, EventValues<'a>>,
    machtiging_events::id,
>;

fn event_row<'a>(e: &'a NewEvent<'a>) -> EventInsert<'a> {
    diesel::insert_into(machtiging_events::table)
        .values((
            machtiging_events::request_id.eq(e.request_id.as_str()),
            machtiging_events::at.eq(now()),
            machtiging_events::action.eq(e.action),
            machtiging_events::status.eq(e.status.as_str()),
            machtiging_events::actor.eq(e.actor),
            machtiging_events::fingerprint.eq(e.fingerprint),
            machtiging_events::detail.eq(e.detail.to_string()),
            machtiging_events::document.eq(e.document),
        ))
        .returning(machtiging_events::id)
}

pub fn history(conn: &mut DbConnection, id: &MachtigingId) -> DbResult<Vec<Event>> {
    Ok(machtiging_events::table
        .filter(machtiging_events::request_id.eq(id.as_str()))
        .order(machtiging_events::id)
        .select((
            machtiging_events::id,
            machtiging_events::at,
            machtiging_events::action,
            machtiging_events::status,
            machtiging_events::actor,
            machtiging_events::detail,
        ))
        .load(conn)?)
}

/// The inbox row of a new or changed request (`super::change::to_inbox`
/// writes it with its terugkoppeling).
pub fn add_inbox(
    conn: &mut DbConnection,
    uzovi: &str,
    request_id: &MachtigingId,
    event_id: i64,
    action: &str,
    status: Status,
) -> DbResult<()> {
    let q = diesel::insert_into(insurer_inbox::table).values((
        insurer_inbox::uzovi.eq(uzovi),
        insurer_inbox::request_id.eq(request_id.as_str()),
        insurer_inbox::event_id.eq(event_id),
        insurer_inbox::action.eq(action),
        insurer_inbox::status.eq(status.as_str()),
        insurer_inbox::created_at.eq(now()),
    ));
    crate::db::execute(conn, q)?;
    Ok(())
}

/// A supplement (`AanvullendeInformatie`) as its event keeps it.
#[derive(Debug, Clone, Queryable)]
pub struct SupplementRow {
    pub at: NaiveDateTime,
    pub detail: String,
    pub document: Option<String>,
}

/// The supplements of request `id` in the order they were supplied, with
/// their documents (the only query that reads `machtiging_events.document`).
pub fn supplements(conn: &mut DbConnection, id: &MachtigingId) -> DbResult<Vec<SupplementRow>> {
    Ok(machtiging_events::table
        .filter(machtiging_events::request_id.eq(id.as_str()))
        .filter(machtiging_events::action.eq(super::model::Action::SupplyInformation.as_str()))
        .order(machtiging_events::id)
        .select((
            machtiging_events::at,
            machtiging_events::detail,
            machtiging_events::document,
        ))
        .load(conn)?)
}
