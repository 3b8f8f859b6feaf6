//! Clinicall's wire protocol, shared by the signaling server and every client.
//!
//! The signaling connection is a WebSocket carrying one JSON object per text
//! frame. Clients send [`ClientEnvelope`]s, the server sends
//! [`ServerEnvelope`]s. REST bodies used around it (login, registration,
//! errors) live in [`rest`]. The full reference, with who may send what and
//! every error code, is `docs/protocol.md`.
//!
//! ```
//! use clinicall_protocol::{ClientEnvelope, ClientMessage, PROTOCOL_VERSION};
//!
//! let hello = ClientEnvelope::new(ClientMessage::Hello {
//!     min_version: PROTOCOL_VERSION,
//!     max_version: PROTOCOL_VERSION,
//!     token: None,
//!     resume: None,
//! });
//! let text = serde_json::to_string(&hello).unwrap();
//! let back = ClientEnvelope::parse(&text).unwrap();
//! assert_eq!(back, hello);
//! ```
#![warn(missing_docs)]

pub mod appointments;
pub mod chat;
mod error_code;
mod ids;
mod limits;
mod messages;
pub mod rest;

pub use error_code::ErrorCode;
pub use ids::{AppointmentId, AttachmentId, CallId, ConversationId, MessageId, SessionId, UserId};
pub use limits::{MAX_MESSAGE_BYTES, SNAPSHOT_PAGE, ValidationError};
pub use messages::*;

/// The newest protocol version this crate speaks. Bumped on any change a
/// peer of the previous version could not understand.
pub const PROTOCOL_VERSION: u16 = 1;

/// The oldest protocol version this crate still speaks.
pub const MIN_PROTOCOL_VERSION: u16 = 1;

/// Picks the version both sides speak: the highest in the overlap of the
/// client's `[min, max]` and ours, or `None` when they do not overlap.
pub fn negotiate_version(client_min: u16, client_max: u16) -> Option<u16> {
    let high = client_max.min(PROTOCOL_VERSION);
    let low = client_min.max(MIN_PROTOCOL_VERSION);
    (low <= high).then_some(high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_negotiation_picks_highest_common() {
        assert_eq!(negotiate_version(1, 1), Some(1));
        assert_eq!(negotiate_version(1, 9), Some(PROTOCOL_VERSION));
        assert_eq!(negotiate_version(PROTOCOL_VERSION + 1, 9), None);
        assert_eq!(negotiate_version(0, 0), None);
        assert_eq!(negotiate_version(3, 2), None);
    }
}
