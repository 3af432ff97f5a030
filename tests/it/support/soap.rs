//! A SOAP client for the tests: wraps a payload in a 1.1 or 1.2 envelope,
//! posts it over the test client's mTLS connection, and reads the answer with
//! libxml2 — checking every response payload and Fout detail against the
//! service's own XSD, so the tests also prove the responses keep the contract.

use libxml::parser::Parser;
use libxml::tree::Node;
use machtigingen::validation::{SchemaSet, xsd};

use super::TestClient;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Soap {
    V11,
    V12,
}

pub const BOTH: [Soap; 2] = [Soap::V11, Soap::V12];

impl Soap {
    pub fn envelope_ns(self) -> &'static str {
        match self {
            Soap::V11 => "http://schemas.xmlsoap.org/soap/envelope/",
            Soap::V12 => "http://www.w3.org/2003/05/soap-envelope",
        }
    }

    pub fn envelope(self, payload: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<s:Envelope xmlns:s=\"{}\"><s:Body>{payload}</s:Body></s:Envelope>",
            self.envelope_ns()
        )
    }
}

/// A parsed SOAP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    /// Local name of the Body's child: the response element or `Fault`.
    pub element: String,
}

impl Answer {
    pub fn is_fault(&self) -> bool {
        self.element == "Fault"
    }

    /// Text of the first element with this local name anywhere in the body.
    pub fn text(&self, name: &str) -> Option<String> {
        let doc = Parser::default().parse_string(&self.body).ok()?;
        let root = doc.get_root_element()?;
        find(&root, name).map(|n| n.get_content())
    }

    /// Every text of elements with this local name, in document order.
    pub fn texts(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(doc) = Parser::default().parse_string(&self.body) {
            if let Some(root) = doc.get_root_element() {
                collect(&root, name, &mut out);
            }
        }
        out
    }

    /// The fault's `Fout/Code`.
    pub fn fault_code(&self) -> Option<String> {
        if !self.is_fault() {
            return None;
        }
        let doc = Parser::default().parse_string(&self.body).ok()?;
        let fout = find(&doc.get_root_element()?, "Fout")?;
        fout.get_child_elements()
            .into_iter()
            .find(|c| c.get_name() == "Code")
            .map(|c| c.get_content())
    }

    /// The SOAP fault code (faultcode / Code/Value).
    pub fn soap_fault_code(&self) -> Option<String> {
        self.text("faultcode").or_else(|| self.text("Value"))
    }

    /// Codes of every Bevinding.
    pub fn finding_codes(&self) -> Vec<String> {
        let doc = Parser::default().parse_string(&self.body).unwrap();
        let mut out = Vec::new();
        let mut found = Vec::new();
        nodes(&doc.get_root_element().unwrap(), "Bevinding", &mut found);
        for b in found {
            if let Some(c) = find(&b, "Code") {
                out.push(c.get_content());
            }
        }
        out
    }
}

fn find(node: &Node, name: &str) -> Option<Node> {
    for c in node.get_child_elements() {
        if c.get_name() == name {
            return Some(c);
        }
        if let Some(n) = find(&c, name) {
            return Some(n);
        }
    }
    None
}

fn nodes(node: &Node, name: &str, out: &mut Vec<Node>) {
    for c in node.get_child_elements() {
        if c.get_name() == name {
            out.push(c.clone());
        }
        nodes(&c, name, out);
    }
}

fn collect(node: &Node, name: &str, out: &mut Vec<String>) {
    let mut found = Vec::new();
    nodes(node, name, &mut found);
    out.extend(found.iter().map(Node::get_content));
}

/// Posts a raw body with the given content type and headers.
pub async fn post_raw(
    client: &TestClient,
    path: &str,
    content_type: &str,
    soap_action: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut req = client
        .http
        .post(client.url(path))
        .header("content-type", content_type);
    if let Some(a) = soap_action {
        req = req.header("SOAPAction", format!("\"{a}\""));
    }
    req.body(body).send().await.unwrap()
}

/// Calls `operation` with `payload` over `version`, announcing the right
/// action, and checks the envelope, content type and payload schema.
pub async fn call(
    client: &TestClient,
    path: &str,
    version: Soap,
    namespace: &str,
    operation: &str,
    payload: &str,
) -> Answer {
    let action = format!("{namespace}/{operation}");
    let resp = match version {
        Soap::V11 => {
            post_raw(
                client,
                path,
                "text/xml; charset=utf-8",
                Some(&action),
                version.envelope(payload),
            )
            .await
        }
        Soap::V12 => {
            post_raw(
                client,
                path,
                &format!("application/soap+xml; charset=utf-8; action=\"{action}\""),
                None,
                version.envelope(payload),
            )
            .await
        }
    };
    read(resp, version).await
}

/// Reads and checks an answer (envelope of the version, payload schema-valid).
pub async fn read(resp: reqwest::Response, version: Soap) -> Answer {
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = resp.text().await.unwrap();
    let doc = Parser::default()
        .parse_string(&body)
        .unwrap_or_else(|e| panic!("answer is not XML ({e:?}): {body}"));
    let root = doc.get_root_element().unwrap();
    assert_eq!(root.get_name(), "Envelope", "{body}");
    assert_eq!(
        root.get_namespace().map(|n| n.get_href()).as_deref(),
        Some(version.envelope_ns()),
        "{body}"
    );
    let soap_body = find(&root, "Body").expect("Body");
    let payload = soap_body.get_child_elements().remove(0);
    let element = payload.get_name();
    // The contract holds for answers too: the response payload, or the
    // fault's Fout detail, validates against the service XSD.
    let checked = if element == "Fault" {
        find(&payload, "Fout").expect("Fout detail")
    } else {
        payload
    };
    // The schema set follows the payload's namespace (Fout is in common,
    // which every set imports).
    let set = match checked.get_namespace().map(|n| n.get_href()).as_deref() {
        Some("urn:machtigingen:optin:v1") => SchemaSet::Optin,
        Some("urn:machtigingen:beoordeling:v1") => SchemaSet::Beoordeling,
        Some("urn:machtigingen:terugkoppelingbeheer:v1") => SchemaSet::TerugkoppelingBeheer,
        _ => SchemaSet::Machtigingen,
    };
    if let Err(p) = xsd::validate(set, &checked) {
        panic!("answer does not match the XSD: {p:?}\n{body}");
    }
    Answer {
        status,
        content_type,
        body,
        element,
    }
}
