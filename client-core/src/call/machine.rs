//! The call state machine itself. See the module docs of [`super`] for the
//! design; this file is the rules.

use super::io::{CallError, CallEvent, CallInput, CallOutput};
use super::state::{CallDirection, CallEndReason, CallInfo, CallSignaling, CallState, MediaRole};
use clinicall_protocol::{CallId, ClientMessage, EndReason, ErrorCode, UserId, UserSummary};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The longest ring a `call_incoming` may ask for; a bigger value from the
/// server is clamped, so untrusted input cannot overflow a deadline.
const MAX_SERVER_RING: Duration = Duration::from_secs(10 * 60);

/// Timing policy. The defaults suit the server's defaults (30 s ring
/// timeout, 10 s resume grace).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallConfig {
    /// From `Dial` until the call must have ended or been answered: a
    /// safety net a little above the server's 30 s ring timeout, for when
    /// its `call_ended` never reaches us.
    pub outgoing_ring_timeout: Duration,
    /// Added to `call_incoming`'s `ring_timeout_ms` for the callee's own
    /// safety net.
    pub incoming_ring_margin: Duration,
    /// How long media may take to connect: from `StartMedia` (and, on the
    /// callee, from the local accept until the server confirms it).
    pub connect_timeout: Duration,
    /// After `MediaDisconnected`, how long to let ICE recover by itself
    /// before restarting it.
    pub disconnect_grace: Duration,
    /// Between ICE restart attempts while the path stays down.
    pub ice_restart_interval: Duration,
    /// How long the media path may stay down (from the first
    /// `MediaDisconnected`/`MediaFailed`) before the call ends.
    pub reconnect_timeout: Duration,
    /// How long to wait for the server's reply to an invite we abandoned
    /// before it named the call (cancelled at once, or overtaken by an
    /// incoming call); `Dial` is refused meanwhile.
    pub invite_reply_timeout: Duration,
}

impl Default for CallConfig {
    fn default() -> Self {
        Self {
            outgoing_ring_timeout: Duration::from_secs(35),
            incoming_ring_margin: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(15),
            disconnect_grace: Duration::from_secs(2),
            ice_restart_interval: Duration::from_secs(10),
            reconnect_timeout: Duration::from_secs(30),
            invite_reply_timeout: Duration::from_secs(10),
        }
    }
}

/// The client's call state machine: one call at a time, no I/O, no clock.
///
/// Feed it [`CallInput`]s with [`CallMachine::handle_input`] and the
/// time with [`CallMachine::handle_timeout`] when
/// [`CallMachine::poll_timeout`] comes due; drain [`CallOutput`]s with
/// [`CallMachine::poll_output`] after each.
#[derive(Debug)]
pub struct CallMachine {
    config: CallConfig,
    state: CallState,
    /// The current call, or the last one once it ended.
    call: Option<CallInfo>,
    /// The signaling socket is up (a `welcome` arrived and no loss since).
    link_up: bool,
    /// The server has forgotten the live call (see [`CallSignaling::Detached`]).
    detached: bool,
    /// `StartMedia` was emitted and `StopMedia` not yet.
    media_started: bool,
    /// The live state's own deadline: ring, connect, or reconnect give-up.
    deadline: Option<Instant>,
    /// When to (re)start ICE next, while reconnecting.
    restart_at: Option<Instant>,
    /// A restart came due while signaling was down; do it on resume.
    restart_wanted: bool,
    /// When the last `RestartIce` of this outage was emitted.
    last_restart: Option<Instant>,
    /// An invite we abandoned still has a reply coming, until then.
    stale_invite_until: Option<Instant>,
    /// The last call this device declined, to decline it again if a new
    /// session announces it once more (our `reject` was lost).
    declined: Option<CallId>,
    /// The signaling status last reported in an event.
    reported_signaling: CallSignaling,
    outputs: VecDeque<CallOutput>,
}

impl CallMachine {
    /// A machine with no call and signaling not yet connected: feed
    /// [`CallInput::SignalingRestored`] when the first `welcome` arrives.
    pub fn new(config: CallConfig) -> Self {
        Self {
            config,
            state: CallState::Idle,
            call: None,
            link_up: false,
            detached: false,
            media_started: false,
            deadline: None,
            restart_at: None,
            restart_wanted: false,
            last_restart: None,
            stale_invite_until: None,
            declined: None,
            reported_signaling: CallSignaling::Interrupted,
            outputs: VecDeque::new(),
        }
    }

    /// The timing policy.
    pub fn config(&self) -> &CallConfig {
        &self.config
    }

    /// The current state.
    pub fn state(&self) -> &CallState {
        &self.state
    }

    /// The current call, or the last one after it ended (until
    /// [`CallMachine::reset`] or the next call).
    pub fn call(&self) -> Option<&CallInfo> {
        self.call.as_ref()
    }

    /// How far signaling reaches the current call.
    pub fn signaling(&self) -> CallSignaling {
        if self.detached {
            CallSignaling::Detached
        } else if self.link_up {
            CallSignaling::Available
        } else {
            CallSignaling::Interrupted
        }
    }

    /// Forgets an ended call and returns to [`CallState::Idle`] (emitting
    /// the state change). Does nothing when already idle. A live call must
    /// be ended first: [`CallError::Busy`].
    pub fn reset(&mut self) -> Result<(), CallError> {
        match self.state {
            CallState::Idle => Ok(()),
            CallState::Ended { .. } => {
                self.call = None;
                self.set_state(CallState::Idle);
                Ok(())
            }
            _ => Err(CallError::Busy),
        }
    }

    /// The next output, if any. Drain after every input and timeout.
    pub fn poll_output(&mut self) -> Option<CallOutput> {
        self.outputs.pop_front()
    }

    /// When [`CallMachine::handle_timeout`] must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.deadline, self.restart_at, self.stale_invite_until]
            .into_iter()
            .flatten()
            .min()
    }

    /// Lets time pass: fires every deadline at or before `now`. Calling it
    /// early or often is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.fire_timeouts(now);
        self.report_signaling();
    }

    /// Handles one input at `now`. Deadlines already due fire first, so a
    /// late driver cannot, say, connect a call that timed out. Only local
    /// actions can fail; a refused action itself emits and changes nothing
    /// (deadlines that were due still fired).
    pub fn handle_input(&mut self, now: Instant, input: CallInput) -> Result<(), CallError> {
        self.fire_timeouts(now);
        let result = match input {
            CallInput::Dial {
                callee,
                appointment_id,
            } => {
                let invite = ClientMessage::Invite {
                    callee,
                    appointment_id: appointment_id.clone(),
                };
                self.dial(now, callee, appointment_id, invite)
            }
            CallInput::Admit {
                appointment_id,
                patient,
            } => self.dial(
                now,
                patient,
                Some(appointment_id.to_string()),
                ClientMessage::RoomAdmit { appointment_id },
            ),
            CallInput::Accept => self.accept(now),
            CallInput::Reject => self.reject(),
            CallInput::Cancel => self.cancel(now),
            CallInput::HangUp => self.hang_up(now),
            CallInput::CallRinging { call_id, callee } => {
                self.on_ringing(call_id, callee);
                Ok(())
            }
            CallInput::CallIncoming {
                call_id,
                caller,
                appointment_id,
                ring_timeout_ms,
            } => {
                self.on_incoming(now, call_id, caller, appointment_id, ring_timeout_ms);
                Ok(())
            }
            CallInput::CallAccepted { call_id } => {
                self.on_accepted(now, call_id);
                Ok(())
            }
            CallInput::CallEnded {
                call_id,
                reason,
                by,
            } => {
                self.on_ended(call_id, reason, by);
                Ok(())
            }
            CallInput::ServerError { code, call_id } => {
                self.on_error(code, call_id);
                Ok(())
            }
            CallInput::SignalingLost => {
                self.link_up = false;
                Ok(())
            }
            CallInput::SignalingRestored { resumed } => {
                self.on_signaling_restored(now, resumed);
                Ok(())
            }
            CallInput::SignalingClosed => {
                self.link_up = false;
                self.stale_invite_until = None;
                if self.state.is_live() {
                    self.end(CallEndReason::SignalingClosed, None);
                }
                Ok(())
            }
            CallInput::MediaConnected { call_id } | CallInput::IceRestartCompleted { call_id } => {
                self.on_media_connected(call_id);
                Ok(())
            }
            CallInput::MediaDisconnected { call_id } => {
                self.on_media_disconnected(now, call_id);
                Ok(())
            }
            CallInput::MediaFailed { call_id } => {
                self.on_media_failed(now, call_id);
                Ok(())
            }
            CallInput::MediaPeerHungUp { call_id } => {
                if self.detached && self.media_event_applies(call_id) {
                    self.end(CallEndReason::PeerHungUp, None);
                }
                Ok(())
            }
        };
        self.report_signaling();
        result
    }

    // ---- local actions ----

    /// Starts an outgoing call to `callee` with `request`: an `invite`, or
    /// a `room_admit` (the server answers both the same way).
    fn dial(
        &mut self,
        now: Instant,
        callee: UserId,
        appointment_id: Option<String>,
        request: ClientMessage,
    ) -> Result<(), CallError> {
        if self.state.is_live() {
            return Err(CallError::Busy);
        }
        if self.stale_invite_until.is_some() {
            return Err(CallError::InviteOutstanding);
        }
        if !self.link_up {
            return Err(CallError::SignalingUnavailable);
        }
        self.begin_call(CallInfo {
            call_id: None,
            direction: CallDirection::Outgoing,
            peer_id: callee,
            peer: None,
            appointment_id,
            role: None,
        });
        self.send(request);
        self.deadline = Some(after(now, self.config.outgoing_ring_timeout));
        self.set_state(CallState::OutgoingRinging { call_id: None });
        Ok(())
    }

    fn accept(&mut self, now: Instant) -> Result<(), CallError> {
        let CallState::IncomingRinging { call_id } = self.state else {
            return Err(CallError::NotRinging);
        };
        if !self.link_up {
            return Err(CallError::SignalingUnavailable);
        }
        self.send(ClientMessage::Accept { call_id });
        self.deadline = Some(after(now, self.config.connect_timeout));
        self.set_state(CallState::Connecting {
            call_id,
            role: None,
        });
        Ok(())
    }

    fn reject(&mut self) -> Result<(), CallError> {
        let CallState::IncomingRinging { call_id } = self.state else {
            return Err(CallError::NotRinging);
        };
        self.declined = Some(call_id);
        self.end(
            CallEndReason::LocalReject,
            Some(ClientMessage::Reject { call_id }),
        );
        Ok(())
    }

    fn cancel(&mut self, now: Instant) -> Result<(), CallError> {
        match self.call.as_ref().map(|c| c.direction) {
            _ if !self.state.is_live() => Err(CallError::NoCall),
            Some(CallDirection::Incoming) => Err(CallError::NotOutgoing),
            _ => self.hang_up(now),
        }
    }

    fn hang_up(&mut self, now: Instant) -> Result<(), CallError> {
        match self.state {
            CallState::Idle | CallState::Ended { .. } => Err(CallError::NoCall),
            CallState::OutgoingRinging { call_id: None } => {
                // The server has not named the call yet; its reply will, and
                // then we withdraw it (see `on_ringing`).
                self.stale_invite_until = Some(after(now, self.config.invite_reply_timeout));
                self.end(CallEndReason::LocalCancel, None);
                Ok(())
            }
            CallState::OutgoingRinging {
                call_id: Some(call_id),
            } => {
                // `hangup`, not `cancel`: if it crosses the callee's accept,
                // `cancel` would be refused (`wrong_call_state`) and leave the
                // call active on the server; `hangup` ends it either way.
                self.end(
                    CallEndReason::LocalCancel,
                    Some(ClientMessage::Hangup { call_id }),
                );
                Ok(())
            }
            CallState::IncomingRinging { .. } => self.reject(),
            CallState::Connecting { call_id, .. }
            | CallState::Connected { call_id }
            | CallState::Reconnecting { call_id } => {
                let msg = (!self.detached).then_some(ClientMessage::Hangup { call_id });
                self.end(CallEndReason::LocalHangUp, msg);
                Ok(())
            }
        }
    }

    // ---- server messages ----

    fn on_ringing(&mut self, call_id: CallId, callee: UserSummary) {
        match self.state {
            CallState::OutgoingRinging { call_id: None } => {
                if let Some(call) = &mut self.call {
                    call.call_id = Some(call_id);
                    call.peer = Some(callee);
                }
                self.set_state(CallState::OutgoingRinging {
                    call_id: Some(call_id),
                });
            }
            _ if self.state.is_live() && self.state.call_id() == Some(call_id) => {}
            _ => {
                // The reply to an invite we abandoned before it was named:
                // the callee is ringing for nothing, so withdraw the call.
                self.stale_invite_until = None;
                self.send(ClientMessage::Hangup { call_id });
            }
        }
    }

    fn on_incoming(
        &mut self,
        now: Instant,
        call_id: CallId,
        caller: UserSummary,
        appointment_id: Option<String>,
        ring_timeout_ms: u64,
    ) {
        let ring = Duration::from_millis(ring_timeout_ms).min(MAX_SERVER_RING)
            + self.config.incoming_ring_margin;
        match self.state {
            CallState::IncomingRinging { call_id: ringing } if ringing == call_id => {
                // Announced again: trust the server's newer count.
                self.deadline = Some(after(now, ring));
            }
            _ if self.state.is_live() && self.state.call_id() == Some(call_id) => {}
            CallState::Idle | CallState::Ended { .. } if self.declined == Some(call_id) => {
                // A new session announces a call we declined: our `reject`
                // never reached the server. Decline it again.
                self.send(ClientMessage::Reject { call_id });
            }
            CallState::Idle
            | CallState::Ended { .. }
            | CallState::OutgoingRinging { call_id: None } => {
                if matches!(self.state, CallState::OutgoingRinging { .. }) {
                    // Glare: the server rang us before it read our invite,
                    // which will now be refused (`already_in_call`). Answering
                    // this call is what the user can still do.
                    self.stale_invite_until = Some(after(now, self.config.invite_reply_timeout));
                }
                self.begin_call(CallInfo {
                    call_id: Some(call_id),
                    direction: CallDirection::Incoming,
                    peer_id: caller.id,
                    peer: Some(caller),
                    appointment_id,
                    role: None,
                });
                self.deadline = Some(after(now, ring));
                self.set_state(CallState::IncomingRinging { call_id });
            }
            CallState::Connected { .. } | CallState::Reconnecting { .. } if self.detached => {
                // The server forgot our call and thinks we are free. We are
                // not: decline, as the server would have answered `busy`.
                self.send(ClientMessage::Reject { call_id });
                self.event(CallEvent::AutoRejected { call_id, caller });
            }
            // One call per user: the server does not ring a user in a call.
            // Should it anyway, ringing over a live call would be worse.
            _ => {}
        }
    }

    fn on_accepted(&mut self, now: Instant, call_id: CallId) {
        if !self.state.is_live() || self.state.call_id() != Some(call_id) {
            // Another call's, or ours after we ended it locally: our `hangup`
            // is on its way and will end it on the server.
            return;
        }
        let role = match self.state {
            CallState::OutgoingRinging { .. } => MediaRole::Offerer,
            CallState::Connecting { role: None, .. } => MediaRole::Answerer,
            // A duplicate, or a confirmation for an accept we never sent.
            _ => return,
        };
        if let Some(call) = &mut self.call {
            call.role = Some(role);
        }
        self.media_started = true;
        self.push(CallOutput::StartMedia { call_id, role });
        self.deadline = Some(after(now, self.config.connect_timeout));
        self.set_state(CallState::Connecting {
            call_id,
            role: Some(role),
        });
    }

    fn on_ended(&mut self, call_id: CallId, reason: EndReason, by: Option<UserId>) {
        let invite_reply = matches!(reason, EndReason::Busy | EndReason::Unavailable);
        if invite_reply && matches!(self.state, CallState::OutgoingRinging { call_id: None }) {
            if let Some(call) = &mut self.call {
                call.call_id = Some(call_id);
            }
            // The call never rang, so it is ended under the id the server
            // gave it, without a separate "ringing" state change.
            self.state = CallState::OutgoingRinging {
                call_id: Some(call_id),
            };
            self.end(CallEndReason::Server { reason, by }, None);
            return;
        }
        if !self.state.is_live() || self.state.call_id() != Some(call_id) {
            if invite_reply && self.state.call_id() != Some(call_id) {
                // The reply to an invite we abandoned: nothing rang.
                self.stale_invite_until = None;
            }
            return;
        }
        if reason == EndReason::ConnectionLost && matches!(self.state, CallState::Connected { .. })
        {
            // The other device's signaling is gone, not (yet) its media:
            // keep the call peer to peer, as the other side does when it
            // comes back to a new session.
            self.detached = true;
            return;
        }
        self.end(CallEndReason::Server { reason, by }, None);
    }

    fn on_error(&mut self, code: ErrorCode, call_id: Option<CallId>) {
        let invite_refusal = code == ErrorCode::AlreadyInCall
            || (call_id.is_none()
                && matches!(
                    code,
                    ErrorCode::NotFound
                        | ErrorCode::Forbidden
                        | ErrorCode::Unavailable
                        | ErrorCode::InvalidField
                        | ErrorCode::Internal
                ));
        if matches!(self.state, CallState::OutgoingRinging { call_id: None }) {
            // Any other error (rate limits, a late one about an old call) is
            // not about the invite; the ring timeout bounds the wait.
            if invite_refusal {
                self.end(CallEndReason::InviteRefused(code), None);
            }
            return;
        }
        if invite_refusal {
            // The reply to an abandoned invite, if one is due; otherwise a
            // stray. Either way the live call is not concerned.
            self.stale_invite_until = None;
            return;
        }
        let Some(call_id) = call_id else { return };
        if !self.state.is_live() || self.state.call_id() != Some(call_id) {
            return;
        }
        match (&self.state, code) {
            (
                CallState::Connecting { role: None, .. },
                ErrorCode::AlreadyAnswered | ErrorCode::NotFound | ErrorCode::NotAParty,
            ) => {
                self.end(CallEndReason::AcceptRefused(code), None);
            }
            (CallState::Connected { .. }, ErrorCode::NotFound) => self.detached = true,
            (_, ErrorCode::NotFound) => self.end(CallEndReason::UnknownToServer, None),
            // `wrong_call_state` for a signal sent early, rate limits and the
            // like are the WebRTC session's business, not the call's.
            _ => {}
        }
    }

    // ---- signaling connection ----

    fn on_signaling_restored(&mut self, now: Instant, resumed: bool) {
        self.link_up = true;
        if resumed {
            if self.restart_wanted && matches!(self.state, CallState::Reconnecting { .. }) {
                self.restart_ice(now);
            }
            return;
        }
        // A new session: the server has dropped our old one and every call
        // it carried (ending them `connection_lost` for the other party).
        self.stale_invite_until = None;
        match self.state {
            CallState::Idle | CallState::Ended { .. } => {}
            CallState::Connected { .. } => self.detached = true,
            // Already unknown to the server: one more new session changes
            // nothing; the media may still recover by itself.
            CallState::Reconnecting { .. } if self.detached => {}
            _ => self.end(CallEndReason::SessionLost, None),
        }
    }

    // ---- media ----

    fn media_event_applies(&self, call_id: CallId) -> bool {
        // Events from a media session that is being torn down (an earlier
        // call, or ours after StopMedia) are stale.
        self.media_started && self.state.call_id() == Some(call_id)
    }

    fn on_media_connected(&mut self, call_id: CallId) {
        if !self.media_event_applies(call_id) {
            return;
        }
        if matches!(
            self.state,
            CallState::Connecting { .. } | CallState::Reconnecting { .. }
        ) {
            self.clear_timers();
            self.set_state(CallState::Connected { call_id });
        }
    }

    fn on_media_disconnected(&mut self, now: Instant, call_id: CallId) {
        if !self.media_event_applies(call_id) {
            return;
        }
        // While connecting, ICE flaps as it tries pairs; the connect timeout
        // governs. While reconnecting, we already know.
        if matches!(self.state, CallState::Connected { .. }) {
            self.enter_reconnecting(now, after(now, self.config.disconnect_grace));
        }
    }

    fn on_media_failed(&mut self, now: Instant, call_id: CallId) {
        if !self.media_event_applies(call_id) {
            return;
        }
        match self.state {
            CallState::Connecting { call_id, .. } => {
                self.end(
                    CallEndReason::MediaFailed,
                    Some(ClientMessage::Hangup { call_id }),
                );
            }
            CallState::Connected { .. } | CallState::Reconnecting { .. } if self.detached => {
                // Nothing can restart ICE without the server.
                self.end(CallEndReason::ReconnectFailed, None);
            }
            CallState::Connected { .. } => {
                self.enter_reconnecting(now, now);
                self.restart_ice(now);
            }
            CallState::Reconnecting { .. } => {
                let recent = self.last_restart.is_some_and(|t| {
                    now.saturating_duration_since(t) < self.config.ice_restart_interval
                });
                // A restart issued moments ago may be what just failed; the
                // next attempt is already scheduled.
                if !recent {
                    self.restart_ice(now);
                }
            }
            _ => {}
        }
    }

    fn enter_reconnecting(&mut self, now: Instant, first_restart: Instant) {
        let CallState::Connected { call_id } = self.state else {
            return;
        };
        self.deadline = Some(after(now, self.config.reconnect_timeout));
        self.restart_at = (!self.detached).then_some(first_restart);
        self.restart_wanted = false;
        self.last_restart = None;
        self.set_state(CallState::Reconnecting { call_id });
    }

    /// Emits `RestartIce` now if signaling can carry it, else remembers to
    /// on resume; schedules the next attempt.
    fn restart_ice(&mut self, now: Instant) {
        let CallState::Reconnecting { call_id } = self.state else {
            return;
        };
        if self.detached {
            self.restart_at = None;
            return;
        }
        if !self.link_up {
            self.restart_wanted = true;
            self.restart_at = None;
            return;
        }
        self.restart_wanted = false;
        self.last_restart = Some(now);
        self.restart_at = Some(after(now, self.config.ice_restart_interval));
        self.push(CallOutput::RestartIce { call_id });
    }

    // ---- time ----

    fn fire_timeouts(&mut self, now: Instant) {
        if self.stale_invite_until.is_some_and(|t| now >= t) {
            self.stale_invite_until = None;
        }
        if self.deadline.is_some_and(|t| now >= t) {
            self.deadline = None;
            self.on_deadline(now);
        }
        if self.restart_at.is_some_and(|t| now >= t) {
            self.restart_at = None;
            self.restart_ice(now);
        }
    }

    fn on_deadline(&mut self, now: Instant) {
        match self.state {
            CallState::OutgoingRinging { call_id: None } => {
                self.stale_invite_until = Some(after(now, self.config.invite_reply_timeout));
                self.end(CallEndReason::RingTimeout, None);
            }
            CallState::OutgoingRinging {
                call_id: Some(call_id),
            } => self.end(
                CallEndReason::RingTimeout,
                Some(ClientMessage::Hangup { call_id }),
            ),
            // The caller's side and the server time a ring out; `reject`
            // would tell the caller we declined, which we did not.
            CallState::IncomingRinging { .. } => self.end(CallEndReason::RingTimeout, None),
            CallState::Connecting { call_id, .. } => self.end(
                CallEndReason::ConnectTimeout,
                Some(ClientMessage::Hangup { call_id }),
            ),
            CallState::Reconnecting { call_id } => {
                let msg = (!self.detached).then_some(ClientMessage::Hangup { call_id });
                self.end(CallEndReason::ReconnectFailed, msg);
            }
            CallState::Idle | CallState::Connected { .. } | CallState::Ended { .. } => {}
        }
    }

    // ---- helpers ----

    fn begin_call(&mut self, call: CallInfo) {
        self.clear_timers();
        self.detached = false;
        self.media_started = false;
        self.declined = None;
        self.call = Some(call);
    }

    /// Ends the live call: the message to send (if any), then `StopMedia`
    /// if media was started, then the state change.
    fn end(&mut self, reason: CallEndReason, msg: Option<ClientMessage>) {
        let call_id = self.state.call_id();
        if let Some(msg) = msg {
            self.send(msg);
        }
        if self.media_started {
            self.media_started = false;
            if let Some(call_id) = call_id {
                self.push(CallOutput::StopMedia { call_id });
            }
        }
        self.clear_timers();
        self.detached = false;
        self.set_state(CallState::Ended { call_id, reason });
    }

    fn clear_timers(&mut self) {
        self.deadline = None;
        self.restart_at = None;
        self.restart_wanted = false;
        self.last_restart = None;
    }

    fn set_state(&mut self, state: CallState) {
        self.state = state.clone();
        self.event(CallEvent::StateChanged(state));
    }

    fn report_signaling(&mut self) {
        let now = self.signaling();
        if now != self.reported_signaling {
            self.reported_signaling = now;
            self.event(CallEvent::SignalingChanged(now));
        }
    }

    fn send(&mut self, msg: ClientMessage) {
        self.push(CallOutput::SendSignaling(msg));
    }

    fn event(&mut self, event: CallEvent) {
        self.push(CallOutput::Event(event));
    }

    fn push(&mut self, output: CallOutput) {
        self.outputs.push_back(output);
    }
}

impl Default for CallMachine {
    fn default() -> Self {
        Self::new(CallConfig::default())
    }
}

/// `now + d`, saturating far in the future instead of overflowing.
fn after(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}
