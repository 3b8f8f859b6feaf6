//! Appointments' waiting rooms over the signaling WebSocket: the `room_*`
//! client messages, and the check on an `invite` that names an
//! appointment.
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

/// Whether the connection should hand `msg` to [`invite`]: an `invite`
/// labelled with an appointment.
pub fn is_appointment_invite(msg: &ClientMessage) -> bool {
    matches!(
        msg,
        ClientMessage::Invite {
            appointment_id: Some(_),
            ..
        }
    )
}

/// An `invite` labelled with an appointment: the label puts the call in
/// the appointment's visit records, so only the appointment's doctor may
/// give it, to its patient, while the visit is scheduled (the rule of
/// `room_admit`, which is the patient's way to reach the doctor for a
/// visit). Anything else is refused before the hub sees the invite:
///
/// - a label that is not an appointment id, an appointment that does not
///   exist, or one the caller is not a party to: `not_found` (as for the
///   waiting room: strangers learn nothing);
/// - the patient calling with the label: `forbidden` (wait in the room);
/// - the doctor calling someone else than its patient: `forbidden`;
/// - a visit that is not scheduled: `invalid_transition`.
///
/// The label the hub stores is the appointment id in its canonical form,
/// so the visit records find the call. Invites without a label are not
/// handled here: contacts call each other as before.
pub async fn invite(
    state: &AppState,
    session: SessionId,
    user: &UserSummary,
    req: Option<String>,
    msg: ClientMessage,
) {
    let ClientMessage::Invite {
        callee,
        appointment_id: Some(label),
    } = msg
    else {
        return;
    };
    let refuse = |code, message, req| refuse(state, session, req, code, message);
    let Ok(appointment_id) = label.parse::<AppointmentId>() else {
        tracing::warn!(user = %user.id, "invite refused: its label names no appointment");
        return refuse(ErrorCode::NotFound, "no such appointment", req);
    };
    let Some((a, party, facts)) = load(state, session, user, &req, appointment_id, "Invite").await
    else {
        return;
    };
    // Calling for the visit is admitting without the room: the same part
    // (the doctor) and the same status (scheduled).
    match workflow::decide(party, Action::Admit, facts) {
        Err(Refusal::NotYours) => refuse(
            ErrorCode::Forbidden,
            "only the doctor calls for a visit; wait in its waiting room",
            req,
        ),
        Err(_) => refuse(
            ErrorCode::InvalidTransition,
            "the visit is not scheduled",
            req,
        ),
        Ok(_) if callee != a.patient.id => refuse(
            ErrorCode::Forbidden,
            "a visit's call goes to its patient",
            req,
        ),
        Ok(_) => {
            let msg = ClientMessage::Invite {
                callee,
                appointment_id: Some(a.id.to_string()),
            };
            state
                .signaling
                .run(|hub, now| hub.handle(now, session, req, msg));
        }
    }
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
    let refuse = |code, message, req| refuse(state, session, req, code, message);
    let Some((a, party, facts)) = load(state, session, user, &req, appointment_id, kind).await
    else {
        return;
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

/// The appointment with `user`'s part in it and the facts the workflow
/// decides on; `None` after refusing (`not_found` to anyone who is not a
/// party, `internal` when storage fails).
async fn load(
    state: &AppState,
    session: SessionId,
    user: &UserSummary,
    req: &Option<String>,
    appointment_id: AppointmentId,
    what: impl std::fmt::Debug,
) -> Option<(Appointment, Party, Facts)> {
    let appointment = match state.store.appointment(appointment_id).await {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, action = ?what, "room: storage failed");
            let message = "internal error; nothing was changed";
            refuse(state, session, req.clone(), ErrorCode::Internal, message);
            return None;
        }
    };
    let Some((a, party)) = appointment.and_then(|a| party_of(&a, user.id).map(|p| (a, p))) else {
        not_a_party(user, what, appointment_id);
        let message = "no such appointment";
        refuse(state, session, req.clone(), ErrorCode::NotFound, message);
        return None;
    };
    let facts = Facts {
        status: a.status,
        rated: a.rating.is_some(),
    };
    Some((a, party, facts))
}

fn refuse(
    state: &AppState,
    session: SessionId,
    req: Option<String>,
    code: ErrorCode,
    message: &'static str,
) {
    state.signaling.run(|hub, _| {
        hub.reply_error(session, req, code, message, None);
        Vec::new()
    });
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

fn not_a_party(user: &UserSummary, kind: impl std::fmt::Debug, appointment: AppointmentId) {
    tracing::warn!(
        user = %user.id,
        action = ?kind,
        appointment = %appointment,
        "room access refused: not a party to the appointment (or it does not exist)"
    );
}
