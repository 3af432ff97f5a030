//! The `Authenticated` extractor: REST handlers that take it run only for a
//! registered, active certificate; everything else is answered with the
//! documented problem before the handler runs.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use crate::identity::{self, Caller, PeerIdentity};
use crate::problem::Problem;
use crate::state::AppState;

/// The caller of this request, authenticated against the registry.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

impl FromRequest for Authenticated {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let peer = req.conn_data::<PeerIdentity>().cloned();
        Box::pin(async move {
            let state = state.ok_or_else(|| Problem::internal("Interne fout."))?;
            identity::authenticate(&state.db, peer.as_ref())
                .await
                .map(Authenticated)
                .map_err(Problem::from)
        })
    }
}

/// The same check for handlers that read the request themselves (SOAP).
pub async fn authenticate(req: &HttpRequest) -> Result<Caller, Problem> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| Problem::internal("Interne fout."))?;
    let peer = req.conn_data::<PeerIdentity>().cloned();
    identity::authenticate(&state.db, peer.as_ref())
        .await
        .map_err(Problem::from)
}
