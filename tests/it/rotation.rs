//! Rotation without a restart (issue 21): the server certificate and key,
//! the trusted client CA bundles and the platform's callback client
//! certificate are swapped under a running server — by a changed file, by the
//! reload handle (what SIGHUP triggers in-process) and by a real SIGHUP to the
//! binary — and a broken file keeps the previous set in force.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use machtigingen::audit::Actor;
use machtigingen::config::KeyType;
use machtigingen::pki::{self, Ca, ClientSubject, Validity};
use machtigingen::receiver::{self, ReceiverConfig};
use machtigingen::registry::admin;
use machtigingen::registry::{CertKind, PartyKind, Scope};
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode, SslVersion};

use crate::support::{TestApp, TestCert, eventually, pki};
use crate::terugkoppeling_support as tk;

/// A server certificate of the test CA for localhost, written (chain, key)
/// to `dir` under `name` by rename, as a careful operator would.
fn write_server_cert(dir: &Path, name: &str) -> String {
    let key = pki::generate_key(KeyType::EcP256).unwrap();
    let cert = pki()
        .ca
        .issue_server(
            &["localhost"],
            &["127.0.0.1".parse().unwrap()],
            &key,
            Validity::days_from_now(5),
        )
        .unwrap();
    let mut chain = cert.to_pem().unwrap();
    chain.extend(pki().ca.cert.to_pem().unwrap());
    replace(
        &dir.join(format!("{name}.key")),
        &key.private_key_to_pem_pkcs8().unwrap(),
    );
    replace(&dir.join(format!("{name}.pem")), &chain);
    pki::fingerprint(&cert).unwrap()
}

/// Writes beside and renames over `path`.
fn replace(path: &Path, data: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A new TLS connection: the server certificate's fingerprint and the status
/// line of `GET /api/v1/whoami` with `client`'s certificate.
fn probe(addr: SocketAddr, client: &TestCert, trust: &[&Path]) -> Result<(String, String), String> {
    probe_max(addr, client, trust, None)
}

/// [`probe`] with a highest protocol version (TLS 1.2 switches contexts
/// at the same point of the handshake, but through other code).
fn probe_max(
    addr: SocketAddr,
    client: &TestCert,
    trust: &[&Path],
    max: Option<SslVersion>,
) -> Result<(String, String), String> {
    let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(|e| e.to_string())?;
    b.set_max_proto_version(max).map_err(|e| e.to_string())?;
    for ca in trust {
        b.set_ca_file(ca).map_err(|e| e.to_string())?;
    }
    b.set_verify(SslVerifyMode::PEER);
    b.set_certificate(&client.cert).map_err(|e| e.to_string())?;
    b.set_private_key(&client.key).map_err(|e| e.to_string())?;
    let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut tls = b
        .build()
        .connect("localhost", tcp)
        .map_err(|e| format!("handshake: {e}"))?;
    let fp = tls
        .ssl()
        .peer_certificate()
        .map(|c| pki::fingerprint(&c).unwrap())
        .unwrap_or_default();
    tls.write_all(b"GET /api/v1/whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    tls.read_to_end(&mut buf)
        .map_err(|e| format!("read: {e}"))?;
    let line = String::from_utf8_lossy(&buf)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    Ok((fp, line))
}

fn tls_config(dir: &Path, extra: &str) -> String {
    format!(
        "[tls]\ncert = \"{}\"\nkey = \"{}\"\n{extra}\n",
        dir.join("server.pem").display(),
        dir.join("server.key").display()
    )
}

async fn reloads(app: &TestApp, part: &str, result: &str) -> u64 {
    let text = crate::ops::scrape(app).await;
    let needle = format!("machtigingen_tls_reloads_total{{part=\"{part}\",result=\"{result}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&needle))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn server_certificate_swapped_under_load_reaches_new_connections_without_a_failed_request() {
    let dir = tempfile::tempdir().unwrap();
    let old = write_server_cert(dir.path(), "server");
    let app = TestApp::builder()
        .config(&tls_config(dir.path(), "watch_secs = 1"))
        .spawn()
        .await;
    let client = app.provider("03123456", &[Scope::MachtigingenRaadplegen]);
    let cert = client.cert.clone();

    // New connections, one after another, and a kept-alive client beside them.
    let stop = Arc::new(AtomicBool::new(false));
    let (addr, ca) = (app.addr, pki().ca_pem.clone());
    let prober = {
        let (stop, cert) = (stop.clone(), cert.clone());
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                seen.push(probe(addr, &cert, &[&ca]));
                std::thread::sleep(Duration::from_millis(20));
            }
            seen
        })
    };
    let kept = {
        let (stop, client) = (stop.clone(), client.clone());
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                statuses.push(
                    client
                        .http
                        .get(client.url("/api/v1/whoami"))
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .map_err(|e| e.to_string()),
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            statuses
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let new = write_server_cert(dir.path(), "server");
    let ca2 = pki().ca_pem.clone();
    let swapped = eventually(15, || {
        let (cert, ca2, new) = (cert.clone(), ca2.clone(), new.clone());
        async move {
            tokio::task::spawn_blocking(move || probe(addr, &cert, &[&ca2]))
                .await
                .unwrap()
                .is_ok_and(|(fp, _)| fp == new)
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let seen = tokio::task::spawn_blocking(move || prober.join().unwrap())
        .await
        .unwrap();
    let statuses = kept.await.unwrap();
    assert!(swapped, "new connections never got the new certificate");

    let failed: Vec<_> = seen.iter().filter(|r| r.is_err()).collect();
    assert!(failed.is_empty(), "failed connections: {failed:?}");
    let fps: Vec<&str> = seen.iter().flatten().map(|(fp, _)| fp.as_str()).collect();
    assert!(
        seen.iter().flatten().all(|(_, line)| line.contains(" 200")),
        "{seen:?}"
    );
    let first_new = fps
        .iter()
        .position(|f| *f == new)
        .expect("no probe saw the new certificate");
    assert!(
        fps[..first_new].iter().all(|f| *f == old) && first_new > 0,
        "{fps:?}"
    );
    assert!(
        fps[first_new..].iter().all(|f| *f == new),
        "old certificate served after the swap: {fps:?}"
    );
    assert!(
        !statuses.is_empty() && statuses.iter().all(|s| *s == Ok(200)),
        "kept-alive requests: {statuses:?}"
    );
    assert!(reloads(&app, "server", "ok").await >= 1);
    let (ca, addr) = (pki().ca_pem.clone(), app.addr);
    let tls12 = tokio::task::spawn_blocking(move || {
        probe_max(addr, &cert, &[&ca], Some(SslVersion::TLS1_2))
    })
    .await
    .unwrap();
    assert!(
        tls12
            .as_ref()
            .is_ok_and(|(fp, l)| *fp == new && l.contains(" 200")),
        "TLS 1.2: {tls12:?}"
    );
    // The certificate-less contract listener serves the same, rotated certificate.
    let contract = app.contract_addr.expect("contract listener");
    let served = tokio::task::spawn_blocking(move || {
        let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
        b.set_ca_file(&pki().ca_pem).unwrap();
        let tcp = TcpStream::connect(contract).unwrap();
        let tls = b.build().connect("localhost", tcp).unwrap();
        pki::fingerprint(&tls.ssl().peer_certificate().unwrap()).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        served, new,
        "the contract listener kept the old certificate"
    );
}

#[tokio::test]
async fn a_newly_trusted_ca_is_accepted_after_the_swap_and_a_broken_set_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let old = write_server_cert(dir.path(), "server");
    let bundle = dir.path().join("client-ca.pem");
    std::fs::copy(&pki().ca_pem, &bundle).unwrap();
    // Only the reload handle (SIGHUP) reloads: each step is deliberate.
    let app = TestApp::builder()
        .config(&tls_config(
            dir.path(),
            &format!("watch_secs = 0\nclient_ca = [\"{}\"]", bundle.display()),
        ))
        .spawn()
        .await;
    let ours = app
        .provider("03123456", &[Scope::MachtigingenRaadplegen])
        .cert;

    // A certificate of another CA, registered but not yet trusted.
    let other_ca = Ca::create("rotation test CA 2", "test", KeyType::EcP256, 5).unwrap();
    let key = pki::generate_key(KeyType::EcP256).unwrap();
    let foreign = other_ca
        .issue_client(
            &ClientSubject {
                common_name: "provider via CA 2".into(),
                organization: "test".into(),
                organizational_unit: "AGB:03123457".into(),
            },
            &key,
            Validity::days_from_now(5),
        )
        .unwrap();
    let party = app.party(PartyKind::Zorgaanbieder, "03123457");
    admin::register(
        &mut app.db.conn().unwrap(),
        &foreign,
        party,
        CertKind::Systeem,
        [Scope::MachtigingenRaadplegen].into_iter().collect(),
        Vec::new(),
        &Actor::operator(),
    )
    .unwrap();
    let foreign = TestCert::new(foreign, key);
    let ca = pki().ca_pem.clone();
    let try_with = |cert: &TestCert| {
        let (cert, ca, addr) = (cert.clone(), ca.clone(), app.addr);
        async move {
            tokio::task::spawn_blocking(move || probe(addr, &cert, &[&ca]))
                .await
                .unwrap()
        }
    };
    assert!(try_with(&foreign).await.is_err(), "untrusted CA got in");

    // Broken files: the CA bundle unreadable, the certificate half-written.
    let failed_before = reloads(&app, "server", "failed").await;
    std::fs::write(&bundle, b"-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    app.reload.reload();
    assert!(
        eventually(10, || async {
            reloads(&app, "server", "failed").await > failed_before
        })
        .await
    );
    std::fs::copy(&pki().ca_pem, &bundle).unwrap();
    let chain = std::fs::read(dir.path().join("server.pem")).unwrap();
    std::fs::write(dir.path().join("server.pem"), &chain[..chain.len() / 2]).unwrap();
    app.reload.reload();
    assert!(
        eventually(10, || async {
            reloads(&app, "server", "failed").await > failed_before + 1
        })
        .await
    );
    let (fp, line) = try_with(&ours).await.unwrap();
    assert_eq!(fp, old, "the previous certificate stays in force");
    assert!(line.contains(" 200"), "{line}");

    // The new CA added to the bundle (and the certificate repaired).
    std::fs::write(dir.path().join("server.pem"), &chain).unwrap();
    let mut both = std::fs::read(&pki().ca_pem).unwrap();
    both.extend(other_ca.cert.to_pem().unwrap());
    replace(&bundle, &both);
    app.reload.reload();
    assert!(
        eventually(10, || async {
            try_with(&foreign)
                .await
                .is_ok_and(|(_, l)| l.contains(" 200"))
        })
        .await,
        "the newly trusted CA's certificate is not accepted"
    );
    let (_, line) = try_with(&ours).await.unwrap();
    assert!(line.contains(" 200"), "the old CA still trusted: {line}");

    // And trust withdrawn again: the next connection is refused.
    replace(&bundle, &std::fs::read(&pki().ca_pem).unwrap());
    app.reload.reload();
    assert!(eventually(10, || async { try_with(&foreign).await.is_err() }).await);
}

/// The platform's client certificate rotated to one of a CA the receiver
/// trusts exclusively: deliveries fail until the reload, then the retry
/// arrives; a broken replacement afterwards keeps the working one.
#[tokio::test]
async fn callbacks_present_the_rotated_platform_certificate_to_a_real_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (
        dir.path().join("platform.pem"),
        dir.path().join("platform.key"),
    );
    let (c, k, _) = tk::platform_client();
    std::fs::copy(c, &cert_path).unwrap();
    std::fs::copy(k, &key_path).unwrap();
    let config = tk::config_with(
        r#"["0s", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms", "300ms"]"#,
        &format!(
            "client_cert = \"{}\"\nclient_key = \"{}\"",
            cert_path.display(),
            key_path.display()
        ),
    );
    let app = TestApp::builder()
        .config(&format!("{config}\n[tls]\nwatch_secs = 0\n"))
        .spawn()
        .await;

    let new_ca = Ca::create("platform rotation CA", "test", KeyType::EcP256, 5).unwrap();
    let new_ca_pem = dir.path().join("new-ca.pem");
    std::fs::write(&new_ca_pem, new_ca.cert.to_pem().unwrap()).unwrap();
    let r = receiver::start(ReceiverConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls_cert: pki().server_cert.clone(),
        tls_key: pki().server_key.clone(),
        client_ca: new_ca_pem,
        secrets: Vec::new(),
        out: Some(PathBuf::from("/dev/null")),
        tolerance_secs: 300,
        dedup_file: None,
        dedup: Default::default(),
    })
    .unwrap();
    let provider = tk::provider(&app);
    tk::register(&provider, &r, "json").await;

    let id = tk::enqueue(&app, "MA-ROT-1", "ROT-1");
    let failing = eventually(10, || async {
        tk::detail(&provider, &id).await["afleveringen"][0]["log"]
            .as_array()
            .is_some_and(|l| l.len() >= 2)
    })
    .await;
    assert!(failing, "no failed attempts with the old certificate");
    assert!(
        tk::referenties(&r).is_empty(),
        "the receiver accepted the old certificate"
    );

    let key = pki::generate_key(KeyType::EcP256).unwrap();
    let rotated = new_ca
        .issue_client(
            &ClientSubject {
                common_name: "platform rotated".into(),
                organization: "machtigingen test".into(),
                organizational_unit: "PLATFORM:machtigingen".into(),
            },
            &key,
            Validity::days_from_now(5),
        )
        .unwrap();
    replace(&key_path, &key.private_key_to_pem_pkcs8().unwrap());
    replace(&cert_path, &rotated.to_pem().unwrap());
    app.reload.reload();
    assert!(
        eventually(15, || async { tk::referenties(&r) == ["ROT-1"] }).await,
        "not delivered after the rotation"
    );

    // A broken replacement keeps the rotated certificate in use.
    std::fs::write(&cert_path, b"garbage").unwrap();
    app.reload.reload();
    assert!(
        eventually(10, || async {
            reloads(&app, "platform_client", "failed").await >= 1
        })
        .await
    );
    tk::enqueue(&app, "MA-ROT-2", "ROT-2");
    assert!(
        eventually(15, || async { tk::referenties(&r) == ["ROT-1", "ROT-2"] }).await,
        "{:?}",
        tk::referenties(&r)
    );
}

/// The binary reloads on a real SIGHUP (file watching off).
#[tokio::test]
async fn the_binary_reloads_its_certificate_on_sighup() {
    let app = TestApp::spawn().await;
    let client = app
        .provider("03123456", &[Scope::MachtigingenRaadplegen])
        .cert;
    let dir = tempfile::tempdir().unwrap();
    let old = write_server_cert(dir.path(), "server");
    let (port, ops) = (crate::support::free_port(), crate::support::free_port());
    let p = pki();
    let config = dir.path().join("m.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nops_listen = \"127.0.0.1:{ops}\"\ncontract_listen = \"\"\nshutdown_timeout_secs = 1\n\
             [database]\nurl = \"{db}\"\n[tls]\ncert = \"{cert}\"\nkey = \"{key}\"\nclient_ca = [\"{ca}\"]\ncrl = [\"{crl}\"]\nwatch_secs = 0\n\
             [pki]\ndir = \"{pkidir}\"\n[dev]\nbootstrap = false\n[terugkoppeling]\ndispatcher = false\n[retentie]\npurge_interval = \"0s\"\n",
            db = app.config.database.url,
            cert = dir.path().join("server.pem").display(),
            key = dir.path().join("server.key").display(),
            ca = p.ca_pem.display(),
            crl = app.crl_path.display(),
            pkidir = p.dir.display(),
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_machtigingen"))
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        // Kept, so a start that fails says why.
        .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let ca = p.ca_pem.clone();
    let served = |want: String| {
        let (client, ca) = (client.clone(), ca.clone());
        async move {
            tokio::task::spawn_blocking(move || probe(addr, &client, &[&ca]))
                .await
                .unwrap()
                .is_ok_and(|(fp, line)| fp == want && line.contains(" 200"))
        }
    };
    let up = eventually(20, || served(old.clone())).await;
    let new = write_server_cert(dir.path(), "server");
    // Without SIGHUP (and with watching off) nothing changes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let still_old = served(old.clone()).await;
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    let reloaded = eventually(10, || served(new.clone())).await;
    let alive = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        up,
        "the binary did not serve: {}",
        std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default()
    );
    assert!(still_old, "reloaded without being asked");
    assert!(hup.success());
    assert!(alive, "SIGHUP ended the process");
    assert!(reloaded, "SIGHUP did not reload the server certificate");
}
