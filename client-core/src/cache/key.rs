//! The database key: 32 random bytes, given to SQLCipher as a raw key (no
//! passphrase, so no key derivation on every open), and where it is kept.
//!
//! A [`KeySource`] loads, stores and deletes it. The app uses
//! [`KeychainKeySource`] (the OS keychain, next to the refresh token);
//! tests and tools hand a key over with [`MemoryKeySource`].

use super::CacheError;
use crate::signaling::keychain::{KeychainBackend, KeychainSecret, SecretKind};
use rand::RngCore;
use std::sync::Mutex;

/// Length of a key in bytes (SQLCipher's AES-256 key).
pub const KEY_LEN: usize = 32;

/// A database key. Its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct CacheKey([u8; KEY_LEN]);

impl CacheKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        let mut bytes = [0; KEY_LEN];
        rand::rng().fill_bytes(&mut bytes);
        CacheKey(bytes)
    }

    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        CacheKey(bytes)
    }

    /// Lowercase hex, as kept in the keychain (keychains hold text).
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    /// Parses [`to_hex`](Self::to_hex)'s form.
    ///
    /// # Errors
    /// [`CacheError::KeyCorrupt`] unless `text` is 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, CacheError> {
        let text = text.trim();
        if text.len() != KEY_LEN * 2 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CacheError::KeyCorrupt);
        }
        let mut bytes = [0; KEY_LEN];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                .map_err(|_| CacheError::KeyCorrupt)?;
        }
        Ok(CacheKey(bytes))
    }

    /// The `PRAGMA key` statement for this key: SQLCipher's raw-key form
    /// `x'…'`, which skips PBKDF2 (the key is already uniformly random).
    pub(crate) fn pragma(&self) -> String {
        format!("PRAGMA key = \"x'{}'\";", self.to_hex())
    }
}

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheKey(..)")
    }
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Where the database key lives.
pub trait KeySource: Send + Sync {
    /// The stored key, or `None` when there is none.
    ///
    /// # Errors
    /// The store could not be read, or holds something that is not a key.
    fn load(&self) -> Result<Option<CacheKey>, CacheError>;
    /// Stores `key`, replacing any other.
    ///
    /// # Errors
    /// The store could not be written.
    fn store(&self, key: &CacheKey) -> Result<(), CacheError>;
    /// Forgets the key; forgetting a missing key is not an error.
    ///
    /// # Errors
    /// The store could not be written.
    fn delete(&self) -> Result<(), CacheError>;
}

/// A key held in memory: for tests, benchmarks and tools.
#[derive(Debug, Default)]
pub struct MemoryKeySource(Mutex<Option<CacheKey>>);

impl MemoryKeySource {
    /// No key yet (opening a new cache generates one).
    pub fn empty() -> Self {
        MemoryKeySource::default()
    }

    /// Holding `key`.
    pub fn with_key(key: CacheKey) -> Self {
        MemoryKeySource(Mutex::new(Some(key)))
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<CacheKey>> {
        // A panic elsewhere cannot leave an Option half-written.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl KeySource for MemoryKeySource {
    fn load(&self) -> Result<Option<CacheKey>, CacheError> {
        Ok(self.slot().clone())
    }

    fn store(&self, key: &CacheKey) -> Result<(), CacheError> {
        *self.slot() = Some(key.clone());
        Ok(())
    }

    fn delete(&self) -> Result<(), CacheError> {
        *self.slot() = None;
        Ok(())
    }
}

/// The key in the OS keychain: service `clinicall`, user
/// `"<email> on <server origin> (chat cache key)"`, beside the account's
/// refresh token. Like the token it is never written to a file: without a
/// keychain the cache cannot be opened (the app then works online only).
#[derive(Debug)]
pub struct KeychainKeySource {
    secret: KeychainSecret,
}

impl KeychainKeySource {
    /// The entry for `email` on `server` in the platform's keychain.
    ///
    /// # Errors
    /// As [`KeychainTokenStore::new`](crate::signaling::KeychainTokenStore::new).
    pub fn new(server: &str, email: &str) -> Result<Self, CacheError> {
        Self::with_backend(KeychainBackend::platform_default(), server, email)
    }

    /// As [`new`](Self::new), in a chosen keychain.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_backend(
        backend: KeychainBackend,
        server: &str,
        email: &str,
    ) -> Result<Self, CacheError> {
        let secret = KeychainSecret::open(backend, SecretKind::ChatCacheKey, server, email)?;
        Ok(KeychainKeySource { secret })
    }

    /// The entry's user name.
    pub fn entry_user(&self) -> &str {
        self.secret.user()
    }
}

impl KeySource for KeychainKeySource {
    fn load(&self) -> Result<Option<CacheKey>, CacheError> {
        self.secret
            .get()?
            .map(|hex| CacheKey::from_hex(&hex))
            .transpose()
    }

    fn store(&self, key: &CacheKey) -> Result<(), CacheError> {
        Ok(self.secret.set(&key.to_hex())?)
    }

    fn delete(&self) -> Result<(), CacheError> {
        Ok(self.secret.delete()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_rejects_other_text() {
        let key = CacheKey::generate();
        assert_eq!(CacheKey::from_hex(&key.to_hex()).unwrap(), key);
        assert_ne!(CacheKey::generate(), key, "fresh randomness each time");
        assert!(matches!(
            CacheKey::from_hex("abc"),
            Err(CacheError::KeyCorrupt)
        ));
        assert!(matches!(
            CacheKey::from_hex(&"zz".repeat(KEY_LEN)),
            Err(CacheError::KeyCorrupt)
        ));
        assert_eq!(format!("{key:?}"), "CacheKey(..)");
        assert!(key.pragma().starts_with("PRAGMA key = \"x'"));
    }
}
