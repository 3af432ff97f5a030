//! One test per JVC code: a failing example and its passing neighbour, both
//! submitted through the real server.

use machtigingen::registry::Scope;

use crate::fixtures::{Aanvraag, Bijlage, app_with_provider, days, finding_codes, post_xml};
use crate::support::TestClient;

type Change = fn(&mut Aanvraag);

struct Case {
    code: &'static str,
    bad: Change,
    good: Change,
    /// AGB of the submitting provider (the default provider when None).
    agb: Option<(&'static str, &'static str)>,
}

fn big(n: usize) -> Vec<Bijlage> {
    vec![Bijlage {
        soort: "foto".into(),
        naam: "a.jpg".into(),
        media_type: "image/jpeg".into(),
        inhoud: vec![1u8; n],
    }]
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            code: "JVC-J01",
            bad: |a| a.bsn = "999999991".into(),
            good: |a| a.bsn = "111222333".into(),
            agb: None,
        },
        Case {
            code: "JVC-J02",
            bad: |a| a.uzovi = "4444".into(),
            good: |a| {
                a.uzovi = "3312".into();
                a.antwoorden.retain(|(q, _)| q == "GEZICHTSVELD");
            },
            agb: None,
        },
        Case {
            code: "JVC-J03",
            bad: |a| a.verstrekking = "ONBEKEND".into(),
            good: |_| {},
            agb: None,
        },
        Case {
            code: "JVC-J04",
            bad: |a| {
                a.bijlagen.push(Bijlage {
                    soort: "brief".into(),
                    naam: "x.exe".into(),
                    media_type: "application/x-msdownload".into(),
                    inhoud: b"MZ".to_vec(),
                })
            },
            good: |a| {
                a.bijlagen.push(Bijlage {
                    soort: "brief".into(),
                    naam: "x.pdf".into(),
                    media_type: "application/pdf".into(),
                    inhoud: b"%PDF-1.7".to_vec(),
                })
            },
            agb: None,
        },
        Case {
            code: "JVC-J05",
            bad: |a| a.bijlagen = big(20 * 1024 * 1024 + 1),
            good: |a| a.bijlagen = big(20 * 1024 * 1024),
            agb: None,
        },
        Case {
            code: "JVC-J06",
            bad: |a| a.prestaties = vec![("XYZ99".into(), 1)],
            good: |_| {},
            agb: None,
        },
        Case {
            code: "JVC-J07",
            bad: |a| a.antwoorden[1].1 = "veel".into(),
            good: |a| a.antwoorden[1].1 = "12.5".into(),
            agb: None,
        },
        Case {
            code: "JVC-J08",
            bad: |a| a.antwoorden.push(("ONBEKEND".into(), "x".into())),
            good: |a| a.antwoorden.push(("OPMERKING".into(), "x".into())),
            agb: None,
        },
        Case {
            code: "JVC-J09",
            bad: |a| a.geboortedatum = days(1),
            good: |a| a.geboortedatum = days(0),
            agb: None,
        },
        Case {
            code: "JVC-V01",
            bad: |a| a.antwoorden.truncate(1),
            good: |_| {},
            agb: None,
        },
        Case {
            code: "JVC-V02",
            bad: |a| a.bijlagen.clear(),
            good: |_| {},
            agb: None,
        },
        Case {
            code: "JVC-C01",
            bad: |a| a.agb = "03999999".into(),
            good: |_| {},
            agb: None,
        },
        Case {
            code: "JVC-C02",
            bad: |a| a.agb = "04123456".into(),
            good: |a| a.agb = "06123456".into(),
            agb: Some(("04123456", "06123456")),
        },
        Case {
            code: "JVC-C03",
            bad: |a| a.einddatum = a.begindatum.pred_opt().unwrap(),
            good: |a| a.einddatum = a.begindatum,
            agb: None,
        },
        Case {
            code: "JVC-C04",
            bad: |a| a.begindatum = days(-31),
            good: |a| a.begindatum = days(-30),
            agb: None,
        },
        Case {
            code: "JVC-C05",
            bad: |a| {
                a.begindatum = days(366);
                a.einddatum = days(400);
            },
            good: |a| {
                a.begindatum = days(365);
                a.einddatum = days(400);
            },
            agb: None,
        },
        Case {
            code: "JVC-C06",
            bad: |a| a.grondslag = "Wlz".into(),
            good: |a| a.grondslag = "Zvw".into(),
            agb: None,
        },
        Case {
            code: "JVC-C07",
            bad: |a| a.grondslag = "Wlz".into(),
            good: |a| a.grondslag = "Zvw".into(),
            agb: None,
        },
        Case {
            code: "JVC-C08",
            bad: |a| a.prestaties.push(("J020".into(), 2)),
            good: |a| a.prestaties[0].1 = 2,
            agb: None,
        },
    ]
}

async fn try_submit(
    client: &TestClient,
    change: Change,
    agb_override: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut a = Aanvraag::default();
    if let Some(agb) = agb_override {
        a.agb = agb.into();
    }
    change(&mut a);
    post_xml(client, "/api/v1/machtigingsaanvragen", &a.xml()).await
}

#[tokio::test]
async fn every_jvc_code_fails_its_example_and_passes_its_neighbour() {
    let (app, client) = app_with_provider().await;
    for case in cases() {
        let (bad_client, good_client, bad_agb, good_agb) = match case.agb {
            Some((bad, good)) => (
                app.provider(bad, &[Scope::MachtigingenIndienen]),
                app.provider(good, &[Scope::MachtigingenIndienen]),
                Some(bad),
                Some(good),
            ),
            None => (client.clone(), client.clone(), None, None),
        };
        let (status, body) = try_submit(&bad_client, case.bad, bad_agb).await;
        assert_eq!(status, 422, "{}: {body}", case.code);
        assert_eq!(body["code"], "JVC-000");
        let codes = finding_codes(&body);
        assert!(
            codes.contains(&case.code.to_owned()),
            "{}: got {codes:?}",
            case.code
        );
        for f in body["findings"].as_array().unwrap() {
            assert!(
                f["location"]
                    .as_str()
                    .is_some_and(|l| l.starts_with("/Machtigingsaanvraag")),
                "{f}"
            );
        }

        let (status, body) = try_submit(&good_client, case.good, good_agb).await;
        assert_eq!(status, 201, "{} neighbour refused: {body}", case.code);
    }
}

#[tokio::test]
async fn all_findings_come_together() {
    let (_app, client) = app_with_provider().await;
    let mut a = Aanvraag {
        bsn: "999999991".into(),
        begindatum: days(-60),
        ..Aanvraag::default()
    };
    a.antwoorden.clear();
    a.bijlagen.clear();
    let (status, body) = post_xml(&client, "/api/v1/machtigingsaanvragen", &a.xml()).await;
    assert_eq!(status, 422);
    let mut codes = finding_codes(&body);
    codes.sort();
    assert_eq!(
        codes,
        ["JVC-C04", "JVC-J01", "JVC-V01", "JVC-V01", "JVC-V02"],
        "{body}"
    );
}

/// JVC-J02 also refuses an insurer the operator deactivated (it would never
/// assess the request), and accepts it again after reactivation.
#[tokio::test]
async fn a_deactivated_insurer_is_not_aangesloten() {
    let (app, client) = app_with_provider().await;
    let operator = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_machtigingen"))
            .current_dir(app.dir.path())
            .env("MACHTIGINGEN_DATABASE__URL", &app.config.database.url)
            .env("RUST_LOG", "warn")
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {o:?}");
    };
    let submit = || try_submit(&client, |_| {}, None);
    assert_eq!(submit().await.0, 201);
    operator(&["party", "deactivate", "--party", "UZOVI:3311"]);
    let (status, body) = submit().await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(finding_codes(&body), ["JVC-J02"], "{body}");
    operator(&["party", "reactivate", "--party", "UZOVI:3311"]);
    let (status, body) = submit().await;
    assert_eq!(status, 201, "{body}");
}
