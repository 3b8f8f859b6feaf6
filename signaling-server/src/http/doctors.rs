//! The doctor directory: profiles, search, and free slots. Anyone signed in
//! may read it; a doctor writes their own profile, an admin any.

use super::ApiJson;
use super::extract::{ApiPath, ApiQuery};
use crate::appointments::schedule::{MAX_WINDOW_DAYS, WeeklySchedule};
use crate::auth::Authed;
use crate::error::ApiError;
use crate::state::AppState;
use crate::util::now_ms;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use clinicall_protocol::appointments::{DoctorPage, DoctorProfile, ProfileDetails, Slot};
use clinicall_protocol::{ErrorCode, Role, UserId};
use serde::Deserialize;
use std::collections::HashSet;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Most doctors on one directory page.
const MAX_PAGE: u32 = 100;

fn no_such_doctor() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such doctor")
}

/// A stored profile's schedule. Profiles are checked when written, so a
/// failure here means the time zone left the tz database: no slots.
fn schedule_of(profile: &DoctorProfile) -> Option<WeeklySchedule> {
    WeeklySchedule::parse(&profile.details)
        .inspect_err(|e| {
            tracing::warn!(doctor = %profile.id, problem = %e.problem, "unusable schedule");
        })
        .ok()
}

/// A window `[from, to)` from a query: both given, in order, not wider than
/// the schedule allows.
fn window(from: i64, to: i64) -> Result<(i64, i64), ApiError> {
    if to <= from {
        return Err(ApiError::field("to", "must be later than from"));
    }
    // Saturating: the two ends come from the query, and far-apart extremes
    // would overflow a plain subtraction.
    if to.saturating_sub(from) > MAX_WINDOW_DAYS * DAY_MS {
        return Err(ApiError::field(
            "to",
            format!("the window may span at most {MAX_WINDOW_DAYS} days"),
        ));
    }
    Ok((from, to))
}

/// The doctor's slots starting in `[from, to)`, each marked free unless
/// booked or already started.
pub async fn slots_of(
    state: &AppState,
    profile: &DoctorProfile,
    from: i64,
    to: i64,
) -> Result<Vec<Slot>, ApiError> {
    let Some(schedule) = schedule_of(profile) else {
        return Ok(Vec::new());
    };
    let slots = schedule.slots(from, to);
    if slots.is_empty() {
        return Ok(Vec::new());
    }
    let booked: HashSet<i64> = state
        .store
        .booked_starts(profile.id, from, to)
        .await?
        .into_iter()
        .collect();
    let now = now_ms();
    Ok(slots
        .into_iter()
        .map(|(start_ms, end_ms)| Slot {
            start_ms,
            end_ms,
            free: start_ms > now && !booked.contains(&start_ms),
        })
        .collect())
}

/// Query of `GET /api/v1/doctors`.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    /// Part of the doctor's name.
    name: Option<String>,
    /// The specialization (case-insensitive, whole).
    specialization: Option<String>,
    /// With `free_to`: only doctors with a free slot starting in
    /// `[free_from, free_to)` (Unix ms).
    free_from: Option<i64>,
    free_to: Option<i64>,
    /// Page size, 1 to 100 (default 20).
    limit: Option<u32>,
    /// Matches to skip.
    offset: Option<u32>,
}

fn nonblank(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// `GET /api/v1/doctors`: search the directory, paged in a stable order
/// (name, then id).
pub async fn search(
    State(state): State<AppState>,
    _authed: Authed,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<DoctorPage>, ApiError> {
    let limit = q.limit.unwrap_or(20).clamp(1, MAX_PAGE) as usize;
    let offset = q.offset.unwrap_or(0) as usize;
    let free = match (q.free_from, q.free_to) {
        (None, None) => None,
        (Some(from), Some(to)) => Some(window(from, to)?),
        _ => {
            return Err(ApiError::field(
                "free_to",
                "give both free_from and free_to",
            ));
        }
    };
    let matches = state
        .store
        .search_doctors(nonblank(q.name), nonblank(q.specialization))
        .await?;
    // A clinic's directory is small: filter by free slot here, then page.
    let mut page = Vec::with_capacity(limit);
    let mut seen = 0usize;
    let mut more = false;
    for profile in matches {
        if let Some((from, to)) = free {
            let slots = slots_of(&state, &profile, from, to).await?;
            if !slots.iter().any(|s| s.free) {
                continue;
            }
        }
        seen += 1;
        if seen <= offset {
            continue;
        }
        if page.len() == limit {
            more = true;
            break;
        }
        page.push(profile);
    }
    let next_offset = more.then(|| u32::try_from(offset + limit).unwrap_or(u32::MAX));
    Ok(Json(DoctorPage {
        doctors: page,
        next_offset,
    }))
}

/// `GET /api/v1/doctors/{id}`.
pub async fn profile(
    State(state): State<AppState>,
    _authed: Authed,
    ApiPath(id): ApiPath<UserId>,
) -> Result<Json<DoctorProfile>, ApiError> {
    let profile = state.store.doctor_profile(id).await?;
    Ok(Json(profile.ok_or_else(no_such_doctor)?))
}

/// `PUT /api/v1/doctors/{id}/profile`: the doctor themself or an admin.
pub async fn put_profile(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<UserId>,
    ApiJson(details): ApiJson<ProfileDetails>,
) -> Result<Json<DoctorProfile>, ApiError> {
    let allowed = authed.role == Role::Admin || (authed.role == Role::Doctor && authed.user == id);
    if !allowed {
        return Err(ApiError::forbidden(
            "doctors edit their own profile; admins edit any",
        ));
    }
    details
        .validate()
        .map_err(|e| ApiError::field(e.field, e.problem))?;
    WeeklySchedule::parse(&details).map_err(|e| ApiError::field(e.field, e.problem))?;
    let profile = state
        .store
        .put_doctor_profile(id, details, now_ms())
        .await
        .map_err(|e| match e {
            crate::storage::StoreError::NotFound => no_such_doctor(),
            other => other.into(),
        })?;
    tracing::info!(editor = %authed.user, doctor = %id, "doctor profile written");
    Ok(Json(profile))
}

/// Query of `GET /api/v1/doctors/{id}/slots`.
#[derive(Debug, Deserialize)]
pub struct SlotsQuery {
    /// Window start, Unix ms (default now).
    from: Option<i64>,
    /// Window end, Unix ms (default seven days after `from`).
    to: Option<i64>,
}

/// `GET /api/v1/doctors/{id}/slots`: the slot picker.
pub async fn slots(
    State(state): State<AppState>,
    _authed: Authed,
    ApiPath(id): ApiPath<UserId>,
    ApiQuery(q): ApiQuery<SlotsQuery>,
) -> Result<Json<Vec<Slot>>, ApiError> {
    let from = q.from.unwrap_or_else(now_ms);
    let (from, to) = window(from, q.to.unwrap_or(from.saturating_add(7 * DAY_MS)))?;
    let profile = state
        .store
        .doctor_profile(id)
        .await?
        .ok_or_else(no_such_doctor)?;
    Ok(Json(slots_of(&state, &profile, from, to).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_from_the_extremes_is_refused_not_overflowed() {
        assert!(window(i64::MIN, i64::MAX).is_err());
        assert!(window(0, MAX_WINDOW_DAYS * DAY_MS + 1).is_err());
        assert_eq!(window(0, DAY_MS).unwrap(), (0, DAY_MS));
        assert!(window(DAY_MS, 0).is_err());
    }
}
