//! Accounts and authentication: registration, login, token refresh with
//! rotation, logout, and verifying a bearer token on every request.

mod password;
mod tokens;
mod validate;

pub use password::PasswordHashing;
pub use tokens::{Claims, TokenError, TokenKeys, random_secret};

use crate::error::ApiError;
use crate::storage::{RefreshRejection, Store};
use crate::util::{now_ms, now_secs};
use axum::http::StatusCode;
use clinicall_protocol::rest::{Account, NewUser, TokenPair};
use clinicall_protocol::{ErrorCode, Role, UserId};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// An authenticated request's identity.
#[derive(Clone, Debug)]
pub struct Authed {
    /// The user.
    pub user: UserId,
    /// Their role.
    pub role: Role,
    /// The login the token belongs to.
    pub auth_session: Uuid,
}

/// The account service.
#[derive(Clone)]
pub struct AuthService {
    store: Arc<dyn Store>,
    hashing: PasswordHashing,
    keys: TokenKeys,
    refresh_ttl: Duration,
    /// Verified against for unknown emails, so response time does not tell
    /// whether an account exists.
    dummy_hash: Arc<String>,
}

impl AuthService {
    /// Builds the service.
    pub async fn new(
        store: Arc<dyn Store>,
        hashing: PasswordHashing,
        keys: TokenKeys,
        refresh_ttl: Duration,
    ) -> anyhow::Result<Self> {
        let dummy_hash = Arc::new(hashing.dummy_hash().await?);
        Ok(Self {
            store,
            hashing,
            keys,
            refresh_ttl,
            dummy_hash,
        })
    }

    /// Creates an account after validating every field. `role` is decided
    /// by the caller (patients self-register; admins choose).
    pub async fn create_account(&self, new: NewUser, role: Role) -> Result<Account, ApiError> {
        let email = validate::email(&new.email)?;
        validate::password(&new.password)?;
        let display_name = validate::display_name(&new.display_name)?;
        let hash = self
            .hashing
            .hash(new.password)
            .await
            .map_err(ApiError::internal)?;
        let account = Account {
            id: UserId(Uuid::now_v7()),
            email,
            display_name,
            role,
        };
        self.store
            .create_user(account.clone(), hash, now_ms())
            .await?;
        tracing::info!(user = %account.id, role = role.as_str(), "account created");
        Ok(account)
    }

    /// Sets a new password (admin reset) and signs the user out everywhere.
    pub async fn reset_password(&self, email: &str, password: String) -> Result<Account, ApiError> {
        validate::password(&password)?;
        let email = validate::email(email)?;
        let creds = self
            .store
            .credentials_by_email(&email)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    ErrorCode::NotFound,
                    "no such account",
                )
            })?;
        let hash = self
            .hashing
            .hash(password)
            .await
            .map_err(ApiError::internal)?;
        self.store
            .set_password(creds.account.id, hash, now_ms())
            .await?;
        Ok(creds.account)
    }

    /// Checks email and password and starts a login.
    pub async fn login(&self, email: &str, password: String) -> Result<TokenPair, ApiError> {
        let invalid =
            || ApiError::unauthorized(ErrorCode::InvalidCredentials, "wrong email or password");
        let Ok(email) = validate::email(email) else {
            return Err(invalid());
        };
        let creds = self.store.credentials_by_email(&email).await?;
        let phc = creds.as_ref().map_or_else(
            || self.dummy_hash.as_str().to_owned(),
            |c| c.password_hash.clone(),
        );
        let matches = self
            .hashing
            .verify(password, phc)
            .await
            .map_err(ApiError::internal)?;
        let Some(creds) = creds.filter(|_| matches) else {
            return Err(invalid());
        };
        let (refresh_token, refresh_hash) = tokens::new_refresh_token();
        let sid = Uuid::new_v4();
        let now = now_ms();
        self.store
            .create_auth_session(
                sid,
                creds.account.id,
                refresh_hash,
                now + self.refresh_ttl.as_millis() as i64,
                now,
            )
            .await?;
        tracing::info!(user = %creds.account.id, "login");
        Ok(self.pair(creds.account, sid, refresh_token))
    }

    /// Exchanges a refresh token for a new pair; the old one is spent.
    /// On reuse of a spent token the login is revoked, and its id comes
    /// back with the error so its live connections can be closed.
    pub async fn refresh(
        &self,
        refresh_token: &str,
    ) -> Result<TokenPair, (ApiError, Option<Uuid>)> {
        let (new_token, new_hash) = tokens::new_refresh_token();
        let now = now_ms();
        let outcome = self
            .store
            .rotate_refresh_token(
                tokens::hash_refresh_token(refresh_token),
                new_hash,
                now + self.refresh_ttl.as_millis() as i64,
                now,
            )
            .await
            .map_err(|e| (ApiError::from(e), None))?;
        let rejection = match outcome {
            Ok(refreshed) => {
                return Ok(self.pair(refreshed.account, refreshed.session_id, new_token));
            }
            Err(rejection) => rejection,
        };
        let (message, revoked) = match rejection {
            RefreshRejection::Unknown => ("unknown refresh token", None),
            RefreshRejection::Expired => ("refresh token expired; sign in again", None),
            RefreshRejection::Revoked => ("this login was signed out; sign in again", None),
            RefreshRejection::Reused(sid) => {
                tracing::warn!(login = %sid, "refresh token reused; login revoked");
                (
                    "refresh token was already used; this login is now signed out",
                    Some(sid),
                )
            }
        };
        Err((
            ApiError::unauthorized(ErrorCode::InvalidRefreshToken, message),
            revoked,
        ))
    }

    /// Ends the login a refresh token belongs to. Returns the login id so
    /// its live connections can be closed.
    pub async fn logout_refresh(&self, refresh_token: &str) -> Result<Uuid, ApiError> {
        let sid = self
            .store
            .auth_session_of_refresh(tokens::hash_refresh_token(refresh_token))
            .await?
            .ok_or_else(|| {
                ApiError::unauthorized(ErrorCode::InvalidRefreshToken, "unknown refresh token")
            })?;
        self.store.revoke_auth_session(sid, now_ms()).await?;
        Ok(sid)
    }

    /// Verifies a bearer token: signature, expiry, and that its login has
    /// not been signed out.
    pub async fn authenticate(&self, token: &str) -> Result<Authed, ApiError> {
        let claims = self.keys.verify(token).map_err(|e| match e {
            TokenError::Expired => {
                ApiError::unauthorized(ErrorCode::TokenExpired, "access token expired; refresh it")
            }
            TokenError::Invalid => {
                ApiError::unauthorized(ErrorCode::Unauthenticated, "invalid access token")
            }
        })?;
        if !self.store.auth_session_active(claims.sid).await? {
            return Err(ApiError::unauthorized(
                ErrorCode::SessionRevoked,
                "this login was signed out; sign in again",
            ));
        }
        Ok(Authed {
            user: claims.sub,
            role: claims.role,
            auth_session: claims.sid,
        })
    }

    fn pair(&self, account: Account, sid: Uuid, refresh_token: String) -> TokenPair {
        TokenPair {
            access_token: self.keys.issue(account.id, sid, account.role, now_secs()),
            access_expires_in: self.keys.ttl().as_secs(),
            refresh_token,
            refresh_expires_in: self.refresh_ttl.as_secs(),
            account,
        }
    }
}
