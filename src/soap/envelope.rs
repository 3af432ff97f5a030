//! Reading a SOAP request: the envelope of the expected version, an optional
//! Header without mustUnderstand blocks, exactly one Body holding exactly one
//! operation element of this service, whose action (if the client sent one)
//! matches, and which validates against the service's XSD.
//!
//! Runs on a blocking thread: the libxml2 tree is not `Send`, so the caller's
//! `decode` maps the payload to a `Send` command before the tree is dropped.

use libxml::tree::{Document, Node};

use super::{Contract, Version};
use crate::problem::{Code, Finding, Problem};
use crate::validation::{self, El};

fn envelope_error(detail: impl Into<String>, location: &str) -> Problem {
    let detail = detail.into();
    Problem::with_findings(
        Code::SoapEnvelope,
        detail.clone(),
        vec![Finding {
            code: Code::SoapEnvelope,
            location: Some(location.to_owned()),
            message: detail,
        }],
    )
}

fn namespace(node: &Node) -> Option<String> {
    node.get_namespace().map(|n| n.get_href())
}

/// Non-whitespace text directly inside `node` (mixed content is not SOAP).
fn has_text(node: &Node) -> bool {
    node.get_child_nodes()
        .iter()
        .any(|c| c.is_text_node() && !c.get_content().trim().is_empty())
}

fn must_understand(header: &Node, version: Version) -> Option<String> {
    header.get_child_elements().into_iter().find_map(|block| {
        let flag = block.get_attribute_ns("mustUnderstand", version.namespace())?;
        matches!(flag.trim(), "1" | "true").then(|| block.get_name())
    })
}

/// Checks the envelope and returns the operation element.
fn payload(doc: &Document, version: Version) -> Result<Node, Problem> {
    let root = doc
        .get_root_element()
        .ok_or_else(|| envelope_error("Het bericht heeft geen root-element.", "/"))?;
    let ns = namespace(&root);
    if root.get_name() != "Envelope" {
        return Err(envelope_error(
            format!("Verwacht soap:Envelope, gevonden {}.", root.get_name()),
            "/",
        ));
    }
    if ns.as_deref() != Some(version.namespace()) {
        let other = version.other();
        if ns.as_deref() == Some(other.namespace()) {
            return Err(Problem::new(
                Code::SoapVersionMismatch,
                format!(
                    "Het Content-Type hoort bij {}, de envelope bij {}.",
                    version.label(),
                    other.label()
                ),
            ));
        }
        return Err(envelope_error(
            format!(
                "De envelope heeft niet de namespace van {}.",
                version.label()
            ),
            "/Envelope",
        ));
    }
    let children = root.get_child_elements();
    let mut rest = children.iter().peekable();
    if let Some(h) = rest.next_if(|c| c.get_name() == "Header") {
        if namespace(h).as_deref() != Some(version.namespace()) {
            return Err(envelope_error(
                "Header in een andere namespace.",
                "/Envelope/Header",
            ));
        }
        if let Some(name) = must_understand(h, version) {
            return Err(Problem::new(
                Code::SoapMustUnderstand,
                format!("Header-blok {name} met mustUnderstand wordt niet ondersteund."),
            ));
        }
    }
    let body = match rest.next() {
        Some(b)
            if b.get_name() == "Body" && namespace(b).as_deref() == Some(version.namespace()) =>
        {
            b
        }
        _ => {
            return Err(envelope_error(
                "Verwacht soap:Body na de (optionele) soap:Header.",
                "/Envelope",
            ));
        }
    };
    if let Some(extra) = rest.next() {
        return Err(envelope_error(
            format!("Onverwacht element {} na soap:Body.", extra.get_name()),
            "/Envelope",
        ));
    }
    if has_text(&root) || has_text(body) {
        return Err(envelope_error(
            "Tekst buiten de elementen van de envelope.",
            "/Envelope",
        ));
    }
    let mut ops = body.get_child_elements();
    if ops.len() != 1 {
        return Err(envelope_error(
            format!(
                "soap:Body moet precies één operatie-element bevatten, niet {}.",
                ops.len()
            ),
            "/Envelope/Body",
        ));
    }
    Ok(ops.remove(0))
}

/// The whole read: envelope, operation, action, schema, then `decode`.
pub fn read<C>(
    bytes: &[u8],
    contract: &Contract,
    version: Version,
    action: Option<&str>,
    decode: fn(&str, &El) -> Result<C, Problem>,
) -> Result<C, Problem> {
    read_named(bytes, contract, version, action, decode).1
}

/// [`read`], also answering the operation once the payload named one of the
/// contract's (for the request metrics), even when the request then fails.
pub fn read_named<C>(
    bytes: &[u8],
    contract: &Contract,
    version: Version,
    action: Option<&str>,
    decode: fn(&str, &El) -> Result<C, Problem>,
) -> (Option<&'static str>, Result<C, Problem>) {
    let mut operation = None;
    let result = read_inner(bytes, contract, version, action, decode, &mut operation);
    (operation, result)
}

fn read_inner<C>(
    bytes: &[u8],
    contract: &Contract,
    version: Version,
    action: Option<&str>,
    decode: fn(&str, &El) -> Result<C, Problem>,
    operation: &mut Option<&'static str>,
) -> Result<C, Problem> {
    let doc = validation::parse_safe(bytes)?;
    let op = payload(&doc, version)?;
    let name = op.get_name();
    let known = contract.operations.iter().find(|o| **o == name).copied();
    if namespace(&op).as_deref() == Some(contract.namespace) {
        *operation = known;
    }
    if known.is_none() || namespace(&op).as_deref() != Some(contract.namespace) {
        return Err(Problem::new(
            Code::SoapOperation,
            format!(
                "Onbekende operatie {{{}}}{name}.",
                namespace(&op).unwrap_or_default()
            ),
        ));
    }
    if let Some(action) = action.filter(|a| !a.is_empty()) {
        if action != contract.action(&name) {
            return Err(Problem::new(
                Code::SoapOperation,
                format!(
                    "De action '{action}' past niet bij operatie {name} (verwacht '{}').",
                    contract.action(&name)
                ),
            ));
        }
    }
    validation::xsd::validate(contract.schema, &op)?;
    decode(&name, &El::new(op))
}
