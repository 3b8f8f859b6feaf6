//! Chat in the shell: for each sign-in, the encrypted chat cache, the
//! client core's sync engine over the signaling connection, attachment
//! transfers, and the task that tells the window what changed.
//!
//! - [`view`]: what the window is shown (serializable, pure mappings);
//! - [`commands`]: the chat commands the window invokes;
//! - [`notify`]: which new messages get an OS notification.
//!
//! The cache lives in `<app data dir>/chat/<user id>` and its key in the
//! OS keychain beside the sign-in. Without a keychain (or with one that
//! does not answer) chat is unavailable for the session; calls still work.

pub mod commands;
pub mod notify;
pub mod view;

use crate::events::EventHub;
use crate::ui_event::UiEvent;
use clinicall_client_core::cache::{CacheConfig, ChatCache, KeySource, KeychainKeySource};
use clinicall_client_core::chat::{ChatEvent, ChatFeed, ChatHandle, ChatSync, ChatSyncConfig};
use clinicall_client_core::signaling::{AttachmentClient, AuthSession, SignalingClient};
use clinicall_protocol::rest::Account;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long opening the cache may take. The keychain is asked for the
/// key, and a keychain that wants to show an unlock prompt nobody answers
/// would otherwise hold up the sign-in (and the calls) for good.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Called with each message worth an OS notification.
pub type OnMessage = Arc<dyn Fn(&notify::Arrival) + Send + Sync>;

/// The cache folder of `user` under the app's data folder.
pub fn cache_dir(data_dir: &Path, user: clinicall_protocol::UserId) -> PathBuf {
    data_dir.join("chat").join(user.to_string())
}

/// The chat of one signed-in connection.
pub struct ChatSession {
    /// Sends, reads and marks; its cache answers the window's reads.
    pub handle: ChatHandle,
    /// Attachment uploads and downloads with the login's token.
    pub files: AttachmentClient,
    /// The signed-in user.
    pub me: clinicall_protocol::UserId,
    keys: Arc<dyn KeySource>,
    forwarder: JoinHandle<()>,
}

impl ChatSession {
    /// Opens `account`'s cache and starts the sync engine over `client`.
    /// Returns the session and the feed the call driver must be started
    /// with (`CallDriver::start_with_chat`).
    pub async fn start(
        server: &str,
        client: SignalingClient,
        auth: Arc<AuthSession>,
        account: &Account,
        data_dir: &Path,
        hub: Arc<EventHub>,
        on_message: OnMessage,
    ) -> Result<(ChatSession, ChatFeed), String> {
        let keys: Arc<dyn KeySource> =
            Arc::new(KeychainKeySource::new(server, &account.email).map_err(|e| e.to_string())?);
        let config = CacheConfig::new(cache_dir(data_dir, account.id), account.id);
        let cache = tokio::time::timeout(OPEN_TIMEOUT, ChatCache::open(config, keys.clone()))
            .await
            .map_err(|_| "the keychain did not answer in time".to_owned())?
            .map_err(|e| e.to_string())?;
        let files = AttachmentClient::new(auth).map_err(|e| e.to_string())?;
        let (handle, feed, events) =
            ChatSync::start(client, Arc::new(cache), ChatSyncConfig::default());
        let forwarder = tokio::spawn(forward(events, handle.clone(), account.id, hub, on_message));
        Ok((
            ChatSession {
                handle,
                files,
                me: account.id,
                keys,
                forwarder,
            },
            feed,
        ))
    }

    /// Stops the engine (the outbox stays in the cache for next time) and,
    /// with `erase`, deletes the cache and its key from this computer.
    pub async fn stop(self, erase: bool) -> Result<(), String> {
        let ChatSession {
            handle,
            files,
            keys,
            forwarder,
            ..
        } = self;
        handle.shutdown().await;
        // The forwarder ends with the engine's event stream; its clone of
        // the handle (and so of the cache) goes with it.
        let _ = forwarder.await;
        let cache = handle.cache().clone();
        drop((handle, files));
        let cache = sole_owner(cache).await?;
        if erase {
            let dir = cache.dir().to_owned();
            cache.wipe(keys).await.map_err(|e| e.to_string())?;
            // The wipe leaves the emptied folder, named by the user's id.
            if let Err(e) = tokio::fs::remove_dir(&dir).await {
                tracing::debug!(error = %e, "empty chat folder left");
            }
            Ok(())
        } else {
            cache.close().await.map_err(|e| e.to_string())
        }
    }
}

/// How long closing waits for commands still reading the cache (a thread
/// or search read, an attachment) to finish with it.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);

/// The cache, once nothing else holds it. Commands in flight when the
/// user signed out hold a clone for a moment; nothing signals when a clone
/// is dropped, so this looks again every 20 ms.
async fn sole_owner(mut cache: Arc<ChatCache>) -> Result<ChatCache, String> {
    let deadline = tokio::time::Instant::now() + RELEASE_TIMEOUT;
    loop {
        match Arc::try_unwrap(cache) {
            Ok(cache) => return Ok(cache),
            Err(shared) if tokio::time::Instant::now() < deadline => {
                cache = shared;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => return Err("the chat history is still in use".to_owned()),
        }
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
