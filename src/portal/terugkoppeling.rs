//! The party's callback registration in the portal
//! (`/portaal/beheer/terugkoppeling`, `terugkoppeling:beheren`): show,
//! register and change the endpoint, its delivery log and dead letters with
//! replay — the page the "terugkoppeling uitgeschakeld" e-mail links to.
//! Same services (`dispatch::registration`, `dispatch::view`) and audit rows
//! as `/api/v1/terugkoppeling/…`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::layout::{self, Nav};
use super::{Person, PortalError};
use crate::db::{DbError, now};
use crate::dispatch::registration::{self, Verification};
use crate::dispatch::view::{self, Delivery};
use crate::identity::Caller;
use crate::problem::Problem;
use crate::registry::Scope;
use crate::state::AppState;

const PAGE: &str = "/portaal/beheer/terugkoppeling";
/// How many recent deliveries and dead letters the page lists.
const SHOWN: i64 = 50;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/beheer/terugkoppeling", web::get().to(page))
        .route(
            "/beheer/terugkoppeling/abonnement",
            web::post().to(register),
        )
        .route(
            "/beheer/terugkoppeling/berichten/{id}/opnieuw",
            web::post().to(replay),
        );
}

/// The registration as the page shows it.
struct Registration {
    url: String,
    formaat: String,
    gebeurtenissen: String,
    eigen_ca: bool,
    status: String,
    reden: Option<String>,
    mislukt_sinds: Option<String>,
}

/// One row of the delivery log.
struct Row {
    id: String,
    soort: String,
    tijdstip: String,
    status: String,
    pogingen: i32,
    afgeleverd_op: String,
    fout: String,
}

impl From<Delivery> for Row {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.public_id,
            soort: d.event_type,
            tijdstip: layout::when(&d.created_at),
            status: d.status,
            pogingen: d.attempts,
            afgeleverd_op: d
                .delivered_at
                .as_ref()
                .map(layout::when)
                .unwrap_or_default(),
            fout: d.last_error.unwrap_or_default(),
        }
    }
}

/// What was entered in the registration form, kept on a refusal.
#[derive(Default)]
struct Entered {
    url: String,
    formaat: String,
    ca_bundle: String,
}

#[derive(Template)]
#[template(path = "portaal/terugkoppeling.html")]
struct Page {
    nav: Nav,
    csrf: String,
    melding: Option<String>,
    abonnement: Option<Registration>,
    /// Shown once, right after a registration.
    geheim: Option<String>,
    entered: Entered,
    fout: Option<String>,
    log: Vec<Row>,
    dood: Vec<Row>,
}

#[derive(serde::Deserialize)]
struct Notice {
    opnieuw: Option<String>,
}

async fn render(
    state: &AppState,
    caller: &Caller,
    status: StatusCode,
    melding: Option<String>,
    geheim: Option<String>,
    entered: Option<Entered>,
    fout: Option<String>,
) -> Result<HttpResponse, PortalError> {
    let party = caller.party().reference.to_string();
    let (endpoint, log, dood) = state
        .db
        .run(move |c| {
            let e = crate::dispatch::endpoints::find(c, &party)?;
            let log = view::recent(c, &party, false, SHOWN)?;
            let dood = view::recent(c, &party, true, SHOWN)?;
            Ok::<_, DbError>((e, log, dood))
        })
        .await?;
    let entered = entered.unwrap_or_else(|| Entered {
        url: endpoint.as_ref().map(|e| e.url.clone()).unwrap_or_default(),
        formaat: endpoint
            .as_ref()
            .map(|e| e.format.clone())
            .unwrap_or_else(|| "json".into()),
        ca_bundle: endpoint
            .as_ref()
            .and_then(|e| e.ca_bundle.clone())
            .unwrap_or_default(),
    });
    let abonnement = endpoint.map(|e| Registration {
        gebeurtenissen: e.event_types().join(", "),
        url: e.url,
        formaat: e.format,
        eigen_ca: e.ca_bundle.is_some(),
        status: e.status,
        reden: e.disabled_reason,
        mislukt_sinds: e.failing_since.as_ref().map(layout::when),
    });
    let mut resp = layout::render(&Page {
        nav: Nav::for_caller(caller, PAGE),
        csrf: state.csrf.token(caller.fingerprint()),
        melding,
        abonnement,
        geheim,
        entered,
        fout,
        log: log.into_iter().map(Row::from).collect(),
        dood: dood.into_iter().map(Row::from).collect(),
    });
    *resp.status_mut() = status;
    Ok(resp)
}

async fn page(
    Person(caller): Person,
    state: web::Data<AppState>,
    q: web::Query<Notice>,
) -> Result<HttpResponse, PortalError> {
    caller.require(Scope::TerugkoppelingBeheren)?;
    let melding = q
        .opnieuw
        .as_ref()
        .map(|id| format!("Terugkoppeling {id} wordt opnieuw verstuurd."));
    render(&state, &caller, StatusCode::OK, melding, None, None, None).await
}

fn verification_text(v: &Verification) -> String {
    if v.ok {
        format!(
            "Het abonnement is opgeslagen. De controleaanroep ({}) is geslaagd.",
            v.id
        )
    } else {
        let why = v
            .error
            .clone()
            .or_else(|| v.http_status.map(|s| format!("HTTP-status {s}")))
            .unwrap_or_else(|| "geen antwoord".into());
        format!(
            "Het abonnement is opgeslagen, maar de controleaanroep ({}) is mislukt: {why}.",
            v.id
        )
    }
}

/// Register or change the endpoint; answers with the page itself, since the
/// new signing secret is shown exactly once.
async fn register(
    Person(caller): Person,
    state: web::Data<AppState>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PortalError> {
    super::check_csrf(&state, &caller, &form)?;
    caller.require(Scope::TerugkoppelingBeheren)?;
    let entered = Entered {
        url: super::field(&form, "url").to_owned(),
        formaat: super::field(&form, "formaat").to_owned(),
        ca_bundle: super::field(&form, "ca_bundle").to_owned(),
    };
    let outcome = match view::subscribable(&caller, Vec::new()) {
        Ok(event_types) => registration::register(
            &state.db,
            &state.config,
            &caller,
            registration::Request {
                url: entered.url.clone(),
                format: entered.formaat.clone(),
                ca_bundle: (!entered.ca_bundle.is_empty()).then(|| entered.ca_bundle.clone()),
                event_types,
            },
        )
        .await
        .map_err(Problem::from),
        Err(r) => Err(Problem::from(r)),
    };
    match outcome {
        Ok((e, v)) => {
            let melding = verification_text(&v);
            render(
                &state,
                &caller,
                StatusCode::OK,
                Some(melding),
                Some(e.secret),
                None,
                None,
            )
            .await
        }
        Err(p) if p.code.is_client_fault() => {
            let status = StatusCode::from_u16(p.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let fout = format!("{} ({})", p.detail, p.code.as_str());
            render(
                &state,
                &caller,
                status,
                None,
                None,
                Some(entered),
                Some(fout),
            )
            .await
        }
        Err(p) => Err(PortalError(p)),
    }
}

/// Send one terugkoppeling again (a dead letter, or any other).
async fn replay(
    Person(caller): Person,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PortalError> {
    super::check_csrf(&state, &caller, &form)?;
    caller.require(Scope::TerugkoppelingBeheren)?;
    let id = path.into_inner();
    let mailbox = view::Mailbox::of(&caller);
    let requested = id.clone().into();
    state
        .db
        .run(move |c| view::replay(c, &mailbox, &requested, now()))
        .await
        .map_err(|e| match e {
            DbError::Conflict(_) => PortalError(registration::no_subscription().into()),
            other => other.into(),
        })?;
    let back = format!("{PAGE}?opnieuw={}", urlencoding(&id));
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", back))
        .finish())
}

/// Terugkoppeling ids are `TK` and alphanumerics; anything else is dropped
/// rather than echoed into a Location header.
fn urlencoding(id: &str) -> String {
    id.chars().filter(char::is_ascii_alphanumeric).collect()
}
