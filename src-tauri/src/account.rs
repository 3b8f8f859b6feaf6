//! The account's encrypted cache, opened once per sign-in and shared by
//! the chat and the appointments engines (one SQLCipher database, one key
//! in the OS keychain beside the sign-in).
//!
//! The cache lives in `<app data dir>/chat/<user id>` (the folder kept its
//! name from when it held only the chat, so existing histories open).
//! Without a keychain (or with one that does not answer) neither chat nor
//! appointments work for the session; calls still do.

use clinicall_client_core::cache::{AccountCache, CacheConfig, KeySource, KeychainKeySource};
use clinicall_protocol::UserId;
use clinicall_protocol::rest::Account;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long opening the cache may take. The keychain is asked for the
/// key, and a keychain that wants to show an unlock prompt nobody answers
/// would otherwise hold up the sign-in (and the calls) for good.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long closing waits for commands still reading the cache (a thread
/// or search read, an attachment, an appointment detail) to finish with it.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);

/// The cache folder of `user` under the app's data folder.
pub fn cache_dir(data_dir: &Path, user: UserId) -> PathBuf {
    data_dir.join("chat").join(user.to_string())
}

/// The open cache of one sign-in and the key source that opened it.
pub struct AccountStore {
    /// Shared by the engines and the commands.
    pub cache: Arc<AccountCache>,
    keys: Arc<dyn KeySource>,
}

impl AccountStore {
    /// Opens (or creates) `account`'s cache on `server`, with its key from
    /// the OS keychain.
    pub async fn open(
        server: &str,
        account: &Account,
        data_dir: &Path,
    ) -> Result<AccountStore, String> {
        let keys: Arc<dyn KeySource> =
            Arc::new(KeychainKeySource::new(server, &account.email).map_err(|e| e.to_string())?);
        let config = CacheConfig::new(cache_dir(data_dir, account.id), account.id);
        let cache = tokio::time::timeout(OPEN_TIMEOUT, AccountCache::open(config, keys.clone()))
            .await
            .map_err(|_| "the keychain did not answer in time".to_owned())?
            .map_err(|e| e.to_string())?;
        Ok(AccountStore {
            cache: Arc::new(cache),
            keys,
        })
    }

    /// Closes the cache or, with `erase`, deletes it and its key from this
    /// computer. Stop every engine first: this waits (briefly) to be the
    /// cache's only owner.
    pub async fn close(self, erase: bool) -> Result<(), String> {
        let AccountStore { cache, keys } = self;
        let cache = sole_owner(cache).await?;
        if erase {
            let dir = cache.dir().to_owned();
            cache.wipe(keys).await.map_err(|e| e.to_string())?;
            // The wipe leaves the emptied folder, named by the user's id.
            if let Err(e) = tokio::fs::remove_dir(&dir).await {
                tracing::debug!(error = %e, "empty cache folder left");
            }
            Ok(())
        } else {
            cache.close().await.map_err(|e| e.to_string())
        }
    }
}

/// The cache, once nothing else holds it. Commands in flight when the
/// user signed out hold a clone for a moment; nothing signals when a clone
/// is dropped, so this looks again every 20 ms.
async fn sole_owner(mut cache: Arc<AccountCache>) -> Result<AccountCache, String> {
    let deadline = tokio::time::Instant::now() + RELEASE_TIMEOUT;
    loop {
        match Arc::try_unwrap(cache) {
            Ok(cache) => return Ok(cache),
            Err(shared) if tokio::time::Instant::now() < deadline => {
                cache = shared;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => return Err("the history is still in use".to_owned()),
        }
    }
}
