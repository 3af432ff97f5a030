//! The portal: the web door for persons (`/portaal/`) on the same mutual-TLS
//! listener as REST and SOAP. A browser presents a *persoonlijk* certificate;
//! identity and authorizations come from the same registry and [`Caller`]
//! as the other doors, and every action calls the same domain services, so
//! the audit log records the person's certificate as the actor. A *systeem*
//! certificate is refused with a Dutch page (`AUTZ-004`).
//!
//! Server-rendered HTML (askama templates under `templates/portaal/`), no
//! JavaScript, one stylesheet served from here; every POST form carries a
//! CSRF token bound to the certificate ([`crate::formtoken`]); every answer carries a
//! strict Content-Security-Policy ([`layout::security_headers`]).

mod aanvraag;
mod aanvragen;
mod aanvullen;
mod aanvullingen;
mod beheer;
mod beoordeling;
mod bijlagen;
mod certificaten;
mod concept;
mod document;
mod gegevens;
mod layout;
mod optin;
mod terugkoppeling;
mod upload;
mod verklaringen;
mod werklijst;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use futures_util::future::LocalBoxFuture;

use crate::identity::{self, Caller, PeerIdentity};
use crate::problem::{Code, Problem};
use crate::registry::CertKind;
use crate::state::AppState;

/// Mounts `/portaal/…` with its security headers and its own HTML 404.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/portaal")
            .wrap(layout::security_headers())
            .app_data(
                web::FormConfig::default()
                    .limit(64 * 1024)
                    .error_handler(|e, _| {
                        PortalError(Problem::new(
                            Code::BadRequest,
                            format!("Het formulier kon niet worden gelezen: {e}"),
                        ))
                        .into()
                    }),
            )
            .route("", web::get().to(home))
            .route("/", web::get().to(home))
            .route("/portaal.css", web::get().to(layout::stylesheet))
            .configure(gegevens::configure)
            .configure(aanvraag::configure)
            .configure(concept::configure)
            .configure(aanvullen::configure)
            .configure(aanvragen::configure)
            .configure(beheer::configure)
            .configure(certificaten::configure)
            .configure(beoordeling::configure)
            .configure(optin::configure)
            .configure(terugkoppeling::configure)
            .configure(bijlagen::configure)
            .configure(verklaringen::configure)
            .configure(werklijst::configure)
            .default_service(web::to(not_found)),
    );
}

async fn home() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", "/portaal/gegevens"))
        .finish()
}

async fn not_found() -> HttpResponse {
    PortalError(Problem::new(
        Code::NotFound,
        "Deze pagina bestaat niet in het portaal.",
    ))
    .error_response()
}

/// The person behind a request: a registered, active *persoonlijk*
/// certificate. Everything else is answered with a Dutch error page before
/// the handler runs.
#[derive(Debug, Clone)]
pub struct Person(pub Caller);

impl FromRequest for Person {
    type Error = PortalError;
    type Future = LocalBoxFuture<'static, Result<Self, PortalError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let peer = req.conn_data::<PeerIdentity>().cloned();
        Box::pin(async move {
            let state = state.ok_or_else(|| PortalError(Problem::internal("Interne fout.")))?;
            let caller = identity::authenticate(&state.db, peer.as_ref())
                .await
                .map_err(|e| PortalError(Problem::from(e)))?;
            if caller.certificate.kind == CertKind::Systeem {
                tracing::warn!(
                    fingerprint = caller.fingerprint(),
                    reason = "systeem_certificate",
                    "portal refused"
                );
                crate::metrics::auth_refusal("portal_systeem");
                return Err(PortalError(Problem::new(
                    Code::PortalSystemCertificate,
                    "U gebruikt een systeemcertificaat. Het portaal is alleen toegankelijk \
                     met een persoonlijk certificaat; software gebruikt de REST- of \
                     SOAP-koppeling.",
                )));
            }
            Ok(Person(caller))
        })
    }
}

/// A refusal on the portal: rendered as a Dutch HTML page with the code,
/// never as problem+json.
#[derive(Debug)]
pub struct PortalError(pub Problem);

impl std::fmt::Display for PortalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0.code.as_str(), self.0.detail)
    }
}

impl ResponseError for PortalError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        layout::error_page(self.status_code(), &self.0)
    }
}

/// Domain errors reach the person as the same coded refusal the API gives.
macro_rules! portal_errors {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for PortalError {
            fn from(e: $t) -> Self {
                Self(Problem::from(e))
            }
        }
    )*};
}

portal_errors!(
    crate::beheer::BeheerError,
    crate::identity::AuthError,
    crate::db::DbError,
    crate::machtiging::MachtigingError,
    crate::beoordeling::BeoordelingError,
    crate::optin::OptinError,
    Problem,
);

/// Refuses a POST whose form lacks the CSRF token this person's page was
/// given (`REQ-007`), before anything is read or changed.
fn check_csrf(
    state: &AppState,
    caller: &Caller,
    form: &[(String, String)],
) -> Result<(), PortalError> {
    // Untrimmed, unlike `field`: the token is taken exactly as sent.
    let token = form
        .iter()
        .find(|(k, _)| k == crate::formtoken::FIELD)
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if state.csrf.verify(caller.fingerprint(), token) {
        Ok(())
    } else {
        tracing::warn!(
            fingerprint = caller.fingerprint(),
            reason = "csrf",
            "portal form refused"
        );
        Err(PortalError(Problem::new(
            Code::FormToken,
            "Het formulier is verlopen of komt niet van deze pagina van het portaal. \
             Er is niets gewijzigd. Open de pagina opnieuw en verstuur het formulier \
             vanaf daar.",
        )))
    }
}

/// A posted form field's value, trimmed; empty when the form lacks it.
/// A search's total as shown: exact, or "meer dan N" past the API's cap.
fn totaal_tekst(total: i64, is_minimum: bool) -> String {
    if is_minimum {
        format!("meer dan {total}")
    } else {
        total.to_string()
    }
}

/// A search's refusal the person can correct, as the message shown next to
/// the form and the page's status; anything else is the error page.
fn refusal_on_page(p: Problem) -> Result<(String, StatusCode), PortalError> {
    if !p.code.is_client_fault() {
        return Err(PortalError(p));
    }
    let status = StatusCode::from_u16(p.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    Ok((format!("{} ({})", p.detail, p.code.as_str()), status))
}

pub(super) fn field<'a>(form: &'a [(String, String)], key: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim())
        .unwrap_or("")
}
