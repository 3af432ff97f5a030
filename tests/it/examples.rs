//! The examples in `docs/examples/<service>/` are the contract a vendor reads
//! first: every WSDL operation has a request and a response example, and every
//! example validates against the shipped XSDs — with the service's own
//! validator and with `xmllint --schema` (libxml2-utils, installed by
//! `.ci/run`).

use std::path::{Path, PathBuf};
use std::process::Command;

use machtigingen::validation::{self, SchemaSet, xsd};

/// Service, its WSDL, its schema set and top-level XSD.
const SERVICES: &[(&str, &str, SchemaSet, &str)] = &[
    (
        "machtigingen",
        "wsdl/machtigingen-v1.wsdl",
        SchemaSet::Machtigingen,
        "schemas/machtigingen-v1.xsd",
    ),
    (
        "optin",
        "wsdl/optin-v1.wsdl",
        SchemaSet::Optin,
        "schemas/optin-v1.xsd",
    ),
    (
        "beoordeling",
        "wsdl/beoordeling-v1.wsdl",
        SchemaSet::Beoordeling,
        "schemas/beoordeling-v1.xsd",
    ),
    (
        "terugkoppelingbeheer",
        "wsdl/terugkoppelingbeheer-v1.wsdl",
        SchemaSet::TerugkoppelingBeheer,
        "schemas/terugkoppelingbeheer-v1.xsd",
    ),
    (
        "terugkoppeling",
        "wsdl/terugkoppeling-v1.wsdl",
        SchemaSet::Terugkoppeling,
        "schemas/terugkoppeling-v1.xsd",
    ),
];

/// The root element of an example: its file name, except the callback's
/// answer, whose element is not named after the operation.
fn root_element(stem: &str) -> &str {
    match stem {
        "OntvangenTerugkoppelingResponse" => "OntvangenTerugkoppelingAntwoord",
        other => other,
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn examples(service: &str) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(root().join("docs/examples").join(service))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    v.sort();
    v
}

fn stem(p: &Path) -> String {
    p.file_stem().unwrap().to_str().unwrap().to_owned()
}

fn operations(wsdl: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(wsdl)).unwrap();
    let portype = text.split("<wsdl:portType").nth(1).unwrap();
    let portype = portype.split("</wsdl:portType>").next().unwrap();
    portype
        .split("<wsdl:operation name=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_wsdl_operation_has_request_and_response_examples() {
    for (service, wsdl, _, _) in SERVICES {
        let ops = operations(wsdl);
        // The callback has one operation; every service of the platform five or more.
        let least = if *service == "terugkoppeling" { 1 } else { 5 };
        assert!(ops.len() >= least, "{service}: {ops:?}");
        let dir = root().join("docs/examples").join(service);
        for op in ops {
            for name in [format!("{op}.xml"), format!("{op}Response.xml")] {
                assert!(dir.join(&name).exists(), "missing example {service}/{name}");
            }
        }
    }
}

#[test]
fn examples_validate_with_the_service_validator() {
    for (service, wsdl, set, _) in SERVICES {
        let files = examples(service);
        assert!(files.len() >= 2 * operations(wsdl).len(), "{service}");
        for path in files {
            let bytes = std::fs::read(&path).unwrap();
            // `OntvangenTerugkoppeling.verificatie.xml`: a second example of one element.
            let name = stem(&path).split('.').next().unwrap_or_default().to_owned();
            let result = if name == "Fout" {
                let doc = validation::parse_safe(&bytes).unwrap();
                xsd::validate(*set, &doc.get_root_element().unwrap())
            } else {
                validation::document(&bytes, *set, root_element(&name)).map(|_| ())
            };
            if let Err(p) = result {
                panic!("{}: {p:?}", path.display());
            }
        }
    }
}

#[test]
fn examples_validate_with_xmllint() {
    for (service, _, _, schema) in SERVICES {
        for path in examples(service) {
            let schema = if stem(&path) == "Fout" {
                "schemas/machtigingen-common-v1.xsd"
            } else {
                schema
            };
            let out = Command::new("xmllint")
                .current_dir(root())
                .args(["--noout", "--nonet", "--schema", schema])
                .arg(&path)
                .output()
                .expect("xmllint (Debian package libxml2-utils) is needed for this test");
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn the_wsdls_are_well_formed_and_their_schemas_resolve() {
    for (_, wsdl, _, _) in SERVICES {
        let out = Command::new("xmllint")
            .current_dir(root())
            .args(["--noout", "--nonet", wsdl])
            .output()
            .expect("xmllint");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(root().join(wsdl)).unwrap();
        for loc in text.split("schemaLocation=\"").skip(1) {
            let rel = loc.split('"').next().unwrap();
            assert!(root().join("wsdl").join(rel).exists(), "{wsdl}: {rel}");
        }
    }
}

/// The lines between `--- excerpt: NAME ---` and the next `--- end ---` in
/// `path`, with their common indentation removed.
fn excerpt(path: &str, name: &str) -> String {
    let text = std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let lines: Vec<&str> = text.lines().collect();
    let marker = format!("--- excerpt: {name} ---");
    let start = lines
        .iter()
        .position(|l| l.contains(&marker))
        .unwrap_or_else(|| panic!("{path}: no excerpt {name}"));
    let end = start
        + lines[start..]
            .iter()
            .position(|l| l.contains("--- end ---"))
            .unwrap_or_else(|| panic!("{path}: excerpt {name} has no end"));
    let body = &lines[start + 1..end];
    let indent = body
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    body.iter()
        .map(|l| l.get(indent..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// docs/integratie.md quotes the conformance runners (which CI executes); each
/// quoted block must be exactly the marked excerpt, so the docs cannot drift
/// from code that runs.
#[test]
fn integration_guide_quotes_the_conformance_runners_verbatim() {
    let doc = std::fs::read_to_string(root().join("docs/integratie.md")).unwrap();
    let mut quoted = 0;
    let mut rest = doc.as_str();
    while let Some(at) = rest.find("<!-- excerpt: ") {
        let after = &rest[at + "<!-- excerpt: ".len()..];
        let reference = after.split(" -->").next().unwrap();
        let (path, name) = reference.split_once('#').unwrap();
        let fence = after
            .find("```")
            .expect("a code block after the excerpt marker");
        let block = &after[fence..];
        let body_start = block.find('\n').unwrap() + 1;
        let body_end = block[body_start..].find("\n```").unwrap() + body_start;
        assert_eq!(
            &block[body_start..body_end],
            excerpt(path, name),
            "docs/integratie.md quotes {path}#{name} differently"
        );
        quoted += 1;
        rest = &block[body_end..];
    }
    assert!(quoted >= 8, "only {quoted} excerpts");
}

/// No chameleon include: every schema names its own namespace, so each type
/// exists once, in one namespace, for every toolkit (docs/soap.md).
#[test]
fn every_schema_has_a_target_namespace() {
    for (name, text) in xsd::FILES {
        let root = text.split("<xs:schema").nth(1).unwrap();
        let root = root.split('>').next().unwrap();
        assert!(root.contains("targetNamespace=\""), "{name}");
    }
}

/// Fault messages have one name per service, so generated exception classes
/// (JAX-WS, .NET) can be used side by side.
#[test]
fn fault_messages_have_a_name_per_service() {
    let mut seen = std::collections::HashSet::new();
    for (service, wsdl, _, _) in SERVICES {
        let text = std::fs::read_to_string(root().join(wsdl)).unwrap();
        for fault in text.split("<wsdl:fault name=\"").skip(1) {
            let name = fault.split('"').next().unwrap().to_owned();
            assert!(
                name.ends_with("Fout") && name != "Fout",
                "{service}: {name}"
            );
            seen.insert((name, *service));
        }
    }
    let names: std::collections::HashSet<_> = seen.iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), seen.len(), "a fault name is shared: {seen:?}");
}
