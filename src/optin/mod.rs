//! The opt-in service: a patient portal registers a patient's consent
//! (toestemming) for exchange over the LSP with a provider that subscribed to
//! the service; the provider fetches it (push through the outbox, or pull with
//! acknowledge), handles it (`Verwerkt` / `Afgewezen` with a reason), and the
//! portal learns the outcome. Shaped like every domain folder: `model` (the
//! types and their checks), `service` (commands), `store` (diesel), `xml`
//! (the SOAP mapping).

pub mod model;
pub mod service;
pub mod store;
pub mod xml;

pub use model::*;
