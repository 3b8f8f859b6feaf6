//! What the signaling client tells the app.

use clinicall_protocol::{Contact, IceServer, ServerEnvelope, SessionId, UserSummary};
use std::fmt;
use std::time::Duration;

/// An event from the signaling client, in the order things happened.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SignalingEvent {
    /// The server answered `hello` with `welcome`. With `resumed: false`
    /// the server holds no state from before (new session, maybe a
    /// restarted server): drop any call state.
    Connected {
        /// The session now in use.
        session_id: SessionId,
        /// Whether the earlier session continues; missed messages follow.
        resumed: bool,
        /// Who we are signed in as.
        user: UserSummary,
        /// The STUN/TURN servers the server gave for calls (credentials
        /// may be short-lived: use the latest).
        ice_servers: Vec<IceServer>,
    },
    /// A server message, each exactly once per session (replays are
    /// deduplicated). Replies to [`request`](super::SignalingClient::request)
    /// go to the requester instead, unless it gave up waiting. Boxed: some
    /// messages (`appointment_changed`) are far larger than the other
    /// events.
    Message(Box<ServerEnvelope>),
    /// The complete contact list with presence, after every `Connected`
    /// (pages already joined). Later changes arrive as `presence` messages.
    PresenceSnapshot(Vec<Contact>),
    /// An established connection ended. The client reconnects by itself.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
    },
    /// Waiting `delay` before connection attempt number `attempt` (from 1,
    /// reset by each successful connection).
    Reconnecting {
        /// Attempt number since the last successful connection.
        attempt: u32,
        /// How long until it starts.
        delay: Duration,
    },
    /// The login is over: the server closed with 4001 (logout, or a
    /// replayed refresh token), or refused the credentials and the refresh.
    /// The client stops; sign in again and start a new one. `Closed` follows.
    SignedOut,
    /// The client has stopped; the stream ends after this.
    Closed,
}

/// Why an established connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The server is shutting down or restarting (`reconnect` message,
    /// close code 1012).
    ServerRestarting,
    /// The server closed the connection with this code and reason.
    ClosedByServer {
        /// WebSocket close code.
        code: u16,
        /// Close reason text.
        reason: String,
    },
    /// The socket failed or ended without a close frame.
    ConnectionLost(String),
    /// Nothing arrived from the server (not even a pong) for too long.
    ServerSilent,
    /// Dropped on purpose by the test hook.
    DroppedForTest,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::ServerRestarting => f.write_str("server restarting"),
            DisconnectReason::ClosedByServer { code, reason } => {
                write!(f, "closed by server ({code}: {reason})")
            }
            DisconnectReason::ConnectionLost(why) => write!(f, "connection lost: {why}"),
            DisconnectReason::ServerSilent => f.write_str("server silent"),
            DisconnectReason::DroppedForTest => f.write_str("dropped for test"),
        }
    }
}
