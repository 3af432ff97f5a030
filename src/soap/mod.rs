//! The SOAP door: SOAP 1.1 (`text/xml` + `SOAPAction`) and SOAP 1.2
//! (`application/soap+xml; action=…`) on one endpoint per service, document/
//! literal, answered with a response envelope or a Fault of the request's
//! version. Each service is a [`Contract`] (namespace, operations, schema,
//! WSDL) plus a `decode` (XML → command, on a blocking thread) and an
//! `execute` (command → response payload) onto the same domain services the
//! REST door uses. `GET ?wsdl` and `GET ?xsd=NAME` serve the contract with
//! addresses pointing at the serving host.

mod beoordeling;
pub mod envelope;
mod machtigingen;
mod optin;
mod terugkoppeling;
pub mod types;
mod whoami;
pub mod writer;

use actix_web::dev::Service;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;

use crate::http::body;
use crate::identity::Caller;
use crate::machtiging::intake;
use crate::problem::{Code, Problem};
use crate::state::AppState;
use crate::validation::{El, SchemaSet, xsd};

/// Every SOAP service: what the access matrix and the docs enumerate.
pub fn contracts() -> [&'static Contract; 4] {
    [
        &machtigingen::CONTRACT,
        &optin::CONTRACT,
        &beoordeling::CONTRACT,
        &terugkoppeling::CONTRACT,
    ]
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    machtigingen::configure(cfg);
    optin::configure(cfg);
    beoordeling::configure(cfg);
    terugkoppeling::configure(cfg);
}

/// The SOAP version of a request, from its Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Soap11,
    Soap12,
}

impl Version {
    pub fn namespace(self) -> &'static str {
        match self {
            Self::Soap11 => "http://schemas.xmlsoap.org/soap/envelope/",
            Self::Soap12 => "http://www.w3.org/2003/05/soap-envelope",
        }
    }

    pub fn other(self) -> Self {
        match self {
            Self::Soap11 => Self::Soap12,
            Self::Soap12 => Self::Soap11,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Soap11 => "SOAP 1.1",
            Self::Soap12 => "SOAP 1.2",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Soap11 => "text/xml; charset=utf-8",
            Self::Soap12 => "application/soap+xml; charset=utf-8",
        }
    }

    /// HTTP status of a Fault: SOAP 1.1 (WS-I Basic Profile) always 500;
    /// SOAP 1.2 400 for Sender, 500 otherwise (SOAP 1.2 part 2, 7.5.1).
    fn fault_status(self, code: Code) -> StatusCode {
        match self {
            Self::Soap11 => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Soap12 => match code {
                Code::SoapVersionMismatch | Code::SoapMustUnderstand => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
                c if c.is_client_fault() => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }
}

/// One SOAP service: where it lives and what it accepts.
#[derive(Debug)]
pub struct Contract {
    pub path: &'static str,
    /// Target namespace of the operation elements.
    pub namespace: &'static str,
    pub schema: SchemaSet,
    pub operations: &'static [&'static str],
    /// The WSDL text as shipped in `wsdl/`.
    pub wsdl: &'static str,
}

impl Contract {
    /// The soapAction / action URI of an operation, as in the WSDL.
    pub fn action(&self, operation: &str) -> String {
        format!("{}/{operation}", self.namespace)
    }
}

/// The version and the action a request announced. Anything but the two SOAP
/// media types is refused (as a SOAP 1.1 Fault: the client's version is
/// unknown).
fn detect(req: &HttpRequest) -> Result<(Version, Option<String>), Problem> {
    let raw = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut parts = raw.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    match media.as_str() {
        "text/xml" => {
            let action = req
                .headers()
                .get("SOAPAction")
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().trim_matches('"').to_owned());
            Ok((Version::Soap11, action))
        }
        "application/soap+xml" => {
            let action = parts.find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim().eq_ignore_ascii_case("action"))
                    .then(|| v.trim().trim_matches('"').to_owned())
            });
            Ok((Version::Soap12, action))
        }
        other => Err(Problem::new(
            Code::UnsupportedMediaType,
            format!(
                "Verwacht text/xml (SOAP 1.1) of application/soap+xml (SOAP 1.2), niet '{other}'."
            ),
        )),
    }
}

fn respond_fault(version: Version, p: &Problem) -> HttpResponse {
    tracing::info!(code = p.code.as_str(), soap = version.label(), "SOAP fault");
    let mut resp = HttpResponse::build(version.fault_status(p.code));
    resp.content_type(version.content_type());
    if p.code == Code::Unavailable {
        resp.insert_header(("Retry-After", "5"));
    }
    resp.body(writer::fault(version, p))
}

/// What `execute` gets: the shared state, the authenticated caller and the
/// decoded command; it answers with the response payload element.
pub type Execute<C> =
    fn(web::Data<AppState>, Caller, C) -> LocalBoxFuture<'static, Result<String, Problem>>;

/// Mounts a service: `POST` calls, `GET`/`HEAD ?wsdl` / `?xsd=` the contract,
/// any other method `405 REQ-005` with `Allow: GET, HEAD, POST`.
pub fn mount<C: Send + 'static>(
    cfg: &mut web::ServiceConfig,
    contract: &'static Contract,
    decode: fn(&str, &El) -> Result<C, Problem>,
    execute: Execute<C>,
) {
    cfg.service(
        web::resource(contract.path)
            .route(
                web::post().to(move |req: HttpRequest, payload: web::Payload| {
                    serve(contract, req, payload, decode, execute)
                }),
            )
            .route(
                web::get()
                    .to(move |req: HttpRequest| async move { contract_document(contract, &req) }),
            )
            // The same coded 405 as the REST door, not actix's empty one.
            .default_service(web::to(|| async {
                crate::rest::routes::method_not_allowed("GET, HEAD, POST")
            }))
            // HEAD ?wsdl (link checkers, toolkits probing before a fetch) is the
            // GET without its body, as on the REST door: the HTTP layer already
            // decided at parse time that a HEAD answer carries no body.
            .wrap_fn(|mut req, srv| {
                if req.method() == Method::HEAD {
                    req.head_mut().method = Method::GET;
                }
                srv.call(req)
            }),
    );
}

/// Serves one SOAP call of `contract`.
pub async fn serve<C: Send + 'static>(
    contract: &'static Contract,
    req: HttpRequest,
    payload: web::Payload,
    decode: fn(&str, &El) -> Result<C, Problem>,
    execute: Execute<C>,
) -> HttpResponse {
    let (version, action) = match detect(&req) {
        Ok(v) => v,
        Err(p) => {
            let mut resp = respond_fault(Version::Soap11, &p);
            *resp.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
            resp.extensions_mut().insert(crate::metrics::Outcome {
                operation: None,
                fault: Some(crate::metrics::FaultClass::Client),
                code: Some(p.code.as_str()),
            });
            return resp;
        }
    };
    // The operation for the metrics: announced by the action until the
    // payload names it (a refusal before the body is read still has one).
    let mut operation = action.as_deref().and_then(|a| {
        contract
            .operations
            .iter()
            .find(|o| contract.action(o) == a)
            .copied()
    });
    let result = async {
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or_else(|| Problem::internal("Interne fout."))?;
        // Identity before the body: nobody unregistered makes us read 28 MB.
        let caller = crate::http::auth::authenticate(&req).await?;
        let bytes = body::read(&req, payload, state.config.server.body_limit).await?;
        let (named, command) = intake::blocking(bytes.len(), move || {
            Ok::<_, Problem>(envelope::read_named(
                &bytes,
                contract,
                version,
                action.as_deref(),
                decode,
            ))
        })
        .await?;
        operation = named.or(operation);
        execute(state, caller, command?).await
    }
    .await;
    let (mut resp, fault) = match result {
        Ok(payload) => (
            HttpResponse::Ok()
                .content_type(version.content_type())
                .body(writer::envelope(version, &payload)),
            None,
        ),
        Err(p) => (respond_fault(version, &p), Some(p.code)),
    };
    resp.extensions_mut().insert(crate::metrics::Outcome {
        operation,
        fault: fault.map(crate::http::error::fault_class),
        code: fault.map(Code::as_str),
    });
    resp
}

/// Reads `bytes` as a request to the machtigingen service — envelope,
/// operation, XSD, mapping — without executing it; answers the operation's
/// name. For the fuzzers (and anything else that wants to check a message).
pub fn inspect(bytes: &[u8], version: Version) -> Result<String, Problem> {
    envelope::read(bytes, &machtigingen::CONTRACT, version, None, |op, el| {
        machtigingen::decode_only(op, el)
    })
}

/// The base URL for addresses in the served WSDL: `server.public_url` when
/// set, else the one this request reached.
fn base_url(req: &HttpRequest) -> String {
    let public_url = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.config.server.public_url.clone())
        .unwrap_or_default();
    crate::rest::openapi::api_base(&public_url, req)
}

/// `GET ?wsdl` and `GET ?xsd=NAME`: the contract, resolvable from the service
/// alone. Relative schemaLocations become absolute `?xsd=` URLs and the
/// soap:address becomes this endpoint on the host the client used.
pub fn contract_document(contract: &Contract, req: &HttpRequest) -> HttpResponse {
    let endpoint = format!("{}{}", base_url(req), contract.path);
    let query = req.query_string();
    let rewrite = |text: &str| {
        let mut out = text.to_owned();
        for (name, _) in xsd::FILES {
            let absolute = format!("schemaLocation=\"{endpoint}?xsd={name}\"");
            // The WSDL in the repository points into ../schemas, the XSDs at
            // their siblings.
            for relative in [format!("../schemas/{name}"), (*name).to_owned()] {
                out = out.replace(&format!("schemaLocation=\"{relative}\""), &absolute);
            }
        }
        out.replace("https://localhost/ENDPOINT", &endpoint)
    };
    let xml = |body: String| {
        HttpResponse::Ok()
            .content_type("text/xml; charset=utf-8")
            .body(body)
    };
    if query.eq_ignore_ascii_case("wsdl") {
        return xml(rewrite(contract.wsdl));
    }
    if let Some(name) = query.strip_prefix("xsd=") {
        if let Some((_, text)) = xsd::FILES.iter().find(|(n, _)| *n == name) {
            return xml(rewrite(text));
        }
    }
    crate::http::error::problem_response(&Problem::new(
        Code::NotFound,
        "Gebruik ?wsdl of ?xsd=<naam> (zie de WSDL).",
    ))
}
