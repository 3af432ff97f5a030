//! Searches page by an opaque `vervolg` token (keyset), on both doors: every
//! match exactly once, newest first, also while requests arrive between
//! pages; a token that cannot be read is a coded refusal; the total is exact
//! up to its cap and says "more" past it; an intermediary's branches merge.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use machtigingen::db::schema::machtigingsaanvragen as ma;
use machtigingen::db::{DbConnection, DbError, write_tx};
use machtigingen::machtiging::model::{Aanvraag, Status};
use machtigingen::machtiging::search::{self, Criteria, Start, TOTAL_CAP, Visibility};
use machtigingen::machtiging::store::{self, NewRecord};
use serde_json::{Value, json};

use crate::fixtures::{NS, app_with_provider, submit};
use crate::support::soap::{self, BOTH, Soap};
use crate::support::{TestClient, TestDb};

const BASE: &str = "/api/v1/machtigingsaanvragen";
const AGB: &str = "03123456";

pub fn template(agb: &str) -> Aanvraag {
    serde_json::from_value(json!({
        "referentie": "", "agb_praktijk": agb, "agb_zorgverlener": null,
        "software_naam": "test", "software_versie": "1", "bsn": "999999990",
        "geboortedatum": "1970-03-14", "naam": null, "verzekerdennummer": null,
        "uzovi": "3311", "grondslag": "Zvw", "verstrekking": "PLAST-OOGLID", "zorgsoort": "0301",
        "prestaties": [{"code": "DBC-OOGLID", "aantal": 1}], "diagnosecode": null,
        "begindatum": "2026-12-01", "gewenste_einddatum": "2027-05-31",
        "antwoorden": [{"vraag_id": "GEZICHTSVELD", "waarde": "ja"}], "toelichting": null, "bijlagen": []
    }))
    .unwrap()
}

/// `n` stored requests of `agb`, sent by `submitter`, through the store;
/// many share a microsecond, so the id decides their order.
pub fn seed(conn: &mut DbConnection, agb: &str, submitter: &str, n: usize, tag: &str) {
    let mut a = template(agb);
    write_tx::<_, DbError, _>(conn, |c| {
        for i in 0..n {
            a.referentie = format!("{tag}-{i:05}");
            let id: machtigingen::ids::MachtigingId = format!("MA{:032x}", rand_id())
                .parse()
                .expect("a well-formed id");
            let status = if i % 3 == 0 {
                Status::Concept
            } else {
                Status::Ingediend
            };
            store::insert(
                c,
                &NewRecord {
                    id: &id,
                    provider_agb: agb,
                    submitter,
                    aanvraag: &a,
                    stored: &a.stored_form(),
                    document: "<Machtigingsaanvraag/>",
                    status,
                },
            )?;
        }
        Ok(())
    })
    .unwrap();
}

fn rand_id() -> u128 {
    let mut b = [0u8; 16];
    openssl::rand::rand_bytes(&mut b).unwrap();
    u128::from_be_bytes(b)
}

/// Every request of `agb` newest first, as the store holds them.
fn newest_first(conn: &mut DbConnection, agb: &str) -> Vec<String> {
    ma::table
        .filter(ma::provider_agb.eq(agb))
        .order((ma::created_at.desc(), ma::id.desc()))
        .select(ma::id)
        .load(conn)
        .unwrap()
}

fn ids(page: &Value) -> Vec<String> {
    page["resultaten"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["machtigingsaanvraagId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn following_vervolg_returns_every_match_once_newest_first_while_requests_arrive() {
    let (app, client) = app_with_provider().await;
    seed(&mut app.db.conn().unwrap(), AGB, "AGB:03123456", 23, "A");
    let expected = newest_first(&mut app.db.conn().unwrap(), AGB);
    let (status, first) = client.get_json(&format!("{BASE}?paginaGrootte=4")).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        (
            &first["totaal"],
            &first["totaalIsMinimum"],
            &first["pagina"]
        ),
        (&json!(23), &json!(false), &json!(1))
    );
    let mut seen = ids(&first);
    let mut next = first["vervolg"].as_str().map(str::to_owned);
    let mut pages = 1;
    while let Some(token) = next {
        // New requests between pages are newer than every page still to
        // come: they do not appear, and nothing is shown twice or skipped.
        seed(
            &mut app.db.conn().unwrap(),
            AGB,
            "AGB:03123456",
            2,
            &format!("N{pages}"),
        );
        if pages == 2 {
            submit(&client, &crate::fixtures::Aanvraag::default()).await;
        }
        let (status, page) = client
            .get_json(&format!("{BASE}?paginaGrootte=4&vervolg={token}"))
            .await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        assert_eq!(page["pagina"], pages, "{page}");
        assert_eq!(page["paginaGrootte"], 4);
        seen.extend(ids(&page));
        next = page["vervolg"].as_str().map(str::to_owned);
    }
    assert_eq!(pages, 6);
    assert_eq!(seen, expected);

    // The same chain in a POST body, with a criterion.
    let mut seen = Vec::new();
    let mut body = json!({"status": "Concept", "paginaGrootte": 3});
    loop {
        let (status, page) = client.post_json(&format!("{BASE}/zoeken"), &body).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(ids(&page));
        match page["vervolg"].as_str() {
            Some(t) => body["vervolg"] = json!(t),
            None => break,
        }
    }
    let concepts: Vec<String> = {
        let mut c = app.db.conn().unwrap();
        ma::table
            .filter(ma::status.eq("Concept"))
            .order((ma::created_at.desc(), ma::id.desc()))
            .select(ma::id)
            .load(&mut c)
            .unwrap()
    };
    assert_eq!(seen, concepts);
}

#[tokio::test]
async fn the_deprecated_pagina_still_reads_the_first_thousand_results() {
    let (app, client) = app_with_provider().await;
    seed(&mut app.db.conn().unwrap(), AGB, "AGB:03123456", 9, "A");
    let expected = newest_first(&mut app.db.conn().unwrap(), AGB);
    let (_, p2) = client
        .get_json(&format!("{BASE}?pagina=2&paginaGrootte=4"))
        .await;
    assert_eq!(ids(&p2), expected[4..8]);
    assert_eq!(p2["pagina"], 2);
    // It hands over to the token: the page after it follows on.
    let token = p2["vervolg"].as_str().unwrap();
    let (_, p3) = client
        .get_json(&format!("{BASE}?paginaGrootte=4&vervolg={token}"))
        .await;
    assert_eq!(ids(&p3), expected[8..]);
    assert_eq!(p3["pagina"], 3);
    assert!(p3.get("vervolg").is_none(), "{p3}");
    // The last page within the first 1000 results, and the one past it.
    let (status, last) = client
        .get_json(&format!("{BASE}?pagina=50&paginaGrootte=20"))
        .await;
    assert_eq!((status, ids(&last).len()), (200, 0), "{last}");
    let (status, body) = client
        .get_json(&format!("{BASE}?pagina=51&paginaGrootte=20"))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("REQ-006")),
        "{body}"
    );
}

/// A token one character off, cut short, or from elsewhere.
pub fn garbled(token: &str) -> Vec<String> {
    let mut changed = token.to_owned().into_bytes();
    changed[3] = if changed[3] == b'A' { b'B' } else { b'A' };
    vec![
        String::from_utf8(changed).unwrap(),
        token[..token.len() - 2].to_owned(),
        "bm9nIGVlbiB0b2tlbg".into(),
        "%%%".into(),
        "x".repeat(190),
    ]
}

async fn a_token(client: &TestClient) -> String {
    let (_, page) = client.get_json(&format!("{BASE}?paginaGrootte=1")).await;
    page["vervolg"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_garbled_token_is_a_coded_refusal_on_both_doors() {
    let (app, client) = app_with_provider().await;
    seed(&mut app.db.conn().unwrap(), AGB, "AGB:03123456", 3, "A");
    let token = a_token(&client).await;
    for bad in garbled(&token) {
        let q = url_encode(&bad);
        let (status, body) = client.get_json(&format!("{BASE}?vervolg={q}")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("REQ-006")),
            "{bad}: {body}"
        );
        let (status, body) = client
            .post_json(&format!("{BASE}/zoeken"), &json!({"vervolg": bad}))
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("REQ-006")),
            "{bad}: {body}"
        );
        for v in BOTH {
            let ans = zoeken(&client, v, &format!("<Vervolg>{bad}</Vervolg>")).await;
            assert_eq!(ans.fault_code().as_deref(), Some("REQ-006"), "{}", ans.body);
        }
    }
    // A good token with a page number as well is refused too.
    let (status, body) = client
        .post_json(
            &format!("{BASE}/zoeken"),
            &json!({"vervolg": token, "pagina": 2}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("REQ-006")),
        "{body}"
    );
    let ans = zoeken(
        &client,
        Soap::V11,
        &format!("<Pagina>2</Pagina><Vervolg>{token}</Vervolg>"),
    )
    .await;
    assert_eq!(ans.fault_code().as_deref(), Some("REQ-006"), "{}", ans.body);
}

pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn zoeken(client: &TestClient, v: Soap, paginering: &str) -> soap::Answer {
    let payload = format!(
        "<ZoekenMachtigingsaanvragen xmlns=\"{NS}\"><Paginering>{paginering}</Paginering></ZoekenMachtigingsaanvragen>"
    );
    soap::call(
        client,
        "/soap/machtigingen/v1",
        v,
        NS,
        "ZoekenMachtigingsaanvragen",
        &payload,
    )
    .await
}

#[tokio::test]
async fn the_soap_door_pages_by_vervolg_too() {
    let (app, client) = app_with_provider().await;
    seed(&mut app.db.conn().unwrap(), AGB, "AGB:03123456", 7, "A");
    let expected = newest_first(&mut app.db.conn().unwrap(), AGB);
    for v in BOTH {
        let mut seen = Vec::new();
        let mut paginering = "<PaginaGrootte>3</PaginaGrootte>".to_owned();
        let mut pages = 0;
        loop {
            let ans = zoeken(&client, v, &paginering).await;
            assert!(!ans.is_fault(), "{}", ans.body);
            pages += 1;
            assert_eq!(ans.text("Totaal").as_deref(), Some("7"), "{}", ans.body);
            assert_eq!(ans.text("TotaalIsMinimum").as_deref(), Some("false"));
            assert_eq!(ans.text("Pagina"), Some(pages.to_string()));
            seen.extend(ans.texts("MachtigingsaanvraagId"));
            match ans.text("Vervolg") {
                Some(t) => {
                    paginering = format!("<PaginaGrootte>3</PaginaGrootte><Vervolg>{t}</Vervolg>")
                }
                None => break,
            }
        }
        assert_eq!((pages, &seen), (3, &expected), "{v:?}");
    }
}

#[tokio::test]
async fn the_total_is_exact_up_to_the_cap_and_says_more_past_it() {
    let (app, client) = app_with_provider().await;
    let n = usize::try_from(TOTAL_CAP).unwrap();
    // 1000 exactly: a third are Concept.
    seed(&mut app.db.conn().unwrap(), AGB, "AGB:03123456", n, "A");
    let (_, page) = client.get_json(BASE).await;
    assert_eq!(
        (&page["totaal"], &page["totaalIsMinimum"]),
        (&json!(1000), &json!(false))
    );
    seed(&mut app.db.conn().unwrap(), AGB, "AGB:03123456", 1, "B");
    let (_, page) = client.get_json(BASE).await;
    assert_eq!(
        (&page["totaal"], &page["totaalIsMinimum"]),
        (&json!(1000), &json!(true)),
        "{page}"
    );
    assert_eq!(ids(&page).len(), 20);
    // Concept: every third of the first 1000 and the one more.
    let (_, page) = client.get_json(&format!("{BASE}?status=Concept")).await;
    assert_eq!(
        (&page["totaal"], &page["totaalIsMinimum"]),
        (&json!(335), &json!(false))
    );
    let ans = zoeken(&client, Soap::V12, "").await;
    assert_eq!(ans.text("Totaal").as_deref(), Some("1000"), "{}", ans.body);
    assert_eq!(ans.text("TotaalIsMinimum").as_deref(), Some("true"));
}

/// Pages through `who`'s matches with the store's keyset, `size` at a time.
fn walk(conn: &mut DbConnection, who: &Visibility, c: &Criteria, size: i64) -> Vec<String> {
    let mut out: Vec<(NaiveDateTime, String)> = Vec::new();
    let mut start = Start::First;
    loop {
        let page = search::page(conn, who, c, &start, size).unwrap();
        let Some(last) = page.last() else { break };
        start = Start::After {
            created_at: last.created_at,
            id: last.id.clone(),
        };
        out.extend(page.iter().map(|r| (r.created_at, r.id.clone())));
        if i64::try_from(page.len()).unwrap() < size {
            break;
        }
    }
    out.into_iter().map(|(_, id)| id).collect()
}

#[tokio::test]
async fn an_intermediarys_branches_merge_without_doubles_or_gaps() {
    let (_t, db) = TestDb::migrated().await;
    let mut c = db.conn().unwrap();
    let vendor = "PLATFORM:pms-x";
    seed(&mut c, "01000001", "AGB:01000001", 5, "A");
    seed(&mut c, "01000002", "AGB:01000002", 4, "B");
    seed(&mut c, "01000001", vendor, 3, "VA");
    seed(&mut c, "01000003", vendor, 4, "VC"); // consent since withdrawn
    seed(&mut c, "01000001", "AGB:01000001", 2, "A2");
    seed(&mut c, "01000009", "AGB:01000009", 6, "X"); // not visible
    let who = Visibility::Provider {
        agbs: vec!["01000001".into(), "01000002".into()],
    };
    let expected: Vec<String> = ma::table
        .filter(ma::provider_agb.eq_any(["01000001", "01000002"]))
        .order((ma::created_at.desc(), ma::id.desc()))
        .select(ma::id)
        .load(&mut c)
        .unwrap();
    assert_eq!(expected.len(), 14);
    for size in [1, 2, 5, 14, 100] {
        assert_eq!(
            walk(&mut c, &who, &Criteria::default(), size),
            expected,
            "{size}"
        );
    }
    assert_eq!(
        search::count(&mut c, &who, &Criteria::default(), TOTAL_CAP).unwrap(),
        (14, false)
    );
    assert_eq!(
        search::count(&mut c, &who, &Criteria::default(), 13).unwrap(),
        (13, true)
    );
    assert_eq!(
        search::count(&mut c, &who, &Criteria::default(), 14).unwrap(),
        (14, false)
    );
    // One provider's AGB narrows to that branch; an AGB not served matches
    // nothing rather than widening what the intermediary sees.
    let only = |agb: &str| Criteria {
        provider_agb: Some(agb.into()),
        ..Default::default()
    };
    let b: Vec<String> = ma::table
        .filter(ma::provider_agb.eq("01000002"))
        .order((ma::created_at.desc(), ma::id.desc()))
        .select(ma::id)
        .load(&mut c)
        .unwrap();
    assert_eq!(walk(&mut c, &who, &only("01000002"), 3), b);
    assert!(walk(&mut c, &who, &only("01000009"), 3).is_empty());
    assert_eq!(
        search::count(&mut c, &who, &only("01000009"), TOTAL_CAP).unwrap(),
        (0, false)
    );
    // The deprecated page numbers over the merged branches.
    let skipped = search::page(&mut c, &who, &Criteria::default(), &Start::Skip(5), 4).unwrap();
    let skipped: Vec<String> = skipped.into_iter().map(|r| r.id).collect();
    assert_eq!(skipped, expected[5..9]);
    // Nobody to see: nothing, not everything.
    let nobody = Visibility::Provider { agbs: Vec::new() };
    assert!(walk(&mut c, &nobody, &Criteria::default(), 5).is_empty());
    assert_eq!(
        search::count(&mut c, &nobody, &Criteria::default(), TOTAL_CAP).unwrap(),
        (0, false)
    );
}

/// Each request on a page is audited as accessed, in one write: by an
/// intermediary naming the provider it acted for, as its single reads do.
#[tokio::test]
async fn every_result_on_a_page_is_audited_an_intermediarys_with_its_provider() {
    use machtigingen::registry::{CertKind, PartyKind, Scope};

    let (app, provider) = app_with_provider().await;
    let party = app.party(PartyKind::Zorgaanbieder, AGB);
    let contact = app.client(&app.issue(
        &party,
        CertKind::Persoonlijk,
        &[Scope::Gebruikersbeheer],
        &[],
    ));
    let vendor = app.party(PartyKind::Softwareleverancier, "pms-zoek");
    let vc = app.client(&app.issue(
        &vendor,
        CertKind::Systeem,
        &[Scope::MachtigingenIndienen, Scope::MachtigingenRaadplegen],
        &[],
    ));
    let (status, body) = contact
        .post_json(
            "/api/v1/beheer/toestemmingsverklaringen",
            &json!({"leverancier": "PLATFORM:pms-zoek"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let by_vendor = submit(&vc, &crate::fixtures::Aanvraag::default()).await;
    let by_provider = submit(&provider, &crate::fixtures::Aanvraag::default()).await;

    let (status, page) = vc.get_json(BASE).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids(&page), [by_provider.clone(), by_vendor.clone()]);
    let (_, page) = provider.get_json(&format!("{BASE}?paginaGrootte=1")).await;
    assert_eq!(ids(&page), std::slice::from_ref(&by_provider));

    let mut c = app.db.conn().unwrap();
    let searched = |c: &mut DbConnection, id: &str| {
        machtigingen::audit::for_object(c, "machtigingsaanvraag", id)
            .unwrap()
            .into_iter()
            .filter(|a| a.action == "machtigingsaanvraag.zoeken")
            .map(|a| (a.actor, a.acting_for, a.outcome))
            .collect::<Vec<_>>()
    };
    let vendor_row = (
        "PLATFORM:pms-zoek".to_owned(),
        Some("AGB:03123456".to_owned()),
        "ok".to_owned(),
    );
    assert_eq!(
        searched(&mut c, &by_vendor),
        std::slice::from_ref(&vendor_row)
    );
    assert_eq!(
        searched(&mut c, &by_provider),
        [
            vendor_row,
            ("AGB:03123456".to_owned(), None, "ok".to_owned())
        ]
    );
}

/// A page of 45 is one audit row naming its results in the page's order,
/// found by each of them; 45 rows written at once (a pull's) go in on SQLite
/// twenty to a statement and the five left one by one, on PostgreSQL as one
/// statement, consecutive in one lane; the chain verifies either way.
#[tokio::test]
async fn a_large_page_is_one_audit_row_in_its_order_and_the_chain_holds() {
    use machtigingen::audit::{self, AuditEntry, index};
    use machtigingen::db::schema::audit_log;

    let (app, provider) = app_with_provider().await;
    seed(&mut app.db.conn().unwrap(), AGB, "AGB:03123456", 60, "AUD");
    let (status, page) = provider
        .get_json(&format!("{BASE}?status=Ingediend&paginaGrootte=45"))
        .await;
    assert_eq!(status, 200, "{page}");
    let shown = ids(&page);
    assert_eq!(shown.len(), 40, "60 seeded, a third of them Concepts");
    let (status, page) = provider.get_json(&format!("{BASE}?paginaGrootte=45")).await;
    assert_eq!(status, 200, "{page}");
    let all = ids(&page);
    assert_eq!(all.len(), 45);

    let mut c = app.db.conn().unwrap();
    let audited: Vec<(Option<String>, String)> = audit_log::table
        .filter(audit_log::action.eq("machtigingsaanvraag.zoeken"))
        .order(audit_log::id)
        .select((audit_log::object_id, audit_log::detail))
        .load(&mut c)
        .unwrap();
    let named: Vec<Vec<String>> = audited.iter().map(|(_, d)| index::shown(d)).collect();
    assert_eq!(named, [shown, all.clone()], "one row per page, in order");
    assert!(audited.iter().all(|(o, _)| o.is_none()));
    for id in &all {
        let rows = audit::for_object(&mut c, "machtigingsaanvraag", id).unwrap();
        assert!(
            rows.iter()
                .any(|r| r.action == "machtigingsaanvraag.zoeken"),
            "{id}: {rows:?}"
        );
    }

    let entries: Vec<AuditEntry<'_>> = all
        .iter()
        .map(|id| AuditEntry {
            fingerprint: None,
            actor: audit::OPERATOR.into(),
            acting_for: None,
            action: "test.veel",
            object_type: "machtigingsaanvraag",
            object_id: Some(id.clone()),
            outcome: "ok",
            detail: serde_json::json!({}),
        })
        .collect();
    audit::record_all(&mut c, &entries).unwrap();
    let many: Vec<(Option<String>, Option<i64>, Option<i64>)> = audit_log::table
        .filter(audit_log::action.eq("test.veel"))
        .order((audit_log::chain, audit_log::seq))
        .select((audit_log::object_id, audit_log::chain, audit_log::seq))
        .load(&mut c)
        .unwrap();
    let objects: Vec<String> = many.iter().filter_map(|a| a.0.clone()).collect();
    assert_eq!(objects, all, "one row per entry, in order");
    for w in many.windows(2) {
        assert_eq!(w[0].1, w[1].1, "one lane");
        assert_eq!(w[0].2.map(|s| s + 1), w[1].2, "no gap in the chain");
    }
    let report = machtigingen::audit::verify::verify(&mut c).unwrap();
    assert!(report.ok, "{report:#?}");
}
