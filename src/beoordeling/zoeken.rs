//! `ZoekenAanvragen`: an insurer searches the requests addressed to its
//! UZOVI — by status, period, verstrekking, provider (AGB praktijk) and
//! patient (BSN + birth date) — newest first, a page at a time with the
//! provider's search's own paging (`machtiging::query::paged`/`page`: the
//! `vervolg` token, the total capped at 1000). What it sees is what its inbox
//! and `RaadplegenAanvraag` show: never a provider's Concept, never another
//! UZOVI's request. Every request on a page is audited as found
//! (`beoordeling.zoeken`), as a provider's search audits its results, so a
//! patient's access overview shows the insurer's searches too.

use super::BeoordelingError;
use super::service::insurer_uzovi;
use crate::audit;
use crate::db::Db;
use crate::identity::Caller;
use crate::machtiging::query::{self, Page, Paging};
use crate::machtiging::search::{Criteria, Visibility};

/// What an insurer searches by; every criterion given must match.
#[derive(Debug, Clone, Default)]
pub struct Zoekvraag {
    pub status: Option<crate::machtiging::model::Status>,
    pub vanaf: Option<chrono::NaiveDate>,
    pub tot: Option<chrono::NaiveDate>,
    pub verstrekking: Option<String>,
    pub provider_agb: Option<String>,
    pub patient: Option<(String, chrono::NaiveDate)>,
}

/// One page of the caller's (an insurer holding `beoordelen`) requests.
pub async fn search(
    db: &Db,
    caller: Caller,
    vraag: Zoekvraag,
    paging: Paging,
) -> Result<Page, BeoordelingError> {
    let uzovi = insurer_uzovi(&caller)?;
    let (page_no, size, start) = query::paged(&paging)?;
    let criteria = Criteria {
        status: vraag.status,
        vanaf: vraag.vanaf,
        tot: vraag.tot,
        verstrekking: vraag.verstrekking,
        provider_agb: vraag.provider_agb,
        patient: vraag.patient,
        ..Default::default()
    };
    audit::read_then_record(db, move |conn| {
        let who = Visibility::Insurer { uzovi };
        let page = query::page(conn, &who, &criteria, page_no, &start, size)?;
        let shown = page.items.iter().map(|r| (r.id.clone(), None)).collect();
        let rows = audit::shown_rows(&caller, "beoordeling.zoeken", "machtigingsaanvraag", shown);
        Ok((page, rows))
    })
    .await
}
