//! One benchmark WebSocket client: connect and greet, take part in one call,
//! send timestamped candidates on its schedule, time the ones its partner
//! sends, and close. One tokio task per client; the main task steers all of
//! them through a `watch` channel of [`Phase`]s and reads shared counters.

use crate::stats::{self, Schedule, Stamp};
use anyhow::{Context, Result, anyhow, bail};
use clinicall_protocol::{
    CallId, ClientEnvelope, ClientMessage, EndReason, PROTOCOL_VERSION, Role, ServerEnvelope,
    ServerMessage, Signal, UserId,
};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio::time::{Interval, MissedTickBehavior};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, header::AUTHORIZATION};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a handshake plus `hello`/`welcome` may take.
const GREETING_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client waits for `call_ended` after the hang-up before closing.
const HANGUP_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the close handshake may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// What the main task wants the clients to do now. Phases only move forward.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Phase {
    /// Connect and greet, then idle (reading and discarding).
    Connect,
    /// Patients invite their doctor; doctors accept.
    Call,
    /// Send signals on the schedule.
    Load(LoadPlan),
    /// Hang up and close.
    Finish,
}

/// The load phase's timeline, in ns since the process epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadPlan {
    /// Sending starts here (plus each client's offset).
    pub start_ns: u64,
    /// Latency of signals scheduled from here on is recorded.
    pub window_start_ns: u64,
    /// No sends are scheduled from here on; recording ends too.
    pub window_end_ns: u64,
}

impl LoadPlan {
    fn in_window(&self, ns: u64) -> bool {
        (self.window_start_ns..self.window_end_ns).contains(&ns)
    }
}

/// Counters and histograms all clients write to.
pub struct Shared {
    /// All timestamps are ns since this instant.
    pub epoch: Instant,
    /// Bounds concurrent handshakes.
    pub connect_permits: Semaphore,
    /// Clients that finished the `hello`/`welcome` exchange.
    pub connected: AtomicUsize,
    /// Clients whose call was accepted.
    pub in_call: AtomicUsize,
    /// Set by the main task just before it tells clients to finish, so a
    /// partner's hang-up that overtakes that news is not counted as an error.
    pub finishing: AtomicBool,
    /// Clients that gave up (see `first_failure`).
    pub failed: AtomicUsize,
    /// The first failure, to report.
    pub first_failure: Mutex<Option<String>>,
    /// Benchmark signals sent, all phases.
    pub sent_total: AtomicU64,
    /// Benchmark signals sent while inside the measured window.
    pub sent_in_window: AtomicU64,
    /// Benchmark signals received, all phases.
    pub received_total: AtomicU64,
    /// Benchmark signals received while inside the measured window.
    pub received_in_window: AtomicU64,
    /// Signals that arrived with a lower sequence number than one already
    /// seen from the same sender (reordered or duplicated).
    pub out_of_order: AtomicU64,
    /// Error replies and unexpected events, by kind.
    pub errors: Mutex<BTreeMap<String, u64>>,
    /// Latency from the scheduled send time, µs.
    pub latency_scheduled: Mutex<Histogram<u64>>,
    /// Latency from the moment the frame was written, µs.
    pub latency_sent: Mutex<Histogram<u64>>,
}

impl Shared {
    /// Fresh counters; `connect_concurrency` bounds concurrent handshakes.
    pub fn new(connect_concurrency: usize) -> Self {
        Self {
            epoch: Instant::now(),
            connect_permits: Semaphore::new(connect_concurrency.max(1)),
            connected: AtomicUsize::new(0),
            in_call: AtomicUsize::new(0),
            finishing: AtomicBool::new(false),
            failed: AtomicUsize::new(0),
            first_failure: Mutex::new(None),
            sent_total: AtomicU64::new(0),
            sent_in_window: AtomicU64::new(0),
            received_total: AtomicU64::new(0),
            received_in_window: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            latency_scheduled: Mutex::new(stats::latency_histogram()),
            latency_sent: Mutex::new(stats::latency_histogram()),
        }
    }

    /// Nanoseconds since the epoch.
    pub fn now_ns(&self) -> u64 {
        self.ns_at(Instant::now())
    }

    /// Nanoseconds from the epoch to `t`.
    pub fn ns_at(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// The instant `ns` after the epoch.
    pub fn instant_at(&self, ns: u64) -> Instant {
        self.epoch + Duration::from_nanos(ns)
    }

    /// Counts one error or unexpected event of this kind.
    pub fn count_error(&self, kind: &str) {
        *lock(&self.errors).entry(kind.to_owned()).or_default() += 1;
    }

    fn fail(&self, message: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        lock(&self.first_failure).get_or_insert(message);
    }
}

/// Locks, ignoring poisoning (a panicking client must not hide the others'
/// results).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Who one client is and whom it talks to.
pub struct ClientSpec {
    /// Position in the run (doctor of pair i is 2i, its patient 2i + 1).
    pub index: usize,
    /// Patients call, doctors answer.
    pub role: Role,
    /// Access token.
    pub token: String,
    /// The other party of this client's call.
    pub partner: UserId,
    /// When this client sends during the load phase.
    pub schedule: Schedule,
    /// `ws://host:port/api/v1/ws`.
    pub url: String,
}

/// Runs one client to the end; failures are recorded in `shared`.
pub async fn run(spec: ClientSpec, shared: std::sync::Arc<Shared>, phase: watch::Receiver<Phase>) {
    let index = spec.index;
    let result = match Client::connect(spec, &shared).await {
        Ok(client) => client.run(&shared, phase).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        shared.fail(format!("client {index}: {e:#}"));
    }
}

struct Client {
    spec: ClientSpec,
    ws: Ws,
    call_id: Option<CallId>,
    invited: bool,
    accepted: bool,
    ticker: Option<Interval>,
    plan: Option<LoadPlan>,
    next_seq: u64,
    /// Highest sequence number received from the partner, plus one.
    expected_seq: u64,
    /// When set, the client is finishing and closes at this instant at the
    /// latest.
    closing_at: Option<tokio::time::Instant>,
}

impl Client {
    async fn connect(spec: ClientSpec, shared: &Shared) -> Result<Self> {
        let _permit = shared
            .connect_permits
            .acquire()
            .await
            .map_err(|_| anyhow!("connect semaphore closed"))?;
        let ws = tokio::time::timeout(GREETING_TIMEOUT, greet(&spec))
            .await
            .map_err(|_| anyhow!("no welcome within {GREETING_TIMEOUT:?}"))??;
        shared.connected.fetch_add(1, Ordering::Relaxed);
        Ok(Self {
            spec,
            ws,
            call_id: None,
            invited: false,
            accepted: false,
            ticker: None,
            plan: None,
            next_seq: 0,
            expected_seq: 0,
            closing_at: None,
        })
    }
}

/// Opens the socket with the bearer token, sends `hello` and waits for
/// `welcome`.
async fn greet(spec: &ClientSpec) -> Result<Ws> {
    let mut request = spec.url.as_str().into_client_request()?;
    request.headers_mut().insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {}", spec.token))?,
    );
    // Small buffers: thousands of sockets live in this process, and every
    // frame of the benchmark is a few hundred bytes.
    let config = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(16 << 20))
        .max_frame_size(Some(16 << 20));
    let (mut ws, _response) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), true)
            .await
            .context("WebSocket handshake")?;
    send(
        &mut ws,
        &ClientMessage::Hello {
            min_version: PROTOCOL_VERSION,
            max_version: PROTOCOL_VERSION,
            token: None,
            resume: None,
        },
    )
    .await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => match parse(&text)? {
                ServerMessage::Welcome { .. } => return Ok(ws),
                ServerMessage::Error { code, message, .. } => {
                    bail!("hello refused: {}: {message}", code.as_str())
                }
                _ => {}
            },
            Some(Ok(Message::Close(frame))) => bail!("closed before welcome: {frame:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e).context("reading welcome"),
            None => bail!("connection ended before welcome"),
        }
    }
}

async fn send(ws: &mut Ws, msg: &ClientMessage) -> Result<()> {
    let text = serde_json::to_string(&ClientEnvelope::new(msg.clone()))?;
    ws.send(Message::Text(Utf8Bytes::from(text)))
        .await
        .with_context(|| format!("sending {}", msg.kind()))
}

fn parse(text: &str) -> Result<ServerMessage> {
    let envelope: ServerEnvelope = serde_json::from_str(text)
        .with_context(|| format!("unparseable server frame: {text:.200}"))?;
    Ok(envelope.msg)
}

/// Waits for the next tick of an optional interval; never completes without
/// one.
async fn next_tick(ticker: &mut Option<Interval>) -> tokio::time::Instant {
    match ticker {
        Some(t) => t.tick().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

impl Client {
    async fn run(mut self, shared: &Shared, mut phase: watch::Receiver<Phase>) -> Result<()> {
        let current = *phase.borrow_and_update();
        self.enter(current, shared).await?;
        let mut phase_open = true;
        loop {
            tokio::select! {
                frame = self.ws.next() => {
                    let received_ns = shared.now_ns();
                    match frame {
                        Some(Ok(Message::Text(text))) => {
                            if self.on_text(&text, received_ns, shared).await? {
                                break;
                            }
                        }
                        Some(Ok(Message::Close(frame))) => {
                            if self.closing_at.is_none() {
                                shared.count_error("closed_by_server");
                                bail!("server closed the connection: {frame:?}");
                            }
                            break;
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            shared.count_error("connection_error");
                            return Err(e).context("reading from the server");
                        }
                        None => {
                            if self.closing_at.is_none() {
                                shared.count_error("connection_ended");
                                bail!("connection ended unexpectedly");
                            }
                            return Ok(());
                        }
                    }
                }
                changed = phase.changed(), if phase_open => {
                    if changed.is_err() {
                        // The main task is gone; finish on our own.
                        phase_open = false;
                        self.enter(Phase::Finish, shared).await?;
                    } else {
                        let next = *phase.borrow_and_update();
                        self.enter(next, shared).await?;
                    }
                }
                scheduled = next_tick(&mut self.ticker) => {
                    self.on_tick(scheduled.into_std(), shared).await?;
                }
                () = sleep_until_opt(self.closing_at) => break,
            }
        }
        self.close().await;
        Ok(())
    }

    /// Does what a phase asks on entry. Earlier phases' entry steps are
    /// repeated if a client somehow skipped one (they are idempotent).
    async fn enter(&mut self, phase: Phase, shared: &Shared) -> Result<()> {
        match phase {
            Phase::Connect => {}
            Phase::Call => self.invite().await?,
            Phase::Load(plan) => {
                self.invite().await?;
                if self.plan.is_none() {
                    self.plan = Some(plan);
                    let first = shared.instant_at(plan.start_ns) + self.spec.schedule.offset;
                    let mut ticker = tokio::time::interval_at(
                        tokio::time::Instant::from_std(first),
                        self.spec.schedule.period,
                    );
                    // Burst: a late tick is sent as soon as possible and
                    // later ones stay on the original schedule, so the
                    // offered load does not drop when the generator or the
                    // server stalls (no coordinated omission).
                    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
                    self.ticker = Some(ticker);
                }
            }
            Phase::Finish => {
                self.ticker = None;
                if self.closing_at.is_none() {
                    self.closing_at = Some(tokio::time::Instant::now() + HANGUP_TIMEOUT);
                    match (self.spec.role, self.call_id) {
                        (Role::Patient, Some(call_id)) if self.accepted => {
                            send(&mut self.ws, &ClientMessage::Hangup { call_id }).await?;
                        }
                        // Doctors wait for the patient's hang-up; a client
                        // without a call has nothing to wait for.
                        (Role::Doctor, Some(_)) if self.accepted => {}
                        _ => self.closing_at = Some(tokio::time::Instant::now()),
                    }
                }
            }
        }
        Ok(())
    }

    async fn invite(&mut self) -> Result<()> {
        if self.spec.role == Role::Patient && !self.invited {
            self.invited = true;
            send(
                &mut self.ws,
                &ClientMessage::Invite {
                    callee: self.spec.partner,
                    appointment_id: None,
                },
            )
            .await?;
        }
        Ok(())
    }

    async fn on_tick(&mut self, scheduled: Instant, shared: &Shared) -> Result<()> {
        let Some(plan) = self.plan else {
            return Ok(());
        };
        let scheduled_ns = shared.ns_at(scheduled);
        if scheduled_ns >= plan.window_end_ns {
            self.ticker = None;
            return Ok(());
        }
        let Some(call_id) = self.call_id.filter(|_| self.accepted) else {
            return Ok(());
        };
        let sent_ns = shared.now_ns();
        let stamp = Stamp {
            scheduled_ns,
            sent_ns,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        let signal = Signal::Candidate {
            candidate: stats::candidate_line(self.spec.index, stamp),
            sdp_mid: Some("0".to_owned()),
            sdp_mline_index: Some(0),
            username_fragment: Some(format!("b{:07x}", self.spec.index)),
        };
        send(&mut self.ws, &ClientMessage::Signal { call_id, signal }).await?;
        shared.sent_total.fetch_add(1, Ordering::Relaxed);
        if plan.in_window(sent_ns) {
            shared.sent_in_window.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Handles one server frame; `Ok(true)` when the client is done.
    async fn on_text(&mut self, text: &str, received_ns: u64, shared: &Shared) -> Result<bool> {
        let msg = match parse(text) {
            Ok(msg) => msg,
            Err(_) => {
                shared.count_error("unparseable_frame");
                return Ok(false);
            }
        };
        match msg {
            ServerMessage::Signal {
                call_id,
                from,
                signal: Signal::Candidate { candidate, .. },
            } => {
                if Some(call_id) != self.call_id || from != self.spec.partner {
                    shared.count_error("signal_from_stranger");
                    return Ok(false);
                }
                let Some(stamp) = stats::parse_stamp(&candidate) else {
                    shared.count_error("signal_without_stamp");
                    return Ok(false);
                };
                self.record(stamp, received_ns, shared);
            }
            ServerMessage::CallRinging { call_id, .. } if self.spec.role == Role::Patient => {
                self.call_id = Some(call_id);
            }
            ServerMessage::CallIncoming {
                call_id, caller, ..
            } => {
                if self.spec.role == Role::Doctor
                    && caller.id == self.spec.partner
                    && self.call_id.is_none()
                {
                    self.call_id = Some(call_id);
                    send(&mut self.ws, &ClientMessage::Accept { call_id }).await?;
                } else {
                    shared.count_error("unexpected_call_incoming");
                    send(&mut self.ws, &ClientMessage::Reject { call_id }).await?;
                }
            }
            ServerMessage::CallAccepted { call_id } => {
                if self.call_id.is_none() {
                    // `call_accepted` overtook `call_ringing`; take its id.
                    self.call_id = Some(call_id);
                }
                if Some(call_id) == self.call_id && !self.accepted {
                    self.accepted = true;
                    shared.in_call.fetch_add(1, Ordering::Relaxed);
                } else {
                    shared.count_error("unexpected_call_accepted");
                }
            }
            ServerMessage::CallEnded {
                call_id, reason, ..
            } if Some(call_id) == self.call_id => {
                let finishing =
                    self.closing_at.is_some() || shared.finishing.load(Ordering::Relaxed);
                let expected = finishing && reason == EndReason::HungUp;
                if !expected {
                    shared.count_error(&format!("call_ended_{}", reason.as_str()));
                }
                let was_accepted = std::mem::replace(&mut self.accepted, false);
                self.ticker = None;
                if finishing {
                    return Ok(true);
                }
                if !was_accepted {
                    bail!("call ended before it was accepted: {}", reason.as_str());
                }
            }
            ServerMessage::Error { code, message, .. } => {
                shared.count_error(code.as_str());
                if self.call_id.is_none() && self.spec.role == Role::Patient && self.invited {
                    // The invite itself failed; nothing else will happen.
                    bail!("invite refused: {}: {message}", code.as_str());
                }
            }
            // Presence, pongs, other signal kinds and anything newer are
            // not part of the benchmark.
            _ => {}
        }
        Ok(false)
    }

    fn record(&mut self, stamp: Stamp, received_ns: u64, shared: &Shared) {
        shared.received_total.fetch_add(1, Ordering::Relaxed);
        if stamp.seq < self.expected_seq {
            shared.out_of_order.fetch_add(1, Ordering::Relaxed);
        } else {
            self.expected_seq = stamp.seq + 1;
        }
        let Some(plan) = self.plan else { return };
        if plan.in_window(received_ns) {
            shared.received_in_window.fetch_add(1, Ordering::Relaxed);
        }
        if plan.in_window(stamp.scheduled_ns) {
            let us = |from: u64| received_ns.saturating_sub(from) / 1000;
            lock(&shared.latency_scheduled)
                .saturating_record(us(stamp.scheduled_ns).min(stats::MAX_LATENCY_US));
            lock(&shared.latency_sent)
                .saturating_record(us(stamp.sent_ns).min(stats::MAX_LATENCY_US));
        }
    }

    async fn close(mut self) {
        let closing = async {
            // A failed close means the socket is already gone: nothing to do.
            let _ = self.ws.close(None).await;
            while let Some(Ok(_)) = self.ws.next().await {}
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, closing).await;
    }
}
