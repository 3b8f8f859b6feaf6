//! Where the refresh token lives: in memory for a session that should not
//! be remembered, in the OS keychain otherwise (never in a file).

use clinicall_client_core::signaling::{MemoryTokenStore, TokenStore};
use std::sync::Arc;

/// The token store for `email` on `server`.
pub fn token_store(
    _server: &str,
    _email: &str,
    _remember: bool,
) -> Result<Arc<dyn TokenStore>, String> {
    Ok(Arc::new(MemoryTokenStore::new()))
}
