//! The chat engine's task: sync on connect, drain the outbox, store pushes,
//! fill holes. See the module docs of [`crate::chat`].

use super::ChatFeed;
use super::handle::{ChatError, ChatEvent, ChatHandle};
use super::pacer::Pacer;
use crate::cache::{CacheError, ChatCache, OutboxItem};
use crate::feed::FeedItem;
use crate::protocol::chat::MAX_FETCH;
use crate::protocol::{ClientMessage, ConversationId, ServerMessage};
use crate::signaling::SignalingClient;
use crate::timer::sleep_until;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc};
use tokio::time::Instant;

/// Capacity of the [`ChatEvent`] channel; a full one pauses the engine
/// (never the driver: see [`ChatFeed`]).
const EVENT_CAPACITY: usize = 256;

/// Settings of a [`ChatSync`] engine.
#[derive(Clone, Debug)]
pub struct ChatSyncConfig {
    /// Most requests a second while syncing or draining the outbox. Stays
    /// under the server's per-connection limit (50 by default), leaving
    /// room for the calls and the user's own typing indicators.
    pub sends_per_second: u32,
    /// How long to wait before trying again after a failure that may pass
    /// (a timeout, a busy server), when no reconnect comes first.
    pub retry_after: Duration,
}

impl Default for ChatSyncConfig {
    fn default() -> Self {
        Self {
            sends_per_second: 40,
            retry_after: Duration::from_secs(2),
        }
    }
}

/// What the handle tells the engine.
#[derive(Debug)]
pub(super) enum Command {
    /// A message entered the outbox.
    Enqueued(ConversationId),
    /// A conversation summary was stored (`chat_open`).
    Opened(ConversationId),
    /// The user read a conversation.
    Read(ConversationId),
    /// Older history was fetched into the cache.
    Fetched(ConversationId),
    /// Stop.
    Shutdown,
}

/// Starts chat engines.
#[derive(Debug)]
pub struct ChatSync;

impl ChatSync {
    /// Spawns the engine over `cache` and the signaling `client`. Give the
    /// returned [`ChatFeed`] to
    /// [`CallDriver::start_with_chat`](crate::driver::CallDriver::start_with_chat)
    /// over the same client, which feeds it the connection's news. Must be
    /// called inside a tokio runtime.
    pub fn start(
        client: SignalingClient,
        cache: Arc<ChatCache>,
        config: ChatSyncConfig,
    ) -> (ChatHandle, ChatFeed, mpsc::Receiver<ChatEvent>) {
        let (feed, feed_rx) = ChatFeed::new(is_chat_push);
        let (commands_tx, commands_rx) = mpsc::channel(64);
        let (events_tx, events_rx) = mpsc::channel(EVENT_CAPACITY);
        let engine = Engine {
            client: client.clone(),
            cache: Arc::clone(&cache),
            pacer: Pacer::new(config.sends_per_second),
            config,
            feed: feed_rx,
            commands: commands_rx,
            events: events_tx,
            online: false,
            sync_due: false,
            drain_due: false,
            retry_at: None,
            summarized: HashSet::new(),
        };
        let handle = ChatHandle {
            client,
            cache,
            commands: commands_tx,
            task: Arc::new(Mutex::new(Some(tokio::spawn(engine.run())))),
        };
        (handle, feed, events_rx)
    }
}

/// The pushes the chat engine takes from the driver.
fn is_chat_push(msg: &ServerMessage) -> bool {
    matches!(
        msg,
        ServerMessage::ChatMessage { .. }
            | ServerMessage::ChatRead { .. }
            | ServerMessage::ChatTyping { .. }
            | ServerMessage::ChatConversation { .. }
    )
}

/// Sends `msg` and waits for its reply; an `error` reply becomes
/// [`ChatError::Refused`].
pub(super) async fn ask(
    client: &SignalingClient,
    msg: ClientMessage,
) -> Result<ServerMessage, ChatError> {
    match client.request(msg).await?.msg {
        ServerMessage::Error { code, message, .. } => Err(ChatError::Refused { code, message }),
        reply => Ok(reply),
    }
}

struct Engine {
    client: SignalingClient,
    cache: Arc<ChatCache>,
    config: ChatSyncConfig,
    pacer: Pacer,
    feed: mpsc::UnboundedReceiver<FeedItem>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<ChatEvent>,
    /// Between `Connected` and `Disconnected`.
    online: bool,
    /// A connect happened (or a push named a conversation without a
    /// summary): list, catch up, drain.
    sync_due: bool,
    /// The outbox may hold something to send.
    drain_due: bool,
    /// After a failure, no work before this (a reconnect clears it).
    retry_at: Option<Instant>,
    /// Conversations whose summary (peer, counts) the cache holds.
    summarized: HashSet<ConversationId>,
}

impl Engine {
    async fn run(mut self) {
        match self.cache.conversations().await {
            Ok(list) => {
                self.summarized = list
                    .into_iter()
                    .filter(|c| c.peer.is_some())
                    .map(|c| c.id)
                    .collect();
            }
            Err(e) => tracing::error!(error = %e, "chat cache unreadable"),
        }
        self.emit_status().await;
        loop {
            if self.online && self.retry_at.is_none() {
                self.work().await;
            }
            tokio::select! {
                item = self.feed.recv() => match item {
                    Some(FeedItem::Connected { .. }) => {
                        self.online = true;
                        self.sync_due = true;
                        self.retry_at = None;
                        self.emit_status().await;
                    }
                    Some(FeedItem::Disconnected) => {
                        self.online = false;
                        self.emit_status().await;
                    }
                    Some(FeedItem::Push(msg)) => {
                        if let Err(e) = self.on_push(*msg).await {
                            self.failed("push", e);
                        }
                    }
                    // The chat feed watches nothing.
                    Some(FeedItem::Seen(_)) => {}
                    Some(FeedItem::Closed) | None => break,
                },
                command = self.commands.recv() => match command {
                    Some(Command::Enqueued(conversation_id)) => {
                        self.drain_due = true;
                        self.emit_changed(conversation_id).await;
                        self.emit_status().await;
                    }
                    Some(Command::Opened(conversation_id)) => {
                        self.summarized.insert(conversation_id);
                        self.emit(ChatEvent::Conversations).await;
                    }
                    Some(Command::Read(conversation_id) | Command::Fetched(conversation_id)) => {
                        self.emit_changed(conversation_id).await;
                    }
                    Some(Command::Shutdown) | None => break,
                },
                () = sleep_until(self.retry_at), if self.retry_at.is_some() => {
                    self.retry_at = None;
                }
            }
        }
        self.online = false;
        self.emit_status().await;
    }

    /// The sync and the outbox, as far as they are due.
    async fn work(&mut self) {
        if self.sync_due {
            match self.sync().await {
                Ok(()) => {
                    self.sync_due = false;
                    self.drain_due = true;
                }
                Err(e) => return self.failed("sync", e),
            }
        }
        if self.drain_due {
            match self.drain().await {
                Ok(()) => self.drain_due = false,
                Err(e) => self.failed("outbox", e),
            }
        }
    }

    fn failed(&mut self, what: &str, error: ChatError) {
        if error.is_transient() {
            tracing::info!(%error, "chat {what} interrupted; trying again later");
        } else {
            tracing::error!(%error, "chat {what} failed; trying again later");
        }
        // Anything may have been missed: catch up from the cursors.
        self.sync_due = true;
        self.retry_at = Some(Instant::now() + self.config.retry_after);
    }

    /// Lists the conversations, sends read marks the server lacks, and
    /// fetches every conversation up to its `last_seq`.
    async fn sync(&mut self) -> Result<(), ChatError> {
        let ServerMessage::ChatConversations { conversations } =
            self.ask(ClientMessage::ChatList).await?
        else {
            return Err(ChatError::UnexpectedReply("expected chat_conversations"));
        };
        let local_reads: HashMap<ConversationId, u64> = self
            .cache
            .conversations()
            .await?
            .into_iter()
            .map(|c| (c.id, c.read_seq))
            .collect();
        // Reads made offline (or lost with a socket): the server counts
        // unread messages from what it was told.
        let reads: Vec<ClientMessage> = conversations
            .iter()
            .filter_map(|c| {
                let local = *local_reads.get(&c.id)?;
                (local > c.read_seq).then_some(ClientMessage::ChatRead {
                    conversation_id: c.id,
                    up_to_seq: local,
                })
            })
            .collect();
        self.summarized.extend(conversations.iter().map(|c| c.id));
        self.cache.upsert_conversations(conversations).await?;
        for read in reads {
            self.pace().await;
            self.client.send(read).await?;
        }
        self.emit(ChatEvent::Conversations).await;
        for cursor in self.cache.sync_cursors().await? {
            if cursor.needs_fetch() {
                self.fetch_after(cursor.conversation_id, cursor.contiguous_seq)
                    .await?;
            }
        }
        Ok(())
    }

    /// Fetches everything after `after` in pages until the server has no
    /// more.
    async fn fetch_after(
        &mut self,
        conversation_id: ConversationId,
        mut after: u64,
    ) -> Result<(), ChatError> {
        loop {
            let fetch = ClientMessage::ChatFetch {
                conversation_id,
                after_seq: Some(after),
                before_seq: None,
                limit: MAX_FETCH,
            };
            let ServerMessage::ChatMessages { messages, more, .. } = self.ask(fetch).await? else {
                return Err(ChatError::UnexpectedReply("expected chat_messages"));
            };
            let top = messages.iter().map(|m| m.seq).max();
            let outcome = self.cache.apply_messages(messages).await?;
            if outcome.inserted + outcome.confirmed > 0 {
                self.emit_changed(conversation_id).await;
            }
            match top {
                Some(top) if more && top > after => after = top,
                _ => return Ok(()),
            }
        }
    }

    /// Sends the outbox, oldest first, each until acked or refused for
    /// good.
    async fn drain(&mut self) -> Result<(), ChatError> {
        loop {
            // Re-read each round: the user may add while we send.
            let outbox = self.cache.outbox().await?;
            if outbox.is_empty() {
                return Ok(());
            }
            for item in outbox {
                self.send_one(item).await?;
            }
            self.emit_status().await;
        }
    }

    async fn send_one(&mut self, item: OutboxItem) -> Result<(), ChatError> {
        let conversation_id = item.conversation_id;
        let send = ClientMessage::ChatSend {
            conversation_id,
            id: item.id,
            body: item.body,
            attachments: item.attachments,
        };
        match self.ask(send).await {
            Ok(ServerMessage::ChatAck {
                id,
                seq,
                sent_at_ms,
                ..
            }) => {
                let cursor = match self.cache.ack(id, seq, sent_at_ms).await {
                    Ok(cursor) => cursor,
                    // Echoed and confirmed while we waited? Then a fetch
                    // already holds it; anything else is a cache the
                    // server disagrees with, which a sync repairs.
                    Err(CacheError::SeqConflict { .. }) => {
                        self.sync_due = true;
                        self.cache.sync_cursor(conversation_id).await?
                    }
                    Err(e) => return Err(e.into()),
                };
                if cursor.needs_fetch() {
                    self.fetch_after(conversation_id, cursor.contiguous_seq)
                        .await?;
                }
            }
            Ok(_) => return Err(ChatError::UnexpectedReply("expected chat_ack")),
            Err(e @ ChatError::Refused { .. }) if !e.is_transient() => {
                tracing::warn!(error = %e, id = %item.id, "the server refused a message for good");
                self.cache.refuse(item.id, e.to_string()).await?;
            }
            Err(e) => return Err(e),
        }
        self.emit_changed(conversation_id).await;
        Ok(())
    }

    async fn on_push(&mut self, msg: ServerMessage) -> Result<(), ChatError> {
        match msg {
            ServerMessage::ChatMessage { message } => {
                let conversation_id = message.conversation_id;
                let outcome = self.cache.apply_messages(vec![message]).await?;
                if !self.summarized.contains(&conversation_id) {
                    // A conversation the other party just started: its
                    // summary (who, counts) comes with the list.
                    self.sync_due = true;
                }
                if outcome.inserted + outcome.confirmed > 0 {
                    self.emit_changed(conversation_id).await;
                }
                for cursor in outcome.cursors {
                    if cursor.needs_fetch() && self.online {
                        self.fetch_after(cursor.conversation_id, cursor.contiguous_seq)
                            .await?;
                    }
                }
            }
            ServerMessage::ChatRead {
                conversation_id,
                reader,
                up_to_seq,
            } => {
                self.cache
                    .apply_read(conversation_id, reader, up_to_seq)
                    .await?;
                self.emit_changed(conversation_id).await;
            }
            ServerMessage::ChatTyping {
                conversation_id,
                user_id,
                typing,
            } => {
                self.emit(ChatEvent::Typing {
                    conversation_id,
                    user_id,
                    typing,
                })
                .await;
            }
            ServerMessage::ChatConversation { conversation } => {
                self.summarized.insert(conversation.id);
                self.cache.upsert_conversations(vec![conversation]).await?;
                self.emit(ChatEvent::Conversations).await;
            }
            other => tracing::debug!(?other, "not a chat push"),
        }
        Ok(())
    }

    /// A paced request.
    async fn ask(&mut self, msg: ClientMessage) -> Result<ServerMessage, ChatError> {
        self.pace().await;
        ask(&self.client, msg).await
    }

    async fn pace(&mut self) {
        let wait = self.pacer.claim(std::time::Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    async fn emit_changed(&mut self, conversation_id: ConversationId) {
        self.emit(ChatEvent::Thread { conversation_id }).await;
        self.emit(ChatEvent::Conversations).await;
    }

    async fn emit_status(&mut self) {
        let pending = match self.cache.outbox_len().await {
            Ok(pending) => pending,
            Err(e) => {
                tracing::warn!(error = %e, "could not count the outbox");
                0
            }
        };
        self.emit(ChatEvent::Status {
            online: self.online,
            pending,
        })
        .await;
    }

    async fn emit(&mut self, event: ChatEvent) {
        // Nobody listens any more: that is the app's right.
        let _ = self.events.send(event).await;
    }
}
