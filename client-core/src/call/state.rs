//! What the call machine reports about a call: its state, why it ended, and
//! how far signaling can still reach it.

use clinicall_protocol::{CallId, EndReason, ErrorCode, UserId, UserSummary};

/// Where this device's call stands. One call at a time; [`CallState::Ended`]
/// is the last state of a call, and a new call may start from it (or from
/// [`CallState::Idle`] after [`super::CallMachine::reset`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallState {
    /// No call yet on this device.
    Idle,
    /// We invited someone. `call_id` is `None` until the server's
    /// `call_ringing` names the call, then the callee's devices are ringing.
    OutgoingRinging {
        /// The call, once the server has created it.
        call_id: Option<CallId>,
    },
    /// Someone is calling us and this device is ringing (`call_incoming`).
    IncomingRinging {
        /// The ringing call.
        call_id: CallId,
    },
    /// The call is answered and media is being negotiated.
    Connecting {
        /// The call.
        call_id: CallId,
        /// Our part in the WebRTC negotiation once media has started. `None`
        /// only on the callee between the local accept and the server's
        /// `call_accepted` (the accept may still lose to another device).
        role: Option<MediaRole>,
    },
    /// Media is flowing.
    Connected {
        /// The call.
        call_id: CallId,
    },
    /// The media path broke after it had connected; it may come back by
    /// itself or through an ICE restart. Signaling trouble alone never
    /// leads here (see [`CallSignaling`]).
    Reconnecting {
        /// The call.
        call_id: CallId,
    },
    /// The call is over.
    Ended {
        /// The call, if the server ever named it (an invite refused before
        /// a `call_ringing`, or cancelled before it, has none).
        call_id: Option<CallId>,
        /// Why it ended.
        reason: CallEndReason,
    },
}

impl CallState {
    /// The call this state is about, if it has an id.
    pub fn call_id(&self) -> Option<CallId> {
        match self {
            CallState::Idle => None,
            CallState::OutgoingRinging { call_id } | CallState::Ended { call_id, .. } => *call_id,
            CallState::IncomingRinging { call_id }
            | CallState::Connecting { call_id, .. }
            | CallState::Connected { call_id }
            | CallState::Reconnecting { call_id } => Some(*call_id),
        }
    }

    /// Whether a call is in progress (neither idle nor ended).
    pub fn is_live(&self) -> bool {
        !matches!(self, CallState::Idle | CallState::Ended { .. })
    }

    /// Whether the call has been answered (by this device, or confirmed by
    /// the server to the caller): connecting, connected or reconnecting.
    pub fn is_answered(&self) -> bool {
        matches!(
            self,
            CallState::Connecting { .. }
                | CallState::Connected { .. }
                | CallState::Reconnecting { .. }
        )
    }
}

/// Our part in the WebRTC negotiation of an answered call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaRole {
    /// The caller: sends the SDP offer after `call_accepted`.
    Offerer,
    /// The callee's answering device: waits for the offer and answers it.
    Answerer,
}

/// Who placed the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallDirection {
    /// This device invited the other party.
    Outgoing,
    /// The other party called us.
    Incoming,
}

/// What this device knows about its current (or last) call.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallInfo {
    /// The call, once the server has named it.
    pub call_id: Option<CallId>,
    /// Who placed it.
    pub direction: CallDirection,
    /// The other party: the callee we dialled, or the caller.
    pub peer_id: UserId,
    /// The other party as the server describes them: from `call_ringing`
    /// (outgoing) or `call_incoming` (incoming).
    pub peer: Option<UserSummary>,
    /// The appointment the call belongs to, if any.
    pub appointment_id: Option<String>,
    /// Our media role, once media has started.
    pub role: Option<MediaRole>,
}

impl CallInfo {
    /// A call with `peer_id` that nothing more is known about yet.
    pub fn new(peer_id: UserId, direction: CallDirection) -> Self {
        CallInfo {
            call_id: None,
            direction,
            peer_id,
            peer: None,
            appointment_id: None,
            role: None,
        }
    }
}

/// How far signaling reaches the current call. Only media health moves a
/// call between [`CallState::Connected`] and [`CallState::Reconnecting`];
/// this is reported beside the state, in
/// [`super::CallEvent::SignalingChanged`] and
/// [`super::CallMachine::signaling`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallSignaling {
    /// Connected, and the server knows the call: hang-up, accept and ICE
    /// restarts reach the other party.
    Available,
    /// The signaling socket is down. The server keeps the session (and the
    /// call) for its resume grace and buffers what is sent to us; media
    /// keeps flowing. New calls cannot be placed or accepted meanwhile, and
    /// an ICE restart waits for signaling to come back.
    Interrupted,
    /// The server no longer knows the current call: signaling came back
    /// with a new session, or the server ended the call `connection_lost`
    /// while our media still flowed. The media goes on peer to peer, but
    /// nothing about this call can be signalled any more: hang-up is local
    /// only (the other side sees the media stop) and ICE cannot restart.
    Detached,
}

/// Why a call ended: the server's reason, or one found on this device.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallEndReason {
    /// The server ended the call (`call_ended`).
    Server {
        /// The server's reason (`answered_elsewhere` and
        /// `rejected_elsewhere` end a ringing device when another device of
        /// the same user answered or declined).
        reason: EndReason,
        /// The user whose action ended it, when one did.
        by: Option<UserId>,
    },
    /// The local user withdrew an outgoing call before it was answered
    /// (`Cancel`, or `HangUp` while ringing). Ended at once, without waiting
    /// for the server to confirm.
    LocalCancel,
    /// The local user declined an incoming call on this device (`Reject`, or
    /// `HangUp` while ringing).
    LocalReject,
    /// The local user hung up an answered call. Ended at once, without
    /// waiting for the server to confirm.
    LocalHangUp,
    /// The server refused our `invite` with this error (for example
    /// `already_in_call`, `not_found`, `forbidden`, `unavailable`).
    InviteRefused(ErrorCode),
    /// The server refused our `accept` with this error; `already_answered`
    /// means another device of ours answered first.
    AcceptRefused(ErrorCode),
    /// The call rang longer than the server's ring timeout plus a margin
    /// without the server ending it (a local safety net).
    RingTimeout,
    /// Media did not connect within [`super::CallConfig::connect_timeout`].
    ConnectTimeout,
    /// The WebRTC session reported that media could not be set up (ICE
    /// failed before ever connecting).
    MediaFailed,
    /// The media path broke and neither recovery nor ICE restarts brought
    /// it back within [`super::CallConfig::reconnect_timeout`] (or, with the
    /// server no longer knowing the call, it failed and could not restart).
    ReconnectFailed,
    /// Signaling came back with a new session: the server has forgotten
    /// the call, which still needed signaling (ringing, connecting, or
    /// media down and in need of an ICE restart).
    SessionLost,
    /// The signaling client stopped for good (signed out, credentials
    /// refused, or shut down by the app).
    SignalingClosed,
    /// The server answered a message about the call with `not_found`: it no
    /// longer knows the call, which still needed it.
    UnknownToServer,
    /// The other party hung up, and said so on the media path because the
    /// server no longer knew the call ([`CallSignaling::Detached`]).
    PeerHungUp,
}

impl CallEndReason {
    /// Whether this device decided the end (anything but
    /// [`CallEndReason::Server`] and [`CallEndReason::PeerHungUp`]).
    pub fn is_local(&self) -> bool {
        !matches!(
            self,
            CallEndReason::Server { .. } | CallEndReason::PeerHungUp
        )
    }

    /// Whether the call ended because one of its two parties hung up (as
    /// opposed to a refusal, a timeout or a failure).
    pub fn is_hang_up(&self) -> bool {
        matches!(
            self,
            CallEndReason::LocalHangUp
                | CallEndReason::PeerHungUp
                | CallEndReason::Server {
                    reason: EndReason::HungUp,
                    ..
                }
        )
    }

    /// A stable string for logs and metrics labels: the server's reason's
    /// wire string, or a `local_…` name.
    pub fn as_str(&self) -> &'static str {
        match self {
            CallEndReason::Server { reason, .. } => reason.as_str(),
            CallEndReason::LocalCancel => "local_cancel",
            CallEndReason::LocalReject => "local_reject",
            CallEndReason::LocalHangUp => "local_hang_up",
            CallEndReason::InviteRefused(_) => "local_invite_refused",
            CallEndReason::AcceptRefused(_) => "local_accept_refused",
            CallEndReason::RingTimeout => "local_ring_timeout",
            CallEndReason::ConnectTimeout => "local_connect_timeout",
            CallEndReason::MediaFailed => "local_media_failed",
            CallEndReason::ReconnectFailed => "local_reconnect_failed",
            CallEndReason::SessionLost => "local_session_lost",
            CallEndReason::SignalingClosed => "local_signaling_closed",
            CallEndReason::UnknownToServer => "local_unknown_to_server",
            // The same words as the server's: the user sees one reason.
            CallEndReason::PeerHungUp => "hung_up",
        }
    }
}
