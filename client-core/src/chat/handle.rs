//! The app's side of the chat engine: its controls, its news and its
//! errors.

use super::engine::{Command, ask};
use crate::cache::{CacheError, ChatCache};
use crate::protocol::chat::AttachmentMeta;
use crate::protocol::{ClientMessage, ConversationId, ErrorCode, MessageId, ServerMessage, UserId};
use crate::signaling::{self, SignalingClient};
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

/// Most messages one [`ChatHandle::load_older`] fetches.
const OLDER_PAGE: u32 = 100;

/// What changed, for the UI to re-read from the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChatEvent {
    /// The conversation list changed (a new conversation, a last message,
    /// an unread count): re-read [`ChatCache::conversations`].
    Conversations,
    /// A thread changed (a message arrived, was acked or refused, a read
    /// tick moved): re-read its page.
    Thread {
        /// The conversation.
        conversation_id: ConversationId,
    },
    /// Someone started or stopped typing. Never stored; a client that
    /// stops hearing should let the indicator expire.
    Typing {
        /// The conversation.
        conversation_id: ConversationId,
        /// Who.
        user_id: UserId,
        /// Typing now.
        typing: bool,
    },
    /// Whether the engine can reach the server, and how many of the
    /// user's messages wait in the outbox.
    Status {
        /// Connected to the server.
        online: bool,
        /// Sends not acknowledged yet.
        pending: usize,
    },
}

/// Why a chat action failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChatError {
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The server could not be asked (offline, timed out, stopped).
    #[error(transparent)]
    Signaling(#[from] signaling::Error),
    /// The server refused the request.
    #[error("{message}")]
    Refused {
        /// Its code.
        code: ErrorCode,
        /// Its explanation.
        message: String,
    },
    /// The server answered with something else than the request's reply.
    #[error("unexpected reply from the server: {0}")]
    UnexpectedReply(&'static str),
    /// The engine has stopped.
    #[error("the chat engine has stopped")]
    Stopped,
}

impl ChatError {
    /// A failure that trying again later can fix (the network, a busy
    /// server), as opposed to a refusal that will not change.
    pub fn is_transient(&self) -> bool {
        match self {
            ChatError::Signaling(e) => !matches!(e, signaling::Error::Invalid(_)),
            ChatError::Refused { code, .. } => matches!(
                code,
                ErrorCode::RateLimited | ErrorCode::Unavailable | ErrorCode::Internal
            ),
            ChatError::Cache(_) | ChatError::UnexpectedReply(_) | ChatError::Stopped => false,
        }
    }
}

/// The app's controls on a running chat engine. Cheap to clone.
///
/// Writes go to the cache first, so [`send`](Self::send) and
/// [`mark_read`](Self::mark_read) work offline and never wait for a sync
/// in progress; the engine delivers them when it can.
#[derive(Clone, Debug)]
pub struct ChatHandle {
    pub(super) client: SignalingClient,
    pub(super) cache: Arc<ChatCache>,
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl ChatHandle {
    /// The cache, for reading (conversations, pages, search, files).
    pub fn cache(&self) -> &Arc<ChatCache> {
        &self.cache
    }

    /// Opens (creating if needed) the conversation with `peer`. Needs the
    /// server.
    pub async fn open(&self, peer: UserId) -> Result<ConversationId, ChatError> {
        let reply = ask(&self.client, ClientMessage::ChatOpen { peer }).await?;
        let ServerMessage::ChatConversation { conversation } = reply else {
            return Err(ChatError::UnexpectedReply("expected chat_conversation"));
        };
        let id = conversation.id;
        self.cache.upsert_conversations(vec![conversation]).await?;
        self.command(Command::Opened(id)).await?;
        Ok(id)
    }

    /// Sends a message: stored as pending at once (online or not), then
    /// delivered by the engine until acked. `attachments` were uploaded to
    /// this conversation first.
    pub async fn send(
        &self,
        conversation: ConversationId,
        body: String,
        attachments: Vec<AttachmentMeta>,
    ) -> Result<MessageId, ChatError> {
        let item = self.cache.enqueue(conversation, body, attachments).await?;
        self.command(Command::Enqueued(conversation)).await?;
        Ok(item.id)
    }

    /// The user has read `conversation` up to `up_to_seq`. Stored at once;
    /// the server hears now if online, else on the next connect.
    pub async fn mark_read(
        &self,
        conversation: ConversationId,
        up_to_seq: u64,
    ) -> Result<(), ChatError> {
        self.cache.mark_read(conversation, up_to_seq).await?;
        let read = ClientMessage::ChatRead {
            conversation_id: conversation,
            up_to_seq,
        };
        if let Err(e) = self.client.send(read).await {
            tracing::debug!(error = %e, "read mark kept for the next connect");
        }
        self.command(Command::Read(conversation)).await
    }

    /// The user started or stopped typing. Best effort: never stored,
    /// dropped while offline.
    pub async fn typing(&self, conversation: ConversationId, typing: bool) {
        let msg = ClientMessage::ChatTyping {
            conversation_id: conversation,
            typing,
        };
        if let Err(e) = self.client.send(msg).await {
            tracing::debug!(error = %e, "typing indicator not sent");
        }
    }

    /// Fetches up to a page of the messages before `before_seq` from the
    /// server into the cache (scrolling back past what the cache holds).
    /// Returns how many were new to the cache.
    pub async fn load_older(
        &self,
        conversation: ConversationId,
        before_seq: u64,
    ) -> Result<usize, ChatError> {
        let fetch = ClientMessage::ChatFetch {
            conversation_id: conversation,
            after_seq: None,
            before_seq: Some(before_seq),
            limit: OLDER_PAGE,
        };
        let ServerMessage::ChatMessages { messages, .. } = ask(&self.client, fetch).await? else {
            return Err(ChatError::UnexpectedReply("expected chat_messages"));
        };
        let outcome = self.cache.apply_messages(messages).await?;
        if outcome.inserted > 0 {
            self.command(Command::Fetched(conversation)).await?;
        }
        Ok(outcome.inserted)
    }

    /// Stops the engine and waits for it. The cache stays open (close or
    /// wipe it after). Idempotent.
    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown).await;
        let handle = self.task.lock().await.take();
        if let Some(handle) = handle
            && let Err(e) = handle.await
        {
            tracing::error!(error = %e, "chat engine task failed");
        }
    }

    async fn command(&self, command: Command) -> Result<(), ChatError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| ChatError::Stopped)
    }
}
