//! Seeds stored machtigingsaanvragen through the project's own storage code
//! (`machtiging::store::insert`), for the "submit with a full database"
//! benchmark of `scripts/bench.sh`. Uses the configured database
//! (`MACHTIGINGEN_DATABASE__URL`).
//!
//! cargo run --release --example seed -- COUNT [AGB]
//! cargo run --release --example seed -- token POSITION [AGB]
//!
//! SEED_DOCUMENT_BYTES pads each stored document to about that size and
//! gives each request a machtigingsnummer.
//!
//! `token` prints the `vervolg` token of a search without criteria that
//! starts after the POSITION-th newest request of AGB: a deep page for
//! `scripts/bench_search.sh`, without paging there first.

#![allow(clippy::unwrap_used)]

use machtigingen::config::Config;
use machtigingen::db::{Db, DbError, write_tx};
use machtigingen::machtiging::model::Aanvraag;
use machtigingen::machtiging::store::{self, NewRecord};

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let token = args.peek().is_some_and(|a| a == "token");
    if token {
        args.next();
    }
    let count: u64 = args.next().expect("COUNT").parse().unwrap();
    let agb = args.next().unwrap_or_else(|| "03123456".into());
    let config = Config::load(None).unwrap();
    let db = Db::open(&config.database).unwrap();
    db.migrate().unwrap();
    let mut conn = db.conn().unwrap();
    if token {
        use diesel::prelude::*;
        use machtigingen::db::schema::machtigingsaanvragen as ma;
        let (created_at, id): (chrono::NaiveDateTime, String) = ma::table
            .filter(ma::provider_agb.eq(&agb))
            .order((ma::created_at.desc(), ma::id.desc()))
            .offset(i64::try_from(count).unwrap() - 1)
            .select((ma::created_at, ma::id))
            .first(&mut conn)
            .unwrap();
        let cursor = machtigingen::machtiging::cursor::Cursor {
            page: 2,
            created_at,
            id,
        };
        println!("{}", cursor.encode());
        return;
    }
    let template: Aanvraag = serde_json::from_value(serde_json::json!({
        "referentie": "", "agb_praktijk": agb, "agb_zorgverlener": null,
        "software_naam": "seed", "software_versie": "1", "bsn": "999999990",
        "geboortedatum": "1970-03-14", "naam": null, "verzekerdennummer": null,
        "uzovi": "3311", "grondslag": "Zvw", "verstrekking": "PLAST-OOGLID", "zorgsoort": "0301",
        "prestaties": [{"code": "DBC-OOGLID", "aantal": 1}], "diagnosecode": null,
        "begindatum": "2026-12-01", "gewenste_einddatum": "2027-05-31",
        "antwoorden": [{"vraag_id": "GEZICHTSVELD", "waarde": "ja"}], "toelichting": null, "bijlagen": []
    }))
    .unwrap();
    let document = include_str!("../docs/examples/machtigingen/Machtigingsaanvraag.xml");
    // SEED_DOCUMENT_BYTES: a stored document of about this size, as an
    // attachment makes it (here an XML comment of base64-like filler), and a
    // machtigingsnummer on each request, as a decided one has: the column a
    // search result reads after the document on a table of the old order
    // (docs/benchmarks.md, "SQLite: the stored documents last").
    let want = std::env::var("SEED_DOCUMENT_BYTES").map_or(0, |v| v.parse::<usize>().unwrap());
    let large = want > document.len();
    let padded;
    let document = if large {
        let end = document.rfind("</").unwrap();
        let fill = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkw".repeat(want / 44 + 1);
        let fill = &fill[..want - document.len()];
        padded = format!("{}<!--{fill}-->{}", &document[..end], &document[end..]);
        padded.as_str()
    } else {
        document
    };
    let started = std::time::Instant::now();
    let batch = 5_000;
    // SEED_START: the first number (referentie, id) of this run, so a second
    // run adds to the first instead of colliding with it.
    let first: u64 = std::env::var("SEED_START").map_or(0, |v| v.parse().unwrap());
    let count = first + count;
    let mut done = first;
    while done < count {
        let n = batch.min(count - done);
        write_tx::<_, DbError, _>(&mut conn, |c| {
            for i in done..done + n {
                let mut a = template.clone();
                a.referentie = format!("SEED-{i:09}");
                let id = format!(
                    "MA{:032x}",
                    u128::from(i) ^ 0x5eed_0000_0000_0000_0000_0000_0000_0000
                )
                .parse()
                .expect("a request id");
                store::insert(
                    c,
                    &NewRecord {
                        id: &id,
                        provider_agb: &agb,
                        submitter: &format!("AGB:{agb}"),
                        aanvraag: &a,
                        stored: &a.stored_form(),
                        document,
                        status: machtigingen::machtiging::model::Status::Ingediend,
                    },
                )?;
                if large {
                    use diesel::prelude::*;
                    use machtigingen::db::schema::machtigingsaanvragen as ma;
                    diesel::update(ma::table.find(id.as_str()))
                        .set(ma::machtigingsnummer.eq(format!("SEED{i:09}")))
                        .execute(c)?;
                }
            }
            Ok(())
        })
        .unwrap();
        done += n;
    }
    println!(
        "{{\"seeded\": {}, \"seconds\": {:.1}}}",
        count - first,
        started.elapsed().as_secs_f64()
    );
}
