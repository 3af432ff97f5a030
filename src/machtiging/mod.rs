//! Machtigingsaanvragen: the domain model ([`model`]), the state machine as
//! a table ([`lifecycle`]), the JVC business checks ([`jvc`], with what they
//! read in `checks`) and the catalog's automatic rules ([`rules`]), reading
//! the XML ([`xml`]), storage ([`store`]; searches in [`search`], paged by a
//! [`cursor`]), what every change writes alongside (history, inbox,
//! terugkoppeling: [`change`]) and the operations both doors call
//! ([`service`] for commands, [`query`] for reads). The operations return a
//! [`MachtigingError`], which the doors map onto the wire (`problem`).

pub mod aanvulling;
pub mod bijlage;
pub mod change;
mod checks;
pub mod cursor;
pub mod intake;
pub mod jvc;
pub mod lifecycle;
pub mod model;
mod pg_submission;
pub mod query;
pub mod rules;
pub mod search;
pub mod service;
pub mod store;
pub mod xml;

use crate::catalog::CatalogError;
use crate::db::DbError;
use crate::error::Refusal;
use crate::identity::AuthError;
use crate::registry::RegistryError;

/// Why an operation on machtigingsaanvragen fails: a refusal decided here
/// (JVC findings, the state machine, idempotency, visibility), or the typed
/// error of identity, the registry, the catalog or the store.
#[derive(Debug, thiserror::Error)]
pub enum MachtigingError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Db(#[from] DbError),
}
