//! The insurer side: the inbox of new and changed requests for the caller's
//! UZOVI (pull with acknowledge), the request as submitted, decisions
//! (`VastleggenBeoordeling`) with the terugkoppeling written in the same
//! transaction (through `machtiging::change`, as the automatic decisions of
//! the catalog's rules at submission are), the insurer's own catalog, and the
//! retention purge. Shared by the SOAP and REST doors; the insurer sees only
//! requests addressed to its UZOVI.

pub mod controle;
pub mod model;
pub mod service;
pub mod store;

pub use model::*;
pub use service::*;
