//! The OpenAPI 3.1 description of the REST door, generated from the handlers'
//! annotations (utoipa) and completed here with what every operation shares:
//! the `mutualTLS` security scheme, `servers`, the `application/problem+json`
//! answers each operation can give (with the documented codes as an enum), and
//! the closed value sets of string fields, taken from the domain types so the
//! document cannot drift from what the service sends and accepts.

use std::collections::BTreeMap;

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use super::routes::Endpoint;
use crate::http::auth::Authenticated;
use crate::http::error::json;
use crate::problem::Code;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "machtigingen REST API",
        version = "1",
        description = "REST mirror of the machtigingen SOAP services. Every call is mutual TLS with a registered \
                       certificate. Errors are application/problem+json with a stable `code` (docs/foutcodes.md). \
                       Timestamps are RFC 3339 in UTC (`Z`); timestamp inputs accept any offset."
    ),
    paths(super::whoami::whoami)
)]
struct ApiDoc;

/// The address in `servers` when nothing better is known (the export).
pub const PLACEHOLDER_URL: &str = "https://machtigingen.example.nl";

/// The document as served and exported, with `base` (scheme, host and port of
/// the mTLS listener) in `servers`.
pub fn document(base: &str) -> Value {
    let mut doc = ApiDoc::openapi();
    for area in areas() {
        doc.merge(area);
    }
    let mut doc = serde_json::to_value(doc).unwrap_or_default();
    complete(&mut doc, base);
    doc
}

/// Each REST area's own part of the document.
fn areas() -> Vec<utoipa::openapi::OpenApi> {
    vec![
        super::machtigingen::Api::openapi(),
        super::optin::Api::openapi(),
        super::beheer::Api::openapi(),
        super::beoordeling::Api::openapi(),
        super::beoordeling_zoeken::Api::openapi(),
        super::terugkoppeling::Api::openapi(),
        super::terugkoppeling_controle::Api::openapi(),
    ]
}

pub(super) fn endpoints() -> Vec<Endpoint> {
    vec![Endpoint::new(Method::GET, "/openapi.json", || {
        web::get().to(openapi)
    })]
}

async fn openapi(_: Authenticated, req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let base = api_base(&state.config.server.public_url, &req);
    json(StatusCode::OK, &document(&base))
}

/// `server.public_url` when set, else the origin the caller used.
pub fn api_base(public_url: &str, req: &HttpRequest) -> String {
    if !public_url.is_empty() {
        return public_url.trim_end_matches('/').to_owned();
    }
    let info = req.connection_info();
    format!("https://{}", info.host())
}

/// The closed value sets of string fields: (schema, property, values). A
/// property whose schema is an array gets the enum on its items.
fn enums() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    use crate::machtiging::model::{Grondslag, Outcome, Soort, Status};
    use crate::optin::{RegStatus, Toestemming};
    use crate::registry::{CertKind, CertStatus, PartyKind, Scope};
    let status: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
    let outcome = vec![
        Outcome::Toegekend.as_str(),
        Outcome::DeelsToegekend.as_str(),
        Outcome::Afgewezen.as_str(),
    ];
    let decidable = vec![
        Status::InBehandeling.as_str(),
        Status::AanvullendeInformatieGevraagd.as_str(),
        Status::Toegekend.as_str(),
        Status::DeelsToegekend.as_str(),
        Status::Afgewezen.as_str(),
    ];
    let grondslag = vec![Grondslag::Zvw.as_str(), Grondslag::Wlz.as_str()];
    let soorten: Vec<&str> = Soort::ALL.iter().map(|s| s.as_str()).collect();
    let reg = vec![
        RegStatus::NogNietVerwerkt.as_str(),
        RegStatus::Verwerkt.as_str(),
        RegStatus::Afgewezen.as_str(),
    ];
    let handled = vec![RegStatus::Verwerkt.as_str(), RegStatus::Afgewezen.as_str()];
    let toestemming = vec![Toestemming::Ja.as_str(), Toestemming::Nee.as_str()];
    let scopes: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    let kinds = vec![CertKind::Persoonlijk.as_str(), CertKind::Systeem.as_str()];
    let cert_status = vec![
        CertStatus::Actief.as_str(),
        CertStatus::Ingetrokken.as_str(),
    ];
    let parties: Vec<&str> = PartyKind::ALL.iter().map(|p| p.as_str()).collect();
    let events = crate::dispatch::registration::EVENT_TYPES.to_vec();
    let mut all_events = events.clone();
    all_events.push(crate::dispatch::render::VERIFICATIE);
    let formats = vec![
        crate::dispatch::render::Format::Soap.as_str(),
        crate::dispatch::render::Format::Json.as_str(),
    ];
    use crate::dispatch::{endpoints as ep, queue as q};
    use crate::machtiging::model::Action;
    // Every variant: history and inbox entries name the action that made them.
    let actions: Vec<&str> = [
        Action::SaveConcept,
        Action::Submit,
        Action::Modify,
        Action::Withdraw,
        Action::SupplyInformation,
        Action::StartAssessment,
        Action::AskInformation,
        Action::Decide(Outcome::Toegekend),
        Action::Revise(Soort::Herroeping),
        Action::Revise(Soort::Inkorting),
        Action::Revise(Soort::Verlenging),
    ]
    .iter()
    .map(|a| a.as_str())
    .collect();
    vec![
        ("GebeurtenisJson", "soort", actions.clone()),
        ("InboxEntry", "soort", actions),
        ("BevestigingJson", "status", status.clone()),
        ("DetailsJson", "status", status.clone()),
        ("DetailsJson", "grondslag", grondslag),
        ("GebeurtenisJson", "status", status.clone()),
        ("SamenvattingJson", "status", status.clone()),
        ("ZoekBody", "status", status.clone()),
        ("BeoordeeldJson", "status", status.clone()),
        ("InboxEntry", "status", status),
        ("BeslissingJson", "uitkomst", outcome),
        ("BeoordelingJson", "status", decidable),
        ("HerzieningJson", "soort", soorten.clone()),
        ("HerzieningInvoerJson", "soort", soorten),
        ("RegistratieJson", "status", reg.clone()),
        ("RegistratieJson", "toestemming", toestemming),
        ("RegistratieBevestigingJson", "status", reg),
        ("AfhandelingJson", "status", handled),
        ("CertificaatJson", "soort", kinds.clone()),
        ("CertificaatJson", "status", cert_status),
        ("CertificaatJson", "autorisaties", scopes.clone()),
        ("AutorisatiesJson", "toekennen", scopes.clone()),
        ("AutorisatiesJson", "intrekken", scopes.clone()),
        ("AanvraagJson", "autorisaties", scopes.clone()),
        ("AanvraagJson", "soort", kinds.clone()),
        ("WhoAmI", "autorisaties", scopes),
        ("Partij", "soort", parties),
        ("Certificaat", "soort", kinds),
        ("AbonnementVerzoek", "formaat", formats.clone()),
        ("AbonnementVerzoek", "gebeurtenissen", events.clone()),
        ("TerugkoppelingAbonnementJson", "formaat", formats),
        ("TerugkoppelingAbonnementJson", "gebeurtenissen", events),
        (
            "TerugkoppelingAbonnementJson",
            "status",
            vec![ep::ACTIEF, ep::UITGESCHAKELD],
        ),
        ("BerichtJson", "type", all_events),
        (
            "AfleveringJson",
            "status",
            vec![q::WACHTEND, q::AFGELEVERD, q::DOOD, q::VERVALLEN],
        ),
    ]
}

/// Query parameters with a closed set: (path, parameter, values).
fn parameter_enums() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    use crate::machtiging::model::Status;
    use crate::optin::RegStatus;
    vec![
        (
            "/api/v1/machtigingsaanvragen",
            "status",
            Status::ALL.iter().map(|s| s.as_str()).collect(),
        ),
        (
            "/api/v1/optin/registraties",
            "status",
            vec![
                RegStatus::NogNietVerwerkt.as_str(),
                RegStatus::Verwerkt.as_str(),
                RegStatus::Afgewezen.as_str(),
            ],
        ),
    ]
}

/// The codes a problem with this status can carry.
fn codes_with(status: u16) -> Vec<&'static str> {
    Code::ALL
        .iter()
        .filter(|c| c.status() == status)
        .map(|c| c.as_str())
        .collect()
}

fn problem_schemas() -> (Value, Value) {
    let all: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    let finding = json!({
        "type": "object",
        "description": "One finding, e.g. one XSD error or one failed JVC check.",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "enum": all},
            "location": {"type": "string", "description": "Element path with line, or a field name."},
            "message": {"type": "string"}
        }
    });
    let problem = json!({
        "type": "object",
        "description": "RFC 9457 problem details with the stable code of docs/foutcodes.md.",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string", "description": "urn:machtigingen:foutcode:CODE"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string", "enum": all},
            "findings": {"type": "array", "items": {"$ref": "#/components/schemas/Bevinding"}}
        }
    });
    (problem, finding)
}

fn problem_response(status: u16) -> Value {
    let codes = codes_with(status);
    let mut headers = Map::new();
    if status == 503 {
        headers.insert(
            "Retry-After".into(),
            json!({"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}),
        );
    }
    let mut resp = json!({
        "description": format!("Problem; `code` is one of {}.", codes.join(", ")),
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    });
    if !headers.is_empty() {
        resp["headers"] = Value::Object(headers);
    }
    resp
}

/// The error statuses an operation can answer besides those it declares.
fn shared_statuses(path: &str, op: &Value) -> Vec<u16> {
    // Every operation: unreadable query/path/body (REQ-004), the registry
    // check (AUTH-*), authorization (AUTZ-*), and our own failures.
    let mut statuses = vec![400, 401, 403, 500, 503];
    if op.get("requestBody").is_some() {
        statuses.extend([413, 415]);
    }
    if path.contains('{') {
        statuses.push(404);
    }
    statuses
}

/// Everything utoipa does not derive; see the module documentation.
fn complete(doc: &mut Value, base: &str) {
    doc["servers"] =
        json!([{"url": base, "description": "The mTLS listener (server.public_url)."}]);
    doc["security"] = json!([{"mutualTLS": []}]);
    let components = doc
        .as_object_mut()
        .map(|d| d.entry("components").or_insert_with(|| json!({})));
    let Some(components) = components else { return };
    components["securitySchemes"] = json!({
        "mutualTLS": {
            "type": "mutualTLS",
            "description": "A client certificate registered to a party (docs/security.md); \
                            authorizations per certificate (GET /api/v1/whoami)."
        }
    });
    let (problem, finding) = problem_schemas();
    if let Some(schemas) = components.get_mut("schemas").and_then(Value::as_object_mut) {
        schemas.insert("Problem".into(), problem);
        schemas.insert("Bevinding".into(), finding);
        let mut variants = Vec::new();
        for (name, schema) in super::payloads::schemas() {
            variants.push(json!({"$ref": format!("#/components/schemas/{name}")}));
            schemas.insert(name.into(), schema);
        }
        if let Some(data) = schemas
            .get_mut("BerichtJson")
            .and_then(|s| s.pointer_mut("/properties/data"))
        {
            *data = json!({
                "description": "The event's payload, by `type` (docs/callbacks.md).",
                "anyOf": variants
            });
        }
        for (schema, property, values) in enums() {
            if let Some(p) = schemas
                .get_mut(schema)
                .and_then(|s| s.pointer_mut(&format!("/properties/{property}")))
            {
                set_enum(p, &values);
            }
        }
    }
    let params = parameter_enums();
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (_, op) in item.iter_mut() {
            // Handler names repeat across areas (`registreren`, `raadplegen`);
            // an operationId must be unique, and a generated client names its
            // methods after it.
            let tag = op
                .pointer("/tags/0")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                op["operationId"] = json!(format!("{tag}_{id}"));
            }
            for status in shared_statuses(path, op) {
                let responses = &mut op["responses"];
                let key = status.to_string();
                if responses.get(&key).is_none() {
                    responses[&key] = json!({});
                }
            }
            if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                for (status, resp) in responses.iter_mut() {
                    let Ok(n) = status.parse::<u16>() else {
                        continue;
                    };
                    if n >= 400 {
                        let mut full = problem_response(n);
                        if let Some(d) = resp.get("description").and_then(Value::as_str) {
                            if !d.is_empty() {
                                full["description"] = json!(format!(
                                    "{d}. {}",
                                    full["description"].as_str().unwrap_or_default()
                                ));
                            }
                        }
                        *resp = full;
                    } else if resp.get("description").is_none() {
                        resp["description"] = json!("");
                    }
                }
            }
            if let Some(list) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                for p in list {
                    let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
                    if let Some((_, _, values)) =
                        params.iter().find(|(pp, n, _)| pp == path && *n == name)
                    {
                        set_enum(&mut p["schema"], values);
                    }
                }
            }
        }
    }
}

/// Puts the enum on the string schema itself, on the items of an array, or on
/// the string branch of a nullable `oneOf`/type list.
fn set_enum(schema: &mut Value, values: &[&str]) {
    let is_array = schema.get("type").is_some_and(|t| {
        t == "array" || t.as_array().is_some_and(|a| a.iter().any(|x| x == "array"))
    });
    if is_array {
        set_enum(&mut schema["items"], values);
        return;
    }
    let nullable = schema
        .get("type")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|x| x == "null"));
    let mut list: Vec<Value> = values.iter().map(|v| json!(v)).collect();
    if nullable {
        list.push(Value::Null);
    }
    schema["enum"] = Value::Array(list);
}

/// Operations of the document as (METHOD, path) pairs, for the route test.
pub fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            if let Some(item) = item.as_object() {
                for method in item.keys() {
                    out.push((method.to_ascii_uppercase(), path.clone()));
                }
            }
        }
    }
    out.sort();
    out
}

/// Component names declared by more than one area with different content
/// (a later area would silently replace the earlier one's schema).
pub fn clashing_schemas() -> Vec<String> {
    // Every area, from the one list the document is merged from: an area
    // missing here is how a second `ControleJson` went unnoticed.
    let docs = std::iter::once(ApiDoc::openapi()).chain(areas());
    let mut seen: BTreeMap<String, Value> = BTreeMap::new();
    let mut clashes = Vec::new();
    for d in docs {
        let v = serde_json::to_value(d).unwrap_or_default();
        if let Some(schemas) = v.pointer("/components/schemas").and_then(Value::as_object) {
            for (name, s) in schemas {
                match seen.get(name) {
                    Some(prev) if prev != s => clashes.push(name.clone()),
                    _ => {
                        seen.insert(name.clone(), s.clone());
                    }
                }
            }
        }
    }
    clashes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_and_every_documented_route_is_mounted() {
        let doc = document(PLACEHOLDER_URL);
        let documented = operations(&doc);
        let mut mounted: Vec<(String, String)> = super::super::endpoints()
            .into_iter()
            // The document does not describe itself.
            .filter(|e| e.path != "/openapi.json")
            .map(|e| {
                (
                    e.method.as_str().to_owned(),
                    format!("{}{}", super::super::PREFIX, e.path),
                )
            })
            .collect();
        mounted.sort();
        assert_eq!(mounted, documented);
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = document(PLACEHOLDER_URL);
        let mut ids = Vec::new();
        for (method, path) in operations(&doc) {
            let id = doc["paths"][&path][method.to_ascii_lowercase()]["operationId"].clone();
            assert!(id.is_string(), "{method} {path} has no operationId");
            assert!(!ids.contains(&id), "{id} is used twice");
            ids.push(id);
        }
    }

    #[test]
    fn no_two_areas_share_a_schema_name() {
        assert_eq!(clashing_schemas(), Vec::<String>::new());
    }

    #[test]
    fn every_enum_target_exists() {
        let doc = document(PLACEHOLDER_URL);
        for (schema, property, _) in enums() {
            let p = doc
                .pointer(&format!(
                    "/components/schemas/{schema}/properties/{property}"
                ))
                .unwrap_or_else(|| panic!("{schema}.{property} is not in the document"));
            let has = p.get("enum").is_some() || p.pointer("/items/enum").is_some();
            assert!(has, "{schema}.{property} got no enum: {p}");
        }
        for (path, name, _) in parameter_enums() {
            let found = doc["paths"][path]["get"]["parameters"]
                .as_array()
                .is_some_and(|l| {
                    l.iter()
                        .any(|p| p["name"] == name && p["schema"].get("enum").is_some())
                });
            assert!(found, "{path} ?{name} got no enum");
        }
    }

    #[test]
    fn error_responses_are_problems_with_the_documented_codes() {
        let doc = document(PLACEHOLDER_URL);
        for (method, path) in operations(&doc) {
            let op = &doc["paths"][&path][method.to_ascii_lowercase()];
            for status in ["400", "401", "403", "500", "503"] {
                let r = &op["responses"][status];
                assert!(
                    r.pointer("/content/application~1problem+json/schema")
                        .is_some(),
                    "{method} {path} {status}: {r}"
                );
            }
        }
        let codes = doc
            .pointer("/components/schemas/Problem/properties/code/enum")
            .and_then(Value::as_array)
            .map(Vec::len);
        assert_eq!(codes, Some(Code::ALL.len()));
        assert_eq!(doc["servers"][0]["url"], PLACEHOLDER_URL);
        assert_eq!(
            doc["components"]["securitySchemes"]["mutualTLS"]["type"],
            "mutualTLS"
        );
    }
}
