//! The call as a pure state machine: one call at a time on this device, from
//! the invite (or the incoming ring) to its end.
//!
//! Like str0m's `Rtc` and RingRTC's call FSM, [`CallMachine`] does no I/O,
//! starts no tasks and never reads the clock. Its driver feeds it
//! [`CallInput`]s — local user actions, server messages for this device,
//! signaling connection changes and media events — each with the current
//! [`Instant`](std::time::Instant), calls [`CallMachine::handle_timeout`]
//! when [`CallMachine::poll_timeout`] comes due, and drains
//! [`CallOutput`]s: messages to send, the WebRTC session to start, restart
//! or stop, and [`CallEvent`]s for the UI. Every race is therefore a plain
//! sequence of calls in a unit test.
//!
//! ```
//! use clinicall_client_core::call::{
//!     CallEvent, CallInput, CallMachine, CallOutput, CallState, MediaRole,
//! };
//! use clinicall_client_core::protocol::{CallId, ClientMessage, Role, UserId, UserSummary};
//! use std::time::{Duration, Instant};
//!
//! let mut call = CallMachine::default();
//! let t0 = Instant::now();
//! let doctor = UserSummary { id: UserId::random(), display_name: "Dr. Ada".into(), role: Role::Doctor };
//!
//! // Signaling connects, then the patient dials.
//! call.handle_input(t0, CallInput::SignalingRestored { resumed: false }).unwrap();
//! call.handle_input(t0, CallInput::Dial { callee: doctor.id, appointment_id: None }).unwrap();
//! let mut sent = Vec::new();
//! while let Some(out) = call.poll_output() {
//!     if let CallOutput::SendSignaling(msg) = out {
//!         sent.push(msg);
//!     }
//! }
//! assert_eq!(sent, [ClientMessage::Invite { callee: doctor.id, appointment_id: None }]);
//!
//! // The server rings the doctor, who answers: we offer.
//! let call_id = CallId::random();
//! call.handle_input(t0, CallInput::CallRinging { call_id, callee: doctor }).unwrap();
//! call.handle_input(t0, CallInput::CallAccepted { call_id }).unwrap();
//! assert_eq!(call.state(), &CallState::Connecting { call_id, role: Some(MediaRole::Offerer) });
//! assert!(std::iter::from_fn(|| call.poll_output())
//!     .any(|out| out == CallOutput::StartMedia { call_id, role: MediaRole::Offerer }));
//!
//! // Media must connect in time; the machine says when to wake it.
//! assert_eq!(call.poll_timeout(), Some(t0 + Duration::from_secs(15)));
//! call.handle_input(t0 + Duration::from_millis(80), CallInput::MediaConnected { call_id }).unwrap();
//! assert_eq!(call.state(), &CallState::Connected { call_id });
//! # while call.poll_output().is_some() {}
//!
//! // Hanging up ends the call at once, stops media and tells the server.
//! call.handle_input(t0 + Duration::from_secs(60), CallInput::HangUp).unwrap();
//! let outputs: Vec<_> = std::iter::from_fn(|| call.poll_output()).collect();
//! assert_eq!(outputs[0], CallOutput::SendSignaling(ClientMessage::Hangup { call_id }));
//! assert_eq!(outputs[1], CallOutput::StopMedia { call_id });
//! assert!(matches!(&outputs[2], CallOutput::Event(CallEvent::StateChanged(CallState::Ended { .. }))));
//! ```
//!
//! # Design
//!
//! **States.** [`CallState`]: `Idle` → `OutgoingRinging` (invite sent; the
//! call id arrives with `call_ringing`) or `IncomingRinging` → `Connecting`
//! → `Connected` ⇄ `Reconnecting` → `Ended` with a [`CallEndReason`] that is
//! either the server's [`EndReason`](clinicall_protocol::EndReason) or a
//! local one. `Ended` is the last state of a call; a new `Dial` or
//! `call_incoming` starts the next call from it (or call
//! [`CallMachine::reset`] to go back to `Idle`).
//!
//! **Local ends are immediate.** Cancel, reject and hang-up end the call
//! on this device at once and send the message; the server's confirmation
//! (or its `not_found`, if the other side ended first) is then ignored.
//! Cancelling sends `hangup` rather than `cancel`: it means the same while
//! ringing, and if it crosses the callee's accept it still ends the call
//! (`cancel` would be refused and leave the call active on the server).
//!
//! **Who offers.** The caller becomes [`MediaRole::Offerer`] on
//! `call_accepted`; the callee becomes [`MediaRole::Answerer`] when the
//! server confirms its own accept with `call_accepted`, never before: the
//! accept can lose to another of the user's devices (`already_answered`,
//! `answered_elsewhere`).
//!
//! **Signaling down is not media down.** Only media health moves a call
//! between `Connected` and `Reconnecting`. Signaling is reported beside the
//! state as [`CallSignaling`] (`Available`, `Interrupted`, `Detached`) in
//! [`CallEvent::SignalingChanged`]. While signaling is interrupted, the
//! server keeps the session and the call for its resume grace, so nothing
//! changes except that `Dial` and `Accept` are refused and an ICE restart
//! that comes due waits for the resume.
//!
//! **A new session after a reconnect** (`welcome` with `resumed: false`)
//! means the server dropped our old session and ended its call
//! `connection_lost`. A call that still needs signaling — ringing,
//! connecting, or reconnecting (which needs an ICE restart) — ends with
//! [`CallEndReason::SessionLost`]. A `Connected` call keeps its media and
//! becomes [`CallSignaling::Detached`]: hang-up is then local only (no
//! `hangup` is sent; the server would answer `not_found`), ICE cannot
//! restart, and a media failure ends the call. The other party receives
//! `call_ended` `connection_lost` for the same call, and symmetrically
//! treats it as detaching while its media flows. A server restart (which
//! ends calls without telling anyone) reaches the same state on both sides
//! through their new sessions. If the new session
//! announces a still-ringing call again (`call_incoming`), it rings again,
//! unless this device had declined it, in which case it is declined again.
//!
//! **Media recovery.** `MediaDisconnected` → `Reconnecting` at once (the
//! user's video has frozen); after [`CallConfig::disconnect_grace`] without
//! recovery, `RestartIce`, repeated every
//! [`CallConfig::ice_restart_interval`]. `MediaFailed` restarts at once.
//! `MediaConnected` or `IceRestartCompleted` returns to `Connected`. After
//! [`CallConfig::reconnect_timeout`] the call ends: `hangup`, `StopMedia`.
//!
//! **Stale input is ignored, never fatal.** Messages for other calls,
//! duplicates, late confirmations, media events from a torn-down session,
//! `call_incoming` while in a call: all ignored (see each input's docs).
//! Every path to `Ended` emits `StopMedia` exactly once if media started.

mod io;
mod machine;
mod state;
#[cfg(test)]
mod tests;

pub use io::{CallError, CallEvent, CallInput, CallOutput};
pub use machine::{CallConfig, CallMachine};
pub use state::{CallDirection, CallEndReason, CallInfo, CallSignaling, CallState, MediaRole};
