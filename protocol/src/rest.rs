//! Bodies of the REST API (`/api/v1/...`) that sits beside the WebSocket.

use crate::{ErrorCode, Role, UserId};
use serde::{Deserialize, Serialize};

/// Every REST error: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of an [`ErrorBody`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
    /// The request field at fault, for validation errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `POST /api/v1/auth/register` (patients) and `POST /api/v1/admin/users`
/// (any role; `role` is required there and ignored here).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewUser {
    /// Login name; unique, compared case-insensitively.
    pub email: String,
    /// At least 8 and at most 256 characters.
    pub password: String,
    /// Name shown to others, 1 to 100 characters.
    pub display_name: String,
    /// Role, for admin-created accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

/// A user account as its owner and admins see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The user's id.
    pub id: UserId,
    /// Login name.
    pub email: String,
    /// Name shown to others.
    pub display_name: String,
    /// Role.
    pub role: Role,
}

/// `POST /api/v1/auth/login`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// Login name.
    pub email: String,
    /// Password.
    pub password: String,
}

/// `POST /api/v1/auth/refresh` and `POST /api/v1/auth/logout`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
}

/// Reply to login and refresh.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenPair {
    /// Short-lived bearer token for REST and the WebSocket.
    pub access_token: String,
    /// Seconds until `access_token` expires.
    pub access_expires_in: u64,
    /// Single-use token that gets the next pair; keep it secret (the OS
    /// keychain on the desktop).
    pub refresh_token: String,
    /// Seconds until `refresh_token` expires.
    pub refresh_expires_in: u64,
    /// Who logged in.
    pub account: Account,
}

/// One stored call, as `GET /api/v1/calls` returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// The call.
    pub id: crate::CallId,
    /// Who called.
    pub caller: UserId,
    /// Who was called.
    pub callee: UserId,
    /// The appointment given with the invite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment_id: Option<String>,
    /// When it started ringing (RFC 3339).
    pub rung_at: String,
    /// When it was answered, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<String>,
    /// When it ended, if it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// Why it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<crate::EndReason>,
    /// Who ended it, when a user did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<UserId>,
    /// Milliseconds from answer to end; absent for unanswered calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}
