//! The signaling state machine: sessions, presence and calls.
//!
//! It does no I/O and reads no clock. Connection tasks and timers feed it
//! events with the current time; it answers by writing messages into the
//! sessions' [`Outbox`]es and returning [`Effect`]s (timers to start, records
//! to store) for the runtime to carry out. That keeps every race (a hang-up
//! crossing an accept, a resume crossing a grace expiry) testable without
//! sockets or sleeps.

use super::ice::IceServers;
use super::outbox::{ConnId, ConnTx, Outbox, Outgoing};
use crate::storage::{CallEnd, CallRow};
use axum::extract::ws::Utf8Bytes;
use clinicall_protocol::appointments::Appointment;
use clinicall_protocol::chat::ChatMessage;
use clinicall_protocol::{
    AppointmentId, CallId, ClientMessage, ConnectionLimits, Contact, ConversationId, EndReason,
    ErrorCode, PROTOCOL_VERSION, Resume, Role, SNAPSHOT_PAGE, ServerMessage, SessionId, Signal,
    UserId, UserSummary,
};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// WebSocket close code: the login was signed out.
pub const CLOSE_SIGNED_OUT: u16 = 4001;
/// WebSocket close code: the server is restarting (RFC 6455 "service restart").
pub const CLOSE_RESTART: u16 = 1012;

/// Settings the hub needs.
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// How long a call rings.
    pub ring_timeout: Duration,
    /// How long a dropped session is kept for resumption.
    pub resume_grace: Duration,
    /// Announced to clients in `welcome`.
    pub limits: ConnectionLimits,
    /// Patients have every doctor as a contact.
    pub patients_see_all_doctors: bool,
    /// Announced in `welcome`: how often the server pings.
    pub heartbeat_interval: Duration,
    /// Most sessions (devices, including ones in their resume grace) one
    /// user may have.
    pub max_sessions_per_user: usize,
    /// Announced in `welcome`: STUN/TURN servers, with TURN credentials made
    /// afresh for each welcome.
    pub ice: IceServers,
}

/// The time, as the hub sees it: monotonic for durations, wall clock for
/// stored records.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    /// Monotonic time.
    pub mono: Instant,
    /// Unix milliseconds.
    pub wall_ms: i64,
}

/// Something the runtime must do on the hub's behalf.
#[derive(Debug, PartialEq)]
pub enum Effect {
    /// Call [`Hub::ring_timeout`] for this call after the delay.
    RingTimer {
        /// The call.
        call: CallId,
        /// Delay.
        after: Duration,
    },
    /// Call [`Hub::grace_expired`] for this session after the delay.
    GraceTimer {
        /// The session.
        session: SessionId,
        /// Its detach generation; a later resume makes this timer stale.
        generation: u64,
        /// Delay.
        after: Duration,
    },
    /// A call started ringing (or ended at once); store it.
    CallStarted(CallRow),
    /// A call was answered at this Unix ms.
    CallAnswered(CallId, i64),
    /// A call ended; store it.
    CallEnded(CallEnd),
}

/// Who joins, from the connection layer after authentication.
#[derive(Debug)]
pub struct JoinRequest {
    /// The user.
    pub user: UserSummary,
    /// The login (auth session) their token belongs to.
    pub auth_session: Uuid,
    /// Their contacts, from storage.
    pub contacts: Vec<UserSummary>,
    /// The socket.
    pub conn: ConnTx,
    /// A session to resume.
    pub resume: Option<Resume>,
    /// Protocol version agreed in `hello`.
    pub protocol_version: u16,
    /// The `req` of the hello.
    pub req: Option<String>,
}

/// The outcome of a join.
#[derive(Debug, PartialEq, Eq)]
pub struct Joined {
    /// The session now bound to the socket.
    pub session: SessionId,
    /// Whether an earlier session was resumed.
    pub resumed: bool,
}

#[derive(Debug)]
struct Session {
    user: UserId,
    auth_session: Uuid,
    /// The live socket, if any.
    conn: Option<ConnId>,
    /// Bumped on every detach and resume, to recognise stale grace timers.
    generation: u64,
    outbox: Outbox,
}

#[derive(Debug)]
struct OnlineUser {
    summary: UserSummary,
    sessions: Vec<SessionId>,
    contacts: HashMap<UserId, UserSummary>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    Ringing,
    Active,
}

#[derive(Debug)]
struct Call {
    caller: UserSummary,
    callee: UserSummary,
    caller_session: SessionId,
    /// The answering device, once answered.
    callee_session: Option<SessionId>,
    /// Callee devices that were rung and not yet told the outcome.
    rung: Vec<SessionId>,
    appointment_id: Option<String>,
    state: CallState,
    /// When an unanswered call times out.
    rings_until: Instant,
    answered_at: Option<Instant>,
}

/// See the module docs.
#[derive(Debug)]
pub struct Hub {
    config: HubConfig,
    sessions: HashMap<SessionId, Session>,
    users: HashMap<UserId, OnlineUser>,
    /// For each user, the online users who have them as a contact and so
    /// must hear about their presence.
    watchers: HashMap<UserId, HashSet<UserId>>,
    calls: HashMap<CallId, Call>,
    /// A user takes part in at most one call (ringing or active) at a time.
    call_of_user: HashMap<UserId, CallId>,
    /// Every doctor, when patients see all doctors: one shared directory
    /// instead of a copy in every patient's contacts.
    doctors: HashMap<UserId, UserSummary>,
    shutting_down: bool,
    /// Appointments' waiting rooms: who waits, on which device.
    waiting: HashMap<AppointmentId, Waiting>,
}

/// An appointment's waiting room, as the connection layer names it after
/// loading the appointment.
#[derive(Clone, Debug)]
pub struct Room {
    /// The appointment.
    pub appointment_id: AppointmentId,
    /// Its patient, the one who waits.
    pub patient: UserSummary,
    /// Its doctor, who admits.
    pub doctor: UserId,
}

/// A patient in an appointment's waiting room.
#[derive(Debug)]
struct Waiting {
    patient: UserSummary,
    doctor: UserId,
    session: SessionId,
}

type Effects = Vec<Effect>;

impl Hub {
    /// An empty hub. `doctors` is the directory patients see when
    /// `patients_see_all_doctors` is on (ignored otherwise).
    pub fn new(config: HubConfig, doctors: Vec<UserSummary>) -> Self {
        let doctors = if config.patients_see_all_doctors {
            doctors.into_iter().map(|d| (d.id, d)).collect()
        } else {
            HashMap::new()
        };
        Self {
            config,
            sessions: HashMap::new(),
            users: HashMap::new(),
            watchers: HashMap::new(),
            calls: HashMap::new(),
            call_of_user: HashMap::new(),
            doctors,
            shutting_down: false,
            waiting: HashMap::new(),
        }
    }

    /// Number of sessions with a live socket.
    pub fn connected_sessions(&self) -> usize {
        self.sessions.values().filter(|s| s.conn.is_some()).count()
    }

    /// Number of calls ringing or active.
    pub fn live_calls(&self) -> usize {
        self.calls.len()
    }

    /// Binds an authenticated socket to a new or resumed session, sends
    /// `welcome` (and, for a new session, the presence snapshot and any call
    /// ringing for the user), and announces the user online if this is
    /// their first device.
    ///
    /// A user has at most `max_sessions_per_user` sessions: to make room,
    /// the oldest one whose socket is gone is ended; if all are connected,
    /// the join is refused (`None`).
    pub fn join(&mut self, now: Now, req: JoinRequest) -> (Option<Joined>, Effects) {
        let mut effects = Vec::new();
        if !self.make_room(now, &req, &mut effects) {
            return (None, effects);
        }
        let (joined, more) = self.join_session(now, req);
        effects.extend(more);
        if self.shutting_down
            && let Some(session) = self.sessions.get_mut(&joined.session)
        {
            // Joined in the middle of a shutdown: send it on its way too.
            let after_ms = (joined.session.0.as_u128() % 5_000) as u64;
            let frame = Outbox::unnumbered(None, ServerMessage::Reconnect { after_ms });
            session.outbox.send(Outgoing::Frame(frame));
            session.outbox.close(CLOSE_RESTART, "server restarting");
        }
        (Some(joined), effects)
    }

    fn make_room(&mut self, now: Now, req: &JoinRequest, effects: &mut Effects) -> bool {
        let resuming_own = req.resume.as_ref().is_some_and(|r| {
            self.sessions
                .get(&r.session_id)
                .is_some_and(|s| s.user == req.user.id)
        });
        let sessions = self
            .users
            .get(&req.user.id)
            .map(|u| u.sessions.clone())
            .unwrap_or_default();
        // A resume replaces a session rather than adding one.
        if resuming_own || sessions.len() < self.config.max_sessions_per_user {
            return true;
        }
        // Sessions are kept in join order: the first detached is the oldest.
        let detached = sessions
            .into_iter()
            .find(|s| self.sessions.get(s).is_some_and(|s| s.conn.is_none()));
        match detached {
            Some(old) => {
                effects.extend(self.remove_session(now, old, EndReason::ConnectionLost));
                true
            }
            None => false,
        }
    }

    fn join_session(&mut self, now: Now, req: JoinRequest) -> (Joined, Effects) {
        let mut effects = Vec::new();
        let JoinRequest {
            user,
            auth_session,
            contacts,
            conn,
            resume,
            protocol_version,
            req: hello_req,
        } = req;

        let user_id = user.id;
        if let Some(resume) = &resume {
            let known = self
                .sessions
                .get(&resume.session_id)
                .filter(|s| s.user == user.id);
            if let Some(session) = known
                && session.outbox.can_resume(resume.last_seq)
            {
                let welcome = self.welcome(now, resume.session_id, true, &user, protocol_version);
                // Welcome first, then the replay of what was missed.
                let _ = conn
                    .tx
                    .try_send(Outgoing::Frame(Outbox::unnumbered(hello_req, welcome)));
                let conn_id = conn.id;
                if let Some(session) = self.sessions.get_mut(&resume.session_id) {
                    session.outbox.attach(conn, Some(resume.last_seq));
                    session.conn = Some(conn_id);
                    session.generation += 1;
                    session.auth_session = auth_session;
                }
                // Presence is state, not history: it is never replayed, so
                // a resumed session gets it afresh after the replay.
                self.send_snapshot(resume.session_id);
                return (
                    Joined {
                        session: resume.session_id,
                        resumed: true,
                    },
                    effects,
                );
            }
        }
        let (joined, more) = self.new_session(
            now,
            user,
            auth_session,
            contacts,
            conn,
            protocol_version,
            hello_req,
        );
        effects.extend(more);
        // A resume that failed because the client missed more than we kept:
        // its view of the old session cannot be trusted, so that session
        // ends (after the new one exists, so presence does not flap).
        if let Some(resume) = resume
            && self
                .sessions
                .get(&resume.session_id)
                .is_some_and(|s| s.user == user_id)
        {
            tracing::info!(session = %resume.session_id, "resume not possible; started a new session");
            effects.extend(self.remove_session(now, resume.session_id, EndReason::ConnectionLost));
        }
        (joined, effects)
    }

    #[allow(clippy::too_many_arguments)]
    fn new_session(
        &mut self,
        now: Now,
        user: UserSummary,
        auth_session: Uuid,
        contacts: Vec<UserSummary>,
        conn: ConnTx,
        protocol_version: u16,
        hello_req: Option<String>,
    ) -> (Joined, Effects) {
        let session_id = SessionId::random();
        let welcome = self.welcome(now, session_id, false, &user, protocol_version);
        let _ = conn
            .tx
            .try_send(Outgoing::Frame(Outbox::unnumbered(hello_req, welcome)));
        let conn_id = conn.id;
        let mut outbox = Outbox::new();
        outbox.attach(conn, None);
        self.sessions.insert(
            session_id,
            Session {
                user: user.id,
                auth_session,
                conn: Some(conn_id),
                generation: 0,
                outbox,
            },
        );

        let first_device = !self.users.contains_key(&user.id);
        if first_device {
            let contacts: HashMap<UserId, UserSummary> =
                contacts.into_iter().map(|c| (c.id, c)).collect();
            for contact in contacts.keys() {
                self.watchers.entry(*contact).or_default().insert(user.id);
            }
            self.users.insert(
                user.id,
                OnlineUser {
                    summary: user.clone(),
                    sessions: Vec::new(),
                    contacts,
                },
            );
        }
        if let Some(online) = self.users.get_mut(&user.id) {
            online.sessions.push(session_id);
        }
        if first_device {
            self.announce_presence(user.id, true);
        }

        self.send_snapshot(session_id);

        // A device that comes online while a call rings for its user rings
        // too: a doctor who opens the laptop mid-ring must not miss it.
        if let Some(call_id) = self.call_of_user.get(&user.id).copied()
            && let Some(call) = self.calls.get_mut(&call_id)
            && call.state == CallState::Ringing
            && call.callee.id == user.id
        {
            call.rung.push(session_id);
            let msg = ServerMessage::CallIncoming {
                call_id,
                caller: call.caller.clone(),
                appointment_id: call.appointment_id.clone(),
                ring_timeout_ms: call
                    .rings_until
                    .saturating_duration_since(now.mono)
                    .as_millis() as u64,
            };
            self.push(session_id, None, msg);
        }

        (
            Joined {
                session: session_id,
                resumed: false,
            },
            Vec::new(),
        )
    }

    fn welcome(
        &self,
        now: Now,
        session_id: SessionId,
        resumed: bool,
        user: &UserSummary,
        protocol_version: u16,
    ) -> ServerMessage {
        // Made now, not at start, so each welcome (a resume's too) brings
        // TURN credentials valid for the full TTL.
        let now_secs = (now.wall_ms.max(0) / 1000) as u64;
        ServerMessage::Welcome {
            protocol_version: protocol_version.min(PROTOCOL_VERSION),
            session_id,
            resumed,
            user: user.clone(),
            resume_grace_ms: self.config.resume_grace.as_millis() as u64,
            heartbeat_interval_ms: self.config.heartbeat_interval.as_millis() as u64,
            limits: self.config.limits.clone(),
            ice_servers: self.config.ice.for_user(user.id, now_secs),
        }
    }

    /// A socket closed. The session stays for the grace period, so a quick
    /// reconnect keeps the user's presence and calls.
    pub fn detach(&mut self, session_id: SessionId, conn: ConnId) -> Effects {
        let Some(session) = self.sessions.get_mut(&session_id) else {
            return Vec::new();
        };
        if session.conn != Some(conn) {
            // An older socket of a session that has since been resumed.
            return Vec::new();
        }
        session.conn = None;
        session.outbox.detach(conn);
        session.generation += 1;
        vec![Effect::GraceTimer {
            session: session_id,
            generation: session.generation,
            after: self.config.resume_grace,
        }]
    }

    /// The client closed its socket cleanly: it is leaving, so its session
    /// ends now (its calls end as hung up by it) instead of waiting out the
    /// resume grace.
    pub fn leave(&mut self, now: Now, session_id: SessionId, conn: ConnId) -> Effects {
        match self.sessions.get(&session_id) {
            Some(session) if session.conn == Some(conn) => {
                self.remove_session(now, session_id, EndReason::HungUp)
            }
            // A socket of a session since resumed elsewhere.
            _ => Vec::new(),
        }
    }

    /// The grace period of a detached session ran out.
    pub fn grace_expired(&mut self, now: Now, session_id: SessionId, generation: u64) -> Effects {
        let expired = self
            .sessions
            .get(&session_id)
            .is_some_and(|s| s.conn.is_none() && s.generation == generation);
        if expired {
            self.remove_session(now, session_id, EndReason::ConnectionLost)
        } else {
            Vec::new()
        }
    }

    /// A call's ring timer fired.
    pub fn ring_timeout(&mut self, now: Now, call_id: CallId) -> Effects {
        match self.calls.get(&call_id) {
            Some(call) if call.state == CallState::Ringing => {
                self.end_call(now, call_id, EndReason::Timeout, None, None)
            }
            _ => Vec::new(),
        }
    }

    /// A login was signed out: close its sockets and end its sessions.
    pub fn revoke_auth_session(&mut self, now: Now, auth_session: Uuid) -> Effects {
        let doomed: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.auth_session == auth_session)
            .map(|(id, _)| *id)
            .collect();
        let mut effects = Vec::new();
        for id in doomed {
            if let Some(session) = self.sessions.get_mut(&id) {
                session.outbox.close(CLOSE_SIGNED_OUT, "signed out");
            }
            effects.extend(self.remove_session(now, id, EndReason::HungUp));
        }
        effects
    }

    /// A care relation was added: both sides, if online, gain each other as
    /// contacts and hear the other's presence.
    pub fn relation_added(&mut self, doctor: UserSummary, patient: UserSummary) {
        for (who, other) in [(&doctor, &patient), (&patient, &doctor)] {
            let Some(online) = self.users.get_mut(&who.id) else {
                continue;
            };
            if online.contacts.insert(other.id, other.clone()).is_none() {
                self.watchers.entry(other.id).or_default().insert(who.id);
                let online = self.users.contains_key(&other.id);
                let frame = Outbox::unnumbered(
                    None,
                    ServerMessage::Presence {
                        user_id: other.id,
                        online,
                    },
                );
                self.send_to_user(who.id, &frame);
            }
        }
    }

    /// A doctor account was created. Where patients see every doctor, the
    /// directory grows and every online patient hears of the new doctor.
    pub fn doctor_added(&mut self, doctor: UserSummary) {
        if !self.config.patients_see_all_doctors {
            return;
        }
        let id = doctor.id;
        if self.doctors.insert(id, doctor).is_some() {
            return;
        }
        let frame = Outbox::unnumbered(
            None,
            ServerMessage::Presence {
                user_id: id,
                online: false,
            },
        );
        for session in self.online_patient_sessions() {
            self.send_frame(session, &frame);
        }
    }

    /// The server is stopping: tell every client to reconnect (after a
    /// spread-out delay) and close the sockets. Calls' media is peer to
    /// peer and goes on; the records note the shutdown.
    pub fn shutdown(&mut self, now: Now, reconnect_after: impl Fn() -> u64) -> Effects {
        self.shutting_down = true;
        let mut effects = Vec::new();
        let call_ids: Vec<CallId> = self.calls.keys().copied().collect();
        for call_id in call_ids {
            effects.extend(self.end_call_quietly(now, call_id, EndReason::ServerShutdown));
        }
        for session in self.sessions.values_mut() {
            // About the connection, not the session's history: unnumbered.
            let msg = ServerMessage::Reconnect {
                after_ms: reconnect_after(),
            };
            session
                .outbox
                .send(Outgoing::Frame(Outbox::unnumbered(None, msg)));
            session.outbox.close(CLOSE_RESTART, "server restarting");
        }
        effects
    }

    /// Sends an error reply on a session.
    pub fn reply_error(
        &mut self,
        session: SessionId,
        req: Option<String>,
        code: ErrorCode,
        message: impl Into<String>,
        call_id: Option<CallId>,
    ) {
        metrics::counter!("clinicall_errors_total", "code" => code.as_str()).increment(1);
        self.push(
            session,
            req,
            ServerMessage::Error {
                code,
                message: message.into(),
                call_id,
            },
        );
    }

    /// Handles one validated message from a session.
    pub fn handle(
        &mut self,
        now: Now,
        session: SessionId,
        req: Option<String>,
        msg: ClientMessage,
    ) -> Effects {
        let Some(user) = self.sessions.get(&session).map(|s| s.user) else {
            return Vec::new();
        };
        let result = match msg {
            ClientMessage::Hello { .. } => Err(Refusal::new(
                ErrorCode::AlreadyGreeted,
                "hello was already sent on this connection",
                None,
            )),
            ClientMessage::Ping => {
                // Unnumbered: pings must not push call signaling out of
                // the replay buffer.
                let frame = Outbox::unnumbered(req.clone(), ServerMessage::Pong);
                self.send_frame(session, &frame);
                Ok(Vec::new())
            }
            ClientMessage::Invite {
                callee,
                appointment_id,
            } => self.invite(now, session, user, req.clone(), callee, appointment_id),
            ClientMessage::Accept { call_id } => {
                self.accept(now, session, user, req.clone(), call_id)
            }
            ClientMessage::Reject { call_id } => {
                self.reject(now, session, user, req.clone(), call_id)
            }
            ClientMessage::Cancel { call_id } => {
                self.cancel(now, session, user, req.clone(), call_id)
            }
            ClientMessage::Hangup { call_id } => {
                self.hangup(now, session, user, req.clone(), call_id)
            }
            ClientMessage::Signal { call_id, signal } => self.relay(session, user, call_id, signal),
            // They need storage, so the connection hands them to
            // `signaling::chat`, which calls the `chat_*` methods below.
            ClientMessage::ChatOpen { .. }
            | ClientMessage::ChatList
            | ClientMessage::ChatSend { .. }
            | ClientMessage::ChatFetch { .. }
            | ClientMessage::ChatRead { .. }
            | ClientMessage::ChatTyping { .. }
            // Waiting rooms need the appointment from storage: the
            // connection hands them to `signaling::rooms`, which calls the
            // `room_*` methods below.
            | ClientMessage::RoomJoin { .. }
            | ClientMessage::RoomLeave { .. }
            | ClientMessage::RoomAdmit { .. } => Err(Refusal::new(
                ErrorCode::Internal,
                "chat and room messages are not handled here",
                None,
            )),
        };
        match result {
            Ok(effects) => effects,
            Err(refusal) => {
                self.reply_error(session, req, refusal.code, refusal.message, refusal.call_id);
                Vec::new()
            }
        }
    }

    fn invite(
        &mut self,
        now: Now,
        session: SessionId,
        caller: UserId,
        req: Option<String>,
        callee_id: UserId,
        appointment_id: Option<String>,
    ) -> Result<Effects, Refusal> {
        if self.shutting_down {
            return Err(Refusal::new(
                ErrorCode::Unavailable,
                "server is shutting down",
                None,
            ));
        }
        let caller_online = self
            .users
            .get(&caller)
            .ok_or_else(|| Refusal::new(ErrorCode::Internal, "caller not online", None))?;
        if callee_id == caller {
            return Err(Refusal::new(
                ErrorCode::Forbidden,
                "you cannot call yourself",
                None,
            ));
        }
        let Some(callee) = self.contact_of(caller_online, callee_id).cloned() else {
            return Err(Refusal::new(ErrorCode::NotFound, "no such contact", None));
        };
        let caller_summary = caller_online.summary.clone();
        if let Some(existing) = self.call_of_user.get(&caller) {
            return Err(Refusal::new(
                ErrorCode::AlreadyInCall,
                "you are already in a call; end it first",
                Some(*existing),
            ));
        }
        let call_id = CallId(Uuid::now_v7());
        let row = CallRow {
            id: call_id,
            caller,
            callee: callee_id,
            appointment_id: appointment_id.clone(),
            rung_at_ms: now.wall_ms,
        };
        metrics::counter!("clinicall_calls_started_total").increment(1);

        let callee_sessions = self
            .users
            .get(&callee_id)
            .map(|u| u.sessions.clone())
            .unwrap_or_default();
        let immediate_end = if callee_sessions.is_empty() {
            Some(EndReason::Unavailable)
        } else if self.call_of_user.contains_key(&callee_id) {
            Some(EndReason::Busy)
        } else {
            None
        };
        if let Some(reason) = immediate_end {
            metrics::counter!("clinicall_calls_ended_total", "reason" => reason.as_str())
                .increment(1);
            self.push(
                session,
                req,
                ServerMessage::CallEnded {
                    call_id,
                    reason,
                    by: None,
                },
            );
            return Ok(vec![
                Effect::CallStarted(row),
                Effect::CallEnded(CallEnd {
                    id: call_id,
                    ended_at_ms: now.wall_ms,
                    reason,
                    ended_by: None,
                    duration_ms: None,
                }),
            ]);
        }

        self.push(
            session,
            req,
            ServerMessage::CallRinging {
                call_id,
                callee: callee.clone(),
            },
        );
        for &s in &callee_sessions {
            self.push(
                s,
                None,
                ServerMessage::CallIncoming {
                    call_id,
                    caller: caller_summary.clone(),
                    appointment_id: appointment_id.clone(),
                    ring_timeout_ms: self.config.ring_timeout.as_millis() as u64,
                },
            );
        }
        self.calls.insert(
            call_id,
            Call {
                caller: caller_summary,
                callee,
                caller_session: session,
                callee_session: None,
                rung: callee_sessions,
                appointment_id,
                state: CallState::Ringing,
                rings_until: now.mono + self.config.ring_timeout,
                answered_at: None,
            },
        );
        self.call_of_user.insert(caller, call_id);
        self.call_of_user.insert(callee_id, call_id);
        metrics::gauge!("clinicall_calls_live").increment(1.0);
        Ok(vec![
            Effect::CallStarted(row),
            Effect::RingTimer {
                call: call_id,
                after: self.config.ring_timeout,
            },
        ])
    }

    fn accept(
        &mut self,
        now: Now,
        session: SessionId,
        user: UserId,
        req: Option<String>,
        call_id: CallId,
    ) -> Result<Effects, Refusal> {
        let call = self.call_for(call_id, user)?;
        if call.callee.id != user {
            return Err(Refusal::new(
                ErrorCode::NotAParty,
                "only the callee can accept",
                Some(call_id),
            ));
        }
        if call.state == CallState::Active {
            return Err(Refusal::new(
                ErrorCode::AlreadyAnswered,
                "the call was already answered on another device",
                Some(call_id),
            ));
        }
        call.state = CallState::Active;
        call.callee_session = Some(session);
        call.answered_at = Some(now.mono);
        let others: Vec<SessionId> = call.rung.drain(..).filter(|s| *s != session).collect();
        let caller_session = call.caller_session;
        for s in others {
            self.push(
                s,
                None,
                ServerMessage::CallEnded {
                    call_id,
                    reason: EndReason::AnsweredElsewhere,
                    by: Some(user),
                },
            );
        }
        self.push(
            caller_session,
            None,
            ServerMessage::CallAccepted { call_id },
        );
        self.push(session, req, ServerMessage::CallAccepted { call_id });
        metrics::counter!("clinicall_calls_answered_total").increment(1);
        Ok(vec![Effect::CallAnswered(call_id, now.wall_ms)])
    }

    fn reject(
        &mut self,
        now: Now,
        session: SessionId,
        user: UserId,
        req: Option<String>,
        call_id: CallId,
    ) -> Result<Effects, Refusal> {
        let call = self.call_for(call_id, user)?;
        if call.callee.id != user {
            return Err(Refusal::new(
                ErrorCode::NotAParty,
                "only the callee can reject",
                Some(call_id),
            ));
        }
        if call.state != CallState::Ringing {
            return Err(Refusal::new(
                ErrorCode::WrongCallState,
                "the call is answered; hang up instead",
                Some(call_id),
            ));
        }
        if !call.rung.contains(&session) {
            return Err(Refusal::new(
                ErrorCode::NotAParty,
                "this device is not ringing",
                Some(call_id),
            ));
        }
        Ok(self.end_call(
            now,
            call_id,
            EndReason::Rejected,
            Some(user),
            Some((session, req)),
        ))
    }

    fn cancel(
        &mut self,
        now: Now,
        session: SessionId,
        user: UserId,
        req: Option<String>,
        call_id: CallId,
    ) -> Result<Effects, Refusal> {
        let call = self.call_for(call_id, user)?;
        if call.caller_session != session {
            return Err(Refusal::new(
                ErrorCode::NotAParty,
                "only the calling device can cancel",
                Some(call_id),
            ));
        }
        if call.state != CallState::Ringing {
            return Err(Refusal::new(
                ErrorCode::WrongCallState,
                "the call is answered; hang up instead",
                Some(call_id),
            ));
        }
        Ok(self.end_call(
            now,
            call_id,
            EndReason::Cancelled,
            Some(user),
            Some((session, req)),
        ))
    }

    fn hangup(
        &mut self,
        now: Now,
        session: SessionId,
        user: UserId,
        req: Option<String>,
        call_id: CallId,
    ) -> Result<Effects, Refusal> {
        let call = self.call_for(call_id, user)?;
        let reason = match call.state {
            // Hanging up a ringing call is what a person means by cancel
            // (caller) or reject (callee).
            CallState::Ringing if call.caller_session == session => EndReason::Cancelled,
            CallState::Ringing if call.rung.contains(&session) => EndReason::Rejected,
            CallState::Active
                if call.caller_session == session || call.callee_session == Some(session) =>
            {
                EndReason::HungUp
            }
            _ => {
                return Err(Refusal::new(
                    ErrorCode::NotAParty,
                    "this device is not in the call",
                    Some(call_id),
                ));
            }
        };
        Ok(self.end_call(now, call_id, reason, Some(user), Some((session, req))))
    }

    fn relay(
        &mut self,
        session: SessionId,
        user: UserId,
        call_id: CallId,
        signal: Signal,
    ) -> Result<Effects, Refusal> {
        let call = self.call_for(call_id, user)?;
        if call.state != CallState::Active {
            return Err(Refusal::new(
                ErrorCode::WrongCallState,
                "signals are relayed only after the call is accepted",
                Some(call_id),
            ));
        }
        let target = if call.caller_session == session {
            call.callee_session
        } else if call.callee_session == Some(session) {
            Some(call.caller_session)
        } else {
            None
        };
        let Some(target) = target else {
            return Err(Refusal::new(
                ErrorCode::NotAParty,
                "this device is not in the call",
                Some(call_id),
            ));
        };
        if signal.is_ice_restart() {
            metrics::counter!("clinicall_ice_restarts_total").increment(1);
        }
        metrics::counter!("clinicall_messages_relayed_total").increment(1);
        self.push(
            target,
            None,
            ServerMessage::Signal {
                call_id,
                from: user,
                signal,
            },
        );
        Ok(Vec::new())
    }

    /// The call, if it exists and `user` is one of its parties. Calls of
    /// other people are reported as not found, to reveal nothing.
    fn call_for(&mut self, call_id: CallId, user: UserId) -> Result<&mut Call, Refusal> {
        match self.calls.get_mut(&call_id) {
            Some(call) if call.caller.id == user || call.callee.id == user => Ok(call),
            _ => Err(Refusal::new(
                ErrorCode::NotFound,
                "no such call (it may have ended)",
                Some(call_id),
            )),
        }
    }

    /// Ends a call, telling every device involved. `origin` is the session
    /// whose action ended it, with that action's `req`: it gets the `req`
    /// echoed, and the callee's other ringing devices hear "rejected
    /// elsewhere" when one of them rejects.
    fn end_call(
        &mut self,
        now: Now,
        call_id: CallId,
        reason: EndReason,
        by: Option<UserId>,
        origin: Option<(SessionId, Option<String>)>,
    ) -> Effects {
        let Some(call) = self.calls.get(&call_id) else {
            return Vec::new();
        };
        let (origin_session, mut origin_req) = match origin {
            Some((session, req)) => (Some(session), req),
            None => (None, None),
        };
        let mut notify: Vec<(SessionId, EndReason)> = vec![(call.caller_session, reason)];
        if let Some(s) = call.callee_session {
            notify.push((s, reason));
        }
        for &s in &call.rung {
            let device_reason = if reason == EndReason::Rejected && Some(s) != origin_session {
                EndReason::RejectedElsewhere
            } else {
                reason
            };
            notify.push((s, device_reason));
        }
        for (s, reason) in notify {
            let req = if Some(s) == origin_session {
                origin_req.take()
            } else {
                None
            };
            self.push(
                s,
                req,
                ServerMessage::CallEnded {
                    call_id,
                    reason,
                    by,
                },
            );
        }
        self.end_call_quietly_by(now, call_id, reason, by)
    }

    fn end_call_quietly(&mut self, now: Now, call_id: CallId, reason: EndReason) -> Effects {
        self.end_call_quietly_by(now, call_id, reason, None)
    }

    /// Removes a call and returns the record of its end, without telling
    /// anyone.
    fn end_call_quietly_by(
        &mut self,
        now: Now,
        call_id: CallId,
        reason: EndReason,
        by: Option<UserId>,
    ) -> Effects {
        let Some(call) = self.calls.remove(&call_id) else {
            return Vec::new();
        };
        for user in [call.caller.id, call.callee.id] {
            if self.call_of_user.get(&user) == Some(&call_id) {
                self.call_of_user.remove(&user);
            }
        }
        metrics::gauge!("clinicall_calls_live").decrement(1.0);
        metrics::counter!("clinicall_calls_ended_total", "reason" => reason.as_str()).increment(1);
        vec![Effect::CallEnded(CallEnd {
            id: call_id,
            ended_at_ms: now.wall_ms,
            reason,
            ended_by: by,
            duration_ms: call
                .answered_at
                .map(|t| now.mono.saturating_duration_since(t).as_millis() as i64),
        })]
    }

    /// Drops a session for good: ends the calls it carried, and announces
    /// the user offline if it was their last device.
    fn remove_session(&mut self, now: Now, session_id: SessionId, reason: EndReason) -> Effects {
        let Some(session) = self.sessions.remove(&session_id) else {
            return Vec::new();
        };
        let user_id = session.user;
        self.leave_waiting_rooms(session_id);
        let mut effects = Vec::new();
        if let Some(call_id) = self.call_of_user.get(&user_id).copied()
            && let Some(call) = self.calls.get_mut(&call_id)
        {
            if call.caller_session == session_id || call.callee_session == Some(session_id) {
                let by = (reason == EndReason::HungUp).then_some(user_id);
                // Signing out while a call rings withdraws it.
                let reason = if reason == EndReason::HungUp && call.state == CallState::Ringing {
                    EndReason::Cancelled
                } else {
                    reason
                };
                effects.extend(self.end_call(now, call_id, reason, by, None));
            } else {
                // One of several ringing devices went away; the call rings on.
                call.rung.retain(|s| *s != session_id);
            }
        }
        let last_device = match self.users.get_mut(&user_id) {
            Some(online) => {
                online.sessions.retain(|s| *s != session_id);
                online.sessions.is_empty()
            }
            None => false,
        };
        if last_device && let Some(online) = self.users.remove(&user_id) {
            for contact in online.contacts.keys() {
                if let Some(set) = self.watchers.get_mut(contact) {
                    set.remove(&user_id);
                    if set.is_empty() {
                        self.watchers.remove(contact);
                    }
                }
            }
            self.announce_presence(user_id, false);
        }
        effects
    }

    /// `other` as one of `owner`'s contacts: a care relation, or any doctor
    /// for a patient when patients see all doctors.
    fn contact_of<'a>(&'a self, owner: &'a OnlineUser, other: UserId) -> Option<&'a UserSummary> {
        owner.contacts.get(&other).or_else(|| {
            (owner.summary.role == Role::Patient)
                .then(|| self.doctors.get(&other))
                .flatten()
        })
    }

    /// Sends a session its contacts and who of them is online.
    fn send_snapshot(&mut self, session: SessionId) {
        let Some(owner) = self
            .sessions
            .get(&session)
            .and_then(|s| self.users.get(&s.user))
        else {
            return;
        };
        let mut contacts: HashMap<UserId, &UserSummary> =
            owner.contacts.iter().map(|(id, u)| (*id, u)).collect();
        if owner.summary.role == Role::Patient {
            contacts.extend(self.doctors.iter().map(|(id, u)| (*id, u)));
        }
        let mut contacts: Vec<Contact> = contacts
            .into_values()
            .map(|c| Contact {
                user: c.clone(),
                online: self.users.contains_key(&c.id),
            })
            .collect();
        contacts.sort_by(|a, b| a.user.display_name.cmp(&b.user.display_name));
        // Pages keep every frame small: the WebSocket layer keeps its write
        // buffer at the size of the largest frame it has sent.
        let pages = contacts.len().div_ceil(SNAPSHOT_PAGE).max(1);
        let mut contacts = contacts.into_iter();
        for page in 0..pages {
            let msg = ServerMessage::PresenceSnapshot {
                contacts: contacts.by_ref().take(SNAPSHOT_PAGE).collect(),
                more: page + 1 < pages,
            };
            self.send_frame(session, &Outbox::unnumbered(None, msg));
        }
    }

    /// Tells everyone who has `user` as a contact that they came online or
    /// went offline. The frame is built once and shared by every recipient.
    fn announce_presence(&mut self, user: UserId, online: bool) {
        let mut audience: HashSet<SessionId> = HashSet::new();
        if let Some(watchers) = self.watchers.get(&user) {
            for watcher in watchers {
                if let Some(u) = self.users.get(watcher) {
                    audience.extend(u.sessions.iter().copied());
                }
            }
        }
        if self.doctors.contains_key(&user) {
            audience.extend(self.online_patient_sessions());
        }
        if audience.is_empty() {
            return;
        }
        let frame = Outbox::unnumbered(
            None,
            ServerMessage::Presence {
                user_id: user,
                online,
            },
        );
        for session in audience {
            self.send_frame(session, &frame);
        }
    }

    fn online_patient_sessions(&self) -> Vec<SessionId> {
        self.users
            .values()
            .filter(|u| u.summary.role == Role::Patient)
            .flat_map(|u| u.sessions.iter().copied())
            .collect()
    }

    fn send_to_user(&mut self, user: UserId, frame: &Utf8Bytes) {
        let sessions = self.sessions_of(user);
        for session in sessions {
            self.send_frame(session, frame);
        }
    }

    /// Sends an unnumbered frame (presence): live connections only, never
    /// kept for replay.
    fn send_frame(&mut self, session: SessionId, frame: &Utf8Bytes) {
        if let Some(s) = self.sessions.get_mut(&session) {
            s.outbox.send(Outgoing::Frame(frame.clone()));
        }
    }

    fn push(&mut self, session: SessionId, req: Option<String>, msg: ServerMessage) {
        if let Some(s) = self.sessions.get_mut(&session) {
            s.outbox.push(req, msg);
        }
    }

    /// `peer` as a contact `user` may start a chat with: the same rule as
    /// for calls (care relations, and every doctor for a patient when
    /// patients see all doctors). `user` must be online.
    pub fn chat_contact(&self, user: UserId, peer: UserId) -> Option<UserSummary> {
        let owner = self.users.get(&user)?;
        if peer == user {
            return None;
        }
        self.contact_of(owner, peer).cloned()
    }

    /// Replies on one session (numbered, so a resumed session gets it).
    pub fn reply(&mut self, session: SessionId, req: Option<String>, msg: ServerMessage) {
        self.push(session, req, msg);
    }

    /// A chat message was stored: acks it to the sending device and
    /// delivers it to the sender's other devices and every device of the
    /// recipient, detached ones included (they get it on resume).
    pub fn chat_stored(
        &mut self,
        origin: SessionId,
        req: Option<String>,
        message: ChatMessage,
        recipient: UserId,
    ) {
        let ack = ServerMessage::ChatAck {
            conversation_id: message.conversation_id,
            id: message.id,
            seq: message.seq,
            sent_at_ms: message.sent_at_ms,
        };
        let sender = message.sender;
        self.push(origin, req, ack);
        let mut audience = self.sessions_of(recipient);
        audience.extend(
            self.sessions_of(sender)
                .into_iter()
                .filter(|s| *s != origin),
        );
        let msg = ServerMessage::ChatMessage { message };
        for session in audience {
            self.push(session, None, msg.clone());
        }
    }

    /// A party read a conversation up to `up_to_seq`: every device of both
    /// parties hears it; the requesting one with its `req`.
    pub fn chat_read(
        &mut self,
        origin: SessionId,
        req: Option<String>,
        conversation_id: ConversationId,
        reader: UserId,
        peer: UserId,
        up_to_seq: u64,
    ) {
        let msg = ServerMessage::ChatRead {
            conversation_id,
            reader,
            up_to_seq,
        };
        self.push(origin, req, msg.clone());
        let mut audience = self.sessions_of(reader);
        audience.extend(self.sessions_of(peer));
        for session in audience.into_iter().filter(|s| *s != origin) {
            self.push(session, None, msg.clone());
        }
    }

    /// Typing is a passing state, like presence: sent unnumbered to the
    /// peer's live devices, never kept for replay nor stored.
    pub fn chat_typing(
        &mut self,
        conversation_id: ConversationId,
        user_id: UserId,
        peer: UserId,
        typing: bool,
    ) {
        let frame = Outbox::unnumbered(
            None,
            ServerMessage::ChatTyping {
                conversation_id,
                user_id,
                typing,
            },
        );
        self.send_to_user(peer, &frame);
    }

    /// An appointment was booked or changed: every device of its doctor and
    /// of its patient hears it, numbered like chat (a device in its resume
    /// grace gets it on resume). Offline users catch up by cursor.
    pub fn appointment_changed(&mut self, appointment: Appointment) {
        let mut audience = self.sessions_of(appointment.doctor.id);
        audience.extend(self.sessions_of(appointment.patient.id));
        let msg = ServerMessage::AppointmentChanged { appointment };
        for session in audience {
            self.push(session, None, msg.clone());
        }
    }

    /// Whether the patient waits in the room, on a session that still
    /// exists (a device gone past its resume grace no longer waits).
    fn is_waiting(&self, appointment_id: AppointmentId) -> bool {
        self.waiting
            .get(&appointment_id)
            .is_some_and(|w| self.sessions.contains_key(&w.session))
    }

    /// Tells `origin` (with its `req`) and the doctor's other devices
    /// whether the patient waits.
    fn room_announce(&mut self, origin: SessionId, req: Option<String>, room: Room) {
        let msg = ServerMessage::RoomWaiting {
            appointment_id: room.appointment_id,
            waiting: self.is_waiting(room.appointment_id),
            patient: room.patient,
        };
        self.push(origin, req, msg.clone());
        for session in self.sessions_of(room.doctor) {
            if session != origin {
                self.push(session, None, msg.clone());
            }
        }
    }

    /// The appointment's patient (already authorized) enters its waiting
    /// room from `origin`. A patient whose call for this visit already
    /// rings or goes on does not wait again (a client rejoining after a
    /// reconnect can cross the doctor's admit): the reply says
    /// `waiting: false` and the doctor hears nothing.
    pub fn room_join(&mut self, origin: SessionId, req: Option<String>, room: Room) {
        let label = room.appointment_id.to_string();
        let in_the_visit = self
            .call_of_user
            .get(&room.patient.id)
            .and_then(|id| self.calls.get(id))
            .is_some_and(|call| call.appointment_id.as_deref() == Some(label.as_str()));
        if in_the_visit {
            let msg = ServerMessage::RoomWaiting {
                appointment_id: room.appointment_id,
                waiting: false,
                patient: room.patient,
            };
            self.push(origin, req, msg);
            return;
        }
        let waiting = Waiting {
            patient: room.patient.clone(),
            doctor: room.doctor,
            session: origin,
        };
        self.waiting.insert(room.appointment_id, waiting);
        self.room_announce(origin, req, room);
    }

    /// The appointment's patient leaves its waiting room.
    pub fn room_leave(&mut self, origin: SessionId, req: Option<String>, room: Room) {
        self.waiting.remove(&room.appointment_id);
        self.room_announce(origin, req, room);
    }

    /// The appointment's doctor asks whether its patient waits.
    pub fn room_state(&mut self, origin: SessionId, req: Option<String>, room: Room) {
        let msg = ServerMessage::RoomWaiting {
            appointment_id: room.appointment_id,
            waiting: self.is_waiting(room.appointment_id),
            patient: room.patient,
        };
        self.push(origin, req, msg);
    }

    /// A session ended: its patient no longer waits in the rooms it waited
    /// in, and their doctors' devices hear it.
    fn leave_waiting_rooms(&mut self, session_id: SessionId) {
        let gone: Vec<AppointmentId> = self
            .waiting
            .iter()
            .filter(|(_, w)| w.session == session_id)
            .map(|(id, _)| *id)
            .collect();
        for appointment_id in gone {
            let Some(w) = self.waiting.remove(&appointment_id) else {
                continue;
            };
            let msg = ServerMessage::RoomWaiting {
                appointment_id,
                patient: w.patient,
                waiting: false,
            };
            for session in self.sessions_of(w.doctor) {
                self.push(session, None, msg.clone());
            }
        }
    }

    /// The appointment's doctor admits the waiting patient: the doctor's
    /// device `origin` calls the patient, labelled with the appointment.
    /// Refused with `not_found` when nobody waits; the patient stays
    /// waiting if the call cannot start (for example, busy).
    pub fn room_admit(
        &mut self,
        now: Now,
        origin: SessionId,
        req: Option<String>,
        appointment_id: AppointmentId,
    ) -> Effects {
        let Some(doctor) = self.sessions.get(&origin).map(|s| s.user) else {
            return Vec::new();
        };
        let waiting = self
            .waiting
            .get(&appointment_id)
            .filter(|w| w.doctor == doctor)
            .map(|w| w.patient.clone());
        let Some(patient) = waiting.filter(|_| self.is_waiting(appointment_id)) else {
            self.reply_error(
                origin,
                req,
                ErrorCode::NotFound,
                "nobody is waiting in this room",
                None,
            );
            return Vec::new();
        };
        let label = Some(appointment_id.to_string());
        match self.invite(now, origin, doctor, req.clone(), patient.id, label) {
            Ok(effects) => {
                self.waiting.remove(&appointment_id);
                let msg = ServerMessage::RoomWaiting {
                    appointment_id,
                    patient,
                    waiting: false,
                };
                for session in self.sessions_of(doctor) {
                    self.push(session, None, msg.clone());
                }
                effects
            }
            Err(refusal) => {
                self.reply_error(origin, req, refusal.code, refusal.message, refusal.call_id);
                Vec::new()
            }
        }
    }

    fn sessions_of(&self, user: UserId) -> Vec<SessionId> {
        self.users
            .get(&user)
            .map(|u| u.sessions.clone())
            .unwrap_or_default()
    }

    /// The role of an online user (for tests and metrics).
    pub fn role_of(&self, user: UserId) -> Option<Role> {
        self.users.get(&user).map(|u| u.summary.role)
    }
}

struct Refusal {
    code: ErrorCode,
    message: &'static str,
    call_id: Option<CallId>,
}

impl Refusal {
    fn new(code: ErrorCode, message: &'static str, call_id: Option<CallId>) -> Self {
        Self {
            code,
            message,
            call_id,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The hub driven directly: time is an argument, sockets are channels.
    use super::*;
    use clinicall_protocol::ServerEnvelope;
    use tokio::sync::mpsc;

    const RING: Duration = Duration::from_secs(30);
    const GRACE: Duration = Duration::from_secs(10);

    fn hub() -> Hub {
        Hub::new(
            HubConfig {
                ring_timeout: RING,
                resume_grace: GRACE,
                limits: ConnectionLimits {
                    max_message_bytes: 1024,
                    messages_per_second: 10,
                    message_burst: 10,
                },
                patients_see_all_doctors: false,
                heartbeat_interval: Duration::from_secs(20),
                max_sessions_per_user: 8,
                ice: IceServers::default(),
            },
            Vec::new(),
        )
    }

    fn at(base: Instant, secs: u64) -> Now {
        Now {
            mono: base + Duration::from_secs(secs),
            wall_ms: 1_000_000 + secs as i64 * 1000,
        }
    }

    fn user(role: Role, name: &str) -> UserSummary {
        UserSummary {
            id: UserId::random(),
            display_name: name.into(),
            role,
        }
    }

    struct Device {
        session: SessionId,
        conn: ConnId,
        rx: mpsc::Receiver<Outgoing>,
    }

    impl Device {
        fn drain(&mut self) -> Vec<ServerMessage> {
            let mut out = Vec::new();
            while let Ok(Outgoing::Frame(f)) = self.rx.try_recv() {
                out.push(
                    serde_json::from_str::<ServerEnvelope>(f.as_str())
                        .unwrap()
                        .msg,
                );
            }
            out
        }
    }

    fn join(
        hub: &mut Hub,
        now: Now,
        who: &UserSummary,
        contacts: &[&UserSummary],
        conn: ConnId,
    ) -> Device {
        let (tx, rx) = mpsc::channel(64);
        let (joined, _) = hub.join(
            now,
            JoinRequest {
                user: who.clone(),
                auth_session: Uuid::nil(),
                contacts: contacts.iter().map(|c| (*c).clone()).collect(),
                conn: ConnTx { id: conn, tx },
                resume: None,
                protocol_version: 1,
                req: None,
            },
        );
        let joined = joined.expect("joined");
        let mut device = Device {
            session: joined.session,
            conn,
            rx,
        };
        device.drain();
        device
    }

    fn ringing_call(hub: &mut Hub, now: Now, caller: &Device, callee: UserId) -> (CallId, Effects) {
        let effects = hub.handle(
            now,
            caller.session,
            None,
            ClientMessage::Invite {
                callee,
                appointment_id: None,
            },
        );
        let call = match effects.iter().find_map(|e| match e {
            Effect::CallStarted(row) => Some(row.id),
            _ => None,
        }) {
            Some(id) => id,
            None => panic!("no call started: {effects:?}"),
        };
        (call, effects)
    }

    #[test]
    fn invite_schedules_the_ring_timeout_and_a_record() {
        let base = Instant::now();
        let mut hub = hub();
        let (doc, pat) = (user(Role::Doctor, "D"), user(Role::Patient, "P"));
        let d = join(&mut hub, at(base, 0), &doc, &[&pat], 1);
        let _p = join(&mut hub, at(base, 0), &pat, &[&doc], 2);
        let (call, effects) = ringing_call(&mut hub, at(base, 0), &d, pat.id);
        assert!(effects.contains(&Effect::RingTimer { call, after: RING }));
        // The timer fires: the call ends as a timeout, recorded unanswered.
        let effects = hub.ring_timeout(at(base, 30), call);
        assert!(matches!(
            effects.as_slice(),
            [Effect::CallEnded(CallEnd {
                reason: EndReason::Timeout,
                duration_ms: None,
                ..
            })]
        ));
        assert_eq!(hub.live_calls(), 0);
    }

    #[test]
    fn a_ring_timer_after_accept_does_nothing() {
        let base = Instant::now();
        let mut hub = hub();
        let (doc, pat) = (user(Role::Doctor, "D"), user(Role::Patient, "P"));
        let mut d = join(&mut hub, at(base, 0), &doc, &[&pat], 1);
        let p = join(&mut hub, at(base, 0), &pat, &[&doc], 2);
        let (call, _) = ringing_call(&mut hub, at(base, 0), &d, pat.id);
        hub.handle(
            at(base, 5),
            p.session,
            None,
            ClientMessage::Accept { call_id: call },
        );
        assert!(hub.ring_timeout(at(base, 30), call).is_empty());
        assert!(
            d.drain()
                .contains(&ServerMessage::CallAccepted { call_id: call })
        );
        // Duration counts from the answer.
        let effects = hub.handle(
            at(base, 65),
            d.session,
            None,
            ClientMessage::Hangup { call_id: call },
        );
        assert!(matches!(
            effects.as_slice(),
            [Effect::CallEnded(CallEnd {
                reason: EndReason::HungUp,
                duration_ms: Some(60_000),
                ..
            })]
        ));
    }

    #[test]
    fn hangup_crossing_accept_leaves_one_consistent_outcome() {
        let base = Instant::now();
        let mut hub = hub();
        let (doc, pat) = (user(Role::Doctor, "D"), user(Role::Patient, "P"));
        let mut d = join(&mut hub, at(base, 0), &doc, &[&pat], 1);
        let mut p = join(&mut hub, at(base, 0), &pat, &[&doc], 2);
        let (call, _) = ringing_call(&mut hub, at(base, 0), &d, pat.id);
        d.drain();
        p.drain();
        // The caller's hang-up arrives first; the accept that crossed it
        // finds the call gone.
        hub.handle(
            at(base, 1),
            d.session,
            None,
            ClientMessage::Hangup { call_id: call },
        );
        hub.handle(
            at(base, 1),
            p.session,
            None,
            ClientMessage::Accept { call_id: call },
        );
        let to_patient = p.drain();
        assert!(
            matches!(
                to_patient.as_slice(),
                [
                    ServerMessage::CallEnded {
                        reason: EndReason::Cancelled,
                        ..
                    },
                    ServerMessage::Error {
                        code: ErrorCode::NotFound,
                        ..
                    }
                ]
            ),
            "{to_patient:?}"
        );
        assert_eq!(d.drain().len(), 1);
        assert_eq!(hub.live_calls(), 0);
    }

    #[test]
    fn a_stale_grace_timer_does_not_end_a_resumed_session() {
        let base = Instant::now();
        let mut hub = hub();
        let (doc, pat) = (user(Role::Doctor, "D"), user(Role::Patient, "P"));
        let d = join(&mut hub, at(base, 0), &doc, &[&pat], 1);
        let p = join(&mut hub, at(base, 0), &pat, &[&doc], 2);
        let (call, _) = ringing_call(&mut hub, at(base, 0), &d, pat.id);
        hub.handle(
            at(base, 1),
            p.session,
            None,
            ClientMessage::Accept { call_id: call },
        );

        let effects = hub.detach(p.session, p.conn);
        let [Effect::GraceTimer { generation, .. }] = effects.as_slice() else {
            panic!("{effects:?}")
        };
        // The patient resumes on a new socket before the timer fires.
        let (tx, _rx) = mpsc::channel(64);
        let (joined, _) = hub.join(
            at(base, 3),
            JoinRequest {
                user: pat.clone(),
                auth_session: Uuid::nil(),
                contacts: vec![doc.clone()],
                conn: ConnTx { id: 3, tx },
                resume: Some(Resume {
                    session_id: p.session,
                    last_seq: 1,
                }),
                protocol_version: 1,
                req: None,
            },
        );
        assert!(joined.expect("joined").resumed);
        assert!(
            hub.grace_expired(at(base, 11), p.session, *generation)
                .is_empty()
        );
        assert_eq!(hub.live_calls(), 1);
        // A late detach of the old socket is ignored too.
        assert!(hub.detach(p.session, p.conn).is_empty());
        assert_eq!(hub.connected_sessions(), 2);
    }

    #[test]
    fn every_welcome_carries_turn_credentials_made_at_that_moment() {
        let base = Instant::now();
        let mut hub = hub();
        hub.config.ice = IceServers::from_config(&crate::config::IceSection {
            turn_secret: Some("turn-secret".into()),
            turn_urls: vec!["turn:turn.test:3478".into()],
            turn_credential_ttl: Duration::from_secs(60),
            ..Default::default()
        });
        let pat = user(Role::Patient, "P");
        let welcome = |hub: &mut Hub, now: Now, conn: ConnId, resume: Option<Resume>| {
            let (tx, rx) = mpsc::channel(64);
            let (joined, _) = hub.join(
                now,
                JoinRequest {
                    user: pat.clone(),
                    auth_session: Uuid::nil(),
                    contacts: Vec::new(),
                    conn: ConnTx { id: conn, tx },
                    resume,
                    protocol_version: 1,
                    req: None,
                },
            );
            let joined = joined.expect("joined");
            let mut device = Device {
                session: joined.session,
                conn,
                rx,
            };
            let Some(ServerMessage::Welcome {
                resumed,
                ice_servers,
                ..
            }) = device.drain().into_iter().next()
            else {
                panic!("no welcome");
            };
            let [turn] = ice_servers.as_slice() else {
                panic!("{ice_servers:?}");
            };
            (device, resumed, turn.username.clone().unwrap())
        };

        // Wall clock at(base, s) is 1000 + s Unix seconds; the TTL is 60 s.
        let (device, resumed, first) = welcome(&mut hub, at(base, 0), 1, None);
        assert!(!resumed);
        assert_eq!(first, format!("1060:{}", pat.id));
        hub.detach(device.session, device.conn);
        let resume = Resume {
            session_id: device.session,
            last_seq: 0,
        };
        let (_, resumed, again) = welcome(&mut hub, at(base, 5), 2, Some(resume));
        assert!(resumed);
        assert_eq!(again, format!("1065:{}", pat.id));
    }

    #[test]
    fn when_everyone_leaves_nothing_is_left_behind() {
        let base = Instant::now();
        let mut hub = hub();
        let (doc, pat) = (user(Role::Doctor, "D"), user(Role::Patient, "P"));
        for round in 0..3 {
            let d = join(&mut hub, at(base, round), &doc, &[&pat], 10 * round + 1);
            let p = join(&mut hub, at(base, round), &pat, &[&doc], 10 * round + 2);
            let (call, _) = ringing_call(&mut hub, at(base, round), &d, pat.id);
            hub.handle(
                at(base, round),
                p.session,
                None,
                ClientMessage::Accept { call_id: call },
            );
            for device in [&d, &p] {
                let effects = hub.detach(device.session, device.conn);
                let [Effect::GraceTimer { generation, .. }] = effects.as_slice() else {
                    panic!()
                };
                hub.grace_expired(at(base, round + 20), device.session, *generation);
            }
        }
        assert!(hub.sessions.is_empty());
        assert!(hub.users.is_empty());
        assert!(hub.watchers.is_empty(), "{:?}", hub.watchers);
        assert!(hub.calls.is_empty());
        assert!(hub.call_of_user.is_empty());
    }

    #[test]
    fn admitting_the_waiting_patient_rings_them_and_a_gone_patient_stops_waiting() {
        let base = Instant::now();
        let mut hub = hub();
        let doc = user(Role::Doctor, "D");
        let pat = user(Role::Patient, "P");
        let mut d1 = join(&mut hub, at(base, 0), &doc, &[&pat], 1);
        let mut p1 = join(&mut hub, at(base, 0), &pat, &[&doc], 2);
        d1.drain(); // the patient's presence
        let room = |appointment_id| Room {
            appointment_id,
            patient: pat.clone(),
            doctor: doc.id,
        };
        let waiting = |appointment_id, waiting| ServerMessage::RoomWaiting {
            appointment_id,
            patient: pat.clone(),
            waiting,
        };
        let (first, second) = (AppointmentId::random(), AppointmentId::random());

        // Nobody waits: admit is refused and nothing rings.
        let effects = hub.room_admit(at(base, 1), d1.session, None, first);
        assert!(effects.is_empty());
        assert!(matches!(
            d1.drain().as_slice(),
            [ServerMessage::Error {
                code: ErrorCode::NotFound,
                ..
            }]
        ));

        hub.room_join(p1.session, Some("j".into()), room(first));
        assert_eq!(p1.drain(), vec![waiting(first, true)]);
        assert_eq!(d1.drain(), vec![waiting(first, true)]);
        let effects = hub.room_admit(at(base, 2), d1.session, None, first);
        assert!(effects.iter().any(
            |e| matches!(e, Effect::CallStarted(row) if row.callee == pat.id
                    && row.appointment_id == Some(first.to_string()))
        ));
        let to_doctor = d1.drain();
        assert!(matches!(
            to_doctor.as_slice(),
            [
                ServerMessage::CallRinging { .. },
                ServerMessage::RoomWaiting { waiting: false, .. }
            ]
        ));
        assert!(matches!(
            p1.drain().as_slice(),
            [ServerMessage::CallIncoming { appointment_id: Some(label), .. }] if *label == first.to_string()
        ));
        // A rejoin that crosses the admit (a client back from a reconnect)
        // does not put the patient whose visit rings back in the room.
        hub.room_join(p1.session, Some("again".into()), room(first));
        assert_eq!(p1.drain(), vec![waiting(first, false)]);
        assert!(d1.drain().is_empty());
        assert!(!hub.is_waiting(first));

        // Waiting in another room, then gone for good: the doctor hears it.
        hub.room_join(p1.session, None, room(second));
        d1.drain();
        hub.leave(at(base, 3), p1.session, p1.conn);
        assert!(d1.drain().contains(&waiting(second, false)));
        let effects = hub.room_admit(at(base, 5), d1.session, None, second);
        assert!(effects.is_empty());
    }

    #[test]
    fn a_stored_chat_message_is_acked_to_its_device_and_delivered_to_the_others() {
        let base = Instant::now();
        let mut hub = hub();
        let doc = user(Role::Doctor, "D");
        let pat = user(Role::Patient, "P");
        let mut d1 = join(&mut hub, at(base, 0), &doc, &[&pat], 1);
        let mut d2 = join(&mut hub, at(base, 0), &doc, &[&pat], 2);
        let mut p1 = join(&mut hub, at(base, 0), &pat, &[&doc], 3);
        for d in [&mut d1, &mut d2] {
            d.drain();
        }
        assert!(hub.chat_contact(pat.id, doc.id).is_some());
        assert!(hub.chat_contact(pat.id, pat.id).is_none());
        let message = ChatMessage {
            conversation_id: ConversationId::random(),
            seq: 7,
            id: clinicall_protocol::MessageId::random(),
            sender: doc.id,
            body: "hello".into(),
            attachments: vec![],
            sent_at_ms: 5,
        };
        hub.chat_stored(d1.session, Some("r".into()), message.clone(), pat.id);
        assert!(matches!(
            d1.drain().as_slice(),
            [ServerMessage::ChatAck { seq: 7, .. }]
        ));
        for other in [&mut d2, &mut p1] {
            assert_eq!(
                other.drain(),
                vec![ServerMessage::ChatMessage {
                    message: message.clone()
                }]
            );
        }
        // Typing reaches only the peer's devices.
        hub.chat_typing(message.conversation_id, pat.id, doc.id, true);
        assert!(p1.drain().is_empty());
        assert_eq!(d1.drain().len(), 1);
        assert_eq!(d2.drain().len(), 1);
    }
}
