//! The public contract as files: the five WSDLs, every XSD and the OpenAPI
//! document, laid out as in the repository (`wsdl/`, `schemas/`,
//! `openapi.json`) so the WSDLs' relative `schemaLocation`s resolve. The same
//! list feeds `machtigingen contract export DIR`, the committed copy under
//! `docs/contract/` and the certificate-less contract listener, so the three
//! cannot differ.

pub mod listener;

use std::path::Path;

use crate::rest::openapi;
use crate::validation::xsd;

/// The WSDLs as shipped, by file name. Four are services of this platform
/// (their address is the service endpoint); `terugkoppeling-v1.wsdl` is the
/// callback contract a provider implements, with the provider's own address.
const WSDLS: &[(&str, &str)] = &[
    (
        "machtigingen-v1.wsdl",
        include_str!("../../wsdl/machtigingen-v1.wsdl"),
    ),
    (
        "beoordeling-v1.wsdl",
        include_str!("../../wsdl/beoordeling-v1.wsdl"),
    ),
    ("optin-v1.wsdl", include_str!("../../wsdl/optin-v1.wsdl")),
    (
        "terugkoppelingbeheer-v1.wsdl",
        include_str!("../../wsdl/terugkoppelingbeheer-v1.wsdl"),
    ),
    (
        "terugkoppeling-v1.wsdl",
        include_str!("../../wsdl/terugkoppeling-v1.wsdl"),
    ),
];

/// The placeholder address in the WSDLs of the repository.
pub const WSDL_PLACEHOLDER: &str = "https://localhost/ENDPOINT";

/// One contract file: its path relative to the contract root, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub text: String,
}

/// `server.public_url` when set, else a placeholder that says "fill in".
pub fn base_or_placeholder(public_url: &str) -> String {
    if public_url.is_empty() {
        openapi::PLACEHOLDER_URL.to_owned()
    } else {
        public_url.trim_end_matches('/').to_owned()
    }
}

/// Every contract file with `base` (scheme, host, port of the mTLS listener)
/// as the service address.
pub fn files(base: &str) -> Vec<File> {
    let mut out = Vec::new();
    for (name, text) in WSDLS {
        let service = crate::soap::contracts()
            .into_iter()
            .find(|c| c.wsdl == *text)
            .map(|c| c.path);
        let text = match service {
            Some(path) => text.replace(WSDL_PLACEHOLDER, &format!("{base}{path}")),
            None => (*text).to_owned(),
        };
        out.push(File {
            path: format!("wsdl/{name}"),
            text,
        });
    }
    for (name, text) in xsd::FILES {
        out.push(File {
            path: format!("schemas/{name}"),
            text: (*text).to_owned(),
        });
    }
    let doc = openapi::document(base);
    let mut json = serde_json::to_string_pretty(&doc).unwrap_or_default();
    json.push('\n');
    out.push(File {
        path: "openapi.json".into(),
        text: json,
    });
    out
}

/// Writes every file under `dir` (created when missing); answers the paths.
pub fn export(dir: &Path, base: &str) -> std::io::Result<Vec<String>> {
    let mut written = Vec::new();
    for f in files(base) {
        let target = dir.join(&f.path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, f.text.as_bytes())?;
        written.push(f.path);
    }
    Ok(written)
}

/// The media type a contract file is served with.
pub fn media_type(path: &str) -> &'static str {
    if path.ends_with(".json") {
        "application/json"
    } else {
        "text/xml; charset=utf-8"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_export_is_what_the_code_produces_now() {
        // Regenerate with `machtigingen contract export docs/contract` (with
        // server.public_url empty) after changing a WSDL, XSD or REST handler.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/contract");
        let files = files(&base_or_placeholder(""));
        for f in &files {
            let committed = std::fs::read_to_string(root.join(&f.path))
                .unwrap_or_else(|e| panic!("docs/contract/{}: {e}", f.path));
            assert!(
                committed == f.text,
                "docs/contract/{} differs from what `machtigingen contract export` writes now",
                f.path
            );
        }
        let mut on_disk = Vec::new();
        for sub in ["wsdl", "schemas"] {
            for entry in std::fs::read_dir(root.join(sub)).unwrap() {
                on_disk.push(format!(
                    "{sub}/{}",
                    entry.unwrap().file_name().to_string_lossy()
                ));
            }
        }
        for path in on_disk {
            assert!(
                files.iter().any(|f| f.path == path),
                "docs/contract/{path} is no longer part of the contract"
            );
        }
    }

    #[test]
    fn service_wsdls_get_the_address_and_every_schema_location_resolves() {
        let files = files("https://mt.example.nl:8443");
        let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        for f in files.iter().filter(|f| f.path.starts_with("wsdl/")) {
            assert!(!f.text.contains(WSDL_PLACEHOLDER), "{}", f.path);
            for part in f.text.split("schemaLocation=\"").skip(1) {
                let target = part.split('"').next().unwrap_or_default();
                let resolved = target.replace("../", "");
                assert!(names.contains(&resolved.as_str()), "{}: {target}", f.path);
            }
        }
        let machtigingen = &files[0];
        assert!(
            machtigingen
                .text
                .contains("https://mt.example.nl:8443/soap/machtigingen/v1")
        );
    }
}
