//! Retention: how long each kind of patient data is kept, and the purge that
//! removes it once its period has passed (docs/privacy.md).
//!
//! This file is the policy: the [`Rule`]s, the tables each one empties, their
//! periods (`[retentie]`, explained in `config/default.toml`) and the order
//! they run in. `store` holds the batched selections and deletes on both
//! backends (`plans`: their query plans, for a test); `service` runs them
//! batch after batch, each batch its own short write transaction, for
//! `serve` (every `purge_interval`) and for `machtigingen purge [--dry-run]`.
//!
//! Every period runs from the moment the data stopped being needed (a
//! machtiging's end, a request's last change, a registration's handling, a
//! terugkoppeling's last delivery), never from its creation, and data still
//! in use — a request with a machtiging in force, an undelivered
//! terugkoppeling, an unhandled registration — is never a candidate.
//!
//! A batch removes its parents together with every child row in the same
//! transaction, children first, so a purge cut off anywhere (crash, restart,
//! a failing database) leaves no history, inbox entry, delivery or attempt
//! pointing at a row that is gone, and the next run continues where it
//! stopped.

pub mod plans;
pub mod service;
pub mod store;

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use crate::config::RetentieConfig;

/// A table the purge deletes from; its label in metrics and reports is the
/// table's name (a closed set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    Machtigingsaanvragen,
    MachtigingEvents,
    InsurerInbox,
    OptinRegistraties,
    Terugkoppelingen,
    TerugkoppelingDeliveries,
    TerugkoppelingAttempts,
    TerugkoppelingFanout,
    TerugkoppelingAcks,
    AuditLog,
}

impl Table {
    pub const ALL: [Table; 10] = [
        Table::Machtigingsaanvragen,
        Table::MachtigingEvents,
        Table::InsurerInbox,
        Table::OptinRegistraties,
        Table::Terugkoppelingen,
        Table::TerugkoppelingDeliveries,
        Table::TerugkoppelingAttempts,
        Table::TerugkoppelingFanout,
        Table::TerugkoppelingAcks,
        Table::AuditLog,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Machtigingsaanvragen => "machtigingsaanvragen",
            Self::MachtigingEvents => "machtiging_events",
            Self::InsurerInbox => "insurer_inbox",
            Self::OptinRegistraties => "optin_registraties",
            Self::Terugkoppelingen => "terugkoppelingen",
            Self::TerugkoppelingDeliveries => "terugkoppeling_deliveries",
            Self::TerugkoppelingAttempts => "terugkoppeling_attempts",
            Self::TerugkoppelingFanout => "terugkoppeling_fanout",
            Self::TerugkoppelingAcks => "terugkoppeling_acks",
            Self::AuditLog => "audit_log",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Rows per table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts([u64; Table::ALL.len()]);

impl Counts {
    pub fn get(&self, t: Table) -> u64 {
        self.0[t.index()]
    }

    pub fn add(&mut self, t: Table, n: usize) {
        self.0[t.index()] += u64::try_from(n).unwrap_or(u64::MAX);
    }

    pub fn merge(&mut self, other: &Counts) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The tables with at least one row, in [`Table::ALL`] order.
    pub fn nonzero(&self) -> impl Iterator<Item = (Table, u64)> + '_ {
        Table::ALL
            .into_iter()
            .map(|t| (t, self.get(t)))
            .filter(|(_, n)| *n > 0)
    }
}

impl Serialize for Counts {
    /// As `{"table": rows}` for the tables with rows.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for (t, n) in self.nonzero() {
            map.serialize_entry(t.name(), &n)?;
        }
        map.end()
    }
}

/// One retention rule: what it removes, from which tables, after how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Finished requests: the machtiging ended (geldig tot), or the request
    /// was rejected or withdrawn. With their history and inbox entries.
    Aanvragen,
    /// Requests abandoned open: a Concept never submitted, or the insurer's
    /// questions (AanvullendeInformatieGevraagd) never answered; counted
    /// from the last change. With their history and inbox entries.
    OpenAanvragen,
    /// Opt-in registrations, counted from their handling.
    OptinRegistraties,
    /// Terugkoppelingen with their deliveries, attempts, fan-out and pull
    /// acknowledgements, counted from the last delivery, dead letter or
    /// acknowledgement.
    Terugkoppelingen,
    /// The audit log, oldest first, counted from each row's own time.
    Audit,
}

impl Rule {
    /// The order of a run. No rule's rows point into another rule's tables,
    /// so the order only decides what a run cut short has done first:
    /// patient data before the audit log.
    pub const ALL: [Rule; 5] = [
        Rule::Aanvragen,
        Rule::OpenAanvragen,
        Rule::OptinRegistraties,
        Rule::Terugkoppelingen,
        Rule::Audit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Aanvragen => "aanvragen",
            Self::OpenAanvragen => "open_aanvragen",
            Self::OptinRegistraties => "optin_registraties",
            Self::Terugkoppelingen => "terugkoppelingen",
            Self::Audit => "audit",
        }
    }

    /// The configuration key of its period.
    pub fn key(self) -> &'static str {
        match self {
            Self::Aanvragen => "retentie.bewaartermijn_dagen",
            Self::OpenAanvragen => "retentie.open_aanvragen_dagen",
            Self::OptinRegistraties => "retentie.optin_dagen",
            Self::Terugkoppelingen => "retentie.terugkoppelingen_dagen",
            Self::Audit => "retentie.audit_dagen",
        }
    }

    /// The tables it deletes from, children before their parents.
    pub fn tables(self) -> &'static [Table] {
        match self {
            Self::Aanvragen | Self::OpenAanvragen => &[
                Table::InsurerInbox,
                Table::MachtigingEvents,
                Table::Machtigingsaanvragen,
            ],
            Self::OptinRegistraties => &[Table::OptinRegistraties],
            Self::Terugkoppelingen => &[
                Table::TerugkoppelingAttempts,
                Table::TerugkoppelingDeliveries,
                Table::TerugkoppelingAcks,
                Table::TerugkoppelingFanout,
                Table::Terugkoppelingen,
            ],
            Self::Audit => &[Table::AuditLog],
        }
    }
}

/// The periods in days, and the batch size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub aanvragen_dagen: u32,
    pub open_aanvragen_dagen: u32,
    pub optin_dagen: u32,
    pub terugkoppelingen_dagen: u32,
    pub audit_dagen: u32,
    pub batch_size: u32,
}

impl From<&RetentieConfig> for Policy {
    fn from(c: &RetentieConfig) -> Self {
        Self {
            aanvragen_dagen: c.bewaartermijn_dagen,
            open_aanvragen_dagen: c.open_aanvragen_dagen,
            optin_dagen: c.optin_dagen,
            terugkoppelingen_dagen: c.terugkoppelingen_dagen,
            audit_dagen: c.audit_dagen,
            batch_size: c.batch_size,
        }
    }
}

impl Policy {
    pub fn days(&self, rule: Rule) -> u32 {
        match rule {
            Rule::Aanvragen => self.aanvragen_dagen,
            Rule::OpenAanvragen => self.open_aanvragen_dagen,
            Rule::OptinRegistraties => self.optin_dagen,
            Rule::Terugkoppelingen => self.terugkoppelingen_dagen,
            Rule::Audit => self.audit_dagen,
        }
    }

    /// What a rule's clock must have passed at `now`: data that stopped
    /// being needed before this goes.
    pub fn before(&self, rule: Rule, now: NaiveDateTime) -> NaiveDateTime {
        now - chrono::Duration::days(i64::from(self.days(rule)))
    }

    /// For finished requests: a machtiging whose last valid day (geldig tot)
    /// is before this date has ended long enough ago.
    pub fn ended_before(&self, now: NaiveDateTime) -> NaiveDate {
        self.before(Rule::Aanvragen, now).date()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_belongs_to_exactly_one_rule_and_children_go_first() {
        for t in Table::ALL {
            let owners: Vec<Rule> = Rule::ALL
                .into_iter()
                .filter(|r| *r != Rule::OpenAanvragen && r.tables().contains(&t))
                .collect();
            assert_eq!(owners.len(), 1, "{t:?}: {owners:?}");
        }
        assert_eq!(
            Rule::Aanvragen.tables().last(),
            Some(&Table::Machtigingsaanvragen)
        );
        assert_eq!(
            Rule::Terugkoppelingen.tables().last(),
            Some(&Table::Terugkoppelingen)
        );
        assert_eq!(Rule::ALL.last(), Some(&Rule::Audit));
    }

    #[test]
    fn counts_serialize_as_table_names_with_rows() {
        let mut c = Counts::default();
        c.add(Table::AuditLog, 3);
        c.add(Table::InsurerInbox, 0);
        assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"audit_log":3}"#);
        assert_eq!(c.total(), 3);
    }
}
