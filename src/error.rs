//! The error vocabulary of the whole service, below every other module: the
//! stable, documented [`Code`]s (`docs/foutcodes.md`, a test keeps them in
//! step), a [`Finding`] within a refusal, and a [`Refusal`] — what a domain
//! operation decided to refuse, with its code. Imports nothing of the crate,
//! so every layer can use it; a domain error type carries a `Refusal` or a
//! store failure, and `problem` maps them onto the wire once.

use serde::Serialize;

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $status:literal, $title:literal; )*) => {
        /// A stable, documented error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $( $(#[$doc])* $variant, )* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The code as it appears on the wire, e.g. `AUTH-001`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// HTTP status used for REST and for the SOAP Fault response.
            pub fn status(self) -> u16 {
                match self { $(Code::$variant => $status,)* }
            }

            /// Short Dutch title, the `title` of a problem+json body.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }
        }
    };
}

codes! {
    /// The certificate is valid for TLS but not registered to any party.
    CertificateUnknown = "AUTH-001", 401, "Niet geauthenticeerd: certificaat onbekend";
    /// The certificate is registered but revoked.
    CertificateRevoked = "AUTH-002", 401, "Niet geauthenticeerd: certificaat ingetrokken";
    /// The certificate is outside its validity period.
    CertificateExpired = "AUTH-003", 401, "Niet geauthenticeerd: certificaat niet geldig op dit moment";
    /// No client certificate reached the application.
    CertificateMissing = "AUTH-004", 401, "Niet geauthenticeerd: geen clientcertificaat";
    /// The certificate's party is deactivated by the operator: all its certificates are refused.
    PartyDeactivated = "AUTH-005", 401, "Niet geauthenticeerd: partij gedeactiveerd";
    /// The certificate lacks the authorization the operation needs.
    ScopeMissing = "AUTZ-001", 403, "Niet geautoriseerd: autorisatie ontbreekt";
    /// The certificate's IP allow-list does not contain the caller's address.
    AddressNotAllowed = "AUTZ-002", 403, "Niet geautoriseerd: IP-adres niet toegestaan";
    /// A software vendor acts for a provider without a valid consent statement.
    NoConsent = "AUTZ-003", 403, "Niet geautoriseerd: geen geldige toestemmingsverklaring van de zorgaanbieder";
    /// The portal is for persons: a systeem certificate is refused there.
    PortalSystemCertificate = "AUTZ-004", 403, "Niet geautoriseerd: het portaal vraagt een persoonlijk certificaat";
    /// No resource at this address, or not visible to the caller.
    NotFound = "REQ-001", 404, "Niet gevonden";
    /// The request body exceeds the configured limit.
    BodyTooLarge = "REQ-002", 413, "Bericht te groot";
    /// The Content-Type is not one this endpoint accepts.
    UnsupportedMediaType = "REQ-003", 415, "Content-Type niet ondersteund";
    /// The request could not be read (query, path or JSON body).
    BadRequest = "REQ-004", 400, "Ongeldig verzoek";
    /// The HTTP method is not supported on this resource.
    MethodNotAllowed = "REQ-005", 405, "Methode niet toegestaan";
    /// Search paging: a `vervolg` token that cannot be read, `vervolg` and
    /// `pagina` together, or a `pagina` past the first 1000 results.
    Paging = "REQ-006", 400, "Ongeldige paginering";
    /// Portal: a form posted without its CSRF token, with another's, or with an expired one.
    FormToken = "REQ-007", 403, "Formulier verlopen of niet van dit portaal";
    /// The body is not well-formed XML, not UTF-8, or declares another encoding.
    XmlNotWellFormed = "XML-001", 400, "Geen welgevormde XML";
    /// DOCTYPE, entity declarations or references, or processing instructions.
    XmlForbidden = "XML-002", 400, "DOCTYPE, entiteit of processing instruction niet toegestaan";
    /// Nesting, attribute or namespace-declaration limits exceeded.
    XmlLimits = "XML-003", 400, "Structuurgrenzen van het bericht overschreden";
    /// Another root element or namespace than this endpoint expects.
    XmlWrongDocument = "XML-004", 400, "Onverwacht document (root-element of namespace)";
    /// The document does not validate against the XSD; one finding per error.
    SchemaInvalid = "XSD-001", 400, "Bericht voldoet niet aan het schema";
    /// One or more JVC business checks failed; the findings name each.
    JvcFailed = "JVC-000", 422, "JVC-controles niet geslaagd";
    /// Juistheid: the BSN fails the 11-proef.
    JvcBsn = "JVC-J01", 422, "BSN voldoet niet aan de 11-proef";
    /// Juistheid: the UZOVI-code is not a registered insurer.
    JvcUzovi = "JVC-J02", 422, "UZOVI-code is geen aangesloten zorgverzekeraar of zorgkantoor";
    /// Juistheid: the verstrekking is not in that insurer's catalog.
    JvcVerstrekking = "JVC-J03", 422, "Verstrekking komt niet voor in de catalogus van de verzekeraar";
    /// Juistheid: an attachment's media type is not allowed.
    JvcMediaType = "JVC-J04", 422, "Mediatype van bijlage niet toegestaan";
    /// Juistheid: the attachments exceed 20 MB in total (decoded).
    JvcAttachmentsTooLarge = "JVC-J05", 422, "Bijlagen samen groter dan 20 MB";
    /// Juistheid: a prestatie code is not in the insurer's catalog.
    JvcPrestatie = "JVC-J06", 422, "Prestatiecode onbekend bij de verzekeraar";
    /// Juistheid: an answer does not fit the question's answer type.
    JvcAnswerType = "JVC-J07", 422, "Antwoord past niet bij het antwoordtype van de vraag";
    /// Juistheid: an answer to a question the verstrekking does not ask.
    JvcUnknownQuestion = "JVC-J08", 422, "Antwoord op een vraag die niet bij de verstrekking hoort";
    /// Juistheid: the date of birth lies in the future.
    JvcBirthDate = "JVC-J09", 422, "Geboortedatum ligt in de toekomst";
    /// Volledigheid: a question the insurer requires is not answered.
    JvcQuestionMissing = "JVC-V01", 422, "Verplichte vraag niet beantwoord";
    /// Volledigheid: an attachment the insurer requires is missing.
    JvcAttachmentMissing = "JVC-V02", 422, "Verplichte bijlage ontbreekt";
    /// Volledigheid: additional information without any answer, remark or attachment.
    JvcNothingSupplied = "JVC-V03", 422, "Aanvullende informatie is leeg";
    /// Consistentie: the indiener's AGB-code is not the certificate's party.
    JvcIndiener = "JVC-C01", 422, "Indiener komt niet overeen met het certificaat";
    /// Consistentie: this zorgverlenersoort may not request this verstrekking.
    JvcProviderType = "JVC-C02", 422, "Zorgverlenersoort mag deze verstrekking niet aanvragen";
    /// Consistentie: the end date lies before the start date.
    JvcDateOrder = "JVC-C03", 422, "Gewenste einddatum ligt voor de begindatum";
    /// Consistentie: the start date lies further back than the insurer allows.
    JvcTooFarBack = "JVC-C04", 422, "Begindatum ligt verder terug dan de verzekeraar toestaat";
    /// Consistentie: the start date lies further ahead than the insurer allows.
    JvcTooFarAhead = "JVC-C05", 422, "Begindatum ligt verder vooruit dan de verzekeraar toestaat";
    /// Consistentie: the grondslag differs from the verstrekking's grondslag.
    JvcGrondslag = "JVC-C06", 422, "Grondslag past niet bij de verstrekking";
    /// Consistentie: a prestatie belongs to another grondslag.
    JvcPrestatieGrondslag = "JVC-C07", 422, "Prestatie past niet bij de grondslag";
    /// Consistentie: a prestatie is not part of the verstrekking.
    JvcPrestatieVerstrekking = "JVC-C08", 422, "Prestatie hoort niet bij deze verstrekking";
    /// Not a SOAP envelope of the version the Content-Type announces, or a
    /// Body that is not exactly one operation element.
    SoapEnvelope = "SOAP-001", 400, "Geen geldige SOAP-envelope";
    /// Unknown operation, or SOAPAction/action does not match the body.
    SoapOperation = "SOAP-002", 400, "Onbekende operatie of SOAPAction past niet bij het bericht";
    /// A header marked mustUnderstand that this service does not understand.
    SoapMustUnderstand = "SOAP-003", 400, "Header met mustUnderstand niet ondersteund";
    /// The envelope's SOAP version differs from the one the Content-Type announced.
    SoapVersionMismatch = "SOAP-004", 400, "SOAP-versie van de envelope past niet bij het Content-Type";
    /// Opt-in: the chosen provider has not subscribed to the opt-in service.
    OptinNotSubscribed = "OPT-001", 422, "Zorgaanbieder is niet aangemeld voor de dienst opt-in";
    /// Opt-in: the patient's BSN fails the 11-proef.
    OptinBsn = "OPT-002", 422, "BSN voldoet niet aan de 11-proef";
    /// Opt-in: the moment of consent is in the future or before the birth date, or the birth date is in the future.
    OptinMoment = "OPT-003", 422, "Tijdstip van toestemming of geboortedatum niet mogelijk";
    /// Opt-in: a rejection without a reason.
    OptinReason = "OPT-004", 422, "Reden verplicht bij Afgewezen";
    /// Opt-in: the caller is not a provider that can subscribe or handle registrations.
    OptinNotProvider = "OPT-005", 403, "Alleen een zorgaanbieder kan zich aanmelden en registraties afhandelen";
    /// Gebruikersbeheer: the authorization cannot be held by this party type or certificate kind.
    ScopeNotAllowed = "BEH-001", 422, "Autorisatie niet toegestaan voor deze partij of dit certificaat";
    /// Gebruikersbeheer: the CSR is not valid or its key is too weak.
    CsrRefused = "BEH-002", 422, "CSR ongeldig of sleutel te zwak";
    /// Gebruikersbeheer: this instance cannot sign certificates (no platform CA).
    CaUnavailable = "BEH-003", 503, "Certificaat aanvragen niet beschikbaar";
    /// Gebruikersbeheer: the certificate was revoked already.
    AlreadyRevoked = "BEH-004", 409, "Certificaat is al ingetrokken";
    /// Gebruikersbeheer: a consent statement names a party that is not a registered software vendor.
    UnknownVendor = "BEH-005", 422, "Onbekende softwareleverancier";
    /// Gebruikersbeheer: this instance does not sign CSRs (`pki.csr_signing = false`, an offline CA).
    CsrSigningDisabled = "BEH-006", 403, "Certificaat aanvragen uitgeschakeld op deze instantie";
    /// Beoordeling: the decision is incomplete or inconsistent; findings name each problem.
    DecisionInvalid = "BEO-001", 422, "Beoordeling ongeldig";
    /// Beoordeling: the Machtigingsnummer is already used by this insurer.
    NumberTaken = "BEO-002", 409, "Machtigingsnummer al in gebruik bij deze verzekeraar";
    /// Beoordeling: the caller's party is not a zorgverzekeraar or zorgkantoor.
    NotInsurer = "BEO-003", 403, "Alleen een zorgverzekeraar of zorgkantoor kan beoordelen";
    /// Beoordeling: the catalog's UZOVI-code is not the caller's.
    CatalogNotOwn = "BEO-004", 403, "Catalogus van een andere verzekeraar";
    /// Herziening: a revision without `redenCode` and `redenTekst`.
    RevisionReason = "HER-001", 422, "Reden verplicht bij een herziening";
    /// Herziening: shortening needs a new end on or after today and the start, before the current end.
    RevisionShorten = "HER-002", 422, "Nieuwe einddatum past niet bij inkorten";
    /// Herziening: extending needs a new end after the current end.
    RevisionExtend = "HER-003", 422, "Nieuwe einddatum past niet bij verlengen";
    /// Herziening: revoking needs an ingangsdatum from today up to the current end.
    RevisionRevoke = "HER-004", 422, "Ingangsdatum past niet bij herroepen";
    /// The request's state does not allow this action.
    StatusTransition = "STA-001", 409, "Statusovergang niet toegestaan";
    /// The same Referentie was used before with different content.
    ReferenceConflict = "DUP-001", 409, "Referentie al gebruikt met andere inhoud";
    /// The callback URL is not an https:// URL without credentials or fragment.
    CallbackUrl = "TKP-001", 400, "Callback-URL ongeldig";
    /// The callback host resolves to an internal address (SSRF protection) or not at all.
    CallbackAddress = "TKP-002", 422, "Callback-adres niet toegestaan";
    /// The CA bundle for the provider's server holds no PEM certificate.
    CallbackCaBundle = "TKP-003", 400, "CA-bundel ongeldig";
    /// Unknown callback format or event type.
    CallbackEventType = "TKP-004", 400, "Formaat of gebeurtenis onbekend";
    /// The party has no (active) callback registration for this action.
    SubscriptionMissing = "TKP-005", 409, "Geen terugkoppelingsabonnement";
    /// The party asked for more receiver checks than `terugkoppeling.controles_per_uur` allows.
    CheckRateLimited = "TKP-006", 429, "Te veel ontvangercontroles";
    /// An unexpected error; details are in the server log under the request id.
    Internal = "SYS-001", 500, "Interne fout";
    /// The database cannot be reached in time; retry later.
    Unavailable = "SYS-002", 503, "Dienst tijdelijk niet beschikbaar";
}

impl Code {
    /// Whether the caller can fix it (SOAP `Client`/`Sender`) or not
    /// (`Server`/`Receiver`).
    pub fn is_client_fault(self) -> bool {
        self.status() < 500
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One specific finding within a refusal, e.g. one failed JVC check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: Code,
    /// Where: an element path with line (`/Machtigingsaanvraag/Verzekerde/Bsn`,
    /// line 12) or a field name; `None` when it concerns the whole message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub message: String,
}

/// A refusal decided by the domain: a code, a Dutch detail for the caller and,
/// where there can be several, one finding each. The doors send it on the
/// wire unchanged (`problem`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: Code,
    pub detail: String,
    pub findings: Vec<Finding>,
}

impl Refusal {
    pub fn new(code: Code, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            findings: Vec::new(),
        }
    }

    pub fn with_findings(code: Code, detail: impl Into<String>, findings: Vec<Finding>) -> Self {
        Self {
            code,
            detail: detail.into(),
            findings,
        }
    }

    /// `SYS-001`: what went wrong is logged where it happened, under the
    /// request id; the caller only learns that it was not its fault.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(Code::Internal, detail)
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.detail)
    }
}

impl std::error::Error for Refusal {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {}", c.as_str());
        }
    }

    #[test]
    fn every_code_is_documented() {
        let doc = include_str!("../docs/foutcodes.md");
        for c in Code::ALL {
            assert!(
                doc.contains(&format!("`{}`", c.as_str())),
                "{} is missing from docs/foutcodes.md",
                c.as_str()
            );
        }
    }
}
