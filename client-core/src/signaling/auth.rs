//! The signed-in state: the current access token, and the refresh token
//! behind a [`TokenStore`] (memory here; the OS keychain on the desktop).
//!
//! Refresh tokens are single-use and the server treats presenting a spent
//! one as theft: it signs the whole login out, live sockets included. So:
//! - refreshes are serialized (two tasks that both see `token_expired` must
//!   not both spend the same token); the second one reuses the first one's
//!   result;
//! - the new refresh token is stored before the new access token is used;
//! - if it cannot be stored, the old one is cleared from the store rather
//!   than left there to be replayed at the next start.

use super::rest::{RestClient, RestError};
use clinicall_protocol::rest::{Account, TokenPair};
use std::sync::{Arc, Mutex};

/// Why a [`TokenStore`] failed (the keychain is locked, for example).
#[derive(Debug, thiserror::Error)]
#[error("token store: {0}")]
pub struct TokenStoreError(pub String);

/// Where the refresh token lives between runs.
pub trait TokenStore: Send + Sync {
    /// The stored refresh token, if any.
    fn load(&self) -> Result<Option<String>, TokenStoreError>;
    /// Replaces the stored refresh token.
    fn save(&self, refresh_token: &str) -> Result<(), TokenStoreError>;
    /// Removes it (logout, or the login is over).
    fn clear(&self) -> Result<(), TokenStoreError>;
}

/// A [`TokenStore`] in memory: for tests and the headless client.
#[derive(Debug, Default)]
pub struct MemoryTokenStore(Mutex<Option<String>>);

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl TokenStore for MemoryTokenStore {
    fn load(&self) -> Result<Option<String>, TokenStoreError> {
        Ok(lock(&self.0).clone())
    }
    fn save(&self, refresh_token: &str) -> Result<(), TokenStoreError> {
        *lock(&self.0) = Some(refresh_token.to_owned());
        Ok(())
    }
    fn clear(&self) -> Result<(), TokenStoreError> {
        *lock(&self.0) = None;
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing here can leave the data half-written; a panic elsewhere while
    // holding the lock does not make it unusable.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Default)]
struct Current {
    access: Option<String>,
    /// The newest refresh token, also kept here in case the store fails.
    refresh: Option<String>,
    account: Option<Account>,
}

/// A login: REST client, token store and the current access token. Share
/// it (`Arc`) between the signaling client and REST callers.
pub struct AuthSession {
    rest: RestClient,
    store: Arc<dyn TokenStore>,
    current: Mutex<Current>,
    /// Held for the whole of a refresh, so only one runs at a time.
    refreshing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for AuthSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSession")
            .field("server", &self.rest.base().as_str())
            .finish_non_exhaustive()
    }
}

impl AuthSession {
    /// A session over `store`. If the store holds a refresh token (from an
    /// earlier run), the first [`access_token`](Self::access_token) call
    /// refreshes with it; otherwise [`login`](Self::login) first.
    pub fn new(rest: RestClient, store: Arc<dyn TokenStore>) -> Self {
        Self {
            rest,
            store,
            current: Mutex::new(Current::default()),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// The REST client.
    pub fn rest(&self) -> &RestClient {
        &self.rest
    }

    /// Logs in with a password and keeps the tokens.
    pub async fn login(&self, email: &str, password: &str) -> Result<Account, RestError> {
        let _guard = self.refreshing.lock().await;
        let pair = self.rest.login(email, password).await?;
        Ok(self.adopt(pair))
    }

    /// The account of the last login or refresh, if any.
    pub fn account(&self) -> Option<Account> {
        lock(&self.current).account.clone()
    }

    /// The current access token, refreshing first if there is none yet.
    pub async fn access_token(&self) -> Result<String, RestError> {
        if let Some(token) = lock(&self.current).access.clone() {
            return Ok(token);
        }
        self.refresh(None).await
    }

    /// Gets a new access token because `stale` was refused (or there is
    /// none). If another task already replaced `stale`, its result is
    /// returned without spending another refresh token.
    pub async fn refresh(&self, stale: Option<&str>) -> Result<String, RestError> {
        let _guard = self.refreshing.lock().await;
        if let Some(current) = lock(&self.current).access.clone()
            && Some(current.as_str()) != stale
        {
            return Ok(current);
        }
        let Some(refresh_token) = self.load()? else {
            return Err(RestError::NotSignedIn);
        };
        match self.rest.refresh(&refresh_token).await {
            Ok(pair) => {
                let access = pair.access_token.clone();
                self.adopt(pair);
                Ok(access)
            }
            Err(e) => {
                if e.is_signed_out() {
                    self.forget();
                }
                Err(e)
            }
        }
    }

    /// `GET /me`, refreshing once if the access token has expired.
    pub async fn me(&self) -> Result<Account, RestError> {
        let token = self.access_token().await?;
        match self.rest.me(&token).await {
            Err(e) if e.code() == Some(clinicall_protocol::ErrorCode::TokenExpired) => {
                let token = self.refresh(Some(&token)).await?;
                self.rest.me(&token).await
            }
            other => other,
        }
    }

    /// Sends the request `build` makes with the access token; if the server
    /// says the token has expired, refreshes once and sends it again. Any
    /// other refusal of the token is the caller's error; every other answer
    /// is returned as it is, for the caller to read.
    pub(crate) async fn send_authed(
        &self,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, RestError> {
        let token = self.access_token().await?;
        let response = build(&token).send().await.map_err(RestError::Transport)?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let error = super::rest::error_from(response).await;
        if error.code() != Some(clinicall_protocol::ErrorCode::TokenExpired) {
            return Err(error);
        }
        let token = self.refresh(Some(&token)).await?;
        build(&token).send().await.map_err(RestError::Transport)
    }

    /// Signs out on the server (which closes this login's sockets with
    /// 4001) and forgets the tokens locally, even if the server cannot be
    /// reached.
    pub async fn logout(&self) -> Result<(), RestError> {
        let _guard = self.refreshing.lock().await;
        let token = self.load()?;
        self.forget();
        match token {
            Some(token) => self.rest.logout(&token).await,
            None => Ok(()),
        }
    }

    /// Forgets the tokens locally, without telling the server (the server
    /// already said the login is over).
    pub fn forget(&self) {
        *lock(&self.current) = Current::default();
        if let Err(e) = self.store.clear() {
            tracing::warn!(error = %e, "could not clear the refresh token");
        }
    }

    fn load(&self) -> Result<Option<String>, RestError> {
        if let Some(token) = lock(&self.current).refresh.clone() {
            return Ok(Some(token));
        }
        self.store.load().map_err(|e| {
            tracing::warn!(error = %e, "could not read the refresh token");
            RestError::NotSignedIn
        })
    }

    /// Stores a fresh pair: the refresh token first, then the access token.
    fn adopt(&self, pair: TokenPair) -> Account {
        if let Err(e) = self.store.save(&pair.refresh_token) {
            // The stored token (if any) is now spent; replaying it at the next
            // start would sign this login out everywhere. Better no token.
            tracing::warn!(error = %e, "could not store the new refresh token");
            let _ = self.store.clear();
        }
        let mut current = lock(&self.current);
        current.access = Some(pair.access_token);
        current.refresh = Some(pair.refresh_token);
        current.account = Some(pair.account.clone());
        pair.account
    }
}
