//! The registry on real storage: the same suite runs on SQLite and PostgreSQL
//! (the backend follows MACHTIGINGEN_TEST_DATABASE_URL).

use machtigingen::audit::Actor;
use machtigingen::config::KeyType;
use machtigingen::db::Db;
use machtigingen::pki::{self, Validity};
use machtigingen::registry::admin::{self, IssueRequest, KeySource};
use machtigingen::registry::{
    CertKind, CertStatus, PartyKind, PartyRef, RegistryError, Scope, Scopes, store,
};

use crate::support::{TestDb, pki as test_pki};

async fn db() -> (TestDb, Db) {
    TestDb::migrated().await
}

fn issue(
    conn: &mut machtigingen::db::DbConnection,
    party: &PartyRef,
    kind: CertKind,
    scopes: &[Scope],
) -> Result<admin::Issued, admin::AdminError> {
    admin::issue(
        conn,
        &test_pki().ca,
        IssueRequest {
            party: party.clone(),
            kind,
            scopes: scopes.iter().copied().collect(),
            ip_allowlist: vec![],
            key: KeySource::Generate(KeyType::EcP256),
            common_name: None,
            validity: Validity::days_from_now(3),
        },
        &Actor::operator(),
    )
}

#[tokio::test]
async fn parties_are_unique_per_identifier_and_formats_are_checked() {
    let (_t, db) = db().await;
    let mut c = db.conn().unwrap();
    let agb: PartyRef = "AGB:03123456".parse().unwrap();
    let p = store::add_party(&mut c, PartyKind::Zorgaanbieder, &agb, "Ziekenhuis").unwrap();
    assert_eq!(p.reference, agb);
    assert!(matches!(
        store::add_party(&mut c, PartyKind::Zorgaanbieder, &agb, "Dubbel"),
        Err(RegistryError::DuplicateParty(_))
    ));
    // A party kind must use its own identifier scheme.
    let uzovi: PartyRef = "UZOVI:3311".parse().unwrap();
    assert!(store::add_party(&mut c, PartyKind::Zorgaanbieder, &uzovi, "x").is_err());
    store::add_party(&mut c, PartyKind::Zorgkantoor, &uzovi, "Zorgkantoor").unwrap();
    assert!("AGB:1234567".parse::<PartyRef>().is_err());
    assert!("UZOVI:33".parse::<PartyRef>().is_err());
    let all = store::list_parties(&mut c).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].kind, PartyKind::Zorgkantoor);
}

#[tokio::test]
async fn certificates_register_with_scopes_and_read_back_identically() {
    let (_t, db) = db().await;
    let mut c = db.conn().unwrap();
    let agb: PartyRef = "AGB:03123456".parse().unwrap();
    store::add_party(&mut c, PartyKind::Zorgaanbieder, &agb, "Ziekenhuis").unwrap();
    let issued = issue(
        &mut c,
        &agb,
        CertKind::Systeem,
        &[Scope::MachtigingenIndienen],
    )
    .unwrap();
    let info = pki::CertInfo::from_x509(&issued.cert).unwrap();
    let read = store::certificate_by_fingerprint(&mut c, &info.fingerprint)
        .unwrap()
        .unwrap();
    assert_eq!(read.party.reference, agb);
    assert_eq!(read.serial, info.serial);
    assert_eq!(read.not_after, info.not_after);
    assert_eq!(read.status, CertStatus::Actief);
    assert!(
        read.scopes.contains(Scope::MachtigingenRaadplegen),
        "indienen implies raadplegen"
    );

    // Same certificate twice is refused; nothing half-stored.
    let again = admin::register(
        &mut c,
        &issued.cert,
        agb.clone(),
        CertKind::Systeem,
        Scopes::default(),
        vec![],
        &Actor::operator(),
    );
    assert!(again.is_err());
    assert_eq!(
        store::list_certificates(&mut c, Some(&agb)).unwrap().len(),
        1
    );
}

#[tokio::test]
async fn party_kind_limits_and_cascades_are_enforced_in_storage() {
    let (_t, db) = db().await;
    let mut c = db.conn().unwrap();
    let uzovi: PartyRef = "UZOVI:3311".parse().unwrap();
    store::add_party(&mut c, PartyKind::Zorgverzekeraar, &uzovi, "Verzekeraar").unwrap();
    // An insurer cannot hold machtigingen:indienen, and nothing is stored.
    assert!(
        issue(
            &mut c,
            &uzovi,
            CertKind::Systeem,
            &[Scope::MachtigingenIndienen]
        )
        .is_err()
    );
    assert!(
        store::list_certificates(&mut c, Some(&uzovi))
            .unwrap()
            .is_empty()
    );

    let agb: PartyRef = "AGB:03123456".parse().unwrap();
    store::add_party(&mut c, PartyKind::Zorgaanbieder, &agb, "Ziekenhuis").unwrap();
    let fp = issue(
        &mut c,
        &agb,
        CertKind::Systeem,
        &[Scope::MachtigingenIndienen],
    )
    .unwrap()
    .registered
    .fingerprint;
    let after = admin::change_scopes(
        &mut c,
        &fp,
        Scopes::default(),
        [Scope::MachtigingenRaadplegen].into_iter().collect(),
        &Actor::operator(),
    )
    .unwrap();
    assert!(
        after.scopes.is_empty(),
        "withdrawing raadplegen withdraws indienen"
    );
    // gebruikersbeheer only on persoonlijk certificates.
    assert!(
        admin::change_scopes(
            &mut c,
            &fp,
            [Scope::Gebruikersbeheer].into_iter().collect(),
            Scopes::default(),
            &Actor::operator()
        )
        .is_err()
    );

    let ips = machtigingen::registry::parse_allowlist(&["10.1.0.0/16"]).unwrap();
    let with_ip = admin::set_allowlist(&mut c, &fp, &ips, &Actor::operator()).unwrap();
    assert_eq!(with_ip.ip_allowlist, ips);
    let revoked = {
        admin::revoke(
            &mut c,
            Some(&test_pki().ca),
            &with_ip,
            "test",
            &Actor::operator(),
        )
        .unwrap();
        store::certificate_by_fingerprint(&mut c, &fp)
            .unwrap()
            .unwrap()
    };
    assert_eq!(revoked.status, CertStatus::Ingetrokken);
    assert_eq!(
        store::crl_entries(&mut c, &test_pki().ca.subject())
            .unwrap()
            .len(),
        1
    );
    // Every change is in the audit log.
    let audit = machtigingen::audit::for_object(&mut c, "certificaat", &fp).unwrap();
    let actions: Vec<_> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "certificaat.registreren",
            "certificaat.autorisaties",
            "certificaat.ip-allowlist",
            "certificaat.intrekken"
        ]
    );
}

#[tokio::test]
async fn migrating_twice_applies_nothing_the_second_time() {
    let (_t, db) = db().await;
    assert_eq!(db.migrate().unwrap(), 0);
}
