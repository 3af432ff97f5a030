//! The operator's queries of the audit log (`machtigingen audit search` and
//! `audit patient`), and the audit row each of them writes about itself.
//!
//! Audit rows never carry a BSN, so a patient (BSN + geboortedatum) is first
//! resolved to the objects that concern them — their machtigingsaanvragen,
//! their opt-in registrations, and the terugkoppelingen about either — and
//! the rows about those objects are selected. What the retention purge has
//! removed can no longer be resolved: once a request is purged, the audit
//! rows about it remain (until their own period) but nothing links them to a
//! BSN any more (docs/privacy.md).

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::Bool;
use serde::Serialize;
use serde_json::json;

use super::{AuditEntry, AuditRecord, OPERATOR};
use crate::db::schema::{
    audit_log, audit_objects, machtigingsaanvragen as ma, optin_registraties as oi,
    terugkoppelingen as tk,
};
use crate::db::{DbConnection, DbResult};

/// Audit `object_type`s of the objects a patient is found by.
pub const AANVRAAG: &str = "machtigingsaanvraag";
pub const REGISTRATIE: &str = "optin_registratie";
pub const TERUGKOPPELING: &str = "terugkoppeling";

/// A patient as the operator names them. Never logged, never in an error.
#[derive(Clone)]
pub struct Patient {
    pub bsn: String,
    pub geboortedatum: NaiveDate,
}

impl std::fmt::Debug for Patient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Patient(..)")
    }
}

/// The objects that concern one patient, by audit object type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PatientObjects {
    pub aanvragen: Vec<String>,
    pub registraties: Vec<String>,
    pub terugkoppelingen: Vec<String>,
}

impl PatientObjects {
    pub fn is_empty(&self) -> bool {
        self.aanvragen.is_empty()
            && self.registraties.is_empty()
            && self.terugkoppelingen.is_empty()
    }

    /// Every id, requests first.
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.aanvragen
            .iter()
            .chain(&self.registraties)
            .chain(&self.terugkoppelingen)
    }
}

/// The patient's requests and registrations still stored, and the
/// terugkoppelingen about them still stored, with what each terugkoppeling
/// is about.
pub fn resolve(
    conn: &mut DbConnection,
    p: &Patient,
) -> DbResult<(PatientObjects, Vec<(String, String)>)> {
    let aanvragen: Vec<String> = ma::table
        .filter(ma::bsn.eq(&p.bsn))
        .filter(ma::geboortedatum.eq(p.geboortedatum))
        .select(ma::id)
        .order(ma::id)
        .load(conn)?;
    let registraties: Vec<String> = oi::table
        .filter(oi::bsn.eq(&p.bsn))
        .filter(oi::geboortedatum.eq(p.geboortedatum))
        .select(oi::id)
        .order(oi::id)
        .load(conn)?;
    let subjects: Vec<&String> = aanvragen.iter().chain(&registraties).collect();
    let about: Vec<(String, String)> = if subjects.is_empty() {
        Vec::new()
    } else {
        tk::table
            .filter(tk::subject_id.eq_any(subjects))
            .select((tk::public_id, tk::subject_id))
            .order(tk::id)
            .load(conn)?
    };
    let objects = PatientObjects {
        aanvragen,
        registraties,
        terugkoppelingen: about.iter().map(|(t, _)| t.clone()).collect(),
    };
    Ok((objects, about))
}

/// What `audit search` selects on; every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Rows about these objects only (a patient's, from [`resolve`]).
    pub objects: Option<PatientObjects>,
    /// The party that acted, or that was acted for (`AGB:…`, `UZOVI:…`).
    pub party: Option<String>,
    /// The certificate (SHA-256 fingerprint) that acted.
    pub fingerprint: Option<String>,
    pub object_id: Option<String>,
    /// An action, or a prefix of actions ending in `*`
    /// (`machtigingsaanvraag.*`).
    pub action: Option<String>,
    /// From this moment (inclusive).
    pub from: Option<NaiveDateTime>,
    /// Until this moment (exclusive).
    pub until: Option<NaiveDateTime>,
}

impl Filter {
    /// The filters as the search's own audit row records them: which were
    /// used and their values, but a patient only as the ids found for them.
    fn described(&self) -> serde_json::Value {
        json!({
            "patient": self.objects.is_some(),
            "partij": self.party,
            "certificaat": self.fingerprint,
            "object": self.object_id,
            "actie": self.action,
            "van": self.from.map(crate::json_time::format),
            "tot": self.until.map(crate::json_time::format),
        })
    }
}

/// Rows that match, oldest first, at most `limit`; and whether there were
/// more. Searched by object (a patient's, or `object_id`), a row about
/// several objects (a search page) is found by any of them and comes back
/// once per object searched for that it names, with `object_id` set to it.
pub fn search(
    conn: &mut DbConnection,
    f: &Filter,
    limit: i64,
) -> DbResult<(Vec<AuditRecord>, bool)> {
    if f.objects.is_some() || f.object_id.is_some() {
        super::index::catch_up(conn)?;
    }
    let mut q = audit_log::table
        .select(AuditRecord::as_select())
        .into_boxed();
    if let Some(objects) = &f.objects {
        if objects.is_empty() {
            return Ok((Vec::new(), false));
        }
        q = q.filter(
            audit_log::object_type
                .eq(AANVRAAG)
                .and(about_any(&objects.aanvragen))
                .or(audit_log::object_type
                    .eq(REGISTRATIE)
                    .and(about_any(&objects.registraties)))
                .or(audit_log::object_type
                    .eq(TERUGKOPPELING)
                    .and(about_any(&objects.terugkoppelingen))),
        );
    }
    if let Some(p) = &f.party {
        q = q.filter(
            audit_log::actor
                .eq(p.clone())
                .or(audit_log::acting_for.eq(p.clone())),
        );
    }
    if let Some(fp) = &f.fingerprint {
        q = q.filter(audit_log::fingerprint.eq(fp.to_ascii_lowercase()));
    }
    if let Some(id) = &f.object_id {
        q = q.filter(about_any(std::slice::from_ref(id)));
    }
    if let Some(a) = &f.action {
        q = match a.strip_suffix('*') {
            Some(prefix) => q.filter(
                audit_log::action
                    .like(format!("{}%", escape_like(prefix)))
                    .escape('\\'),
            ),
            None => q.filter(audit_log::action.eq(a.clone())),
        };
    }
    if let Some(t) = f.from {
        q = q.filter(audit_log::at.ge(t));
    }
    if let Some(t) = f.until {
        q = q.filter(audit_log::at.lt(t));
    }
    let rows: Vec<AuditRecord> = q
        .order((audit_log::at, audit_log::id))
        .limit(limit.saturating_add(1))
        .load(conn)?;
    let searched: Vec<&String> = match (&f.objects, &f.object_id) {
        (Some(o), _) => o.all().collect(),
        (None, Some(id)) => vec![id],
        (None, None) => Vec::new(),
    };
    let mut rows = per_object(conn, rows, &searched)?;
    let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    Ok((rows, more))
}

/// Rows about one of `ids`: their own, or a row naming it among several
/// (`super::index`).
fn about_any(
    ids: &[String],
) -> Box<dyn BoxableExpression<audit_log::table, crate::db::MultiBackend, SqlType = Bool>> {
    let shown_in = audit_objects::table
        .filter(audit_objects::object_id.eq_any(ids.to_vec()))
        .select(audit_objects::audit_id);
    Box::new(
        audit_log::object_id
            .eq_any(ids.to_vec())
            .or(audit_log::id.eq_any(shown_in))
            .assume_not_null(),
    )
}

/// `rows` with each row about several objects repeated once per object of
/// `searched` that it names, `object_id` set to it; nothing searched: as
/// they are.
fn per_object(
    conn: &mut DbConnection,
    rows: Vec<AuditRecord>,
    searched: &[&String],
) -> DbResult<Vec<AuditRecord>> {
    let several: Vec<i64> = rows
        .iter()
        .filter(|r| r.object_id.is_none())
        .map(|r| r.id)
        .collect();
    if searched.is_empty() || several.is_empty() {
        return Ok(rows);
    }
    let named: Vec<(i64, String)> = audit_objects::table
        .filter(audit_objects::audit_id.eq_any(several))
        .filter(audit_objects::object_id.eq_any(searched))
        .select((audit_objects::audit_id, audit_objects::object_id))
        .order((audit_objects::audit_id, audit_objects::object_id))
        .load(conn)?;
    let mut out = Vec::with_capacity(rows.len() + named.len());
    for r in rows {
        let mut objects = named.iter().filter(|(id, _)| *id == r.id).peekable();
        if r.object_id.is_some() || objects.peek().is_none() {
            out.push(r);
            continue;
        }
        for (_, object) in objects {
            let mut one = r.clone();
            one.object_id = Some(object.clone());
            out.push(one);
        }
    }
    Ok(out)
}

/// `%` and `_` in an action prefix are meant literally.
fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The operator's query of the log, on the log: `action` is `audit.zoeken`
/// or `audit.inzage` (a patient's overview). Never a BSN: a patient is
/// recorded as the object ids they were resolved to, in `detail`, so the
/// query does not show up as an access to those objects itself.
pub fn record_query(
    conn: &mut DbConnection,
    action: &str,
    f: &Filter,
    rows: usize,
) -> DbResult<()> {
    let mut detail = f.described();
    if let Some(o) = &f.objects {
        detail["objecten"] = json!(o);
    }
    detail["rijen"] = json!(rows);
    super::record(
        conn,
        &AuditEntry {
            fingerprint: None,
            actor: OPERATOR.into(),
            acting_for: None,
            action,
            object_type: "audit",
            object_id: None,
            outcome: "ok",
            detail,
        },
    )
}
