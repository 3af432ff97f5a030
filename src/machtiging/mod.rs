//! Machtigingsaanvragen: the domain model ([`model`]), the state machine as
//! a table ([`lifecycle`]), the
//! JVC business checks ([`jvc`]), reading the XML ([`xml`]), storage
//! ([`store`]) and the operations both doors call ([`service`] for commands,
//! [`query`] for reads).

pub mod intake;
pub mod jvc;
pub mod lifecycle;
pub mod model;
pub mod query;
pub mod service;
pub mod store;
pub mod xml;
