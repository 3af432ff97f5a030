//! The validation pipeline alone (no HTTP, no storage): UTF-8/DOCTYPE/limits
//! scan, libxml2 parse, XSD validation, mapping to the model, and the JVC
//! checks against the sample catalog — for a small, a typical and an
//! attachment-heavy Machtigingsaanvraag.

#![allow(clippy::unwrap_used, missing_docs)]

use std::fmt::Write;

use chrono::{Days, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use machtigingen::catalog::CatalogFile;
use machtigingen::machtiging::intake;
use machtigingen::machtiging::jvc::{self, Context};

fn document(attachments: usize, attachment_bytes: usize, answers: bool) -> String {
    let today = Utc::now().date_naive();
    let begin = today + Days::new(7);
    let end = today + Days::new(120);
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Machtigingsaanvraag xmlns=\"urn:machtigingen:machtigingen:v1\">",
    );
    write!(
        x,
        "<Referentie>BENCH-1</Referentie><Indiener><AgbPraktijk>03123456</AgbPraktijk><Software><Naam>B</Naam><Versie>1</Versie></Software></Indiener>\
         <Verzekerde><Bsn>999999990</Bsn><Geboortedatum>1970-03-14</Geboortedatum></Verzekerde><Uzovi>3311</Uzovi><Grondslag>Zvw</Grondslag>\
         <Verstrekking>PLAST-OOGLID</Verstrekking><Zorgsoort>0301</Zorgsoort><Prestaties><Prestatie><Code>DBC-OOGLID</Code><Aantal>1</Aantal></Prestatie></Prestaties>\
         <Begindatum>{begin}</Begindatum><GewensteEinddatum>{end}</GewensteEinddatum>"
    )
    .unwrap();
    if answers {
        x.push_str("<Antwoorden><Antwoord><VraagId>GEZICHTSVELD</VraagId><Waarde>ja</Waarde></Antwoord><Antwoord><VraagId>GRADEN</VraagId><Waarde>25</Waarde></Antwoord></Antwoorden>");
        x.push_str(
            "<Toelichting>Beiderzijds dermatochalasis met gezichtsveldbeperking.</Toelichting>",
        );
    }
    if attachments > 0 {
        use base64::Engine;
        let content =
            base64::engine::general_purpose::STANDARD.encode(vec![0x5Au8; attachment_bytes]);
        x.push_str("<Bijlagen>");
        for i in 0..attachments {
            write!(x, "<Bijlage><Soort>foto</Soort><Naam>f{i}.jpg</Naam><MediaType>image/jpeg</MediaType><Inhoud>{content}</Inhoud></Bijlage>").unwrap();
        }
        x.push_str("</Bijlagen>");
    }
    x.push_str("</Machtigingsaanvraag>");
    x
}

fn bench(c: &mut Criterion) {
    let file: CatalogFile =
        serde_json::from_str(include_str!("../docs/examples/catalogus.json")).unwrap();
    let cat = file
        .verzekeraars
        .iter()
        .find(|c| c.uzovi == "3311")
        .unwrap();
    let verstrekking = cat
        .verstrekkingen
        .iter()
        .find(|v| v.code == "PLAST-OOGLID")
        .unwrap();
    let allowed = vec!["03123456".to_owned()];
    let ctx = Context {
        today: Utc::now().date_naive(),
        allowed_agb: &allowed,
        insurer_registered: true,
        verstrekking: Some(verstrekking),
        prestaties: &cat.prestaties,
    };
    let docs = [
        ("small", document(1, 64, true)),
        ("typical", document(1, 1024, true)),
        ("attachments_5x1MB", document(5, 1024 * 1024, true)),
    ];
    let mut g = c.benchmark_group("validate");
    for (name, doc) in &docs {
        // Each document must pass, or the benchmark measures a refusal.
        let s = intake::submission(doc.as_bytes(), false).unwrap();
        jvc::check_aanvraag(&s.aanvraag, &ctx).unwrap();
        g.throughput(Throughput::Bytes(doc.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(name), doc, |b, doc| {
            b.iter(|| {
                let s = intake::submission(doc.as_bytes(), false).unwrap();
                jvc::check_aanvraag(&s.aanvraag, &ctx).unwrap();
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
