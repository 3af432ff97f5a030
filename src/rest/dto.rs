//! Response bodies shared by more than one REST area: a request as the
//! provider and the insurer both see it (its details, history and decision).
//! Area modules keep their own request and response types; what two areas
//! return lives here so neither borrows from the other.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;
use utoipa::ToSchema;

use crate::machtiging::model::{Beslissing, Herziening};
use crate::machtiging::query::Details;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ToegekendePrestatieJson {
    code: String,
    aantal: u32,
    /// Amount in euro, two decimals, when the insurer gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    bedrag: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BeslissingJson {
    uitkomst: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    machtigingsnummer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    geldig_van: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    geldig_tot: Option<NaiveDate>,
    toegekende_prestaties: Vec<ToegekendePrestatieJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reden_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reden_tekst: Option<String>,
    automatisch: bool,
    #[serde(serialize_with = "crate::json_time::utc")]
    tijdstip: NaiveDateTime,
    /// The latest revision of the grant by the insurer, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    herziening: Option<HerzieningJson>,
}

/// The insurer revised a grant: `Herroeping` (from `ingangsdatum` on, the
/// status is `Herroepen`), `Inkorting` or `Verlenging` (the decision's
/// `geldigTot` is the new end; `vorigeGeldigTot` the one before).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HerzieningJson {
    soort: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ingangsdatum: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vorige_geldig_tot: Option<NaiveDate>,
    reden_code: String,
    reden_tekst: String,
    #[serde(serialize_with = "crate::json_time::utc")]
    tijdstip: NaiveDateTime,
}

impl From<Herziening> for HerzieningJson {
    fn from(h: Herziening) -> Self {
        Self {
            soort: h.soort.as_str().to_owned(),
            ingangsdatum: h.ingangsdatum,
            vorige_geldig_tot: h.vorige_geldig_tot,
            reden_code: h.reden_code,
            reden_tekst: h.reden_tekst,
            tijdstip: h.tijdstip,
        }
    }
}

impl From<Beslissing> for BeslissingJson {
    fn from(b: Beslissing) -> Self {
        Self {
            uitkomst: b.uitkomst.as_str().to_owned(),
            machtigingsnummer: b.machtigingsnummer,
            geldig_van: b.geldig_van,
            geldig_tot: b.geldig_tot,
            toegekende_prestaties: b
                .toegekende_prestaties
                .into_iter()
                .map(|p| ToegekendePrestatieJson {
                    code: p.code,
                    aantal: p.aantal,
                    bedrag: p.bedrag_centen.map(crate::machtiging::model::euro),
                })
                .collect(),
            reden_code: b.reden_code,
            reden_tekst: b.reden_tekst,
            automatisch: b.automatisch,
            tijdstip: b.tijdstip,
            herziening: b.herziening.map(HerzieningJson::from),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrestatieJson {
    code: String,
    aantal: u32,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerzekerdeJson {
    bsn: String,
    geboortedatum: NaiveDate,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VraagJson {
    vraag_id: String,
    tekst: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GebeurtenisJson {
    #[serde(serialize_with = "crate::json_time::utc")]
    tijdstip: NaiveDateTime,
    soort: String,
    status: String,
    actor: String,
}

/// Status, history and decision of one request.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DetailsJson {
    machtigingsaanvraag_id: String,
    referentie: String,
    status: String,
    agb_praktijk: String,
    uzovi: String,
    grondslag: String,
    verstrekking: String,
    verzekerde: VerzekerdeJson,
    begindatum: NaiveDate,
    gewenste_einddatum: NaiveDate,
    prestaties: Vec<PrestatieJson>,
    #[serde(serialize_with = "crate::json_time::utc")]
    aangemaakt_op: NaiveDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "crate::json_time::utc_opt")]
    ingediend_op: Option<NaiveDateTime>,
    open_vragen: Vec<VraagJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    beslissing: Option<BeslissingJson>,
    historie: Vec<GebeurtenisJson>,
}

impl From<Details> for DetailsJson {
    fn from(d: Details) -> Self {
        let r = d.record;
        let a = r.aanvraag;
        Self {
            machtigingsaanvraag_id: r.id.into(),
            referentie: r.referentie,
            status: r.status.as_str().to_owned(),
            agb_praktijk: r.provider_agb,
            uzovi: r.uzovi,
            grondslag: a.grondslag.as_str().to_owned(),
            verstrekking: a.verstrekking,
            verzekerde: VerzekerdeJson {
                bsn: a.bsn,
                geboortedatum: a.geboortedatum,
            },
            begindatum: a.begindatum,
            gewenste_einddatum: a.gewenste_einddatum,
            prestaties: a
                .prestaties
                .into_iter()
                .map(|p| PrestatieJson {
                    code: p.code,
                    aantal: p.aantal,
                })
                .collect(),
            aangemaakt_op: r.created_at,
            ingediend_op: r.submitted_at,
            open_vragen: r
                .open_vragen
                .into_iter()
                .map(|v| VraagJson {
                    vraag_id: v.vraag_id,
                    tekst: v.tekst,
                })
                .collect(),
            beslissing: r.beslissing.map(BeslissingJson::from),
            historie: d
                .history
                .into_iter()
                .map(|e| GebeurtenisJson {
                    tijdstip: e.at,
                    soort: e.action,
                    status: e.status,
                    actor: e.actor,
                })
                .collect(),
        }
    }
}
