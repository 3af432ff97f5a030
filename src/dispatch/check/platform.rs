//! The receiver check run by the platform for a provider's contact person
//! (`terugkoppeling:beheren`) against the party's registered callback: the
//! same SSRF rule as every delivery (resolve, check, connect to that address),
//! the platform's client certificate, at most
//! `terugkoppeling.controles_per_uur` runs per party per hour (`TKP-006`),
//! each run stored (`terugkoppeling_controles`) and audited. The REST and SOAP
//! doors call [`run`], [`list`] and [`get`].

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use super::{Report, Target};
use crate::audit;
use crate::config::Config;
use crate::db::schema::terugkoppeling_controles as tc;
use crate::db::{Db, DbConnection, DbError, now};
use crate::dispatch::render::Format;
use crate::dispatch::ssrf;
use crate::dispatch::{endpoints, transport};
// The same refusal as registering or changing a callback without one.
use crate::dispatch::registration::no_subscription;
use crate::error::{Code, Refusal};
use crate::identity::Caller;
use crate::ids::{CheckId, Requested};

pub const LOPEND: &str = "lopend";
pub const GESLAAGD: &str = "geslaagd";
pub const NIET_GESLAAGD: &str = "niet-geslaagd";
/// The check could not run (e.g. the host no longer passes the SSRF rule).
pub const FOUT: &str = "fout";

/// Reports kept readable per party (newest first).
pub const LIST_LIMIT: i64 = 20;

/// Why a check is refused or cannot run: the same three reasons as a
/// registration (a refusal, a callback address that no longer passes the SSRF
/// rule, the store), so one type and one mapping to the wire.
pub type CheckError = crate::dispatch::registration::RegistrationError;

/// One stored run.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tc)]
pub struct Stored {
    pub id: i64,
    #[diesel(deserialize_as = String)]
    pub public_id: CheckId,
    pub party: String,
    pub url: String,
    pub format: String,
    pub status: String,
    pub report: Option<String>,
    pub error: Option<String>,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

impl Stored {
    pub fn report(&self) -> Option<Report> {
        self.report
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
    }
}

/// Starts a run: refused when the party used its hourly runs (counting runs
/// in progress), else stored as `lopend`. One write transaction, so two
/// requests cannot both take the last run: SQLite has one writer; on
/// PostgreSQL a transaction-scoped advisory lock per party makes the second
/// wait and then count the first one's row.
fn start(
    conn: &mut DbConnection,
    party: &str,
    url: &str,
    format: &str,
    limit: i64,
    at: NaiveDateTime,
) -> Result<CheckId, CheckError> {
    if let DbConnection::Pg(c) = conn {
        diesel::sql_query(
            "SELECT pg_advisory_xact_lock(hashtext('terugkoppeling_controles:' || $1))",
        )
        .bind::<diesel::sql_types::Text, _>(party)
        .execute(c)?;
    }
    let window = at - TimeDelta::hours(1);
    let recent: Vec<NaiveDateTime> = tc::table
        .filter(tc::party.eq(party))
        .filter(tc::started_at.gt(window))
        .order(tc::started_at.asc())
        .select(tc::started_at)
        .load(conn)?;
    if recent.len() as i64 >= limit {
        let next = recent
            .first()
            .map(|t| *t + TimeDelta::hours(1))
            .unwrap_or(at);
        return Err(Refusal::new(
            Code::CheckRateLimited,
            format!(
                "Ten hoogste {limit} ontvangercontroles per uur; de volgende kan vanaf {}.",
                crate::dispatch::render::timestamp(next)
            ),
        )
        .into());
    }
    let id = CheckId::for_request()?;
    diesel::insert_into(tc::table)
        .values((
            tc::public_id.eq(id.as_str()),
            tc::party.eq(party),
            tc::url.eq(url),
            tc::format.eq(format),
            tc::status.eq(LOPEND),
            tc::started_at.eq(at),
        ))
        .execute(conn)?;
    Ok(id)
}

fn finish(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &CheckId,
    outcome: &Result<Report, String>,
) -> Result<(), DbError> {
    let (status, report, error) = match outcome {
        Ok(r) => (
            if r.geslaagd { GESLAAGD } else { NIET_GESLAAGD },
            serde_json::to_string(r).ok(),
            None,
        ),
        Err(e) => (FOUT, None, Some(e.clone())),
    };
    diesel::update(tc::table.filter(tc::public_id.eq(id.as_str())))
        .set((
            tc::status.eq(status),
            tc::report.eq(&report),
            tc::error.eq(&error),
            tc::finished_at.eq(Some(now())),
        ))
        .execute(conn)?;
    let failures = outcome.as_ref().map(|r| r.failures()).unwrap_or_default();
    audit::ByCaller {
        caller,
        object_type: "terugkoppeling_controle",
        acting_for: None,
    }
    .record(
        conn,
        "terugkoppeling.controleren",
        Some(id.as_str()),
        "ok",
        serde_json::json!({ "status": status, "nietGeslaagd": failures }),
    )
}

/// Runs the check against the caller's registered callback and stores it.
pub async fn run(db: &Db, config: &Config, caller: &Caller) -> Result<Stored, CheckError> {
    let party = caller.party().reference.to_string();
    let p = party.clone();
    let endpoint = db
        .run(move |c| endpoints::find(c, &p))
        .await?
        .ok_or_else(no_subscription)?;
    let c = &config.terugkoppeling;
    if c.controles_per_uur == 0 {
        return Err(Refusal::new(
            Code::CheckRateLimited,
            "Ontvangercontroles zijn op dit platform uitgeschakeld (terugkoppeling.controles_per_uur = 0).",
        )
        .into());
    }
    let timing = c.timing().map_err(|e| {
        tracing::error!(error = %e, "terugkoppeling timing");
        Refusal::internal("Interne fout.")
    })?;
    let identity = transport::load_identity(c).map_err(|e| {
        tracing::error!(error = %e, "receiver check: no platform client certificate");
        Refusal::internal(
            "Het platform kan nu geen terugkoppelingen versturen (clientcertificaat).",
        )
    })?;
    let url = ssrf::parse_url(&endpoint.url)?;
    let address = ssrf::resolve(&url, &c.toegestane_netwerken).await?;
    let (p, u, f, limit) = (
        party.clone(),
        endpoint.url.clone(),
        endpoint.format.clone(),
        c.controles_per_uur,
    );
    let id = db
        .write(move |conn| start(conn, &p, &u, &f, limit, now()))
        .await?;
    let target = Target {
        url,
        format: Format::parse(&endpoint.format).unwrap_or(Format::Json),
        secrets: endpoint.signing_secrets(now()),
        party: party.clone(),
        identity,
        ca_bundle: endpoint.ca_bundle.clone(),
        address: Some(address),
        connect_timeout: timing.connect_timeout,
        timeout: timing.timeout,
    };
    let (db2, c2, id2) = (db.clone(), caller.clone(), id.clone());
    // On a task of its own: a caller that hangs up mid-run still gets its
    // report stored, rather than a run left `lopend`.
    let task = tokio::spawn(async move {
        let outcome = super::run(&target).await;
        db2.write(move |conn| finish(conn, &c2, &id2, &outcome))
            .await
    });
    match task.await {
        Ok(recorded) => recorded?,
        Err(e) => {
            tracing::error!(error = %e, controle = %id, "receiver check task failed");
            return Err(Refusal::internal("Interne fout.").into());
        }
    }
    get(db, caller, &Requested::Valid(id)).await
}

/// The party's stored runs, newest first.
pub async fn list(db: &Db, caller: &Caller) -> Result<Vec<Stored>, CheckError> {
    let party = caller.party().reference.to_string();
    Ok(db
        .run(move |c| -> Result<Vec<Stored>, DbError> {
            Ok(tc::table
                .filter(tc::party.eq(&party))
                .order((tc::started_at.desc(), tc::id.desc()))
                .limit(LIST_LIMIT)
                .select(Stored::as_select())
                .load(c)?)
        })
        .await?)
}

/// One stored run of the caller's party.
pub async fn get(db: &Db, caller: &Caller, id: &Requested<CheckId>) -> Result<Stored, CheckError> {
    let party = caller.party().reference.to_string();
    let id = id.valid().cloned();
    db.run(move |c| -> Result<Option<Stored>, DbError> {
        // A malformed id names no run: not found, as an unknown one.
        let Some(id) = id else {
            return Ok(None);
        };
        Ok(tc::table
            .filter(tc::public_id.eq(id.as_str()))
            .filter(tc::party.eq(&party))
            .select(Stored::as_select())
            .first(c)
            .optional()?)
    })
    .await?
    .ok_or_else(|| Refusal::new(Code::NotFound, "Geen ontvangercontrole met dit id.").into())
}
