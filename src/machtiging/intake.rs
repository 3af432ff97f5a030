//! From request bytes to a typed command in one closure (libxml2 trees are
//! not `Send`): the validation pipeline, then the mapping; large documents on
//! the blocking pool ([`blocking`]). Both doors end here with the
//! schema-valid element, so a submitted document is kept in one form
//! whichever door it came through ([`stored_document`]).

use libxml::tree::Document;

use super::model::AanvullendeInformatie;
use super::service::Submission;
use super::xml;
use crate::problem::{Code, Problem};
use crate::validation::{self, El, SchemaSet};

/// The form a submitted document is stored in, for either door: the element
/// as a document of its own, serialised by libxml2, with the namespaces it
/// uses declared on it (a SOAP client may declare them on the envelope).
/// Why this and not the caller's bytes: `docs/architecture.md`, Decisions.
pub fn stored_document(el: &El) -> Result<String, Problem> {
    let doc = Document::dup_node_into_new_doc(&el.0)
        .map_err(|()| Problem::new(Code::Internal, "Interne fout bij kopiëren van het bericht."))?;
    Ok(doc.to_string())
}

/// A schema-valid `Machtigingsaanvraag` element (a REST body's root, or the
/// one in a SOAP operation).
pub fn submission_of(el: &El, concept: bool) -> Result<Submission, Problem> {
    Ok(Submission {
        aanvraag: xml::aanvraag(el)?,
        document: stored_document(el)?,
        concept,
    })
}

/// A schema-valid `AanvullendeInformatie` element, with its stored form.
pub fn aanvulling_of(el: &El) -> Result<(AanvullendeInformatie, String), Problem> {
    Ok((xml::aanvullende_informatie(el)?, stored_document(el)?))
}

fn root(doc: &Document) -> Result<El, Problem> {
    doc.get_root_element()
        .map(El)
        .ok_or_else(|| Problem::new(Code::XmlNotWellFormed, "Geen root-element."))
}

/// A REST body whose root is `Machtigingsaanvraag`.
pub fn submission(bytes: &[u8], concept: bool) -> Result<Submission, Problem> {
    let doc = validation::document(bytes, SchemaSet::Machtigingen, "Machtigingsaanvraag")?;
    submission_of(&root(&doc)?, concept)
}

/// A REST body whose root is `AanvullendeInformatie`.
pub fn aanvulling(bytes: &[u8]) -> Result<(AanvullendeInformatie, String), Problem> {
    let doc = validation::document(bytes, SchemaSet::Machtigingen, "AanvullendeInformatie")?;
    aanvulling_of(&root(&doc)?)
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
        Problem::new(Code::Internal, "Interne fout.")
    })?
}
