//! Who gets in: the certificate cases of the foundation issue, each through the
//! real mTLS listener.

use machtigingen::audit::Actor;
use machtigingen::config::KeyType;
use machtigingen::pki::{self, Ca, ClientSubject, Validity};
use machtigingen::registry::admin;
use machtigingen::registry::{CertKind, PartyKind, Scope};
use openssl::ssl::SslVersion;

use crate::support::tls::{Probe, probe, renegotiate};
use crate::support::{TestApp, TestCert, eventually, pki as test_pki};

fn subject(ou: &str) -> ClientSubject {
    ClientSubject {
        common_name: "probe".into(),
        organization: "probe".into(),
        organizational_unit: ou.into(),
    }
}

#[tokio::test]
async fn registered_certificate_gets_its_party_on_whoami() {
    let app = TestApp::spawn().await;
    let client = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    let (status, body) = client.get_json("/api/v1/whoami").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["partij"]["id"], "AGB:03123456");
    assert_eq!(body["partij"]["soort"], "zorgaanbieder");
    assert_eq!(body["certificaat"]["soort"], "systeem");
    assert_eq!(
        body["certificaat"]["vingerafdruk"],
        client.cert.fingerprint.as_str()
    );
    assert_eq!(
        body["autorisaties"],
        serde_json::json!(["machtigingen:raadplegen", "machtigingen:indienen"])
    );
}

#[tokio::test]
async fn no_client_certificate_is_refused_in_the_handshake() {
    let app = TestApp::spawn().await;
    let err = probe(app.addr, &Probe::default()).unwrap_err();
    assert!(!err.is_empty());
}

#[tokio::test]
async fn certificate_from_a_foreign_ca_is_refused() {
    let app = TestApp::spawn().await;
    let foreign = Ca::create("foreign CA", "elsewhere", KeyType::EcP256, 10).unwrap();
    let key = pki::generate_key(KeyType::EcP256).unwrap();
    let cert = foreign
        .issue_client(&subject("AGB:03123456"), &key, Validity::days_from_now(5))
        .unwrap();
    let result = probe(
        app.addr,
        &Probe {
            cert: Some(TestCert::new(cert, key)),
            ..Probe::default()
        },
    );
    assert!(result.is_err(), "foreign CA got through: {result:?}");
}

#[tokio::test]
async fn expired_certificate_is_refused() {
    let app = TestApp::spawn().await;
    let party = app.party(PartyKind::Zorgaanbieder, "03123456");
    let key = pki::generate_key(KeyType::EcP256).unwrap();
    let now = chrono::Utc::now().timestamp();
    let expired = test_pki()
        .ca
        .issue_client(
            &subject(&party.to_string()),
            &key,
            Validity {
                not_before: now - 10 * 86_400,
                not_after: now - 86_400,
            },
        )
        .unwrap();
    // Even registered it must not get in.
    admin::register(
        &mut app.db.conn().unwrap(),
        &expired,
        party,
        CertKind::Systeem,
        [Scope::MachtigingenIndienen].into_iter().collect(),
        vec![],
        &Actor::operator(),
    )
    .unwrap();
    let result = probe(
        app.addr,
        &Probe {
            cert: Some(TestCert::new(expired, key)),
            ..Probe::default()
        },
    );
    assert!(
        result.is_err(),
        "expired certificate got through: {result:?}"
    );
}

#[tokio::test]
async fn unregistered_certificate_is_not_authenticated() {
    let app = TestApp::spawn().await;
    let key = pki::generate_key(KeyType::EcP256).unwrap();
    let cert = test_pki()
        .ca
        .issue_client(&subject("AGB:03123456"), &key, Validity::days_from_now(5))
        .unwrap();
    let client = app.client(&TestCert::new(cert, key));
    let (status, body) = client.get_json("/api/v1/whoami").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "AUTH-001");
    assert_eq!(body["type"], "urn:machtigingen:foutcode:AUTH-001");
}

#[tokio::test]
async fn revoked_in_registry_is_refused_on_the_next_request() {
    let app = TestApp::spawn().await;
    let client = app.provider("03123456", &[Scope::MachtigingenIndienen]);
    assert_eq!(client.get_json("/api/v1/whoami").await.0, 200);
    let mut conn = app.db.conn().unwrap();
    let cert = machtigingen::registry::store::certificate_by_fingerprint(
        &mut conn,
        &client.cert.fingerprint,
    )
    .unwrap()
    .unwrap();
    admin::revoke(&mut conn, None, &cert, "test", &Actor::operator()).unwrap();
    // Same client, same keep-alive connection: refused at once.
    let (status, body) = client.get_json("/api/v1/whoami").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "AUTH-002");
}

#[tokio::test]
async fn revoked_via_crl_is_refused_in_the_handshake_after_reload() {
    let app = TestApp::spawn().await;
    let party = app.party(PartyKind::Zorgaanbieder, "03123456");
    let cert = app.issue(
        &party,
        CertKind::Systeem,
        &[Scope::MachtigingenRaadplegen],
        &[],
    );
    let ok = probe(
        app.addr,
        &Probe {
            cert: Some(cert.clone()),
            ..Probe::default()
        },
    )
    .unwrap();
    assert!(ok.contains("200"), "{ok}");

    // Only the CRL learns of it (as for a certificate revoked by its CA
    // elsewhere); the registry still lists it as active.
    let serial = pki::CertInfo::from_x509(&cert.cert).unwrap().serial;
    machtigingen::registry::store::add_crl_entry(
        &mut app.db.conn().unwrap(),
        &test_pki().ca.subject(),
        &serial,
        "test",
    )
    .unwrap();
    app.publish_crl();
    let refused = eventually(5, || {
        let cert = cert.clone();
        let addr = app.addr;
        async move {
            probe(
                addr,
                &Probe {
                    cert: Some(cert),
                    ..Probe::default()
                },
            )
            .is_err()
        }
    })
    .await;
    assert!(
        refused,
        "CRL-revoked certificate still accepted after reload"
    );
}

#[tokio::test]
async fn allow_list_refuses_other_addresses_and_admits_listed_ones() {
    let app = TestApp::spawn().await;
    let party = app.party(PartyKind::Zorgaanbieder, "03123456");
    let elsewhere = app.client(&app.issue(
        &party,
        CertKind::Systeem,
        &[Scope::MachtigingenRaadplegen],
        &["10.0.0.0/8"],
    ));
    let (status, body) = elsewhere.get_json("/api/v1/whoami").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "AUTZ-002");

    let here = app.client(&app.issue(
        &party,
        CertKind::Systeem,
        &[Scope::MachtigingenRaadplegen],
        &["127.0.0.0/8"],
    ));
    assert_eq!(here.get_json("/api/v1/whoami").await.0, 200);
}

#[tokio::test]
async fn old_protocols_and_weak_ciphers_are_refused() {
    let app = TestApp::spawn().await;
    let cert = app.issue(
        &app.party(PartyKind::Zorgaanbieder, "03123456"),
        CertKind::Systeem,
        &[],
        &[],
    );
    for v in [SslVersion::TLS1, SslVersion::TLS1_1] {
        let r = probe(
            app.addr,
            &Probe {
                cert: Some(cert.clone()),
                min: Some(v),
                max: Some(v),
                ciphers: None,
            },
        );
        assert!(r.is_err(), "{v:?} accepted: {r:?}");
    }
    let weak = probe(
        app.addr,
        &Probe {
            cert: Some(cert.clone()),
            min: Some(SslVersion::TLS1_2),
            max: Some(SslVersion::TLS1_2),
            ciphers: Some("AES128-SHA:DES-CBC3-SHA:RC4-SHA:NULL-SHA"),
        },
    );
    assert!(weak.is_err(), "weak TLS 1.2 suite accepted: {weak:?}");
    for v in [SslVersion::TLS1_2, SslVersion::TLS1_3] {
        let r = probe(
            app.addr,
            &Probe {
                cert: Some(cert.clone()),
                min: Some(v),
                max: Some(v),
                ciphers: None,
            },
        );
        assert!(
            r.as_deref().is_ok_and(|l| l.contains("200")),
            "{v:?} refused: {r:?}"
        );
    }
}

#[tokio::test]
async fn client_initiated_renegotiation_is_refused() {
    let app = TestApp::spawn().await;
    let cert = app.issue(
        &app.party(PartyKind::Zorgaanbieder, "03123456"),
        CertKind::Systeem,
        &[],
        &[],
    );
    let plain = probe(
        app.addr,
        &Probe {
            cert: Some(cert.clone()),
            max: Some(SslVersion::TLS1_2),
            ..Probe::default()
        },
    );
    assert!(
        plain.is_ok_and(|l| l.contains("200")),
        "TLS 1.2 itself must work"
    );
    let r = renegotiate(app.addr, &cert);
    assert!(r.is_err(), "renegotiation accepted: {r:?}");
}
