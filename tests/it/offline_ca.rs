//! The platform CA off the serving host (issue 21): `pki.csr_signing = false`
//! refuses self-service CSRs with a code and needs no key on the host;
//! `machtigingen pki sign` signs elsewhere without a database and prints the
//! registration that makes the certificate work; where signing is on, the key
//! is read only after the caller's authorization is checked.

use std::path::Path;
use std::process::Command;

use machtigingen::registry::{Scope, store};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509, X509NameBuilder, X509ReqBuilder};
use serde_json::json;

use crate::beheer::contact_and_system;
use crate::support::{TestApp, TestCert, TestClient, pki};

const BIN: &str = env!("CARGO_BIN_EXE_machtigingen");

fn csr(key: &PKey<Private>) -> String {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "aanvraag").unwrap();
    let mut req = X509ReqBuilder::new().unwrap();
    req.set_subject_name(&name.build()).unwrap();
    req.set_pubkey(key).unwrap();
    req.sign(key, MessageDigest::sha256()).unwrap();
    String::from_utf8(req.build().to_pem().unwrap()).unwrap()
}

fn ec_key() -> PKey<Private> {
    machtigingen::pki::generate_key(machtigingen::config::KeyType::EcP256).unwrap()
}

async fn request(c: &TestClient, key: &PKey<Private>) -> (u16, serde_json::Value) {
    c.post_json(
        "/api/v1/beheer/certificaten",
        &json!({"csr": csr(key), "autorisaties": ["machtigingen:raadplegen"]}),
    )
    .await
}

/// A pki.dir with the CA certificate and, when given, this as its key.
fn pki_dir(key: Option<&[u8]>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&pki().ca_pem, dir.path().join("ca.pem")).unwrap();
    if let Some(k) = key {
        std::fs::write(dir.path().join("ca.key"), k).unwrap();
    }
    dir
}

fn pki_config(dir: &Path, signing: bool) -> String {
    format!(
        "[pki]\ndir = \"{}\"\ncsr_signing = {signing}\n",
        dir.display()
    )
}

#[tokio::test]
async fn with_signing_off_csrs_are_refused_and_pki_sign_works_offline() {
    // No CA key on the serving host at all.
    let dir = pki_dir(None);
    let app = TestApp::builder()
        .config(&pki_config(dir.path(), false))
        .spawn()
        .await;
    let (contact, system) = contact_and_system(&app, "03123456", &[Scope::MachtigingenRaadplegen]);
    let key = ec_key();
    let (status, p) = request(&system, &key).await;
    assert_eq!((status, p["code"].as_str()), (403, Some("AUTZ-001")), "{p}");
    let (status, p) = request(&contact, &key).await;
    assert_eq!((status, p["code"].as_str()), (403, Some("BEH-006")), "{p}");
    assert!(p["detail"].as_str().unwrap().contains("pki sign"), "{p}");

    // Self-service revocation still works and is recorded for the offline CRL.
    let fp = machtigingen::pki::fingerprint(&system.cert.cert).unwrap();
    let (status, v) = contact
        .post_json(
            &format!("/api/v1/beheer/certificaten/{fp}/intrekking"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let entries = store::crl_entries(&mut app.db.conn().unwrap(), &pki().ca.subject()).unwrap();
    let serial = system
        .cert
        .cert
        .serial_number()
        .to_bn()
        .unwrap()
        .to_hex_str()
        .unwrap();
    assert!(
        entries.iter().any(|(s, _)| s.eq_ignore_ascii_case(&serial)),
        "{entries:?} lacks {serial}"
    );

    // Where the key is: `pki sign`, with a database that cannot be opened.
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("aanvraag.csr"), csr(&key)).unwrap();
    let o = Command::new(BIN)
        .current_dir(work.path())
        .env(
            "MACHTIGINGEN_DATABASE__URL",
            "sqlite:///nonexistent-dir/none.db",
        )
        .env("MACHTIGINGEN_PKI__DIR", &pki().dir)
        .env("RUST_LOG", "warn")
        .args([
            "pki",
            "sign",
            "--csr",
            "aanvraag.csr",
            "--party",
            "AGB:03123456",
            "--name",
            "Praktijk Test",
            "--grant",
            "machtigingen:raadplegen",
            "--out",
            "praktijk",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let cert = X509::from_pem(&std::fs::read(work.path().join("praktijk.pem")).unwrap()).unwrap();
    assert!(
        machtigingen::pki::name_to_string(cert.subject_name()).contains("AGB:03123456"),
        "the platform builds the subject"
    );

    // The printed registration, run where the database is, makes it work.
    let line = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("machtigingen cert register"))
        .expect("no registration command printed");
    let args: Vec<&str> = line.split_whitespace().skip(1).collect();
    assert!(line.contains("--grant machtigingen:raadplegen"), "{line}");
    let o = Command::new(BIN)
        .current_dir(work.path())
        .env("MACHTIGINGEN_DATABASE__URL", &app.config.database.url)
        .env("RUST_LOG", "warn")
        .args(&args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let new = app.client(&TestCert::new(cert, key));
    let (status, who) = new.get_json("/api/v1/whoami").await;
    assert_eq!(status, 200, "{who}");
    assert_eq!(who["autorisaties"], json!(["machtigingen:raadplegen"]));
}

#[tokio::test]
async fn with_signing_on_the_key_is_read_only_after_authorization() {
    // A key that cannot be read as one: whoever reaches it gets BEH-003.
    let dir = pki_dir(Some(b"not a key"));
    let app = TestApp::builder()
        .config(&pki_config(dir.path(), true))
        .spawn()
        .await;
    let (contact, system) = contact_and_system(&app, "03123456", &[Scope::MachtigingenRaadplegen]);
    let key = ec_key();
    let (status, p) = request(&system, &key).await;
    assert_eq!(
        (status, p["code"].as_str()),
        (403, Some("AUTZ-001")),
        "the key was read before the authorization was checked: {p}"
    );
    let (status, p) = request(&contact, &key).await;
    assert_eq!((status, p["code"].as_str()), (503, Some("BEH-003")), "{p}");

    // Read per request: the key put in place serves the next one.
    std::fs::copy(pki().dir.join("ca.key"), dir.path().join("ca.key")).unwrap();
    let (status, v) = request(&contact, &key).await;
    assert_eq!(status, 201, "{v}");
}
