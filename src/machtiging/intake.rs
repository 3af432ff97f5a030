//! From request bytes to a typed command in one closure (libxml2 trees are
//! not `Send`): the validation pipeline, then the mapping; large documents on
//! the blocking pool ([`blocking`]).

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

/// Documents up to this size are validated on the calling (async) thread.
/// Parse + XSD + mapping of a typical 1–3 KB document takes 30–50 µs
/// (docs/benchmarks.md), less than a hand-over to the blocking pool and back
/// costs in context switches; a 20 MB document takes a tenth of a second and
/// must not stall the other connections of this worker.
pub const INLINE_LIMIT: usize = 64 * 1024;

/// Runs `f`, which validates a document of `size` bytes: inline when small,
/// on the blocking pool otherwise.
pub async fn blocking<T, F>(size: usize, f: F) -> Result<T, Problem>
where
    F: FnOnce() -> Result<T, Problem> + Send + 'static,
    T: Send + 'static,
{
    if size <= INLINE_LIMIT {
        return f();
    }
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "validation task failed");
        Problem::new(crate::problem::Code::Internal, "Interne fout.")
    })?
}
