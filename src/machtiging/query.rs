//! The read side of machtigingsaanvragen for providers and vendors: one
//! request with its history, searches, and the insurers' catalogs. Every
//! request read is audited (NEN 7513), so reads write an audit row too. The
//! paging of a search ([`paged`], [`page`]) is the insurer's search's too
//! (`beoordeling::zoeken`).

use serde_json::json;

use super::MachtigingError;
use super::cursor::Cursor;
use super::search::{self, Criteria, Start, Summary, TOTAL_CAP};
use super::service::{acting_for, load_visible, request_row, visibility};
use super::store::{self, Event, Record};
use crate::audit;
use crate::catalog::{self, InsurerCatalog};
use crate::db::Db;
use crate::error::{Code, Refusal};
use crate::identity::Caller;
use crate::ids::{MachtigingId, Requested};
use crate::registry::{IdScheme, Scope, store as registry};

#[derive(Debug, Clone)]
pub struct Details {
    pub record: Record,
    pub history: Vec<Event>,
}

/// How a search asks for its page.
#[derive(Debug, Clone, Default)]
pub struct Paging {
    /// Results per page: 1–100, 20 when absent or not positive.
    pub size: Option<i64>,
    /// The `vervolg` token of the previous page.
    pub token: Option<String>,
    /// The deprecated page number (1-based), for clients from before the
    /// token; only within the first [`TOTAL_CAP`] results.
    pub page: Option<i64>,
}

/// One page of a search.
#[derive(Debug, Clone)]
pub struct Page {
    /// The number of matches, exact up to [`TOTAL_CAP`]; with
    /// `total_is_minimum` there are more than that.
    pub total: i64,
    pub total_is_minimum: bool,
    pub page: i64,
    pub page_size: i64,
    pub items: Vec<Summary>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<String>,
}

/// `RaadplegenMachtigingsaanvraag`: status, history and decision.
pub async fn get(
    db: &Db,
    caller: Caller,
    id: Requested<MachtigingId>,
) -> Result<Details, MachtigingError> {
    caller.require(Scope::MachtigingenRaadplegen)?;
    audit::read_then_record(db, move |conn| {
        let record = load_visible(conn, &caller, &id, "machtigingsaanvraag.raadplegen")?;
        let history = store::history(conn, &record.id)?;
        let row = request_row(
            &caller,
            &record,
            "machtigingsaanvraag.raadplegen",
            json!({}),
        );
        Ok((Details { record, history }, vec![row]))
    })
    .await
}

/// One request with the document it was submitted or last saved as, for a
/// provider that changes its Concept (the portal keeps the attachments it
/// holds). Audited as a read.
pub async fn document(
    db: &Db,
    caller: Caller,
    id: Requested<MachtigingId>,
) -> Result<(Record, String), MachtigingError> {
    caller.require(Scope::MachtigingenRaadplegen)?;
    audit::read_then_record(db, move |conn| {
        let record = load_visible(conn, &caller, &id, "machtigingsaanvraag.raadplegen")?;
        let document = store::document(conn, &record.id)?;
        let row = request_row(
            &caller,
            &record,
            "machtigingsaanvraag.raadplegen",
            json!({"document": true}),
        );
        Ok(((record, document), vec![row]))
    })
    .await
}

/// `ZoekenMachtigingsaanvragen`: the caller's requests matching every
/// criterion, newest first, one page from where `paging` says. Each request
/// returned is audited as accessed.
pub async fn search(
    db: &Db,
    caller: Caller,
    criteria: Criteria,
    paging: Paging,
) -> Result<Page, MachtigingError> {
    caller.require(Scope::MachtigingenRaadplegen)?;
    let (page_no, size, start) = paged(&paging)?;
    audit::read_then_record(db, move |conn| {
        let who = visibility(&caller);
        let page = page(conn, &who, &criteria, page_no, &start, size)?;
        // An intermediary's provider from the row at hand rather than read
        // again per row.
        let shown = page
            .items
            .iter()
            .map(|r| (r.id.clone(), acting_for(&caller, &r.provider_agb)))
            .collect();
        let rows = audit::shown_rows(
            &caller,
            "machtigingsaanvraag.zoeken",
            "machtigingsaanvraag",
            shown,
        );
        Ok((page, rows))
    })
    .await
}

/// The page number, page size and start that `paging` asks for: what a
/// provider's and an insurer's search both read their page with.
pub fn paged(paging: &Paging) -> Result<(i64, i64, Start), Refusal> {
    let size = match paging.size {
        Some(n) if n > 0 => n.min(100),
        _ => 20,
    };
    let (page, start) = start(paging, size)?;
    Ok((page, size, start))
}

/// Page `page_no` of what `who` sees matching `criteria`, from `start`:
/// the items, the capped total and the `vervolg` of the next page. The
/// caller audits it.
pub fn page(
    conn: &mut crate::db::DbConnection,
    who: &search::Visibility,
    criteria: &Criteria,
    page_no: i64,
    start: &Start,
    size: i64,
) -> crate::db::DbResult<Page> {
    // One more than the page: whether there is a next page, without a count.
    let mut items = search::page(conn, who, criteria, start, size + 1)?;
    let more = items.len() > usize::try_from(size).unwrap_or(usize::MAX);
    items.truncate(usize::try_from(size).unwrap_or(usize::MAX));
    let (total, total_is_minimum) = search::count(conn, who, criteria, TOTAL_CAP)?;
    let next = match items.last() {
        Some(last) if more => Some(
            Cursor {
                page: page_no + 1,
                created_at: last.created_at,
                id: last.id.clone(),
            }
            .encode(),
        ),
        _ => None,
    };
    Ok(Page {
        total,
        total_is_minimum,
        page: page_no,
        page_size: size,
        items,
        next,
    })
}

/// The page number and where it starts: from the token, from the deprecated
/// page number (within the first [`TOTAL_CAP`] results), or the first page.
fn start(paging: &Paging, size: i64) -> Result<(i64, Start), Refusal> {
    match (&paging.token, paging.page) {
        (Some(_), Some(_)) => Err(Refusal::new(
            Code::Paging,
            "Geef vervolg of pagina, niet beide.",
        )),
        (Some(token), None) => {
            let c = Cursor::decode(token)?;
            Ok((
                c.page,
                Start::After {
                    created_at: c.created_at,
                    id: c.id,
                },
            ))
        }
        (None, Some(page)) if page > 1 => {
            let skip = (page - 1).saturating_mul(size);
            if skip >= TOTAL_CAP {
                return Err(Refusal::new(
                    Code::Paging,
                    format!(
                        "Pagina {page} begint na de eerste {TOTAL_CAP} resultaten: blader verder \
                         met vervolg uit het vorige antwoord."
                    ),
                ));
            }
            Ok((page, Start::Skip(skip)))
        }
        (None, _) => Ok((1, Start::First)),
    }
}

/// One insurer's catalog with its name, for `RaadplegenVerstrekkingen`.
#[derive(Debug, Clone)]
pub struct NamedCatalog {
    pub naam: String,
    pub catalog: InsurerCatalog,
}

/// `RaadplegenVerstrekkingen`: the catalogs of registered insurers.
pub async fn verstrekkingen(
    db: &Db,
    caller: Caller,
    uzovi: Option<String>,
) -> Result<Vec<NamedCatalog>, MachtigingError> {
    caller.require(Scope::MachtigingenRaadplegen)?;
    db.run(move |conn| {
        let codes = match uzovi {
            Some(u) => vec![u],
            None => catalog::store::insurers(conn)?,
        };
        let mut out = Vec::new();
        for code in codes {
            let reference = crate::registry::PartyRef {
                scheme: IdScheme::Uzovi,
                code: code.clone(),
            };
            let Ok(party) = registry::find_party(conn, &reference) else {
                continue;
            };
            out.push(NamedCatalog {
                naam: party.name,
                catalog: catalog::store::load(conn, &code)?,
            });
        }
        Ok(out)
    })
    .await
}
