//! What every portal page shares: the security headers, the stylesheet, the
//! navigation by the person's authorizations, the error page and rendering
//! a template into a response.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::middleware::DefaultHeaders;
use askama::Template;

use crate::identity::Caller;
use crate::problem::Problem;
use crate::registry::Scope;

/// No scripts, no frames, no third-party anything: styles and images only
/// from this origin, forms only to it.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Headers on every portal answer, error pages included. `no-store`: the
/// pages carry personal data and CSRF tokens.
pub fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CSP))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Cache-Control", "no-store"))
}

const STYLESHEET: &str = include_str!("../../templates/portaal/portaal.css");

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Content-Type", "text/css; charset=utf-8"))
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(STYLESHEET)
}

/// One entry of the navigation.
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The navigation and who is signed in, for the page header.
pub struct Nav {
    pub items: Vec<NavItem>,
    pub person: String,
    pub party: String,
}

impl Nav {
    /// The pages this person's authorizations open; `current` marks the
    /// page shown (`aria-current`).
    pub fn for_caller(caller: &Caller, current: &str) -> Self {
        let scopes = caller.certificate.scopes;
        let mut items = vec![("/portaal/gegevens", "Mijn gegevens")];
        if scopes.contains(Scope::MachtigingenRaadplegen) {
            items.push(("/portaal/aanvragen", "Aanvragen"));
        }
        if scopes.contains(Scope::MachtigingenIndienen) {
            items.push(("/portaal/aanvragen/nieuw", "Nieuwe aanvraag"));
        }
        if scopes.contains(Scope::OptinAfhandelen) {
            items.push(("/portaal/optin", "Opt-in"));
        }
        if scopes.contains(Scope::Beoordelen) {
            items.push(("/portaal/beoordeling", "Beoordeling"));
            items.push(("/portaal/werklijst", "Werklijst"));
        }
        if scopes.contains(Scope::Gebruikersbeheer) {
            items.push(("/portaal/beheer", "Gebruikersbeheer"));
            items.push(("/portaal/beheer/certificaten", "Certificaten"));
            if caller.party().kind == crate::registry::PartyKind::Zorgaanbieder {
                items.push(("/portaal/beheer/verklaringen", "Verklaringen"));
            }
        }
        if scopes.contains(Scope::TerugkoppelingBeheren) {
            items.push(("/portaal/beheer/terugkoppeling", "Terugkoppeling"));
        }
        Self {
            items: items
                .into_iter()
                .map(|(href, label)| NavItem {
                    href,
                    label,
                    current: href == current,
                })
                .collect(),
            person: caller
                .certificate
                .holder
                .clone()
                .unwrap_or_else(|| caller.certificate.subject.clone()),
            party: format!("{} ({})", caller.party().name, caller.party().reference),
        }
    }
}

/// What an authorization lets its holder do, in Dutch.
pub fn scope_text(scope: Scope) -> &'static str {
    match scope {
        Scope::MachtigingenRaadplegen => "Machtigingsaanvragen raadplegen",
        Scope::MachtigingenIndienen => "Machtigingsaanvragen indienen",
        Scope::Beoordelen => "Machtigingsaanvragen beoordelen",
        Scope::TerugkoppelingBeheren => "Terugkoppelingen (callbacks) beheren",
        Scope::OptinAanmelden => "Opt-in registraties aanmelden",
        Scope::OptinAfhandelen => "Opt-in registraties afhandelen",
        Scope::Gebruikersbeheer => "Gebruikersbeheer (contactpersoon)",
    }
}

/// Date and time as the pages show them (UTC, stated).
pub fn when(t: &chrono::NaiveDateTime) -> String {
    t.format("%d-%m-%Y %H:%M UTC").to_string()
}

#[derive(Template)]
#[template(path = "portaal/fout.html")]
struct ErrorPage<'a> {
    code: &'a str,
    title: &'a str,
    detail: &'a str,
    findings: Vec<String>,
}

/// The Dutch error page: title, explanation and the stable code.
pub fn error_page(status: StatusCode, p: &Problem) -> HttpResponse {
    let page = ErrorPage {
        code: p.code.as_str(),
        title: p.code.title(),
        detail: &p.detail,
        findings: p
            .findings
            .iter()
            .map(|f| format!("{}: {}", f.code.as_str(), f.message))
            .collect(),
    };
    let body = page.render().unwrap_or_else(|_| p.code.title().to_owned());
    HttpResponse::build(status)
        .insert_header(ContentType::html())
        .body(body)
}

/// Renders a page template; a template failure is a 500 page.
pub fn render(t: &impl Template) -> HttpResponse {
    match t.render() {
        Ok(body) => HttpResponse::Ok()
            .insert_header(ContentType::html())
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "portal template failed");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &Problem::internal("De pagina kon niet worden opgebouwd."),
            )
        }
    }
}
