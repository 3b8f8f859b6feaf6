//! Secrets in the operating system's keychain over the `keyring` crate: the
//! refresh token (a [`TokenStore`]) and the chat cache's database key
//! (`cache::KeychainKeySource`), one entry of each per account and server.
//!
//! What is stored: only the refresh token (the access token lives in
//! memory for minutes). Under which key: service `clinicall`, user
//! `"<email> on <server origin>"`, so each account on each server has its
//! own entry and a second login on the same server replaces the first.
//!
//! Why never a file: a refresh token signs in without a password for weeks.
//! The keychain keeps it encrypted at rest under the user's login and out
//! of backups and home-directory copies; a file would not. So when no
//! keychain is reachable the store fails with [`KeychainError`] (the
//! caller asks for the password each time) instead of quietly writing the
//! token somewhere else.
//!
//! On Linux the backend is chosen explicitly, never left to `keyring`'s
//! compile-time default (which is an in-memory mock when no backend
//! feature is on): the Secret Service (GNOME Keyring, KWallet) survives
//! reboots and is what desktops have; the kernel keyring is an
//! alternative for sessions without one, but forgets the token at reboot.

use super::auth::{TokenStore, TokenStoreError};
use keyring::Entry;

/// The Secret Service / keyutils "service" of every Clinicall entry.
pub const SERVICE: &str = "clinicall";

/// Which keychain holds the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeychainBackend {
    /// The desktop's Secret Service over D-Bus (GNOME Keyring, KWallet):
    /// encrypted on disk under the login password, kept across reboots.
    #[cfg(target_os = "linux")]
    SecretService,
    /// The kernel's keyrings (keyutils): in kernel memory, gone at reboot;
    /// needs a session keyring (PAM sets one up at login).
    #[cfg(target_os = "linux")]
    KernelKeyring,
    /// The platform's own keychain (macOS Keychain, Windows Credential
    /// Manager), with `keyring`'s native feature for the platform.
    #[cfg(not(target_os = "linux"))]
    Native,
}

impl KeychainBackend {
    /// The keychain a desktop user has: the Secret Service on Linux.
    pub fn platform_default() -> Self {
        #[cfg(target_os = "linux")]
        return KeychainBackend::SecretService;
        #[cfg(not(target_os = "linux"))]
        return KeychainBackend::Native;
    }

    fn name(self) -> &'static str {
        match self {
            #[cfg(target_os = "linux")]
            KeychainBackend::SecretService => "the Secret Service (GNOME Keyring or KWallet)",
            #[cfg(target_os = "linux")]
            KeychainBackend::KernelKeyring => "the kernel session keyring",
            #[cfg(not(target_os = "linux"))]
            KeychainBackend::Native => "the system keychain",
        }
    }
}

/// Why the keychain could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeychainError {
    /// No keychain could be reached: no Secret Service on the session bus
    /// (or no session bus), no session keyring.
    #[error(
        "no keychain is available ({backend}: {detail}); Clinicall keeps sign-ins only in the system keychain, so you will be asked for your password each time"
    )]
    Unavailable {
        /// Which keychain was tried.
        backend: &'static str,
        /// What the platform said.
        detail: String,
    },
    /// The keychain is there but locked, and unlocking was refused or
    /// is not possible now.
    #[error(
        "the keychain is locked or refused access ({backend}: {detail}); unlock it to stay signed in"
    )]
    Locked {
        /// Which keychain was tried.
        backend: &'static str,
        /// What the platform said.
        detail: String,
    },
    /// Anything else the keychain reported (a corrupt entry, several
    /// matching entries, an attribute it refuses).
    #[error("the keychain failed ({backend}): {detail}")]
    Failed {
        /// Which keychain was tried.
        backend: &'static str,
        /// What the platform said.
        detail: String,
    },
}

impl From<KeychainError> for TokenStoreError {
    fn from(error: KeychainError) -> Self {
        TokenStoreError(error.to_string())
    }
}

/// What a keychain entry holds. Each account on each server has one entry
/// per kind, told apart by the entry's user name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecretKind {
    /// The refresh token ([`KeychainTokenStore`]).
    RefreshToken,
    /// The chat cache's database key (`cache::KeychainKeySource`).
    ChatCacheKey,
}

impl SecretKind {
    /// The entry's user name from `"<email> on <origin>"`. The refresh
    /// token keeps the bare name (entries written before the cache existed
    /// stay readable).
    fn user(self, account: &str) -> String {
        match self {
            SecretKind::RefreshToken => account.to_owned(),
            SecretKind::ChatCacheKey => format!("{account} (chat cache key)"),
        }
    }

    /// What keychain managers (Seahorse, KWalletManager) show.
    #[cfg(target_os = "linux")]
    fn label(self, account: &str) -> String {
        match self {
            SecretKind::RefreshToken => format!("Clinicall sign-in for {account}"),
            SecretKind::ChatCacheKey => format!("Clinicall chat cache key for {account}"),
        }
    }
}

/// One secret of one account on one server in the OS keychain; what the
/// token store and the chat cache key source share.
pub(crate) struct KeychainSecret {
    entry: Entry,
    backend: KeychainBackend,
    user: String,
}

impl std::fmt::Debug for KeychainSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeychainSecret")
            .field("backend", &self.backend)
            .field("service", &SERVICE)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl KeychainSecret {
    /// The entry of `kind` for `email` on `server`. Nothing is read or
    /// written yet.
    pub(crate) fn open(
        backend: KeychainBackend,
        kind: SecretKind,
        server: &str,
        email: &str,
    ) -> Result<Self, KeychainError> {
        let account = entry_user(server, email).map_err(|detail| KeychainError::Failed {
            backend: backend.name(),
            detail,
        })?;
        let user = kind.user(&account);
        #[cfg(target_os = "linux")]
        let label = kind.label(&account);
        #[cfg(not(target_os = "linux"))]
        let label = String::new();
        let entry = open_entry(backend, &user, label).map_err(|e| classify(backend, e))?;
        Ok(KeychainSecret {
            entry,
            backend,
            user,
        })
    }

    pub(crate) fn backend(&self) -> KeychainBackend {
        self.backend
    }

    pub(crate) fn user(&self) -> &str {
        &self.user
    }

    /// The secret, or `None` when there is no entry.
    pub(crate) fn get(&self) -> Result<Option<String>, KeychainError> {
        match self.entry.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(classify(self.backend, e)),
        }
    }

    /// Stores (or replaces) the secret.
    pub(crate) fn set(&self, secret: &str) -> Result<(), KeychainError> {
        self.entry.set_password(secret).map_err(|e| match e {
            // keyutils says "no entry" when there is no keyring to put
            // one in.
            keyring::Error::NoEntry => KeychainError::Unavailable {
                backend: self.backend.name(),
                detail: "there is nowhere to store the entry".into(),
            },
            other => classify(self.backend, other),
        })
    }

    /// Removes the entry; removing one that is not there is not an error
    /// (logout twice).
    pub(crate) fn delete(&self) -> Result<(), KeychainError> {
        match self.entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(classify(self.backend, e)),
        }
    }
}

/// A [`TokenStore`] in the OS keychain, for one account on one server.
///
/// ```no_run
/// use clinicall_client_core::signaling::{AuthSession, KeychainTokenStore, RestClient};
/// use std::sync::Arc;
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let server = "https://clinic.example.org";
/// let store = KeychainTokenStore::new(server, "pat@example.org")?;
/// let auth = AuthSession::new(RestClient::new(server, false)?, Arc::new(store));
/// // At the next start, `auth.access_token()` signs in from the keychain.
/// auth.login("pat@example.org", "password-123").await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct KeychainTokenStore {
    secret: KeychainSecret,
}

impl KeychainTokenStore {
    /// The entry for `email` on `server` (a base URL such as
    /// `https://clinic.example.org`) in the platform's keychain. Nothing
    /// is read or written yet.
    ///
    /// # Errors
    /// [`KeychainError::Failed`] if `server` is not a URL;
    /// [`KeychainError::Unavailable`] if the keychain cannot even be
    /// addressed (the kernel keyring outside a session).
    pub fn new(server: &str, email: &str) -> Result<Self, KeychainError> {
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
    ) -> Result<Self, KeychainError> {
        let secret = KeychainSecret::open(backend, SecretKind::RefreshToken, server, email)?;
        Ok(KeychainTokenStore { secret })
    }

    /// The keychain in use.
    pub fn backend(&self) -> KeychainBackend {
        self.secret.backend()
    }

    /// The entry's user name: `"<email> on <server origin>"`.
    pub fn entry_user(&self) -> &str {
        self.secret.user()
    }
}

impl TokenStore for KeychainTokenStore {
    fn load(&self) -> Result<Option<String>, TokenStoreError> {
        self.secret.get().map_err(Into::into)
    }

    fn save(&self, refresh_token: &str) -> Result<(), TokenStoreError> {
        self.secret.set(refresh_token).map_err(Into::into)
    }

    fn clear(&self) -> Result<(), TokenStoreError> {
        self.secret.delete().map_err(Into::into)
    }
}

/// `"<email> on <origin>"`: the origin (scheme, host, port) so that
/// `https://clinic.example.org/` and `https://clinic.example.org` share an
/// entry while two servers on one host do not.
fn entry_user(server: &str, email: &str) -> Result<String, String> {
    let url = url::Url::parse(server).map_err(|e| format!("server {server:?}: {e}"))?;
    if !url.origin().is_tuple() {
        return Err(format!("server {server:?} has no host"));
    }
    Ok(format!(
        "{} on {}",
        email.trim(),
        url.origin().ascii_serialization()
    ))
}

fn open_entry(backend: KeychainBackend, user: &str, label: String) -> keyring::Result<Entry> {
    match backend {
        #[cfg(target_os = "linux")]
        KeychainBackend::SecretService => {
            let mut credential =
                keyring::secret_service::SsCredential::new_with_target(None, SERVICE, user)?;
            credential.label = label;
            Ok(Entry::new_with_credential(Box::new(credential)))
        }
        #[cfg(target_os = "linux")]
        KeychainBackend::KernelKeyring => {
            let credential =
                keyring::keyutils::KeyutilsCredential::new_with_target(None, SERVICE, user)?;
            Ok(Entry::new_with_credential(Box::new(credential)))
        }
        #[cfg(not(target_os = "linux"))]
        KeychainBackend::Native => {
            let _ = label;
            Entry::new(SERVICE, user)
        }
    }
}

fn classify(backend: KeychainBackend, error: keyring::Error) -> KeychainError {
    let backend = backend.name();
    match error {
        keyring::Error::PlatformFailure(e) => KeychainError::Unavailable {
            backend,
            detail: e.to_string(),
        },
        // keyutils, when there is no session keyring to open.
        keyring::Error::NoEntry => KeychainError::Unavailable {
            backend,
            detail: "no keyring to hold the entry".into(),
        },
        keyring::Error::NoStorageAccess(e) => KeychainError::Locked {
            backend,
            detail: e.to_string(),
        },
        other => KeychainError::Failed {
            backend,
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_per_account_and_server_origin() {
        let a = entry_user("https://clinic.example.org/", "pat@example.org").unwrap();
        let b = entry_user("https://clinic.example.org", " pat@example.org").unwrap();
        assert_eq!(a, "pat@example.org on https://clinic.example.org");
        assert_eq!(a, b);
        let other_port = entry_user("https://clinic.example.org:8443", "pat@example.org").unwrap();
        assert_ne!(a, other_port);
        assert!(entry_user("not a url", "pat@example.org").is_err());
    }

    #[test]
    fn errors_say_no_keychain_and_no_file() {
        let error = classify(
            KeychainBackend::platform_default(),
            keyring::Error::PlatformFailure(
                "the name org.freedesktop.secrets was not provided".into(),
            ),
        );
        assert!(matches!(error, KeychainError::Unavailable { .. }));
        let text = TokenStoreError::from(error).to_string();
        assert!(text.contains("no keychain is available"), "{text}");
        assert!(text.contains("password each time"), "{text}");
    }
}
