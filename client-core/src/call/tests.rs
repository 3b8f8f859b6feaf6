//! Unit tests: every rule and both orders of every race, with time as an
//! input. Builders (`outgoing_call_connected()` and friends) put a machine in
//! a state the way a real call would, and drain what that produced.

use super::*;
use clinicall_protocol::{
    AppointmentId, CallId, ClientMessage, EndReason, ErrorCode, Role, UserId, UserSummary,
};
use std::time::{Duration, Instant};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

fn user(name: &str, role: Role) -> UserSummary {
    UserSummary {
        id: UserId::random(),
        display_name: name.into(),
        role,
    }
}

/// A machine, a clock, and the people in the call.
struct Sim {
    m: CallMachine,
    now: Instant,
    peer: UserSummary,
    call_id: CallId,
}

impl Sim {
    fn new() -> Self {
        let mut sim = Sim {
            m: CallMachine::default(),
            now: Instant::now(),
            peer: user("Dr. Ada", Role::Doctor),
            call_id: CallId::random(),
        };
        sim.input_ok(CallInput::SignalingRestored { resumed: false });
        sim
    }

    /// Feeds an input that must be accepted; returns what it produced.
    fn input_ok(&mut self, input: CallInput) -> Vec<CallOutput> {
        self.m
            .handle_input(self.now, input.clone())
            .unwrap_or_else(|e| panic!("{input:?} refused: {e}"));
        self.drain()
    }

    /// Feeds an input; returns the result and what it produced.
    fn input(&mut self, input: CallInput) -> (Result<(), CallError>, Vec<CallOutput>) {
        let result = self.m.handle_input(self.now, input);
        (result, self.drain())
    }

    /// Moves the clock and fires due timeouts.
    fn advance(&mut self, by: Duration) -> Vec<CallOutput> {
        self.now += by;
        self.m.handle_timeout(self.now);
        self.drain()
    }

    fn drain(&mut self) -> Vec<CallOutput> {
        std::iter::from_fn(|| self.m.poll_output()).collect()
    }

    fn state(&self) -> &CallState {
        self.m.state()
    }

    fn ended_reason(&self) -> CallEndReason {
        match self.m.state() {
            CallState::Ended { reason, .. } => reason.clone(),
            other => panic!("not ended: {other:?}"),
        }
    }

    // Server messages for the call under test.
    fn ringing(&self) -> CallInput {
        CallInput::CallRinging {
            call_id: self.call_id,
            callee: self.peer.clone(),
        }
    }
    fn incoming(&self) -> CallInput {
        incoming(self.call_id, &self.peer)
    }
    fn accepted(&self) -> CallInput {
        CallInput::CallAccepted {
            call_id: self.call_id,
        }
    }
    fn ended(&self, reason: EndReason) -> CallInput {
        CallInput::CallEnded {
            call_id: self.call_id,
            reason,
            by: None,
        }
    }
    fn error(&self, code: ErrorCode) -> CallInput {
        CallInput::ServerError {
            code,
            call_id: Some(self.call_id),
        }
    }
    fn media_connected(&self) -> CallInput {
        CallInput::MediaConnected {
            call_id: self.call_id,
        }
    }
    fn media_disconnected(&self) -> CallInput {
        CallInput::MediaDisconnected {
            call_id: self.call_id,
        }
    }
    fn media_failed(&self) -> CallInput {
        CallInput::MediaFailed {
            call_id: self.call_id,
        }
    }
    fn dial(&self) -> CallInput {
        CallInput::Dial {
            callee: self.peer.id,
            appointment_id: Some("appt-42".into()),
        }
    }
}

fn incoming(call_id: CallId, caller: &UserSummary) -> CallInput {
    CallInput::CallIncoming {
        call_id,
        caller: caller.clone(),
        appointment_id: None,
        ring_timeout_ms: 30_000,
    }
}

// ---- builders ----

fn outgoing_call_dialing() -> Sim {
    let mut sim = Sim::new();
    let dial = sim.dial();
    sim.input_ok(dial);
    sim
}

fn outgoing_call_ringing() -> Sim {
    let mut sim = outgoing_call_dialing();
    let ringing = sim.ringing();
    sim.input_ok(ringing);
    sim
}

fn outgoing_call_accepted() -> Sim {
    let mut sim = outgoing_call_ringing();
    let accepted = sim.accepted();
    sim.input_ok(accepted);
    sim
}

fn outgoing_call_connected() -> Sim {
    let mut sim = outgoing_call_accepted();
    let connected = sim.media_connected();
    sim.input_ok(connected);
    sim
}

fn incoming_call_ringing() -> Sim {
    let mut sim = Sim::new();
    let incoming = sim.incoming();
    sim.input_ok(incoming);
    sim
}

fn incoming_call_accepting() -> Sim {
    let mut sim = incoming_call_ringing();
    sim.input_ok(CallInput::Accept);
    sim
}

fn incoming_call_connecting() -> Sim {
    let mut sim = incoming_call_accepting();
    let accepted = sim.accepted();
    sim.input_ok(accepted);
    sim
}

fn incoming_call_connected() -> Sim {
    let mut sim = incoming_call_connecting();
    let connected = sim.media_connected();
    sim.input_ok(connected);
    sim
}

fn outgoing_call_reconnecting() -> Sim {
    let mut sim = outgoing_call_connected();
    let disconnected = sim.media_disconnected();
    sim.input_ok(disconnected);
    sim
}

/// A connected call whose server session was replaced by a new one.
fn outgoing_call_detached() -> Sim {
    let mut sim = outgoing_call_connected();
    sim.input_ok(CallInput::SignalingLost);
    sim.input_ok(CallInput::SignalingRestored { resumed: false });
    sim
}

// ---- output helpers ----

fn sent(outputs: &[CallOutput]) -> Vec<ClientMessage> {
    outputs
        .iter()
        .filter_map(|o| match o {
            CallOutput::SendSignaling(msg) => Some(msg.clone()),
            _ => None,
        })
        .collect()
}

fn states(outputs: &[CallOutput]) -> Vec<CallState> {
    outputs
        .iter()
        .filter_map(|o| match o {
            CallOutput::Event(CallEvent::StateChanged(s)) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn stops(outputs: &[CallOutput]) -> usize {
    outputs
        .iter()
        .filter(|o| matches!(o, CallOutput::StopMedia { .. }))
        .count()
}

fn starts(outputs: &[CallOutput]) -> Vec<MediaRole> {
    outputs
        .iter()
        .filter_map(|o| match o {
            CallOutput::StartMedia { role, .. } => Some(*role),
            _ => None,
        })
        .collect()
}

fn restarts(outputs: &[CallOutput]) -> usize {
    outputs
        .iter()
        .filter(|o| matches!(o, CallOutput::RestartIce { .. }))
        .count()
}

fn signaling_events(outputs: &[CallOutput]) -> Vec<CallSignaling> {
    outputs
        .iter()
        .filter_map(|o| match o {
            CallOutput::Event(CallEvent::SignalingChanged(s)) => Some(*s),
            _ => None,
        })
        .collect()
}

fn hangup(call_id: CallId) -> ClientMessage {
    ClientMessage::Hangup { call_id }
}

// ---- starting up ----

#[test]
fn a_new_machine_is_idle_with_signaling_down() {
    let mut m = CallMachine::default();
    assert_eq!(m.state(), &CallState::Idle);
    assert_eq!(m.signaling(), CallSignaling::Interrupted);
    assert_eq!(m.poll_timeout(), None);
    assert_eq!(m.poll_output(), None);
}

#[test]
fn the_first_welcome_reports_signaling_available() {
    let mut m = CallMachine::default();
    m.handle_input(
        Instant::now(),
        CallInput::SignalingRestored { resumed: false },
    )
    .unwrap();
    assert_eq!(
        m.poll_output(),
        Some(CallOutput::Event(CallEvent::SignalingChanged(
            CallSignaling::Available
        )))
    );
    assert_eq!(m.poll_output(), None);
    assert_eq!(m.state(), &CallState::Idle);
}

// ---- dialling ----

#[test]
fn dial_sends_invite_and_waits_for_the_call_id() {
    let mut sim = Sim::new();
    let dial = sim.dial();
    let out = sim.input_ok(dial);
    assert_eq!(
        sent(&out),
        [ClientMessage::Invite {
            callee: sim.peer.id,
            appointment_id: Some("appt-42".into()),
        }]
    );
    assert_eq!(states(&out), [CallState::OutgoingRinging { call_id: None }]);
    let call = sim.m.call().unwrap();
    assert_eq!(call.direction, CallDirection::Outgoing);
    assert_eq!(call.peer_id, sim.peer.id);
    assert_eq!(call.appointment_id.as_deref(), Some("appt-42"));
}

#[test]
fn admitting_a_waiting_patient_is_an_outgoing_call_labelled_with_the_appointment() {
    let mut sim = Sim::new();
    let appointment = AppointmentId::random();
    let out = sim.input_ok(CallInput::Admit {
        appointment_id: appointment,
        patient: sim.peer.id,
    });
    assert_eq!(
        sent(&out),
        [ClientMessage::RoomAdmit {
            appointment_id: appointment
        }]
    );
    assert_eq!(states(&out), [CallState::OutgoingRinging { call_id: None }]);
    let appointment_label = appointment.to_string();
    let call = sim.m.call().unwrap();
    assert_eq!(call.direction, CallDirection::Outgoing);
    assert_eq!(
        call.appointment_id.as_deref(),
        Some(appointment_label.as_str())
    );
    // The server answers an admit like an invite.
    let ringing = sim.ringing();
    let out = sim.input_ok(ringing);
    assert_eq!(
        states(&out),
        [CallState::OutgoingRinging {
            call_id: Some(sim.call_id)
        }]
    );
}

#[test]
fn an_admit_nobody_waits_for_ends_as_refused() {
    let mut sim = Sim::new();
    sim.input_ok(CallInput::Admit {
        appointment_id: AppointmentId::random(),
        patient: sim.peer.id,
    });
    sim.input_ok(CallInput::ServerError {
        code: ErrorCode::NotFound,
        call_id: None,
    });
    assert_eq!(
        sim.ended_reason(),
        CallEndReason::InviteRefused(ErrorCode::NotFound)
    );
}

#[test]
fn call_ringing_names_the_call() {
    let mut sim = outgoing_call_dialing();
    let ringing = sim.ringing();
    let out = sim.input_ok(ringing);
    assert_eq!(
        states(&out),
        [CallState::OutgoingRinging {
            call_id: Some(sim.call_id)
        }]
    );
    assert!(sent(&out).is_empty());
    assert_eq!(sim.m.call().unwrap().peer.as_ref(), Some(&sim.peer));
}

#[test]
fn dial_is_refused_while_signaling_is_down() {
    let mut sim = Sim::new();
    sim.input_ok(CallInput::SignalingLost);
    let dial = sim.dial();
    let (result, out) = sim.input(dial);
    assert_eq!(result, Err(CallError::SignalingUnavailable));
    assert!(out.is_empty());
    assert_eq!(sim.state(), &CallState::Idle);
}

#[test]
fn dial_is_refused_during_a_call() {
    for mut sim in [
        outgoing_call_dialing(),
        outgoing_call_ringing(),
        incoming_call_ringing(),
        incoming_call_accepting(),
        outgoing_call_connected(),
        outgoing_call_reconnecting(),
    ] {
        let before = sim.state().clone();
        let dial = sim.dial();
        let (result, out) = sim.input(dial);
        assert_eq!(result, Err(CallError::Busy), "in {before:?}");
        assert!(out.is_empty());
        assert_eq!(sim.state(), &before);
    }
}

#[test]
fn busy_and_unavailable_replies_end_the_dial_with_the_servers_id() {
    for reason in [EndReason::Busy, EndReason::Unavailable] {
        let mut sim = outgoing_call_dialing();
        let ended = sim.ended(reason);
        let out = sim.input_ok(ended);
        assert_eq!(
            states(&out),
            [CallState::Ended {
                call_id: Some(sim.call_id),
                reason: CallEndReason::Server { reason, by: None },
            }]
        );
        assert!(sent(&out).is_empty());
        assert_eq!(stops(&out), 0);
    }
}

#[test]
fn other_call_ended_reasons_while_dialing_are_not_the_invites_reply() {
    let mut sim = outgoing_call_dialing();
    // A late hung_up for some earlier call: not ours.
    let out = sim.input_ok(CallInput::CallEnded {
        call_id: CallId::random(),
        reason: EndReason::HungUp,
        by: None,
    });
    assert!(out.is_empty());
    assert_eq!(sim.state(), &CallState::OutgoingRinging { call_id: None });
}

#[test]
fn invite_refusals_end_the_dial() {
    for (code, call_id) in [
        (ErrorCode::NotFound, None),
        (ErrorCode::Forbidden, None),
        (ErrorCode::Unavailable, None),
        (ErrorCode::InvalidField, None),
        (ErrorCode::AlreadyInCall, Some(CallId::random())),
    ] {
        let mut sim = outgoing_call_dialing();
        let out = sim.input_ok(CallInput::ServerError { code, call_id });
        assert_eq!(
            states(&out),
            [CallState::Ended {
                call_id: None,
                reason: CallEndReason::InviteRefused(code),
            }],
            "{code:?}"
        );
        assert!(sent(&out).is_empty());
    }
}

#[test]
fn errors_unrelated_to_the_invite_are_ignored_while_dialing() {
    let mut sim = outgoing_call_dialing();
    for input in [
        CallInput::ServerError {
            code: ErrorCode::RateLimited,
            call_id: None,
        },
        CallInput::ServerError {
            code: ErrorCode::NotFound,
            call_id: Some(CallId::random()),
        },
        CallInput::ServerError {
            code: ErrorCode::AlreadyGreeted,
            call_id: None,
        },
    ] {
        assert!(sim.input_ok(input).is_empty());
    }
    assert_eq!(sim.state(), &CallState::OutgoingRinging { call_id: None });
}

#[test]
fn ended_counts_as_idle_for_a_new_dial() {
    let mut sim = outgoing_call_connected();
    sim.input_ok(CallInput::HangUp);
    let dial = sim.dial();
    let out = sim.input_ok(dial);
    assert_eq!(states(&out), [CallState::OutgoingRinging { call_id: None }]);
    assert_eq!(sim.m.call().unwrap().call_id, None);
}

// ---- the caller's side of an answer ----

#[test]
fn the_caller_becomes_offerer_on_call_accepted() {
    let mut sim = outgoing_call_ringing();
    let accepted = sim.accepted();
    let out = sim.input_ok(accepted);
    assert_eq!(starts(&out), [MediaRole::Offerer]);
    assert_eq!(
        sim.state(),
        &CallState::Connecting {
            call_id: sim.call_id,
            role: Some(MediaRole::Offerer)
        }
    );
    assert_eq!(sim.m.call().unwrap().role, Some(MediaRole::Offerer));
}

#[test]
fn a_second_call_accepted_is_ignored() {
    for mut sim in [outgoing_call_accepted(), outgoing_call_connected()] {
        let before = sim.state().clone();
        let accepted = sim.accepted();
        assert!(sim.input_ok(accepted).is_empty());
        assert_eq!(sim.state(), &before);
    }
}

#[test]
fn call_accepted_before_call_ringing_is_ignored() {
    let mut sim = outgoing_call_dialing();
    let accepted = sim.accepted();
    assert!(sim.input_ok(accepted).is_empty());
    assert_eq!(sim.state(), &CallState::OutgoingRinging { call_id: None });
}

#[test]
fn media_connected_makes_the_call_connected() {
    let mut sim = outgoing_call_accepted();
    let connected = sim.media_connected();
    let out = sim.input_ok(connected);
    assert_eq!(
        states(&out),
        [CallState::Connected {
            call_id: sim.call_id
        }]
    );
    assert_eq!(sim.m.poll_timeout(), None);
}

#[test]
fn media_must_connect_in_time() {
    let mut sim = outgoing_call_accepted();
    assert_eq!(sim.m.poll_timeout(), Some(sim.now + secs(15)));
    assert!(sim.advance(ms(14_999)).is_empty());
    let out = sim.advance(ms(1));
    assert_eq!(sent(&out), [hangup(sim.call_id)]);
    assert_eq!(stops(&out), 1);
    assert_eq!(sim.ended_reason(), CallEndReason::ConnectTimeout);
}

#[test]
fn a_media_failure_before_connecting_ends_the_call() {
    let mut sim = outgoing_call_accepted();
    let failed = sim.media_failed();
    let out = sim.input_ok(failed);
    assert_eq!(sent(&out), [hangup(sim.call_id)]);
    assert_eq!(stops(&out), 1);
    assert_eq!(restarts(&out), 0);
    assert_eq!(sim.ended_reason(), CallEndReason::MediaFailed);
}

#[test]
fn ice_flapping_while_connecting_does_not_reconnect() {
    let mut sim = outgoing_call_accepted();
    let disconnected = sim.media_disconnected();
    assert!(sim.input_ok(disconnected).is_empty());
    let connected = sim.media_connected();
    sim.input_ok(connected);
    assert!(matches!(sim.state(), CallState::Connected { .. }));
}

// ---- the callee's side ----

#[test]
fn call_incoming_rings() {
    let mut sim = Sim::new();
    let incoming = sim.incoming();
    let out = sim.input_ok(incoming);
    assert_eq!(
        states(&out),
        [CallState::IncomingRinging {
            call_id: sim.call_id
        }]
    );
    let call = sim.m.call().unwrap();
    assert_eq!(call.direction, CallDirection::Incoming);
    assert_eq!(call.peer.as_ref(), Some(&sim.peer));
    // The server's ring timeout plus the margin.
    assert_eq!(sim.m.poll_timeout(), Some(sim.now + secs(35)));
}

#[test]
fn accepting_sends_accept_but_starts_no_media_until_the_server_confirms() {
    let mut sim = incoming_call_ringing();
    let out = sim.input_ok(CallInput::Accept);
    assert_eq!(
        sent(&out),
        [ClientMessage::Accept {
            call_id: sim.call_id
        }]
    );
    assert!(starts(&out).is_empty());
    assert_eq!(
        sim.state(),
        &CallState::Connecting {
            call_id: sim.call_id,
            role: None
        }
    );
    let accepted = sim.accepted();
    let out = sim.input_ok(accepted);
    assert_eq!(starts(&out), [MediaRole::Answerer]);
    assert_eq!(
        sim.state(),
        &CallState::Connecting {
            call_id: sim.call_id,
            role: Some(MediaRole::Answerer)
        }
    );
}

#[test]
fn call_accepted_without_a_local_accept_is_ignored() {
    let mut sim = incoming_call_ringing();
    let accepted = sim.accepted();
    assert!(sim.input_ok(accepted).is_empty());
    assert!(matches!(sim.state(), CallState::IncomingRinging { .. }));
}

#[test]
fn accept_when_not_ringing_is_an_error_with_no_output() {
    for mut sim in [
        Sim::new(),
        outgoing_call_dialing(),
        outgoing_call_ringing(),
        incoming_call_accepting(),
        incoming_call_connected(),
    ] {
        let before = sim.state().clone();
        let (result, out) = sim.input(CallInput::Accept);
        assert_eq!(result, Err(CallError::NotRinging), "in {before:?}");
        assert!(out.is_empty(), "in {before:?}: {out:?}");
        assert_eq!(sim.state(), &before);
    }
}

#[test]
fn accept_is_refused_while_signaling_is_down() {
    let mut sim = incoming_call_ringing();
    sim.input_ok(CallInput::SignalingLost);
    let (result, out) = sim.input(CallInput::Accept);
    assert_eq!(result, Err(CallError::SignalingUnavailable));
    assert!(out.is_empty());
    assert!(matches!(sim.state(), CallState::IncomingRinging { .. }));
}

#[test]
fn reject_sends_reject_and_ends_at_once() {
    let mut sim = incoming_call_ringing();
    let out = sim.input_ok(CallInput::Reject);
    assert_eq!(
        sent(&out),
        [ClientMessage::Reject {
            call_id: sim.call_id
        }]
    );
    assert_eq!(sim.ended_reason(), CallEndReason::LocalReject);
    // The server's confirmation changes nothing.
    let ended = sim.ended(EndReason::Rejected);
    assert!(sim.input_ok(ended).is_empty());
    assert_eq!(sim.ended_reason(), CallEndReason::LocalReject);
}

#[test]
fn reject_when_not_ringing_is_an_error() {
    for mut sim in [
        Sim::new(),
        outgoing_call_ringing(),
        incoming_call_accepting(),
    ] {
        let (result, out) = sim.input(CallInput::Reject);
        assert_eq!(result, Err(CallError::NotRinging));
        assert!(out.is_empty());
    }
}

#[test]
fn hang_up_while_ringing_incoming_rejects() {
    let mut sim = incoming_call_ringing();
    let out = sim.input_ok(CallInput::HangUp);
    assert_eq!(
        sent(&out),
        [ClientMessage::Reject {
            call_id: sim.call_id
        }]
    );
    assert_eq!(sim.ended_reason(), CallEndReason::LocalReject);
}

#[test]
fn cancel_of_an_incoming_call_is_an_error() {
    for mut sim in [incoming_call_ringing(), incoming_call_connected()] {
        let before = sim.state().clone();
        let (result, out) = sim.input(CallInput::Cancel);
        assert_eq!(result, Err(CallError::NotOutgoing));
        assert!(out.is_empty());
        assert_eq!(sim.state(), &before);
    }
}

#[test]
fn answered_elsewhere_ends_this_devices_ringing() {
    let mut sim = incoming_call_ringing();
    let ended = sim.ended(EndReason::AnsweredElsewhere);
    let out = sim.input_ok(ended);
    assert!(sent(&out).is_empty());
    assert_eq!(
        sim.ended_reason(),
        CallEndReason::Server {
            reason: EndReason::AnsweredElsewhere,
            by: None
        }
    );
}

#[test]
fn rejected_elsewhere_ends_this_devices_ringing() {
    let mut sim = incoming_call_ringing();
    let by = Some(UserId::random());
    let out = sim.input_ok(CallInput::CallEnded {
        call_id: sim.call_id,
        reason: EndReason::RejectedElsewhere,
        by,
    });
    assert!(sent(&out).is_empty());
    assert_eq!(
        sim.ended_reason(),
        CallEndReason::Server {
            reason: EndReason::RejectedElsewhere,
            by
        }
    );
}

#[test]
fn accept_losing_to_another_device_answered_elsewhere_first() {
    let mut sim = incoming_call_accepting();
    let ended = sim.ended(EndReason::AnsweredElsewhere);
    let out = sim.input_ok(ended);
    assert_eq!(stops(&out), 0);
    let error = sim.error(ErrorCode::AlreadyAnswered);
    assert!(sim.input_ok(error).is_empty());
    assert_eq!(
        sim.ended_reason(),
        CallEndReason::Server {
            reason: EndReason::AnsweredElsewhere,
            by: None
        }
    );
}

#[test]
fn accept_losing_to_another_device_already_answered_first() {
    let mut sim = incoming_call_accepting();
    let error = sim.error(ErrorCode::AlreadyAnswered);
    let out = sim.input_ok(error);
    assert!(sent(&out).is_empty());
    assert_eq!(stops(&out), 0);
    let ended = sim.ended(EndReason::AnsweredElsewhere);
    assert!(sim.input_ok(ended).is_empty());
    assert_eq!(
        sim.ended_reason(),
        CallEndReason::AcceptRefused(ErrorCode::AlreadyAnswered)
    );
}

#[test]
fn accept_crossing_the_callers_cancel() {
    // The server ends the call `cancelled` before it reads our accept.
    let mut sim = incoming_call_accepting();
    let ended = sim.ended(EndReason::Cancelled);
    sim.input_ok(ended);
    let error = sim.error(ErrorCode::NotFound);
    assert!(sim.input_ok(error).is_empty());
    assert_eq!(
        sim.ended_reason(),
        CallEndReason::Server {
            reason: EndReason::Cancelled,
            by: None
        }
    );
}

#[test]
fn waiting_for_the_accepts_confirmation_is_bounded() {
    let mut sim = incoming_call_accepting();
    let out = sim.advance(secs(15));
    assert_eq!(sent(&out), [hangup(sim.call_id)]);
    assert_eq!(stops(&out), 0);
    assert_eq!(sim.ended_reason(), CallEndReason::ConnectTimeout);
}

#[test]
fn the_callee_connects() {
    let sim = incoming_call_connected();
    assert_eq!(
        sim.state(),
        &CallState::Connected {
            call_id: sim.call_id
        }
    );
}

// ---- cancel and hang-up races ----

#[test]
fn cancel_then_the_remote_accept_arrives() {
    let mut sim = outgoing_call_ringing();
    let out = sim.input_ok(CallInput::Cancel);
    assert_eq!(sent(&out), [hangup(sim.call_id)]);
    assert_eq!(sim.ended_reason(), CallEndReason::LocalCancel);
    // The accept crossed our hangup: no media, nothing more to say; the
    // hangup ends the now-active call on the server.
    let accepted = sim.accepted();
    assert!(sim.input_ok(accepted).is_empty());
    let ended = sim.ended(EndReason::HungUp);
    assert!(sim.input_ok(ended).is_empty());
    assert_eq!(sim.ended_reason(), CallEndReason::LocalCancel);
}

#[test]
fn the_remote_accept_then_cancel_hangs_up() {
    let mut sim = outgoing_call_ringing();
    let accepted = sim.accepted();
    let out = sim.input_ok(accepted);
    assert_eq!(starts(&out).len(), 1);
    let out = sim.input_ok(CallInput::Cancel);
    assert_eq!(sent(&out), [hangup(sim.call_id)]);
    assert_eq!(stops(&out), 1);
    assert_eq!(sim.ended_reason(), CallEndReason::LocalHangUp);
}

#[test]
fn hang_up_while_ringing_then_the_remote_accept_arrives() {
    let mut sim = outgoing_call_ringing();
    let out = sim.input_ok(CallInput::HangUp);
    assert_eq!(sent(&out), [hangup(sim.call_id)]);
    let accepted = sim.accepted();
    let out = sim.input_ok(accepted);
    assert!(out.is_empty());
    assert_eq!(sim.ended_reason(), CallEndReason::LocalCancel);
}

#[test]
fn the_remote_accept_then_hang_up() {
    let mut sim = outgoing_call_ringing();
    let accepted = sim.accepted();
    sim.input_ok(accepted);
    let out = sim.input_ok(CallInput::HangUp);
    assert_eq!(sent(&out), [hangup(sim.call_id)]);
    assert_eq!(stops(&out), 1);
    assert_eq!(sim.ended_reason(), CallEndReason::LocalHangUp);
}

#[test]
fn local_hang_up_then_the_remote_hang_up() {
    let mut sim = outgoing_call_connected();
    let out = sim.input_ok(CallInput::HangUp);
    assert_eq!(stops(&out), 1);
    let ended = sim.ended(EndReason::HungUp);
    assert!(sim.input_ok(ended).is_empty());
    let error = sim.error(ErrorCode::NotFound);
    assert!(sim.input_ok(error).is_empty());
    assert_eq!(sim.ended_reason(), CallEndReason::LocalHangUp);
}

#[test]
fn the_remote_hang_up_then_a_local_hang_up() {
    let mut sim = incoming_call_connected();
    let by = Some(sim.peer.id);
    let out = sim.input_ok(CallInput::CallEnded {
        call_id: sim.call_id,
        reason: EndReason::HungUp,
        by,
    });
    assert!(sent(&out).is_empty());
    assert_eq!(stops(&out), 1);
    let (result, out) = sim.input(CallInput::HangUp);
    assert_eq!(result, Err(CallError::NoCall));
    assert!(out.is_empty());
    assert_eq!(
        sim.ended_reason(),
        CallEndReason::Server {
            reason: EndReason::HungUp,
            by
        }
    );
}

#[test]
fn hang_up_with_no_call_is_an_error() {
    let mut sim = Sim::new();
    for input in [CallInput::HangUp, CallInput::Cancel] {
        let (result, out) = sim.input(input);
        assert_eq!(result, Err(CallError::NoCall));
        assert!(out.is_empty());
    }
}

#[test]
fn the_server_ending_a_connected_call_stops_media() {
    let mut sim = outgoing_call_connected();
    let ended = sim.ended(EndReason::HungUp);
    let out = sim.input_ok(ended);
    assert!(sent(&out).is_empty());
    assert_eq!(stops(&out), 1);
    assert!(matches!(states(&out).as_slice(), [CallState::Ended { .. }]));
}

#[test]
fn the_outputs_of_an_end_come_in_order() {
    let mut sim = outgoing_call_connected();
    let out = sim.input_ok(CallInput::HangUp);
    assert_eq!(
        out,
        [
            CallOutput::SendSignaling(hangup(sim.call_id)),
            CallOutput::StopMedia {
                call_id: sim.call_id
            },
            CallOutput::Event(CallEvent::StateChanged(CallState::Ended {
                call_id: Some(sim.call_id),
                reason: CallEndReason::LocalHangUp,
            })),
        ]
    );
}

// ---- cancel before the call has an id ----

#[test]
fn cancel_before_call_ringing_withdraws_the_call_when_it_is_named() {
    let mut sim = outgoing_call_dialing();
    let out = sim.input_ok(CallInput::Cancel);
    assert!(sent(&out).is_empty());
    assert_eq!(sim.ended_reason(), CallEndReason::LocalCancel);
    // A new dial must wait for the first one's reply.
    let dial = sim.dial();
    let (result, out) = sim.input(dial);
    assert_eq!(result, Err(CallError::InviteOutstanding));
    assert!(out.is_empty());
    let ringing = sim.ringing();
    let out = sim.input_ok(ringing);
    assert_eq!(out, [CallOutput::SendSignaling(hangup(sim.call_id))]);
    let dial = sim.dial();
    sim.input_ok(dial);
}

#[test]
fn cancel_before_a_busy_reply_sends_nothing_more() {
    let mut sim = outgoing_call_dialing();
    sim.input_ok(CallInput::Cancel);
    let ended = sim.ended(EndReason::Busy);
    assert!(sim.input_ok(ended).is_empty());
    assert_eq!(sim.ended_reason(), CallEndReason::LocalCancel);
    let dial = sim.dial();
    sim.input_ok(dial);
}

#[test]
fn cancel_before_a_refusal_clears_the_outstanding_invite() {
    let mut sim = outgoing_call_dialing();
    sim.input_ok(CallInput::Cancel);
    let out = sim.input_ok(CallInput::ServerError {
        code: ErrorCode::NotFound,
        call_id: None,
    });
    assert!(out.is_empty());
    let dial = sim.dial();
    sim.input_ok(dial);
}

#[test]
fn an_invite_reply_that_never_comes_stops_blocking_dial() {
    let mut sim = outgoing_call_dialing();
    sim.input_ok(CallInput::Cancel);
    assert_eq!(sim.m.poll_timeout(), Some(sim.now + secs(10)));
    sim.advance(secs(10));
    assert_eq!(sim.m.poll_timeout(), None);
    let dial = sim.dial();
    sim.input_ok(dial);
}

// ---- glare ----

#[test]
fn an_incoming_call_while_dialing_takes_over() {
    let mut sim = outgoing_call_dialing();
    let other = CallId::random();
    let out = sim.input_ok(incoming(other, &sim.peer));
    assert_eq!(
        states(&out),
        [CallState::IncomingRinging { call_id: other }]
    );
    // Our invite's refusal names the call that rings us; it changes nothing.
    let out = sim.input_ok(CallInput::ServerError {
        code: ErrorCode::AlreadyInCall,
        call_id: Some(other),
    });
    assert!(out.is_empty());
    sim.input_ok(CallInput::Accept);
    let out = sim.input_ok(CallInput::CallAccepted { call_id: other });
    assert_eq!(starts(&out), [MediaRole::Answerer]);
}

#[test]
fn glare_where_our_invite_later_succeeds_withdraws_it() {
    // The other call ends before the server reads our invite, which then
    // rings: we no longer want it.
    let mut sim = outgoing_call_dialing();
    let other = CallId::random();
    sim.input_ok(incoming(other, &sim.peer));
    sim.input_ok(CallInput::CallEnded {
        call_id: other,
        reason: EndReason::Cancelled,
        by: None,
    });
    let ringing = sim.ringing();
    let out = sim.input_ok(ringing);
    assert_eq!(sent(&out), [hangup(sim.call_id)]);
    assert!(states(&out).is_empty());
}

// ---- stray and duplicate messages ----

#[test]
fn call_ended_for_another_call_is_ignored() {
    for mut sim in [
        outgoing_call_ringing(),
        incoming_call_ringing(),
        incoming_call_accepting(),
        outgoing_call_connected(),
        outgoing_call_reconnecting(),
    ] {
        let before = sim.state().clone();
        for reason in [
            EndReason::HungUp,
            EndReason::Busy,
            EndReason::ConnectionLost,
        ] {
            let out = sim.input_ok(CallInput::CallEnded {
                call_id: CallId::random(),
                reason,
                by: None,
            });
            assert!(out.is_empty(), "{before:?} {reason:?}: {out:?}");
        }
        assert_eq!(sim.state(), &before);
    }
}

#[test]
fn call_incoming_while_in_a_call_is_ignored() {
    for mut sim in [
        outgoing_call_ringing(),
        incoming_call_ringing(),
        incoming_call_accepting(),
        outgoing_call_connected(),
        outgoing_call_reconnecting(),
    ] {
        let before = sim.state().clone();
        let stranger = user("Stranger", Role::Patient);
        let out = sim.input_ok(incoming(CallId::random(), &stranger));
        assert!(out.is_empty(), "{before:?}: {out:?}");
        assert_eq!(sim.state(), &before);
        assert_eq!(sim.m.call().unwrap().peer_id, sim.peer.id);
    }
}

#[test]
fn a_repeated_call_incoming_for_the_ringing_call_only_refreshes_the_timer() {
    let mut sim = incoming_call_ringing();
    sim.now += secs(20);
    let out = sim.input_ok(CallInput::CallIncoming {
        call_id: sim.call_id,
        caller: sim.peer.clone(),
        appointment_id: None,
        ring_timeout_ms: 10_000,
    });
    assert!(out.is_empty());
    assert_eq!(sim.m.poll_timeout(), Some(sim.now + secs(15)));
}

#[test]
fn a_huge_ring_timeout_from_the_server_does_not_overflow() {
    let mut sim = Sim::new();
    let out = sim.input_ok(CallInput::CallIncoming {
        call_id: sim.call_id,
        caller: sim.peer.clone(),
        appointment_id: None,
        ring_timeout_ms: u64::MAX,
    });
    assert_eq!(states(&out).len(), 1);
    assert!(sim.m.poll_timeout().unwrap() <= sim.now + secs(11 * 60));
}

#[test]
fn a_stray_call_ringing_is_withdrawn() {
    let mut sim = Sim::new();
    let stray = CallId::random();
    let out = sim.input_ok(CallInput::CallRinging {
        call_id: stray,
        callee: sim.peer.clone(),
    });
    assert_eq!(out, [CallOutput::SendSignaling(hangup(stray))]);
    assert_eq!(sim.state(), &CallState::Idle);
}

#[test]
fn a_repeated_call_ringing_is_ignored() {
    let mut sim = outgoing_call_ringing();
    let ringing = sim.ringing();
    assert!(sim.input_ok(ringing).is_empty());
}

#[test]
fn unrelated_errors_about_the_call_are_ignored() {
    let mut sim = outgoing_call_connected();
    for code in [
        ErrorCode::WrongCallState,
        ErrorCode::RateLimited,
        ErrorCode::InvalidField,
        ErrorCode::Unknown,
    ] {
        let error = sim.error(code);
        assert!(sim.input_ok(error).is_empty(), "{code:?}");
    }
    assert!(matches!(sim.state(), CallState::Connected { .. }));
}

#[test]
fn media_events_for_another_call_are_ignored() {
    let mut sim = outgoing_call_connected();
    let other = CallId::random();
    for input in [
        CallInput::MediaDisconnected { call_id: other },
        CallInput::MediaFailed { call_id: other },
    ] {
        assert!(sim.input_ok(input).is_empty());
    }
    assert!(matches!(sim.state(), CallState::Connected { .. }));
}

#[test]
fn media_events_before_media_started_are_ignored() {
    let mut sim = incoming_call_accepting();
    for input in [sim.media_connected(), sim.media_failed()] {
        assert!(sim.input_ok(input).is_empty());
    }
    assert_eq!(
        sim.state(),
        &CallState::Connecting {
            call_id: sim.call_id,
            role: None
        }
    );
}

#[test]
fn media_events_after_the_end_are_ignored() {
    let mut sim = outgoing_call_connected();
    sim.input_ok(CallInput::HangUp);
    for input in [
        sim.media_connected(),
        sim.media_disconnected(),
        sim.media_failed(),
    ] {
        assert!(sim.input_ok(input).is_empty());
    }
}

// ---- media recovery ----

#[test]
fn disconnect_reconnects_restarts_ice_after_the_grace_and_recovers() {
    let mut sim = outgoing_call_connected();
    let disconnected = sim.media_disconnected();
    let out = sim.input_ok(disconnected);
    assert_eq!(
        states(&out),
        [CallState::Reconnecting {
            call_id: sim.call_id
        }]
    );
    assert_eq!(restarts(&out), 0);
    assert_eq!(sim.m.poll_timeout(), Some(sim.now + secs(2)));
    assert!(sim.advance(ms(1_999)).is_empty());
    let out = sim.advance(ms(1));
    assert_eq!(
        out,
        [CallOutput::RestartIce {
            call_id: sim.call_id
        }]
    );
    let out = sim.input_ok(CallInput::IceRestartCompleted {
        call_id: sim.call_id,
    });
    assert_eq!(
        states(&out),
        [CallState::Connected {
            call_id: sim.call_id
        }]
    );
    assert_eq!(sim.m.poll_timeout(), None);
}

#[test]
fn a_path_that_recovers_within_the_grace_needs_no_restart() {
    let mut sim = outgoing_call_reconnecting();
    sim.advance(secs(1));
    let connected = sim.media_connected();
    let out = sim.input_ok(connected);
    assert_eq!(
        states(&out),
        [CallState::Connected {
            call_id: sim.call_id
        }]
    );
    assert!(sim.advance(secs(60)).is_empty());
}

#[test]
fn media_failed_restarts_ice_at_once() {
    let mut sim = incoming_call_connected();
    let failed = sim.media_failed();
    let out = sim.input_ok(failed);
    assert_eq!(
        out,
        [
            CallOutput::Event(CallEvent::StateChanged(CallState::Reconnecting {
                call_id: sim.call_id
            })),
            CallOutput::RestartIce {
                call_id: sim.call_id
            },
        ]
    );
}

#[test]
fn media_failed_after_the_grace_restart_does_not_restart_again_at_once() {
    let mut sim = outgoing_call_reconnecting();
    assert_eq!(restarts(&sim.advance(secs(2))), 1);
    let failed = sim.media_failed();
    assert_eq!(restarts(&sim.input_ok(failed)), 0);
    // The next attempt is on schedule.
    assert_eq!(restarts(&sim.advance(secs(10))), 1);
}

#[test]
fn media_failed_while_reconnecting_restarts_when_none_is_recent() {
    let mut sim = outgoing_call_reconnecting();
    let failed = sim.media_failed();
    assert_eq!(restarts(&sim.input_ok(failed)), 1);
}

#[test]
fn restarts_repeat_then_give_up_and_hang_up() {
    let mut sim = outgoing_call_reconnecting();
    let mut total = 0;
    let mut ended = Vec::new();
    for _ in 0..30 {
        let out = sim.advance(secs(1));
        total += restarts(&out);
        ended.extend(out);
    }
    // At 2 s, 12 s and 22 s; given up at 30 s.
    assert_eq!(total, 3);
    assert_eq!(sent(&ended), [hangup(sim.call_id)]);
    assert_eq!(stops(&ended), 1);
    assert_eq!(sim.ended_reason(), CallEndReason::ReconnectFailed);
    assert_eq!(sim.m.poll_timeout(), None);
}

#[test]
fn a_late_media_connected_after_giving_up_does_not_revive_the_call() {
    let mut sim = outgoing_call_reconnecting();
    // The driver was late: the give-up deadline passed before this input.
    sim.now += secs(31);
    let connected = sim.media_connected();
    let out = sim.input_ok(connected);
    assert_eq!(stops(&out), 1);
    assert_eq!(sim.ended_reason(), CallEndReason::ReconnectFailed);
}

#[test]
fn hanging_up_while_reconnecting_stops_media_once() {
    let mut sim = outgoing_call_reconnecting();
    let out = sim.input_ok(CallInput::HangUp);
    assert_eq!(stops(&out), 1);
    assert_eq!(sent(&out), [hangup(sim.call_id)]);
    assert!(sim.advance(secs(60)).is_empty());
}

// ---- signaling down is not media down ----

#[test]
fn signaling_lost_while_connected_keeps_the_call_connected() {
    let mut sim = outgoing_call_connected();
    let out = sim.input_ok(CallInput::SignalingLost);
    assert_eq!(
        out,
        [CallOutput::Event(CallEvent::SignalingChanged(
            CallSignaling::Interrupted
        ))]
    );
    assert!(matches!(sim.state(), CallState::Connected { .. }));
    let out = sim.input_ok(CallInput::SignalingRestored { resumed: true });
    assert_eq!(signaling_events(&out), [CallSignaling::Available]);
    assert!(states(&out).is_empty());
}

#[test]
fn a_ringing_call_survives_a_resumed_signaling_outage() {
    for mut sim in [
        outgoing_call_ringing(),
        incoming_call_ringing(),
        outgoing_call_accepted(),
    ] {
        let before = sim.state().clone();
        sim.input_ok(CallInput::SignalingLost);
        sim.advance(secs(5));
        let out = sim.input_ok(CallInput::SignalingRestored { resumed: true });
        assert!(states(&out).is_empty());
        assert_eq!(sim.state(), &before);
    }
}

#[test]
fn an_ice_restart_due_while_signaling_is_down_waits_for_the_resume() {
    let mut sim = outgoing_call_connected();
    sim.input_ok(CallInput::SignalingLost);
    let disconnected = sim.media_disconnected();
    sim.input_ok(disconnected);
    assert_eq!(restarts(&sim.advance(secs(5))), 0);
    assert!(matches!(sim.state(), CallState::Reconnecting { .. }));
    let out = sim.input_ok(CallInput::SignalingRestored { resumed: true });
    assert_eq!(restarts(&out), 1);
}

#[test]
fn media_failed_while_signaling_is_down_restarts_on_resume() {
    let mut sim = outgoing_call_connected();
    sim.input_ok(CallInput::SignalingLost);
    let failed = sim.media_failed();
    let out = sim.input_ok(failed);
    assert_eq!(restarts(&out), 0);
    assert_eq!(states(&out).len(), 1);
    let out = sim.input_ok(CallInput::SignalingRestored { resumed: true });
    assert_eq!(restarts(&out), 1);
}

#[test]
fn signaling_state_is_reported_only_on_change() {
    let mut sim = outgoing_call_connected();
    sim.input_ok(CallInput::SignalingLost);
    assert!(sim.input_ok(CallInput::SignalingLost).is_empty());
    assert_eq!(sim.m.signaling(), CallSignaling::Interrupted);
}

// ---- a new session after a reconnect ----

#[test]
fn a_new_session_ends_calls_that_need_signaling() {
    for mut sim in [
        outgoing_call_dialing(),
        outgoing_call_ringing(),
        incoming_call_ringing(),
        incoming_call_accepting(),
        outgoing_call_accepted(),
        outgoing_call_reconnecting(),
    ] {
        let had_media = matches!(
            sim.state(),
            CallState::Connecting { role: Some(_), .. } | CallState::Reconnecting { .. }
        );
        sim.input_ok(CallInput::SignalingLost);
        let out = sim.input_ok(CallInput::SignalingRestored { resumed: false });
        assert!(sent(&out).is_empty(), "{out:?}");
        assert_eq!(stops(&out), usize::from(had_media));
        assert_eq!(sim.ended_reason(), CallEndReason::SessionLost);
        assert_eq!(sim.m.signaling(), CallSignaling::Available);
    }
}

#[test]
fn a_new_session_detaches_a_connected_call() {
    let mut sim = outgoing_call_connected();
    sim.input_ok(CallInput::SignalingLost);
    let out = sim.input_ok(CallInput::SignalingRestored { resumed: false });
    assert_eq!(
        out,
        [CallOutput::Event(CallEvent::SignalingChanged(
            CallSignaling::Detached
        ))]
    );
    assert!(matches!(sim.state(), CallState::Connected { .. }));
}

#[test]
fn hanging_up_a_detached_call_is_local_only() {
    let mut sim = outgoing_call_detached();
    let out = sim.input_ok(CallInput::HangUp);
    assert!(sent(&out).is_empty());
    assert_eq!(stops(&out), 1);
    assert_eq!(sim.ended_reason(), CallEndReason::LocalHangUp);
    assert_eq!(signaling_events(&out), [CallSignaling::Available]);
}

#[test]
fn a_detached_call_cannot_restart_ice() {
    let mut sim = outgoing_call_detached();
    let disconnected = sim.media_disconnected();
    let out = sim.input_ok(disconnected);
    assert_eq!(states(&out).len(), 1);
    let mut all = Vec::new();
    for _ in 0..30 {
        all.extend(sim.advance(secs(1)));
    }
    assert_eq!(restarts(&all), 0);
    assert!(sent(&all).is_empty());
    assert_eq!(stops(&all), 1);
    assert_eq!(sim.ended_reason(), CallEndReason::ReconnectFailed);
}

#[test]
fn a_detached_call_may_recover_by_itself() {
    let mut sim = outgoing_call_detached();
    let disconnected = sim.media_disconnected();
    sim.input_ok(disconnected);
    sim.advance(secs(3));
    let connected = sim.media_connected();
    sim.input_ok(connected);
    assert!(matches!(sim.state(), CallState::Connected { .. }));
    assert_eq!(sim.m.signaling(), CallSignaling::Detached);
}

#[test]
fn another_new_session_leaves_a_detached_call_recovering() {
    let mut sim = outgoing_call_detached();
    let disconnected = sim.media_disconnected();
    sim.input_ok(disconnected);
    sim.input_ok(CallInput::SignalingLost);
    let out = sim.input_ok(CallInput::SignalingRestored { resumed: false });
    assert!(states(&out).is_empty());
    let connected = sim.media_connected();
    sim.input_ok(connected);
    assert!(matches!(sim.state(), CallState::Connected { .. }));
}

#[test]
fn media_failed_on_a_detached_call_ends_it() {
    let mut sim = outgoing_call_detached();
    let failed = sim.media_failed();
    let out = sim.input_ok(failed);
    assert!(sent(&out).is_empty());
    assert_eq!(stops(&out), 1);
    assert_eq!(restarts(&out), 0);
    assert_eq!(sim.ended_reason(), CallEndReason::ReconnectFailed);
}

#[test]
fn connection_lost_while_media_flows_detaches() {
    let mut sim = incoming_call_connected();
    let lost = sim.ended(EndReason::ConnectionLost);
    let out = sim.input_ok(lost);
    assert_eq!(
        out,
        [CallOutput::Event(CallEvent::SignalingChanged(
            CallSignaling::Detached
        ))]
    );
    assert!(matches!(sim.state(), CallState::Connected { .. }));
}

#[test]
fn connection_lost_ends_calls_without_flowing_media() {
    for mut sim in [
        outgoing_call_ringing(),
        incoming_call_ringing(),
        outgoing_call_accepted(),
        outgoing_call_reconnecting(),
    ] {
        let lost = sim.ended(EndReason::ConnectionLost);
        sim.input_ok(lost);
        assert_eq!(
            sim.ended_reason(),
            CallEndReason::Server {
                reason: EndReason::ConnectionLost,
                by: None
            }
        );
    }
}

#[test]
fn not_found_for_a_connected_call_detaches_it() {
    let mut sim = outgoing_call_connected();
    let error = sim.error(ErrorCode::NotFound);
    sim.input_ok(error);
    assert_eq!(sim.m.signaling(), CallSignaling::Detached);
    assert!(matches!(sim.state(), CallState::Connected { .. }));
}

#[test]
fn not_found_for_a_call_that_needs_the_server_ends_it() {
    for mut sim in [
        outgoing_call_ringing(),
        outgoing_call_accepted(),
        outgoing_call_reconnecting(),
    ] {
        let had_media = sim.state().is_answered();
        let error = sim.error(ErrorCode::NotFound);
        let out = sim.input_ok(error);
        assert!(sent(&out).is_empty());
        assert_eq!(stops(&out), usize::from(had_media));
        assert_eq!(sim.ended_reason(), CallEndReason::UnknownToServer);
    }
}

#[test]
fn a_call_announced_again_by_a_new_session_rings_again() {
    let mut sim = incoming_call_ringing();
    sim.input_ok(CallInput::SignalingLost);
    sim.input_ok(CallInput::SignalingRestored { resumed: false });
    assert_eq!(sim.ended_reason(), CallEndReason::SessionLost);
    let out = sim.input_ok(CallInput::CallIncoming {
        call_id: sim.call_id,
        caller: sim.peer.clone(),
        appointment_id: None,
        ring_timeout_ms: 12_000,
    });
    assert_eq!(
        states(&out),
        [CallState::IncomingRinging {
            call_id: sim.call_id
        }]
    );
}

#[test]
fn a_declined_call_announced_again_is_declined_again() {
    let mut sim = incoming_call_ringing();
    sim.input_ok(CallInput::SignalingLost);
    sim.input_ok(CallInput::Reject);
    sim.input_ok(CallInput::SignalingRestored { resumed: false });
    let incoming = sim.incoming();
    let out = sim.input_ok(incoming);
    assert_eq!(
        out,
        [CallOutput::SendSignaling(ClientMessage::Reject {
            call_id: sim.call_id
        })]
    );
    assert_eq!(sim.ended_reason(), CallEndReason::LocalReject);
}

#[test]
fn a_call_to_a_detached_device_is_declined_as_busy() {
    let mut sim = outgoing_call_detached();
    let stranger = user("Pat", Role::Patient);
    let other = CallId::random();
    let out = sim.input_ok(incoming(other, &stranger));
    assert_eq!(
        out,
        [
            CallOutput::SendSignaling(ClientMessage::Reject { call_id: other }),
            CallOutput::Event(CallEvent::AutoRejected {
                call_id: other,
                caller: stranger,
            }),
        ]
    );
    assert_eq!(
        sim.state(),
        &CallState::Connected {
            call_id: sim.call_id
        }
    );
}

#[test]
fn a_new_session_lets_the_user_dial_after_an_abandoned_invite() {
    let mut sim = outgoing_call_dialing();
    sim.input_ok(CallInput::Cancel);
    sim.input_ok(CallInput::SignalingLost);
    sim.input_ok(CallInput::SignalingRestored { resumed: false });
    let dial = sim.dial();
    sim.input_ok(dial);
}

#[test]
fn signaling_closed_ends_any_live_call() {
    for mut sim in [
        outgoing_call_ringing(),
        incoming_call_ringing(),
        outgoing_call_connected(),
        outgoing_call_detached(),
    ] {
        let had_media = sim.state().is_answered();
        let out = sim.input_ok(CallInput::SignalingClosed);
        assert!(sent(&out).is_empty());
        assert_eq!(stops(&out), usize::from(had_media));
        assert_eq!(sim.ended_reason(), CallEndReason::SignalingClosed);
        assert_eq!(sim.m.signaling(), CallSignaling::Interrupted);
    }
}

// ---- ring timeouts ----

#[test]
fn an_outgoing_ring_times_out_locally_after_the_servers_timeout() {
    let mut sim = outgoing_call_ringing();
    assert!(sim.advance(secs(34)).is_empty());
    let out = sim.advance(secs(1));
    assert_eq!(sent(&out), [hangup(sim.call_id)]);
    assert_eq!(sim.ended_reason(), CallEndReason::RingTimeout);
}

#[test]
fn the_servers_ring_timeout_normally_comes_first() {
    let mut sim = outgoing_call_ringing();
    sim.advance(secs(30));
    let timeout = sim.ended(EndReason::Timeout);
    sim.input_ok(timeout);
    assert!(sim.advance(secs(30)).is_empty());
    assert_eq!(
        sim.ended_reason(),
        CallEndReason::Server {
            reason: EndReason::Timeout,
            by: None
        }
    );
}

#[test]
fn an_unanswered_invite_times_out_and_stops_blocking_dial_later() {
    let mut sim = outgoing_call_dialing();
    let out = sim.advance(secs(35));
    assert!(sent(&out).is_empty());
    assert_eq!(sim.ended_reason(), CallEndReason::RingTimeout);
    let dial = sim.dial();
    assert_eq!(sim.input(dial).0, Err(CallError::InviteOutstanding));
    sim.advance(secs(10));
    let dial = sim.dial();
    sim.input_ok(dial);
}

#[test]
fn an_incoming_ring_times_out_locally_without_declining() {
    let mut sim = incoming_call_ringing();
    let out = sim.advance(secs(35));
    assert!(sent(&out).is_empty());
    assert_eq!(sim.ended_reason(), CallEndReason::RingTimeout);
}

#[test]
fn accept_after_the_ring_deadline_is_refused() {
    let mut sim = incoming_call_ringing();
    sim.now += secs(40);
    let (result, out) = sim.input(CallInput::Accept);
    assert_eq!(result, Err(CallError::NotRinging));
    // Only the timeout's own end was emitted.
    assert!(sent(&out).is_empty());
    assert_eq!(sim.ended_reason(), CallEndReason::RingTimeout);
}

// ---- reset ----

#[test]
fn reset_returns_an_ended_call_to_idle() {
    let mut sim = outgoing_call_connected();
    sim.input_ok(CallInput::HangUp);
    sim.m.reset().unwrap();
    assert_eq!(sim.state(), &CallState::Idle);
    assert!(sim.m.call().is_none());
    assert_eq!(states(&sim.drain()), [CallState::Idle]);
    sim.m.reset().unwrap();
    assert!(sim.drain().is_empty());
}

#[test]
fn reset_refuses_a_live_call() {
    let mut sim = outgoing_call_connected();
    assert_eq!(sim.m.reset(), Err(CallError::Busy));
    assert!(sim.drain().is_empty());
    assert!(matches!(sim.state(), CallState::Connected { .. }));
}

// ---- mapping server messages ----

#[test]
fn server_messages_map_to_inputs() {
    use clinicall_protocol::ServerMessage;
    let call_id = CallId::random();
    assert_eq!(
        CallInput::from_server(&ServerMessage::CallAccepted { call_id }),
        Some(CallInput::CallAccepted { call_id })
    );
    assert_eq!(
        CallInput::from_server(&ServerMessage::Error {
            code: ErrorCode::AlreadyAnswered,
            message: "x".into(),
            call_id: Some(call_id),
        }),
        Some(CallInput::ServerError {
            code: ErrorCode::AlreadyAnswered,
            call_id: Some(call_id)
        })
    );
    assert_eq!(
        CallInput::from_server(&ServerMessage::CallEnded {
            call_id,
            reason: EndReason::Busy,
            by: None
        }),
        Some(CallInput::CallEnded {
            call_id,
            reason: EndReason::Busy,
            by: None
        })
    );
    assert_eq!(CallInput::from_server(&ServerMessage::Pong), None);
    assert_eq!(
        CallInput::from_server(&ServerMessage::Reconnect { after_ms: 5 }),
        None
    );
}

#[test]
fn end_reasons_have_stable_names() {
    assert_eq!(
        CallEndReason::Server {
            reason: EndReason::HungUp,
            by: None
        }
        .as_str(),
        "hung_up"
    );
    assert!(
        !CallEndReason::Server {
            reason: EndReason::HungUp,
            by: None
        }
        .is_local()
    );
    assert_eq!(CallEndReason::LocalHangUp.as_str(), "local_hang_up");
    assert!(CallEndReason::ReconnectFailed.is_local());
}

// ---- invariants under arbitrary input ----

/// A small deterministic generator, so the sequences are the same on
/// every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Random inputs, about a few calls, in random orders and at random times:
/// nothing panics, media stops exactly once per start, and the machine
/// stays consistent with what it reported.
#[test]
fn arbitrary_input_sequences_keep_the_invariants() {
    let reasons = [
        EndReason::Rejected,
        EndReason::Cancelled,
        EndReason::Timeout,
        EndReason::Busy,
        EndReason::Unavailable,
        EndReason::HungUp,
        EndReason::ConnectionLost,
        EndReason::AnsweredElsewhere,
        EndReason::RejectedElsewhere,
        EndReason::Unknown,
    ];
    let codes = [
        ErrorCode::NotFound,
        ErrorCode::AlreadyInCall,
        ErrorCode::AlreadyAnswered,
        ErrorCode::WrongCallState,
        ErrorCode::NotAParty,
        ErrorCode::RateLimited,
    ];
    for seed in 1..=300u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let peer = user("Peer", Role::Doctor);
        let calls = [CallId::random(), CallId::random(), CallId::random()];
        let mut m = CallMachine::default();
        let mut now = Instant::now();
        let mut live_media: Option<CallId> = None;
        let mut last_state = m.state().clone();
        let mut last_signaling = m.signaling();
        for _ in 0..200 {
            let call_id = calls[rng.below(calls.len())];
            let input = match rng.below(19) {
                0 => CallInput::Dial {
                    callee: peer.id,
                    appointment_id: None,
                },
                1 => CallInput::Accept,
                2 => CallInput::Reject,
                3 => CallInput::Cancel,
                4 => CallInput::HangUp,
                5 => CallInput::CallRinging {
                    call_id,
                    callee: peer.clone(),
                },
                6 => incoming(call_id, &peer),
                7 => CallInput::CallAccepted { call_id },
                8 => CallInput::CallEnded {
                    call_id,
                    reason: reasons[rng.below(reasons.len())],
                    by: None,
                },
                9 => CallInput::ServerError {
                    code: codes[rng.below(codes.len())],
                    call_id: if rng.below(2) == 0 {
                        None
                    } else {
                        Some(call_id)
                    },
                },
                10 => CallInput::SignalingLost,
                11 => CallInput::SignalingRestored {
                    resumed: rng.below(3) != 0,
                },
                12 => CallInput::SignalingClosed,
                13 => CallInput::MediaConnected { call_id },
                14 => CallInput::MediaDisconnected { call_id },
                15 => CallInput::MediaFailed { call_id },
                16 => CallInput::IceRestartCompleted { call_id },
                17 => {
                    now += Duration::from_millis(rng.next() % 20_000);
                    m.handle_timeout(now);
                    CallInput::SignalingLost
                }
                _ => {
                    let _ = m.reset();
                    CallInput::SignalingLost
                }
            };
            now += Duration::from_millis(rng.next() % 3_000);
            // Deadlines due by `now` fire before any input; a refusal must
            // leave the state as the deadlines left it.
            m.handle_timeout(now);
            let before = m.state().clone();
            let result = m.handle_input(now, input.clone());
            let outputs: Vec<_> = std::iter::from_fn(|| m.poll_output()).collect();
            if result.is_err() {
                assert_eq!(
                    m.state(),
                    &before,
                    "seed {seed}: a refusal changed the state"
                );
            }
            for out in &outputs {
                match out {
                    CallOutput::StartMedia { call_id, .. } => {
                        assert_eq!(live_media, None, "seed {seed}: media started twice");
                        live_media = Some(*call_id);
                    }
                    CallOutput::StopMedia { call_id } => {
                        assert_eq!(
                            live_media,
                            Some(*call_id),
                            "seed {seed}: stop without start"
                        );
                        live_media = None;
                    }
                    CallOutput::RestartIce { call_id } => {
                        assert_eq!(
                            live_media,
                            Some(*call_id),
                            "seed {seed}: restart without media"
                        );
                    }
                    CallOutput::Event(CallEvent::StateChanged(s)) => last_state = s.clone(),
                    CallOutput::Event(CallEvent::SignalingChanged(s)) => last_signaling = *s,
                    _ => {}
                }
            }
            // Media runs exactly while the state says it does.
            let media_state = matches!(
                m.state(),
                CallState::Connecting { role: Some(_), .. }
                    | CallState::Connected { .. }
                    | CallState::Reconnecting { .. }
            );
            assert_eq!(
                live_media.is_some(),
                media_state,
                "seed {seed}: media {live_media:?} in {:?} after {input:?}",
                m.state()
            );
            assert_eq!(&last_state, m.state(), "seed {seed}: unreported state");
            assert_eq!(
                last_signaling,
                m.signaling(),
                "seed {seed}: unreported signaling"
            );
            if m.signaling() == CallSignaling::Detached {
                assert!(matches!(
                    m.state(),
                    CallState::Connected { .. } | CallState::Reconnecting { .. }
                ));
            }
            if let Some(t) = m.poll_timeout() {
                assert!(t > now, "seed {seed}: a due timeout was not fired");
            }
        }
    }
}

#[test]
fn a_peer_goodbye_on_the_media_path_ends_a_detached_call() {
    let mut sim = outgoing_call_detached();
    let call_id = sim.call_id;
    let out = sim.input_ok(CallInput::MediaPeerHungUp { call_id });
    assert_eq!(sim.ended_reason(), CallEndReason::PeerHungUp);
    assert!(sim.ended_reason().is_hang_up());
    assert!(!sim.ended_reason().is_local());
    assert_eq!(sim.ended_reason().as_str(), "hung_up");
    // The server does not know the call: nothing to tell it.
    assert!(sent(&out).is_empty(), "{out:?}");
    assert_eq!(stops(&out), 1);
}

#[test]
fn a_peer_goodbye_is_left_to_the_server_while_it_knows_the_call() {
    let mut sim = outgoing_call_connected();
    let call_id = sim.call_id;
    let out = sim.input_ok(CallInput::MediaPeerHungUp { call_id });
    assert!(out.is_empty(), "{out:?}");
    assert!(matches!(sim.state(), CallState::Connected { .. }));
    // A goodbye of another call changes nothing either.
    let mut sim = outgoing_call_detached();
    let out = sim.input_ok(CallInput::MediaPeerHungUp {
        call_id: CallId::random(),
    });
    assert!(out.is_empty(), "{out:?}");
}
