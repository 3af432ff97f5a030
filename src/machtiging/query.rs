//! The read side of machtigingsaanvragen for providers and vendors: one
//! request with its history, searches, and the insurers' catalogs. Every
//! request read is audited (NEN 7513), so reads write an audit row too.

use serde_json::json;

use super::MachtigingError;
use super::service::{audit_request, load_visible, visibility};
use super::store::{self, Criteria, Event, Record};
use crate::catalog::{self, InsurerCatalog};
use crate::db::{Db, DbError, write_tx};
use crate::identity::Caller;
use crate::ids::{MachtigingId, Requested};
use crate::registry::{IdScheme, Scope, store as registry};

#[derive(Debug, Clone)]
pub struct Details {
    pub record: Record,
    pub history: Vec<Event>,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub total: i64,
    pub page: i64,
    pub page_size: i64,
    pub items: Vec<Record>,
}

/// `RaadplegenMachtigingsaanvraag`: status, history and decision.
pub async fn get(
    db: &Db,
    caller: Caller,
    id: Requested<MachtigingId>,
) -> Result<Details, MachtigingError> {
    caller.require(Scope::MachtigingenRaadplegen)?;
    db.run(move |conn| {
        let record = load_visible(conn, &caller, &id, "machtigingsaanvraag.raadplegen")?;
        let history = store::history(conn, &record.id)?;
        audit_request(
            conn,
            &caller,
            "machtigingsaanvraag.raadplegen",
            Some(&record.id),
            "ok",
            json!({}),
        )?;
        Ok(Details { record, history })
    })
    .await
}

/// `ZoekenMachtigingsaanvragen`: the caller's requests matching every
/// criterion, newest first. Each request returned is audited as accessed.
pub async fn search(
    db: &Db,
    caller: Caller,
    mut criteria: Criteria,
) -> Result<Page, MachtigingError> {
    caller.require(Scope::MachtigingenRaadplegen)?;
    criteria.page = criteria.page.max(1);
    criteria.page_size = if criteria.page_size <= 0 {
        20
    } else {
        criteria.page_size.min(100)
    };
    db.run(move |conn| {
        let (total, items) = store::search(conn, &visibility(&caller), &criteria)?;
        write_tx(conn, |c| {
            for r in &items {
                audit_request(
                    c,
                    &caller,
                    "machtigingsaanvraag.zoeken",
                    Some(&r.id),
                    "ok",
                    json!({}),
                )?;
            }
            Ok::<_, DbError>(())
        })?;
        Ok(Page {
            total,
            page: criteria.page,
            page_size: criteria.page_size,
            items,
        })
    })
    .await
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
