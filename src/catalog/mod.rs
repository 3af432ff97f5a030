//! The verstrekkingen catalog: per insurer, what can be requested, under which
//! grondslag, by which provider types, with which questions and attachments,
//! how far back or ahead, and (optionally) automatic decision rules. It drives
//! the JVC volledigheid and consistentie checks.
//!
//! The JSON form (Dutch keys) is the same for `machtigingen catalog load FILE`
//! and for the insurer's API; see `docs/examples/catalogus.json`.
//!
//! Shaped like every domain folder: `model` (the catalog and its checks),
//! `store` (diesel).

pub mod model;
pub mod store;

pub use model::*;
