//! Gebruikersbeheer: the contact person of a party (a persoonlijk certificate
//! with `gebruikersbeheer`) manages its own party's certificates, contact
//! details and — for a provider — consent statements for software vendors.
//! Every change goes through `registry::admin` or this module's store in one
//! audited transaction; the party of the caller is the only party it can touch
//! (any other is "not found").
//!
//! Shaped like every domain folder: `service` (the commands, with their
//! error type), `store` (diesel).

pub mod service;
pub mod store;

pub use service::*;
