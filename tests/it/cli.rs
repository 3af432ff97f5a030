//! The binary as an operator uses it: configuration errors, migrate, the PKI
//! and registry commands, and the zero-config `serve` with its curl line.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::support::db::TestDb;

const BIN: &str = env!("CARGO_BIN_EXE_machtigingen");

fn run(dir: &Path, db_url: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .env("MACHTIGINGEN_DATABASE__URL", db_url)
        .env("RUST_LOG", "warn")
        .args(args)
        .output()
        .unwrap()
}

/// `keytool -list -v` of a PKCS#12 file (Java, Debian default-jre-headless):
/// what a JSSE client would load from it.
fn keytool_list(p12: &Path, password: &str) -> String {
    let o = Command::new("keytool")
        .args([
            "-list",
            "-v",
            "-storetype",
            "PKCS12",
            "-storepass",
            password,
        ])
        .arg("-keystore")
        .arg(p12)
        .output()
        .expect("keytool (Debian package default-jre-headless) is needed for this test");
    assert!(o.status.success(), "keytool: {}{}", stdout(&o), stderr(&o));
    stdout(&o)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn config_errors_name_the_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .current_dir(dir.path())
        .env("MACHTIGINGEN_SERVER__LISTEN", "not-an-address")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("server.listen"), "{}", stderr(&o));

    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[database]\nurll = \"sqlite://x.db\"\n").unwrap();
    let o = Command::new(BIN)
        .current_dir(dir.path())
        .args(["--config", file.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("urll"), "{}", stderr(&o));
}

#[tokio::test]
async fn migrate_twice_is_a_no_op() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let first = run(dir.path(), &db.url, &["migrate"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(!stdout(&first).starts_with("0 "), "{}", stdout(&first));
    let second = run(dir.path(), &db.url, &["migrate"]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stdout(&second).starts_with("0 migration(s) applied"),
        "{}",
        stdout(&second)
    );
}

#[tokio::test]
async fn operator_builds_a_pki_and_registry_from_the_command_line() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = |args: &[&str]| {
        let o = run(d, &db.url, args);
        assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
        stdout(&o)
    };
    ok(&["pki", "init"]);
    assert!(
        d.join("data/pki/ca.pem").exists()
            && d.join("data/pki/server.pem").exists()
            && d.join("data/pki/ca.crl").exists()
    );
    // A second init would replace the CA: refused without --force.
    assert!(!run(d, &db.url, &["pki", "init"]).status.success());

    ok(&[
        "party",
        "add",
        "--agb",
        "03123456",
        "--name",
        "Ziekenhuis Test",
    ]);
    ok(&[
        "party",
        "add",
        "--uzovi",
        "3311",
        "--name",
        "Verzekeraar Test",
    ]);
    let bad = run(d, &db.url, &["party", "add", "--agb", "123", "--name", "x"]);
    assert!(
        !bad.status.success() && stderr(&bad).contains("8 digits"),
        "{}",
        stderr(&bad)
    );

    // No PKCS#12 password: refused before anything is issued or registered.
    let issue_vendor = [
        "pki",
        "issue",
        "--party",
        "AGB:03123456",
        "--kind",
        "systeem",
        "--grant",
        "machtigingen:indienen",
        "--out",
        "vendor",
    ];
    let refused = run(d, &db.url, &issue_vendor);
    assert!(
        !refused.status.success() && stderr(&refused).contains("--p12-password-file"),
        "{}",
        stderr(&refused)
    );
    assert!(!d.join("vendor.pem").exists());
    std::fs::write(d.join("empty.txt"), "\n").unwrap();
    let mut with_empty = issue_vendor.to_vec();
    with_empty.extend(["--p12-password-file", "empty.txt"]);
    let refused = run(d, &db.url, &with_empty);
    assert!(!refused.status.success(), "{}", stdout(&refused));
    assert!(!d.join("vendor.pem").exists());

    std::fs::write(d.join("p12.txt"), "geheim wachtwoord\n").unwrap();
    let mut with_file = issue_vendor.to_vec();
    with_file.extend(["--p12-password-file", "p12.txt"]);
    let out = ok(&with_file);
    assert!(
        out.contains("machtigingen:raadplegen machtigingen:indienen"),
        "{out}"
    );
    for ext in ["pem", "key", "p12"] {
        assert!(d.join(format!("vendor.{ext}")).exists(), "vendor.{ext}");
    }
    // Java's key store reads the key entry with its certificate chain.
    let listing = keytool_list(&d.join("vendor.p12"), "geheim wachtwoord");
    assert!(
        listing.contains("PrivateKeyEntry")
            && listing.contains("Certificate chain length: 2")
            && listing.contains("OU=AGB:03123456"),
        "{listing}"
    );
    // The password may come from the environment instead of a file.
    let o = Command::new(BIN)
        .current_dir(d)
        .env("MACHTIGINGEN_DATABASE__URL", &db.url)
        .env("MACHTIGINGEN_P12_PASSWORD", "uit de omgeving")
        .env("RUST_LOG", "warn")
        .args(&issue_vendor[..issue_vendor.len() - 1])
        .arg("vendor-env")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let listing = keytool_list(&d.join("vendor-env.p12"), "uit de omgeving");
    assert!(listing.contains("PrivateKeyEntry"), "{listing}");
    assert!(
        !Command::new("keytool")
            .args(["-list", "-storetype", "PKCS12", "-storepass", "fout"])
            .arg("-keystore")
            .arg(d.join("vendor.p12"))
            .output()
            .unwrap()
            .status
            .success(),
        "a wrong password must not open the key store"
    );
    // An insurer cannot be granted indienen.
    let refused = run(
        d,
        &db.url,
        &[
            "pki",
            "issue",
            "--party",
            "UZOVI:3311",
            "--kind",
            "systeem",
            "--grant",
            "machtigingen:indienen",
            "--out",
            "ins",
            "--p12-password-file",
            "p12.txt",
        ],
    );
    assert!(!refused.status.success(), "{}", stdout(&refused));
    assert!(!d.join("ins.pem").exists());

    // CSR signing: the key never leaves the requester.
    let key = machtigingen::pki::generate_key(machtigingen::config::KeyType::EcP256).unwrap();
    let mut req = openssl::x509::X509Req::builder().unwrap();
    req.set_pubkey(&key).unwrap();
    req.sign(&key, openssl::hash::MessageDigest::sha256())
        .unwrap();
    std::fs::write(d.join("req.csr"), req.build().to_pem().unwrap()).unwrap();
    ok(&[
        "pki",
        "issue",
        "--party",
        "UZOVI:3311",
        "--kind",
        "systeem",
        "--grant",
        "beoordelen",
        "--csr",
        "req.csr",
        "--out",
        "insurer",
    ]);
    assert!(d.join("insurer.pem").exists() && !d.join("insurer.key").exists());

    ok(&[
        "cert",
        "revoke-grant",
        "--cert",
        "vendor.pem",
        "--grant",
        "machtigingen:raadplegen",
    ]);
    ok(&[
        "cert",
        "grant",
        "--cert",
        "vendor.pem",
        "--grant",
        "terugkoppeling:beheren",
    ]);
    ok(&[
        "cert",
        "set-ip",
        "--cert",
        "vendor.pem",
        "--ip",
        "10.0.0.0/8",
    ]);
    let listed = ok(&["cert", "list", "--json"]);
    let certs: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let vendor = certs
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["party"]["reference"] == "AGB:03123456")
        .unwrap();
    assert_eq!(
        vendor["scopes"],
        serde_json::json!(["terugkoppeling:beheren"])
    );
    assert_eq!(vendor["ip_allowlist"], serde_json::json!(["10.0.0.0/8"]));

    let revoked = ok(&["pki", "revoke", "--cert", "vendor.pem"]);
    assert!(revoked.contains("lists 1 certificate"), "{revoked}");
    let crl = openssl::x509::X509Crl::from_pem(&std::fs::read(d.join("data/pki/ca.crl")).unwrap())
        .unwrap();
    let vendor_cert =
        openssl::x509::X509::from_pem(&std::fs::read(d.join("vendor.pem")).unwrap()).unwrap();
    assert!(matches!(
        crl.get_by_cert(&vendor_cert),
        openssl::x509::CrlStatus::Revoked(_)
    ));
}

/// The README's first command on a fresh directory: creates the development
/// PKI, prints a curl line, and that exact line works. SIGTERM stops it cleanly.
#[tokio::test]
async fn zero_config_serve_prints_a_working_curl_line() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .env("MACHTIGINGEN_DATABASE__URL", &db.url)
        .env("MACHTIGINGEN_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("MACHTIGINGEN_SERVER__OPS_LISTEN", "127.0.0.1:0")
        .env("MACHTIGINGEN_SERVER__CONTRACT_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let curl_line = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok);
        let found = lines.find(|l| l.trim_start().starts_with("curl "));
        // Keep draining so the service never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        found
    })
    .await
    .unwrap()
    .expect("serve printed no curl line");
    // The demo PKCS#12 files open with the documented password.
    let password =
        std::fs::read_to_string(dir.path().join("data/demo/p12-wachtwoord.txt")).unwrap();
    assert_eq!(password.trim(), machtigingen::devsetup::DEMO_P12_PASSWORD);
    for demo in [
        "zorgaanbieder",
        "zorgverzekeraar",
        "medewerker",
        "beoordelaar",
    ] {
        let listing = keytool_list(
            &dir.path().join(format!("data/demo/{demo}.p12")),
            password.trim(),
        );
        assert!(
            listing.contains("PrivateKeyEntry") && listing.contains("Certificate chain length: 2"),
            "{listing}"
        );
    }

    let mut answer = String::new();
    for _ in 0..300 {
        let o = Command::new("sh")
            .arg("-c")
            .arg(format!("{} -sS", curl_line.trim()))
            .current_dir(dir.path())
            .output()
            .unwrap();
        answer = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        if o.status.success() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let Ok(body) = serde_json::from_str::<serde_json::Value>(&answer) else {
        let _ = child.kill();
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        panic!("curl answered {answer}; serve said: {err}");
    };
    assert_eq!(body["partij"]["id"], "AGB:03123456");

    // The demo person opens the portal with its persoonlijk certificate and
    // sees itself and its contact person; the systeem certificate is refused.
    let portal = |demo: &str| {
        let o = Command::new("curl")
            .args(["-sS", "-w", "\n%{http_code}", "--cacert", "data/pki/ca.pem"])
            .args(["--cert", &format!("data/demo/{demo}.pem")])
            .args(["--key", &format!("data/demo/{demo}.key")])
            .arg(format!("https://localhost:{port}/portaal/gegevens"))
            .current_dir(dir.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let page = portal("medewerker");
    assert!(
        page.ends_with("200")
            && page.contains("Demo Medewerker (ONTWIKKELING)")
            && page.contains("medewerker@zorgaanbieder.example"),
        "{page}"
    );
    let refused = portal("zorgaanbieder");
    assert!(
        refused.ends_with("403") && refused.contains("AUTZ-004"),
        "{refused}"
    );
    assert!(
        std::fs::read_to_string(dir.path().join("data/demo/beoordelaar.pem")).is_ok(),
        "the assessor's demo certificate is written"
    );

    // Graceful shutdown on SIGTERM.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "serve exited with {status}");
}

#[tokio::test]
async fn operator_manages_contacts_consents_and_reads_history() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = |args: &[&str]| {
        let o = run(d, &db.url, args);
        assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
        stdout(&o)
    };
    ok(&["party", "add", "--agb", "03123456", "--name", "Praktijk"]);
    ok(&["party", "add", "--vendor", "pms-x", "--name", "PMS BV"]);
    let c = ok(&[
        "beheer",
        "contact",
        "--party",
        "AGB:03123456",
        "--naam",
        "M. de Vries",
        "--notificatie",
        "ict@praktijk.example",
    ]);
    assert!(c.contains("ict@praktijk.example"), "{c}");
    let added = ok(&[
        "beheer",
        "consent",
        "add",
        "--provider",
        "AGB:03123456",
        "--vendor",
        "PLATFORM:pms-x",
        "--tot",
        "2099-12-31",
    ]);
    let v: serde_json::Value = serde_json::from_str(&added).unwrap();
    let id = v["id"].as_str().unwrap();
    assert!(ok(&["beheer", "consent", "list", "--provider", "AGB:03123456"]).contains(id));
    // A vendor cannot be the provider side, nor a provider the vendor side.
    assert!(
        !run(
            d,
            &db.url,
            &[
                "beheer",
                "consent",
                "add",
                "--provider",
                "PLATFORM:pms-x",
                "--vendor",
                "AGB:03123456"
            ]
        )
        .status
        .success()
    );
    ok(&[
        "beheer",
        "consent",
        "revoke",
        "--provider",
        "AGB:03123456",
        "--id",
        id,
    ]);
    assert!(
        !run(
            d,
            &db.url,
            &[
                "beheer",
                "consent",
                "revoke",
                "--provider",
                "AGB:03123456",
                "--id",
                id
            ]
        )
        .status
        .success()
    );
    let history = ok(&["beheer", "history", "--party", "AGB:03123456"]);
    for action in [
        "partij.contact",
        "toestemmingsverklaring.registreren",
        "toestemmingsverklaring.intrekken",
    ] {
        assert!(history.contains(action), "{action}: {history}");
    }
}

#[tokio::test]
async fn operator_loads_catalogs_and_purges() {
    let db = TestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = |args: &[&str]| {
        let o = run(d, &db.url, args);
        assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
        stdout(&o)
    };
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/catalogus.json");
    let sample = sample.to_str().unwrap();
    // Unregistered insurers: refused, nothing loaded.
    let o = run(d, &db.url, &["catalog", "load", sample]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not registered"), "{}", stderr(&o));
    ok(&["party", "add", "--uzovi", "3311", "--name", "Noord"]);
    ok(&["party", "add", "--uzovi", "3312", "--name", "Zuid"]);
    ok(&[
        "party",
        "add",
        "--uzovi",
        "9901",
        "--zorgkantoor",
        "--name",
        "Zorgkantoor",
    ]);
    let out = ok(&["catalog", "load", sample]);
    assert!(out.contains("UZOVI:3311"), "{out}");
    let shown = ok(&["catalog", "show", "--uzovi", "3311"]);
    assert!(shown.contains("PLAST-OOGLID"), "{shown}");
    // A broken file names the problem.
    std::fs::write(
        d.join("kapot.json"),
        "{\"verzekeraars\": [{\"uzovi\": 3311}]}",
    )
    .unwrap();
    assert!(
        !run(d, &db.url, &["catalog", "load", "kapot.json"])
            .status
            .success()
    );
    let purged = ok(&["purge"]);
    assert!(purged.contains("total: 0 row(s)"), "{purged}");
}
