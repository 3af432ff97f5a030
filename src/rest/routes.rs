//! The REST route table as data: the one list that mounts the routes, answers
//! a wrong method on a known path with `405 REQ-005` and an `Allow` header,
//! answers `HEAD` wherever there is a `GET`, and lets a test hold the mounted
//! routes against the OpenAPI document.

use actix_web::dev::Service;
use actix_web::http::Method;
use actix_web::http::header::ALLOW;
use actix_web::{HttpResponse, Route, web};

use crate::http::error::problem_response;
use crate::problem::{Code, Problem};

/// One operation: method and path below `/api/v1`, and its handler.
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    route: fn() -> Route,
}

impl Endpoint {
    pub fn new(method: Method, path: &'static str, route: fn() -> Route) -> Self {
        Self {
            method,
            path,
            route,
        }
    }
}

/// The answer to a method the path does not have.
pub fn method_not_allowed(allow: &str) -> HttpResponse {
    let mut resp = problem_response(&Problem::new(
        Code::MethodNotAllowed,
        format!("Deze methode wordt hier niet ondersteund; toegestaan: {allow}."),
    ));
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(allow) {
        resp.headers_mut().insert(ALLOW, v);
    }
    resp
}

/// Mounts one resource per path, in the order paths first appear (so a fixed
/// segment such as `/zoeken` is matched before a `{id}` on the same level),
/// each with its methods and a 405 for every other method. A path with a `GET`
/// answers `HEAD` with the `GET` handler: the HTTP layer decided at parse time
/// that a `HEAD` response carries no body, so only the headers go out.
pub fn mount(cfg: &mut web::ServiceConfig, endpoints: &[Endpoint]) {
    let mut paths: Vec<&'static str> = Vec::new();
    for e in endpoints {
        if !paths.contains(&e.path) {
            paths.push(e.path);
        }
    }
    for path in paths {
        let mine: Vec<&Endpoint> = endpoints.iter().filter(|e| e.path == path).collect();
        let has_get = mine.iter().any(|e| e.method == Method::GET);
        let mut methods: Vec<&str> = mine.iter().map(|e| e.method.as_str()).collect();
        if has_get {
            methods.push(Method::HEAD.as_str());
        }
        let allow = methods.join(", ");
        let mut resource = web::resource(path);
        for e in mine {
            resource = resource.route((e.route)());
        }
        resource = resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move { method_not_allowed(&allow) }
        }));
        let resource = resource.wrap_fn(move |mut req, srv| {
            if has_get && req.method() == Method::HEAD {
                req.head_mut().method = Method::GET;
            }
            srv.call(req)
        });
        cfg.service(resource);
    }
}
