//! What the shell tells the window: one tagged enum, mirrored by
//! `ui/src/ipc/events.ts`. [`from_driver`] maps the client core's events
//! to it; it is pure, so the mapping is unit-tested here.

use clinicall_client_core::call::{CallDirection, CallEvent, CallInfo, CallSignaling, CallState};
use clinicall_client_core::driver::DriverEvent;
use clinicall_client_core::media::CallStats;
use clinicall_protocol::appointments::Appointment;
use clinicall_protocol::{AppointmentId, Contact, Role, UserId, UserSummary};
use serde::Serialize;

/// A person as the window shows them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Person {
    /// Their id (a UUID string).
    pub id: UserId,
    /// Display name.
    pub name: String,
    /// `patient`, `doctor` or `admin`.
    pub role: Role,
}

impl From<UserSummary> for Person {
    fn from(user: UserSummary) -> Self {
        Person {
            id: user.id,
            name: user.display_name,
            role: user.role,
        }
    }
}

/// A contact and whether they are online.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContactView {
    /// Who.
    pub person: Person,
    /// Online on at least one device.
    pub online: bool,
}

impl From<Contact> for ContactView {
    fn from(contact: Contact) -> Self {
        ContactView {
            person: contact.user.into(),
            online: contact.online,
        }
    }
}

/// The call's phase as the window shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallPhase {
    /// We are calling; their devices ring.
    Outgoing,
    /// They are calling us.
    Incoming,
    /// Answered; media is being set up.
    Connecting,
    /// Media flows.
    Connected,
    /// The media path broke; trying to get it back.
    Reconnecting,
    /// Over.
    Ended,
}

/// Where the signaling connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// Connected to the server.
    Online,
    /// Lost; reconnecting by itself.
    Reconnecting,
}

/// An event for the window.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UiEvent {
    /// The signaling connection came up or went down.
    Connection {
        /// Its state.
        state: ConnectionState,
        /// Reconnection attempt, while reconnecting.
        attempt: Option<u32>,
    },
    /// The whole contact list.
    Contacts {
        /// Everyone, online first then by name.
        contacts: Vec<ContactView>,
    },
    /// One contact came online or went offline.
    Presence {
        /// Who.
        user_id: UserId,
        /// Now online.
        online: bool,
    },
    /// The call changed.
    Call {
        /// Its phase.
        phase: CallPhase,
        /// We placed it (`outgoing`) or they did (`incoming`); `None`
        /// until known.
        outgoing: Option<bool>,
        /// The other party, once known.
        peer: Option<Person>,
        /// Why it ended (`hung_up`, `rejected`, …), when ended.
        end_reason: Option<String>,
        /// Whether the server can still reach the call.
        signaling_ok: bool,
    },
    /// The live call's figures, once a second.
    Stats {
        /// The figures.
        stats: CallStats,
    },
    /// The login is over (signed out elsewhere, or credentials refused).
    SignedOut,
    /// The microphone's level during the device check, ten times a
    /// second.
    MicLevel {
        /// RMS level in dBFS (-100 for silence).
        dbfs: f32,
    },
    /// The chat's conversation list, whole, whenever it changed (a new
    /// message, a read, a new conversation).
    ChatConversations {
        /// Newest activity first.
        conversations: Vec<crate::chat::view::ConversationItem>,
    },
    /// A thread changed (a message arrived or was acknowledged, or the
    /// other party read it): re-read it if it is open.
    ChatThread {
        /// The conversation.
        conversation_id: clinicall_protocol::ConversationId,
    },
    /// The other party started or stopped typing (never stored).
    ChatTyping {
        /// The conversation.
        conversation_id: clinicall_protocol::ConversationId,
        /// Who.
        user_id: UserId,
        /// Typing now.
        typing: bool,
    },
    /// Whether chat reaches the server, and how many messages wait to go.
    ChatStatus {
        /// Connected.
        online: bool,
        /// Messages in the outbox.
        pending: usize,
    },
    /// Chat cannot work in this session (no keychain for the cache's
    /// key, for example); calls still do.
    ChatUnavailable {
        /// Why, for the person at the screen.
        message: String,
    },
    /// These appointments changed in the cache (a push, a sync, the
    /// user's own action): re-read them (all, when `ids` is empty).
    AppointmentsChanged {
        /// The appointments.
        ids: Vec<AppointmentId>,
    },
    /// Whether the appointments engine hears the server.
    AppointmentsStatus {
        /// Connected.
        online: bool,
    },
    /// Appointments cannot work in this session (no keychain for the
    /// cache's key, for example); calls still do.
    AppointmentsUnavailable {
        /// Why, for the person at the screen.
        message: String,
    },
    /// Who waits in an appointment's waiting room: the server's answer to
    /// `room_join`/`room_leave`, and (to the doctor) its news.
    RoomWaiting {
        /// The appointment.
        appointment_id: AppointmentId,
        /// Its patient.
        patient: UserSummary,
        /// The patient is waiting now.
        waiting: bool,
    },
    /// A scheduled visit is about to start, or starts now (also an OS
    /// notification); see `appointments::reminders`.
    AppointmentReminder {
        /// The visit.
        appointment: Appointment,
        /// Whole minutes until it starts (0: it starts now).
        minutes_before: u32,
    },
    /// A `clinicall://appointment/<id>` link was opened while the app ran:
    /// show that visit.
    OpenAppointment {
        /// The appointment.
        appointment_id: AppointmentId,
    },
    /// A device could not be used; the call goes on without it.
    DeviceProblem {
        /// `camera`, `microphone` or `speaker`.
        device: String,
        /// What went wrong, for the person at the screen.
        message: String,
    },
}

/// Sorts contacts online first, then by name.
pub fn sorted_contacts(contacts: Vec<Contact>) -> Vec<ContactView> {
    let mut views: Vec<ContactView> = contacts.into_iter().map(Into::into).collect();
    views.sort_by(|a, b| {
        b.online.cmp(&a.online).then_with(|| {
            a.person
                .name
                .to_lowercase()
                .cmp(&b.person.name.to_lowercase())
        })
    });
    views
}

/// The shell's memory of the current call, to give each `Call` event the
/// whole picture (the core reports state and details separately).
#[derive(Debug, Default)]
pub struct CallTracker {
    state: Option<CallState>,
    info: Option<CallInfo>,
    signaling: Option<CallSignaling>,
}

impl CallTracker {
    /// The `Call` event for what is known now, if a call exists.
    fn view(&self) -> Option<UiEvent> {
        let state = self.state.as_ref()?;
        let (phase, end_reason) = match state {
            CallState::Idle => return None,
            CallState::OutgoingRinging { .. } => (CallPhase::Outgoing, None),
            CallState::IncomingRinging { .. } => (CallPhase::Incoming, None),
            CallState::Connecting { .. } => (CallPhase::Connecting, None),
            CallState::Connected { .. } => (CallPhase::Connected, None),
            CallState::Reconnecting { .. } => (CallPhase::Reconnecting, None),
            CallState::Ended { reason, .. } => (CallPhase::Ended, Some(reason.as_str().to_owned())),
        };
        let info = self.info.as_ref();
        Some(UiEvent::Call {
            phase,
            outgoing: info.map(|i| i.direction == CallDirection::Outgoing),
            peer: info.and_then(|i| i.peer.clone()).map(Person::from),
            end_reason,
            signaling_ok: !matches!(
                self.signaling,
                Some(CallSignaling::Interrupted | CallSignaling::Detached)
            ),
        })
    }

    /// Maps one driver event to what the window needs, if anything.
    pub fn from_driver(&mut self, event: DriverEvent) -> Vec<UiEvent> {
        match event {
            DriverEvent::Connected { .. } => vec![UiEvent::Connection {
                state: ConnectionState::Online,
                attempt: None,
            }],
            DriverEvent::Disconnected { .. } => vec![UiEvent::Connection {
                state: ConnectionState::Reconnecting,
                attempt: None,
            }],
            DriverEvent::Reconnecting { attempt, .. } => vec![UiEvent::Connection {
                state: ConnectionState::Reconnecting,
                attempt: Some(attempt),
            }],
            DriverEvent::SignedOut => vec![UiEvent::SignedOut],
            DriverEvent::PresenceSnapshot(contacts) => vec![UiEvent::Contacts {
                contacts: sorted_contacts(contacts),
            }],
            DriverEvent::PresenceChanged { user_id, online } => {
                vec![UiEvent::Presence { user_id, online }]
            }
            DriverEvent::Call(CallEvent::StateChanged(state)) => {
                let new_call = matches!(
                    state,
                    CallState::OutgoingRinging { .. } | CallState::IncomingRinging { .. }
                ) && !self.state.as_ref().is_some_and(CallState::is_live);
                if new_call {
                    self.info = None;
                    self.signaling = None;
                }
                self.state = Some(state);
                // Details follow at once; the view goes out with them.
                Vec::new()
            }
            DriverEvent::CallDetails(info) => {
                self.info = Some(info);
                self.view().into_iter().collect()
            }
            DriverEvent::Call(CallEvent::SignalingChanged(signaling)) => {
                self.signaling = Some(signaling);
                self.view().into_iter().collect()
            }
            DriverEvent::MediaStats { stats, .. } => vec![UiEvent::Stats { stats }],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinicall_client_core::call::CallEndReason;
    use clinicall_protocol::{CallId, EndReason};

    fn person(name: &str) -> UserSummary {
        UserSummary {
            id: UserId::random(),
            display_name: name.into(),
            role: Role::Doctor,
        }
    }

    fn info(direction: CallDirection, peer: &UserSummary) -> CallInfo {
        let mut info = CallInfo::new(peer.id, direction);
        info.peer = Some(peer.clone());
        info
    }

    #[test]
    fn contacts_are_online_first_then_by_name() {
        let contacts = ["bob", "Alice", "carol"]
            .iter()
            .enumerate()
            .map(|(i, name)| Contact {
                user: person(name),
                online: i == 2,
            })
            .collect();
        let names: Vec<String> = sorted_contacts(contacts)
            .into_iter()
            .map(|c| c.person.name)
            .collect();
        assert_eq!(names, ["carol", "Alice", "bob"]);
    }

    #[test]
    fn an_incoming_call_shows_who_calls_and_then_how_it_ended() {
        let mut tracker = CallTracker::default();
        let caller = person("Dr. House");
        let call_id = CallId::random();
        let ringing = CallState::IncomingRinging { call_id };
        assert!(
            tracker
                .from_driver(DriverEvent::Call(CallEvent::StateChanged(ringing)))
                .is_empty()
        );
        let events = tracker.from_driver(DriverEvent::CallDetails(info(
            CallDirection::Incoming,
            &caller,
        )));
        let [
            UiEvent::Call {
                phase,
                outgoing,
                peer,
                end_reason,
                signaling_ok,
            },
        ] = events.as_slice()
        else {
            panic!("one call event expected, got {events:?}");
        };
        assert_eq!(*phase, CallPhase::Incoming);
        assert_eq!(*outgoing, Some(false));
        assert_eq!(peer.as_ref().unwrap().name, "Dr. House");
        assert_eq!(*end_reason, None);
        assert!(*signaling_ok);

        let ended = CallState::Ended {
            call_id: Some(call_id),
            reason: CallEndReason::Server {
                reason: EndReason::HungUp,
                by: Some(caller.id),
            },
        };
        tracker.from_driver(DriverEvent::Call(CallEvent::StateChanged(ended)));
        let events = tracker.from_driver(DriverEvent::CallDetails(info(
            CallDirection::Incoming,
            &caller,
        )));
        let [
            UiEvent::Call {
                phase, end_reason, ..
            },
        ] = events.as_slice()
        else {
            panic!("one call event expected, got {events:?}");
        };
        assert_eq!(*phase, CallPhase::Ended);
        assert_eq!(end_reason.as_deref(), Some("hung_up"));
    }

    #[test]
    fn signaling_trouble_is_reported_on_the_call() {
        let mut tracker = CallTracker::default();
        let peer = person("Pat");
        tracker.from_driver(DriverEvent::Call(CallEvent::StateChanged(
            CallState::Connected {
                call_id: CallId::random(),
            },
        )));
        tracker.from_driver(DriverEvent::CallDetails(info(
            CallDirection::Outgoing,
            &peer,
        )));
        let events = tracker.from_driver(DriverEvent::Call(CallEvent::SignalingChanged(
            CallSignaling::Interrupted,
        )));
        assert!(matches!(
            events.as_slice(),
            [UiEvent::Call {
                signaling_ok: false,
                phase: CallPhase::Connected,
                ..
            }]
        ));
    }

    #[test]
    fn events_serialize_with_a_type_tag() {
        let event = UiEvent::Presence {
            user_id: UserId::random(),
            online: true,
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "presence");
        assert_eq!(json["online"], true);
    }

    #[test]
    fn appointment_events_are_tagged_as_the_window_expects() {
        let appointment_id = AppointmentId::random();
        let tags = [
            (
                UiEvent::AppointmentsChanged {
                    ids: vec![appointment_id],
                },
                "appointments_changed",
            ),
            (
                UiEvent::AppointmentsStatus { online: true },
                "appointments_status",
            ),
            (
                UiEvent::AppointmentsUnavailable {
                    message: "no keychain".into(),
                },
                "appointments_unavailable",
            ),
            (
                UiEvent::OpenAppointment { appointment_id },
                "open_appointment",
            ),
        ];
        for (event, tag) in tags {
            assert_eq!(serde_json::to_value(&event).unwrap()["type"], tag);
        }
        let json = serde_json::to_value(UiEvent::OpenAppointment { appointment_id }).unwrap();
        assert_eq!(json["appointment_id"], appointment_id.to_string());
        let json = serde_json::to_value(UiEvent::AppointmentsChanged {
            ids: vec![appointment_id],
        })
        .unwrap();
        assert_eq!(json["ids"][0], appointment_id.to_string());
    }
}
