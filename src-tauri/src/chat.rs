//! Chat in the shell: for each sign-in, the client core's sync engine
//! over the signaling connection, attachment transfers, and the task that
//! tells the window what changed.
//!
//! - [`view`]: what the window is shown (serializable, pure mappings);
//! - [`commands`]: the chat commands the window invokes;
//! - [`notify`]: which new messages get an OS notification.
//!
//! The cache is the account's ([`crate::account`]), shared with the
//! appointments; this module only runs the chat engine over it.

pub mod commands;
pub mod notify;
pub mod view;

use crate::events::EventHub;
use crate::ui_event::UiEvent;
use clinicall_client_core::cache::AccountCache;
use clinicall_client_core::chat::{ChatEvent, ChatFeed, ChatHandle, ChatSync, ChatSyncConfig};
use clinicall_client_core::signaling::{AttachmentClient, AuthSession, SignalingClient};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Called with each message worth an OS notification.
pub type OnMessage = Arc<dyn Fn(&notify::Arrival) + Send + Sync>;

/// The chat of one signed-in connection.
pub struct ChatSession {
    /// Sends, reads and marks; its cache answers the window's reads.
    pub handle: ChatHandle,
    /// Attachment uploads and downloads with the login's token.
    pub files: AttachmentClient,
    /// The signed-in user.
    pub me: clinicall_protocol::UserId,
    forwarder: JoinHandle<()>,
}

impl ChatSession {
    /// Starts the sync engine over `client` on the account's `cache`.
    /// Returns the session and the feed the call driver must be started
    /// with (`CallDriver::start_with_feeds`).
    pub fn start(
        client: SignalingClient,
        auth: Arc<AuthSession>,
        cache: Arc<AccountCache>,
        hub: Arc<EventHub>,
        on_message: OnMessage,
    ) -> Result<(ChatSession, ChatFeed), String> {
        let me = cache.me();
        let files = AttachmentClient::new(auth).map_err(|e| e.to_string())?;
        let (handle, feed, events) = ChatSync::start(client, cache, ChatSyncConfig::default());
        let forwarder = tokio::spawn(forward(events, handle.clone(), me, hub, on_message));
        Ok((
            ChatSession {
                handle,
                files,
                me,
                forwarder,
            },
            feed,
        ))
    }

    /// Stops the engine (the outbox stays in the cache for next time) and
    /// lets go of the cache, for [`AccountStore::close`](crate::account::AccountStore::close).
    pub async fn stop(self) {
        let ChatSession {
            handle, forwarder, ..
        } = self;
        handle.shutdown().await;
        // The forwarder ends with the engine's event stream; its clone of
        // the handle (and so of the cache) goes with it.
        let _ = forwarder.await;
    }
}

/// Tells the window what the engine reports, with the conversation list
/// read afresh when it changed (the window shows it as it is pushed).
async fn forward(
    mut events: mpsc::Receiver<ChatEvent>,
    handle: ChatHandle,
    me: clinicall_protocol::UserId,
    hub: Arc<EventHub>,
    on_message: OnMessage,
) {
    let mut watch = notify::UnreadWatch::default();
    let mut push = async || push_conversations(&handle, me, &hub, &mut watch, &on_message).await;
    // The first list: what the cache held before anything synced.
    push().await;
    while let Some(event) = events.recv().await {
        match event {
            ChatEvent::Conversations => push().await,
            // The engine follows each with `Conversations` (unread counts
            // and last messages move with the thread).
            ChatEvent::Thread { conversation_id } => {
                hub.send(UiEvent::ChatThread { conversation_id });
            }
            // Our own other devices' typing is not news to us.
            ChatEvent::Typing {
                conversation_id,
                user_id,
                typing,
            } if user_id != me => {
                hub.send(UiEvent::ChatTyping {
                    conversation_id,
                    user_id,
                    typing,
                });
            }
            ChatEvent::Status { online, pending } => {
                hub.send(UiEvent::ChatStatus { online, pending });
            }
            // Newer engines may report more; the window needs none of it.
            _ => {}
        }
    }
}

/// Sends the window the conversation list, and notifies of what is new.
async fn push_conversations(
    handle: &ChatHandle,
    me: clinicall_protocol::UserId,
    hub: &EventHub,
    watch: &mut notify::UnreadWatch,
    on_message: &OnMessage,
) {
    match handle.cache().conversations().await {
        Ok(views) => {
            let conversations = view::conversation_list(views, me);
            for arrival in watch.update(&conversations) {
                on_message(&arrival);
            }
            hub.send(UiEvent::ChatConversations { conversations });
        }
        Err(e) => tracing::warn!(error = %e, "could not read the conversation list"),
    }
}
