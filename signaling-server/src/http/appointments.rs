//! Appointments over REST: booking, the status workflow, notes, rating and
//! sync. Only an appointment's doctor and patient see it; anyone else gets
//! 404, as for an id that does not exist, and the attempt is logged.
//!
//! Each handler asks [`workflow::decide`] first, then storage applies the
//! change only if the status is still the one decided on; every change is
//! pushed to both parties' devices.

use super::ApiJson;
use super::extract::{ApiPath, ApiQuery};
use crate::appointments::schedule::WeeklySchedule;
use crate::appointments::workflow::{self, Action, Facts, Party};
use crate::appointments::{party_of, publish, refusal};
use crate::auth::Authed;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::{Change, ChangeRequest, NewBooking, RescheduleRequest, StoreError};
use crate::util::now_ms;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use clinicall_protocol::appointments::{
    Appointment, AppointmentChanges, CompleteBody, NewAppointment, Notes, NotesBody,
    QualitySummary, RatingBody, RescheduleBody, Rescheduled, Status, TransitionBody, Visit,
};
use clinicall_protocol::{
    AppointmentId, CallId, ErrorCode, Role, UserId, UserSummary, ValidationError,
};
use serde::Deserialize;

fn invalid(e: ValidationError) -> ApiError {
    ApiError::field(e.field, e.problem)
}

fn not_found(user: UserId, action: &'static str, id: AppointmentId) -> ApiError {
    tracing::warn!(
        user = %user,
        action,
        appointment = %id,
        "appointment access refused: not a party (or it does not exist)"
    );
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "no such appointment",
    )
}

fn facts(a: &Appointment) -> Facts {
    Facts {
        status: a.status,
        rated: a.rating.is_some(),
    }
}

/// The appointment and the caller's part in it; 404 for anyone else.
async fn load(
    state: &AppState,
    authed: &Authed,
    id: AppointmentId,
    action: &'static str,
) -> Result<(Appointment, Party), ApiError> {
    let appointment = state.store.appointment(id).await?;
    let Some((appointment, party)) =
        appointment.and_then(|a| party_of(&a, authed.user).map(|party| (a, party)))
    else {
        return Err(not_found(authed.user, action, id));
    };
    Ok((appointment, party))
}

/// Loads the appointment and asks the policy; returns the appointment, the
/// caller's part and the new status (if the action changes it).
async fn decide(
    state: &AppState,
    authed: &Authed,
    id: AppointmentId,
    action: Action,
    name: &'static str,
) -> Result<(Appointment, Party, Option<Status>), ApiError> {
    let (appointment, party) = load(state, authed, id, name).await?;
    let to = workflow::decide(party, action, facts(&appointment)).map_err(refusal)?;
    Ok((appointment, party, to))
}

/// Asks the policy, then has storage apply the change `build` makes from
/// the caller's part and the new status, only while the status is still
/// the one decided on. The change is pushed to both parties.
async fn apply(
    state: &AppState,
    authed: &Authed,
    id: AppointmentId,
    (action, name): (Action, &'static str),
    build: impl FnOnce(Party, Option<Status>) -> Result<Change, ApiError>,
) -> Result<Appointment, ApiError> {
    let (before, party, to) = decide(state, authed, id, action, name).await?;
    let req = ChangeRequest {
        id,
        actor: authed.user,
        expected: before.status,
        change: build(party, to)?,
        now_ms: now_ms(),
    };
    match state.store.change_appointment(req).await {
        Ok(appointment) => {
            publish(state, &appointment);
            Ok(appointment)
        }
        Err(StoreError::Conflict) => Err(lost_race(state, authed, id, party, action).await),
        Err(e) => Err(e.into()),
    }
}

/// The reply when a concurrent change won: the policy's refusal for the
/// appointment as it is now, or a plain conflict.
async fn lost_race(
    state: &AppState,
    authed: &Authed,
    id: AppointmentId,
    party: Party,
    action: Action,
) -> ApiError {
    tracing::info!(user = %authed.user, appointment = %id, "lost a race on an appointment");
    match state.store.appointment(id).await {
        Ok(now) => now
            .and_then(|a| workflow::decide(party, action, facts(&a)).err())
            .map_or(StoreError::Conflict.into(), refusal),
        Err(e) => e.into(),
    }
}

/// The slot of `doctor`'s schedule starting at `start_ms`, if it is in the
/// future; the clear refusal otherwise.
async fn bookable_slot(
    state: &AppState,
    doctor: UserId,
    start_ms: i64,
) -> Result<(i64, i64), ApiError> {
    let profile = state
        .store
        .doctor_profile(doctor)
        .await?
        .ok_or_else(|| ApiError {
            field: Some("doctor_id"),
            ..ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such doctor")
        })?;
    if start_ms <= now_ms() {
        return Err(ApiError {
            field: Some("start_ms"),
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::SlotInPast,
                "this slot has already started; pick a later one",
            )
        });
    }
    let slot = WeeklySchedule::parse(&profile.details)
        .ok()
        .and_then(|s| s.slot_at(start_ms));
    slot.ok_or_else(|| ApiError {
        field: Some("start_ms"),
        ..ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::SlotNotOnSchedule,
            "no slot of the doctor's schedule starts at this time",
        )
    })
}

/// `POST /api/v1/appointments`: a patient books a slot (status `pending`).
pub async fn book(
    State(state): State<AppState>,
    authed: Authed,
    ApiJson(new): ApiJson<NewAppointment>,
) -> Result<(StatusCode, Json<Appointment>), ApiError> {
    if authed.role != Role::Patient {
        return Err(ApiError::forbidden("only patients book appointments"));
    }
    new.validate().map_err(invalid)?;
    let (start_ms, end_ms) = bookable_slot(&state, new.doctor_id, new.start_ms).await?;
    let appointment = state
        .store
        .book(NewBooking {
            doctor: new.doctor_id,
            patient: authed.user,
            start_ms,
            end_ms,
            mode: new.mode,
            reason: new.reason,
            now_ms: now_ms(),
        })
        .await?;
    publish(&state, &appointment);
    Ok((StatusCode::CREATED, Json(appointment)))
}

/// Query of `GET /api/v1/appointments`.
#[derive(Debug, Deserialize)]
pub struct SyncQuery {
    /// The last `change` the client holds (0 for everything).
    since: Option<u64>,
    /// Page size, 1 to 500 (default 100).
    limit: Option<u32>,
}

/// `GET /api/v1/appointments?since=N`: the caller's appointments changed
/// after change `N`, in change order.
pub async fn changes(
    State(state): State<AppState>,
    authed: Authed,
    ApiQuery(q): ApiQuery<SyncQuery>,
) -> Result<Json<AppointmentChanges>, ApiError> {
    let since = q.since.unwrap_or(0);
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let (appointments, more) = state
        .store
        .appointments_changed(authed.user, since, limit)
        .await?;
    let cursor = appointments.last().map_or(since, |a| a.change);
    Ok(Json(AppointmentChanges {
        appointments,
        cursor,
        more,
    }))
}

/// `GET /api/v1/appointments/{id}`.
pub async fn get(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<AppointmentId>,
) -> Result<Json<Appointment>, ApiError> {
    Ok(Json(load(&state, &authed, id, "get").await?.0))
}

/// [`transition`]'s action for `POST /appointments/{id}/confirm`: the
/// doctor accepts a booking.
pub const CONFIRM: u8 = 0;
/// `POST /appointments/{id}/reject`: the doctor declines a booking.
pub const REJECT: u8 = 1;
/// `POST /appointments/{id}/cancel`: either party calls the visit off.
pub const CANCEL: u8 = 2;
const TRANSITIONS: [(Action, &str); 3] = [
    (Action::Confirm, "confirm"),
    (Action::Reject, "reject"),
    (Action::Cancel, "cancel"),
];

/// Confirm, reject and cancel: a status change with an optional comment.
/// One handler; the route picks the action with `ACTION`.
pub async fn transition<const ACTION: u8>(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<AppointmentId>,
    ApiJson(body): ApiJson<TransitionBody>,
) -> Result<Json<Appointment>, ApiError> {
    let (action, name) = TRANSITIONS[usize::from(ACTION)];
    body.validate().map_err(invalid)?;
    let after = apply(&state, &authed, id, (action, name), |party, to| {
        let to = to.ok_or_else(|| ApiError::internal("transition without a new status"))?;
        Ok(Change::Status {
            to,
            // Only the doctor's words go on record as the doctor's comment.
            doctor_comment: body.comment.filter(|_| party == Party::Doctor),
            cancelled_by: (to == Status::Cancelled).then_some(authed.user),
            notes: None,
        })
    })
    .await?;
    if after.status == Status::Scheduled {
        relate(&state, &after).await?;
    }
    tracing::info!(user = %authed.user, appointment = %id, action = name, "appointment changed");
    Ok(Json(after))
}

/// A confirmed appointment makes the two each other's contacts (chat,
/// calls, presence), as an admin's care relation does.
async fn relate(state: &AppState, a: &Appointment) -> Result<(), ApiError> {
    state
        .store
        .add_care_relation(a.doctor.id, a.patient.id, now_ms())
        .await?;
    let (doctor, patient): (UserSummary, UserSummary) = (a.doctor.clone(), a.patient.clone());
    state.signaling.run(|hub, _| {
        hub.relation_added(doctor, patient);
        Vec::new()
    });
    Ok(())
}

/// `POST /api/v1/appointments/{id}/complete`: the doctor closes the visit,
/// optionally with final notes.
pub async fn complete(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<AppointmentId>,
    ApiJson(body): ApiJson<CompleteBody>,
) -> Result<Json<Appointment>, ApiError> {
    body.validate().map_err(invalid)?;
    let complete = (Action::Complete, "complete");
    let after = apply(&state, &authed, id, complete, |_, _| {
        Ok(Change::Status {
            to: Status::Completed,
            doctor_comment: None,
            cancelled_by: None,
            notes: body.notes,
        })
    })
    .await?;
    Ok(Json(after))
}

/// `POST /api/v1/appointments/{id}/reschedule`: the doctor moves a
/// scheduled visit; the old one becomes `rescheduled`, a new `scheduled`
/// one takes the new slot.
pub async fn reschedule(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<AppointmentId>,
    ApiJson(body): ApiJson<RescheduleBody>,
) -> Result<Json<Rescheduled>, ApiError> {
    body.validate().map_err(invalid)?;
    let (before, party, _) = decide(&state, &authed, id, Action::Reschedule, "reschedule").await?;
    if body.start_ms == before.start_ms {
        return Err(ApiError::field(
            "start_ms",
            "is the appointment's current slot",
        ));
    }
    let (start_ms, end_ms) = bookable_slot(&state, before.doctor.id, body.start_ms).await?;
    let result = state
        .store
        .reschedule(RescheduleRequest {
            id,
            start_ms,
            end_ms,
            doctor_comment: body.comment,
            now_ms: now_ms(),
        })
        .await;
    let (old, new) = match result {
        Ok(pair) => pair,
        Err(StoreError::Conflict) => {
            return Err(lost_race(&state, &authed, id, party, Action::Reschedule).await);
        }
        Err(e) => return Err(e.into()),
    };
    publish(&state, &old);
    publish(&state, &new);
    Ok(Json(Rescheduled { old, new }))
}

/// `GET /api/v1/appointments/{id}/notes`: an audited read.
pub async fn read_notes(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<AppointmentId>,
) -> Result<Json<Notes>, ApiError> {
    let decided = decide(&state, &authed, id, Action::ReadNotes, "read_notes").await;
    audited(&state, &authed, id, decided).await?;
    Ok(Json(
        state.store.read_notes(id, authed.user, now_ms()).await?,
    ))
}

/// Passes `result` through; a refusal to touch the notes is written to
/// the audit log first (who tried, on which appointment), so an admin sees
/// attempts as well as accesses.
async fn audited<T>(
    state: &AppState,
    authed: &Authed,
    id: AppointmentId,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    if let Err(refused) = &result
        && matches!(
            refused.status,
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::CONFLICT
        )
        && let Err(e) = state
            .store
            .audit_notes_refused(id, authed.user, now_ms())
            .await
    {
        tracing::error!(error = %e, appointment = %id, "could not audit a refused notes access");
    }
    result
}

/// `PUT /api/v1/appointments/{id}/notes`: the doctor writes draft notes
/// (until the visit is completed).
pub async fn write_notes(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<AppointmentId>,
    ApiJson(body): ApiJson<NotesBody>,
) -> Result<Json<Appointment>, ApiError> {
    notes_change(state, authed, id, body, Action::WriteNotes).await
}

/// `POST /api/v1/appointments/{id}/notes/amendments`: the doctor amends the
/// final notes of a completed visit.
pub async fn amend_notes(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<AppointmentId>,
    ApiJson(body): ApiJson<NotesBody>,
) -> Result<(StatusCode, Json<Appointment>), ApiError> {
    let after = notes_change(state, authed, id, body, Action::AmendNotes).await?;
    Ok((StatusCode::CREATED, after))
}

async fn notes_change(
    state: AppState,
    authed: Authed,
    id: AppointmentId,
    body: NotesBody,
    action: Action,
) -> Result<Json<Appointment>, ApiError> {
    body.validate().map_err(invalid)?;
    let (name, change) = if action == Action::AmendNotes {
        ("amend_notes", Change::Amendment(body.text))
    } else {
        ("write_notes", Change::Notes(body.text))
    };
    let applied = apply(&state, &authed, id, (action, name), |_, _| Ok(change)).await;
    Ok(Json(audited(&state, &authed, id, applied).await?))
}

/// `POST /api/v1/appointments/{id}/rating`: the patient rates a completed
/// visit, once.
pub async fn rate(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<AppointmentId>,
    ApiJson(body): ApiJson<RatingBody>,
) -> Result<Json<Appointment>, ApiError> {
    body.validate().map_err(invalid)?;
    let rating = Change::Rating {
        rating: body.rating,
        review: body.review,
    };
    let after = apply(&state, &authed, id, (Action::Rate, "rate"), |_, _| {
        Ok(rating)
    })
    .await?;
    Ok(Json(after))
}

/// `GET /api/v1/appointments/{id}/visits`: the calls labelled with the
/// appointment (who called, when each joined and left, how long), with the
/// parties' quality reports.
pub async fn visits(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<AppointmentId>,
) -> Result<Json<Vec<Visit>>, ApiError> {
    load(&state, &authed, id, "visits").await?;
    // Call records are written in the background; include the latest.
    state.signaling.flush_records().await;
    Ok(Json(state.store.appointment_visits(id).await?))
}

/// `POST /api/v1/calls/{id}/quality`: a party's client reports how an
/// ended call went (the latest report counts).
pub async fn report_quality(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<CallId>,
    ApiJson(summary): ApiJson<QualitySummary>,
) -> Result<StatusCode, ApiError> {
    summary.validate().map_err(invalid)?;
    state.signaling.flush_records().await;
    match state
        .store
        .put_call_quality(id, authed.user, summary, now_ms())
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(StoreError::NotFound) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such call",
        )),
        Err(StoreError::Conflict) => Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::WrongCallState,
            "the call has not ended yet",
        )),
        Err(e) => Err(e.into()),
    }
}
