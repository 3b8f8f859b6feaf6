//! Appointments' waiting rooms over the signaling WebSocket: the `room_*`
//! client messages.
//!
//! Like chat, these need storage (the appointment, to know its parties and
//! status), so they are handled here, between the connection and the hub:
//! authorize against the appointment with the workflow policy, then let the
//! hub keep the room and start the call. Anyone who is not the
//! appointment's doctor or patient is answered `not_found`, as for an id
//! that does not exist, and logged.

use crate::appointments::party_of;
use crate::appointments::workflow::{self, Action, Facts, Party, Refusal};
use crate::signaling::hub::Room;
use crate::state::AppState;
use clinicall_protocol::appointments::Appointment;
use clinicall_protocol::{AppointmentId, ClientMessage, ErrorCode, SessionId, UserSummary};

/// Whether the connection should hand `msg` to [`handle`].
pub fn is_room(msg: &ClientMessage) -> bool {
    matches!(
        msg,
        ClientMessage::RoomJoin { .. }
            | ClientMessage::RoomLeave { .. }
            | ClientMessage::RoomAdmit { .. }
    )
}

/// Handles one validated room message from `user` on `session`.
pub async fn handle(
    state: &AppState,
    session: SessionId,
    user: &UserSummary,
    req: Option<String>,
    msg: ClientMessage,
) {
    let (appointment_id, kind) = match msg {
        ClientMessage::RoomJoin { appointment_id } => (appointment_id, Kind::Join),
        ClientMessage::RoomLeave { appointment_id } => (appointment_id, Kind::Leave),
        ClientMessage::RoomAdmit { appointment_id } => (appointment_id, Kind::Admit),
        _ => return,
    };
    let refuse = |code: ErrorCode, message: &'static str, req: Option<String>| {
        state.signaling.run(|hub, _| {
            hub.reply_error(session, req, code, message, None);
            Vec::new()
        });
    };
    let appointment = match state.store.appointment(appointment_id).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "room: storage failed");
            return refuse(
                ErrorCode::Internal,
                "internal error; nothing was changed",
                req,
            );
        }
    };
    let Some((a, party)) = appointment.and_then(|a| party_of(&a, user.id).map(|p| (a, p))) else {
        not_a_party(user, kind, appointment_id);
        return refuse(ErrorCode::NotFound, "no such appointment", req);
    };
    let facts = Facts {
        status: a.status,
        rated: a.rating.is_some(),
    };
    let action = match (kind, party) {
        // The doctor looks in (any status); the patient leaves (always).
        (Kind::Join, Party::Doctor) => return state_of(state, session, req, &a),
        (Kind::Leave, Party::Patient) => {
            return state.signaling.run(|hub, _| {
                hub.room_leave(session, req, room_of(&a));
                Vec::new()
            });
        }
        (Kind::Leave, Party::Doctor) => {
            return refuse(ErrorCode::Forbidden, "only the patient waits", req);
        }
        (Kind::Join, Party::Patient) => Action::JoinRoom,
        (Kind::Admit, _) => Action::Admit,
    };
    match workflow::decide(party, action, facts) {
        Err(Refusal::NotYours) => refuse(
            ErrorCode::Forbidden,
            "not allowed for your part in this appointment",
            req,
        ),
        Err(_) => refuse(
            ErrorCode::InvalidTransition,
            "the visit is not scheduled",
            req,
        ),
        Ok(_) if action == Action::JoinRoom => state.signaling.run(|hub, _| {
            hub.room_join(session, req, room_of(&a));
            Vec::new()
        }),
        Ok(_) => state
            .signaling
            .run(|hub, now| hub.room_admit(now, session, req, a.id)),
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Join,
    Leave,
    Admit,
}

fn room_of(a: &Appointment) -> Room {
    Room {
        appointment_id: a.id,
        patient: a.patient.clone(),
        doctor: a.doctor.id,
    }
}

fn state_of(state: &AppState, session: SessionId, req: Option<String>, a: &Appointment) {
    let room = room_of(a);
    state.signaling.run(|hub, _| {
        hub.room_state(session, req, room);
        Vec::new()
    });
}

fn not_a_party(user: &UserSummary, kind: Kind, appointment: AppointmentId) {
    tracing::warn!(
        user = %user.id,
        action = ?kind,
        appointment = %appointment,
        "room access refused: not a party to the appointment (or it does not exist)"
    );
}
