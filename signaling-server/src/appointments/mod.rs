//! Appointments: the policy and the calendar arithmetic, both pure, and the
//! few helpers the REST handlers share.
//!
//! [`workflow`] decides who may do what from which status; [`schedule`]
//! turns a doctor's weekly schedule into slots. Storage enforces what the
//! policy decided atomically (a unique index against double booking,
//! compare-and-set on status), and every change is pushed to both parties'
//! devices through the signaling hub.

pub mod schedule;
pub mod workflow;

use crate::error::ApiError;
use crate::state::AppState;
use axum::http::StatusCode;
use clinicall_protocol::appointments::Appointment;
use clinicall_protocol::{ErrorCode, UserId};
use workflow::{Party, Refusal};

/// How `user` relates to `appointment`, if at all.
pub fn party_of(appointment: &Appointment, user: UserId) -> Option<Party> {
    if appointment.doctor.id == user {
        Some(Party::Doctor)
    } else if appointment.patient.id == user {
        Some(Party::Patient)
    } else {
        None
    }
}

/// The reply for a refused action.
pub fn refusal(r: Refusal) -> ApiError {
    match r {
        Refusal::NotYours => ApiError::forbidden("not allowed for your part in this appointment"),
        Refusal::WrongStatus => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::InvalidTransition,
            "not possible in the appointment's current status",
        ),
        Refusal::NotesLocked => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::NotesLocked,
            "the visit is completed and its notes are final; add an amendment",
        ),
        Refusal::AlreadyRated => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::AlreadyRated,
            "this visit has been rated already",
        ),
    }
}

/// Pushes a changed appointment to every device of both parties.
pub fn publish(state: &AppState, appointment: &Appointment) {
    metrics::counter!("clinicall_appointment_changes_total").increment(1);
    let appointment = appointment.clone();
    state.signaling.run(move |hub, _| {
        hub.appointment_changed(appointment);
        Vec::new()
    });
}
