//! The appointment commands the window invokes (mirrored by
//! `ui/src/ipc/appointments.ts`). Lists and details read the cache, so
//! they work offline; actions go to the server and their answers are
//! stored at once (`AppointmentsHandle::act`). A server refusal is the
//! command's error with the server's code (`slot_taken`,
//! `invalid_transition`, ...) as its `code`.

use super::view::{self, AppointmentDetail, DoctorQueryView};
use crate::commands::CommandError;
use crate::shell::Shell;
use clinicall_client_core::appointments::{AppointmentError, AppointmentsHandle, RoomError};
use clinicall_client_core::signaling::RestError;
use clinicall_protocol::appointments::{
    Appointment, DoctorPage, DoctorProfile, Mode, NewAppointment, Notes, ProfileDetails,
    RatingBody, RescheduleBody, Slot,
};
use clinicall_protocol::{AppointmentId, ErrorCode, UserId};
use tauri::State;

type Result<T> = std::result::Result<T, CommandError>;

/// What an appointment command needs, cloned out of the connection so the
/// lock is not held across the server's answer.
struct Appointments {
    handle: AppointmentsHandle,
    me: UserId,
}

async fn appointments(shell: &Shell) -> Result<Appointments> {
    let guard = shell.connection.lock().await;
    let Some(connection) = guard.as_ref() else {
        return Err(signed_out());
    };
    match &connection.appointments {
        Ok(session) => Ok(Appointments {
            handle: session.handle.clone(),
            me: session.me,
        }),
        Err(why) => Err(CommandError::new(
            "appointments_unavailable",
            format!("Appointments are not available on this computer: {why}"),
        )),
    }
}

fn signed_out() -> CommandError {
    CommandError::new("signed_out", "Please sign in first.")
}

fn parse<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T> {
    raw.parse()
        .map_err(|_| CommandError::new("bad_request", format!("not a {what} id")))
}

fn cache_error(e: impl std::fmt::Display) -> CommandError {
    CommandError::new("cache", format!("The appointments could not be read: {e}"))
}

fn not_found() -> CommandError {
    CommandError::new(ErrorCode::NotFound.as_str(), "No such appointment.")
}

/// The server's refusal with its own code and message; anything else is
/// `signed_out` or `unreachable`.
fn rest_error(e: RestError) -> CommandError {
    match e {
        RestError::Api { code, message, .. } => CommandError::new(code.as_str(), message),
        RestError::NotSignedIn => CommandError::new("signed_out", "Please sign in again."),
        other => CommandError::new("unreachable", format!("Cannot reach the server: {other}")),
    }
}

fn appointment_error(e: AppointmentError) -> CommandError {
    match e {
        AppointmentError::Rest(e) => rest_error(e),
        AppointmentError::Cache(e) => cache_error(e),
        other => CommandError::new("internal", other),
    }
}

/// The server could not be reached (so the cache is what there is), as
/// opposed to refusing.
fn unreachable(e: &AppointmentError) -> bool {
    matches!(
        e,
        AppointmentError::Rest(RestError::Transport(_) | RestError::Unexpected { .. })
    )
}

/// Every cached appointment of the signed-in user, by start time.
#[tauri::command]
pub async fn appointments_list(shell: State<'_, Shell>) -> Result<Vec<Appointment>> {
    let a = appointments(&shell).await?;
    let cache = a.handle.cache();
    let now = super::now_ms();
    let upcoming = cache
        .upcoming_appointments(now)
        .await
        .map_err(cache_error)?;
    let past = cache.past_appointments(now).await.map_err(cache_error)?;
    Ok(view::by_start(upcoming, past))
}

/// One appointment from the cache; with `refresh`, the appointment, the
/// doctor's profile, the notes (when `me` may read them) and the visit
/// records fetched first (and kept for offline reading). Unreachable:
/// the cached copies, with `offline`.
#[tauri::command]
pub async fn appointment_detail(
    shell: State<'_, Shell>,
    id: String,
    refresh: bool,
) -> Result<AppointmentDetail> {
    let id: AppointmentId = parse(&id, "appointment")?;
    let a = appointments(&shell).await?;
    let (handle, cache) = (&a.handle, a.handle.cache());
    let mut appointment = cache.appointment(id).await.map_err(cache_error)?;
    let mut offline = false;
    if refresh {
        match handle.act(handle.rest().appointment(id)).await {
            // The store keeps the newer copy; the server's is the newest.
            Ok(fresh) => appointment = Some(fresh),
            Err(e) if unreachable(&e) => offline = true,
            Err(e) if appointment.is_none() => return Err(appointment_error(e)),
            Err(e) => tracing::warn!(error = %e, "appointment not refreshed"),
        }
    }
    let appointment = appointment.ok_or_else(not_found)?;
    let doctor_id = appointment.doctor.id;
    let read_notes = view::may_read_notes(&appointment, a.me);
    if refresh && !offline {
        let (doctor, notes, visits) = tokio::join!(
            handle.doctor(doctor_id),
            async {
                if read_notes {
                    Some(handle.notes(id).await)
                } else {
                    None
                }
            },
            handle.visits(id),
        );
        let mut fell_back = |e: &AppointmentError, what: &str| {
            offline |= unreachable(e);
            tracing::debug!(error = %e, what, "not refreshed");
        };
        let doctor = match doctor {
            Ok(profile) => Some(profile),
            Err(e) => {
                fell_back(&e, "doctor");
                cached(cache.doctor(doctor_id).await)
            }
        };
        let notes = match notes {
            Some(Ok(notes)) => Some(notes),
            // Unreachable: as last read. Refused: none to show.
            Some(Err(e)) if unreachable(&e) => {
                fell_back(&e, "notes");
                cached(cache.notes(id).await)
            }
            Some(Err(e)) => {
                fell_back(&e, "notes");
                None
            }
            None => None,
        };
        let visits = match visits {
            Ok(visits) => visits,
            Err(e) => {
                fell_back(&e, "visits");
                cached(cache.visits(id).await).unwrap_or_default()
            }
        };
        return Ok(AppointmentDetail {
            appointment,
            doctor,
            notes,
            visits,
            offline,
        });
    }
    Ok(AppointmentDetail {
        doctor: cached(cache.doctor(doctor_id).await),
        notes: cached(cache.notes(id).await),
        visits: cached(cache.visits(id).await).unwrap_or_default(),
        appointment,
        offline,
    })
}

/// A cache read for a detail's extras: a failure shows as "not held".
fn cached<T>(read: std::result::Result<Option<T>, impl std::fmt::Display>) -> Option<T> {
    read.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cache read failed");
        None
    })
}

/// One page of the doctor directory.
#[tauri::command]
pub async fn doctors_search(shell: State<'_, Shell>, query: DoctorQueryView) -> Result<DoctorPage> {
    let query = query.to_query().map_err(|field| {
        CommandError::new(
            ErrorCode::InvalidField.as_str(),
            format!("{field}: a free-slot window needs a start before its end"),
        )
    })?;
    let a = appointments(&shell).await?;
    a.handle
        .rest()
        .search_doctors(&query)
        .await
        .map_err(rest_error)
}

/// A doctor's profile from the server (and kept), or the kept one when
/// the server cannot be reached.
#[tauri::command]
pub async fn doctor_profile(shell: State<'_, Shell>, doctor_id: String) -> Result<DoctorProfile> {
    let doctor: UserId = parse(&doctor_id, "doctor")?;
    let a = appointments(&shell).await?;
    match a.handle.doctor(doctor).await {
        Ok(profile) => Ok(profile),
        Err(e) if unreachable(&e) => match a.handle.cache().doctor(doctor).await {
            Ok(Some(profile)) => Ok(profile),
            _ => Err(appointment_error(e)),
        },
        Err(e) => Err(appointment_error(e)),
    }
}

/// A doctor's slots starting in `[from_ms, to_ms)`.
#[tauri::command]
pub async fn doctor_slots(
    shell: State<'_, Shell>,
    doctor_id: String,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<Slot>> {
    let doctor: UserId = parse(&doctor_id, "doctor")?;
    let a = appointments(&shell).await?;
    a.handle
        .rest()
        .slots(doctor, Some((from_ms, to_ms)))
        .await
        .map_err(rest_error)
}

/// The signed-in doctor's own profile; `None` until one is written.
#[tauri::command]
pub async fn my_profile(shell: State<'_, Shell>) -> Result<Option<DoctorProfile>> {
    let a = appointments(&shell).await?;
    match a.handle.rest().doctor(a.me).await {
        Ok(profile) => Ok(profile.updated_at_ms.is_some().then_some(profile)),
        Err(RestError::Api {
            code: ErrorCode::NotFound,
            ..
        }) => Ok(None),
        Err(e) => Err(rest_error(e)),
    }
}

/// Writes the signed-in doctor's profile.
#[tauri::command]
pub async fn save_my_profile(
    shell: State<'_, Shell>,
    details: ProfileDetails,
) -> Result<DoctorProfile> {
    let a = appointments(&shell).await?;
    let profile = a
        .handle
        .rest()
        .put_profile(a.me, &details)
        .await
        .map_err(rest_error)?;
    if let Err(e) = a.handle.cache().store_doctor(profile.clone()).await {
        tracing::warn!(error = %e, "own profile not kept");
    }
    Ok(profile)
}

/// A patient books a free slot.
#[tauri::command]
pub async fn appointment_book(
    shell: State<'_, Shell>,
    doctor_id: String,
    start_ms: i64,
    mode: Mode,
    reason: String,
) -> Result<Appointment> {
    let booking = NewAppointment {
        doctor_id: parse(&doctor_id, "doctor")?,
        start_ms,
        mode,
        reason,
    };
    let a = appointments(&shell).await?;
    let h = &a.handle;
    h.act(h.rest().book(&booking))
        .await
        .map_err(appointment_error)
}

/// The doctor accepts a booking.
#[tauri::command]
pub async fn appointment_confirm(
    shell: State<'_, Shell>,
    id: String,
    comment: Option<String>,
) -> Result<Appointment> {
    transition(&shell, &id, Transition::Confirm, comment).await
}

/// The doctor declines a booking.
#[tauri::command]
pub async fn appointment_reject(
    shell: State<'_, Shell>,
    id: String,
    comment: Option<String>,
) -> Result<Appointment> {
    transition(&shell, &id, Transition::Reject, comment).await
}

/// Either party calls the visit off.
#[tauri::command]
pub async fn appointment_cancel(
    shell: State<'_, Shell>,
    id: String,
    comment: Option<String>,
) -> Result<Appointment> {
    transition(&shell, &id, Transition::Cancel, comment).await
}

/// A status change with a comment.
#[derive(Clone, Copy, Debug)]
enum Transition {
    Confirm,
    Reject,
    Cancel,
}

async fn transition(
    shell: &Shell,
    raw: &str,
    kind: Transition,
    comment: Option<String>,
) -> Result<Appointment> {
    let (id, a) = for_appointment(shell, raw).await?;
    let rest = a.handle.rest();
    let action = async {
        match kind {
            Transition::Confirm => rest.confirm(id, comment).await,
            Transition::Reject => rest.reject(id, comment).await,
            Transition::Cancel => rest.cancel(id, comment).await,
        }
    };
    a.handle.act(action).await.map_err(appointment_error)
}

/// The doctor moves the visit; returns the new appointment (the old one
/// becomes `rescheduled`; both are stored).
#[tauri::command]
pub async fn appointment_reschedule(
    shell: State<'_, Shell>,
    id: String,
    start_ms: i64,
    comment: Option<String>,
) -> Result<Appointment> {
    let (id, a) = for_appointment(&shell, &id).await?;
    let body = RescheduleBody { start_ms, comment };
    let pair = a
        .handle
        .reschedule(id, &body)
        .await
        .map_err(appointment_error)?;
    Ok(pair.new)
}

/// The doctor closes the visit, with final notes if given.
#[tauri::command]
pub async fn appointment_complete(
    shell: State<'_, Shell>,
    id: String,
    notes: Option<String>,
) -> Result<Appointment> {
    let (id, a) = for_appointment(&shell, &id).await?;
    let h = &a.handle;
    h.act(h.rest().complete(id, notes))
        .await
        .map_err(appointment_error)
}

/// The doctor's draft notes; returns them as stored.
#[tauri::command]
pub async fn appointment_write_notes(
    shell: State<'_, Shell>,
    id: String,
    text: String,
) -> Result<Notes> {
    write_notes(&shell, &id, text, false).await
}

/// An amendment to final notes; returns the notes with it.
#[tauri::command]
pub async fn appointment_amend_notes(
    shell: State<'_, Shell>,
    id: String,
    text: String,
) -> Result<Notes> {
    write_notes(&shell, &id, text, true).await
}

/// Writes the draft (or, with `amend`, an amendment) and reads the notes
/// back as the server keeps them (and keeps them for offline reading).
async fn write_notes(shell: &Shell, raw: &str, text: String, amend: bool) -> Result<Notes> {
    let (id, a) = for_appointment(shell, raw).await?;
    let rest = a.handle.rest();
    let action = async {
        if amend {
            rest.amend_notes(id, text).await
        } else {
            rest.write_notes(id, text).await
        }
    };
    a.handle.act(action).await.map_err(appointment_error)?;
    a.handle.notes(id).await.map_err(appointment_error)
}

/// The patient rates a completed visit.
#[tauri::command]
pub async fn appointment_rate(
    shell: State<'_, Shell>,
    id: String,
    rating: u8,
    review: Option<String>,
) -> Result<Appointment> {
    let (id, a) = for_appointment(&shell, &id).await?;
    let h = &a.handle;
    let body = RatingBody { rating, review };
    h.act(h.rest().rate(id, &body))
        .await
        .map_err(appointment_error)
}

async fn for_appointment(shell: &Shell, raw: &str) -> Result<(AppointmentId, Appointments)> {
    let id = parse(raw, "appointment")?;
    Ok((id, appointments(shell).await?))
}

/// Patient: wait in the visit's room (and again after a reconnect, until
/// `room_leave` or the visit's call rings). Doctor: ask who waits. The
/// answer comes as a `room_waiting` event.
#[tauri::command]
pub async fn room_join(shell: State<'_, Shell>, id: String) -> Result<()> {
    let (id, a) = for_appointment(&shell, &id).await?;
    a.handle.join_room(id).await.map_err(room_error)?;
    Ok(())
}

/// Patient: leave the waiting room (told to the server when it can be,
/// if offline now). The answer comes as a `room_waiting` event.
#[tauri::command]
pub async fn room_leave(shell: State<'_, Shell>, id: String) -> Result<()> {
    let (id, a) = for_appointment(&shell, &id).await?;
    a.handle.leave_room(id).await.map_err(room_error)?;
    Ok(())
}

/// A failed waiting-room request: the server's code when it refused.
fn room_error(e: RoomError) -> CommandError {
    match e {
        RoomError::Refused { code, message } => CommandError::new(code.as_str(), message),
        RoomError::Signaling(e) => {
            CommandError::new("unreachable", format!("Cannot reach the server: {e}"))
        }
        other => CommandError::new("internal", other),
    }
}

/// Doctor: admit the patient waiting for the visit; the call rings them.
#[tauri::command]
pub async fn room_admit(shell: State<'_, Shell>, id: String) -> Result<()> {
    let (id, a) = for_appointment(&shell, &id).await?;
    let appointment = a
        .handle
        .cache()
        .appointment(id)
        .await
        .map_err(cache_error)?
        .ok_or_else(not_found)?;
    let calls = match shell.connection.lock().await.as_ref() {
        Some(connection) => connection.calls.clone(),
        None => return Err(signed_out()),
    };
    calls
        .admit(id, appointment.patient.id)
        .await
        .map_err(|e| CommandError::new("call", e))
}

/// The appointment link the app was started with, once (then `None`).
#[tauri::command]
pub fn take_launch_appointment(shell: State<'_, Shell>) -> Option<String> {
    shell.take_launch_appointment().map(|id| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn a_refused_room_request_carries_the_server_code() {
        let error = room_error(RoomError::Refused {
            code: ErrorCode::InvalidTransition,
            message: "not scheduled".into(),
        });
        assert_eq!(error.code, "invalid_transition");
        assert_eq!(error.message, "not scheduled");
        let offline = room_error(RoomError::Signaling(
            clinicall_client_core::signaling::Error::NotConnected,
        ));
        assert_eq!(offline.code, "unreachable");
    }

    #[test]
    fn a_refused_action_carries_the_server_code() {
        let error = appointment_error(AppointmentError::Rest(RestError::Api {
            status: 409,
            code: ErrorCode::SlotTaken,
            message: "someone was quicker".into(),
            field: None,
        }));
        assert_eq!(error.code, "slot_taken");
        assert_eq!(error.message, "someone was quicker");
        assert_eq!(rest_error(RestError::NotSignedIn).code, "signed_out");
    }
}
