//! The registry of parties and their certificates: who may connect, as whom,
//! and with which authorizations. This module holds the rules
//! (identifier formats, which party kind may hold which authorization, the
//! implication indienen ⇒ raadplegen); `store` persists them, `consent` holds
//! the consent statements by which a software vendor acts for a provider.
//!
//! Shaped like every domain folder: `model` (the types and rules), `service`
//! (the operator's audited changes), `store` (diesel), `consent` (the
//! consent statements).

pub mod consent;
pub mod model;
pub mod service;
pub mod store;

pub use model::*;
/// The audited changes, under their former name.
pub use service as admin;
