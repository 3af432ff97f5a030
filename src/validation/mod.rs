//! Validation of incoming XML, in the order the contract promises, stopping at
//! the first gate that fails (nothing is stored then):
//! size (transport) → [`safety`] (UTF-8, no DOCTYPE/entities/PIs, limits) →
//! parse (libxml2, no network) → [`xsd`] (every schema error, with path and
//! line) → JVC (the domain's business checks, elsewhere).
//!
//! No actix types: the same pipeline serves SOAP, REST, the fuzzers and the
//! benchmarks. libxml2 handles are not `Send`, so callers run a whole
//! parse-validate-map step on one (blocking) thread.

pub mod bsn;
pub mod safety;
pub mod xsd;

use libxml::tree::{Document, Node};

pub use xsd::SchemaSet;

use crate::error::{Code, Finding, Refusal};

/// Safety check + parse: the tree of a document that is safe to look at.
pub fn parse_safe(bytes: &[u8]) -> Result<Document, Refusal> {
    safety::check(bytes, safety::Limits::default())?;
    xsd::parse(bytes)
}

/// Checks that `node` is `{namespace}name`.
pub fn expect_element(node: &Node, namespace: &str, name: &str) -> Result<(), Refusal> {
    let ns = node.get_namespace().map(|n| n.get_href());
    if node.get_name() == name && ns.as_deref() == Some(namespace) {
        return Ok(());
    }
    let found = match ns {
        Some(ns) => format!("{{{ns}}}{}", node.get_name()),
        None => node.get_name(),
    };
    Err(Refusal::with_findings(
        Code::XmlWrongDocument,
        format!("Verwacht element {name} in namespace {namespace}."),
        vec![Finding {
            code: Code::XmlWrongDocument,
            location: Some(format!("/{}", node.get_name())),
            message: format!("gevonden: {found}"),
        }],
    ))
}

/// A whole document: safe, parsed, the expected root, schema-valid.
pub fn document(bytes: &[u8], set: SchemaSet, root: &str) -> Result<Document, Refusal> {
    let doc = parse_safe(bytes)?;
    let node = doc.get_root_element().ok_or_else(|| {
        Refusal::new(
            Code::XmlNotWellFormed,
            "Het bericht heeft geen root-element.",
        )
    })?;
    expect_element(&node, set.namespace(), root)?;
    xsd::validate(set, &node)?;
    Ok(doc)
}

/// Reading a schema-valid tree. The schema guarantees presence and format, so
/// a miss here is a bug in mapping, answered as an internal error (never a
/// panic on a request path).
///
/// An element's child elements are listed once, with their names, at the
/// first look ([`El::opt`] and the rest): the libxml crate registers every
/// node it hands out in a per-document map and copies every name into a
/// `String`, so walking the children again for each field cost about 3,500
/// instructions per field read (73,000 of a SOAP submit's 368,000 for
/// mapping; docs/benchmarks.md).
#[derive(Clone)]
pub struct El {
    node: Node,
    kids: std::cell::OnceCell<Vec<(String, Node)>>,
}

fn mapping_error(what: &str) -> Refusal {
    tracing::error!(
        element = what,
        "schema-valid document lacks an expected element"
    );
    Refusal::internal("Interne fout bij het lezen van het bericht.")
}

impl El {
    pub fn new(node: Node) -> Self {
        Self {
            node,
            kids: std::cell::OnceCell::new(),
        }
    }

    /// The libxml2 node (to copy or serialise it).
    pub fn node(&self) -> &Node {
        &self.node
    }

    fn kids(&self) -> &[(String, Node)] {
        self.kids.get_or_init(|| {
            self.node
                .get_child_elements()
                .into_iter()
                .map(|n| (n.get_name(), n))
                .collect()
        })
    }

    pub fn name(&self) -> String {
        self.node.get_name()
    }

    pub fn children(&self) -> Vec<El> {
        self.kids()
            .iter()
            .map(|(_, n)| El::new(n.clone()))
            .collect()
    }

    pub fn all(&self, name: &str) -> Vec<El> {
        self.kids()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, n)| El::new(n.clone()))
            .collect()
    }

    pub fn opt(&self, name: &str) -> Option<El> {
        self.kids()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, n)| El::new(n.clone()))
    }

    pub fn req(&self, name: &str) -> Result<El, Refusal> {
        self.opt(name).ok_or_else(|| mapping_error(name))
    }

    pub fn text(&self) -> String {
        self.node.get_content()
    }

    /// Text of a required child, trimmed (xs:token-like fields).
    pub fn str(&self, name: &str) -> Result<String, Refusal> {
        Ok(self.req(name)?.text().trim().to_owned())
    }

    pub fn opt_str(&self, name: &str) -> Option<String> {
        self.opt(name).map(|e| e.text().trim().to_owned())
    }

    pub fn date(&self, name: &str) -> Result<chrono::NaiveDate, Refusal> {
        let s = self.str(name)?;
        chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| mapping_error(name))
    }

    pub fn opt_date(&self, name: &str) -> Result<Option<chrono::NaiveDate>, Refusal> {
        self.opt(name).map(|_| self.date(name)).transpose()
    }

    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Result<T, Refusal> {
        self.str(name)?.parse().map_err(|_| mapping_error(name))
    }

    pub fn opt_bool(&self, name: &str) -> Option<bool> {
        self.opt_str(name).map(|s| s == "true" || s == "1")
    }
}
