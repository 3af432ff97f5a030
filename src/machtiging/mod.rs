//! Machtigingsaanvragen: the domain model ([`model`]), the state machine as
//! a table ([`lifecycle`]), the
//! JVC business checks ([`jvc`]) and the catalog's automatic rules
//! ([`rules`]), reading the XML ([`xml`]), storage ([`store`]), what every
//! change writes alongside (history, inbox, terugkoppeling: [`change`]) and
//! the operations both doors call ([`service`] for commands, [`query`] for
//! reads).

pub mod change;
pub mod intake;
pub mod jvc;
pub mod lifecycle;
pub mod model;
pub mod query;
pub mod rules;
pub mod service;
pub mod store;
pub mod xml;
