//! The background task behind a [`super::SignalingClient`]: connect, serve,
//! reconnect. Policy lives in [`Backoff`] and [`Session`]; this file only
//! moves frames, commands and timers between them and the socket.

use super::auth::AuthSession;
use super::backoff::Backoff;
use super::client::ClientConfig;
use super::handshake::{self, Refused, Ws};
use super::session::{Session, Update};
use super::{DisconnectReason, Error, SignalingEvent};
use clinicall_protocol::{ClientEnvelope, ClientMessage, ErrorCode, ServerEnvelope, ServerMessage};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use url::Url;

/// Close code the server uses when the login was signed out.
const CLOSE_SIGNED_OUT: u16 = 4001;
/// How long a clean close waits for the server's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// How long the final events may wait for a full event channel.
const FINAL_EVENT_WAIT: Duration = Duration::from_secs(1);

type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// What the handle asks of the task.
pub(super) enum Command {
    Send {
        msg: ClientMessage,
        reply: Reply<()>,
    },
    Request {
        msg: ClientMessage,
        reply: Reply<ServerEnvelope>,
    },
    Shutdown,
    DropConnection {
        pause: Duration,
    },
}

/// Why the task stops for good.
enum End {
    Shutdown,
    SignedOut,
}

/// How an established connection ended.
struct Lost {
    reason: DisconnectReason,
    /// Extra wait before reconnecting (test hook).
    pause: Duration,
}

impl Lost {
    fn because(reason: DisconnectReason) -> Self {
        Self {
            reason,
            pause: Duration::ZERO,
        }
    }
}

pub(super) struct Task {
    config: ClientConfig,
    ws_url: Url,
    auth: Arc<AuthSession>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<SignalingEvent>,
    session: Session,
    backoff: Backoff,
    pending: HashMap<String, Reply<ServerEnvelope>>,
    next_req: u64,
}

impl Task {
    pub(super) fn new(
        config: ClientConfig,
        ws_url: Url,
        auth: Arc<AuthSession>,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<SignalingEvent>,
    ) -> Self {
        let backoff = Backoff::new(config.backoff_base, config.backoff_cap);
        Self {
            config,
            ws_url,
            auth,
            commands,
            events,
            session: Session::new(),
            backoff,
            pending: HashMap::new(),
            next_req: 0,
        }
    }

    pub(super) async fn run(mut self) {
        let end = self.run_until_end().await;
        self.fail_pending(|| Error::Closed);
        if matches!(end, End::SignedOut) {
            self.session.forget();
            self.auth.forget();
            self.final_event(SignalingEvent::SignedOut).await;
        }
        self.final_event(SignalingEvent::Closed).await;
    }

    async fn run_until_end(&mut self) -> End {
        match self.reconnect_forever().await {
            Ok(never) => match never {},
            Err(end) => end,
        }
    }

    async fn reconnect_forever(&mut self) -> Result<std::convert::Infallible, End> {
        loop {
            match self.connect().await? {
                Ok((ws, welcome)) => {
                    let lost = self.serve(ws, welcome).await?;
                    tracing::info!(reason = %lost.reason, "signaling disconnected");
                    self.session.disconnected(Instant::now());
                    self.emit(SignalingEvent::Disconnected {
                        reason: lost.reason,
                    })
                    .await;
                    if !lost.pause.is_zero() {
                        offline(&mut self.commands, tokio::time::sleep(lost.pause)).await?;
                    }
                }
                Err(why) => {
                    tracing::debug!(error = %why, "signaling connection attempt failed");
                    self.session.disconnected(Instant::now());
                }
            }
            let delay = self.backoff.next_delay(rand::random());
            self.emit(SignalingEvent::Reconnecting {
                attempt: self.backoff.attempt(),
                delay,
            })
            .await;
            offline(&mut self.commands, tokio::time::sleep(delay)).await?;
        }
    }

    /// One connection attempt, refreshing the access token once if the
    /// server refuses it. The inner error is a reason to retry later.
    async fn connect(&mut self) -> Result<Result<(Ws, ServerEnvelope), String>, End> {
        let mut refreshed = false;
        loop {
            let auth = self.auth.clone();
            let token = match offline(&mut self.commands, async move { auth.access_token().await })
                .await?
            {
                Ok(token) => token,
                Err(e) if e.is_signed_out() => return Err(End::SignedOut),
                Err(e) => return Ok(Err(e.to_string())),
            };
            let hello = self.session.hello(Instant::now());
            let url = self.ws_url.clone();
            let limit = self.config.connect_timeout;
            let attempt = {
                let token = token.clone();
                async move { tokio::time::timeout(limit, handshake::open(&url, &token, hello)).await }
            };
            match offline(&mut self.commands, attempt).await? {
                Err(_) => return Ok(Err("handshake timed out".into())),
                Ok(Ok(opened)) => return Ok(Ok(opened)),
                Ok(Err(Refused::Other(why))) => return Ok(Err(why)),
                Ok(Err(Refused::Credentials(ErrorCode::SessionRevoked))) => {
                    return Err(End::SignedOut);
                }
                Ok(Err(Refused::Credentials(code))) if refreshed => {
                    tracing::warn!(code = code.as_str(), "fresh token refused too; signing out");
                    return Err(End::SignedOut);
                }
                Ok(Err(Refused::Credentials(code))) => {
                    tracing::info!(code = code.as_str(), "access token refused; refreshing");
                    let auth = self.auth.clone();
                    let refresh = async move { auth.refresh(Some(&token)).await };
                    match offline(&mut self.commands, refresh).await? {
                        Ok(_) => refreshed = true,
                        Err(e) if e.is_signed_out() => return Err(End::SignedOut),
                        Err(e) => return Ok(Err(e.to_string())),
                    }
                }
            }
        }
    }

    /// Runs an established connection until it ends.
    async fn serve(&mut self, ws: Ws, welcome: ServerEnvelope) -> Result<Lost, End> {
        let (mut sink, mut stream) = ws.split();
        self.deliver(welcome).await;
        let every = self.config.ping_interval;
        let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let mut last_heard = Instant::now();
        let mut going_away = false;
        loop {
            tokio::select! {
                frame = stream.next() => {
                    last_heard = Instant::now();
                    let frame = match frame {
                        Some(Ok(frame)) => frame,
                        Some(Err(e)) => return Ok(Lost::because(lost(going_away, e.to_string()))),
                        None => return Ok(Lost::because(lost(going_away, "socket ended".into()))),
                    };
                    match frame {
                        Message::Text(text) => {
                            match serde_json::from_str::<ServerEnvelope>(text.as_str()) {
                                Ok(env) => {
                                    if let ServerMessage::Reconnect { after_ms } = env.msg {
                                        self.backoff.set_server_hint(Duration::from_millis(after_ms));
                                        going_away = true;
                                    }
                                    self.deliver(env).await;
                                }
                                // Newer servers may send types we do not know.
                                Err(e) => tracing::debug!(error = %e, "ignoring unknown server frame"),
                            }
                        }
                        Message::Close(close) => return closed(going_away, close),
                        _ => {} // pings are answered by tungstenite; pongs just count as life
                    }
                }
                command = self.commands.recv() => match command {
                    None | Some(Command::Shutdown) => {
                        close_cleanly(sink, stream).await;
                        return Err(End::Shutdown);
                    }
                    Some(Command::DropConnection { pause }) => {
                        // Dropping both halves closes the TCP socket with no
                        // close frame.
                        return Ok(Lost { reason: DisconnectReason::DroppedForTest, pause });
                    }
                    Some(Command::Send { msg, reply }) => {
                        let result = write(&mut sink, &ClientEnvelope::new(msg)).await;
                        let failed = result.is_err();
                        let _ = reply.send(result);
                        if failed {
                            return Ok(Lost::because(lost(going_away, "write failed".into())));
                        }
                    }
                    Some(Command::Request { msg, reply }) => {
                        self.next_req += 1;
                        let req = format!("c{}", self.next_req);
                        self.pending.retain(|_, waiting| !waiting.is_closed());
                        let sent = write(&mut sink, &ClientEnvelope::with_req(req.clone(), msg)).await;
                        match sent {
                            Ok(()) => { self.pending.insert(req, reply); }
                            Err(e) => {
                                let _ = reply.send(Err(e));
                                return Ok(Lost::because(lost(going_away, "write failed".into())));
                            }
                        }
                    }
                },
                _ = ping.tick() => {
                    if last_heard.elapsed() >= self.config.dead_after {
                        return Ok(Lost::because(DisconnectReason::ServerSilent));
                    }
                    if sink.send(Message::Ping(Default::default())).await.is_err() {
                        return Ok(Lost::because(lost(going_away, "ping failed".into())));
                    }
                }
            }
        }
    }

    /// Passes a frame through the session and on to the app.
    async fn deliver(&mut self, env: ServerEnvelope) {
        match self.session.on_frame(env) {
            Update::Welcome {
                session_id,
                resumed,
                user,
                ice_servers,
            } => {
                tracing::info!(%session_id, resumed, "signaling connected");
                if !resumed {
                    self.fail_pending(|| Error::SessionLost);
                }
                self.backoff.reset();
                self.emit(SignalingEvent::Connected {
                    session_id,
                    resumed,
                    user,
                    ice_servers,
                })
                .await;
            }
            Update::Snapshot(contacts) => {
                self.emit(SignalingEvent::PresenceSnapshot(contacts)).await;
            }
            Update::Message(env) => {
                let waiting = env.req.as_ref().and_then(|req| self.pending.remove(req));
                let unclaimed = match waiting {
                    Some(reply) => reply
                        .send(Ok(*env))
                        .err()
                        .and_then(Result::ok)
                        .map(Box::new),
                    None => Some(env),
                };
                if let Some(env) = unclaimed {
                    self.emit(SignalingEvent::Message(env)).await;
                }
            }
            Update::Nothing => {}
        }
    }

    fn fail_pending(&mut self, error: impl Fn() -> Error) {
        for (_, reply) in self.pending.drain() {
            let _ = reply.send(Err(error()));
        }
    }

    async fn emit(&self, event: SignalingEvent) {
        // Nobody listening is not an error: the handle may still send.
        let _ = self.events.send(event).await;
    }

    async fn final_event(&self, event: SignalingEvent) {
        let _ = tokio::time::timeout(FINAL_EVENT_WAIT, self.events.send(event)).await;
    }
}

/// Runs `fut` while the socket is down, answering commands meanwhile:
/// sends and requests fail fast, shutdown (or every handle gone) ends the
/// task.
async fn offline<T>(
    commands: &mut mpsc::Receiver<Command>,
    fut: impl Future<Output = T>,
) -> Result<T, End> {
    tokio::pin!(fut);
    loop {
        tokio::select! {
            out = &mut fut => return Ok(out),
            command = commands.recv() => match command {
                None | Some(Command::Shutdown) => return Err(End::Shutdown),
                Some(Command::Send { reply, .. }) => { let _ = reply.send(Err(Error::NotConnected)); }
                Some(Command::Request { reply, .. }) => { let _ = reply.send(Err(Error::NotConnected)); }
                Some(Command::DropConnection { .. }) => {}
            }
        }
    }
}

fn lost(going_away: bool, why: String) -> DisconnectReason {
    if going_away {
        DisconnectReason::ServerRestarting
    } else {
        DisconnectReason::ConnectionLost(why)
    }
}

fn closed(going_away: bool, close: Option<CloseFrame>) -> Result<Lost, End> {
    let (code, reason) = close
        .map(|f| (u16::from(f.code), f.reason.to_string()))
        .unwrap_or((1005, String::new()));
    if code == CLOSE_SIGNED_OUT {
        return Err(End::SignedOut);
    }
    let reason = if going_away || code == u16::from(CloseCode::Restart) {
        DisconnectReason::ServerRestarting
    } else {
        DisconnectReason::ClosedByServer { code, reason }
    };
    Ok(Lost::because(reason))
}

async fn write(sink: &mut SplitSink<Ws, Message>, env: &ClientEnvelope) -> Result<(), Error> {
    let text = serde_json::to_string(env).map_err(|_| Error::NotConnected)?;
    sink.send(Message::Text(text.into()))
        .await
        .map_err(|_| Error::NotConnected)
}

/// Sends a close frame and waits (briefly) for the server's, so both sides
/// release the socket at once.
async fn close_cleanly(
    mut sink: SplitSink<Ws, Message>,
    mut stream: futures_util::stream::SplitStream<Ws>,
) {
    let close = CloseFrame {
        code: CloseCode::Normal,
        reason: "client shutting down".into(),
    };
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        if sink.send(Message::Close(Some(close))).await.is_err() {
            return;
        }
        while let Some(Ok(frame)) = stream.next().await {
            if matches!(frame, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}
