//! The command line as an operator's tool: closed sets listed in `--help`
//! and refused with the valid values, shell completions that the shells
//! accept, and the reference receiver's secret from a file or the
//! environment instead of the command line.

use std::process::{Command, Output, Stdio};

use machtigingen::dispatch::signature;

use crate::support::{free_port, pki};
use crate::terugkoppeling_support as tk;

const BIN: &str = env!("CARGO_BIN_EXE_machtigingen");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn help_lists_the_closed_sets_with_their_wire_spellings() {
    for args in [
        &["pki", "issue", "--help"][..],
        &["cert", "register", "--help"],
        &["cert", "grant", "--help"],
        &["pki", "sign", "--help"],
    ] {
        let o = run(args);
        let help = text(&o);
        assert!(o.status.success(), "{help}");
        for scope in machtigingen::registry::Scope::ALL {
            assert!(
                help.contains(scope.as_str()),
                "{args:?} lacks {scope}: {help}"
            );
        }
    }
    let help = text(&run(&["pki", "issue", "--help"]));
    assert!(
        help.contains("persoonlijk") && help.contains("systeem"),
        "{help}"
    );
    let help = text(&run(&["party", "list", "--help"]));
    for kind in machtigingen::registry::PartyKind::ALL {
        assert!(help.contains(kind.as_str()), "{help}");
    }
    // A typo is refused before anything runs, naming the valid values.
    let o = run(&[
        "cert",
        "grant",
        "--fingerprint",
        "00",
        "--grant",
        "machtigingen:indiennen",
    ]);
    let err = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("machtigingen:indienen"), "{err}");
}

#[test]
fn completions_are_accepted_by_the_shells() {
    for (shell, check) in [
        ("bash", &["bash", "-n"][..]),
        ("zsh", &["zsh", "-n"]),
        ("fish", &["fish", "--no-execute"]),
    ] {
        let o = run(&["completions", shell]);
        let script = String::from_utf8(o.stdout.clone()).unwrap();
        assert!(
            o.status.success() && script.contains("machtigingen"),
            "{shell}: {}",
            text(&o)
        );
        assert!(script.contains("receiver") && script.contains("completions"));
        let path = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(path.path(), &script).unwrap();
        match Command::new(check[0])
            .args(&check[1..])
            .arg(path.path())
            .output()
        {
            Ok(o) => assert!(
                o.status.success(),
                "{shell} refuses the script: {}",
                text(&o)
            ),
            // Only bash is certain to be installed; the others are checked where present.
            Err(e) if shell != "bash" => eprintln!("{shell} not installed ({e}); not checked"),
            Err(e) => panic!("bash: {e}"),
        }
    }
    // The bash script completes the grant values.
    let bash = String::from_utf8(run(&["completions", "bash"]).stdout).unwrap();
    assert!(bash.contains("machtigingen\\:indienen") || bash.contains("machtigingen:indienen"));
}

/// Starts the receiver with `secret_args` and `env`; answers the statuses of a
/// callback signed with `secret` and one signed with another secret.
async fn receiver_answers(secret_args: &[&str], env: Option<&str>, secret: &str) -> (u16, u16) {
    let p = pki();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(BIN);
    cmd.args([
        "receiver",
        "--listen",
        &listen,
        "--tls-cert",
        p.server_cert.to_str().unwrap(),
        "--tls-key",
        p.server_key.to_str().unwrap(),
        "--client-ca",
        p.ca_pem.to_str().unwrap(),
        "--out",
        "/dev/null",
    ])
    .args(secret_args)
    .env("RUST_LOG", "warn")
    .env_remove("MACHTIGINGEN_RECEIVER_SECRET")
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    if let Some(v) = env {
        cmd.env("MACHTIGINGEN_RECEIVER_SECRET", v);
    }
    let mut child = cmd.spawn().unwrap();
    let (_, _, platform) = tk::platform_client();
    let http = reqwest::Client::builder()
        .tls_backend_native()
        .tls_certs_only([
            reqwest::Certificate::from_pem(&std::fs::read(&p.ca_pem).unwrap()).unwrap(),
        ])
        .identity(
            reqwest::Identity::from_pkcs8_pem(&platform.cert_pem(), &platform.key_pem()).unwrap(),
        )
        .build()
        .unwrap();
    let send = |with: String, id: &'static str| {
        let http = http.clone();
        async move {
            let body = r#"{"type":"test"}"#;
            let ts = chrono::Utc::now().timestamp();
            let sig = signature::header(&[with.as_str()], id, ts, body.as_bytes()).unwrap();
            http.post(format!("https://localhost:{port}/cb"))
                .header("content-type", "application/json")
                .header("webhook-id", id)
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", sig)
                .body(body)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    };
    let mut good = None;
    for _ in 0..100 {
        if let Ok(s) = send(secret.to_owned(), "msg_good").await {
            good = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let other = "whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==".to_owned();
    let bad = send(other, "msg_bad").await.ok();
    let _ = child.kill();
    let _ = child.wait();
    (good.unwrap_or(0), bad.unwrap_or(0))
}

#[tokio::test]
async fn the_receiver_takes_its_secret_from_a_file_or_the_environment() {
    let secret = "whsec_dGVzdC1zZWNyZXQtZm9yLXRoZS1yZWNlaXZlcg==";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, format!("{secret}\n")).unwrap();
    let from_file =
        receiver_answers(&["--secret-file", file.to_str().unwrap()], None, secret).await;
    assert_eq!(from_file, (200, 401));
    let from_env = receiver_answers(&[], Some(secret), secret).await;
    assert_eq!(from_env, (200, 401));
    // Without any secret it refuses to start, naming both ways.
    let o = run(&[
        "receiver",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        "x",
        "--tls-key",
        "y",
        "--client-ca",
        "z",
    ]);
    let err = text(&o);
    assert!(!o.status.success());
    assert!(
        err.contains("--secret-file") && err.contains("MACHTIGINGEN_RECEIVER_SECRET"),
        "{err}"
    );
}
