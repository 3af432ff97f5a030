//! From request bytes to a typed command, on one blocking thread (libxml2
//! trees are not `Send`): the validation pipeline, then the mapping.

use super::model::AanvullendeInformatie;
use super::service::Submission;
use super::xml;
use crate::problem::Problem;
use crate::validation::{self, El, SchemaSet};

/// A REST body whose root is `Machtigingsaanvraag`.
pub fn submission(bytes: &[u8], concept: bool) -> Result<Submission, Problem> {
    let doc = validation::document(bytes, SchemaSet::Machtigingen, "Machtigingsaanvraag")?;
    let root = doc.get_root_element().map(El).ok_or_else(|| {
        Problem::new(crate::problem::Code::XmlNotWellFormed, "Geen root-element.")
    })?;
    let aanvraag = xml::aanvraag(&root)?;
    // The body passed the UTF-8 check in validation::document.
    let document = String::from_utf8_lossy(bytes).into_owned();
    Ok(Submission {
        aanvraag,
        document,
        concept,
    })
}

/// A REST body whose root is `AanvullendeInformatie`.
pub fn aanvulling(bytes: &[u8]) -> Result<(AanvullendeInformatie, String), Problem> {
    let doc = validation::document(bytes, SchemaSet::Machtigingen, "AanvullendeInformatie")?;
    let root = doc.get_root_element().map(El).ok_or_else(|| {
        Problem::new(crate::problem::Code::XmlNotWellFormed, "Geen root-element.")
    })?;
    Ok((
        xml::aanvullende_informatie(&root)?,
        String::from_utf8_lossy(bytes).into_owned(),
    ))
}

/// Runs `f` on the blocking pool: XML work must not stall the async workers.
pub async fn blocking<T, F>(f: F) -> Result<T, Problem>
where
    F: FnOnce() -> Result<T, Problem> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "validation task failed");
        Problem::new(crate::problem::Code::Internal, "Interne fout.")
    })?
}
