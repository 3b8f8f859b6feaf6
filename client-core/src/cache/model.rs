//! What the cache gives the UI and the sync engine.

use crate::protocol::chat::AttachmentMeta;
use crate::protocol::{AttachmentId, ConversationId, MessageId, UserId, UserSummary};

/// Where a cached message stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageState {
    /// Stored by the server.
    Sent {
        /// Its place in the conversation.
        seq: u64,
        /// When the server stored it (Unix ms, server clock).
        sent_at_ms: i64,
    },
    /// The user's own message, waiting in the outbox for its ack.
    Pending {
        /// When it was written (Unix ms, this device's clock).
        created_at_ms: i64,
    },
    /// The user's own message, refused by the server for good (it is no
    /// longer in the outbox).
    Refused {
        /// When it was written (Unix ms, this device's clock).
        created_at_ms: i64,
        /// The server's explanation.
        reason: String,
    },
}

/// A message as the thread view shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedMessage {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The message's id.
    pub id: MessageId,
    /// Who wrote it.
    pub sender: UserId,
    /// The text.
    pub body: String,
    /// Files sent with it.
    pub attachments: Vec<AttachmentMeta>,
    /// Sent or pending.
    pub state: MessageState,
}

impl CachedMessage {
    /// The server's `seq`, once it has one.
    pub fn seq(&self) -> Option<u64> {
        match self.state {
            MessageState::Sent { seq, .. } => Some(seq),
            MessageState::Pending { .. } | MessageState::Refused { .. } => None,
        }
    }
}

/// A send the sync engine owes the server: exactly the fields of
/// `ClientMessage::ChatSend`. Resending the same `id` is safe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxItem {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The id the message keeps until it is acknowledged.
    pub id: MessageId,
    /// The text.
    pub body: String,
    /// Uploaded attachments.
    pub attachments: Vec<AttachmentId>,
    /// When the user sent it (Unix ms, this device's clock).
    pub created_at_ms: i64,
}

/// How far a conversation is synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncCursor {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Every seq from 1 to this one is held; fetch after it
    /// (`chat_fetch { after_seq }`).
    pub contiguous_seq: u64,
    /// The highest seq known to exist: held, or reported by the server
    /// as the conversation's `last_seq`.
    pub known_seq: u64,
}

impl SyncCursor {
    /// Messages between the cursor and the newest known one are missing:
    /// the engine must fetch after `contiguous_seq`.
    pub fn needs_fetch(&self) -> bool {
        self.known_seq > self.contiguous_seq
    }
}

/// What applying incoming messages did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// Messages new to the cache.
    pub inserted: usize,
    /// Messages already held (same id): ignored.
    pub duplicates: usize,
    /// The user's own pending messages the server echoed: now sent, and
    /// out of the outbox.
    pub confirmed: usize,
    /// Messages whose seq another message already holds: ignored (the
    /// first one is kept).
    pub conflicts: usize,
    /// The cursor of every conversation touched, after the batch.
    pub cursors: Vec<SyncCursor>,
}

/// A conversation in the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationView {
    /// The conversation.
    pub id: ConversationId,
    /// The other party; `None` until a summary of the conversation has
    /// been stored (a message can arrive first).
    pub peer: Option<UserSummary>,
    /// The newest seq known.
    pub last_seq: u64,
    /// The highest seq this user has read.
    pub read_seq: u64,
    /// The highest seq the other party has read.
    pub peer_read_seq: u64,
    /// Messages from the other party after `read_seq`.
    pub unread: u64,
    /// The newest message held (a pending one if any).
    pub last_message: Option<CachedMessage>,
}

/// Where the next (older) page of a thread starts. Opaque.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageCursor(pub(crate) PagePosition);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PagePosition {
    /// Older than this pending message (by local order), then every sent one.
    Pending(i64),
    /// Sent messages with a smaller seq.
    Sent(i64),
}

/// One page of a thread, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessagePage {
    /// Newest first: pending messages (newest first), then sent ones by
    /// descending seq.
    pub messages: Vec<CachedMessage>,
    /// Where the next older page starts; `None` when this page reached the
    /// oldest held message.
    pub older: Option<PageCursor>,
}

/// The order of search hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SearchOrder {
    /// Newest first (server time, local time for pending). Pages stay
    /// stable while messages arrive: the cursor is a position in time.
    #[default]
    Newest,
    /// Best match first (FTS5's bm25). Pages are stable as long as nothing
    /// is written between them (new text changes the ranks). Costs time in
    /// proportion to the matches, since each is scored: tens of ms for a
    /// word in tens of thousands of messages (docs/benchmarks.md), where
    /// newest first stays near 2 ms.
    Relevance,
}

/// A search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchRequest {
    /// What the user typed. Every word must occur (the last one as a
    /// prefix, for search as you type); FTS syntax in it is taken
    /// literally.
    pub text: String,
    /// Only this conversation, or all.
    pub conversation: Option<ConversationId>,
    /// The order of hits.
    pub order: SearchOrder,
    /// At most this many hits per page.
    pub limit: u32,
    /// The previous page's [`SearchPage::next`], or `None` for the first.
    pub after: Option<SearchCursor>,
}

impl SearchRequest {
    /// The first page of `text` in every conversation, newest first.
    pub fn new(text: impl Into<String>, limit: u32) -> Self {
        SearchRequest {
            text: text.into(),
            conversation: None,
            order: SearchOrder::Newest,
            limit,
            after: None,
        }
    }
}

/// Where the next page of a search starts. Opaque.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchCursor(pub(crate) SearchPosition);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SearchPosition {
    /// Search keys below this one (keys order by time and are unique).
    Newest { below_key: i64 },
    /// After this many hits.
    Relevance { offset: u64 },
}

/// A piece of a snippet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnippetPart {
    /// The text (plain; the UI escapes it).
    pub text: String,
    /// A matched term, to highlight.
    pub highlighted: bool,
}

/// A message that matches a search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchHit {
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// The message.
    pub message_id: MessageId,
    /// Its seq (`None` while pending), to open the thread there.
    pub seq: Option<u64>,
    /// Who wrote it.
    pub sender: UserId,
    /// When (server time when sent, local time when pending).
    pub time_ms: i64,
    /// Up to a few words around the matches, with the matches marked.
    pub snippet: Vec<SnippetPart>,
}

/// One page of search hits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchPage {
    /// The hits.
    pub hits: Vec<SearchHit>,
    /// Where the next page starts; `None` when there are no more hits.
    pub next: Option<SearchCursor>,
}
