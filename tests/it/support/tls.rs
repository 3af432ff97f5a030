//! Raw TLS probes for the cases an HTTP client hides: does the handshake (or
//! the first exchange after it, for TLS 1.3) succeed with this certificate?

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode, SslVersion};

use super::{TestCert, pki};

#[derive(Default)]
pub struct Probe {
    pub cert: Option<TestCert>,
    pub min: Option<SslVersion>,
    pub max: Option<SslVersion>,
    pub ciphers: Option<&'static str>,
}

// libssl's own function (linked through the openssl crate, which does not
// expose it): schedules a renegotiation on the next handshake step.
unsafe extern "C" {
    fn SSL_renegotiate(ssl: *mut std::ffi::c_void) -> std::ffi::c_int;
}

/// Completes a TLS 1.2 handshake with `cert`, then asks for a renegotiation
/// and sends `GET /api/v1/whoami` over the renegotiated session. `Ok` with
/// the status line if the server went along, the error otherwise.
pub fn renegotiate(addr: SocketAddr, cert: &TestCert) -> Result<String, String> {
    use foreign_types::ForeignTypeRef;
    let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(|e| e.to_string())?;
    b.set_ca_file(&pki().ca_pem).map_err(|e| e.to_string())?;
    b.set_certificate(&cert.cert).map_err(|e| e.to_string())?;
    b.set_private_key(&cert.key).map_err(|e| e.to_string())?;
    b.set_max_proto_version(Some(SslVersion::TLS1_2))
        .map_err(|e| e.to_string())?;
    let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut tls = b
        .build()
        .connect("localhost", tcp)
        .map_err(|e| format!("handshake: {e}"))?;
    // SAFETY: the pointer is the live SSL object owned by `tls`, which outlives
    // the call; SSL_renegotiate only marks the connection for a new handshake.
    let scheduled = unsafe { SSL_renegotiate(tls.ssl().as_ptr().cast()) };
    if scheduled != 1 {
        return Err("the client could not schedule a renegotiation".into());
    }
    tls.do_handshake()
        .map_err(|e| format!("renegotiation: {e}"))?;
    exchange(tls)
}

/// Connects, sends `GET /api/v1/whoami`, and returns the HTTP status line, or
/// the TLS/IO error that ended the exchange.
pub fn probe(addr: SocketAddr, p: &Probe) -> Result<String, String> {
    let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(|e| e.to_string())?;
    b.set_ca_file(&pki().ca_pem).map_err(|e| e.to_string())?;
    b.set_verify(SslVerifyMode::PEER);
    if let Some(c) = &p.cert {
        b.set_certificate(&c.cert).map_err(|e| e.to_string())?;
        b.set_private_key(&c.key).map_err(|e| e.to_string())?;
    }
    // Old protocol versions need OpenSSL's security level lowered to be offered at all.
    if p.min.is_some() || p.ciphers.is_some() {
        b.set_security_level(0);
    }
    b.set_min_proto_version(p.min).map_err(|e| e.to_string())?;
    b.set_max_proto_version(p.max).map_err(|e| e.to_string())?;
    if let Some(c) = p.ciphers {
        b.set_cipher_list(c).map_err(|e| e.to_string())?;
    }
    let connector = b.build();
    let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let tls = connector
        .connect("localhost", tcp)
        .map_err(|e| format!("handshake: {e}"))?;
    exchange(tls)
}

fn exchange(mut tls: openssl::ssl::SslStream<TcpStream>) -> Result<String, String> {
    tls.write_all(b"GET /api/v1/whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    tls.read_to_end(&mut buf)
        .map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&buf);
    let line = text.lines().next().unwrap_or_default().to_owned();
    if line.is_empty() {
        Err("connection closed without response".into())
    } else {
        Ok(line)
    }
}
