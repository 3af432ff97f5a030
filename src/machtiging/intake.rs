//! From request bytes to a typed command in one closure (libxml2 trees are
//! not `Send`): the validation pipeline, then the mapping; large documents on
//! the blocking pool ([`blocking`]). Both doors end here with the
//! schema-valid element, so a submitted document is kept in one form
//! whichever door it came through ([`stored_document`]).

use libxml::tree::Document;

use super::model::AanvullendeInformatie;
use super::service::Submission;
use super::xml;
use crate::error::{Code, Refusal};
use crate::validation::{self, El, SchemaSet};

/// The form a submitted document is stored in, for either door: the element
/// as a document of its own, serialised by libxml2, with the namespaces it
/// uses declared on it (a SOAP client may declare them on the envelope).
/// Why this and not the caller's bytes: `docs/architecture.md`, Decisions.
pub fn stored_document(el: &El) -> Result<String, Refusal> {
    let doc = Document::dup_node_into_new_doc(el.node())
        .map_err(|()| Refusal::internal("Interne fout bij kopiëren van het bericht."))?;
    Ok(doc.to_string())
}

/// A schema-valid `Machtigingsaanvraag` element (a REST body's root, or the
/// one in a SOAP operation).
pub fn submission_of(el: &El, concept: bool) -> Result<Submission, Refusal> {
    Ok(Submission {
        aanvraag: xml::aanvraag(el)?,
        document: stored_document(el)?,
        concept,
    })
}

/// A schema-valid `AanvullendeInformatie` element, with its stored form.
pub fn aanvulling_of(el: &El) -> Result<(AanvullendeInformatie, String), Refusal> {
    Ok((xml::aanvullende_informatie(el)?, stored_document(el)?))
}

fn root(doc: &Document) -> Result<El, Refusal> {
    doc.get_root_element()
        .map(El::new)
        .ok_or_else(|| Refusal::new(Code::XmlNotWellFormed, "Geen root-element."))
}

/// A REST body whose root is `Machtigingsaanvraag`.
pub fn submission(bytes: &[u8], concept: bool) -> Result<Submission, Refusal> {
    let doc = validation::document(bytes, SchemaSet::Machtigingen, "Machtigingsaanvraag")?;
    submission_of(&root(&doc)?, concept)
}

/// A REST body whose root is `AanvullendeInformatie`.
pub fn aanvulling(bytes: &[u8]) -> Result<(AanvullendeInformatie, String), Refusal> {
    let doc = validation::document(bytes, SchemaSet::Machtigingen, "AanvullendeInformatie")?;
    aanvulling_of(&root(&doc)?)
}

/// An attachment of a stored document with its content as it stands there
/// (base64), so it can be carried into a changed document unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttachment {
    pub soort: String,
    pub naam: String,
    pub media_type: String,
    pub inhoud_base64: String,
}

/// The attachments of a stored `Machtigingsaanvraag` document; the document
/// passes the same validation as on its way in.
pub fn stored_attachments(document: &str) -> Result<Vec<StoredAttachment>, Refusal> {
    let doc = validation::document(
        document.as_bytes(),
        SchemaSet::Machtigingen,
        "Machtigingsaanvraag",
    )?;
    let Some(list) = root(&doc)?.opt("Bijlagen") else {
        return Ok(Vec::new());
    };
    list.all("Bijlage")
        .iter()
        .map(|b| {
            let mut inhoud_base64 = b.req("Inhoud")?.text();
            inhoud_base64.retain(|c| !c.is_ascii_whitespace());
            Ok(StoredAttachment {
                soort: b.str("Soort")?,
                naam: b.str("Naam")?,
                media_type: b.str("MediaType")?,
                inhoud_base64,
            })
        })
        .collect()
}

/// Documents up to this size are validated on the calling (async) thread.
/// Parse + XSD + mapping of a typical 1–3 KB document takes 30–50 µs
/// (docs/benchmarks.md), less than a hand-over to the blocking pool and back
/// costs in context switches; a 20 MB document takes a tenth of a second and
/// must not stall the other connections of this worker.
pub const INLINE_LIMIT: usize = 64 * 1024;

/// Runs `f`, which validates a document of `size` bytes: inline when small,
/// on the blocking pool otherwise. Generic in the error so a door can run
/// its own envelope parsing in the same closure.
pub async fn blocking<T, E, F>(size: usize, f: F) -> Result<T, E>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<Refusal> + Send + 'static,
{
    if size <= INLINE_LIMIT {
        return f();
    }
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "validation task failed");
        E::from(Refusal::internal("Interne fout."))
    })?
}
