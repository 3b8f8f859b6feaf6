//! Admin-only account management.

use super::ApiJson;
use super::extract::ApiQuery;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::AuditQuery;
use crate::util::now_ms;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use clinicall_protocol::appointments::AuditEntry;
use clinicall_protocol::rest::{Account, NewUser};
use clinicall_protocol::{AppointmentId, ErrorCode, Role, UserId, UserSummary};
use serde::{Deserialize, Serialize};

/// An authenticated admin. As an extractor it runs before the body is
/// read, so a non-admin gets 403 whatever they send.
pub struct Admin(pub Authed);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let authed = Authed::from_request_parts(parts, state).await?;
        if authed.role == Role::Admin {
            Ok(Admin(authed))
        } else {
            Err(ApiError::forbidden("admins only"))
        }
    }
}

fn summary(account: &Account) -> UserSummary {
    UserSummary {
        id: account.id,
        display_name: account.display_name.clone(),
        role: account.role,
    }
}

/// `POST /api/v1/admin/users`: create an account of any role.
pub async fn create_user(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(new): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    let role = new
        .role
        .ok_or_else(|| ApiError::field("role", "required: patient, doctor or admin"))?;
    let account = state.auth.create_account(new, role).await?;
    tracing::info!(admin = %admin.user, user = %account.id, "admin created account");
    if role == Role::Doctor {
        let doctor = summary(&account);
        state.signaling.run(|hub, _| {
            hub.doctor_added(doctor);
            Vec::new()
        });
    }
    Ok((StatusCode::CREATED, Json(account)))
}

/// `GET /api/v1/admin/users`.
pub async fn list_users(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<Account>>, ApiError> {
    Ok(Json(state.store.list_accounts().await?))
}

/// Body of `POST /api/v1/admin/care-relations`.
#[derive(Debug, Serialize, Deserialize)]
pub struct CareRelation {
    /// The doctor.
    pub doctor_id: UserId,
    /// Their patient.
    pub patient_id: UserId,
}

/// `POST /api/v1/admin/care-relations`: a doctor now looks after a patient;
/// both see each other's presence and may call each other.
pub async fn add_care_relation(
    State(state): State<AppState>,
    _admin: Admin,
    ApiJson(rel): ApiJson<CareRelation>,
) -> Result<StatusCode, ApiError> {
    let doctor = state.store.account(rel.doctor_id).await?;
    let patient = state.store.account(rel.patient_id).await?;
    let (Some(doctor), Some(patient)) = (doctor, patient) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such user",
        ));
    };
    if doctor.role != Role::Doctor {
        return Err(ApiError::field("doctor_id", "is not a doctor"));
    }
    if patient.role != Role::Patient {
        return Err(ApiError::field("patient_id", "is not a patient"));
    }
    state
        .store
        .add_care_relation(doctor.id, patient.id, now_ms())
        .await?;
    let (doctor, patient) = (summary(&doctor), summary(&patient));
    state.signaling.run(|hub, _| {
        hub.relation_added(doctor, patient);
        Vec::new()
    });
    Ok(StatusCode::NO_CONTENT)
}

/// Query of `GET /api/v1/admin/audit`.
#[derive(Debug, Deserialize)]
pub struct AuditParams {
    /// Only this appointment's entries.
    appointment_id: Option<AppointmentId>,
    /// Only this user's.
    actor_id: Option<UserId>,
    /// Only entries older than this id (the next page).
    before: Option<u64>,
    /// Page size, 1 to 500 (default 100).
    limit: Option<u32>,
}

/// `GET /api/v1/admin/audit`: who read or changed which notes, newest
/// first.
pub async fn audit_log(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiQuery(q): ApiQuery<AuditParams>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let entries = state
        .store
        .audit_log(AuditQuery {
            appointment: q.appointment_id,
            actor: q.actor_id,
            before: q.before,
            limit: q.limit.unwrap_or(100).clamp(1, 500),
        })
        .await?;
    tracing::info!(admin = %admin.user, entries = entries.len(), "audit log read");
    Ok(Json(entries))
}
