//! The fan-out cursor: where a round starts looking for new outbox rows.
//!
//! On SQLite one writer commits outbox rows in id order, so a round can start
//! right after the last row handled. On PostgreSQL two transactions can
//! commit out of order: a row with a lower id becomes visible after a higher
//! one was already fanned out. Starting from the cursor as it was a short
//! while ago finds those rows in the next rounds instead of at the periodic
//! full rescan (which still catches transactions longer than the lag).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Cursor {
    lag: Duration,
    /// The cursor after each recent round, oldest first; only rounds of the
    /// last `lag` are kept.
    recent: VecDeque<(Instant, i64)>,
    /// The newest cursor value at least `lag` old.
    settled: i64,
}

impl Cursor {
    pub fn new(lag: Duration) -> Self {
        Self {
            lag,
            recent: VecDeque::new(),
            settled: 0,
        }
    }

    /// Where the next round starts: rows above this id may not have been seen.
    pub fn start(&mut self, now: Instant) -> i64 {
        self.expire(now);
        self.settled
    }

    /// The highest row handled, recorded after a round.
    pub fn handled(&mut self, now: Instant, upto: i64) {
        let newest = self.recent.back().map_or(self.settled, |r| r.1);
        self.recent.push_back((now, newest.max(upto)));
        self.expire(now);
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(at, value)) = self.recent.front() {
            if now.saturating_duration_since(at) < self.lag {
                break;
            }
            self.settled = self.settled.max(value);
            self.recent.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_lag_a_round_starts_after_the_last_row_handled() {
        let t = Instant::now();
        let mut c = Cursor::new(Duration::ZERO);
        assert_eq!(c.start(t), 0);
        c.handled(t, 10);
        assert_eq!(c.start(t), 10);
        c.handled(t, 7);
        assert_eq!(c.start(t), 10, "the cursor never moves back");
    }

    #[test]
    fn with_lag_a_round_starts_where_the_cursor_was_lag_ago() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let mut c = Cursor::new(ms(1000));
        c.handled(t, 10);
        c.handled(t + ms(400), 20);
        assert_eq!(c.start(t + ms(500)), 0, "nothing is a second old yet");
        assert_eq!(c.start(t + ms(1000)), 10);
        c.handled(t + ms(1100), 30);
        assert_eq!(c.start(t + ms(1399)), 10);
        assert_eq!(c.start(t + ms(1400)), 20);
        assert_eq!(c.start(t + ms(5000)), 30);
    }
}
