//! Any bytes as a REST Machtigingsaanvraag: safety scan, libxml2 parse, XSD,
//! mapping, and — for documents that get that far — the JVC checks against
//! the sample catalog. A coded refusal is fine; a panic is a bug.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use machtigingen::catalog::CatalogFile;
use machtigingen::machtiging::intake;
use machtigingen::machtiging::jvc::{self, Context};

fn catalog() -> &'static CatalogFile {
    static C: OnceLock<CatalogFile> = OnceLock::new();
    C.get_or_init(|| {
        serde_json::from_str(include_str!("../../docs/examples/catalogus.json"))
            .expect("sample catalog")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = intake::submission(data, false) else {
        return;
    };
    let file = catalog();
    let Some(cat) = file.verzekeraars.iter().find(|c| c.uzovi == s.aanvraag.uzovi) else {
        return;
    };
    let allowed = vec![s.aanvraag.agb_praktijk.clone()];
    let ctx = Context {
        today: chrono::NaiveDate::from_ymd_opt(2026, 11, 22).expect("date"),
        allowed_agb: &allowed,
        insurer_registered: true,
        verstrekking: cat.verstrekkingen.iter().find(|v| v.code == s.aanvraag.verstrekking),
        prestaties: &cat.prestaties,
    };
    let _ = jvc::check_aanvraag(&s.aanvraag, &ctx);
});
