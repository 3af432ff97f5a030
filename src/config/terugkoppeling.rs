//! The `[terugkoppeling]` section: callback registration rules (SSRF
//! allow-list, secret rotation grace) and the dispatcher (client certificate,
//! timeouts, retry schedule, leases, concurrency).

use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerugkoppelingConfig {
    /// Run the dispatcher in this instance.
    pub dispatcher: bool,
    /// The platform's client certificate (PEM) and key presented on every callback.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub connect_timeout: String,
    pub timeout: String,
    /// Delay before each attempt; its length is the number of attempts.
    pub retry_schedule: Vec<String>,
    /// Relative jitter applied to each delay (0.2 = ±20 %).
    pub jitter: f64,
    pub concurrency_per_endpoint: usize,
    /// Deliveries leased per round.
    pub batch_size: i64,
    pub poll_interval: String,
    /// How long a lease protects a delivery; must exceed `timeout`.
    pub lease: String,
    /// An endpoint with only failures for this long is disabled.
    pub disable_after: String,
    /// How long the previous secret keeps signing after a rotation.
    pub secret_grace: String,
    /// Networks callbacks may resolve into even though they are loopback,
    /// private or link-local (CIDR).
    pub toegestane_netwerken: Vec<IpNet>,
    /// Receiver checks (docs/callbacks.md §10) a party may ask for per hour.
    pub controles_per_uur: i64,
}

/// The section with every duration parsed.
#[derive(Debug, Clone)]
pub struct Timing {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub retry_schedule: Vec<Duration>,
    pub poll_interval: Duration,
    pub lease: Duration,
    pub disable_after: Duration,
    pub secret_grace: Duration,
}

impl TerugkoppelingConfig {
    /// Parsed durations; [`validate`](Self::validate) guarantees this succeeds
    /// for a loaded configuration.
    pub fn timing(&self) -> Result<Timing, ConfigError> {
        let d = |key: &'static str, v: &str| {
            parse_duration(v).map_err(|message| ConfigError::Invalid { key, message })
        };
        let retry_schedule = self
            .retry_schedule
            .iter()
            .map(|v| d("terugkoppeling.retry_schedule", v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Timing {
            connect_timeout: d("terugkoppeling.connect_timeout", &self.connect_timeout)?,
            timeout: d("terugkoppeling.timeout", &self.timeout)?,
            retry_schedule,
            poll_interval: d("terugkoppeling.poll_interval", &self.poll_interval)?,
            lease: d("terugkoppeling.lease", &self.lease)?,
            disable_after: d("terugkoppeling.disable_after", &self.disable_after)?,
            secret_grace: d("terugkoppeling.secret_grace", &self.secret_grace)?,
        })
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        let t = self.timing()?;
        if t.retry_schedule.is_empty() {
            return invalid("terugkoppeling.retry_schedule", "needs at least one entry");
        }
        if !(0.0..1.0).contains(&self.jitter) {
            return invalid("terugkoppeling.jitter", "must be at least 0 and below 1");
        }
        if self.concurrency_per_endpoint == 0 {
            return invalid(
                "terugkoppeling.concurrency_per_endpoint",
                "must be at least 1",
            );
        }
        if self.batch_size < 1 {
            return invalid("terugkoppeling.batch_size", "must be at least 1");
        }
        if t.timeout.is_zero() || t.connect_timeout.is_zero() {
            return invalid("terugkoppeling.timeout", "timeouts must be above zero");
        }
        if self.controles_per_uur < 0 {
            return invalid("terugkoppeling.controles_per_uur", "must be 0 or more");
        }
        if t.poll_interval.is_zero() {
            return invalid("terugkoppeling.poll_interval", "must be above zero");
        }
        // A lease shorter than a send would let a second instance take the
        // delivery while the first is still sending it.
        if t.lease <= t.timeout {
            return invalid(
                "terugkoppeling.lease",
                "must be longer than terugkoppeling.timeout",
            );
        }
        Ok(())
    }
}

/// `"250ms"`, `"5s"`, `"30m"`, `"2h"`, `"1d"`: a number and a unit.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("'{s}' lacks a unit (ms, s, m, h, d)"))?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' does not start with a whole number"))?;
    let ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("'{s}': unit must be ms, s, m, h or d")),
    };
    n.checked_mul(ms)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("'{s}' is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("200ms").unwrap(), Duration::from_millis(200));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("s").is_err());
    }
}
