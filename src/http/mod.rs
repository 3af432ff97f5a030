//! Transport only: what every door needs from HTTP — the per-connection peer
//! capture, the identity extractor (`auth`), body limits and JSON extraction,
//! problem+json rendering (`error`) and the per-request span and metrics
//! middleware. It mounts nothing and holds no state; `app` puts the
//! doors on the listeners.

pub mod auth;
pub mod body;
pub mod error;
pub mod json;
pub mod middleware;

use std::any::Any;

use actix_web::dev::Extensions;

use crate::identity::PeerIdentity;

/// Captures the verified client certificate's fingerprint and the peer
/// address once per connection.
pub fn capture_peer(conn: &dyn Any, ext: &mut Extensions) {
    type Tls = actix_tls::accept::openssl::TlsStream<actix_web::rt::net::TcpStream>;
    if let Some(stream) = conn.downcast_ref::<Tls>() {
        let fingerprint = stream
            .ssl()
            .peer_certificate()
            .and_then(|c| crate::pki::fingerprint(&c).ok());
        let addr = stream.get_ref().peer_addr().ok().map(|a| a.ip());
        ext.insert(PeerIdentity { fingerprint, addr });
    }
}
