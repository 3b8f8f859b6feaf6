//! Chat: the records that travel in the chat messages of
//! [`ClientMessage`](crate::ClientMessage) and
//! [`ServerMessage`](crate::ServerMessage), and in the attachment REST calls.
//!
//! Delivery is exactly-once by construction: the sending client names each
//! message with a fresh [`MessageId`] and resends it until it gets a
//! `chat_ack`; the server stores a message once per id and gives it the next
//! sequence number of its conversation. Receivers order by `seq` and
//! deduplicate by `id`, and after a reconnect fetch everything after the
//! highest `seq` they hold.

use crate::ids::{AttachmentId, ConversationId, MessageId, UserId};
use crate::limits::{self, ValidationError};
use crate::messages::UserSummary;
use serde::{Deserialize, Serialize};

/// Longest message text, in bytes of UTF-8.
pub const MAX_CHAT_BODY: usize = 16 * 1024;
/// Most attachments on one message.
pub const MAX_ATTACHMENTS_PER_MESSAGE: usize = 10;
/// Most messages one `chat_fetch` returns.
pub const MAX_FETCH: u32 = 200;
/// Longest attachment file name, in bytes.
pub const MAX_ATTACHMENT_NAME: usize = 255;

/// A stored chat message, as the server delivers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The conversation it belongs to.
    pub conversation_id: ConversationId,
    /// Its place in the conversation: 1 for the first message, then one
    /// more for each message after it, with no gaps.
    pub seq: u64,
    /// The id its sender gave it.
    pub id: MessageId,
    /// Who wrote it.
    pub sender: UserId,
    /// The text (may be empty when there are attachments).
    pub body: String,
    /// Files sent with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentMeta>,
    /// When the server stored it (Unix milliseconds, server clock).
    pub sent_at_ms: i64,
}

/// What is known about an uploaded file without downloading it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentMeta {
    /// Its id, for download (`GET /api/v1/attachments/{id}`).
    pub id: AttachmentId,
    /// The file name the uploader gave.
    pub name: String,
    /// The type found in its bytes (for example `image/png`).
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of its bytes, lowercase hex: lets a client check a download
    /// and share one cached copy between messages.
    pub sha256: String,
    /// Whether a thumbnail exists (`GET /api/v1/attachments/{id}/thumbnail`).
    #[serde(default)]
    pub has_thumbnail: bool,
}

/// A conversation as one of its two parties sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    /// The conversation.
    pub id: ConversationId,
    /// The other party.
    pub peer: UserSummary,
    /// The `seq` of its newest message (0 when there is none yet).
    pub last_seq: u64,
    /// The highest `seq` this user has read.
    pub read_seq: u64,
    /// The highest `seq` the other party has read (for read ticks).
    pub peer_read_seq: u64,
    /// Messages from the other party after `read_seq`.
    pub unread: u64,
}

pub(crate) fn validate_send(
    body: &str,
    attachments: &[AttachmentId],
) -> Result<(), ValidationError> {
    limits::check_len("body", body, MAX_CHAT_BODY)?;
    if attachments.len() > MAX_ATTACHMENTS_PER_MESSAGE {
        return Err(ValidationError {
            field: "attachments",
            problem: format!(
                "has {} entries, more than the limit of {MAX_ATTACHMENTS_PER_MESSAGE}",
                attachments.len()
            ),
        });
    }
    if body.trim().is_empty() && attachments.is_empty() {
        return Err(ValidationError {
            field: "body",
            problem: "must not be empty when there are no attachments".into(),
        });
    }
    Ok(())
}

pub(crate) fn validate_fetch(
    after_seq: Option<u64>,
    before_seq: Option<u64>,
    limit: u32,
) -> Result<(), ValidationError> {
    if limit == 0 || limit > MAX_FETCH {
        return Err(ValidationError {
            field: "limit",
            problem: format!("must be between 1 and {MAX_FETCH}"),
        });
    }
    if after_seq.is_some() && before_seq.is_some() {
        return Err(ValidationError {
            field: "before_seq",
            problem: "cannot be combined with after_seq".into(),
        });
    }
    Ok(())
}
