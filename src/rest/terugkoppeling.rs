//! REST area `/api/v1/terugkoppeling`: the provider registers its callback
//! (`abonnement`), rotates the signing secret, reads the delivery log, replays
//! or recovers, and pulls terugkoppelingen with acknowledgement
//! (`OphalenTerugkoppelingen`). Only the caller's own party's data.

use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::routes::Endpoint as Route;
use crate::db::{DbError, now};
use crate::dispatch::endpoints::Endpoint;
use crate::dispatch::registration::{self, Verification};
use crate::dispatch::render::timestamp;
use crate::dispatch::{intermediary, view};
use crate::http::auth::Authenticated;
use crate::http::error::json;
use crate::identity::Caller;
use crate::outbox::Event;
use crate::problem::{Code, Problem};
use crate::registry::Scope;
use crate::state::AppState;

pub(super) fn endpoints() -> Vec<Route> {
    vec![
        Route::new(Method::PUT, "/terugkoppeling/abonnement", || {
            web::put().to(registreren)
        }),
        Route::new(Method::GET, "/terugkoppeling/abonnement", || {
            web::get().to(abonnement)
        }),
        Route::new(Method::DELETE, "/terugkoppeling/abonnement", || {
            web::delete().to(opzeggen)
        }),
        Route::new(Method::POST, "/terugkoppeling/abonnement/geheim", || {
            web::post().to(roteren)
        }),
        Route::new(Method::GET, "/terugkoppeling/berichten", || {
            web::get().to(ophalen)
        }),
        Route::new(
            Method::POST,
            "/terugkoppeling/berichten/bevestiging",
            || web::post().to(bevestigen),
        ),
        Route::new(Method::GET, "/terugkoppeling/berichten/{id}", || {
            web::get().to(bericht)
        }),
        Route::new(
            Method::POST,
            "/terugkoppeling/berichten/{id}/opnieuw",
            || web::post().to(opnieuw),
        ),
        Route::new(Method::POST, "/terugkoppeling/herstel", || {
            web::post().to(herstel)
        }),
    ]
}

fn party(caller: &Caller) -> String {
    caller.party().reference.to_string()
}

use crate::dispatch::view::require_pull;

/// A callback registration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AbonnementVerzoek {
    /// `https://` URL of the provider's webservice.
    #[schema(
        pattern = r"^https://[a-z0-9]+(\.[a-z0-9]+)*(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~-]*)*$"
    )]
    url: String,
    /// `soap` (wsdl/terugkoppeling-v1.wsdl) or `json`.
    formaat: String,
    /// PEM of the CA(s) of the provider's server certificate; default: public roots.
    #[serde(default)]
    ca_bundle: Option<String>,
    /// Event types, each readable by the registering certificate
    /// (docs/callbacks.md §7); default: every kind it may read.
    #[serde(default)]
    gebeurtenissen: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificatieJson {
    /// The `webhook-id` of the verification call (`TKV…`).
    webhook_id: String,
    geslaagd: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_status: Option<u16>,
    latentie_ms: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    fout: Option<String>,
}

impl From<Verification> for VerificatieJson {
    fn from(v: Verification) -> Self {
        Self {
            webhook_id: v.id,
            geslaagd: v.ok,
            http_status: v.http_status,
            latentie_ms: v.latency.as_millis(),
            fout: v.error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TerugkoppelingAbonnementJson {
    partij: String,
    url: String,
    formaat: String,
    gebeurtenissen: Vec<String>,
    eigen_ca: bool,
    /// `actief` or `uitgeschakeld`.
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uitgeschakeld_reden: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    mislukt_sinds: Option<String>,
    /// Only in the answer to registration and rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    geheim: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    vorig_geheim_geldig_tot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verificatie: Option<VerificatieJson>,
}

impl TerugkoppelingAbonnementJson {
    fn from(e: Endpoint, with_secret: bool) -> Self {
        let n = now();
        Self {
            gebeurtenissen: e.event_types().into_iter().map(str::to_owned).collect(),
            partij: e.party,
            url: e.url,
            formaat: e.format,
            eigen_ca: e.ca_bundle.is_some(),
            status: e.status,
            uitgeschakeld_reden: e.disabled_reason,
            mislukt_sinds: e.failing_since.map(timestamp),
            geheim: with_secret.then_some(e.secret),
            vorig_geheim_geldig_tot: e.previous_secret_until.filter(|u| *u > n).map(timestamp),
            verificatie: None,
        }
    }
}

/// Register or replace the caller's callback; sends a verification call and
/// reports its outcome. The secret is kept on a change, new on a first registration.
#[utoipa::path(put, path = "/api/v1/terugkoppeling/abonnement", tag = "terugkoppeling",
    request_body = AbonnementVerzoek,
    responses((status = 200, body = TerugkoppelingAbonnementJson), (status = 400, description = "TKP-001, TKP-003, TKP-004"),
        (status = 422, description = "TKP-002 (SSRF)")))]
async fn registreren(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    body: crate::http::json::Json<AbonnementVerzoek>,
) -> Result<HttpResponse, Problem> {
    caller.require(Scope::TerugkoppelingBeheren)?;
    let b = body.into_inner();
    let event_types = view::subscribable(&caller, b.gebeurtenissen)?;
    let (e, v) = registration::register(
        &state.db,
        &state.config,
        &caller,
        registration::Request {
            url: b.url,
            format: b.formaat,
            ca_bundle: b.ca_bundle,
            event_types,
        },
    )
    .await?;
    let mut out = TerugkoppelingAbonnementJson::from(e, true);
    out.verificatie = Some(v.into());
    Ok(json(StatusCode::OK, &out))
}

/// The caller's registration (without the secret).
#[utoipa::path(get, path = "/api/v1/terugkoppeling/abonnement", tag = "terugkoppeling",
    responses((status = 200, body = TerugkoppelingAbonnementJson), (status = 404)))]
async fn abonnement(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller.require(Scope::TerugkoppelingBeheren)?;
    let p = party(&caller);
    let e = state
        .db
        .run(move |c| crate::dispatch::endpoints::find(c, &p))
        .await?
        .ok_or_else(|| Problem::new(Code::NotFound, "Geen terugkoppelingsabonnement."))?;
    Ok(json(
        StatusCode::OK,
        &TerugkoppelingAbonnementJson::from(e, false),
    ))
}

/// Remove the registration; undelivered pushes lapse (pull still has them).
#[utoipa::path(delete, path = "/api/v1/terugkoppeling/abonnement", tag = "terugkoppeling",
    responses((status = 204), (status = 404)))]
async fn opzeggen(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller.require(Scope::TerugkoppelingBeheren)?;
    if registration::remove(&state.db, &caller).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(Problem::new(
            Code::NotFound,
            "Geen terugkoppelingsabonnement.",
        ))
    }
}

/// A new signing secret; the previous one keeps signing during the grace period.
#[utoipa::path(post, path = "/api/v1/terugkoppeling/abonnement/geheim", tag = "terugkoppeling",
    responses((status = 200, body = TerugkoppelingAbonnementJson), (status = 409, description = "TKP-005")))]
async fn roteren(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
) -> Result<HttpResponse, Problem> {
    caller.require(Scope::TerugkoppelingBeheren)?;
    let (e, until) = registration::rotate(&state.db, &state.config, &caller).await?;
    let mut out = TerugkoppelingAbonnementJson::from(e, true);
    out.vorig_geheim_geldig_tot = Some(timestamp(until));
    Ok(json(StatusCode::OK, &out))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OphalenQuery {
    /// Only after this `volgnummer` (default 0).
    na: Option<i64>,
    /// At most this many (1–500, default 100).
    max: Option<i64>,
    /// Also acknowledged ones (default false).
    alle: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BerichtJson {
    /// Position for `na`: increases with every terugkoppeling.
    volgnummer: i64,
    id: String,
    #[serde(rename = "type")]
    soort: String,
    onderwerp: String,
    #[schema(format = DateTime)]
    tijdstip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    bevestigd_op: Option<String>,
    /// The payload; absent in the delivery log for a certificate without the
    /// authorization of this kind (docs/callbacks.md §7).
    /// `null` for a stored row that does not decode (none is written so).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    data: Option<Option<Event>>,
    /// Only for a software vendor: the AGB-code of the provider whose
    /// terugkoppeling this is (docs/callbacks.md §11).
    #[serde(skip_serializing_if = "Option::is_none")]
    zorgaanbieder: Option<String>,
}

fn bericht_json(
    s: view::Stored,
    acked: Option<NaiveDateTime>,
    with_data: bool,
    reader: &str,
) -> BerichtJson {
    BerichtJson {
        zorgaanbieder: intermediary::on_behalf(&s.recipient, reader),
        volgnummer: s.id,
        data: with_data.then(|| s.event().ok()),
        id: s.public_id.into(),
        soort: s.event_type,
        onderwerp: s.subject_id,
        tijdstip: timestamp(s.created_at),
        bevestigd_op: acked.map(timestamp),
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BerichtenJson {
    berichten: Vec<BerichtJson>,
    /// Pass as `na` for the next page.
    laatste_volgnummer: Option<i64>,
}

/// Pull (OphalenTerugkoppelingen): the caller's unacknowledged terugkoppelingen
/// of the kinds its certificate may read, oldest first.
#[utoipa::path(get, path = "/api/v1/terugkoppeling/berichten", tag = "terugkoppeling",
    params(OphalenQuery), responses((status = 200, body = BerichtenJson)))]
async fn ophalen(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    q: web::Query<OphalenQuery>,
) -> Result<HttpResponse, Problem> {
    let kinds = require_pull(&caller)?;
    let mailbox = view::Mailbox::of(&caller);
    let p = party(&caller);
    let q = q.into_inner();
    let (after, limit, all) = (
        q.na.unwrap_or(0),
        q.max.unwrap_or(100).clamp(1, 500),
        q.alle.unwrap_or(false),
    );
    let rows = state
        .db
        .run(move |c| {
            let rows = view::pull(c, &mailbox, &kinds, after, limit, all)?;
            view::audit_disclosed(
                c,
                &caller,
                "terugkoppeling.ophalen",
                rows.iter().map(|r| &r.0),
            )?;
            Ok::<_, DbError>(rows)
        })
        .await?;
    let berichten: Vec<BerichtJson> = rows
        .into_iter()
        .map(|(s, a)| bericht_json(s, a, true, &p))
        .collect();
    let laatste_volgnummer = berichten.last().map(|b| b.volgnummer);
    Ok(json(
        StatusCode::OK,
        &BerichtenJson {
            berichten,
            laatste_volgnummer,
        },
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BevestigingVerzoek {
    /// Terugkoppeling ids (`TK…`), at most 1000 per call.
    #[schema(max_items = 1000)]
    ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BevestigingAntwoord {
    bevestigd: usize,
    /// Ids that are not the caller's terugkoppelingen.
    onbekend: Vec<String>,
}

/// Acknowledge pulled terugkoppelingen (idempotent).
#[utoipa::path(post, path = "/api/v1/terugkoppeling/berichten/bevestiging", tag = "terugkoppeling",
    request_body = BevestigingVerzoek, responses((status = 200, body = BevestigingAntwoord)))]
async fn bevestigen(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    body: crate::http::json::Json<BevestigingVerzoek>,
) -> Result<HttpResponse, Problem> {
    let kinds = require_pull(&caller)?;
    let ids = body.into_inner().ids;
    if ids.len() > 1000 {
        return Err(Problem::new(
            Code::BadRequest,
            "Ten hoogste 1000 ids per bevestiging.",
        ));
    }
    let mailbox = view::Mailbox::of(&caller);
    let n = ids.len();
    let ids: Vec<_> = ids.into_iter().map(Into::into).collect();
    let onbekend = state
        .db
        .run(move |c| view::acknowledge(c, &mailbox, &kinds, &ids, now()))
        .await?;
    Ok(json(
        StatusCode::OK,
        &BevestigingAntwoord {
            bevestigd: n - onbekend.len(),
            onbekend,
        },
    ))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PogingJson {
    #[schema(format = DateTime)]
    tijdstip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_status: Option<i32>,
    latentie_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    fout: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AfleveringJson {
    url: String,
    /// `wachtend`, `afgeleverd`, `dood` (dead letter) or `vervallen`.
    status: String,
    pogingen: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    volgende_poging: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    afgeleverd_op: Option<String>,
    log: Vec<PogingJson>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BerichtDetailJson {
    bericht: BerichtJson,
    afleveringen: Vec<AfleveringJson>,
}

/// One terugkoppeling with its delivery log (`terugkoppeling:beheren`); its
/// `data` only when the certificate may also read the kind.
#[utoipa::path(get, path = "/api/v1/terugkoppeling/berichten/{id}", tag = "terugkoppeling",
    params(("id" = String, Path)), responses((status = 200, body = BerichtDetailJson), (status = 404)))]
async fn bericht(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    caller.require(Scope::TerugkoppelingBeheren)?;
    let mailbox = view::Mailbox::of(&caller);
    let p = party(&caller);
    let id = id.into_inner().into();
    let scopes = caller.certificate.scopes;
    let (d, with_data) = state
        .db
        .run(move |c| {
            let d = view::detail(c, &mailbox, &id)?;
            let with_data = crate::outbox::kinds::may_read(scopes, &d.stored.event_type);
            if with_data {
                view::audit_disclosed(c, &caller, "terugkoppeling.raadplegen", [&d.stored])?;
            }
            Ok::<_, DbError>((d, with_data))
        })
        .await?;
    let afleveringen = d
        .deliveries
        .into_iter()
        .map(|a| AfleveringJson {
            url: a.endpoint_url,
            status: a.status,
            pogingen: a.attempts,
            volgende_poging: a.next_attempt_at.map(timestamp),
            afgeleverd_op: a.delivered_at.map(timestamp),
            log: a
                .log
                .into_iter()
                .map(|l| PogingJson {
                    tijdstip: timestamp(l.at),
                    http_status: l.http_status,
                    latentie_ms: l.latency_ms,
                    fout: l.error,
                })
                .collect(),
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &BerichtDetailJson {
            bericht: bericht_json(d.stored, d.acknowledged_at, with_data, &p),
            afleveringen,
        },
    ))
}

fn conflict_as_missing(e: DbError) -> Problem {
    match e {
        DbError::Conflict(_) => registration::no_subscription().into(),
        other => other.into(),
    }
}

/// Send one terugkoppeling again (also a delivered or dead one). A replay is
/// outside the FIFO order of what was already delivered.
#[utoipa::path(post, path = "/api/v1/terugkoppeling/berichten/{id}/opnieuw", tag = "terugkoppeling",
    params(("id" = String, Path)), responses((status = 202, body = IngeplandJson), (status = 404), (status = 409, description = "TKP-005")))]
async fn opnieuw(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    caller.require(Scope::TerugkoppelingBeheren)?;
    let mailbox = view::Mailbox::of(&caller);
    let id = id.into_inner().into();
    state
        .db
        .run(move |c| view::replay(c, &mailbox, &id, now()))
        .await
        .map_err(conflict_as_missing)?;
    Ok(json(StatusCode::ACCEPTED, &IngeplandJson { ingepland: 1 }))
}

/// How many terugkoppelingen were scheduled to be sent again.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngeplandJson {
    ingepland: usize,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HerstelVerzoek {
    /// UTC; dead letters of terugkoppelingen created at or after this time are sent again.
    #[serde(deserialize_with = "crate::json_time::instant")]
    sinds: NaiveDateTime,
}

/// Recover: send every dead letter since a time again.
#[utoipa::path(post, path = "/api/v1/terugkoppeling/herstel", tag = "terugkoppeling",
    request_body = HerstelVerzoek, responses((status = 202, body = IngeplandJson), (status = 409, description = "TKP-005")))]
async fn herstel(
    Authenticated(caller): Authenticated,
    state: web::Data<AppState>,
    body: crate::http::json::Json<HerstelVerzoek>,
) -> Result<HttpResponse, Problem> {
    caller.require(Scope::TerugkoppelingBeheren)?;
    let p = party(&caller);
    let since = body.into_inner().sinds;
    let n = state
        .db
        .run(move |c| view::recover(c, &p, since, now()))
        .await
        .map_err(conflict_as_missing)?;
    Ok(json(StatusCode::ACCEPTED, &IngeplandJson { ingepland: n }))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        registreren,
        abonnement,
        opzeggen,
        roteren,
        ophalen,
        bevestigen,
        bericht,
        opnieuw,
        herstel
    ),
    components(schemas(
        AbonnementVerzoek,
        TerugkoppelingAbonnementJson,
        BerichtenJson,
        BevestigingVerzoek,
        BevestigingAntwoord,
        BerichtDetailJson,
        HerstelVerzoek
    ))
)]
pub struct Api;
