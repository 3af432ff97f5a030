//! The retry policy as pure functions: which delay comes before an attempt,
//! jitter around it, how a `Retry-After` header reads, and what an HTTP status
//! means for a delivery. Pure so they can be tested without a clock or network.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// What one attempt's response means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Any 2xx.
    Delivered,
    /// 410 Gone: the provider retired the endpoint; disable it.
    Gone,
    /// Everything else, including 3xx (redirects are not followed) and
    /// transport errors.
    Failed,
}

pub fn verdict(status: Option<u16>) -> Verdict {
    match status {
        Some(s) if (200..300).contains(&s) => Verdict::Delivered,
        Some(410) => Verdict::Gone,
        _ => Verdict::Failed,
    }
}

/// The delay before attempt number `attempt` (0-based), or `None` when the
/// schedule is exhausted (dead letter).
pub fn delay_before(schedule: &[Duration], attempt: usize) -> Option<Duration> {
    schedule.get(attempt).copied()
}

/// `base` spread by ±`jitter` (a fraction): `unit` in [0, 1) picks the point,
/// 0.5 is the middle. Jitter keeps many failed deliveries from retrying in lock
/// step after an outage.
pub fn jittered(base: Duration, jitter: f64, unit: f64) -> Duration {
    let unit = unit.clamp(0.0, 1.0);
    let factor = 1.0 + jitter * (2.0 * unit - 1.0);
    base.mul_f64(factor.max(0.0))
}

/// A uniformly random number in [0, 1) from OpenSSL's generator.
pub fn random_unit() -> f64 {
    let mut b = [0u8; 8];
    if openssl::rand::rand_bytes(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_be_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// The longest `Retry-After` honoured; a receiver cannot park a delivery forever.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Reads `Retry-After`: delay-seconds or an HTTP-date, capped at a day.
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let d = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = DateTime::parse_from_rfc2822(value)
            .ok()?
            .with_timezone(&Utc);
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(d.min(MAX_RETRY_AFTER))
}

/// The delay before the next attempt after a failed attempt `attempt`
/// (0-based): the schedule's next entry with jitter, but never sooner than the
/// receiver's `Retry-After`. `None`: the schedule is exhausted.
pub fn next_delay(
    schedule: &[Duration],
    attempt: usize,
    jitter: f64,
    unit: f64,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let base = delay_before(schedule, attempt + 1)?;
    let d = jittered(base, jitter, unit);
    Some(match retry_after {
        Some(r) => d.max(r),
        None => d,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|s| Duration::from_secs(*s)).collect()
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict(Some(200)), Verdict::Delivered);
        assert_eq!(verdict(Some(204)), Verdict::Delivered);
        assert_eq!(verdict(Some(299)), Verdict::Delivered);
        assert_eq!(verdict(Some(301)), Verdict::Failed);
        assert_eq!(verdict(Some(410)), Verdict::Gone);
        assert_eq!(verdict(Some(500)), Verdict::Failed);
        assert_eq!(verdict(None), Verdict::Failed);
    }

    #[test]
    fn schedule_walks_then_exhausts() {
        let sched = s(&[0, 5, 300]);
        assert_eq!(delay_before(&sched, 0), Some(Duration::ZERO));
        assert_eq!(
            next_delay(&sched, 0, 0.0, 0.5, None),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            next_delay(&sched, 1, 0.0, 0.5, None),
            Some(Duration::from_secs(300))
        );
        assert_eq!(next_delay(&sched, 2, 0.0, 0.5, None), None);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let base = Duration::from_secs(100);
        assert_eq!(jittered(base, 0.2, 0.0), Duration::from_secs(80));
        assert_eq!(jittered(base, 0.2, 0.5), Duration::from_secs(100));
        assert!(jittered(base, 0.2, 0.999_999) <= Duration::from_secs(120));
        assert_eq!(jittered(Duration::ZERO, 0.2, 0.9), Duration::ZERO);
        for _ in 0..1000 {
            let d = jittered(base, 0.2, random_unit());
            assert!(d >= Duration::from_secs(80) && d <= Duration::from_secs(120));
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Thu, 01 Jan 2026 00:01:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            retry_after("Wed, 31 Dec 2025 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("999999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn retry_after_wins_over_a_shorter_schedule() {
        let sched = s(&[0, 1, 1]);
        let d = next_delay(&sched, 0, 0.2, 0.5, Some(Duration::from_secs(30)));
        assert_eq!(d, Some(Duration::from_secs(30)));
        let d = next_delay(&sched, 0, 0.0, 0.5, Some(Duration::from_millis(10)));
        assert_eq!(d, Some(Duration::from_secs(1)));
    }
}
