//! What the call driver hands the sync engines (chat, appointments) from
//! the signaling stream: the connection's news to every engine, and each
//! push to the engine that takes it.

use clinicall_protocol::ServerMessage;
use tokio::sync::mpsc;

/// One item of an engine's part of the signaling stream.
#[derive(Debug)]
pub(crate) enum FeedItem {
    /// `welcome`: the engine syncs. `resumed`: the server kept the
    /// earlier session (and what it knew of it, such as a waiting room).
    Connected { resumed: bool },
    /// The socket dropped; the engine waits for the next `Connected`.
    Disconnected,
    /// A push the engine takes (see [`EngineFeed::offer`]).
    Push(Box<ServerMessage>),
    /// A copy of a message the engine watches but leaves to the driver
    /// (see [`EngineFeed::offer`]).
    Seen(Box<ServerMessage>),
    /// The signaling client has stopped for good.
    Closed,
}

/// The driver's end of one sync engine's input. Each engine makes its
/// own with the pushes it takes; the driver offers every server message to
/// its feeds in turn.
///
/// **Unbounded on purpose.** The driver must never wait for an engine:
/// while the engine waits for a reply to its own request, a full channel
/// would stop the driver reading the signaling stream, and with it the
/// socket the reply comes on. What piles up is bounded by the server's
/// rate limit.
#[derive(Clone, Debug)]
pub struct EngineFeed {
    tx: mpsc::UnboundedSender<FeedItem>,
    takes: fn(&ServerMessage) -> bool,
    watches: fn(&ServerMessage) -> bool,
}

impl EngineFeed {
    /// A feed for an engine that takes the pushes `takes` accepts.
    pub(crate) fn new(
        takes: fn(&ServerMessage) -> bool,
    ) -> (Self, mpsc::UnboundedReceiver<FeedItem>) {
        Self::watching(takes, |_| false)
    }

    /// A feed for an engine that takes the pushes `takes` accepts and
    /// also sees a copy of the messages `watches` accepts, which stay
    /// with the driver (the appointments engine watches `call_incoming`
    /// to end a wait in the waiting room).
    pub(crate) fn watching(
        takes: fn(&ServerMessage) -> bool,
        watches: fn(&ServerMessage) -> bool,
    ) -> (Self, mpsc::UnboundedReceiver<FeedItem>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx, takes, watches }, rx)
    }

    /// The server said `welcome`: a new session, or the earlier one
    /// `resumed`.
    pub fn connected(&self, resumed: bool) {
        self.push_item(FeedItem::Connected { resumed });
    }

    /// The socket dropped.
    pub fn disconnected(&self) {
        self.push_item(FeedItem::Disconnected);
    }

    /// The signaling client stopped (sign-out, shutdown).
    pub fn closed(&self) {
        self.push_item(FeedItem::Closed);
    }

    /// Offers a server message; returns it back if the engine does not
    /// take it (after keeping a copy if it watches it).
    pub fn offer(&self, msg: ServerMessage) -> Option<ServerMessage> {
        if (self.takes)(&msg) {
            self.push_item(FeedItem::Push(Box::new(msg)));
            None
        } else {
            if (self.watches)(&msg) {
                self.push_item(FeedItem::Seen(Box::new(msg.clone())));
            }
            Some(msg)
        }
    }

    fn push_item(&self, item: FeedItem) {
        // The engine stopped (shut down): nothing needs the news.
        let _ = self.tx.send(item);
    }
}
