//! The insurer side: the inbox of new and changed requests for the caller's
//! UZOVI (pull with acknowledge), the request as submitted, decisions
//! (`VastleggenBeoordeling`) with the terugkoppeling written in the same
//! transaction (through `machtiging::change`, as the automatic decisions of
//! the catalog's rules at submission are), revisions of its grants
//! (`herziening`: revoke, shorten, extend), the search of its requests
//! (`zoeken`), one attachment with its content (`bijlage`) and the insurer's own catalog.
//! Shared by the SOAP and REST doors; the insurer sees only requests
//! addressed to its UZOVI. The operations return a [`BeoordelingError`],
//! which the doors map onto the wire (`problem`).

pub mod bijlage;
pub mod controle;
pub mod herziening;
pub mod model;
pub mod service;
pub mod store;
pub mod zoeken;

pub use model::*;
pub use service::*;

use crate::catalog::CatalogError;
use crate::db::DbError;
use crate::error::Refusal;
use crate::identity::AuthError;

/// Why an insurer's operation fails: a refusal decided here (not an insurer,
/// an invalid decision, the state machine, a number in use, another
/// insurer's catalog), a missing authorization, the catalog, or the store.
#[derive(Debug, thiserror::Error)]
pub enum BeoordelingError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// So a write transaction can return a `BeoordelingError` directly (a
/// refusal decided inside it rolls it back).
impl From<diesel::result::Error> for BeoordelingError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}
