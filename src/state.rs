//! What every handler of every door shares: the database and the validated
//! configuration. Built once by `app`; the doors (`rest`, `soap`,
//! `ops`) and the transport's extractors read it from actix's app data. It
//! lives apart from `app` so the doors can depend on it while `app` depends on
//! the doors to mount them.

use std::sync::Arc;

use crate::config::Config;
use crate::db::Db;

/// Shared state of every handler.
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    /// The key of the portal's CSRF tokens (`formtoken`).
    pub csrf: crate::formtoken::Key,
}
