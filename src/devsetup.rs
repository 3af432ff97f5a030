//! Development PKI and demo parties: what `pki init` creates, and what `serve`
//! creates by itself on a fresh checkout so the first command already works.
//! Everything made here is labelled development-only in its certificate names.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::audit::Actor;
use crate::config::Config;
use crate::db::Db;
use crate::pki::{self, Ca, PkiError, Validity};
use crate::registry::admin::{self, IssueRequest, KeySource};
use crate::registry::{CertKind, PartyKind, PartyRef, RegistryError, Scope, store};

pub const DEV_CA_NAME: &str = "machtigingen ONTWIKKEL-CA - NIET VOOR PRODUCTIE";
const DEV_ORG: &str = "machtigingen (ontwikkeling)";
/// Where the demo certificates are written, beside the database.
pub const DEMO_DIR: &str = "data/demo";
/// Password of the demo PKCS#12 files: documented (README, banner) and written
/// beside them, because a development PKI has nothing to hide and Java's and
/// .NET's key stores need a non-empty one.
pub const DEMO_P12_PASSWORD: &str = "ontwikkeling";
/// The file in DEMO_DIR that holds DEMO_P12_PASSWORD.
pub const DEMO_P12_PASSWORD_FILE: &str = "p12-wachtwoord.txt";

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Admin(#[from] admin::AdminError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("{0}")]
    Exists(String),
    #[error("openssl: {0}")]
    Ssl(#[from] openssl::error::ErrorStack),
}

/// The platform CA's files under `pki.dir`.
pub fn crl_path(config: &Config) -> PathBuf {
    config.pki.dir.join("ca.crl")
}

/// Creates a development CA in `pki.dir`, a server certificate for the given
/// names at `tls.cert`/`tls.key`, and an empty CRL. Refuses to overwrite an
/// existing CA unless `force`.
pub fn init_pki(
    config: &Config,
    dns: &[String],
    ips: &[IpAddr],
    force: bool,
) -> Result<Ca, SetupError> {
    let ca_pem = config.pki.dir.join("ca.pem");
    if ca_pem.exists() && !force {
        return Err(SetupError::Exists(format!(
            "{} already exists; pass --force to replace the CA (every issued certificate stops working)",
            ca_pem.display()
        )));
    }
    let ca = Ca::create(DEV_CA_NAME, DEV_ORG, config.pki.key_type, 3650)?;
    ca.save(&config.pki.dir)?;
    let key = pki::generate_key(config.pki.key_type)?;
    let dns: Vec<&str> = dns.iter().map(String::as_str).collect();
    let server = ca.issue_server(
        &dns,
        ips,
        &key,
        Validity::days_from_now(config.pki.cert_validity_days),
    )?;
    // The chain file carries the server certificate followed by the CA.
    let mut chain = server.to_pem()?;
    chain.extend(ca.cert.to_pem()?);
    pki::write_file(&config.tls.cert, &chain, false)?;
    pki::write_file(&config.tls.key, &key.private_key_to_pem_pkcs8()?, true)?;
    let crl = ca.crl(&[], 30)?;
    pki::write_file(&crl_path(config), &crl.to_pem()?, false)?;
    issue_platform_client(config, &ca)?;
    Ok(ca)
}

/// The platform's own client certificate, presented on every callback
/// (`terugkoppeling.client_cert`/`client_key`).
pub fn issue_platform_client(config: &Config, ca: &Ca) -> Result<(), SetupError> {
    let key = pki::generate_key(config.pki.key_type)?;
    let subject = pki::ClientSubject {
        common_name: "machtigingen platform terugkoppeling (ONTWIKKELING)".into(),
        organization: DEV_ORG.into(),
        organizational_unit: "PLATFORM:machtigingen".into(),
    };
    let cert = ca.issue_client(
        &subject,
        &key,
        Validity::days_from_now(config.pki.cert_validity_days),
    )?;
    pki::write_file(&config.terugkoppeling.client_cert, &cert.to_pem()?, false)?;
    pki::write_file(
        &config.terugkoppeling.client_key,
        &key.private_key_to_pem_pkcs8()?,
        true,
    )?;
    Ok(())
}

/// One demo certificate of a demo party: a systeem certificate for
/// software, or a persoonlijk one (with its holder) for a person in the
/// portal (`docs/portaal.md`).
struct Demo {
    file: &'static str,
    kind: PartyKind,
    reference: (&'static str, &'static str),
    name: &'static str,
    /// `None`: a systeem certificate; `Some(holder)`: a persoonlijk one.
    person: Option<&'static str>,
    scopes: &'static [Scope],
}

const DEMOS: &[Demo] = &[
    Demo {
        file: "zorgaanbieder",
        kind: PartyKind::Zorgaanbieder,
        reference: ("AGB", "03123456"),
        name: "Demo Zorgaanbieder (ontwikkeling)",
        person: None,
        scopes: &[
            Scope::MachtigingenIndienen,
            Scope::TerugkoppelingBeheren,
            Scope::OptinAfhandelen,
        ],
    },
    Demo {
        file: "medewerker",
        kind: PartyKind::Zorgaanbieder,
        reference: ("AGB", "03123456"),
        name: "Demo Zorgaanbieder (ontwikkeling)",
        person: Some(DEMO_STAFF),
        scopes: &[
            Scope::MachtigingenIndienen,
            Scope::OptinAfhandelen,
            Scope::TerugkoppelingBeheren,
            Scope::Gebruikersbeheer,
        ],
    },
    Demo {
        file: "zorgverzekeraar",
        kind: PartyKind::Zorgverzekeraar,
        reference: ("UZOVI", "3311"),
        name: "Demo Zorgverzekeraar (ontwikkeling)",
        person: None,
        scopes: &[Scope::Beoordelen, Scope::TerugkoppelingBeheren],
    },
    Demo {
        file: "beoordelaar",
        kind: PartyKind::Zorgverzekeraar,
        reference: ("UZOVI", "3311"),
        name: "Demo Zorgverzekeraar (ontwikkeling)",
        person: Some("Demo Beoordelaar (ONTWIKKELING)"),
        scopes: &[Scope::Beoordelen, Scope::Gebruikersbeheer],
    },
];

/// The demo practice's person: staff member and its contact person.
const DEMO_STAFF: &str = "Demo Medewerker (ONTWIKKELING)";

/// True when `serve` should create the development PKI: bootstrap is on, the
/// operator configured no PKI of their own, and none exists yet.
pub fn needs_bootstrap(config: &Config) -> bool {
    config.dev.bootstrap && config.uses_default_pki_paths() && !config.tls.cert.exists()
}

/// Creates the development PKI, the demo parties and their certificates, and
/// returns the banner to print.
pub fn bootstrap(config: &Config, db: &Db) -> Result<(), SetupError> {
    let ca = init_pki(
        config,
        &["localhost".to_owned()],
        &[
            IpAddr::from([127, 0, 0, 1]),
            IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
        ],
        false,
    )?;
    let mut conn = db.conn().map_err(RegistryError::from)?;
    for demo in DEMOS {
        let reference = PartyRef::new(demo.reference.0.parse()?, demo.reference.1)?;
        match store::find_party(&mut conn, &reference) {
            Ok(_) => {}
            Err(RegistryError::UnknownParty(_)) => {
                store::add_party(&mut conn, demo.kind, &reference, demo.name)?;
            }
            Err(e) => return Err(e.into()),
        }
        let issued = admin::issue(
            &mut conn,
            &ca,
            IssueRequest {
                party: reference,
                kind: if demo.person.is_some() {
                    CertKind::Persoonlijk
                } else {
                    CertKind::Systeem
                },
                scopes: demo.scopes.iter().copied().collect(),
                ip_allowlist: Vec::new(),
                key: KeySource::Generate(config.pki.key_type),
                common_name: Some(match demo.person {
                    Some(holder) => holder.to_owned(),
                    None => format!("{} systeem (ONTWIKKELING)", demo.name),
                }),
                validity: Validity::days_from_now(config.pki.cert_validity_days),
            },
            &Actor::operator(),
        )?;
        pki::write_issued(
            &PathBuf::from(DEMO_DIR).join(demo.file),
            &issued.cert,
            issued.key.as_deref(),
            &ca.cert,
            DEMO_P12_PASSWORD,
        )?;
    }
    pki::write_file(
        &PathBuf::from(DEMO_DIR).join(DEMO_P12_PASSWORD_FILE),
        format!("{DEMO_P12_PASSWORD}\n").as_bytes(),
        false,
    )?;
    // The demo practice's person is its contact person, so "Mijn gegevens"
    // names someone.
    let practice = crate::beheer::store::Contact {
        contactpersoon_naam: Some(DEMO_STAFF.to_owned()),
        contactpersoon_email: Some("medewerker@zorgaanbieder.example".to_owned()),
        ..Default::default()
    };
    crate::beheer::store::set_contact(&mut conn, "AGB:03123456", &practice)
        .map_err(RegistryError::from)?;
    load_sample_catalog(&mut conn)
}

/// The sample catalog of `docs/examples/catalogus.json`, so the demo provider
/// can submit at once; its other insurers are registered without certificates.
fn load_sample_catalog(conn: &mut crate::db::DbConnection) -> Result<(), SetupError> {
    let file: crate::catalog::CatalogFile =
        serde_json::from_str(include_str!("../docs/examples/catalogus.json"))
            .map_err(|e| RegistryError::Invalid(format!("sample catalog: {e}")))?;
    for c in &file.verzekeraars {
        let reference = PartyRef::new(crate::registry::IdScheme::Uzovi, &c.uzovi)?;
        if let Err(RegistryError::UnknownParty(_)) = store::find_party(conn, &reference) {
            let kind = if c.uzovi.starts_with('9') {
                PartyKind::Zorgkantoor
            } else {
                PartyKind::Zorgverzekeraar
            };
            store::add_party(
                conn,
                kind,
                &reference,
                &format!("Demo verzekeraar {} (ontwikkeling)", c.uzovi),
            )?;
        }
        crate::catalog::store::replace(conn, c)
            .map_err(|e| RegistryError::Invalid(format!("sample catalog: {e}")))?;
    }
    Ok(())
}

/// The banner printed at every development start, with a working curl line.
pub fn banner(config: &Config) -> Option<String> {
    let demo = PathBuf::from(DEMO_DIR).join("zorgaanbieder.pem");
    if !config.uses_default_pki_paths() || !demo.exists() {
        return None;
    }
    let port = config.server.listen.port();
    let host =
        if config.server.listen.ip().is_loopback() || config.server.listen.ip().is_unspecified() {
            "localhost".to_owned()
        } else {
            config.server.listen.ip().to_string()
        };
    let line = "=".repeat(78);
    let contract = match config.server.contract_addr() {
        Ok(Some(addr)) => format!(
            "\n  Public contract (WSDL, XSD, OpenAPI; no client certificate): \
             curl --cacert {}/ca.pem https://{host}:{}/",
            config.pki.dir.display(),
            addr.port()
        ),
        _ => String::new(),
    };
    Some(format!(
        "{line}\n  DEVELOPMENT PKI - NOT FOR PRODUCTION (ontwikkel-PKI, niet voor productie)\n  \
         CA and server certificate: {pki}/   demo certificates: {DEMO_DIR}/\n  \
         Demo zorgaanbieder AGB:03123456, demo zorgverzekeraar UZOVI:3311.\n  \
         PKCS#12 files (*.p12) password: {DEMO_P12_PASSWORD} (also in {DEMO_DIR}/{DEMO_P12_PASSWORD_FILE})\n\n  Try:\n  \
         curl --cacert {pki}/ca.pem --cert {DEMO_DIR}/zorgaanbieder.pem --key {DEMO_DIR}/zorgaanbieder.key \
         https://{host}:{port}/api/v1/whoami{contract}\n\n  \
         Portal (persons, in a browser): import {DEMO_DIR}/medewerker.p12 (practice staff and \
         contact person)\n  or {DEMO_DIR}/beoordelaar.p12 (assessor) and trust {pki}/ca.pem, then open \
         https://{host}:{port}/portaal/ (docs/portaal.md)\n{line}",
        pki = config.pki.dir.display(),
    ))
}
