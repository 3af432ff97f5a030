//! The verstrekkingen catalog: per insurer, what can be requested, under which
//! grondslag, by which provider types, with which questions and attachments,
//! how far back or ahead, and (optionally) automatic decision rules. It drives
//! the JVC volledigheid and consistentie checks.
//!
//! The JSON form (Dutch keys) is the same for `machtigingen catalog load FILE`
//! and for the insurer's API; see `docs/examples/catalogus.json`.

pub mod store;

use serde::{Deserialize, Serialize};

/// Legal basis: Zorgverzekeringswet or Wet langdurige zorg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Grondslag {
    Zvw,
    Wlz,
}

impl Grondslag {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zvw => "Zvw",
            Self::Wlz => "Wlz",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Zvw" => Some(Self::Zvw),
            "Wlz" => Some(Self::Wlz),
            _ => None,
        }
    }
}

/// A catalog file: one or more insurers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CatalogFile {
    pub verzekeraars: Vec<InsurerCatalog>,
}

/// One insurer's catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InsurerCatalog {
    #[schema(pattern = r"^[0-9]{4}$")]
    pub uzovi: String,
    #[serde(default)]
    pub prestaties: Vec<PrestatieDef>,
    #[serde(default)]
    pub verstrekkingen: Vec<Verstrekking>,
}

/// A prestatie code the insurer knows, and the grondslag it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PrestatieDef {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,20}$")]
    pub code: String,
    pub omschrijving: String,
    pub grondslag: Grondslag,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Verstrekking {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,20}$")]
    pub code: String,
    pub naam: String,
    pub grondslag: Grondslag,
    /// Provider types (first two digits of the AGB-code) that may request it.
    pub zorgverlenersoorten: Vec<String>,
    /// Prestatie codes that belong to this verstrekking.
    pub prestaties: Vec<String>,
    #[serde(default)]
    pub vragen: Vec<Vraag>,
    /// Attachment kinds (`Bijlage/Soort`) that must be present.
    #[serde(default)]
    pub verplichte_bijlagen: Vec<String>,
    /// How many days before today the begindatum may lie.
    pub max_dagen_terug: u32,
    /// How many days after today the begindatum may lie.
    pub max_dagen_vooruit: u32,
    /// Automatic decision rules, tried in order; the first that matches decides.
    #[serde(default)]
    pub regels: Vec<Regel>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Vraag {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,20}$")]
    pub id: String,
    pub tekst: String,
    pub antwoord_type: AntwoordType,
    pub verplicht: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum AntwoordType {
    Tekst,
    Getal,
    Datum,
    JaNee,
}

impl AntwoordType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tekst => "tekst",
            Self::Getal => "getal",
            Self::Datum => "datum",
            Self::JaNee => "jaNee",
        }
    }

    /// Whether `value` is a valid answer of this type.
    pub fn accepts(self, value: &str) -> bool {
        let v = value.trim();
        match self {
            Self::Tekst => !v.is_empty(),
            Self::Getal => v.parse::<f64>().is_ok_and(f64::is_finite),
            Self::Datum => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok(),
            Self::JaNee => matches!(v, "ja" | "nee"),
        }
    }
}

/// An automatic decision rule: when every condition holds, the request is
/// decided at submission with `uitkomst`, valid for `geldigMaanden` months from
/// the begindatum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Regel {
    pub uitkomst: RegelUitkomst,
    /// The sum of the requested amounts (aantal) is at most this.
    #[serde(default)]
    pub max_totaal_aantal: Option<u32>,
    /// The provider type is one of these (all when absent).
    #[serde(default)]
    pub zorgverlenersoorten: Option<Vec<String>>,
    /// Validity of the grant in months (for `toekennen`).
    #[serde(default)]
    pub geldig_maanden: Option<u32>,
    /// Reason code and text (for `afwijzen`).
    #[serde(default)]
    pub reden_code: Option<String>,
    #[serde(default)]
    pub reden_tekst: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum RegelUitkomst {
    Toekennen,
    Afwijzen,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog: {0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

impl InsurerCatalog {
    /// Checks internal consistency: codes unique, prestaties known and of the
    /// verstrekking's grondslag, rules complete.
    pub fn validate(&self) -> Result<(), CatalogError> {
        let bad = |m: String| Err(CatalogError::Invalid(format!("UZOVI {}: {m}", self.uzovi)));
        if crate::registry::IdScheme::Uzovi
            .validate(&self.uzovi)
            .is_err()
        {
            return bad("uzovi must be 4 digits".into());
        }
        let code_ok = |c: &str| {
            (1..=20).contains(&c.len())
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        };
        let mut seen = std::collections::HashSet::new();
        for p in &self.prestaties {
            if !code_ok(&p.code) || !seen.insert(p.code.as_str()) {
                return bad(format!(
                    "prestatie code '{}' is invalid or duplicate",
                    p.code
                ));
            }
        }
        let mut seen_v = std::collections::HashSet::new();
        for v in &self.verstrekkingen {
            if !code_ok(&v.code) || !seen_v.insert(v.code.as_str()) {
                return bad(format!(
                    "verstrekking code '{}' is invalid or duplicate",
                    v.code
                ));
            }
            for code in &v.prestaties {
                match self.prestaties.iter().find(|p| &p.code == code) {
                    None => {
                        return bad(format!(
                            "verstrekking {}: prestatie {code} is not in prestaties",
                            v.code
                        ));
                    }
                    Some(p) if p.grondslag != v.grondslag => {
                        return bad(format!(
                            "verstrekking {}: prestatie {code} has another grondslag",
                            v.code
                        ));
                    }
                    Some(_) => {}
                }
            }
            for s in &v.zorgverlenersoorten {
                if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
                    return bad(format!(
                        "verstrekking {}: zorgverlenersoort '{s}' must be 2 digits",
                        v.code
                    ));
                }
            }
            let mut q = std::collections::HashSet::new();
            for vraag in &v.vragen {
                if !code_ok(&vraag.id) || !q.insert(vraag.id.as_str()) {
                    return bad(format!(
                        "verstrekking {}: question id '{}' invalid or duplicate",
                        v.code, vraag.id
                    ));
                }
            }
            for r in &v.regels {
                if r.uitkomst == RegelUitkomst::Toekennen
                    && r.geldig_maanden.is_none_or(|m| m == 0 || m > 120)
                {
                    return bad(format!(
                        "verstrekking {}: a toekennen rule needs geldigMaanden 1-120",
                        v.code
                    ));
                }
                if r.uitkomst == RegelUitkomst::Afwijzen && r.reden_code.is_none() {
                    return bad(format!(
                        "verstrekking {}: an afwijzen rule needs redenCode",
                        v.code
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Media types an attachment may have, platform-wide.
pub const ALLOWED_MEDIA_TYPES: &[&str] = &[
    "application/pdf",
    "image/jpeg",
    "image/png",
    "image/tiff",
    "text/plain",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_catalog_is_valid() {
        let file: CatalogFile =
            serde_json::from_str(include_str!("../../docs/examples/catalogus.json")).unwrap();
        assert!(file.verzekeraars.len() >= 2);
        for c in &file.verzekeraars {
            c.validate().unwrap();
        }
    }

    #[test]
    fn answer_types() {
        assert!(AntwoordType::Getal.accepts("12.5"));
        assert!(!AntwoordType::Getal.accepts("twaalf"));
        assert!(AntwoordType::Datum.accepts("2026-01-31"));
        assert!(!AntwoordType::Datum.accepts("31-01-2026"));
        assert!(AntwoordType::JaNee.accepts("ja"));
        assert!(!AntwoordType::JaNee.accepts("misschien"));
        assert!(!AntwoordType::Tekst.accepts("  "));
    }
}
