//! Chat for the headless client: `--say` sends a message to the callee
//! before dialling, `--reply` answers every message that arrives while it
//! runs. Each message in or out is a JSON line.
//!
//! The headless client keeps no history: its chat cache lives in a
//! temporary folder for the run, under a key held in memory.

use crate::print;
use clinicall_client_core::cache::{CacheConfig, ChatCache, MemoryKeySource, MessageState};
use clinicall_client_core::chat::{ChatEvent, ChatFeed, ChatHandle, ChatSync, ChatSyncConfig};
use clinicall_client_core::signaling::SignalingClient;
use clinicall_protocol::{ConversationId, MessageId, UserId};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Newest messages looked at when a thread changes.
const RECENT: u32 = 50;

/// The run's chat.
pub struct Chat {
    handle: ChatHandle,
    me: UserId,
    reply: Option<String>,
    /// Messages stored before this (server time) are history, not news.
    since_ms: i64,
    /// Highest seq reported per conversation.
    reported: HashMap<ConversationId, u64>,
    /// Our own messages not yet reported as sent.
    unsent: Vec<MessageId>,
    _dir: tempfile::TempDir,
}

impl Chat {
    /// Opens a throwaway cache and starts the sync engine over `client`.
    /// Give the feed to the call driver.
    pub async fn start(
        client: SignalingClient,
        me: UserId,
        reply: Option<String>,
    ) -> anyhow::Result<(Chat, ChatFeed, mpsc::Receiver<ChatEvent>)> {
        let dir = tempfile::tempdir()?;
        let cache = ChatCache::open(
            CacheConfig::new(dir.path().join("chat"), me),
            Arc::new(MemoryKeySource::empty()),
        )
        .await?;
        let (handle, feed, events) =
            ChatSync::start(client, Arc::new(cache), ChatSyncConfig::default());
        let since_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let chat = Chat {
            handle,
            me,
            reply,
            since_ms,
            reported: HashMap::new(),
            unsent: Vec::new(),
            _dir: dir,
        };
        Ok((chat, feed, events))
    }

    /// Opens the conversation with `peer` and queues `text` (delivered
    /// once acked; a `chat_sent` line follows).
    pub async fn say(&mut self, peer: UserId, text: &str) -> anyhow::Result<()> {
        let conversation = self.handle.open(peer).await?;
        let id = self
            .handle
            .send(conversation, text.to_owned(), Vec::new())
            .await?;
        self.unsent.push(id);
        Ok(())
    }

    /// Reports what changed, and replies to news if asked to.
    pub async fn on_event(&mut self, event: ChatEvent) {
        if let ChatEvent::Thread { conversation_id } = event
            && let Err(e) = self.on_thread(conversation_id).await
        {
            tracing::warn!(error = %e, "chat update failed");
        }
    }

    async fn on_thread(&mut self, conversation: ConversationId) -> anyhow::Result<()> {
        let page = self
            .handle
            .cache()
            .messages_page(conversation, None, RECENT)
            .await?;
        let reported = self.reported.get(&conversation).copied().unwrap_or(0);
        let mut news = Vec::new();
        for message in page.messages.iter().rev() {
            let MessageState::Sent { seq, sent_at_ms } = message.state else {
                continue;
            };
            if let Some(at) = self.unsent.iter().position(|id| *id == message.id) {
                self.unsent.remove(at);
                print(json!({"event": "chat_sent", "conversation_id": conversation, "seq": seq}));
            }
            if seq > reported && message.sender != self.me && sent_at_ms >= self.since_ms {
                print(json!({
                    "event": "chat_message",
                    "conversation_id": conversation,
                    "seq": seq,
                    "from": message.sender,
                    "body": message.body,
                }));
                news.push(seq);
            }
        }
        let newest = page.messages.iter().filter_map(|m| m.seq()).max();
        if let Some(newest) = newest {
            self.reported.insert(conversation, newest.max(reported));
        }
        if let Some(&last) = news.last() {
            self.handle.mark_read(conversation, last).await?;
            if let Some(reply) = &self.reply {
                let id = self
                    .handle
                    .send(conversation, reply.clone(), Vec::new())
                    .await?;
                self.unsent.push(id);
            }
        }
        Ok(())
    }

    /// Stops the engine (queued messages stay unsent: the cache goes with
    /// the run) and closes the cache. Closing joins the cache's writer
    /// thread: left running, it could still be closing its SQLCipher
    /// connection while the process exits (and its crypto library is torn
    /// down under it), which crashed the process after its last line.
    pub async fn close(self) {
        let Chat { handle, _dir, .. } = self;
        handle.shutdown().await;
        let cache = Arc::clone(handle.cache());
        drop(handle);
        match Arc::try_unwrap(cache) {
            Ok(cache) => {
                if let Err(e) = cache.close().await {
                    tracing::warn!(error = %e, "the chat cache did not close cleanly");
                }
            }
            Err(_) => tracing::warn!("the chat cache is still in use at exit"),
        }
        // The folder goes after the connections that had it open.
        drop(_dir);
    }
}
