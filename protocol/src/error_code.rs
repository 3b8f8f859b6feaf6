//! Stable, machine-readable error codes shared by WebSocket error replies and
//! REST error bodies. The string form never changes once released; add new
//! variants instead. Clients map codes they do not know to
//! [`ErrorCode::Unknown`].

use serde::{Deserialize, Serialize};

/// Why a request was refused. See `docs/protocol.md` for when each is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The frame was not valid JSON, or not a text frame.
    BadJson,
    /// Valid JSON, but not a message of this protocol (unknown type, missing
    /// or mistyped field).
    InvalidMessage,
    /// A field failed validation (too long, empty, out of range).
    InvalidField,
    /// The message was larger than the limit announced in `welcome`.
    MessageTooLarge,
    /// Too many messages or requests; slow down.
    RateLimited,
    /// No credentials, or credentials that do not verify.
    Unauthenticated,
    /// The access token has expired; refresh it and try again.
    TokenExpired,
    /// The session behind this token was logged out.
    SessionRevoked,
    /// The authenticated user may not do this.
    Forbidden,
    /// The user already has the most sessions (devices) allowed, all of
    /// them connected; close one first.
    TooManySessions,
    /// The first message on a connection must be `hello`.
    HelloRequired,
    /// `hello` was sent twice on one connection.
    AlreadyGreeted,
    /// No protocol version in common.
    UnsupportedVersion,
    /// The user, call or resource does not exist (or is not visible to you).
    NotFound,
    /// The sender is not a party to this call (or not its accepted device).
    NotAParty,
    /// The call is not in a state that allows this (for example a signal
    /// before accept, or anything after the call ended).
    WrongCallState,
    /// The caller is already in a call.
    AlreadyInCall,
    /// The call was already answered on another device.
    AlreadyAnswered,
    /// Registration with an email that is taken.
    EmailTaken,
    /// Wrong email or password.
    InvalidCredentials,
    /// The refresh token is unknown, used, expired or revoked.
    InvalidRefreshToken,
    /// The request body exceeds the server's limit.
    PayloadTooLarge,
    /// An upload's content is not an allowed type, or does not match the
    /// type it was declared as.
    UnsupportedMediaType,
    /// Booking: another patient holds this slot (pending, scheduled or
    /// completed). Pick another slot.
    SlotTaken,
    /// Booking: no slot of the doctor's weekly schedule starts at this time.
    SlotNotOnSchedule,
    /// Booking: the slot has already started.
    SlotInPast,
    /// The appointment is not in a state that allows this (for example
    /// confirming a cancelled one, or completing a pending one).
    InvalidTransition,
    /// Clinical notes of a completed visit are final; add an amendment.
    NotesLocked,
    /// The visit was already rated; a rating is given once.
    AlreadyRated,
    /// The server is not ready (starting, or shutting down).
    Unavailable,
    /// Something went wrong on the server; nothing was changed.
    Internal,
    /// A code this client does not know (sent by a newer server).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The wire string, for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadJson => "bad_json",
            ErrorCode::InvalidMessage => "invalid_message",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::MessageTooLarge => "message_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::SessionRevoked => "session_revoked",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::TooManySessions => "too_many_sessions",
            ErrorCode::HelloRequired => "hello_required",
            ErrorCode::AlreadyGreeted => "already_greeted",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::NotFound => "not_found",
            ErrorCode::NotAParty => "not_a_party",
            ErrorCode::WrongCallState => "wrong_call_state",
            ErrorCode::AlreadyInCall => "already_in_call",
            ErrorCode::AlreadyAnswered => "already_answered",
            ErrorCode::EmailTaken => "email_taken",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::InvalidRefreshToken => "invalid_refresh_token",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::SlotTaken => "slot_taken",
            ErrorCode::SlotNotOnSchedule => "slot_not_on_schedule",
            ErrorCode::SlotInPast => "slot_in_past",
            ErrorCode::InvalidTransition => "invalid_transition",
            ErrorCode::NotesLocked => "notes_locked",
            ErrorCode::AlreadyRated => "already_rated",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_matches_serde() {
        for code in [
            ErrorCode::BadJson,
            ErrorCode::MessageTooLarge,
            ErrorCode::NotAParty,
            ErrorCode::InvalidRefreshToken,
            ErrorCode::SlotTaken,
            ErrorCode::SlotNotOnSchedule,
            ErrorCode::SlotInPast,
            ErrorCode::InvalidTransition,
            ErrorCode::NotesLocked,
            ErrorCode::AlreadyRated,
            ErrorCode::Internal,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn unknown_codes_from_newer_servers_parse() {
        let code: ErrorCode = serde_json::from_str("\"quantum_flux\"").unwrap();
        assert_eq!(code, ErrorCode::Unknown);
    }
}
