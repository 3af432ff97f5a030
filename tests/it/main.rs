//! The integration suite: one binary, a real server per test (random ports, real
//! mutual TLS, the project's own PKI), on SQLite or — with
//! `MACHTIGINGEN_TEST_DATABASE_URL=postgres://…` — PostgreSQL.

#![allow(clippy::unwrap_used)]

mod access_feedback;
mod access_matrix;
mod access_parties;
mod architecture;
mod audit_chain;
mod audit_log;
mod beheer;
mod beoordeling;
mod cli;
mod cli_ops;
mod contract;
mod crash;
mod email;
mod examples;
mod fixtures;
mod group_commit;
mod herziening;
mod hostile;
mod identity;
mod insurer_search;
mod intermediary;
mod jvc;
mod lifecycle;
mod load;
mod logging;
mod offline_ca;
mod ops;
mod optin;
mod outage;
mod outbox_notify;
mod persons;
mod portal;
mod portal_aanvraag;
mod portal_aanvullen;
mod portal_beoordeling;
mod portal_certificaten;
mod portal_csr_upload;
mod portal_optin;
mod portal_terugkoppeling;
mod query_plans;
mod readme;
mod receiver_check;
mod receiver_dedup;
mod registry;
mod rest_machtigingen;
mod retention;
mod retention_outbox;
mod rotation;
mod schema_dir;
mod schema_parity;
mod search_paging;
mod snapshots;
mod soap_machtigingen;
mod stored_document;
mod support;
mod terugkoppeling;
mod terugkoppeling_dispatch;
mod terugkoppeling_support;
mod typed_ids;
