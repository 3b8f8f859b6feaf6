//! The signaling messages. Every frame is one JSON object whose `type` names
//! the message; client frames may carry a `req` string that the server echoes
//! on the reply or error it causes, so a client can match them up.

use crate::chat::{self, ChatMessage, ConversationSummary};
use crate::ids::{
    AppointmentId, AttachmentId, CallId, ConversationId, MessageId, SessionId, UserId,
};
use crate::limits::{self, ValidationError};
use crate::{ErrorCode, MAX_MESSAGE_BYTES};
use serde::{Deserialize, Serialize};

/// A frame from a client: an optional request id and the message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientEnvelope {
    /// Echoed on the server's reply or error, if present (at most 64 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req: Option<String>,
    /// The message itself.
    #[serde(flatten)]
    pub msg: ClientMessage,
}

/// Why a client frame could not be turned into a message.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Larger than [`MAX_MESSAGE_BYTES`].
    #[error("message of {0} bytes exceeds the limit of {MAX_MESSAGE_BYTES}")]
    TooLarge(usize),
    /// Not JSON at all.
    #[error("not valid JSON: {0}")]
    BadJson(serde_json::Error),
    /// JSON, but not a message of this protocol.
    #[error("not a valid message: {0}")]
    Invalid(serde_json::Error),
    /// A message whose fields break a limit.
    #[error(transparent)]
    Field(#[from] ValidationError),
}

impl ParseError {
    /// The stable code to put in the error reply.
    pub fn code(&self) -> ErrorCode {
        match self {
            ParseError::TooLarge(_) => ErrorCode::MessageTooLarge,
            ParseError::BadJson(_) => ErrorCode::BadJson,
            ParseError::Invalid(_) => ErrorCode::InvalidMessage,
            ParseError::Field(_) => ErrorCode::InvalidField,
        }
    }
}

impl ClientEnvelope {
    /// An envelope without a request id.
    pub fn new(msg: ClientMessage) -> Self {
        Self { req: None, msg }
    }

    /// An envelope with a request id.
    pub fn with_req(req: impl Into<String>, msg: ClientMessage) -> Self {
        Self {
            req: Some(req.into()),
            msg,
        }
    }

    /// Parses and validates one frame: size first (before any parsing), then
    /// JSON, then schema, then field limits. This is the only way the server
    /// turns untrusted bytes into a message.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(ParseError::TooLarge(text.len()));
        }
        let value: serde_json::Value = serde_json::from_str(text).map_err(ParseError::BadJson)?;
        let envelope: ClientEnvelope =
            serde_json::from_value(value).map_err(ParseError::Invalid)?;
        envelope.validate()?;
        Ok(envelope)
    }

    /// Checks every string and number against the protocol's limits.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if let Some(req) = &self.req {
            limits::check_len("req", req, limits::MAX_REQ_ID)?;
        }
        self.msg.validate()
    }
}

/// Resuming a session after a dropped socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// The session id from the earlier `welcome`.
    pub session_id: SessionId,
    /// The highest `seq` the client received on that session; the server
    /// replays everything after it.
    pub last_seq: u64,
}

/// What a client can send.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First message on every connection: versions spoken, credentials (if
    /// not sent in the `Authorization` header), and optionally a session to
    /// resume.
    Hello {
        /// Oldest protocol version the client speaks.
        min_version: u16,
        /// Newest protocol version the client speaks.
        max_version: u16,
        /// Access token, when not given in the upgrade request's header.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// A session to resume instead of starting a new one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<Resume>,
    },
    /// Ring a contact on all of their devices.
    Invite {
        /// Who to call.
        callee: UserId,
        /// The appointment this call belongs to, if any (opaque to the
        /// signaling server until appointments exist; at most 64 bytes).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        appointment_id: Option<String>,
    },
    /// Answer a ringing call on this device.
    Accept {
        /// The ringing call.
        call_id: CallId,
    },
    /// Decline a ringing call (for all of the callee's devices).
    Reject {
        /// The ringing call.
        call_id: CallId,
    },
    /// The caller withdraws a call that has not been answered yet.
    Cancel {
        /// The ringing call.
        call_id: CallId,
    },
    /// Either party ends an answered call.
    Hangup {
        /// The active call.
        call_id: CallId,
    },
    /// WebRTC negotiation data for the other party of an active call.
    Signal {
        /// The active call.
        call_id: CallId,
        /// What to relay.
        signal: Signal,
    },
    /// Application-level ping; the server answers `pong` with the same `req`.
    Ping,
    /// Finds or creates the conversation with a contact; answered with
    /// `chat_conversation`.
    ChatOpen {
        /// The other party (a doctor for a patient, a patient for a doctor).
        peer: UserId,
    },
    /// Lists this user's conversations; answered with `chat_conversations`.
    ChatList,
    /// Sends a message. Answered with `chat_ack`; the message goes to the
    /// other party's devices and this user's other devices as
    /// `chat_message`. Sending the same `id` again is safe: the server
    /// stores it once and acks it again with the same `seq`.
    ChatSend {
        /// The conversation.
        conversation_id: ConversationId,
        /// A fresh id from the sender, kept for resends.
        id: MessageId,
        /// The text (up to 16 KiB; may be empty when there are attachments).
        #[serde(default)]
        body: String,
        /// Attachments uploaded to this conversation by this user.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<AttachmentId>,
    },
    /// Fetches stored messages, answered with `chat_messages`: those after
    /// `after_seq` (oldest first, to catch up), or those before
    /// `before_seq` (newest first, to page back), or the newest when
    /// neither is given.
    ChatFetch {
        /// The conversation.
        conversation_id: ConversationId,
        /// Return messages with a greater `seq`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_seq: Option<u64>,
        /// Return messages with a smaller `seq`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before_seq: Option<u64>,
        /// At most this many (1 to 200).
        limit: u32,
    },
    /// This user has read everything up to `up_to_seq`. Relayed to both
    /// parties' devices as `chat_read`.
    ChatRead {
        /// The conversation.
        conversation_id: ConversationId,
        /// The highest `seq` read.
        up_to_seq: u64,
    },
    /// This user started or stopped typing. Relayed to the other party's
    /// devices as `chat_typing`; never stored.
    ChatTyping {
        /// The conversation.
        conversation_id: ConversationId,
        /// Typing now.
        typing: bool,
    },
    /// The patient enters the waiting room of a scheduled appointment; the
    /// doctor's devices hear `room_waiting`. From the doctor: ask who is
    /// waiting. Answered with `room_waiting`.
    RoomJoin {
        /// The appointment.
        appointment_id: AppointmentId,
    },
    /// The patient leaves the waiting room. Answered with `room_waiting`.
    RoomLeave {
        /// The appointment.
        appointment_id: AppointmentId,
    },
    /// The doctor admits the waiting patient: the server rings the
    /// patient's devices with a call from the doctor (`call_incoming` with
    /// this `appointment_id`); the doctor's device gets `call_ringing`.
    RoomAdmit {
        /// The appointment.
        appointment_id: AppointmentId,
    },
}

impl ClientMessage {
    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            ClientMessage::Hello { token, .. } => {
                if let Some(token) = token {
                    limits::check_len("token", token, limits::MAX_TOKEN)?;
                }
                Ok(())
            }
            ClientMessage::Invite { appointment_id, .. } => {
                if let Some(id) = appointment_id {
                    limits::check_nonempty_len("appointment_id", id, limits::MAX_APPOINTMENT_ID)?;
                }
                Ok(())
            }
            ClientMessage::Signal { signal, .. } => signal.validate(),
            ClientMessage::ChatSend {
                body, attachments, ..
            } => chat::validate_send(body, attachments),
            ClientMessage::ChatFetch {
                after_seq,
                before_seq,
                limit,
                ..
            } => chat::validate_fetch(*after_seq, *before_seq, *limit),
            ClientMessage::ChatOpen { .. }
            | ClientMessage::ChatList
            | ClientMessage::ChatRead { .. }
            | ClientMessage::ChatTyping { .. }
            | ClientMessage::RoomJoin { .. }
            | ClientMessage::RoomLeave { .. }
            | ClientMessage::RoomAdmit { .. }
            | ClientMessage::Accept { .. }
            | ClientMessage::Reject { .. }
            | ClientMessage::Cancel { .. }
            | ClientMessage::Hangup { .. }
            | ClientMessage::Ping => Ok(()),
        }
    }

    /// The message's `type` string, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::Hello { .. } => "hello",
            ClientMessage::Invite { .. } => "invite",
            ClientMessage::Accept { .. } => "accept",
            ClientMessage::Reject { .. } => "reject",
            ClientMessage::Cancel { .. } => "cancel",
            ClientMessage::Hangup { .. } => "hangup",
            ClientMessage::Signal { .. } => "signal",
            ClientMessage::Ping => "ping",
            ClientMessage::ChatOpen { .. } => "chat_open",
            ClientMessage::ChatList => "chat_list",
            ClientMessage::ChatSend { .. } => "chat_send",
            ClientMessage::ChatFetch { .. } => "chat_fetch",
            ClientMessage::ChatRead { .. } => "chat_read",
            ClientMessage::ChatTyping { .. } => "chat_typing",
            ClientMessage::RoomJoin { .. } => "room_join",
            ClientMessage::RoomLeave { .. } => "room_leave",
            ClientMessage::RoomAdmit { .. } => "room_admit",
        }
    }
}

/// WebRTC negotiation data, relayed verbatim between the two accepted
/// devices of an active call. The server checks sizes, never contents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    /// An SDP offer. `ice_restart` marks an offer that restarts ICE.
    Offer {
        /// The session description.
        sdp: String,
        /// Whether this offer restarts ICE (counted in metrics).
        #[serde(default)]
        ice_restart: bool,
    },
    /// An SDP answer.
    Answer {
        /// The session description.
        sdp: String,
    },
    /// One trickled ICE candidate.
    Candidate {
        /// The `candidate:` attribute line.
        candidate: String,
        /// Media stream id the candidate belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
        /// Media line index the candidate belongs to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mline_index: Option<u16>,
        /// ICE username fragment, which tells candidates of an old ICE
        /// generation from those after a restart.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username_fragment: Option<String>,
    },
    /// No more candidates for this ICE generation.
    EndOfCandidates,
}

impl Signal {
    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            Signal::Offer { sdp, .. } | Signal::Answer { sdp } => {
                limits::check_nonempty_len("sdp", sdp, limits::MAX_SDP)
            }
            Signal::Candidate {
                candidate,
                sdp_mid,
                username_fragment,
                ..
            } => {
                limits::check_len("candidate", candidate, limits::MAX_CANDIDATE)?;
                if let Some(mid) = sdp_mid {
                    limits::check_len("sdp_mid", mid, limits::MAX_SHORT_FIELD)?;
                }
                if let Some(ufrag) = username_fragment {
                    limits::check_len("username_fragment", ufrag, limits::MAX_SHORT_FIELD)?;
                }
                Ok(())
            }
            Signal::EndOfCandidates => Ok(()),
        }
    }

    /// Whether this signal restarts ICE.
    pub fn is_ice_restart(&self) -> bool {
        matches!(
            self,
            Signal::Offer {
                ice_restart: true,
                ..
            }
        )
    }
}

/// A frame from the server: a per-session sequence number, the echoed
/// request id, and the message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerEnvelope {
    /// Increases by one for every message of a session; a resuming client
    /// sends the last one it saw and the server replays the rest.
    pub seq: u64,
    /// The `req` of the client message that caused this one, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req: Option<String>,
    /// The message itself.
    #[serde(flatten)]
    pub msg: ServerMessage,
}

/// A user as other users see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    /// The user's id.
    pub id: UserId,
    /// Name shown to others.
    pub display_name: String,
    /// The user's role.
    pub role: Role,
}

/// A user's role, which decides what they may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Self-registered; sees and calls doctors.
    Patient,
    /// Created by an admin; sees and calls their patients.
    Doctor,
    /// Runs the server; manages accounts.
    Admin,
}

impl Role {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Patient => "patient",
            Role::Doctor => "doctor",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "patient" => Ok(Role::Patient),
            "doctor" => Ok(Role::Doctor),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?} (expected patient, doctor or admin)"
            )),
        }
    }
}

/// A contact and whether they are online now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Who.
    pub user: UserSummary,
    /// Online on at least one device.
    pub online: bool,
}

/// Limits the server enforces on this connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionLimits {
    /// Largest accepted frame, in bytes.
    pub max_message_bytes: usize,
    /// Sustained messages per second allowed.
    pub messages_per_second: u32,
    /// Burst of messages allowed above the sustained rate.
    pub message_burst: u32,
}

/// A STUN or TURN server for the client's WebRTC stack, shaped like the W3C
/// `RTCIceServer` dictionary so it can be handed over as it is.
///
/// `Debug` leaves out the credential, so logging a `welcome` does not leak it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// URLs of one server: `stun:`, `stuns:`, `turn:` or `turns:` (RFC 7064,
    /// RFC 7065), for example `turn:turn.example.org:3478?transport=udp`.
    pub urls: Vec<String>,
    /// TURN username; absent for STUN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN password; absent for STUN. May be short-lived: see `ice_servers`
    /// in [`ServerMessage::Welcome`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl std::fmt::Debug for IceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceServer")
            .field("urls", &self.urls)
            .field("username", &self.username)
            .field("credential", &self.credential.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// Why a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EndReason {
    /// The callee declined.
    Rejected,
    /// The caller withdrew before an answer.
    Cancelled,
    /// Nobody answered within the ring timeout.
    Timeout,
    /// The callee was already in a call.
    Busy,
    /// The callee had no device online.
    Unavailable,
    /// A party hung up.
    HungUp,
    /// A party's connection dropped and did not come back within the grace
    /// period.
    ConnectionLost,
    /// Sent to a callee's other devices: answered on another device.
    AnsweredElsewhere,
    /// Sent to a callee's other devices: declined on another device.
    RejectedElsewhere,
    /// The server shut down.
    ServerShutdown,
    /// A reason this client does not know (sent by a newer server).
    #[serde(other)]
    Unknown,
}

impl EndReason {
    /// The wire string, for logs, metrics labels and stored records.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Rejected => "rejected",
            EndReason::Cancelled => "cancelled",
            EndReason::Timeout => "timeout",
            EndReason::Busy => "busy",
            EndReason::Unavailable => "unavailable",
            EndReason::HungUp => "hung_up",
            EndReason::ConnectionLost => "connection_lost",
            EndReason::AnsweredElsewhere => "answered_elsewhere",
            EndReason::RejectedElsewhere => "rejected_elsewhere",
            EndReason::ServerShutdown => "server_shutdown",
            EndReason::Unknown => "unknown",
        }
    }
}

/// What the server can send.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerMessage {
    /// Reply to `hello`: the session is open.
    Welcome {
        /// The version both sides will speak.
        protocol_version: u16,
        /// This session's id; keep it to resume after a dropped socket.
        session_id: SessionId,
        /// Whether an earlier session was resumed (missed messages follow)
        /// or a new one started (the client must drop any old call state).
        resumed: bool,
        /// Who you are.
        user: UserSummary,
        /// How long the server keeps a dropped session for resumption.
        resume_grace_ms: u64,
        /// How often the server pings; a client that hears nothing (pings
        /// included) for a few intervals can treat the server as gone.
        #[serde(default)]
        heartbeat_interval_ms: u64,
        /// The limits on this connection.
        limits: ConnectionLimits,
        /// The STUN/TURN servers the client should use for this session's
        /// calls. Empty: the server has none configured, so only host
        /// candidates work (fine on a LAN). TURN credentials may be
        /// short-lived, so a client takes them from the latest `welcome`
        /// (resumed ones included) instead of keeping older ones. Absent
        /// from older servers, hence the default.
        #[serde(default)]
        ice_servers: Vec<IceServer>,
    },
    /// Your contacts and who of them is online; sent after every `welcome`
    /// (after the replay, on a resume). Split over several frames when
    /// long, so no frame grows with the size of the clinic: the first frame
    /// after `welcome` starts a new list, and frames with `more: true` are
    /// followed by the rest.
    PresenceSnapshot {
        /// This page of contacts.
        contacts: Vec<Contact>,
        /// More pages of this snapshot follow.
        #[serde(default)]
        more: bool,
    },
    /// A contact came online or went offline (all devices).
    Presence {
        /// Who.
        user_id: UserId,
        /// Online on at least one device.
        online: bool,
    },
    /// To the inviting device: the callee's devices are ringing.
    CallRinging {
        /// The new call.
        call_id: CallId,
        /// Who is being called.
        callee: UserSummary,
    },
    /// To each of the callee's devices: someone is calling.
    CallIncoming {
        /// The new call.
        call_id: CallId,
        /// Who is calling.
        caller: UserSummary,
        /// The appointment given with the invite, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        appointment_id: Option<String>,
        /// How long it will ring before timing out.
        ring_timeout_ms: u64,
    },
    /// To the caller's device and the answering device: the call is
    /// answered. The caller now sends the offer.
    CallAccepted {
        /// The call.
        call_id: CallId,
    },
    /// The call is over for this device.
    CallEnded {
        /// The call.
        call_id: CallId,
        /// Why.
        reason: EndReason,
        /// Which user's action ended it, when a user's action did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<UserId>,
    },
    /// Negotiation data from the other party.
    Signal {
        /// The call.
        call_id: CallId,
        /// Which user sent it.
        from: UserId,
        /// What they sent.
        signal: Signal,
    },
    /// Reply to `ping`.
    Pong,
    /// The server is going away; reconnect (to another node, if there is
    /// one) after the given delay. Calls in progress keep their media.
    Reconnect {
        /// Wait at least this long before reconnecting, to spread the load.
        after_ms: u64,
    },
    /// Reply to `chat_open`.
    ChatConversation {
        /// The conversation, created if it did not exist.
        conversation: ConversationSummary,
    },
    /// Reply to `chat_list`: every conversation of this user.
    ChatConversations {
        /// Newest activity first.
        conversations: Vec<ConversationSummary>,
    },
    /// Reply to `chat_send`: the message is stored.
    ChatAck {
        /// The conversation.
        conversation_id: ConversationId,
        /// The id the client gave.
        id: MessageId,
        /// Its place in the conversation. On the wire `message_seq`: the
        /// envelope's own `seq` (the session stream's number) sits in the
        /// same JSON object.
        #[serde(rename = "message_seq")]
        seq: u64,
        /// When the server stored it (Unix milliseconds).
        sent_at_ms: i64,
    },
    /// A new message, to the other party's devices and the sender's other
    /// devices.
    ChatMessage {
        /// The message.
        message: ChatMessage,
    },
    /// Reply to `chat_fetch`.
    ChatMessages {
        /// The conversation.
        conversation_id: ConversationId,
        /// Ordered as the fetch asked: ascending `seq` after `after_seq`,
        /// descending otherwise.
        messages: Vec<ChatMessage>,
        /// More messages match beyond this page.
        more: bool,
    },
    /// A party read the conversation up to a `seq`.
    ChatRead {
        /// The conversation.
        conversation_id: ConversationId,
        /// Who read it.
        reader: UserId,
        /// The highest `seq` they have read.
        up_to_seq: u64,
    },
    /// The other party started or stopped typing.
    ChatTyping {
        /// The conversation.
        conversation_id: ConversationId,
        /// Who.
        user_id: UserId,
        /// Typing now.
        typing: bool,
    },
    /// An appointment of this user was booked or changed (status, comment,
    /// notes, rating). Sent to every device of its doctor and its patient.
    /// `appointment.change` orders them: keep the copy with the greater one.
    /// Notes themselves are not included; fetch them (an audited read).
    AppointmentChanged {
        /// The appointment as it is now.
        appointment: crate::appointments::Appointment,
    },
    /// Who waits in an appointment's waiting room: to the doctor's devices
    /// whenever it changes, and as the reply to `room_join` and
    /// `room_leave`.
    RoomWaiting {
        /// The appointment.
        appointment_id: AppointmentId,
        /// Its patient.
        patient: UserSummary,
        /// The patient is waiting now.
        waiting: bool,
    },
    /// A request failed. The connection stays open unless the code says
    /// otherwise (authentication and version errors close it).
    Error {
        /// Stable machine-readable code.
        code: ErrorCode,
        /// Human-readable explanation.
        message: String,
        /// The call the failed request named, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call_id: Option<CallId>,
    },
    /// A message type this client does not know (sent by a newer server).
    /// Parsing it this way keeps the envelope, and so its `seq`.
    #[serde(other)]
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_round_trip_with_type_tags() {
        let call_id = CallId::random();
        let env = ClientEnvelope::with_req(
            "r1",
            ClientMessage::Signal {
                call_id,
                signal: Signal::Candidate {
                    candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host".into(),
                    sdp_mid: Some("0".into()),
                    sdp_mline_index: Some(0),
                    username_fragment: None,
                },
            },
        );
        let text = serde_json::to_string(&env).unwrap();
        assert!(text.contains(r#""type":"signal""#), "{text}");
        assert!(text.contains(r#""kind":"candidate""#), "{text}");
        assert_eq!(ClientEnvelope::parse(&text).unwrap(), env);
    }

    #[test]
    fn unit_variant_parses_from_bare_type() {
        let env = ClientEnvelope::parse(r#"{"type":"ping","req":"x"}"#).unwrap();
        assert_eq!(env.msg, ClientMessage::Ping);
        assert_eq!(env.req.as_deref(), Some("x"));
    }

    #[test]
    fn parse_classifies_failures() {
        let code = |s: &str| ClientEnvelope::parse(s).unwrap_err().code();
        assert_eq!(code("{not json"), ErrorCode::BadJson);
        assert_eq!(code(r#"{"type":"teleport"}"#), ErrorCode::InvalidMessage);
        assert_eq!(code(r#"{"type":"accept"}"#), ErrorCode::InvalidMessage);
        assert_eq!(
            code(r#"{"type":"accept","call_id":"not-a-uuid"}"#),
            ErrorCode::InvalidMessage
        );
        assert_eq!(code("[1,2,3]"), ErrorCode::InvalidMessage);
        let huge = format!(
            r#"{{"type":"ping","req":"{}"}}"#,
            "a".repeat(MAX_MESSAGE_BYTES)
        );
        assert_eq!(code(&huge), ErrorCode::MessageTooLarge);
        let long_req = format!(r#"{{"type":"ping","req":"{}"}}"#, "a".repeat(65));
        assert_eq!(code(&long_req), ErrorCode::InvalidField);
        let empty_sdp = format!(
            r#"{{"type":"signal","call_id":"{}","signal":{{"kind":"offer","sdp":""}}}}"#,
            CallId::random()
        );
        assert_eq!(code(&empty_sdp), ErrorCode::InvalidField);
    }

    #[test]
    fn server_messages_round_trip() {
        let env = ServerEnvelope {
            seq: 7,
            req: None,
            msg: ServerMessage::CallEnded {
                call_id: CallId::random(),
                reason: EndReason::Busy,
                by: None,
            },
        };
        let text = serde_json::to_string(&env).unwrap();
        assert!(text.contains(r#""reason":"busy""#), "{text}");
        let back: ServerEnvelope = serde_json::from_str(&text).unwrap();
        assert_eq!(back, env);
    }

    #[test]
    fn welcome_without_ice_servers_parses() {
        // What a server from before `ice_servers` sends.
        let text = r#"{"seq":0,"req":"h1","type":"welcome","protocol_version":1,
            "session_id":"0f9c2b6e-8a1d-4c55-9d2b-3f1e7a6c5b40","resumed":false,
            "user":{"id":"5b1e8c3a-2f4d-4e6a-9b7c-1d2e3f4a5b6c","display_name":"Pat","role":"patient"},
            "resume_grace_ms":10000,"heartbeat_interval_ms":20000,
            "limits":{"max_message_bytes":65536,"messages_per_second":50,"message_burst":100}}"#;
        let env: ServerEnvelope = serde_json::from_str(text).unwrap();
        let ServerMessage::Welcome { ice_servers, .. } = env.msg else {
            panic!("expected welcome, got {:?}", env.msg);
        };
        assert!(ice_servers.is_empty());
    }

    #[test]
    fn ice_servers_omit_absent_credentials_and_hide_them_from_debug() {
        let stun = IceServer {
            urls: vec!["stun:stun.example.org:3478".into()],
            username: None,
            credential: None,
        };
        assert_eq!(
            serde_json::to_string(&stun).unwrap(),
            r#"{"urls":["stun:stun.example.org:3478"]}"#
        );
        let turn = IceServer {
            urls: vec!["turn:turn.example.org:3478".into()],
            username: Some("1700000000:pat".into()),
            credential: Some("s3cr3t-credential".into()),
        };
        let text = serde_json::to_string(&turn).unwrap();
        assert_eq!(serde_json::from_str::<IceServer>(&text).unwrap(), turn);
        let debug = format!("{turn:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("1700000000:pat"), "{debug}");
    }

    #[test]
    fn unknown_server_messages_keep_their_envelope() {
        let env: ServerEnvelope =
            serde_json::from_str(r#"{"seq":9,"type":"hologram","depth":3}"#).unwrap();
        assert_eq!((env.seq, env.msg), (9, ServerMessage::Unknown));
    }

    #[test]
    fn chat_messages_round_trip_and_validate() {
        let conversation_id = ConversationId::random();
        let send = ClientEnvelope::with_req(
            "s1",
            ClientMessage::ChatSend {
                conversation_id,
                id: MessageId::random(),
                body: "Take the tablets after breakfast".into(),
                attachments: vec![],
            },
        );
        let text = serde_json::to_string(&send).unwrap();
        assert!(text.contains(r#""type":"chat_send""#), "{text}");
        assert!(!text.contains("attachments"), "{text}");
        assert_eq!(ClientEnvelope::parse(&text).unwrap(), send);

        let code = |msg: ClientMessage| {
            let text = serde_json::to_string(&ClientEnvelope::new(msg)).unwrap();
            ClientEnvelope::parse(&text).unwrap_err().code()
        };
        let send = |body: String, attachments: Vec<AttachmentId>| ClientMessage::ChatSend {
            conversation_id,
            id: MessageId::random(),
            body,
            attachments,
        };
        assert_eq!(code(send(" \n".into(), vec![])), ErrorCode::InvalidField);
        assert_eq!(
            code(send("x".repeat(chat::MAX_CHAT_BODY + 1), vec![])),
            ErrorCode::InvalidField
        );
        assert_eq!(
            code(send("".into(), vec![AttachmentId::random(); 11])),
            ErrorCode::InvalidField
        );
        assert!(
            ClientEnvelope::new(send("".into(), vec![AttachmentId::random()]))
                .validate()
                .is_ok()
        );
        let fetch = |after_seq, before_seq, limit| ClientMessage::ChatFetch {
            conversation_id,
            after_seq,
            before_seq,
            limit,
        };
        assert_eq!(code(fetch(None, None, 0)), ErrorCode::InvalidField);
        assert_eq!(code(fetch(None, None, 201)), ErrorCode::InvalidField);
        assert_eq!(code(fetch(Some(1), Some(5), 10)), ErrorCode::InvalidField);
        assert!(
            ClientEnvelope::new(fetch(Some(1), None, 200))
                .validate()
                .is_ok()
        );

        let delivered = ServerEnvelope {
            seq: 3,
            req: None,
            msg: ServerMessage::ChatMessage {
                message: ChatMessage {
                    conversation_id,
                    seq: 12,
                    id: MessageId::random(),
                    sender: UserId::random(),
                    body: "ok".into(),
                    attachments: vec![],
                    sent_at_ms: 1_700_000_000_000,
                },
            },
        };
        let text = serde_json::to_string(&delivered).unwrap();
        assert!(text.contains(r#""type":"chat_message""#), "{text}");
        assert_eq!(
            serde_json::from_str::<ServerEnvelope>(&text).unwrap(),
            delivered
        );

        // The ack's message seq must not collide with the envelope's seq.
        let ack = ServerEnvelope {
            seq: 4,
            req: Some("s1".into()),
            msg: ServerMessage::ChatAck {
                conversation_id,
                id: MessageId::random(),
                seq: 12,
                sent_at_ms: 1_700_000_000_000,
            },
        };
        let text = serde_json::to_string(&ack).unwrap();
        assert!(text.contains(r#""message_seq":12"#), "{text}");
        assert_eq!(serde_json::from_str::<ServerEnvelope>(&text).unwrap(), ack);
    }

    #[test]
    fn end_reason_strings_match_serde() {
        for reason in [
            EndReason::Rejected,
            EndReason::HungUp,
            EndReason::ConnectionLost,
            EndReason::AnsweredElsewhere,
        ] {
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
        }
    }
}
