//! The purge run: the rules of [`super::Rule::ALL`] one after the other, each
//! as batches of at most `batch_size` parents, every batch its own short
//! write transaction through the db layer (on SQLite it joins the group
//! commit, so other writers wait for one batch at most, never for the run).
//! A run that stops — crash, restart, database error — has committed whole
//! batches only; the next run simply finds what is left.
//!
//! [`Run`] is the run as a state machine, one [`Run::step`] per batch, so
//! `serve` can await each batch on the blocking pool ([`run`]) and the CLI
//! can loop on its own connection ([`run_blocking`]). A dry run counts, per
//! rule and table, what a run would delete now, and changes nothing.
//!
//! Logs, metrics and the run's audit row carry counts and table names only.

use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::json;

use super::store::{self, Selection};
use super::{Counts, Policy, Rule, Table};
use crate::db::{Db, DbConnection, DbError, DbResult, write_tx};

/// How to run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Count what would go; delete nothing.
    pub dry_run: bool,
    /// Stop after this many batches that deleted rows (`None`: run to the
    /// end). Tests cut a run short with it to prove the next one continues.
    pub max_batches: Option<usize>,
    /// The actor of the run's audit row: `audit::PLATFORM` for the
    /// background purge, `audit::OPERATOR` for the command.
    pub actor: &'static str,
}

impl Options {
    pub fn new(actor: &'static str) -> Self {
        Self {
            dry_run: false,
            max_batches: None,
            actor,
        }
    }
}

/// What one rule removed (or would remove).
#[derive(Debug, Clone, Serialize)]
pub struct RuleReport {
    pub rule: &'static str,
    /// Its configuration key and period.
    pub key: &'static str,
    pub days: u32,
    /// Data that stopped being needed before this goes.
    #[serde(serialize_with = "crate::json_time::utc")]
    pub before: NaiveDateTime,
    pub rows: Counts,
}

/// What a run removed (or, dry, would remove).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub dry_run: bool,
    /// False when `max_batches` stopped the run before the end.
    pub complete: bool,
    /// Batches that deleted rows (each one write transaction).
    pub batches: usize,
    pub rules: Vec<RuleReport>,
    pub total: Counts,
}

impl Report {
    pub fn rule(&self, rule: Rule) -> Option<&RuleReport> {
        self.rules.iter().find(|r| r.rule == rule.name())
    }
}

/// One selection of a rule, in the order a run takes them.
#[derive(Debug, Clone, Copy)]
enum Stage {
    Selected(Rule, Selection),
    Terugkoppelingen,
    Audit,
}

fn stages(policy: &Policy, now: NaiveDateTime) -> Vec<Stage> {
    Rule::ALL
        .into_iter()
        .flat_map(|rule| {
            let before = policy.before(rule, now);
            match rule {
                Rule::Aanvragen => vec![
                    Stage::Selected(rule, Selection::Ended(policy.ended_before(now))),
                    Stage::Selected(rule, Selection::Closed(before)),
                ],
                Rule::OpenAanvragen => vec![Stage::Selected(rule, Selection::Abandoned(before))],
                Rule::OptinRegistraties => vec![Stage::Selected(rule, Selection::Handled(before))],
                Rule::Terugkoppelingen => vec![Stage::Terugkoppelingen],
                Rule::Audit => vec![Stage::Audit],
            }
        })
        .collect()
}

impl Stage {
    fn rule(self) -> Rule {
        match self {
            Self::Selected(rule, _) => rule,
            Self::Terugkoppelingen => Rule::Terugkoppelingen,
            Self::Audit => Rule::Audit,
        }
    }
}

/// A run in progress.
#[derive(Debug)]
pub struct Run {
    policy: Policy,
    options: Options,
    /// Every cutoff of the run is counted back from this.
    now: NaiveDateTime,
    stages: Vec<Stage>,
    /// The stage the next step works on.
    at: usize,
    /// Terugkoppelingen: the last outbox id examined.
    after: i64,
    report: Report,
}

impl Run {
    pub fn new(policy: Policy, options: Options, now: NaiveDateTime) -> Self {
        let rules = Rule::ALL
            .into_iter()
            .map(|rule| RuleReport {
                rule: rule.name(),
                key: rule.key(),
                days: policy.days(rule),
                before: policy.before(rule, now),
                rows: Counts::default(),
            })
            .collect();
        if !options.dry_run {
            // Every table's series exists from the first run on, so a rate
            // over it has a base.
            for t in Table::ALL {
                crate::metrics::purged_rows(t.name(), 0);
            }
        }
        Self {
            policy,
            options,
            now,
            stages: stages(&policy, now),
            at: 0,
            after: 0,
            report: Report {
                dry_run: options.dry_run,
                complete: true,
                batches: 0,
                rules,
                total: Counts::default(),
            },
        }
    }

    fn limit(&self) -> i64 {
        i64::from(self.policy.batch_size.max(1))
    }

    fn record(&mut self, rule: Rule, counts: &Counts) {
        if let Some(r) = self.report.rules.iter_mut().find(|r| r.rule == rule.name()) {
            r.rows.merge(counts);
        }
        self.report.total.merge(counts);
    }

    /// A committed batch: counted at once, so a run that fails later still
    /// shows what it did.
    fn committed(&mut self, rule: Rule, counts: &Counts) {
        if counts.total() == 0 {
            return;
        }
        self.report.batches += 1;
        for (t, n) in counts.nonzero() {
            crate::metrics::purged_rows(t.name(), n);
        }
        self.record(rule, counts);
    }

    /// One batch (a dry run: one whole stage, read only). Returns whether
    /// there is more to do.
    pub fn step(&mut self, conn: &mut DbConnection) -> DbResult<bool> {
        let Some(&stage) = self.stages.get(self.at) else {
            return Ok(false);
        };
        if self
            .options
            .max_batches
            .is_some_and(|max| self.report.batches >= max)
        {
            self.report.complete = false;
            return Ok(false);
        }
        let rule = stage.rule();
        let before = self.policy.before(rule, self.now);
        if self.options.dry_run {
            let counts = match stage {
                Stage::Selected(_, sel) => store::count_selected(conn, sel)?,
                Stage::Terugkoppelingen => store::count_terugkoppelingen(conn, before)?,
                Stage::Audit => {
                    let mut c = Counts::default();
                    let n = crate::audit::purge::count_purgeable(conn, before)?;
                    c.add(Table::AuditLog, usize::try_from(n).unwrap_or(usize::MAX));
                    c
                }
            };
            self.record(rule, &counts);
            self.at += 1;
            return Ok(self.at < self.stages.len());
        }
        let limit = self.limit();
        let finished = match stage {
            Stage::Selected(_, sel) => {
                let (found, counts) =
                    write_tx::<_, DbError, _>(conn, |c| store::purge_selected(c, sel, limit))?;
                self.committed(rule, &counts);
                found < usize::try_from(limit).unwrap_or(usize::MAX)
            }
            Stage::Terugkoppelingen => self.terugkoppelingen(conn, before, limit)?,
            Stage::Audit => {
                let (n, done) = write_tx::<_, DbError, _>(conn, |c| {
                    crate::audit::purge::purge(c, before, limit)
                })?;
                let mut counts = Counts::default();
                counts.add(Table::AuditLog, n);
                self.committed(rule, &counts);
                done
            }
        };
        if finished {
            self.at += 1;
            self.after = 0;
        }
        Ok(self.at < self.stages.len())
    }

    /// One window of the outbox: the terugkoppelingen in it that are done
    /// with are deleted in one transaction; a window with none costs a read
    /// only. Returns whether the outbox is done.
    fn terugkoppelingen(
        &mut self,
        conn: &mut DbConnection,
        before: NaiveDateTime,
        limit: i64,
    ) -> DbResult<bool> {
        let mut window = store::window(conn, self.after, limit)?;
        let full = i64::try_from(window.len()).unwrap_or(0) >= limit;
        // Ids grow with time: past the first row created since `before`
        // nothing can be done with long enough.
        let young = window.iter().position(|(_, at)| *at >= before);
        if let Some(i) = young {
            window.truncate(i);
        }
        let (Some(&(lo, _)), Some(&(hi, _))) = (window.first(), window.last()) else {
            return Ok(true);
        };
        self.after = hi;
        let candidates = store::done(conn, lo, hi, before)?;
        if !candidates.is_empty() {
            let counts = write_tx::<_, DbError, _>(conn, |c| {
                store::purge_terugkoppelingen(c, lo, hi, before, &candidates)
            })?;
            self.committed(Rule::Terugkoppelingen, &counts);
        }
        Ok(young.is_some() || !full)
    }

    /// Ends a run: logs its counts and, when it deleted anything, writes one
    /// audit row saying how much per table (no ids: what is gone stays gone).
    pub fn finish(self, conn: &mut DbConnection) -> DbResult<Report> {
        let r = self.report;
        for rule in &r.rules {
            for (t, n) in rule.rows.nonzero() {
                tracing::info!(
                    rule = rule.rule,
                    table = t.name(),
                    rows = n,
                    dry_run = r.dry_run,
                    "retention purge"
                );
            }
        }
        tracing::info!(
            rows = r.total.total(),
            batches = r.batches,
            complete = r.complete,
            dry_run = r.dry_run,
            "retention purge run ended"
        );
        if !r.dry_run && r.total.total() > 0 {
            let periods: serde_json::Map<String, serde_json::Value> = r
                .rules
                .iter()
                .map(|x| (x.key.to_owned(), json!(x.days)))
                .collect();
            crate::audit::record(
                conn,
                &crate::audit::AuditEntry {
                    fingerprint: None,
                    actor: self.options.actor.to_owned(),
                    acting_for: None,
                    action: "retentie.verwijderd",
                    object_type: "retentie",
                    object_id: None,
                    outcome: if r.complete { "ok" } else { "onvolledig" },
                    detail: json!({"rijen": r.total, "termijnen": periods}),
                },
            )?;
        }
        Ok(r)
    }
}

/// A whole run on one connection (the CLI, tests).
pub fn run_blocking(conn: &mut DbConnection, policy: Policy, options: Options) -> DbResult<Report> {
    let mut run = Run::new(policy, options, crate::db::now());
    let result = (|| {
        while run.step(conn)? {}
        Ok::<_, DbError>(())
    })();
    let report = result.and_then(|()| run.finish(conn));
    if !options.dry_run {
        crate::metrics::purge_run(report.is_ok());
    }
    report
}

/// A whole run for `serve`: each batch on the blocking pool, so the
/// connection is held for one batch at a time and a shutdown stops the run
/// between batches.
pub async fn run(db: &Db, policy: Policy, options: Options) -> DbResult<Report> {
    let result = async {
        let mut run = Run::new(policy, options, crate::db::now());
        loop {
            let (next, more) = db
                .run(move |c| {
                    let more = run.step(c)?;
                    Ok::<_, DbError>((run, more))
                })
                .await?;
            run = next;
            if !more {
                break;
            }
        }
        db.run(move |c| run.finish(c)).await
    }
    .await;
    if !options.dry_run {
        crate::metrics::purge_run(result.is_ok());
    }
    result
}
