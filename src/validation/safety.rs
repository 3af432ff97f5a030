//! The first gate for any XML we receive, before libxml2 sees it: UTF-8 only,
//! no DOCTYPE (so no DTD, no entity declarations, no external fetch), no
//! processing instructions, no entity references beyond the five predefined
//! ones, and bounded nesting, attributes and namespace declarations.
//!
//! A streaming quick-xml pass: constant memory, linear time, so a hostile
//! document is refused before anything builds a tree from it.

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::error::{Code, Finding, Refusal};

/// Structural limits. Real messages nest about ten deep and carry a handful
/// of attributes; these leave ample room and stop pathological input.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_depth: usize,
    pub max_attributes: usize,
    pub max_namespace_declarations: usize,
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_attributes: 32,
            max_namespace_declarations: 16,
            max_elements: 200_000,
        }
    }
}

/// Line (1-based) of a byte offset, for messages.
pub fn line_of(bytes: &[u8], offset: u64) -> usize {
    let end = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    bytes[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

fn refuse(code: Code, detail: &str, bytes: &[u8], offset: u64, message: String) -> Refusal {
    Refusal::with_findings(
        code,
        detail,
        vec![Finding {
            code,
            location: Some(format!("regel {}", line_of(bytes, offset))),
            message,
        }],
    )
}

/// Checks `bytes` against the rules above; `Ok` means libxml2 may parse it.
pub fn check(bytes: &[u8], limits: Limits) -> Result<(), Refusal> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(refuse(
            Code::XmlNotWellFormed,
            "Het bericht is geen geldige UTF-8.",
            bytes,
            e.valid_up_to() as u64,
            format!("ongeldige UTF-8 bij byte {}", e.valid_up_to()),
        ));
    }
    let mut reader = Reader::from_reader(bytes);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    config.expand_empty_elements = false;

    let mut depth = 0usize;
    let mut elements = 0usize;
    let mut seen_root = false;
    loop {
        let pos = reader.buffer_position();
        let event = reader.read_event().map_err(|e| {
            refuse(
                Code::XmlNotWellFormed,
                "Het bericht is geen welgevormde XML.",
                bytes,
                reader.error_position(),
                e.to_string(),
            )
        })?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if depth == 0 && seen_root {
                    return Err(refuse(
                        Code::XmlNotWellFormed,
                        "Het bericht is geen welgevormde XML.",
                        bytes,
                        pos,
                        "meer dan één root-element".into(),
                    ));
                }
                seen_root = true;
                elements += 1;
                if elements > limits.max_elements {
                    return Err(refuse(
                        Code::XmlLimits,
                        "Het bericht overschrijdt de structuurgrenzen.",
                        bytes,
                        pos,
                        format!("meer dan {} elementen", limits.max_elements),
                    ));
                }
                let (mut attrs, mut nsdecls) = (0usize, 0usize);
                for attr in e.attributes().with_checks(true) {
                    let attr = attr.map_err(|err| {
                        refuse(
                            Code::XmlNotWellFormed,
                            "Het bericht is geen welgevormde XML.",
                            bytes,
                            pos,
                            err.to_string(),
                        )
                    })?;
                    let key: &str = attr.key.into_inner();
                    if key == "xmlns" || key.starts_with("xmlns:") {
                        nsdecls += 1;
                    } else {
                        attrs += 1;
                    }
                }
                if attrs > limits.max_attributes || nsdecls > limits.max_namespace_declarations {
                    return Err(refuse(
                        Code::XmlLimits,
                        "Het bericht overschrijdt de structuurgrenzen.",
                        bytes,
                        pos,
                        format!(
                            "element met {attrs} attributen en {nsdecls} namespace-declaraties (maximaal {} en {})",
                            limits.max_attributes, limits.max_namespace_declarations
                        ),
                    ));
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                    if depth > limits.max_depth {
                        return Err(refuse(
                            Code::XmlLimits,
                            "Het bericht overschrijdt de structuurgrenzen.",
                            bytes,
                            pos,
                            format!("nesting dieper dan {}", limits.max_depth),
                        ));
                    }
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::DocType(_) => {
                return Err(refuse(
                    Code::XmlForbidden,
                    "DOCTYPE, entiteiten en processing instructions zijn niet toegestaan.",
                    bytes,
                    pos,
                    "DOCTYPE is niet toegestaan".into(),
                ));
            }
            Event::PI(_) => {
                return Err(refuse(
                    Code::XmlForbidden,
                    "DOCTYPE, entiteiten en processing instructions zijn niet toegestaan.",
                    bytes,
                    pos,
                    "processing instruction is niet toegestaan".into(),
                ));
            }
            Event::GeneralRef(ref r) => {
                let predefined = matches!(r.as_ref(), "lt" | "gt" | "amp" | "apos" | "quot");
                if !predefined && !r.is_char_ref() {
                    return Err(refuse(
                        Code::XmlForbidden,
                        "DOCTYPE, entiteiten en processing instructions zijn niet toegestaan.",
                        bytes,
                        pos,
                        "entiteitreferentie is niet toegestaan".into(),
                    ));
                }
                if r.is_char_ref() && r.resolve_char_ref().ok().flatten().is_none() {
                    return Err(refuse(
                        Code::XmlNotWellFormed,
                        "Het bericht is geen welgevormde XML.",
                        bytes,
                        pos,
                        "ongeldige tekenreferentie".into(),
                    ));
                }
            }
            Event::Decl(ref d) => {
                if let Some(Ok(enc)) = d.encoding() {
                    if !enc.eq_ignore_ascii_case("utf-8") {
                        return Err(refuse(
                            Code::XmlNotWellFormed,
                            "Alleen UTF-8 wordt ondersteund.",
                            bytes,
                            pos,
                            format!("encoding '{enc}' niet ondersteund"),
                        ));
                    }
                }
            }
            Event::Eof => break,
            Event::Text(_) | Event::CData(_) | Event::Comment(_) => {}
        }
    }
    if !seen_root {
        return Err(refuse(
            Code::XmlNotWellFormed,
            "Het bericht is geen welgevormde XML.",
            bytes,
            0,
            "geen root-element".into(),
        ));
    }
    if depth != 0 {
        return Err(refuse(
            Code::XmlNotWellFormed,
            "Het bericht is geen welgevormde XML.",
            bytes,
            bytes.len() as u64,
            "element niet afgesloten".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(xml: &str) -> Option<Code> {
        check(xml.as_bytes(), Limits::default())
            .err()
            .map(|p| p.code)
    }

    #[test]
    fn plain_document_passes() {
        assert_eq!(
            code(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a x=\"1\"><b>t &amp; &#233;</b><c/></a>"
            ),
            None
        );
    }

    #[test]
    fn doctype_entities_and_pis_are_refused() {
        assert_eq!(
            code("<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>"),
            Some(Code::XmlForbidden)
        );
        assert_eq!(
            code("<!DOCTYPE a SYSTEM \"http://example.com/a.dtd\"><a/>"),
            Some(Code::XmlForbidden)
        );
        assert_eq!(code("<a>&x;</a>"), Some(Code::XmlForbidden));
        assert_eq!(
            code("<?xml-stylesheet href=\"x\"?><a/>"),
            Some(Code::XmlForbidden)
        );
    }

    #[test]
    fn limits_are_enforced() {
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        assert_eq!(code(&deep), Some(Code::XmlLimits));
        let attrs: String = (0..100).map(|i| format!(" a{i}=\"1\"")).collect();
        assert_eq!(code(&format!("<a{attrs}/>")), Some(Code::XmlLimits));
        let ns: String = (0..100)
            .map(|i| format!(" xmlns:n{i}=\"urn:{i}\""))
            .collect();
        assert_eq!(code(&format!("<a{ns}/>")), Some(Code::XmlLimits));
    }

    #[test]
    fn malformed_and_non_utf8_are_refused() {
        assert_eq!(code("<a><b></a>"), Some(Code::XmlNotWellFormed));
        assert_eq!(code("<a>"), Some(Code::XmlNotWellFormed));
        assert_eq!(code("<a/><b/>"), Some(Code::XmlNotWellFormed));
        assert_eq!(code(""), Some(Code::XmlNotWellFormed));
        assert_eq!(
            check(b"<a>\xff</a>", Limits::default())
                .err()
                .map(|p| p.code),
            Some(Code::XmlNotWellFormed)
        );
        assert_eq!(
            code("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>"),
            Some(Code::XmlNotWellFormed)
        );
        assert_eq!(code("<a x=\"1\" x=\"2\"/>"), Some(Code::XmlNotWellFormed));
    }

    #[test]
    fn findings_carry_the_line() {
        let p = check(b"<a>\n<b>\n</a>", Limits::default()).unwrap_err();
        assert_eq!(p.findings[0].location.as_deref(), Some("regel 3"));
    }
}
