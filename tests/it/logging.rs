//! The log never holds a BSN or a message body: the real binary runs with
//! `RUST_LOG=debug` (every crate), gets valid, invalid and hostile documents
//! over both doors, a search by BSN, decisions and their callbacks, and its
//! whole stderr is searched afterwards, with the output of the operator's
//! audit queries (`machtigingen audit patient/search/verify`, the BSN given
//! on the command line, a wrong one too) and of the retention purge
//! (`machtigingen purge`, dry and real), all at debug level, over all of it.

use std::process::Command;

use chrono::Duration;
use diesel::prelude::*;
use machtigingen::registry::Scope;

use crate::fixtures::{self, Aanvraag, NS, beoordeling};
use crate::support::service::Service;
use crate::support::soap::{self, Soap};
use crate::support::{TestApp, TestClient};
use crate::terugkoppeling_support as tk;

/// Valid (11-proef), failing the 11-proef, and too short for the schema.
const BSN_OK: &str = "314159265";
const BSN_ELFPROEF: &str = "314159266";
const BSN_SHORT: &str = "31415926";
const TEXT: &str = "Vertrouwelijke-toelichting-7d1c";

fn aanvraag(bsn: &str) -> Aanvraag {
    Aanvraag {
        bsn: bsn.into(),
        toelichting: Some(TEXT.into()),
        ..Aanvraag::default()
    }
}

async fn soap_submit(provider: &TestClient, v: Soap, bsn: &str) -> soap::Answer {
    let op = format!(
        "<IndienenMachtigingsaanvraag xmlns=\"{NS}\">{}</IndienenMachtigingsaanvraag>",
        aanvraag(bsn).element()
    );
    let path = "/soap/machtigingen/v1";
    soap::call(provider, path, v, NS, "IndienenMachtigingsaanvraag", &op).await
}

#[tokio::test]
async fn debug_log_holds_no_bsn_and_no_message_body() {
    let app = TestApp::builder()
        .config(&tk::config_with(r#"["0s"]"#, "dispatcher = false"))
        .spawn()
        .await;
    fixtures::load_sample_catalog(&app);
    let rx = tk::receiver();
    let mut service = Service::configure(&app, "logging", &tk::config(r#"["0s", "1s"]"#));
    service.log_level = "debug".into();
    let log = app.dir.path().join("service.log");
    service.log_file = Some(log.clone());
    service.start();
    assert!(service.ready().await, "service did not start");

    let provider = app.provider(
        tk::AGB,
        &[Scope::MachtigingenIndienen, Scope::TerugkoppelingBeheren],
    );
    tk::register(&provider, &rx, "soap").await;
    let provider = provider.with_base(&service.base_url());
    let insurer = fixtures::insurer(&app).with_base(&service.base_url());

    // Accepted over both doors, then decided (callbacks carry the request).
    let id = fixtures::submit(&provider, &aanvraag(BSN_OK)).await;
    let ans = soap_submit(&provider, Soap::V12, BSN_OK).await;
    assert_eq!(ans.status, 200, "{}", ans.body);
    for status in ["InBehandeling", "Toegekend"] {
        let path = format!("/api/v1/beoordeling/machtigingsaanvragen/{id}/beoordeling");
        assert_eq!(insurer.post_json(&path, &beoordeling(status)).await.0, 200);
    }
    // Refused: 11-proef, schema, not well-formed, over both doors.
    let (code, _) = fixtures::post_xml(
        &provider,
        "/api/v1/machtigingsaanvragen",
        &aanvraag(BSN_ELFPROEF).xml(),
    )
    .await;
    assert_eq!(code, 422);
    let (code, _) = fixtures::post_xml(
        &provider,
        "/api/v1/machtigingsaanvragen",
        &aanvraag(BSN_SHORT).xml(),
    )
    .await;
    assert_eq!(code, 400);
    let broken = aanvraag(BSN_OK)
        .xml()
        .replace("</Verzekerde>", "</Verzekerd>");
    let (code, _) = fixtures::post_xml(&provider, "/api/v1/machtigingsaanvragen", &broken).await;
    assert_eq!(code, 400);
    let ans = soap_submit(&provider, Soap::V11, BSN_SHORT).await;
    assert!(ans.is_fault(), "{}", ans.body);
    // A search by BSN.
    let (code, body) = provider
        .post_json(
            "/api/v1/machtigingsaanvragen/zoeken",
            &serde_json::json!({"verzekerde": {"bsn": BSN_OK, "geboortedatum": "1970-03-14"}}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert!(
        crate::support::eventually(20, || async { rx.received().len() >= 2 }).await,
        "callbacks not delivered"
    );
    service.kill9();
    let audit = audit_queries(&app);
    assert!(
        audit.contains("diende de machtigingsaanvraag in"),
        "{audit}"
    );
    let purge = purge_everything(&app);
    assert!(purge.contains("machtigingsaanvragen"), "{purge}");

    let text = std::fs::read_to_string(&log).unwrap() + &audit + &purge;
    // The log is really there and really at debug level.
    assert!(text.lines().count() > 20, "log too short:\n{text}");
    assert!(text.contains("DEBUG"), "not a debug log:\n{text}");
    for secret in [
        BSN_OK,
        BSN_ELFPROEF,
        BSN_SHORT,
        TEXT,
        "Jansen",
        "vooraanzicht.jpg",
    ] {
        let hits: Vec<&str> = text.lines().filter(|l| l.contains(secret)).collect();
        assert!(hits.is_empty(), "{secret} logged: {hits:#?}");
    }
}

/// The operator's audit commands at debug level with the BSN on the command
/// line (valid, and failing the 11-proef); returns stdout and stderr of all.
fn audit_queries(app: &crate::support::TestApp) -> String {
    let mut out = String::new();
    for (args, ok) in [
        (
            &[
                "audit",
                "patient",
                "--bsn",
                BSN_OK,
                "--geboortedatum",
                "1970-03-14",
            ][..],
            true,
        ),
        (
            &[
                "audit",
                "patient",
                "--json",
                "--bsn",
                BSN_OK,
                "--geboortedatum",
                "1970-03-14",
            ],
            true,
        ),
        (
            &[
                "audit",
                "search",
                "--json",
                "--bsn",
                BSN_OK,
                "--geboortedatum",
                "1970-03-14",
            ],
            true,
        ),
        (
            &[
                "audit",
                "search",
                "--bsn",
                BSN_OK,
                "--geboortedatum",
                "1970-03-14",
            ],
            true,
        ),
        (
            &[
                "audit",
                "search",
                "--bsn",
                BSN_ELFPROEF,
                "--geboortedatum",
                "1970-03-14",
            ],
            false,
        ),
        (
            &[
                "audit",
                "patient",
                "--bsn",
                BSN_SHORT,
                "--geboortedatum",
                "1970-03-14",
            ],
            false,
        ),
        (&["audit", "verify"], true),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_machtigingen"))
            .current_dir(app.dir.path())
            .env("MACHTIGINGEN_DATABASE__URL", &app.config.database.url)
            .env("RUST_LOG", "debug")
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(o.status.success(), ok, "{args:?}: {text}");
        out.push_str(&text);
    }
    out
}

/// Ages everything past its retention period and runs the command as an
/// operator would (dry, JSON, real) at debug level; returns stdout and
/// stderr of all runs.
fn purge_everything(app: &crate::support::TestApp) -> String {
    use machtigingen::db::schema::{
        audit_log, machtigingsaanvragen as ma, terugkoppeling_deliveries as del,
        terugkoppelingen as tk,
    };
    let now = machtigingen::db::now();
    let mut c = app.db.conn().unwrap();
    diesel::update(ma::table)
        .set(ma::geldig_tot.eq(Some(fixtures::days(-800))))
        .execute(&mut c)
        .unwrap();
    diesel::update(tk::table)
        .set(tk::created_at.eq(now - Duration::days(400)))
        .execute(&mut c)
        .unwrap();
    diesel::update(del::table)
        .set(del::updated_at.eq(now - Duration::days(100)))
        .execute(&mut c)
        .unwrap();
    diesel::update(audit_log::table)
        .set(audit_log::at.eq(now - Duration::days(6000)))
        .execute(&mut c)
        .unwrap();
    drop(c);
    let mut out = String::new();
    for args in [
        &["purge", "--dry-run"][..],
        &["purge", "--dry-run", "--json"],
        &["purge", "--json"],
        &["purge"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_machtigingen"))
            .current_dir(app.dir.path())
            .env("MACHTIGINGEN_DATABASE__URL", &app.config.database.url)
            .env("RUST_LOG", "debug")
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "{args:?}: {text}");
        out.push_str(&text);
    }
    out
}
