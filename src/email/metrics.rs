//! E-mail metrics in the process-wide registry: mails sent, attempts failed,
//! mails given up (dead letters). The queue by state is a database-wide gauge
//! of each scrape (`email_berichten`, `ops::state`).

use std::sync::OnceLock;

use prometheus::IntCounter;

pub struct EmailMetrics {
    pub sent: IntCounter,
    pub failed: IntCounter,
    pub dead: IntCounter,
}

pub fn get() -> &'static EmailMetrics {
    static M: OnceLock<EmailMetrics> = OnceLock::new();
    M.get_or_init(|| {
        let c = |name: &str, help: &str| {
            IntCounter::new(name, help).unwrap_or_else(|e| panic!("metric definition: {e}"))
        };
        let m = EmailMetrics {
            sent: c("email_sent_total", "E-mails accepted by the SMTP relay"),
            failed: c("email_failed_total", "E-mail attempts that failed"),
            dead: c("email_dead_total", "E-mails given up (dead letter)"),
        };
        for c in [
            Box::new(m.sent.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(m.failed.clone()),
            Box::new(m.dead.clone()),
        ] {
            crate::metrics::register(c);
        }
        m
    })
}
