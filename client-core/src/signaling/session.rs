//! Bookkeeping of one server session, without I/O.
//!
//! The connection task feeds every server frame in and gets back what to
//! tell the app; it asks for the `hello` to send on each new socket. This
//! is where the resume rules of `docs/protocol.md` (section 3) live:
//!
//! - `last_seq` is the highest numbered frame received; `seq` 0 frames
//!   (welcome, presence, pre-session errors) are outside the replayable
//!   stream and never count;
//! - a numbered frame at or below `last_seq` was already delivered (a replay
//!   overlapping what we had) and is dropped, so the app sees each message
//!   exactly once;
//! - `welcome{resumed: false}` starts a fresh numbering;
//! - `presence_snapshot` pages (`more: true`) are reassembled into one list,
//!   and the first page after a welcome starts a new list;
//! - a resume is offered only while the server can still honour it (within
//!   its announced `resume_grace_ms` of the disconnect). Time is an input.

use clinicall_protocol::{
    ClientMessage, Contact, IceServer, PROTOCOL_VERSION, Resume, ServerEnvelope, ServerMessage,
    SessionId, UserSummary,
};
use std::time::{Duration, Instant};

/// What a frame means for the app.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// The handshake finished.
    Welcome {
        /// The session now in use.
        session_id: SessionId,
        /// Whether the previous session continues.
        resumed: bool,
        /// Who we are.
        user: UserSummary,
        /// The STUN/TURN servers for calls from now on.
        ice_servers: Vec<IceServer>,
    },
    /// A complete presence snapshot (all pages).
    Snapshot(Vec<Contact>),
    /// A message for the app, seen for the first time. Boxed: some
    /// messages (`appointment_changed`) are far larger than the other
    /// updates.
    Message(Box<ServerEnvelope>),
    /// Nothing to report yet (a snapshot page with more to come), or a
    /// duplicate that was dropped.
    Nothing,
}

/// The state of the server session across sockets.
#[derive(Debug, Default)]
pub struct Session {
    session_id: Option<SessionId>,
    last_seq: u64,
    resume_grace: Duration,
    disconnected_at: Option<Instant>,
    pages: Vec<Contact>,
    /// A snapshot has started and its last page has not arrived.
    assembling: bool,
}

impl Session {
    /// No session yet: the first hello starts one.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current session, if any.
    pub fn session_id(&self) -> Option<SessionId> {
        self.session_id
    }

    /// Highest numbered frame received on the current session.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The socket went away at `now`; the server keeps the session for its
    /// grace period from about then.
    pub fn disconnected(&mut self, now: Instant) {
        self.disconnected_at.get_or_insert(now);
        self.pages.clear();
        self.assembling = false;
    }

    /// Forgets the session (signed out: it cannot be resumed).
    pub fn forget(&mut self) {
        *self = Self::default();
    }

    /// The resume to offer on a socket opened at `now`: the current session
    /// if its grace period (measured from the disconnect) has not run out.
    pub fn resume(&self, now: Instant) -> Option<Resume> {
        let session_id = self.session_id?;
        if let Some(lost) = self.disconnected_at
            && now.saturating_duration_since(lost) >= self.resume_grace
        {
            return None;
        }
        Some(Resume {
            session_id,
            last_seq: self.last_seq,
        })
    }

    /// The `hello` for a socket opened at `now` (the token travels in the
    /// upgrade request's header).
    pub fn hello(&self, now: Instant) -> ClientMessage {
        ClientMessage::Hello {
            min_version: PROTOCOL_VERSION,
            max_version: PROTOCOL_VERSION,
            token: None,
            resume: self.resume(now),
        }
    }

    /// Takes in one server frame.
    pub fn on_frame(&mut self, env: ServerEnvelope) -> Update {
        match env.msg {
            ServerMessage::Welcome {
                session_id,
                resumed,
                user,
                resume_grace_ms,
                ice_servers,
                ..
            } => {
                // A "resumed" welcome for another session would be a server
                // bug; numbering must restart all the same.
                let continues = resumed && self.session_id == Some(session_id);
                if !continues {
                    self.last_seq = 0;
                }
                self.session_id = Some(session_id);
                self.resume_grace = Duration::from_millis(resume_grace_ms);
                self.disconnected_at = None;
                self.pages.clear();
                self.assembling = false;
                Update::Welcome {
                    session_id,
                    resumed: continues,
                    user,
                    ice_servers,
                }
            }
            ServerMessage::PresenceSnapshot { contacts, more } => {
                if !self.assembling {
                    self.pages.clear();
                }
                self.pages.extend(contacts);
                self.assembling = more;
                if more {
                    Update::Nothing
                } else {
                    Update::Snapshot(std::mem::take(&mut self.pages))
                }
            }
            _ if env.seq == 0 => Update::Message(Box::new(env)),
            _ if env.seq <= self.last_seq => {
                tracing::debug!(
                    seq = env.seq,
                    last = self.last_seq,
                    "dropping duplicate frame"
                );
                Update::Nothing
            }
            _ => {
                if env.seq != self.last_seq + 1 {
                    // The server replays everything after last_seq or starts
                    // a new session; a gap means frames were lost anyway.
                    tracing::warn!(seq = env.seq, last = self.last_seq, "gap in server frames");
                }
                self.last_seq = env.seq;
                Update::Message(Box::new(env))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinicall_protocol::{CallId, ConnectionLimits, Role, UserId};

    fn user() -> UserSummary {
        UserSummary {
            id: UserId::random(),
            display_name: "Pat".into(),
            role: Role::Patient,
        }
    }

    fn welcome(session_id: SessionId, resumed: bool) -> ServerEnvelope {
        ServerEnvelope {
            seq: 0,
            req: None,
            msg: ServerMessage::Welcome {
                protocol_version: 1,
                session_id,
                resumed,
                user: user(),
                resume_grace_ms: 10_000,
                heartbeat_interval_ms: 20_000,
                limits: ConnectionLimits {
                    max_message_bytes: 65536,
                    messages_per_second: 50,
                    message_burst: 100,
                },
                ice_servers: vec![],
            },
        }
    }

    fn numbered(seq: u64) -> ServerEnvelope {
        ServerEnvelope {
            seq,
            req: None,
            msg: ServerMessage::CallAccepted {
                call_id: CallId::random(),
            },
        }
    }

    fn page(names: &[&str], more: bool) -> ServerEnvelope {
        let contacts = names
            .iter()
            .map(|n| Contact {
                user: UserSummary {
                    id: UserId::random(),
                    display_name: (*n).into(),
                    role: Role::Doctor,
                },
                online: true,
            })
            .collect();
        ServerEnvelope {
            seq: 0,
            req: None,
            msg: ServerMessage::PresenceSnapshot { contacts, more },
        }
    }

    fn names(update: Update) -> Vec<String> {
        match update {
            Update::Snapshot(c) => c.into_iter().map(|c| c.user.display_name).collect(),
            other => panic!("expected snapshot, got {other:?}"),
        }
    }

    fn resume_of(hello: ClientMessage) -> Option<Resume> {
        match hello {
            ClientMessage::Hello { resume, .. } => resume,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn first_hello_starts_a_new_session() {
        let s = Session::new();
        assert_eq!(resume_of(s.hello(Instant::now())), None);
    }

    #[test]
    fn tracks_last_seq_from_numbered_frames_only() {
        let mut s = Session::new();
        let id = SessionId::random();
        assert!(matches!(
            s.on_frame(welcome(id, false)),
            Update::Welcome { resumed: false, .. }
        ));
        for seq in 1..=3 {
            assert!(matches!(s.on_frame(numbered(seq)), Update::Message(_)));
        }
        let presence = ServerEnvelope {
            seq: 0,
            req: None,
            msg: ServerMessage::Presence {
                user_id: UserId::random(),
                online: true,
            },
        };
        assert!(matches!(s.on_frame(presence), Update::Message(_)));
        s.on_frame(page(&["A"], false));
        assert_eq!(s.last_seq(), 3);
        let now = Instant::now();
        s.disconnected(now);
        assert_eq!(
            resume_of(s.hello(now + Duration::from_secs(1))),
            Some(Resume {
                session_id: id,
                last_seq: 3
            })
        );
    }

    #[test]
    fn replayed_duplicates_are_dropped() {
        let mut s = Session::new();
        let id = SessionId::random();
        s.on_frame(welcome(id, false));
        s.on_frame(numbered(1));
        s.on_frame(numbered(2));
        s.disconnected(Instant::now());
        assert!(matches!(
            s.on_frame(welcome(id, true)),
            Update::Welcome { resumed: true, .. }
        ));
        assert_eq!(s.on_frame(numbered(2)), Update::Nothing);
        assert!(matches!(s.on_frame(numbered(3)), Update::Message(_)));
        assert_eq!(s.last_seq(), 3);
    }

    #[test]
    fn a_gap_is_reported_but_accepted() {
        let mut s = Session::new();
        s.on_frame(welcome(SessionId::random(), false));
        assert!(matches!(s.on_frame(numbered(5)), Update::Message(_)));
        assert_eq!(s.last_seq(), 5);
    }

    #[test]
    fn a_new_session_restarts_numbering() {
        let mut s = Session::new();
        let old = SessionId::random();
        s.on_frame(welcome(old, false));
        s.on_frame(numbered(1));
        s.on_frame(numbered(2));
        s.disconnected(Instant::now());
        let new = SessionId::random();
        assert!(matches!(
            s.on_frame(welcome(new, false)),
            Update::Welcome { resumed: false, .. }
        ));
        assert_eq!(s.last_seq(), 0);
        assert!(matches!(s.on_frame(numbered(1)), Update::Message(_)));
        assert_eq!(s.session_id(), Some(new));
    }

    #[test]
    fn resumed_welcome_for_another_session_is_a_new_one() {
        let mut s = Session::new();
        s.on_frame(welcome(SessionId::random(), false));
        s.on_frame(numbered(4));
        assert!(matches!(
            s.on_frame(welcome(SessionId::random(), true)),
            Update::Welcome { resumed: false, .. }
        ));
        assert_eq!(s.last_seq(), 0);
    }

    #[test]
    fn no_resume_after_the_grace_period() {
        let mut s = Session::new();
        s.on_frame(welcome(SessionId::random(), false));
        let lost = Instant::now();
        s.disconnected(lost);
        // A second failed attempt does not move the start of the grace.
        s.disconnected(lost + Duration::from_secs(5));
        assert!(s.resume(lost + Duration::from_millis(9_999)).is_some());
        assert!(s.resume(lost + Duration::from_secs(10)).is_none());
    }

    #[test]
    fn forget_drops_the_session() {
        let mut s = Session::new();
        s.on_frame(welcome(SessionId::random(), false));
        s.on_frame(numbered(1));
        s.forget();
        assert_eq!(s.resume(Instant::now()), None);
        assert_eq!(s.last_seq(), 0);
    }

    #[test]
    fn snapshot_pages_are_reassembled() {
        let mut s = Session::new();
        s.on_frame(welcome(SessionId::random(), false));
        assert_eq!(s.on_frame(page(&["A", "B"], true)), Update::Nothing);
        assert_eq!(s.on_frame(page(&["C"], true)), Update::Nothing);
        assert_eq!(names(s.on_frame(page(&["D"], false))), ["A", "B", "C", "D"]);
        // The next snapshot starts a new list.
        assert_eq!(names(s.on_frame(page(&["E"], false))), ["E"]);
    }

    #[test]
    fn a_welcome_discards_a_half_snapshot() {
        let mut s = Session::new();
        let id = SessionId::random();
        s.on_frame(welcome(id, false));
        s.on_frame(page(&["A"], true));
        s.disconnected(Instant::now());
        s.on_frame(welcome(id, true));
        assert_eq!(names(s.on_frame(page(&["B"], false))), ["B"]);
    }

    #[test]
    fn empty_snapshot_is_complete() {
        let mut s = Session::new();
        s.on_frame(welcome(SessionId::random(), false));
        assert_eq!(s.on_frame(page(&[], false)), Update::Snapshot(Vec::new()));
    }
}
