//! machtigingen: an exchange for Dutch prior-authorization requests
//! (machtigingsaanvragen) between care providers' software and insurers, over
//! mutual TLS with registered system certificates.
//!
//! The request pipeline: transport ([`http`], [`rest`], [`soap`], [`portal`]) → identity
//! ([`identity`], against the [`registry`]) → validation → domain → store
//! ([`db`]) → outbox/dispatch. See `docs/architecture.md`.

pub mod app;
pub mod audit;
pub mod beheer;
pub mod beoordeling;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod contract;
pub mod db;
pub mod devsetup;
pub mod dispatch;
pub mod email;
pub mod error;
pub mod formtoken;
pub mod http;
pub mod identity;
pub mod ids;
pub mod json_time;
pub mod machtiging;
pub mod metrics;
pub mod ops;
pub mod optin;
pub mod outbox;
pub mod pki;
pub mod portal;
pub mod problem;
pub mod receiver;
pub mod registry;
pub mod rest;
pub mod retention;
pub mod soap;
pub mod state;
pub mod telemetry;
pub mod tls;
pub mod validation;
