//! The signaling client's public handle. The connection itself runs in one
//! background task (`task.rs`); the handle talks to it over a channel.
//!
//! **No outgoing queue.** [`SignalingClient::send`] fails fast with
//! [`Error::NotConnected`] while the socket is down. Call signaling is
//! stateful and time-bound: an offer queued across a reconnect that turns
//! out to be a *new* session would name a call the server has forgotten,
//! and a hangup replayed seconds late could end the next call. The call
//! driver (`crate::driver`) keeps what the call machine asked to send
//! while the socket was down and sends it only if the session *resumes*;
//! on a new session it drops it. (Chat will get a durable outbox of its
//! own.)
//! Incoming messages need no client queue: the server buffers them during
//! the resume grace and replays them.

use super::auth::AuthSession;
use super::backoff::{BASE_DELAY, MAX_DELAY};
use super::task::{Command, Task};
use super::{Error, SignalingEvent, endpoint};
use clinicall_protocol::{ClientEnvelope, ClientMessage, ServerEnvelope};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Settings of a [`SignalingClient`]. [`ClientConfig::new`] has the
/// production defaults; tests shorten the timers.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Server base URL, for example `https://clinic.example`.
    pub server: String,
    /// Allow clear-text `ws://` to a non-loopback host.
    pub allow_insecure: bool,
    /// How often to send a WebSocket ping. The server answers each with a
    /// pong, so a live server is never silent for much longer than this.
    pub ping_interval: Duration,
    /// A connection on which nothing (frame, ping or pong) arrived for
    /// this long is treated as dead and replaced.
    pub dead_after: Duration,
    /// Limit for TCP connect, upgrade and `hello`/`welcome`.
    pub connect_timeout: Duration,
    /// How long [`SignalingClient::request`] waits for its reply.
    pub request_timeout: Duration,
    /// First reconnect window (see [`super::backoff`]).
    pub backoff_base: Duration,
    /// Largest reconnect window.
    pub backoff_cap: Duration,
    /// Capacity of the event channel. A full channel pauses reading from
    /// the socket (the server then buffers, and drops us if it must; we
    /// resume).
    pub event_capacity: usize,
}

impl ClientConfig {
    /// Defaults for the server at `server`.
    pub fn new(server: impl Into<String>) -> Self {
        Self {
            server: server.into(),
            allow_insecure: false,
            ping_interval: Duration::from_secs(10),
            dead_after: Duration::from_secs(25),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            backoff_base: BASE_DELAY,
            backoff_cap: MAX_DELAY,
            event_capacity: 256,
        }
    }
}

/// A handle on the signaling connection. Cheap to clone; every clone
/// drives the same connection. The connection stops on
/// [`shutdown`](Self::shutdown), on sign-out, or when every handle is
/// dropped.
#[derive(Clone, Debug)]
pub struct SignalingClient {
    commands: mpsc::Sender<Command>,
    task: Arc<tokio::sync::Mutex<Option<JoinHandle<()>>>>,
    request_timeout: Duration,
}

impl SignalingClient {
    /// Checks the URL (refusing clear text to a remote host before any
    /// socket is opened) and starts connecting in the background. Progress
    /// is reported on the returned event stream, starting with
    /// `Connected` or `Reconnecting`. Must be called inside a tokio runtime.
    pub fn start(
        config: ClientConfig,
        auth: Arc<AuthSession>,
    ) -> Result<(Self, mpsc::Receiver<SignalingEvent>), Error> {
        let base = endpoint::parse_base(&config.server, config.allow_insecure)?;
        let ws_url = endpoint::websocket_url(&base, config.allow_insecure)?;
        let (commands_tx, commands_rx) = mpsc::channel(64);
        let (events_tx, events_rx) = mpsc::channel(config.event_capacity.max(1));
        let request_timeout = config.request_timeout;
        let task = Task::new(config, ws_url, auth, commands_rx, events_tx);
        let handle = tokio::spawn(task.run());
        let client = Self {
            commands: commands_tx,
            task: Arc::new(tokio::sync::Mutex::new(Some(handle))),
            request_timeout,
        };
        Ok((client, events_rx))
    }

    /// Sends a message on the live connection. `Ok` means it was written
    /// to the socket, not that the server processed it. Fails with
    /// [`Error::NotConnected`] while disconnected (nothing is queued; see
    /// the module docs).
    pub async fn send(&self, msg: ClientMessage) -> Result<(), Error> {
        check(&msg)?;
        let (reply, answer) = oneshot::channel();
        self.command(Command::Send { msg, reply }).await?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Sends a message with a fresh `req` id and waits for the frame that
    /// echoes it (the reply, or an `error`). That frame goes to the caller,
    /// not to the event stream. A reply lost to a dropped socket still
    /// arrives after a resume; a new session fails the request with
    /// [`Error::SessionLost`]. Messages without a reply (`signal`) would
    /// wait for the timeout: use [`send`](Self::send) for those.
    pub async fn request(&self, msg: ClientMessage) -> Result<ServerEnvelope, Error> {
        check(&msg)?;
        let (reply, answer) = oneshot::channel();
        self.command(Command::Request { msg, reply }).await?;
        match tokio::time::timeout(self.request_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::Closed),
            Err(_) => Err(Error::Timeout),
        }
    }

    /// Closes the connection cleanly (close frame), stops reconnecting and
    /// waits for the background task to end; every socket is released when
    /// this returns. The event stream ends with `Closed`. Idempotent.
    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown).await;
        let handle = self.task.lock().await.take();
        if let Some(handle) = handle
            && let Err(e) = handle.await
        {
            tracing::error!(error = %e, "signaling task failed");
        }
    }

    /// Drops the TCP connection without a close frame, as a network failure
    /// would, and waits `pause` before reconnecting. For tests only.
    #[doc(hidden)]
    pub async fn drop_connection_for_test(&self, pause: Duration) {
        let _ = self.commands.send(Command::DropConnection { pause }).await;
    }

    async fn command(&self, command: Command) -> Result<(), Error> {
        self.commands.send(command).await.map_err(|_| Error::Closed)
    }
}

fn check(msg: &ClientMessage) -> Result<(), Error> {
    if matches!(msg, ClientMessage::Hello { .. }) {
        return Err(Error::HelloNotAllowed);
    }
    ClientEnvelope::new(msg.clone()).validate()?;
    Ok(())
}
