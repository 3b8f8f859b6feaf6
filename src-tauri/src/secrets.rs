//! Where the refresh token lives: in memory for a session that should not
//! be remembered, in the OS keychain otherwise (never in a file; see
//! `KeychainTokenStore` in the client core).

use clinicall_client_core::signaling::{KeychainTokenStore, MemoryTokenStore, TokenStore};
use std::sync::Arc;

/// The token store for `email` on `server`: the OS keychain when
/// `remember` is set. A missing or locked keychain is an error to show,
/// not a reason to write the token anywhere else.
pub fn token_store(
    server: &str,
    email: &str,
    remember: bool,
) -> Result<Arc<dyn TokenStore>, String> {
    if !remember {
        return Ok(Arc::new(MemoryTokenStore::new()));
    }
    KeychainTokenStore::new(server, email)
        .map(|store| Arc::new(store) as Arc<dyn TokenStore>)
        .map_err(|e| e.to_string())
}
