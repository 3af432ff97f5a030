//! An endpoint's line in this instance: at most `concurrency_per_endpoint`
//! deliveries are sent at once; the rest of what a round leased for the
//! endpoint waits here and is sent as soon as a sender finishes, without
//! waiting for the next round. A delivery that waited so long that its
//! attempt could outlast its lease is given back instead of sent.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use super::lease::Leased;
use super::{Finished, LEASE_MARGIN, Shared, send};

/// An endpoint's deliveries in this instance.
#[derive(Default)]
pub(super) struct Line {
    sending: usize,
    /// Leased, not yet sent, with when the lease was taken.
    waiting: VecDeque<(Leased, Instant)>,
}

/// Sends `l` at once if its endpoint has a free slot, else puts it in the
/// endpoint's line, where the next sender to finish picks it up.
pub(super) fn start_or_line_up(shared: &Arc<Shared>, l: Leased, leased_at: Instant) {
    let start = match shared.lines.lock() {
        Ok(mut lines) => {
            let line = lines.entry(l.endpoint.id).or_default();
            if line.sending < shared.settings.per_endpoint {
                line.sending += 1;
                Some(l)
            } else {
                line.waiting.push_back((l, leased_at));
                None
            }
        }
        // Nothing to count with: send it (the lease still holds).
        Err(_) => Some(l),
    };
    if let Some(l) = start {
        tokio::spawn(work(shared.clone(), l));
    }
}

/// One sender of an endpoint: sends `first`, then whatever waits in the
/// endpoint's line, until the line is empty.
async fn work(shared: Arc<Shared>, first: Leased) {
    let mut next = Some(first);
    while let Some(l) = next.take() {
        let outcome = send(&shared, &l).await;
        let endpoint = l.endpoint.id;
        if let Ok(mut f) = shared.finished.lock() {
            f.push(Finished { leased: l, outcome });
        }
        shared.wake.notify_one();
        next = next_in_line(&shared, endpoint);
    }
}

/// The next delivery in `endpoint`'s line, or `None` (one sender fewer).
/// A delivery whose attempt could outlast its lease is not sent but given
/// back: another instance could take it over while it is in flight.
fn next_in_line(shared: &Shared, endpoint: i64) -> Option<Leased> {
    let s = shared.settings;
    let mut lines = shared.lines.lock().ok()?;
    let line = lines.get_mut(&endpoint)?;
    while let Some((l, leased_at)) = line.waiting.pop_front() {
        if leased_at.elapsed() + s.attempt + LEASE_MARGIN <= s.lease {
            return Some(l);
        }
        if let Ok(mut r) = shared.returned.lock() {
            r.push((l.delivery_id, endpoint));
        }
    }
    line.sending = line.sending.saturating_sub(1);
    if line.sending == 0 {
        lines.remove(&endpoint);
    }
    None
}

/// Frees one slot per endpoint id in `done`.
pub(super) fn release_slots(shared: &Shared, done: &[i64]) {
    if let Ok(mut map) = shared.held.lock() {
        for endpoint in done {
            if let Some(n) = map.get_mut(endpoint) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    map.remove(endpoint);
                }
            }
        }
    }
}
