//! The examples in `docs/examples/machtigingen/` are the contract a vendor
//! reads first: every WSDL operation has a request and a response example, and
//! every example validates against the shipped XSDs — with the service's own
//! validator and with `xmllint --schema` (libxml2-utils, installed by
//! `.ci/run`).

use std::path::{Path, PathBuf};
use std::process::Command;

use machtigingen::validation::{self, SchemaSet, xsd};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn examples() -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(root().join("docs/examples/machtigingen"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    v.sort();
    v
}

fn schema_for(stem: &str) -> &'static str {
    if stem == "Fout" {
        "schemas/machtigingen-common-v1.xsd"
    } else {
        "schemas/machtigingen-v1.xsd"
    }
}

#[test]
fn every_wsdl_operation_has_request_and_response_examples() {
    let wsdl = std::fs::read_to_string(root().join("wsdl/machtigingen-v1.wsdl")).unwrap();
    let portype = wsdl.split("<wsdl:portType").nth(1).unwrap();
    let portype = portype.split("</wsdl:portType>").next().unwrap();
    let ops: Vec<&str> = portype
        .split("<wsdl:operation name=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert_eq!(ops.len(), 7, "{ops:?}");
    let dir = root().join("docs/examples/machtigingen");
    for op in ops {
        for name in [format!("{op}.xml"), format!("{op}Response.xml")] {
            assert!(dir.join(&name).exists(), "missing example {name}");
        }
    }
}

#[test]
fn examples_validate_with_the_service_validator() {
    let files = examples();
    assert!(files.len() >= 16);
    for path in files {
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let bytes = std::fs::read(&path).unwrap();
        let result = if stem == "Fout" {
            let doc = validation::parse_safe(&bytes).unwrap();
            xsd::validate(SchemaSet::Machtigingen, &doc.get_root_element().unwrap())
        } else {
            validation::document(&bytes, SchemaSet::Machtigingen, &stem).map(|_| ())
        };
        if let Err(p) = result {
            panic!("{}: {p:?}", path.display());
        }
    }
}

#[test]
fn examples_validate_with_xmllint() {
    for path in examples() {
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let out = Command::new("xmllint")
            .current_dir(root())
            .args(["--noout", "--nonet", "--schema", schema_for(&stem)])
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

#[test]
fn the_wsdl_is_well_formed_and_its_schemas_resolve_with_xmllint() {
    let out = Command::new("xmllint")
        .current_dir(root())
        .args(["--noout", "--nonet", "wsdl/machtigingen-v1.wsdl"])
        .output()
        .expect("xmllint");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wsdl = std::fs::read_to_string(root().join("wsdl/machtigingen-v1.wsdl")).unwrap();
    for loc in wsdl.split("schemaLocation=\"").skip(1) {
        let rel = loc.split('"').next().unwrap();
        assert!(root().join("wsdl").join(rel).exists(), "{rel}");
    }
}
