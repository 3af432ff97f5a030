//! The assessor's work list and downloading attachments in the portal
//! (issue 22): a persoonlijk certificate with `beoordelen` searches its
//! insurer's requests through `beoordeling::zoeken` (status, period,
//! verstrekking, provider, patient by POST), pages along `vervolg`, sees the
//! capped total; every request shown is audited as found. Attachments
//! download for the insurer's assessor and the practice's staff, with the
//! declared type, as a download with a safe name, `nosniff`, and the same 404
//! as the API for anyone else's request. Real server, real mTLS.

use diesel::prelude::*;
use machtigingen::db::schema::{audit_log, machtigingsaanvragen as ma};
use machtigingen::db::{DbConnection, DbError, write_tx};
use machtigingen::machtiging::model::Status;
use machtigingen::machtiging::store::{self, NewRecord};
use machtigingen::registry::{CertKind, PartyKind, Scope};

use crate::fixtures::{self, Aanvraag, Bijlage, load_sample_catalog, submit};
use crate::search_paging::template;
use crate::support::form::{csrf_of, post, text, unescape};
use crate::support::{TestApp, TestClient};

fn person(app: &TestApp, kind: PartyKind, code: &str, scopes: &[Scope]) -> TestClient {
    let p = app.party(kind, code);
    app.client(&app.issue(&p, CertKind::Persoonlijk, scopes, &[]))
}

fn assessor(app: &TestApp, uzovi: &str) -> TestClient {
    person(app, PartyKind::Zorgverzekeraar, uzovi, &[Scope::Beoordelen])
}

/// Stores `n` requests of provider `agb` to 3311 through the store (the
/// cap needs more than 1000; submitting them would only be slower).
fn seed(conn: &mut DbConnection, agb: &str, n: usize) {
    let mut a = template(agb);
    write_tx::<_, DbError, _>(conn, |c| {
        for _ in 0..n {
            a.referentie = format!("R-{}", fixtures::random_suffix());
            let hex: String = (0..3).map(|_| fixtures::random_suffix()).collect();
            let id: machtigingen::ids::MachtigingId = format!("MA{}", &hex[..32]).parse().unwrap();
            store::insert(
                c,
                &NewRecord {
                    id: &id,
                    provider_agb: agb,
                    submitter: &format!("AGB:{agb}"),
                    aanvraag: &a,
                    stored: &a.stored_form(),
                    document: "<Machtigingsaanvraag/>",
                    status: Status::Ingediend,
                },
            )?;
        }
        Ok(())
    })
    .unwrap();
}

/// The request ids linked from a work list page, in order.
fn found(page: &str) -> Vec<String> {
    page.split("href=\"/portaal/beoordeling/MA")
        .skip(1)
        .map(|s| format!("MA{}", &s[..s.find('"').unwrap()]))
        .collect()
}

fn caption(page: &str) -> String {
    let at = page.find("<caption>").expect("a result table");
    let rest = &page[at + 9..];
    unescape(&rest[..rest.find("</caption>").unwrap()])
}

/// The hidden `vervolg` of the next-page form, if any.
fn vervolg(page: &str) -> Option<String> {
    const F: &str = "name=\"vervolg\" value=\"";
    page.find(F).map(|at| {
        let rest = &page[at + F.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    })
}

fn found_audits(app: &TestApp, id: &str) -> usize {
    machtigingen::audit::for_object(&mut app.db.conn().unwrap(), "machtigingsaanvraag", id)
        .unwrap()
        .iter()
        .filter(|r| r.action == "beoordeling.zoeken")
        .count()
}

#[tokio::test]
async fn an_assessor_searches_the_work_list_pages_through_it_and_every_hit_is_audited() {
    let app = TestApp::spawn().await;
    load_sample_catalog(&app);
    let provider = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    let first = submit(&provider, &Aanvraag::default()).await;
    let patient = Aanvraag {
        bsn: "111222333".into(),
        geboortedatum: chrono::NaiveDate::from_ymd_opt(1985, 6, 1).unwrap(),
        ..Aanvraag::default()
    };
    let of_patient = submit(&provider, &patient).await;
    // Another insurer's request is never in 3311's list.
    let other = submit(
        &provider,
        &Aanvraag {
            uzovi: "3312".into(),
            antwoorden: vec![("GEZICHTSVELD".into(), "ja".into())],
            bijlagen: vec![],
            ..Aanvraag::default()
        },
    )
    .await;
    seed(&mut app.db.conn().unwrap(), "01000001", 1001);

    let a = assessor(&app, "3311");
    let (status, page) = text(&a, "/portaal/werklijst").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("aria-current=\"page\">Werklijst"), "{page}");
    assert_eq!(caption(&page), "Gevonden: meer dan 1000");
    assert_eq!(found(&page).len(), 20);
    assert!(!page.contains(&other));
    // Concept is never sent to an insurer, so not offered as a status.
    assert!(!page.contains("value=\"Concept\""));
    let token = csrf_of(&page);

    // By provider: exactly the practice's two (newest first).
    let (status, _, page) = post(
        &a,
        "/portaal/werklijst",
        &[("_csrf", &token), ("agb", "03123456")],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(caption(&page), "Gevonden: 2");
    assert_eq!(found(&page), [of_patient.clone(), first.clone()]);
    assert!(vervolg(&page).is_none());

    // By patient: BSN and birth date in the POST body, never in a URL.
    let (status, path, page) = post(
        &a,
        "/portaal/werklijst",
        &[
            ("_csrf", &token),
            ("bsn", "111222333"),
            ("geboortedatum", "1985-06-01"),
        ],
    )
    .await;
    assert_eq!(
        (status, path.as_str()),
        (200, "/portaal/werklijst"),
        "{page}"
    );
    assert_eq!(found(&page), [of_patient.as_str()]);
    assert_eq!(
        found_audits(&app, &of_patient),
        2,
        "list by AGB, then by patient"
    );
    assert!(page.contains("value=\"111222333\""), "the entry is kept");

    // Half a patient is refused next to the form; status, period, verstrekking.
    let (status, _, page) = post(
        &a,
        "/portaal/werklijst",
        &[("_csrf", &token), ("bsn", "111222333")],
    )
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("id=\"zoek-fout\""), "{page}");
    assert!(page.contains("REQ-004"), "{page}");
    for (k, v, n) in [
        ("status", "Afgewezen", 0),
        ("verstrekking", "PLAST-OOGLID", 1000),
        ("tot", "2020-01-01", 0),
    ] {
        let (status, _, page) = post(&a, "/portaal/werklijst", &[("_csrf", &token), (k, v)]).await;
        assert_eq!(status, 200, "{k}: {page}");
        let want = if n == 1000 {
            "Gevonden: meer dan 1000".to_owned()
        } else {
            format!("Gevonden: {n}")
        };
        assert_eq!(caption(&page), want, "{k}={v}");
    }

    // Paging along vervolg: page 2 continues where page 1 ended.
    let (_, _, p1) = post(
        &a,
        "/portaal/werklijst",
        &[("_csrf", &token), ("agb", "01000001")],
    )
    .await;
    let next = vervolg(&p1).expect("a next page");
    let (status, _, p2) = post(
        &a,
        "/portaal/werklijst",
        &[("_csrf", &token), ("agb", "01000001"), ("vervolg", &next)],
    )
    .await;
    assert_eq!(status, 200, "{p2}");
    assert!(caption(&p2).contains("(pagina 2)"), "{}", caption(&p2));
    let (one, two) = (found(&p1), found(&p2));
    assert_eq!((one.len(), two.len()), (20, 20));
    assert!(one.iter().all(|id| !two.contains(id)), "pages overlap");
    let newest: Vec<String> = ma::table
        .filter(ma::provider_agb.eq("01000001"))
        .order((ma::created_at.desc(), ma::id.desc()))
        .select(ma::id)
        .limit(40)
        .load(&mut *app.db.conn().unwrap())
        .unwrap();
    assert_eq!([one, two].concat(), newest);
    // A damaged token is the API's REQ-006, next to the form.
    let (status, _, page) = post(
        &a,
        "/portaal/werklijst",
        &[("_csrf", &token), ("vervolg", "bm9uc2Vuc2U")],
    )
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("REQ-006"), "{page}");

    // Without the form's token nothing is searched.
    let (status, _, page) = post(&a, "/portaal/werklijst", &[("agb", "03123456")]).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("REQ-007"), "{page}");
    // Another insurer's assessor finds none of 3311's; staff have no work list.
    let b = assessor(&app, "3312");
    let (_, page) = text(&b, "/portaal/werklijst").await;
    assert_eq!(found(&page), [other]);
    let staff = person(
        &app,
        PartyKind::Zorgaanbieder,
        "03123456",
        &[Scope::MachtigingenIndienen],
    );
    let (status, page) = text(&staff, "/portaal/werklijst").await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("AUTZ-001"), "{page}");
}

#[tokio::test]
async fn attachments_download_for_the_assessor_and_the_practice_and_for_no_one_else() {
    let app = TestApp::spawn().await;
    load_sample_catalog(&app);
    let provider = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    let pdf = b"%PDF-1.4\n<html><script>alert(1)</script>\n%%EOF".to_vec();
    let mut doc = Aanvraag::default();
    doc.bijlagen.push(Bijlage {
        soort: "verslag".into(),
        naam: "../verslag \"oog\" ü.pdf".into(),
        media_type: "application/pdf".into(),
        inhoud: pdf.clone(),
    });
    let id = submit(&provider, &doc).await;
    let jpeg = doc.bijlagen[0].inhoud.clone();

    // The assessor: linked from the request, the declared type, a download.
    let a = assessor(&app, "3311");
    let (status, page) = text(&a, &format!("/portaal/beoordeling/{id}")).await;
    assert_eq!(status, 200, "{page}");
    let link = format!("/portaal/beoordeling/{id}/bijlagen/1");
    assert!(page.contains(&format!("href=\"{link}\"")), "{page}");
    let r = a.get(&link).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "image/jpeg");
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"vooraanzicht.jpg\"; filename*=UTF-8''vooraanzicht.jpg"
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(r.bytes().await.unwrap().to_vec(), jpeg);

    let r = a
        .get(&format!("/portaal/beoordeling/{id}/bijlagen/2"))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let cd = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cd.starts_with("attachment; filename=\"verslag oog _.pdf\""),
        "{cd}"
    );
    assert!(
        cd.ends_with("filename*=UTF-8''verslag%20oog%20%C3%BC.pdf"),
        "{cd}"
    );
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf);
    for n in ["3", "0", "x", "-1"] {
        let (status, body) = text(&a, &format!("/portaal/beoordeling/{id}/bijlagen/{n}")).await;
        assert_eq!(status, 404, "{n}: {body}");
    }

    // The practice's staff, from their request's page.
    let staff = person(
        &app,
        PartyKind::Zorgaanbieder,
        "03123456",
        &[Scope::MachtigingenRaadplegen],
    );
    let (status, page) = text(&staff, &format!("/portaal/aanvragen/{id}")).await;
    assert_eq!(status, 200, "{page}");
    let link = format!("/portaal/aanvragen/{id}/bijlagen/2");
    assert!(page.contains(&format!("href=\"{link}\"")), "{page}");
    let r = staff.get(&link).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf);
    // Staff have no assessor's door to it.
    assert_eq!(
        text(&staff, &format!("/portaal/beoordeling/{id}/bijlagen/1"))
            .await
            .0,
        403
    );

    // Anyone else's request: the same answer as the API's for the request.
    let other_staff = person(
        &app,
        PartyKind::Zorgaanbieder,
        "03999998",
        &[Scope::MachtigingenRaadplegen],
    );
    let other_system = app.provider("03999998", &[Scope::MachtigingenRaadplegen]);
    let (api, _) = other_system
        .get_json(&format!("/api/v1/machtigingsaanvragen/{id}"))
        .await;
    let (portal, body) = text(&other_staff, &format!("/portaal/aanvragen/{id}/bijlagen/1")).await;
    assert_eq!((portal, api), (404, 404), "{body}");
    assert!(
        !body.contains("PDF") && !body.contains("vooraanzicht"),
        "{body}"
    );
    let other_insurer = fixtures::insurer(&app);
    let (own, _) = other_insurer
        .get_json(&format!("/api/v1/beoordeling/machtigingsaanvragen/{id}"))
        .await;
    assert_eq!(own, 200, "the request is 3311's");
    let p = app.party(PartyKind::Zorgverzekeraar, "3312");
    let system_3312 = app.client(&app.issue(&p, CertKind::Systeem, &[Scope::Beoordelen], &[]));
    let (api, _) = system_3312
        .get_json(&format!("/api/v1/beoordeling/machtigingsaanvragen/{id}"))
        .await;
    let (portal, _) = text(
        &assessor(&app, "3312"),
        &format!("/portaal/beoordeling/{id}/bijlagen/1"),
    )
    .await;
    assert_eq!((portal, api), (404, 404));
    // Without raadplegen: 403, as the API.
    let optin = person(
        &app,
        PartyKind::Zorgaanbieder,
        "03123456",
        &[Scope::OptinAfhandelen],
    );
    let (status, body) = text(&optin, &format!("/portaal/aanvragen/{id}/bijlagen/1")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("AUTZ-001"), "{body}");

    // Each download is audited as a read of the request, with its number;
    // the refused ones as refused.
    let rows: Vec<(String, String, String)> = audit_log::table
        .filter(audit_log::object_id.eq(&id))
        .filter(audit_log::detail.like("%bijlage%"))
        .select((audit_log::action, audit_log::outcome, audit_log::detail))
        .order(audit_log::id)
        .load(&mut *app.db.conn().unwrap())
        .unwrap();
    let ok = |action: &str| {
        rows.iter()
            .filter(|(a, o, _)| a == action && o == "ok")
            .count()
    };
    assert_eq!(ok("beoordeling.raadplegen"), 2, "{rows:?}");
    assert_eq!(ok("machtigingsaanvraag.raadplegen"), 1, "{rows:?}");
    assert!(
        rows.iter().any(|(a, o, d)| a == "beoordeling.raadplegen"
            && o == "geweigerd: bijlage niet gevonden"
            && d.contains("3")),
        "{rows:?}"
    );
    let refused: i64 = audit_log::table
        .filter(audit_log::object_id.eq(&id))
        .filter(audit_log::outcome.eq("geweigerd: niet gevonden"))
        .count()
        .get_result(&mut *app.db.conn().unwrap())
        .unwrap();
    assert!(
        refused >= 3,
        "other practice's staff and system, other insurer: {refused}"
    );
}
