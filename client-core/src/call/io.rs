//! What goes into the call machine and what comes out of it.

use super::state::{CallSignaling, CallState, MediaRole};
use clinicall_protocol::{
    AppointmentId, CallId, ClientMessage, EndReason, ErrorCode, ServerMessage, UserId, UserSummary,
};

/// Everything that can happen to a call, fed to
/// [`super::CallMachine::handle_input`] with the current time.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum CallInput {
    // ---- Local user actions (from the UI or the headless client) ----
    /// The local user calls `callee`. Allowed when no call is live and
    /// signaling is up; sends `invite`.
    Dial {
        /// Who to call.
        callee: UserId,
        /// The appointment the call is for, if any.
        appointment_id: Option<String>,
    },
    /// The doctor admits the patient waiting in an appointment's waiting
    /// room; sends `room_admit`. The server then rings the patient and
    /// answers like an invite (`call_ringing`, or an error), so from here
    /// on the call is an outgoing one. Same preconditions as `Dial`.
    Admit {
        /// The appointment whose room the patient waits in.
        appointment_id: AppointmentId,
        /// The waiting patient (the callee).
        patient: UserId,
    },
    /// The local user answers the ringing call; sends `accept`. Media
    /// starts only when the server confirms with `call_accepted`.
    Accept,
    /// The local user declines the ringing call; sends `reject`.
    Reject,
    /// The local user withdraws the outgoing call. After the remote accept
    /// (a race the user cannot see) it hangs up instead.
    Cancel,
    /// The local user ends the call in whatever state it is: cancels an
    /// outgoing ringing call, declines an incoming one, hangs up an answered
    /// one.
    HangUp,

    // ---- Server messages for this device (from the signaling client) ----
    /// `call_ringing`: the server created our call and the callee's
    /// devices ring. Only the inviting device receives it.
    CallRinging {
        /// The new call.
        call_id: CallId,
        /// Who is being called.
        callee: UserSummary,
    },
    /// `call_incoming`: someone calls us. Also sent again when this device
    /// connects with a new session while the call still rings.
    CallIncoming {
        /// The call.
        call_id: CallId,
        /// Who is calling.
        caller: UserSummary,
        /// The appointment given with the invite.
        appointment_id: Option<String>,
        /// How long it will still ring, per the server.
        ring_timeout_ms: u64,
    },
    /// `call_accepted`: to the caller's device and to the answering
    /// device. The caller then offers; the answering device answers.
    CallAccepted {
        /// The call.
        call_id: CallId,
    },
    /// `call_ended`: the call is over for this device. Also the server's
    /// immediate reply to an `invite` whose callee is `busy` or
    /// `unavailable` (naming a call id we have not seen before).
    CallEnded {
        /// The call.
        call_id: CallId,
        /// Why.
        reason: EndReason,
        /// Whose action ended it.
        by: Option<UserId>,
    },
    /// `error`: a request failed. Those that matter to the call are replies
    /// to our `invite` (no `call_id`, or `already_in_call`), to our `accept`
    /// (`already_answered`), and `not_found` for the live call. Others are
    /// ignored, so the driver may feed every error it receives.
    ServerError {
        /// The error code.
        code: ErrorCode,
        /// The call the failed request named, if any.
        call_id: Option<CallId>,
    },

    // ---- Signaling connection (from the signaling client) ----
    /// The signaling socket dropped; the client is reconnecting. The server
    /// keeps our session and call for its resume grace.
    SignalingLost,
    /// A `welcome` arrived. `resumed: true`: the earlier session continues
    /// (missed messages follow). `resumed: false`: a new session, and the
    /// server has forgotten any call we were in. Also sent for the first
    /// `welcome` after start (with `resumed: false`); the machine starts
    /// with signaling down.
    SignalingRestored {
        /// Whether the server resumed the earlier session.
        resumed: bool,
    },
    /// The signaling client stopped for good (signed out, credentials
    /// refused, the app shutting it down). Any live call ends.
    SignalingClosed,

    // ---- Media (from the WebRTC session started by `StartMedia`) ----
    /// ICE and DTLS connected; media flows (first connect, or recovery).
    MediaConnected {
        /// The call whose media session reports it.
        call_id: CallId,
    },
    /// The media path stopped working (ICE `disconnected`); it may recover
    /// by itself.
    MediaDisconnected {
        /// The call whose media session reports it.
        call_id: CallId,
    },
    /// The media path failed (ICE `failed`): it will not recover without
    /// an ICE restart.
    MediaFailed {
        /// The call whose media session reports it.
        call_id: CallId,
    },
    /// An ICE restart finished and the new path is connected; same effect
    /// as [`CallInput::MediaConnected`].
    IceRestartCompleted {
        /// The call whose media session reports it.
        call_id: CallId,
    },
    /// The other party's media session said goodbye (RTCP BYE on hang-up).
    /// Ends the call only when the server no longer knows it
    /// ([`super::CallSignaling::Detached`]): otherwise the server's
    /// `call_ended` is the word that counts, and it is on its way.
    MediaPeerHungUp {
        /// The call whose media session reports it.
        call_id: CallId,
    },
}

impl CallInput {
    /// The input for a server message, if it concerns calls (`call_*` and
    /// `error`). `signal` goes to the WebRTC session, not here; `welcome`
    /// is reported by the signaling client as
    /// [`CallInput::SignalingRestored`].
    pub fn from_server(msg: &ServerMessage) -> Option<CallInput> {
        Some(match msg {
            ServerMessage::CallRinging { call_id, callee } => CallInput::CallRinging {
                call_id: *call_id,
                callee: callee.clone(),
            },
            ServerMessage::CallIncoming {
                call_id,
                caller,
                appointment_id,
                ring_timeout_ms,
            } => CallInput::CallIncoming {
                call_id: *call_id,
                caller: caller.clone(),
                appointment_id: appointment_id.clone(),
                ring_timeout_ms: *ring_timeout_ms,
            },
            ServerMessage::CallAccepted { call_id } => {
                CallInput::CallAccepted { call_id: *call_id }
            }
            ServerMessage::CallEnded {
                call_id,
                reason,
                by,
            } => CallInput::CallEnded {
                call_id: *call_id,
                reason: *reason,
                by: *by,
            },
            ServerMessage::Error { code, call_id, .. } => CallInput::ServerError {
                code: *code,
                call_id: *call_id,
            },
            _ => return None,
        })
    }
}

/// What the machine asks its driver to do, drained with
/// [`super::CallMachine::poll_output`] in order.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum CallOutput {
    /// Send this message on the signaling connection: `invite`, `accept`,
    /// `reject` or `hangup` (never `signal`: SDP and ICE belong to the
    /// WebRTC session). If the socket is down, queue it for the resumed
    /// session and drop it if a new session starts (the call driver does).
    SendSignaling(ClientMessage),
    /// Create the WebRTC session for the call. The offerer sends its offer
    /// now; the answerer waits for it.
    StartMedia {
        /// The call.
        call_id: CallId,
        /// Our part in the negotiation.
        role: MediaRole,
    },
    /// Restart ICE on the call's WebRTC session. Emitted on both sides; the
    /// session decides who sends the `ice_restart` offer (the offerer;
    /// the answerer answers it) so the two do not collide.
    RestartIce {
        /// The call.
        call_id: CallId,
    },
    /// Close the call's WebRTC session and release its devices. Emitted
    /// exactly once for every `StartMedia`.
    StopMedia {
        /// The call.
        call_id: CallId,
    },
    /// Tell the UI (or the headless client).
    Event(CallEvent),
}

/// News for the UI or the headless client.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum CallEvent {
    /// The call moved to a new state (an ended call carries its reason).
    StateChanged(CallState),
    /// How far signaling reaches the call changed; the state did not.
    SignalingChanged(CallSignaling),
    /// A call arrived while this device was in a call the server no longer
    /// knows (so the server thought we were free); it was declined with
    /// `reject`. The caller sees `rejected`.
    AutoRejected {
        /// The declined call.
        call_id: CallId,
        /// Who called.
        caller: UserSummary,
    },
}

/// A local action the machine refused. Nothing was sent and nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// `Dial` while a call is live on this device (end it first).
    #[error("a call is already in progress")]
    Busy,
    /// `Dial` while the server's reply to an earlier, abandoned invite is
    /// still due (it was cancelled before the server named the call).
    /// Lasts at most [`super::CallConfig::invite_reply_timeout`].
    #[error("the previous call is still being withdrawn; try again in a moment")]
    InviteOutstanding,
    /// `Accept` or `Reject` while no incoming call is ringing on this
    /// device (including after accepting it).
    #[error("no incoming call is ringing")]
    NotRinging,
    /// `Cancel` of an incoming call (use `Reject` or `HangUp`).
    #[error("only the caller can cancel a call")]
    NotOutgoing,
    /// `Cancel` or `HangUp` with no live call.
    #[error("there is no call to end")]
    NoCall,
    /// `Dial` or `Accept` while signaling is down: the server could not be
    /// told. Try again once it is back.
    #[error("signaling is not connected")]
    SignalingUnavailable,
}
