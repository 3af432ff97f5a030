//! Writing SOAP responses: a small element builder over quick-xml's escaping,
//! the envelope around a payload, and the Fault in the shape of each SOAP
//! version with the machine-readable `Fout` detail (every finding).

use std::fmt::Display;

use quick_xml::escape::escape;

use super::Version;
use crate::problem::Problem;

/// Namespace of the `Fout` fault detail (schemas/machtigingen-common-v1.xsd).
pub const COMMON_NS: &str = "urn:machtigingen:common:v1";

/// Builds one XML fragment. Element names are our own constants; every text
/// and attribute value goes through quick-xml's escaping.
#[derive(Debug, Default)]
pub struct Xml {
    buf: String,
}

impl Xml {
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens `name`, declaring `ns` as its default namespace.
    pub fn open_ns(&mut self, name: &str, ns: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push_str(" xmlns=\"");
        self.buf.push_str(&escape(ns));
        self.buf.push_str("\">");
        self
    }

    pub fn open(&mut self, name: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
        self
    }

    /// `<name>text</name>`.
    pub fn leaf(&mut self, name: &str, text: impl Display) -> &mut Self {
        self.open(name);
        self.buf.push_str(&escape(text.to_string()));
        self.close(name)
    }

    /// A leaf only when there is a value.
    pub fn opt_leaf<T: Display>(&mut self, name: &str, text: Option<T>) -> &mut Self {
        if let Some(t) = text {
            self.leaf(name, t);
        }
        self
    }

    /// An already-written fragment (from another builder).
    pub fn raw(&mut self, fragment: &str) -> &mut Self {
        self.buf.push_str(fragment);
        self
    }

    pub fn finish(self) -> String {
        self.buf
    }
}

/// A whole response envelope around `payload`.
pub fn envelope(version: Version, payload: &str) -> String {
    let mut s = String::with_capacity(payload.len() + 200);
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    s.push_str("<soap:Envelope xmlns:soap=\"");
    s.push_str(version.namespace());
    s.push_str("\"><soap:Body>");
    s.push_str(payload);
    s.push_str("</soap:Body></soap:Envelope>");
    s
}

/// The `Fout` detail: code, title, description and every finding.
pub fn fout(p: &Problem) -> String {
    let mut x = Xml::new();
    x.open_ns("Fout", COMMON_NS)
        .leaf("Code", p.code.as_str())
        .leaf("Titel", p.code.title())
        .leaf("Omschrijving", &p.detail);
    for f in &p.findings {
        x.open("Bevinding")
            .leaf("Code", f.code.as_str())
            .opt_leaf("Locatie", f.location.as_deref())
            .leaf("Melding", &f.message)
            .close("Bevinding");
    }
    x.close("Fout");
    x.finish()
}

/// The Fault payload for `p`: Client/Sender for the caller's mistakes,
/// Server/Receiver for ours; VersionMismatch and MustUnderstand where SOAP
/// itself names the fault.
pub fn fault(version: Version, p: &Problem) -> String {
    use crate::problem::Code;
    let client = p.code.is_client_fault();
    let reason = format!("{} {}: {}", p.code.as_str(), p.code.title(), p.detail);
    let detail = fout(p);
    let mut x = Xml::new();
    match version {
        Version::Soap11 => {
            let code = match p.code {
                Code::SoapVersionMismatch => "soap:VersionMismatch",
                Code::SoapMustUnderstand => "soap:MustUnderstand",
                _ if client => "soap:Client",
                _ => "soap:Server",
            };
            // SOAP 1.1 fault children are unqualified.
            x.open("soap:Fault")
                .leaf("faultcode", code)
                .leaf("faultstring", &reason)
                .open("detail")
                .raw(&detail)
                .close("detail")
                .close("soap:Fault");
        }
        Version::Soap12 => {
            let code = match p.code {
                Code::SoapVersionMismatch => "soap:VersionMismatch",
                Code::SoapMustUnderstand => "soap:MustUnderstand",
                _ if client => "soap:Sender",
                _ => "soap:Receiver",
            };
            x.open("soap:Fault")
                .open("soap:Code")
                .leaf("soap:Value", code)
                .close("soap:Code")
                .open("soap:Reason")
                .raw("<soap:Text xml:lang=\"nl\">")
                .raw(&escape(&reason))
                .raw("</soap:Text>")
                .close("soap:Reason")
                .open("soap:Detail")
                .raw(&detail)
                .close("soap:Detail")
                .close("soap:Fault");
        }
    }
    envelope(version, &x.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::{Code, Finding};

    #[test]
    fn text_is_escaped() {
        let mut x = Xml::new();
        x.leaf("A", "<b>&\"");
        assert_eq!(x.finish(), "<A>&lt;b&gt;&amp;&quot;</A>");
    }

    #[test]
    fn fault_shapes_per_version() {
        let p = Problem::with_findings(
            Code::SchemaInvalid,
            "x",
            vec![Finding {
                code: Code::SchemaInvalid,
                location: Some("/a (regel 3)".into()),
                message: "m".into(),
            }],
        );
        let f11 = fault(Version::Soap11, &p);
        assert!(f11.contains("<faultcode>soap:Client</faultcode>"), "{f11}");
        assert!(f11.contains("<Locatie>/a (regel 3)</Locatie>"));
        let f12 = fault(Version::Soap12, &p);
        assert!(
            f12.contains("<soap:Value>soap:Sender</soap:Value>"),
            "{f12}"
        );
        let internal = fault(Version::Soap12, &Problem::internal("x"));
        assert!(internal.contains("soap:Receiver"));
    }
}
