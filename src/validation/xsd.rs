//! XSD validation with libxml2, the reference validator. The schemas are
//! compiled into the binary and compiled from memory: libxml2 loads each
//! schema and its `xs:import`s by URL, and those under the
//! `machtigingen-schema:` scheme are answered by an entity loader from the
//! embedded texts — no file is written or read, so nobody can plant schemas
//! at a predictable temporary path (the former `$TMPDIR/machtigingen-schemas-<hash>`).
//! libxml2 handles are not `Send`: each thread compiles the schemas it needs
//! once and keeps them (thread-local).
//!
//! Findings carry the element path (`/Machtigingsaanvraag/Verzekerde/Bsn`) and
//! line, built from the node libxml2 reports — its own `xmlGetNodePath` cannot
//! name elements in a default namespace.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, c_void};
use std::sync::OnceLock;

use libxml::bindings;
use libxml::parser::{Parser, ParserOptions, XmlParseFailure};
use libxml::schemas::{SchemaParserContext, SchemaValidationContext};
use libxml::tree::{Document, Node};

use crate::error::{Code, Finding, Refusal};

/// Every schema file, as shipped in `schemas/`.
pub const FILES: &[(&str, &str)] = &[
    (
        "machtigingen-common-v1.xsd",
        include_str!("../../schemas/machtigingen-common-v1.xsd"),
    ),
    (
        "machtigingen-v1.xsd",
        include_str!("../../schemas/machtigingen-v1.xsd"),
    ),
    ("optin-v1.xsd", include_str!("../../schemas/optin-v1.xsd")),
    (
        "beoordeling-v1.xsd",
        include_str!("../../schemas/beoordeling-v1.xsd"),
    ),
    (
        "terugkoppelingbeheer-v1.xsd",
        include_str!("../../schemas/terugkoppelingbeheer-v1.xsd"),
    ),
    (
        "terugkoppeling-v1.xsd",
        include_str!("../../schemas/terugkoppeling-v1.xsd"),
    ),
];

/// The top-level schemas messages are validated against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaSet {
    Machtigingen,
    Optin,
    Beoordeling,
    TerugkoppelingBeheer,
    /// The callback message providers receive (terugkoppelingen).
    Terugkoppeling,
}

impl SchemaSet {
    fn file(self) -> &'static str {
        match self {
            Self::Machtigingen => "machtigingen-v1.xsd",
            Self::Optin => "optin-v1.xsd",
            Self::Beoordeling => "beoordeling-v1.xsd",
            Self::TerugkoppelingBeheer => "terugkoppelingbeheer-v1.xsd",
            Self::Terugkoppeling => "terugkoppeling-v1.xsd",
        }
    }

    pub fn namespace(self) -> &'static str {
        match self {
            Self::Machtigingen => "urn:machtigingen:machtigingen:v1",
            Self::Optin => "urn:machtigingen:optin:v1",
            Self::Beoordeling => "urn:machtigingen:beoordeling:v1",
            Self::TerugkoppelingBeheer => "urn:machtigingen:terugkoppelingbeheer:v1",
            Self::Terugkoppeling => "urn:machtigingen:terugkoppeling:v1",
        }
    }
}

/// The URL prefix of the embedded schemas; a relative `schemaLocation`
/// resolves under it to another embedded file.
const EMBEDDED: &str = "machtigingen-schema:///";

/// The loader that was installed before ours, for every other URL.
static PREVIOUS_LOADER: OnceLock<bindings::xmlExternalEntityLoader> = OnceLock::new();

/// libxml2's external entity loader: an embedded schema for a
/// `machtigingen-schema:` URL (a name that is not embedded fails, it never
/// falls through to the file system), the previous loader for anything else.
unsafe extern "C" fn embedded_loader(
    url: *const std::ffi::c_char,
    id: *const std::ffi::c_char,
    ctxt: bindings::xmlParserCtxtPtr,
) -> bindings::xmlParserInputPtr {
    // SAFETY: libxml2 passes a NUL-terminated URL (or null); the embedded
    // texts are copied into the buffer (libxml2 2.9 mishandles static ones); the
    // input's file name is allocated by libxml2 (xmlCharStrdup) because
    // libxml2 frees it with the input.
    unsafe {
        if !url.is_null() {
            let u = CStr::from_ptr(url).to_bytes();
            if u.starts_with(b"machtigingen-schema:") {
                let name = u.rsplit(|b| *b == b'/').next().unwrap_or_default();
                let Some((_, text)) = FILES.iter().find(|(n, _)| n.as_bytes() == name) else {
                    return std::ptr::null_mut();
                };
                let Ok(len) = std::ffi::c_int::try_from(text.len()) else {
                    return std::ptr::null_mut();
                };
                let buf = bindings::xmlParserInputBufferCreateMem(
                    text.as_ptr().cast(),
                    len,
                    bindings::xmlCharEncoding_XML_CHAR_ENCODING_NONE,
                );
                if buf.is_null() {
                    return std::ptr::null_mut();
                }
                let input = bindings::xmlNewIOInputStream(
                    ctxt,
                    buf,
                    bindings::xmlCharEncoding_XML_CHAR_ENCODING_NONE,
                );
                if input.is_null() {
                    bindings::xmlFreeParserInputBuffer(buf);
                    return std::ptr::null_mut();
                }
                // The document's URL, against which its imports resolve.
                (*input).filename = bindings::xmlCharStrdup(url).cast();
                return input;
            }
        }
        match PREVIOUS_LOADER.get().copied().flatten() {
            Some(previous) => previous(url, id, ctxt),
            None => std::ptr::null_mut(),
        }
    }
}

/// Installs [`embedded_loader`] once per process.
fn install_loader() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // SAFETY: reading and replacing libxml2's global loader pointer; the
        // previous one is kept for the URLs that are not ours.
        unsafe {
            let _ = PREVIOUS_LOADER.set(bindings::xmlGetExternalEntityLoader());
            bindings::xmlSetExternalEntityLoader(Some(embedded_loader));
        }
    });
}

thread_local! {
    static COMPILED: RefCell<HashMap<SchemaSet, SchemaValidationContext>> = RefCell::new(HashMap::new());
}

/// A compiled schema with a validation context, reused for every message this
/// thread validates (a context serves one validation at a time).
fn compile(set: SchemaSet) -> Result<SchemaValidationContext, String> {
    install_loader();
    let mut parser = SchemaParserContext::from_file(&format!("{EMBEDDED}{}", set.file()));
    SchemaValidationContext::from_parser(&mut parser).map_err(|errs| {
        errs.iter()
            .filter_map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    })
}

fn internal(e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "XSD validation unavailable");
    Refusal::internal("Interne fout bij schemavalidatie.")
}

/// Parses XML that passed `safety::check`. No network, no entity
/// substitution; `huge` lifts libxml2's 10 MB text-node cap because an
/// attachment may be larger — the body limit still bounds everything.
pub fn parse(bytes: &[u8]) -> Result<Document, Refusal> {
    let options = ParserOptions {
        recover: false,
        no_def_dtd: true,
        no_error: true,
        no_warning: true,
        no_net: true,
        huge: true,
        ..ParserOptions::default()
    };
    Parser::default()
        .parse_string_with_diagnostics(bytes, options)
        .map(|(doc, _)| doc)
        .map_err(|failure| {
            let findings = match failure {
                XmlParseFailure::ParseFailed(errors) => errors
                    .into_iter()
                    .take(20)
                    .map(|e| Finding {
                        code: Code::XmlNotWellFormed,
                        location: e.line.map(|l| format!("regel {l}")),
                        message: e.message.unwrap_or_default().trim().to_owned(),
                    })
                    .collect(),
                other => vec![Finding {
                    code: Code::XmlNotWellFormed,
                    location: None,
                    message: other.to_string(),
                }],
            };
            Refusal::with_findings(
                Code::XmlNotWellFormed,
                "Het bericht is geen welgevormde XML.",
                findings,
            )
        })
}

/// One schema error as libxml2 reported it.
struct RawError {
    line: i32,
    path: Option<String>,
    message: String,
}

/// `/Envelope/Body/X/Y[2]`: local names from the root, with a position where
/// an element has same-named siblings before it.
///
/// # Safety
/// `node` must be a valid libxml2 node of a live document.
unsafe fn node_path(mut node: bindings::xmlNodePtr) -> String {
    let mut parts = Vec::new();
    // SAFETY: the caller guarantees a live node; parents and siblings of a live
    // node are live, and element names are NUL-terminated strings.
    unsafe {
        while !node.is_null() && (*node).type_ == bindings::xmlElementType_XML_ELEMENT_NODE {
            let name = CStr::from_ptr((*node).name.cast())
                .to_string_lossy()
                .into_owned();
            let mut index = 1;
            let mut same_after = false;
            let mut sib = (*node).prev;
            while !sib.is_null() {
                if (*sib).type_ == bindings::xmlElementType_XML_ELEMENT_NODE
                    && CStr::from_ptr((*sib).name.cast()).to_bytes() == name.as_bytes()
                {
                    index += 1;
                }
                sib = (*sib).prev;
            }
            let mut sib = (*node).next;
            while !sib.is_null() && !same_after {
                same_after = (*sib).type_ == bindings::xmlElementType_XML_ELEMENT_NODE
                    && CStr::from_ptr((*sib).name.cast()).to_bytes() == name.as_bytes();
                sib = (*sib).next;
            }
            parts.push(if index > 1 || same_after {
                format!("{name}[{index}]")
            } else {
                name
            });
            node = (*node).parent;
        }
    }
    parts.reverse();
    format!("/{}", parts.join("/"))
}

unsafe extern "C" fn collect(ctx: *mut c_void, error: bindings::xmlErrorPtr) {
    if ctx.is_null() || error.is_null() {
        return;
    }
    // SAFETY: ctx is the &mut Vec<RawError> installed by `validate` for the
    // duration of the call; error is libxml2's live error record.
    unsafe {
        let out = &mut *(ctx as *mut Vec<RawError>);
        if out.len() >= 100 {
            return;
        }
        let e = &*error;
        let message = if e.message.is_null() {
            String::from("schemafout")
        } else {
            CStr::from_ptr(e.message)
                .to_string_lossy()
                .trim()
                .to_owned()
        };
        let path = (!e.node.is_null()).then(|| node_path(e.node as bindings::xmlNodePtr));
        out.push(RawError {
            line: e.line,
            path,
            message,
        });
    }
}

/// A libxml2 schema message as the client sees it. It is passed on verbatim:
/// libxml2 names elements `{namespace}Name`, which is exactly what a client
/// needs to see a namespace mistake, and patterns are quoted as the schema
/// has them (`\d{4}-\d{2}-\d{2}`); only whitespace is normalised.
fn finding_message(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Validates `node` (a document root or a SOAP body's payload) against `set`;
/// every finding is returned.
pub fn validate(set: SchemaSet, node: &Node) -> Result<(), Refusal> {
    COMPILED.with(|cell| {
        let mut map = cell.borrow_mut();
        let ctxt = match map.entry(set) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(compile(set).map_err(internal)?)
            }
        }
        .as_ptr();
        let mut errors: Vec<RawError> = Vec::new();
        // SAFETY: ctxt is owned by this thread's map and outlives the call; our
        // handler and the error vector are installed for this validation only
        // and removed before `errors` goes out of scope; node belongs to a live
        // document.
        let rc = unsafe {
            bindings::xmlSchemaSetValidStructuredErrors(
                ctxt,
                Some(collect),
                (&mut errors as *mut Vec<RawError>).cast(),
            );
            let rc = bindings::xmlSchemaValidateOneElement(ctxt, node.node_ptr());
            bindings::xmlSchemaSetValidStructuredErrors(ctxt, None, std::ptr::null_mut());
            rc
        };
        if rc == 0 {
            return Ok(());
        }
        let findings: Vec<Finding> = if errors.is_empty() {
            vec![Finding {
                code: Code::SchemaInvalid,
                location: None,
                message: format!("schemavalidatie mislukt ({rc})"),
            }]
        } else {
            errors
                .into_iter()
                .map(|e| Finding {
                    code: Code::SchemaInvalid,
                    location: Some(match e.path {
                        Some(p) => format!("{p} (regel {})", e.line),
                        None => format!("regel {}", e.line),
                    }),
                    message: finding_message(&e.message),
                })
                .collect()
        };
        Err(Refusal::with_findings(
            Code::SchemaInvalid,
            format!(
                "Het bericht voldoet niet aan het schema ({} bevinding(en)).",
                findings.len()
            ),
            findings,
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Validates `xml` against `set` and answers the finding messages.
    fn messages(set: SchemaSet, xml: &str) -> Vec<String> {
        let doc = parse(xml.as_bytes()).unwrap();
        let root = doc.get_root_element().unwrap();
        match validate(set, &root) {
            Ok(()) => panic!("{xml} is valid"),
            Err(p) => p.findings.into_iter().map(|f| f.message).collect(),
        }
    }

    #[test]
    fn findings_quote_patterns_exactly_as_the_schema_has_them() {
        let m = messages(
            SchemaSet::Beoordeling,
            "<ControlerenMachtiging xmlns=\"urn:machtigingen:beoordeling:v1\">\
             <Uzovi>3311</Uzovi><Machtigingsnummer>A1</Machtigingsnummer>\
             <Bsn>12</Bsn><Prestatie>P</Prestatie><Datum>2026-01-02Z</Datum>\
             </ControlerenMachtiging>",
        );
        let all = m.join("\n");
        assert!(all.contains("'[0-9]{9}'"), "{all}");
        // A valid xs:date with a zone, refused by c:Datum's pattern alone.
        assert!(all.contains("'\\d{4}-\\d{2}-\\d{2}'"), "{all}");
    }

    #[test]
    fn findings_name_elements_with_their_namespace() {
        // Prestatie in the service's namespace instead of the machtigingen one
        // inside an insurer's grant: the finding shows both namespaces.
        let m = messages(
            SchemaSet::Beoordeling,
            "<VastleggenBeoordeling xmlns=\"urn:machtigingen:beoordeling:v1\">\
             <MachtigingsaanvraagId>MA0123456789abcdef0123456789abcdef</MachtigingsaanvraagId>\
             <Toekenning><Uitkomst>Toegekend</Uitkomst><GeldigVan>2026-01-01</GeldigVan>\
             <GeldigTot>2026-02-01</GeldigTot><Prestatie><Code>P</Code><Aantal>1</Aantal></Prestatie>\
             </Toekenning></VastleggenBeoordeling>",
        );
        let all = m.join("\n");
        assert!(
            all.contains("{urn:machtigingen:beoordeling:v1}Code")
                && all.contains("{urn:machtigingen:machtigingen:v1}Code"),
            "{all}"
        );
    }

    #[test]
    fn every_shipped_schema_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".xsd") {
                assert!(
                    FILES.iter().any(|(n, _)| *n == name),
                    "{name} is not in validation::xsd::FILES"
                );
            }
        }
    }
}
