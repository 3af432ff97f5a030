//! Persistence of the catalog: prestaties and verstrekkingen per insurer. A
//! verstrekking's full definition is stored as its JSON form; the columns
//! beside it are what lookups filter on.

use diesel::prelude::*;

use super::{CatalogError, Grondslag, InsurerCatalog, PrestatieDef, Verstrekking};
use crate::db::schema::{catalog_prestaties, catalog_verstrekkingen};
use crate::db::{DbConnection, DbError, now, write_tx};

fn invalid_row(what: &str) -> CatalogError {
    CatalogError::Db(DbError::Invalid(format!(
        "stored catalog {what} unreadable"
    )))
}

/// Replaces an insurer's whole catalog atomically.
pub fn replace(conn: &mut DbConnection, catalog: &InsurerCatalog) -> Result<(), CatalogError> {
    catalog.validate()?;
    write_tx(conn, |c| {
        diesel::delete(
            catalog_prestaties::table.filter(catalog_prestaties::uzovi.eq(&catalog.uzovi)),
        )
        .execute(c)?;
        diesel::delete(
            catalog_verstrekkingen::table.filter(catalog_verstrekkingen::uzovi.eq(&catalog.uzovi)),
        )
        .execute(c)?;
        for p in &catalog.prestaties {
            diesel::insert_into(catalog_prestaties::table)
                .values((
                    catalog_prestaties::uzovi.eq(&catalog.uzovi),
                    catalog_prestaties::code.eq(&p.code),
                    catalog_prestaties::omschrijving.eq(&p.omschrijving),
                    catalog_prestaties::grondslag.eq(p.grondslag.as_str()),
                ))
                .execute(c)?;
        }
        let at = now();
        for v in &catalog.verstrekkingen {
            let definition =
                serde_json::to_string(v).map_err(|e| CatalogError::Invalid(e.to_string()))?;
            diesel::insert_into(catalog_verstrekkingen::table)
                .values((
                    catalog_verstrekkingen::uzovi.eq(&catalog.uzovi),
                    catalog_verstrekkingen::code.eq(&v.code),
                    catalog_verstrekkingen::naam.eq(&v.naam),
                    catalog_verstrekkingen::grondslag.eq(v.grondslag.as_str()),
                    catalog_verstrekkingen::definition.eq(definition),
                    catalog_verstrekkingen::updated_at.eq(at),
                ))
                .execute(c)?;
        }
        Ok(())
    })
}

impl From<diesel::result::Error> for CatalogError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

pub fn verstrekking(
    conn: &mut DbConnection,
    uzovi: &str,
    code: &str,
) -> Result<Option<Verstrekking>, CatalogError> {
    let def: Option<String> = catalog_verstrekkingen::table
        .filter(catalog_verstrekkingen::uzovi.eq(uzovi))
        .filter(catalog_verstrekkingen::code.eq(code))
        .select(catalog_verstrekkingen::definition)
        .first(conn)
        .optional()?;
    def.as_deref().map(parse_verstrekking).transpose()
}

/// A verstrekking from its stored JSON form (the `definition` column), for
/// callers that read the column in a statement of their own.
pub fn parse_verstrekking(definition: &str) -> Result<Verstrekking, CatalogError> {
    serde_json::from_str(definition).map_err(|_| invalid_row("verstrekking"))
}

/// The insurer's definitions of the given prestatie codes (unknown ones absent).
pub fn prestaties(
    conn: &mut DbConnection,
    uzovi: &str,
    codes: &[&str],
) -> Result<Vec<PrestatieDef>, CatalogError> {
    let mut codes = codes.to_vec();
    codes.sort_unstable();
    codes.dedup();
    // One keyed lookup per code: a request names a handful, and unlike an
    // `IN (…)` list, whose length varies, this statement is prepared once
    // per connection and reused (the prepare cost more than the lookups).
    let mut found = Vec::with_capacity(codes.len());
    for code in codes {
        let row: Option<(String, String, String)> = catalog_prestaties::table
            .filter(catalog_prestaties::uzovi.eq(uzovi))
            .filter(catalog_prestaties::code.eq(code))
            .select((
                catalog_prestaties::code,
                catalog_prestaties::omschrijving,
                catalog_prestaties::grondslag,
            ))
            .first(conn)
            .optional()?;
        if let Some((code, omschrijving, g)) = row {
            found.push(prestatie(code, omschrijving, &g)?);
        }
    }
    Ok(found)
}

/// A prestatie's definition from its stored columns.
pub fn prestatie(
    code: String,
    omschrijving: String,
    grondslag: &str,
) -> Result<PrestatieDef, CatalogError> {
    Ok(PrestatieDef {
        code,
        omschrijving,
        grondslag: Grondslag::parse(grondslag).ok_or_else(|| invalid_row("prestatie"))?,
    })
}

/// The whole catalog of one insurer (empty when it has none).
pub fn load(conn: &mut DbConnection, uzovi: &str) -> Result<InsurerCatalog, CatalogError> {
    let defs: Vec<String> = catalog_verstrekkingen::table
        .filter(catalog_verstrekkingen::uzovi.eq(uzovi))
        .order(catalog_verstrekkingen::code)
        .select(catalog_verstrekkingen::definition)
        .load(conn)?;
    let verstrekkingen = defs
        .iter()
        .map(|d| serde_json::from_str(d).map_err(|_| invalid_row("verstrekking")))
        .collect::<Result<Vec<Verstrekking>, _>>()?;
    let rows: Vec<(String, String, String)> = catalog_prestaties::table
        .filter(catalog_prestaties::uzovi.eq(uzovi))
        .order(catalog_prestaties::code)
        .select((
            catalog_prestaties::code,
            catalog_prestaties::omschrijving,
            catalog_prestaties::grondslag,
        ))
        .load(conn)?;
    let prestaties = rows
        .into_iter()
        .map(|(code, omschrijving, g)| prestatie(code, omschrijving, &g))
        .collect::<Result<Vec<_>, CatalogError>>()?;
    Ok(InsurerCatalog {
        uzovi: uzovi.to_owned(),
        prestaties,
        verstrekkingen,
    })
}

/// UZOVI-codes that have a catalog.
pub fn insurers(conn: &mut DbConnection) -> Result<Vec<String>, CatalogError> {
    Ok(catalog_verstrekkingen::table
        .select(catalog_verstrekkingen::uzovi)
        .distinct()
        .order(catalog_verstrekkingen::uzovi)
        .load(conn)?)
}
