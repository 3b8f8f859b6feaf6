//! The thin async driver around the pure [`CallMachine`]: one tokio task
//! that owns the machine, feeds it signaling events, media events, app
//! commands and time, and carries out what it asks.
//!
//! All call logic stays in [`crate::call`]; this module only moves data:
//!
//! | from | becomes |
//! | --- | --- |
//! | [`SignalingEvent::Connected`] | [`CallInput::SignalingRestored`], then [`DriverEvent::Connected`] |
//! | [`SignalingEvent::Disconnected`] | [`CallInput::SignalingLost`], then [`DriverEvent::Disconnected`] |
//! | [`SignalingEvent::SignedOut`] / [`SignalingEvent::Closed`] | [`CallInput::SignalingClosed`] |
//! | `call_*` and `error` messages | [`CallInput::from_server`] |
//! | `signal` messages for the current call | [`MediaEngine::handle_signal`] |
//! | presence snapshot, `presence` | [`DriverEvent::PresenceSnapshot`], [`DriverEvent::PresenceChanged`] |
//! | [`MediaEventSink`] reports | `CallInput::Media*` / [`CallInput::IceRestartCompleted`] |
//! | [`MediaEventSink::send_signal`] | a `signal` message, if its call is still the live one |
//! | [`MediaEventSink::stats`] | [`DriverEvent::MediaStats`] |
//! | `ice_servers` of a `welcome` | [`MediaEngine::set_ice_servers`] |
//! | [`CallHandle`] commands | `Dial`, `Accept`, `Reject`, `Cancel`, `HangUp` |
//! | connects, drops, and the pushes each engine takes (`chat_*`, `appointment_changed`, `room_waiting`; a copy of `call_incoming` for the appointments engine) | the sync engines' [`EngineFeed`]s, if any |
//! | [`CallMachine::poll_timeout`] | [`CallMachine::handle_timeout`] (`sleep_until`) |
//!
//! and [`CallOutput`]s go to [`SignalingClient::send`], the [`MediaEngine`]
//! and [`DriverEvent::Call`].
//!
//! **Messages the socket could not take.** [`SignalingClient::send`] fails
//! with [`crate::signaling::Error::NotConnected`] while the socket is down (the
//! client has no queue, on purpose), while [`CallOutput::SendSignaling`]
//! asks its driver to queue for the resumed session. The driver keeps
//! those messages (a handful at most: the machine sends one per user
//! action) and sends them after a `welcome` that *resumes* the session,
//! where the call they name still exists. A new session drops them: the
//! server has forgotten the call, and the machine has already reacted.
//!
//! ```no_run
//! use clinicall_client_core::driver::{CallDriver, DriverEvent, SignalingOnlyMedia};
//! use clinicall_client_core::call::{CallConfig, CallEvent, CallState};
//! use clinicall_client_core::signaling::{
//!     AuthSession, ClientConfig, MemoryTokenStore, RestClient, SignalingClient,
//! };
//! use std::sync::Arc;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let rest = RestClient::new("http://127.0.0.1:8787", false)?;
//! let auth = Arc::new(AuthSession::new(rest, Arc::new(MemoryTokenStore::new())));
//! auth.login("dr.ada@example.org", "password-123").await?;
//! let (client, signaling) = SignalingClient::start(ClientConfig::new("http://127.0.0.1:8787"), auth)?;
//! let (call, mut events) = CallDriver::start(client, signaling, SignalingOnlyMedia, CallConfig::default());
//! while let Some(event) = events.recv().await {
//!     match event {
//!         DriverEvent::Call(CallEvent::StateChanged(CallState::IncomingRinging { .. })) => {
//!             call.accept().await?;
//!         }
//!         DriverEvent::Call(CallEvent::StateChanged(CallState::Ended { reason, .. })) => {
//!             println!("call ended: {}", reason.as_str());
//!             break;
//!         }
//!         _ => {}
//!     }
//! }
//! call.shutdown().await;
//! # Ok(()) }
//! ```

use crate::call::{
    CallConfig, CallError, CallEvent, CallInfo, CallInput, CallMachine, CallOutput, MediaRole,
};
use crate::chat::ChatFeed;
use crate::feed::EngineFeed;
use crate::media::CallStats;
use crate::signaling::{self, DisconnectReason, SignalingClient, SignalingEvent};
use crate::timer::sleep_until;
use clinicall_protocol::{
    AppointmentId, CallId, ClientMessage, Contact, IceServer, ServerMessage, Signal, UserId,
    UserSummary,
};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Capacity of the [`DriverEvent`] channel. A full channel pauses the
/// driver (and through it the signaling client) until the app reads.
const EVENT_CAPACITY: usize = 256;
/// At most this many messages wait for a resumed session (see the module
/// docs); the machine emits one per user action, so more means the socket
/// has been down for a long time and the oldest are stale anyway.
const MAX_UNSENT: usize = 16;

/// What the driver tells the app, in the order it happened.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum DriverEvent {
    /// The signaling server said `welcome` (the call machine already knows).
    Connected {
        /// Who we are signed in as.
        user: UserSummary,
        /// Whether the earlier session continues.
        resumed: bool,
    },
    /// The signaling socket dropped; the client reconnects by itself.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
    },
    /// The signaling client waits `delay` before connection attempt
    /// `attempt`.
    Reconnecting {
        /// Attempt number since the last successful connection.
        attempt: u32,
        /// How long until it starts.
        delay: Duration,
    },
    /// The login is over (logout elsewhere, or credentials refused); the
    /// driver stops. Sign in again and start a new one.
    SignedOut,
    /// The complete contact list with presence, after every `Connected`.
    PresenceSnapshot(Vec<Contact>),
    /// A contact came online or went offline.
    PresenceChanged {
        /// Who.
        user_id: UserId,
        /// Online on at least one device.
        online: bool,
    },
    /// News from the call machine.
    Call(CallEvent),
    /// Who the current call is with and which way it goes; follows every
    /// [`CallEvent::StateChanged`] (the state itself carries only ids).
    CallDetails(CallInfo),
    /// The media engine's periodic measurements of the live call.
    MediaStats {
        /// The call.
        call_id: CallId,
        /// The figures.
        stats: CallStats,
    },
    /// The driver has stopped (shut down, signed out, or the signaling
    /// client ended); the channel ends after this.
    Closed,
}

/// Why a [`CallHandle`] command failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The call machine refused the action; nothing was sent.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The driver has stopped (shut down, signed out, or the signaling
    /// client ended).
    #[error("the call driver has stopped")]
    Stopped,
}

/// The media side of a call, started and stopped by the call machine's
/// outputs. The WebRTC engine implements it; [`SignalingOnlyMedia`] is the
/// stand-in until then.
///
/// **Synchronous on purpose.** The methods are called from the driver's
/// task and must return promptly: an engine spawns its own tasks for
/// anything slow (ICE gathering, DTLS) and reports progress through the
/// [`MediaEventSink`] it was given. An `async` method awaited in the driver
/// would stall hang-ups and timeouts behind a slow negotiation.
pub trait MediaEngine: Send + 'static {
    /// Create the media session for `call_id`. The offerer sends its offer
    /// now; the answerer waits for it. Report on `events` (which is bound
    /// to this call; reports after [`stop`](Self::stop) are ignored).
    fn start(&mut self, call_id: CallId, role: MediaRole, events: MediaEventSink);
    /// Restart ICE on the call's session (the offerer sends the
    /// `ice_restart` offer; the answerer answers it).
    fn restart_ice(&mut self, call_id: CallId);
    /// Close the call's session and release its devices. Called exactly
    /// once for every [`start`](Self::start).
    fn stop(&mut self, call_id: CallId);
    /// A `signal` (SDP or ICE candidate) from `from` for `call_id`. The
    /// driver passes every one it receives; the engine ignores those for a
    /// session it does not have. The default ignores them all.
    fn handle_signal(&mut self, call_id: CallId, from: UserId, signal: Signal) {
        let _ = (call_id, from, signal);
    }
    /// The STUN/TURN servers of the latest `welcome`, for sessions started
    /// from now on (TURN credentials may be short-lived, so each welcome
    /// brings fresh ones). The default ignores them.
    fn set_ice_servers(&mut self, servers: Vec<IceServer>) {
        let _ = servers;
    }
}

/// A boxed engine is an engine (so the app can pick one at run time).
impl MediaEngine for Box<dyn MediaEngine> {
    fn start(&mut self, call_id: CallId, role: MediaRole, events: MediaEventSink) {
        (**self).start(call_id, role, events);
    }
    fn restart_ice(&mut self, call_id: CallId) {
        (**self).restart_ice(call_id);
    }
    fn stop(&mut self, call_id: CallId) {
        (**self).stop(call_id);
    }
    fn handle_signal(&mut self, call_id: CallId, from: UserId, signal: Signal) {
        (**self).handle_signal(call_id, from, signal);
    }
    fn set_ice_servers(&mut self, servers: Vec<IceServer>) {
        (**self).set_ice_servers(servers);
    }
}

/// What a media session reports to the driver.
#[derive(Debug)]
enum MediaReport {
    /// Feed this to the call machine.
    Input(CallInput),
    /// Send this SDP or ICE candidate to the other party.
    Signal { call_id: CallId, signal: Signal },
    /// Periodic measurements.
    Stats { call_id: CallId, stats: CallStats },
}

/// Where a [`MediaEngine`] reports on one call's media session. Cheap to
/// clone, usable from any task or thread, never blocks.
#[derive(Clone, Debug)]
pub struct MediaEventSink {
    call_id: CallId,
    tx: mpsc::UnboundedSender<MediaReport>,
}

impl MediaEventSink {
    /// The call this sink reports on.
    pub fn call_id(&self) -> CallId {
        self.call_id
    }

    /// ICE and DTLS connected; media flows (first connect or recovery).
    pub fn connected(&self) {
        self.report(CallInput::MediaConnected {
            call_id: self.call_id,
        });
    }

    /// The media path stopped working (ICE `disconnected`).
    pub fn disconnected(&self) {
        self.report(CallInput::MediaDisconnected {
            call_id: self.call_id,
        });
    }

    /// The media path failed (ICE `failed`).
    pub fn failed(&self) {
        self.report(CallInput::MediaFailed {
            call_id: self.call_id,
        });
    }

    /// An ICE restart finished and the new path is connected.
    pub fn ice_restart_completed(&self) {
        self.report(CallInput::IceRestartCompleted {
            call_id: self.call_id,
        });
    }

    /// The other party's media session said goodbye (it hung up).
    pub fn peer_hung_up(&self) {
        self.report(CallInput::MediaPeerHungUp {
            call_id: self.call_id,
        });
    }

    /// Sends an SDP or ICE candidate of this call's session to the other
    /// party (through the signaling server). Dropped if the call is no
    /// longer the live one; queued for a resumed session while the socket
    /// is down.
    pub fn send_signal(&self, signal: Signal) {
        self.send(MediaReport::Signal {
            call_id: self.call_id,
            signal,
        });
    }

    /// Reports the call's latest measurements to the app.
    pub fn stats(&self, stats: CallStats) {
        self.send(MediaReport::Stats {
            call_id: self.call_id,
            stats,
        });
    }

    fn report(&self, input: CallInput) {
        self.send(MediaReport::Input(input));
    }

    fn send(&self, report: MediaReport) {
        // The driver has stopped: nothing is listening, and nothing needs to.
        let _ = self.tx.send(report);
    }
}

/// **No media: reports the media path connected at once; for signaling
/// smoke tests only.** No audio or video is captured, sent or received,
/// and no SDP or ICE is exchanged, so a "connected" call proves only that
/// both clients signed in, reached the signaling server, rang, answered
/// and ended through it. The headless client uses it to smoke-test a
/// server; the WebRTC engine replaces it for real calls.
#[derive(Clone, Copy, Debug, Default)]
pub struct SignalingOnlyMedia;

impl MediaEngine for SignalingOnlyMedia {
    fn start(&mut self, call_id: CallId, role: MediaRole, events: MediaEventSink) {
        tracing::info!(%call_id, ?role, "signaling-only media: reporting connected");
        events.connected();
    }

    fn restart_ice(&mut self, call_id: CallId) {
        // Never disconnects, so never restarts; answer anyway in case the
        // machine asks.
        tracing::debug!(%call_id, "signaling-only media: ICE restart");
    }

    fn stop(&mut self, call_id: CallId) {
        tracing::debug!(%call_id, "signaling-only media: stopped");
    }
}

enum Command {
    Input {
        input: CallInput,
        reply: oneshot::Sender<Result<(), CallError>>,
    },
    Shutdown,
}

/// Starts the driver task; see [`CallHandle`] for its controls.
#[derive(Debug)]
pub struct CallDriver;

impl CallDriver {
    /// Spawns the driver task over a started signaling client and its event
    /// stream, with `media` for the media side and `config` for the call
    /// machine's timing. Returns the app's handle and the event stream.
    /// Must be called inside a tokio runtime. The driver stops on
    /// [`CallHandle::shutdown`], when the signaling client ends (sign-out),
    /// or when every handle is dropped.
    pub fn start(
        client: SignalingClient,
        signaling: mpsc::Receiver<SignalingEvent>,
        media: impl MediaEngine,
        config: CallConfig,
    ) -> (CallHandle, mpsc::Receiver<DriverEvent>) {
        Self::spawn(client, signaling, Box::new(media), config, Vec::new())
    }

    /// [`start`](Self::start), also feeding the chat engine of
    /// [`ChatSync::start`](crate::chat::ChatSync::start) (over the same
    /// signaling client) with the connection's news and the chat pushes.
    pub fn start_with_chat(
        client: SignalingClient,
        signaling: mpsc::Receiver<SignalingEvent>,
        media: impl MediaEngine,
        config: CallConfig,
        chat: ChatFeed,
    ) -> (CallHandle, mpsc::Receiver<DriverEvent>) {
        Self::start_with_feeds(client, signaling, media, config, vec![chat])
    }

    /// [`start`](Self::start), also feeding sync engines over the same
    /// signaling client: the chat engine's [`ChatFeed`], the appointments
    /// engine's feed of
    /// [`AppointmentSync::start`](crate::appointments::AppointmentSync::start).
    /// Each hears every connect and drop; each push goes to the first feed
    /// that takes it.
    pub fn start_with_feeds(
        client: SignalingClient,
        signaling: mpsc::Receiver<SignalingEvent>,
        media: impl MediaEngine,
        config: CallConfig,
        feeds: Vec<EngineFeed>,
    ) -> (CallHandle, mpsc::Receiver<DriverEvent>) {
        Self::spawn(client, signaling, Box::new(media), config, feeds)
    }

    fn spawn(
        client: SignalingClient,
        signaling: mpsc::Receiver<SignalingEvent>,
        media: Box<dyn MediaEngine>,
        config: CallConfig,
        feeds: Vec<EngineFeed>,
    ) -> (CallHandle, mpsc::Receiver<DriverEvent>) {
        let (commands_tx, commands_rx) = mpsc::channel(16);
        let (events_tx, events_rx) = mpsc::channel(EVENT_CAPACITY);
        let (media_tx, media_rx) = mpsc::unbounded_channel();
        let task = Task {
            machine: CallMachine::new(config),
            client,
            signaling,
            signaling_open: true,
            commands: commands_rx,
            media,
            feeds,
            media_tx,
            media_rx,
            events: events_tx,
            unsent: VecDeque::new(),
            stopping: None,
        };
        let handle = CallHandle {
            commands: commands_tx,
            task: Arc::new(Mutex::new(Some(tokio::spawn(task.run())))),
        };
        (handle, events_rx)
    }
}

/// The app's controls on a running [`CallDriver`]. Cheap to clone. Each
/// call action returns what the call machine answered.
#[derive(Clone, Debug)]
pub struct CallHandle {
    commands: mpsc::Sender<Command>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl CallHandle {
    /// Calls `callee` (sends `invite`).
    pub async fn dial(
        &self,
        callee: UserId,
        appointment_id: Option<String>,
    ) -> Result<(), DriverError> {
        self.input(CallInput::Dial {
            callee,
            appointment_id,
        })
        .await
    }

    /// Admits the patient waiting in `appointment`'s waiting room (sends
    /// `room_admit`): the server rings the patient, and the call goes on
    /// as an outgoing one labelled with the appointment.
    pub async fn admit(
        &self,
        appointment: AppointmentId,
        patient: UserId,
    ) -> Result<(), DriverError> {
        self.input(CallInput::Admit {
            appointment_id: appointment,
            patient,
        })
        .await
    }

    /// Answers the ringing call.
    pub async fn accept(&self) -> Result<(), DriverError> {
        self.input(CallInput::Accept).await
    }

    /// Declines the ringing call.
    pub async fn reject(&self) -> Result<(), DriverError> {
        self.input(CallInput::Reject).await
    }

    /// Withdraws our outgoing call.
    pub async fn cancel(&self) -> Result<(), DriverError> {
        self.input(CallInput::Cancel).await
    }

    /// Ends the call in whatever state it is.
    pub async fn hang_up(&self) -> Result<(), DriverError> {
        self.input(CallInput::HangUp).await
    }

    /// Hangs up a live call (so the other party hears of it at once), shuts
    /// the signaling client down, stops media and waits for the driver
    /// task to end. The event stream ends with [`DriverEvent::Closed`].
    /// Idempotent.
    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown).await;
        let handle = self.task.lock().await.take();
        if let Some(handle) = handle
            && let Err(e) = handle.await
        {
            tracing::error!(error = %e, "call driver task failed");
        }
    }

    async fn input(&self, input: CallInput) -> Result<(), DriverError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Input { input, reply })
            .await
            .map_err(|_| DriverError::Stopped)?;
        Ok(answer.await.map_err(|_| DriverError::Stopped)??)
    }
}

struct Task {
    machine: CallMachine,
    client: SignalingClient,
    signaling: mpsc::Receiver<SignalingEvent>,
    /// False once the signaling stream ended: the task then finishes.
    signaling_open: bool,
    commands: mpsc::Receiver<Command>,
    media: Box<dyn MediaEngine>,
    /// The sync engines' inputs (chat, appointments), if any.
    feeds: Vec<EngineFeed>,
    /// Kept so `media_rx` never ends while the task runs.
    media_tx: mpsc::UnboundedSender<MediaReport>,
    media_rx: mpsc::UnboundedReceiver<MediaReport>,
    events: mpsc::Sender<DriverEvent>,
    /// Messages the socket refused, for the resumed session.
    unsent: VecDeque<ClientMessage>,
    /// The signaling client's shutdown, once asked for.
    stopping: Option<JoinHandle<()>>,
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

impl Task {
    async fn run(mut self) {
        while self.signaling_open {
            let deadline = self.machine.poll_timeout().map(Instant::from_std);
            tokio::select! {
                event = self.signaling.recv() => match event {
                    Some(event) => self.on_signaling(event).await,
                    None => self.on_signaling_end(),
                },
                command = self.commands.recv(), if self.stopping.is_none() => match command {
                    Some(Command::Input { input, reply }) => {
                        let result = self.machine.handle_input(now(), input);
                        let _ = reply.send(result);
                    }
                    // Every handle is gone: nobody can end the call any more.
                    Some(Command::Shutdown) | None => self.begin_shutdown(),
                },
                Some(report) = self.media_rx.recv() => self.on_media(report).await,
                () = sleep_until(deadline), if deadline.is_some() => {
                    self.machine.handle_timeout(now());
                }
            }
            self.drain().await;
        }
        if let Some(stopping) = self.stopping.take()
            && let Err(e) = stopping.await
        {
            tracing::error!(error = %e, "signaling shutdown failed");
        }
        let _ = self.events.send(DriverEvent::Closed).await;
        // Commands that raced the end get `Stopped` when their reply drops.
    }

    /// Hangs up a live call, then has the signaling client close; its
    /// `Closed` event ends the loop (after the hangup was written).
    fn begin_shutdown(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        if self.machine.state().is_live() {
            let _ = self.machine.handle_input(now(), CallInput::HangUp);
        }
        // The hangup is sent by `drain` before the client gets to the
        // shutdown command: both go through its command channel in order.
        let client = self.client.clone();
        self.stopping = Some(tokio::spawn(async move { client.shutdown().await }));
    }

    async fn on_media(&mut self, report: MediaReport) {
        match report {
            // Stale reports (an earlier call, a stopped session) are the
            // machine's to ignore.
            MediaReport::Input(input) => {
                let _ = self.machine.handle_input(now(), input);
            }
            MediaReport::Signal { call_id, signal } => {
                // Only the answered call's session negotiates; a late
                // candidate of a session being torn down goes nowhere.
                let state = self.machine.state();
                if state.call_id() == Some(call_id) && state.is_answered() {
                    self.send(ClientMessage::Signal { call_id, signal }).await;
                } else {
                    tracing::debug!(%call_id, "dropping a signal of a call that is over");
                }
            }
            MediaReport::Stats { call_id, stats } => {
                self.emit(DriverEvent::MediaStats { call_id, stats }).await;
            }
        }
    }

    fn on_signaling_end(&mut self) {
        self.signaling_open = false;
        for feed in &self.feeds {
            feed.closed();
        }
        let _ = self.machine.handle_input(now(), CallInput::SignalingClosed);
    }

    async fn on_signaling(&mut self, event: SignalingEvent) {
        let at = now();
        let news = match event {
            SignalingEvent::Connected {
                resumed,
                user,
                ice_servers,
                ..
            } => {
                self.media.set_ice_servers(ice_servers);
                let _ = self
                    .machine
                    .handle_input(at, CallInput::SignalingRestored { resumed });
                if resumed {
                    self.flush_unsent().await;
                } else if !self.unsent.is_empty() {
                    tracing::info!(
                        dropped = self.unsent.len(),
                        "new signaling session: dropping messages for the old one"
                    );
                    self.unsent.clear();
                }
                for feed in &self.feeds {
                    feed.connected(resumed);
                }
                Some(DriverEvent::Connected { user, resumed })
            }
            SignalingEvent::Disconnected { reason } => {
                let _ = self.machine.handle_input(at, CallInput::SignalingLost);
                for feed in &self.feeds {
                    feed.disconnected();
                }
                Some(DriverEvent::Disconnected { reason })
            }
            SignalingEvent::Reconnecting { attempt, delay } => {
                Some(DriverEvent::Reconnecting { attempt, delay })
            }
            SignalingEvent::SignedOut => {
                let _ = self.machine.handle_input(at, CallInput::SignalingClosed);
                Some(DriverEvent::SignedOut)
            }
            SignalingEvent::Closed => {
                self.on_signaling_end();
                None
            }
            SignalingEvent::PresenceSnapshot(contacts) => {
                Some(DriverEvent::PresenceSnapshot(contacts))
            }
            SignalingEvent::Message(envelope) => match self.offer_to_feeds(envelope.msg) {
                None => None,
                Some(msg) => self.on_message(at, msg),
            },
        };
        // The machine's reaction first, so that when the app hears
        // `Connected` the machine already accepts `Dial`.
        self.drain().await;
        if let Some(news) = news {
            self.emit(news).await;
        }
    }

    /// Gives a push to the first sync engine that takes it; returns
    /// anything none takes.
    fn offer_to_feeds(&self, msg: ServerMessage) -> Option<ServerMessage> {
        self.feeds.iter().try_fold(msg, |msg, feed| feed.offer(msg))
    }

    fn on_message(&mut self, at: std::time::Instant, msg: ServerMessage) -> Option<DriverEvent> {
        match msg {
            ServerMessage::Presence { user_id, online } => {
                Some(DriverEvent::PresenceChanged { user_id, online })
            }
            ServerMessage::Signal {
                call_id,
                from,
                signal,
            } => {
                self.media.handle_signal(call_id, from, signal);
                None
            }
            msg => {
                match CallInput::from_server(&msg) {
                    Some(input) => {
                        let _ = self.machine.handle_input(at, input);
                    }
                    None => tracing::debug!(?msg, "not for the call driver"),
                }
                None
            }
        }
    }

    async fn drain(&mut self) {
        while let Some(output) = self.machine.poll_output() {
            match output {
                CallOutput::SendSignaling(msg) => self.send(msg).await,
                CallOutput::StartMedia { call_id, role } => {
                    let sink = MediaEventSink {
                        call_id,
                        tx: self.media_tx.clone(),
                    };
                    self.media.start(call_id, role, sink);
                }
                CallOutput::RestartIce { call_id } => self.media.restart_ice(call_id),
                CallOutput::StopMedia { call_id } => self.media.stop(call_id),
                CallOutput::Event(event) => {
                    let state_changed = matches!(event, CallEvent::StateChanged(_));
                    self.emit(DriverEvent::Call(event)).await;
                    if state_changed && let Some(info) = self.machine.call() {
                        let info = info.clone();
                        self.emit(DriverEvent::CallDetails(info)).await;
                    }
                }
            }
        }
    }

    async fn send(&mut self, msg: ClientMessage) {
        match self.client.send(msg.clone()).await {
            Ok(()) => {}
            Err(signaling::Error::NotConnected) => {
                tracing::info!(?msg, "signaling down: keeping the message for a resume");
                if self.unsent.len() == MAX_UNSENT {
                    self.unsent.pop_front();
                }
                self.unsent.push_back(msg);
            }
            Err(e) => tracing::warn!(error = %e, ?msg, "could not send a call message"),
        }
    }

    async fn flush_unsent(&mut self) {
        while let Some(msg) = self.unsent.pop_front() {
            if let Err(e) = self.client.send(msg.clone()).await {
                // Down again already: keep it (and the rest) for the next resume.
                tracing::info!(error = %e, "could not resend after resume");
                self.unsent.push_front(msg);
                return;
            }
        }
    }

    async fn emit(&mut self, event: DriverEvent) {
        // The app dropped its receiver: it no longer listens, which is its
        // right; the driver goes on until shut down.
        let _ = self.events.send(event).await;
    }
}
