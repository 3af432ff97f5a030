//! An insurer searches the requests addressed to its UZOVI
//! (`ZoekenAanvragen`, `GET|POST /api/v1/beoordeling/machtigingsaanvragen…`)
//! through the real server: by period, status, verstrekking, provider and
//! patient, the same answer on both doors; never another insurer's request
//! nor a provider's Concept; every match once across the `vervolg` pages; a
//! bad token `REQ-006`; a certificate without `beoordelen` `AUTZ-001` before
//! any lookup; every result audited. And the issue's check from outside: an
//! insurer finds its requests by period and revokes a grant, after which the
//! validity check says no and the provider's receiver hears it.

use diesel::prelude::*;
use machtigingen::db::schema::machtigingsaanvragen as ma;
use machtigingen::db::{DbConnection, DbError, write_tx};
use machtigingen::machtiging::model::Status;
use machtigingen::machtiging::store::{self, NewRecord};
use machtigingen::registry::{CertKind, PartyKind, Scope};
use serde_json::{Value, json};

use crate::fixtures::{self, Aanvraag, beoordeling, days, insurer, submit};
use crate::search_paging::{garbled, template, url_encode};
use crate::support::soap::{self, BOTH, Soap};
use crate::support::{TestApp, TestClient, eventually};
use crate::terugkoppeling_support as tk;

const BASE: &str = "/api/v1/beoordeling/machtigingsaanvragen";
const NS: &str = "urn:machtigingen:beoordeling:v1";
const OLD_DAY: &str = "2026-01-10";

/// One stored request, through the store.
struct Seed<'a> {
    agb: &'a str,
    uzovi: &'a str,
    verstrekking: &'a str,
    bsn: &'a str,
    status: Status,
    /// Created on [`OLD_DAY`] instead of now.
    old: bool,
}

impl Default for Seed<'_> {
    fn default() -> Self {
        let (agb, uzovi, verstrekking) = ("01000001", "3311", "PLAST-OOGLID");
        let (bsn, status, old) = ("999999990", Status::Ingediend, false);
        Self {
            agb,
            uzovi,
            verstrekking,
            bsn,
            status,
            old,
        }
    }
}

/// Stores `n` requests like `s`; returns their ids.
fn seed(conn: &mut DbConnection, s: &Seed<'_>, n: usize) -> Vec<String> {
    let mut a = template(s.agb);
    a.uzovi = s.uzovi.into();
    a.verstrekking = s.verstrekking.into();
    a.bsn = s.bsn.into();
    let mut ids = Vec::new();
    write_tx::<_, DbError, _>(conn, |c| {
        for _ in 0..n {
            a.referentie = format!("R-{}", fixtures::random_suffix());
            let hex: String = (0..3).map(|_| fixtures::random_suffix()).collect();
            let id: machtigingen::ids::MachtigingId = format!("MA{}", &hex[..32]).parse().unwrap();
            store::insert(
                c,
                &NewRecord {
                    id: &id,
                    provider_agb: s.agb,
                    submitter: &format!("AGB:{}", s.agb),
                    aanvraag: &a,
                    stored: &a.stored_form(),
                    document: "<Machtigingsaanvraag/>",
                    status: s.status,
                },
            )?;
            if s.old {
                let at = format!("{OLD_DAY}T12:00:00")
                    .parse::<chrono::NaiveDateTime>()
                    .unwrap();
                diesel::update(ma::table.filter(ma::id.eq(id.as_str())))
                    .set(ma::created_at.eq(at))
                    .execute(c)?;
            }
            ids.push(id.as_str().to_owned());
        }
        Ok(())
    })
    .unwrap();
    ids
}

fn insurer_of(app: &TestApp, uzovi: &str) -> TestClient {
    let p = app.party(PartyKind::Zorgverzekeraar, uzovi);
    app.client(&app.issue(&p, CertKind::Systeem, &[Scope::Beoordelen], &[]))
}

fn ids(page: &Value) -> Vec<String> {
    page["resultaten"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|r| r["machtigingsaanvraagId"].as_str().unwrap().to_owned())
        .collect()
}

/// `ids` sorted newest first, as the store orders them.
fn newest_first(conn: &mut DbConnection, ids: &[String]) -> Vec<String> {
    ma::table
        .filter(ma::id.eq_any(ids))
        .order((ma::created_at.desc(), ma::id.desc()))
        .select(ma::id)
        .load(conn)
        .unwrap()
}

/// The SOAP request of `criteria` (elements of `ZoekenAanvragen`).
async fn soap_zoeken(client: &TestClient, v: Soap, criteria: &str) -> soap::Answer {
    let payload = format!("<ZoekenAanvragen xmlns=\"{NS}\">{criteria}</ZoekenAanvragen>");
    soap::call(
        client,
        "/soap/beoordeling/v1",
        v,
        NS,
        "ZoekenAanvragen",
        &payload,
    )
    .await
}

/// The same search through the REST body and both SOAP versions: the
/// matches (newest first) and the total, asserted equal across the doors.
async fn search_everywhere(client: &TestClient, body: Value, soap_criteria: &str) -> Vec<String> {
    let (status, page) = client.post_json(&format!("{BASE}/zoeken"), &body).await;
    assert_eq!(status, 200, "{body}: {page}");
    let rest = ids(&page);
    assert_eq!(page["totaal"], json!(rest.len()), "{page}");
    for v in BOTH {
        let ans = soap_zoeken(client, v, soap_criteria).await;
        assert!(!ans.is_fault(), "{soap_criteria}: {}", ans.body);
        assert_eq!(
            ans.texts("MachtigingsaanvraagId"),
            rest,
            "{soap_criteria}: {}",
            ans.body
        );
        assert_eq!(
            ans.text("Totaal"),
            Some(rest.len().to_string()),
            "{}",
            ans.body
        );
    }
    rest
}

#[tokio::test]
async fn an_insurer_finds_its_requests_by_each_criterion_on_both_doors() {
    let app = TestApp::spawn().await;
    let ins = insurer(&app);
    let other = insurer_of(&app, "3313");
    let mut c = app.db.conn().unwrap();
    let recent = seed(&mut c, &Seed::default(), 3);
    let old = seed(
        &mut c,
        &Seed {
            old: true,
            ..Default::default()
        },
        2,
    );
    let fysio = seed(
        &mut c,
        &Seed {
            agb: "01000002",
            verstrekking: "FYSIO",
            bsn: "111222333",
            status: Status::Toegekend,
            ..Default::default()
        },
        2,
    );
    let concept = Seed {
        status: Status::Concept,
        ..Default::default()
    };
    let concepts = seed(&mut c, &concept, 2);
    let other_uzovi = Seed {
        uzovi: "3313",
        ..Default::default()
    };
    let elsewhere = seed(&mut c, &other_uzovi, 2);
    let mine: Vec<String> = [recent.clone(), old.clone(), fysio.clone()].concat();
    let mine = newest_first(&mut c, &mine);
    let sorted = |c: &mut DbConnection, v: &[String]| newest_first(c, v);

    // Everything of its own, no Concept, nothing of 3313.
    assert_eq!(search_everywhere(&ins, json!({}), "").await, mine);
    // By period.
    assert_eq!(
        search_everywhere(
            &ins,
            json!({"aangemaaktVanaf": OLD_DAY, "aangemaaktTot": OLD_DAY}),
            &format!("<AangemaaktVanaf>{OLD_DAY}</AangemaaktVanaf><AangemaaktTot>{OLD_DAY}</AangemaaktTot>")
        )
        .await,
        sorted(&mut c, &old)
    );
    let today = days(0).to_string();
    assert_eq!(
        search_everywhere(
            &ins,
            json!({"aangemaaktVanaf": today}),
            &format!("<AangemaaktVanaf>{today}</AangemaaktVanaf>")
        )
        .await,
        sorted(&mut c, &[recent.clone(), fysio.clone()].concat())
    );
    // By status; a Concept never.
    assert_eq!(
        search_everywhere(
            &ins,
            json!({"status": "Toegekend"}),
            "<Status>Toegekend</Status>"
        )
        .await,
        sorted(&mut c, &fysio)
    );
    assert!(
        search_everywhere(
            &ins,
            json!({"status": "Concept"}),
            "<Status>Concept</Status>"
        )
        .await
        .is_empty()
    );
    // By verstrekking, by provider.
    assert_eq!(
        search_everywhere(
            &ins,
            json!({"verstrekking": "FYSIO"}),
            "<Verstrekking>FYSIO</Verstrekking>"
        )
        .await,
        sorted(&mut c, &fysio)
    );
    assert_eq!(
        search_everywhere(
            &ins,
            json!({"agbPraktijk": "01000001"}),
            "<AgbPraktijk>01000001</AgbPraktijk>"
        )
        .await,
        sorted(&mut c, &[recent.clone(), old.clone()].concat())
    );
    // By patient: BSN and birth date must both match.
    let patient = json!({"verzekerde": {"bsn": "999999990", "geboortedatum": "1970-03-14"}});
    let patient_xml =
        "<Verzekerde><Bsn>999999990</Bsn><Geboortedatum>1970-03-14</Geboortedatum></Verzekerde>";
    let found = search_everywhere(&ins, patient, patient_xml).await;
    assert_eq!(
        found,
        sorted(&mut c, &[recent.clone(), old.clone()].concat())
    );
    let wrong_birth = json!({"verzekerde": {"bsn": "999999990", "geboortedatum": "1970-03-15"}});
    assert!(
        search_everywhere(
            &ins,
            wrong_birth,
            "<Verzekerde><Bsn>999999990</Bsn><Geboortedatum>1970-03-15</Geboortedatum></Verzekerde>"
        )
        .await
        .is_empty()
    );
    // Criteria together.
    assert_eq!(
        search_everywhere(
            &ins,
            json!({"status": "Ingediend", "agbPraktijk": "01000001", "aangemaaktTot": OLD_DAY}),
            &format!("<Status>Ingediend</Status><AangemaaktTot>{OLD_DAY}</AangemaaktTot><AgbPraktijk>01000001</AgbPraktijk>")
        )
        .await,
        sorted(&mut c, &old)
    );
    // The query-string door gives the same as the body.
    let (s, page) = ins
        .get_json(&format!("{BASE}?verstrekking=FYSIO&status=Toegekend"))
        .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(ids(&page), sorted(&mut c, &fysio));
    let first = &page["resultaten"][0];
    assert_eq!(
        (
            &first["agbPraktijk"],
            &first["verstrekking"],
            &first["status"]
        ),
        (&json!("01000002"), &json!("FYSIO"), &json!("Toegekend")),
        "{page}"
    );
    // Neither door carries a BSN in the answer.
    assert!(!page.to_string().contains("111222333"), "{page}");

    // The other insurer sees its own two only.
    assert_eq!(
        search_everywhere(&other, json!({}), "").await,
        sorted(&mut c, &elsewhere)
    );
    // No search of either ever returned a Concept or crossed over.
    for id in concepts.iter().chain(&elsewhere) {
        let rows = machtigingen::audit::for_object(&mut c, "machtigingsaanvraag", id).unwrap();
        assert!(
            rows.iter().all(|r| r.action != "beoordeling.zoeken"
                || (r.actor == "UZOVI:3313" && elsewhere.contains(id))),
            "{id}: {rows:?}"
        );
    }
    // Every result of a page is audited as found, by the insurer.
    let rows = machtigingen::audit::for_object(&mut c, "machtigingsaanvraag", &fysio[0]).unwrap();
    let found: Vec<_> = rows
        .iter()
        .filter(|r| r.action == "beoordeling.zoeken")
        .map(|r| {
            (
                r.actor.as_str(),
                r.acting_for.as_deref(),
                r.outcome.as_str(),
            )
        })
        .collect();
    assert!(!found.is_empty());
    assert!(
        found.iter().all(|f| *f == ("UZOVI:3311", None, "ok")),
        "{found:?}"
    );
}

#[tokio::test]
async fn vervolg_pages_through_every_request_once_and_a_bad_token_is_refused() {
    let app = TestApp::spawn().await;
    let ins = insurer(&app);
    let mut c = app.db.conn().unwrap();
    let concept = Seed {
        status: Status::Concept,
        ..Default::default()
    };
    let other_uzovi = Seed {
        uzovi: "3313",
        ..Default::default()
    };
    let mut all = Vec::new();
    for round in 0..3 {
        all.extend(seed(&mut c, &Seed::default(), 6));
        // Neither a Concept nor another insurer's request is on any page.
        seed(&mut c, &concept, 2);
        seed(&mut c, &other_uzovi, 2);
        all.extend(seed(
            &mut c,
            &Seed {
                agb: "01000002",
                status: if round == 1 {
                    Status::Toegekend
                } else {
                    Status::Ingediend
                },
                ..Default::default()
            },
            3,
        ));
    }
    let expected = newest_first(&mut c, &all);
    assert_eq!(expected.len(), 27);

    // REST: 4 a page, following vervolg to the end.
    let mut seen: Vec<String> = Vec::new();
    let mut body = json!({"paginaGrootte": 4});
    let mut pages = 0;
    let mut token = None;
    loop {
        let (s, page) = ins.post_json(&format!("{BASE}/zoeken"), &body).await;
        assert_eq!(s, 200, "{page}");
        pages += 1;
        assert_eq!(page["pagina"], pages, "{page}");
        assert_eq!(page["totaal"], 27, "{page}");
        assert_eq!(page["totaalIsMinimum"], false, "{page}");
        seen.extend(ids(&page));
        match page["vervolg"].as_str() {
            Some(t) => {
                token.get_or_insert_with(|| t.to_owned());
                body = json!({"paginaGrootte": 4, "vervolg": t});
            }
            None => break,
        }
    }
    assert_eq!(pages, 7);
    assert_eq!(seen, expected, "no duplicates, no gaps, newest first");

    // SOAP: the same walk, 5 a page.
    for v in BOTH {
        let mut seen: Vec<String> = Vec::new();
        let mut vervolg = String::new();
        loop {
            let ans = soap_zoeken(
                &ins,
                v,
                &format!("<Paginering><PaginaGrootte>5</PaginaGrootte>{vervolg}</Paginering>"),
            )
            .await;
            assert!(!ans.is_fault(), "{}", ans.body);
            seen.extend(ans.texts("MachtigingsaanvraagId"));
            match ans.text("Vervolg") {
                Some(t) => vervolg = format!("<Vervolg>{t}</Vervolg>"),
                None => break,
            }
        }
        assert_eq!(seen, expected, "{v:?}");
    }

    // The query-string door follows the same token.
    let token = token.unwrap();
    let (s, page) = ins
        .get_json(&format!(
            "{BASE}?paginaGrootte=4&vervolg={}",
            url_encode(&token)
        ))
        .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(ids(&page), expected[4..8]);

    // A token that cannot be read: REQ-006 on every door.
    for bad in garbled(&token) {
        let (s, b) = ins
            .get_json(&format!("{BASE}?vervolg={}", url_encode(&bad)))
            .await;
        assert_eq!(
            (s, b["code"].as_str()),
            (400, Some("REQ-006")),
            "{bad}: {b}"
        );
        let (s, b) = ins
            .post_json(&format!("{BASE}/zoeken"), &json!({"vervolg": bad}))
            .await;
        assert_eq!(
            (s, b["code"].as_str()),
            (400, Some("REQ-006")),
            "{bad}: {b}"
        );
        for v in BOTH {
            let ans = soap_zoeken(
                &ins,
                v,
                &format!("<Paginering><Vervolg>{bad}</Vervolg></Paginering>"),
            )
            .await;
            assert_eq!(ans.fault_code().as_deref(), Some("REQ-006"), "{}", ans.body);
        }
    }
    // The provider's deprecated page number is not part of this search.
    let (s, b) = ins
        .post_json(&format!("{BASE}/zoeken"), &json!({"pagina": 2}))
        .await;
    assert_eq!(s, 400, "{b}");
}

#[tokio::test]
async fn a_certificate_without_beoordelen_is_refused_before_any_lookup() {
    let app = TestApp::spawn().await;
    let mut c = app.db.conn().unwrap();
    seed(&mut c, &Seed::default(), 2);
    let party = app.party(PartyKind::Zorgverzekeraar, "3311");
    let staff = app.client(&app.issue(
        &party,
        CertKind::Systeem,
        &[Scope::TerugkoppelingBeheren],
        &[],
    ));
    let provider = app.provider(
        "01000001",
        &[Scope::MachtigingenIndienen, Scope::MachtigingenRaadplegen],
    );
    let audited = |c: &mut DbConnection| -> i64 {
        use machtigingen::db::schema::audit_log as a;
        a::table
            .filter(a::action.eq("beoordeling.zoeken"))
            .count()
            .get_result(c)
            .unwrap()
    };
    for who in [&staff, &provider] {
        let (s, b) = who.get_json(BASE).await;
        assert_eq!((s, b["code"].as_str()), (403, Some("AUTZ-001")), "{b}");
        let patient = json!({"verzekerde": {"bsn": "999999990", "geboortedatum": "1970-03-14"}});
        let (s, b) = who.post_json(&format!("{BASE}/zoeken"), &patient).await;
        assert_eq!((s, b["code"].as_str()), (403, Some("AUTZ-001")), "{b}");
        for v in BOTH {
            let ans = soap_zoeken(who, v, "").await;
            assert_eq!(
                ans.fault_code().as_deref(),
                Some("AUTZ-001"),
                "{}",
                ans.body
            );
        }
    }
    assert_eq!(audited(&mut c), 0);
}

/// The issue's check from outside: an insurer finds its requests by period
/// and revokes a grant; the validity check then says no and the provider's
/// own HTTPS receiver gets the terugkoppeling.
#[tokio::test]
async fn an_insurer_finds_its_requests_by_period_and_revokes_a_grant() {
    let app = tk::app(r#"["0s", "200ms", "500ms"]"#).await;
    fixtures::load_sample_catalog(&app);
    let provider = tk::provider(&app);
    let rx = tk::receiver();
    tk::register(&provider, &rx, "json").await;
    let ins = insurer(&app);

    let granted = submit(&provider, &Aanvraag::default()).await;
    let (s, v) = ins
        .post_json(
            &format!("{BASE}/{granted}/beoordeling"),
            &beoordeling("Toegekend"),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let number = v["beslissing"]["machtigingsnummer"]
        .as_str()
        .unwrap()
        .to_owned();
    let pending = submit(&provider, &Aanvraag::default()).await;

    // Found by period (today), the grant by its status too.
    let today = days(0).to_string();
    let (s, page) = ins
        .get_json(&format!(
            "{BASE}?aangemaaktVanaf={today}&aangemaaktTot={today}"
        ))
        .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(ids(&page), [pending.clone(), granted.clone()]);
    let (_, page) = ins.get_json(&format!("{BASE}?status=Toegekend")).await;
    assert_eq!(ids(&page), std::slice::from_ref(&granted));
    assert_eq!(page["resultaten"][0]["machtigingsnummer"], number.as_str());

    let check = |datum: chrono::NaiveDate| {
        let body = json!({"uzovi": "3311", "machtigingsnummer": number, "bsn": "999999990",
            "prestatie": "DBC-OOGLID", "datum": datum});
        let provider = &provider;
        async move {
            let (s, v) = provider
                .post_json("/api/v1/machtigingen/controle", &body)
                .await;
            assert_eq!(s, 200, "{v}");
            (
                v["geldig"].as_bool().unwrap(),
                v["redenCode"].as_str().unwrap().to_owned(),
            )
        }
    };
    assert_eq!(check(days(30)).await, (true, "GELDIG".to_owned()));

    // Revoked from the result found.
    let found = &ids(&page)[0];
    let (s, v) = ins
        .post_json(
            &format!("{BASE}/{found}/herziening"),
            &json!({"soort": "Herroeping", "redenCode": "FRAUDE",
                "redenTekst": "De verzekerde is niet meer bij ons verzekerd."}),
        )
        .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("Herroepen")), "{v}");
    assert_eq!(check(days(30)).await, (false, "HERROEPEN".to_owned()));

    // The provider's receiver hears the revocation.
    let revoked = || {
        rx.received()
            .iter()
            .filter_map(|m| serde_json::from_str::<Value>(&m.body).ok())
            .any(|v| {
                v["type"] == "machtiging.status"
                    && v["data"]["machtigingsaanvraagId"] == granted.as_str()
                    && v["data"]["status"] == "Herroepen"
            })
    };
    assert!(eventually(10, || async { revoked() }).await);

    // The search now finds it as Herroepen, and the grant no more.
    let (_, page) = ins.get_json(&format!("{BASE}?status=Herroepen")).await;
    assert_eq!(ids(&page), std::slice::from_ref(&granted));
    let (_, page) = ins.get_json(&format!("{BASE}?status=Toegekend")).await;
    assert!(ids(&page).is_empty(), "{page}");
}
