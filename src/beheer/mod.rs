//! Gebruikersbeheer: the contact person of a party (a persoonlijk certificate
//! with `gebruikersbeheer`) manages its own party's certificates, contact
//! details and — for a provider — consent statements for software vendors.
//! Every change goes through `registry::admin` or this module's store in one
//! audited transaction; the party of the caller is the only party it can touch
//! (any other is "not found").
//!
//! Shaped like every domain folder: `service` (the commands, with their
//! error type), `store` (diesel), and `persons` (who the contact person is,
//! for every holder; the operator's change of contact person).

pub mod persons;
pub mod service;
pub mod store;

pub use persons::{ContactPerson, contact_person};
pub use service::*;
