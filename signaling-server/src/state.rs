//! What every request handler can reach.

use crate::attachments::BlobStore;
use crate::auth::AuthService;
use crate::config::Config;
use crate::signaling::Signaling;
use crate::storage::Store;
use governor::DefaultKeyedRateLimiter;
use metrics_exporter_prometheus::PrometheusHandle;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Shared server state. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Effective configuration.
    pub config: Arc<Config>,
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Chat attachment files.
    pub blobs: BlobStore,
    /// Accounts and tokens.
    pub auth: AuthService,
    /// Presence and call signaling.
    pub signaling: Signaling,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// Per-IP limit on login, registration and refresh; `None` when off.
    pub auth_limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    /// False while starting and once shutdown begins.
    pub ready: Arc<AtomicBool>,
}
