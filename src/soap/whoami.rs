//! `WieBenIk`, in the machtigingen and the beoordeling service: the SOAP
//! door's whoami. The answer is one `m:Identiteit` (schemas/machtigingen-v1.xsd)
//! in either service, written here once, with what `GET /api/v1/whoami`
//! answers: party, certificate (with its holder), authorizations, and the
//! party's contact person.

use super::types::{self, NS};
use super::writer::Xml;
use crate::beheer;
use crate::identity::Caller;
use crate::problem::Problem;
use crate::state::AppState;

/// The `WieBenIkResponse` of the service in namespace `ns`. Needs no
/// authorization: every registered certificate of an active party may ask.
pub async fn response(state: &AppState, caller: &Caller, ns: &str) -> Result<String, Problem> {
    let contact = beheer::contact_person(&state.db, caller).await?;
    let c = &caller.certificate;
    let mut x = Xml::new();
    x.open_ns("WieBenIkResponse", ns)
        .open_ns("Identiteit", NS)
        .open("Partij")
        .leaf("Soort", c.party.kind.as_str())
        .leaf("Id", &c.party.reference)
        .leaf("Naam", &c.party.name)
        .close("Partij")
        .open("Certificaat")
        .leaf("Soort", c.kind.as_str())
        .leaf("Vingerafdruk", &c.fingerprint)
        .leaf("Serienummer", &c.serial)
        .leaf("Onderwerp", &c.subject)
        .opt_leaf("Houder", c.holder.as_deref())
        .leaf("GeldigTot", types::timestamp(c.not_after))
        .close("Certificaat");
    for scope in c.scopes.iter() {
        x.leaf("Autorisatie", scope.as_str());
    }
    if let Some(p) = contact {
        x.open("Contactpersoon")
            .opt_leaf("Naam", p.naam.as_deref())
            .opt_leaf("Email", p.email.as_deref())
            .opt_leaf("Telefoon", p.telefoon.as_deref())
            .close("Contactpersoon");
    }
    x.close("Identiteit").close("WieBenIkResponse");
    Ok(x.finish())
}

#[cfg(test)]
mod tests {
    use crate::registry::{PartyKind, Scope};

    /// The schema's closed sets are the code's: a new party kind or
    /// authorization must be added to `m:PartijSoort` / `m:Autorisatie`.
    #[test]
    fn schema_enumerations_follow_the_code() {
        let xsd = include_str!("../../schemas/machtigingen-v1.xsd");
        let values = |name: &str| -> Vec<String> {
            let start = xsd
                .find(&format!("<xs:simpleType name=\"{name}\">"))
                .unwrap();
            let end = start + xsd[start..].find("</xs:simpleType>").unwrap();
            xsd[start..end]
                .split("<xs:enumeration value=\"")
                .skip(1)
                .map(|v| v.split('"').next().unwrap().to_owned())
                .collect()
        };
        let kinds: Vec<String> = PartyKind::ALL.iter().map(|k| k.as_str().into()).collect();
        assert_eq!(values("PartijSoort"), kinds);
        let scopes: Vec<String> = Scope::ALL.iter().map(|s| s.as_str().into()).collect();
        assert_eq!(values("Autorisatie"), scopes);
        assert_eq!(values("CertificaatSoort"), ["persoonlijk", "systeem"]);
    }
}
