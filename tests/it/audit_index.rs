//! A search page is one audit row naming every request it showed
//! (`detail.getoond`), and the log is still found by each of them
//! (src/audit/index.rs): the patient's access overview lists the search for
//! the patient's request and not for the other patient's, `audit search
//! --object` finds it, the index is complete after a query however far the
//! background pass got, verify checks the index against the rows, and the
//! retention purge takes the index entries with their row.

use diesel::prelude::*;
use machtigingen::audit::{self, index};
use machtigingen::db::schema::{audit_indexed, audit_log, audit_objects};
use machtigingen::retention::Policy;
use machtigingen::retention::service::{Options, Run};
use serde_json::Value;

use crate::audit_log::{GEBOREN, json, overview, scenario};

#[tokio::test]
async fn a_search_page_is_one_audit_row_and_each_request_shown_is_found_by_it() {
    let s = scenario().await;
    let app = &s.app;
    let (code, page) = s.provider.get_json("/api/v1/machtigingsaanvragen").await;
    assert_eq!(code, 200, "{page}");
    let shown: Vec<String> = page["resultaten"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["machtigingsaanvraagId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(shown, [s.other.clone(), s.request.clone()]);

    // One row for the page, naming both, in the page's order.
    let mut c = app.db.conn().unwrap();
    let rows: Vec<(Option<String>, String)> = audit_log::table
        .filter(audit_log::action.eq("machtigingsaanvraag.zoeken"))
        .select((audit_log::object_id, audit_log::detail))
        .load(&mut c)
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, None);
    assert_eq!(index::shown(&rows[0].1), shown);

    // Found by each request, as a row about it, however far the background
    // pass got: here the index is emptied and its marks set back to the
    // start, and the query rebuilds it from the chained rows.
    diesel::delete(audit_objects::table)
        .execute(&mut c)
        .unwrap();
    diesel::update(audit_indexed::table)
        .set(audit_indexed::seq.eq(0))
        .execute(&mut c)
        .unwrap();
    for id in &shown {
        let found = audit::for_object(&mut c, "machtigingsaanvraag", id).unwrap();
        let searched: Vec<_> = found
            .iter()
            .filter(|r| r.action == "machtigingsaanvraag.zoeken")
            .collect();
        assert_eq!(searched.len(), 1, "{id}: {found:?}");
        assert_eq!(searched[0].object_id.as_deref(), Some(id.as_str()));
        assert_eq!(searched[0].actor, "AGB:03123456");
    }
    // Complete: every chain's mark is at its head, and a pass finds nothing.
    assert_eq!(index::catch_up(&mut c).unwrap(), 0);
    let entries: Vec<(i64, String)> = audit_objects::table
        .select((audit_objects::audit_id, audit_objects::object_id))
        .load(&mut c)
        .unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    let marks: i64 = audit_indexed::table
        .select(audit_indexed::seq)
        .load::<i64>(&mut c)
        .unwrap()
        .iter()
        .sum();
    let total: i64 = audit_log::table.count().get_result(&mut c).unwrap();
    assert_eq!(marks, total, "every row read once");

    // The patient's overview lists the search for their request only.
    let v = overview(app, GEBOREN);
    let searches: Vec<&Value> = v["toegangen"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["actie"] == "machtigingsaanvraag.zoeken")
        .collect();
    assert_eq!(searches.len(), 1, "{v}");
    assert_eq!(searches[0]["betreft"], s.request.as_str());
    assert_eq!(
        searches[0]["wat"],
        "vond de machtigingsaanvraag bij een zoekopdracht"
    );

    // `audit search --object` finds it for the other request; without an
    // object it is the one row as written.
    let by_object = json(app, &["audit", "search", "--json", "--object", &s.other]);
    let found: Vec<&Value> = by_object["rijen"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "machtigingsaanvraag.zoeken")
        .collect();
    assert_eq!(found.len(), 1, "{by_object}");
    assert_eq!(found[0]["object_id"], s.other.as_str());
    let by_action = json(
        app,
        &[
            "audit",
            "search",
            "--json",
            "--actie",
            "machtigingsaanvraag.zoeken",
        ],
    );
    let all = by_action["rijen"].as_array().unwrap();
    assert_eq!(all.len(), 1, "{by_action}");
    assert_eq!(all[0]["object_id"], Value::Null);
    crate::audit_chain::verify_ok(app);

    // An entry taken out of the index would hide the search from the
    // patient: verify says so, and where.
    let (row, _) = entries.iter().find(|(_, o)| *o == s.request).unwrap();
    let gone = audit_objects::table
        .filter(audit_objects::audit_id.eq(row))
        .filter(audit_objects::object_id.eq(&s.request));
    assert_eq!(diesel::delete(gone).execute(&mut c).unwrap(), 1);
    let text = crate::audit_chain::verify_broken(app);
    assert!(
        text.contains(&format!(
            "1 row(s) whose entries differ from the objects they name (first row id {row})"
        )),
        "{text}"
    );
    diesel::insert_into(audit_objects::table)
        .values((
            audit_objects::audit_id.eq(row),
            audit_objects::object_id.eq(&s.request),
        ))
        .execute(&mut c)
        .unwrap();
    crate::audit_chain::verify_ok(app);
    // And an entry slipped in for a row that does not exist.
    let nowhere = audit_objects::table.filter(audit_objects::audit_id.eq(i64::MAX));
    diesel::insert_into(audit_objects::table)
        .values((
            audit_objects::audit_id.eq(i64::MAX),
            audit_objects::object_id.eq(&s.request),
        ))
        .execute(&mut c)
        .unwrap();
    let text = crate::audit_chain::verify_broken(app);
    assert!(text.contains("1 entry(ies) of no row"), "{text}");
    diesel::delete(nowhere).execute(&mut c).unwrap();
    crate::audit_chain::verify_ok(app);

    // The purge of everything before now takes the entries with the rows.
    let mut policy = Policy::from(&app.config.retentie);
    policy.audit_dagen = 0;
    let cut = machtigingen::db::now();
    let mut run = Run::new(policy, Options::new(audit::OPERATOR), cut);
    while run.step(&mut c).unwrap() {}
    run.finish(&mut c).unwrap();
    let left: i64 = audit_objects::table.count().get_result(&mut c).unwrap();
    assert_eq!(left, 0);
    crate::audit_chain::verify_ok(app);
}
