//! The outbox of terugkoppelingen (feedback to care providers, insurers and
//! portals).
//!
//! The domain records what happened as an [`Event`] with [`record`], inside
//! the same database transaction as the change that caused it, so a
//! committed change always has its terugkoppeling and a rolled-back one
//! never does. Nothing is sent from inside that transaction: delivery (push
//! and pull) reads this table later. The row's `id` orders terugkoppelingen;
//! `public_id` is the stable identity receivers deduplicate on
//! (`webhook-id`).
//!
//! Who receives an event is not the domain's concern: it names the party the
//! event is for; a kind that is only ever pushed is not stored for a party
//! without a subscription to it ([`kinds::EventKind::push_only`]), and the
//! dispatcher's fan-out makes one delivery per subscribed endpoint.
//!
//! Once such a transaction has committed, dispatchers in this process are
//! woken ([`subscribe`]) instead of finding the row at their next poll.

//!
//! Shaped like the domain folders: `event` is the model (the typed events,
//! versioned for the wire), `kinds` who may read which kind, `store` the
//! table.

pub mod event;
pub mod kinds;
pub mod store;

use std::sync::LazyLock;

use tokio::sync::watch;

pub use event::{Event, MACHTIGING_INBOX, MACHTIGING_STATUS, OPTIN_REGISTRATIE, OPTIN_STATUS};
pub use store::record;

/// Bumped after every commit that wrote a terugkoppeling.
static WRITTEN: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::channel(0).0);

/// Changes after each commit that wrote terugkoppelingen in this process.
pub fn subscribe() -> watch::Receiver<u64> {
    WRITTEN.subscribe()
}

fn announce() {
    WRITTEN.send_modify(|n| *n = n.wrapping_add(1));
}
