//! What the call driver hands the chat engine from the signaling stream.

use clinicall_protocol::ServerMessage;
use tokio::sync::mpsc;

/// One item of the chat part of the signaling stream.
#[derive(Debug)]
pub(crate) enum FeedItem {
    /// `welcome`: the engine syncs.
    Connected,
    /// The socket dropped; the engine waits for the next `Connected`.
    Disconnected,
    /// A chat push (`chat_message`, `chat_read`, `chat_typing`).
    Push(ServerMessage),
    /// The signaling client has stopped for good.
    Closed,
}

/// The driver's end of the chat engine's input.
///
/// **Unbounded on purpose.** The driver must never wait for the engine:
/// while the engine waits for a reply to its own request, a full channel
/// would stop the driver reading the signaling stream, and with it the
/// socket the reply comes on. What piles up is bounded by the server's
/// rate limit.
#[derive(Clone, Debug)]
pub struct ChatFeed {
    tx: mpsc::UnboundedSender<FeedItem>,
}

impl ChatFeed {
    pub(crate) fn new() -> (Self, mpsc::UnboundedReceiver<FeedItem>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }

    /// The server said `welcome` (new or resumed session).
    pub fn connected(&self) {
        self.push_item(FeedItem::Connected);
    }

    /// The socket dropped.
    pub fn disconnected(&self) {
        self.push_item(FeedItem::Disconnected);
    }

    /// The signaling client stopped (sign-out, shutdown).
    pub fn closed(&self) {
        self.push_item(FeedItem::Closed);
    }

    /// Offers a server message; returns it back if it is not for chat.
    pub fn offer(&self, msg: ServerMessage) -> Option<ServerMessage> {
        match msg {
            ServerMessage::ChatMessage { .. }
            | ServerMessage::ChatRead { .. }
            | ServerMessage::ChatTyping { .. }
            | ServerMessage::ChatConversation { .. } => {
                self.push_item(FeedItem::Push(msg));
                None
            }
            other => Some(other),
        }
    }

    fn push_item(&self, item: FeedItem) {
        // The engine stopped (shut down): nothing needs the news.
        let _ = self.tx.send(item);
    }
}
