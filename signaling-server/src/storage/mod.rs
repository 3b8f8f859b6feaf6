//! Persistent storage behind one trait, so the server runs on embedded
//! SQLite today and on PostgreSQL later through the same code paths.

mod sqlite;

pub use sqlite::SqliteStore;

use async_trait::async_trait;
use clinicall_protocol::rest::{Account, CallRecord};
use clinicall_protocol::{CallId, EndReason, Role, UserId, UserSummary};
use std::path::Path;
use uuid::Uuid;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An account with this email exists.
    #[error("email already registered")]
    EmailTaken,
    /// The referenced row does not exist.
    #[error("not found")]
    NotFound,
    /// The database failed; the operation changed nothing.
    #[error("database error: {0}")]
    Database(String),
}

/// An account with its password hash, for login.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The account.
    pub account: Account,
    /// PHC-format argon2id hash.
    pub password_hash: String,
}

/// Why a refresh token could not be exchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshRejection {
    /// No such token.
    Unknown,
    /// Past its expiry.
    Expired,
    /// Its login was revoked (logout, or earlier reuse).
    Revoked,
    /// Already exchanged once: a sign of theft, so the whole login (this
    /// id) has now been revoked.
    Reused(Uuid),
}

/// A successful refresh: who, and which login it continues.
#[derive(Clone, Debug)]
pub struct Refreshed {
    /// The account.
    pub account: Account,
    /// The login (auth session) the new tokens belong to.
    pub session_id: Uuid,
}

/// The state of one call, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRow {
    /// The call.
    pub id: CallId,
    /// Who called.
    pub caller: UserId,
    /// Who was called.
    pub callee: UserId,
    /// Appointment given with the invite.
    pub appointment_id: Option<String>,
    /// Unix ms when it started ringing.
    pub rung_at_ms: i64,
}

/// The end of a call.
#[derive(Clone, Debug, PartialEq)]
pub struct CallEnd {
    /// The call.
    pub id: CallId,
    /// Unix ms.
    pub ended_at_ms: i64,
    /// Why.
    pub reason: EndReason,
    /// Whose action ended it.
    pub ended_by: Option<UserId>,
    /// Answer-to-end time, for answered calls.
    pub duration_ms: Option<i64>,
}

/// Everything the server persists.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates an account. `email` must already be normalized (lower case).
    async fn create_user(
        &self,
        account: Account,
        password_hash: String,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// The account and hash for a (normalized) email.
    async fn credentials_by_email(&self, email: &str) -> Result<Option<Credentials>, StoreError>;
    /// An account by id.
    async fn account(&self, id: UserId) -> Result<Option<Account>, StoreError>;
    /// All accounts, for admins.
    async fn list_accounts(&self) -> Result<Vec<Account>, StoreError>;
    /// Replaces a password hash and revokes every login of the account.
    async fn set_password(
        &self,
        id: UserId,
        password_hash: String,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Starts a login with its first refresh token (stored as a hash).
    async fn create_auth_session(
        &self,
        session_id: Uuid,
        user: UserId,
        refresh_hash: [u8; 32],
        refresh_expires_ms: i64,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Exchanges a refresh token for a new one, atomically. Reuse of a spent
    /// token revokes the whole login.
    async fn rotate_refresh_token(
        &self,
        old_hash: [u8; 32],
        new_hash: [u8; 32],
        new_expires_ms: i64,
        now_ms: i64,
    ) -> Result<Result<Refreshed, RefreshRejection>, StoreError>;
    /// The login a refresh token belongs to, if the token is known.
    async fn auth_session_of_refresh(&self, hash: [u8; 32]) -> Result<Option<Uuid>, StoreError>;
    /// Ends a login. Returns whether it was active.
    async fn revoke_auth_session(&self, session_id: Uuid, now_ms: i64) -> Result<bool, StoreError>;
    /// Whether a login is active (exists, not revoked).
    async fn auth_session_active(&self, session_id: Uuid) -> Result<bool, StoreError>;

    /// Records that a doctor looks after a patient (idempotent).
    async fn add_care_relation(
        &self,
        doctor: UserId,
        patient: UserId,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// A user's care-relation contacts: their patients (doctor), their
    /// doctors (patient), nobody (admin).
    async fn contacts(&self, user: UserId, role: Role) -> Result<Vec<UserSummary>, StoreError>;

    /// Records a new call (ringing, or ended at once for busy/unavailable).
    async fn insert_call(&self, call: CallRow) -> Result<(), StoreError>;
    /// Records the answer.
    async fn call_answered(&self, id: CallId, at_ms: i64) -> Result<(), StoreError>;
    /// Records the end.
    async fn call_ended(&self, end: CallEnd) -> Result<(), StoreError>;
    /// Calls a user took part in (all calls when `user` is `None`), newest
    /// first.
    async fn calls(&self, user: Option<UserId>, limit: u32) -> Result<Vec<CallRecord>, StoreError>;

    /// Writes a consistent copy of the database to `path`.
    async fn backup(&self, path: &Path) -> Result<(), StoreError>;
}
