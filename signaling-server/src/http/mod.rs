//! The HTTP surface: REST API, WebSocket upgrade, health and metrics.

mod accounts;
mod admin;
mod appointments;
mod attachments;
mod doctors;
mod extract;
mod ops;
mod ws;

use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};

pub use extract::ApiJson;

/// Builds the router.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.limits.max_body_bytes;
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/api/v1/auth/register", post(accounts::register))
        .route("/api/v1/auth/login", post(accounts::login))
        .route("/api/v1/auth/refresh", post(accounts::refresh))
        .route("/api/v1/auth/logout", post(accounts::logout))
        .route("/api/v1/me", get(accounts::me))
        .route("/api/v1/calls", get(accounts::calls))
        .route(
            "/api/v1/admin/users",
            post(admin::create_user).get(admin::list_users),
        )
        .route(
            "/api/v1/admin/care-relations",
            post(admin::add_care_relation),
        )
        .route(
            "/api/v1/conversations/{id}/attachments",
            post(attachments::upload),
        )
        .route("/api/v1/attachments/{id}", get(attachments::download))
        .route(
            "/api/v1/attachments/{id}/thumbnail",
            get(attachments::thumbnail),
        )
        .route("/api/v1/admin/audit", get(admin::audit_log))
        .route("/api/v1/doctors", get(doctors::search))
        .route("/api/v1/doctors/{id}", get(doctors::profile))
        .route("/api/v1/doctors/{id}/profile", put(doctors::put_profile))
        .route("/api/v1/doctors/{id}/slots", get(doctors::slots))
        .route(
            "/api/v1/appointments",
            post(appointments::book).get(appointments::changes),
        )
        .route("/api/v1/appointments/{id}", get(appointments::get))
        .route(
            "/api/v1/appointments/{id}/confirm",
            post(appointments::transition::<{ appointments::CONFIRM }>),
        )
        .route(
            "/api/v1/appointments/{id}/reject",
            post(appointments::transition::<{ appointments::REJECT }>),
        )
        .route(
            "/api/v1/appointments/{id}/cancel",
            post(appointments::transition::<{ appointments::CANCEL }>),
        )
        .route(
            "/api/v1/appointments/{id}/complete",
            post(appointments::complete),
        )
        .route(
            "/api/v1/appointments/{id}/reschedule",
            post(appointments::reschedule),
        )
        .route(
            "/api/v1/appointments/{id}/notes",
            get(appointments::read_notes).put(appointments::write_notes),
        )
        .route(
            "/api/v1/appointments/{id}/notes/amendments",
            post(appointments::amend_notes),
        )
        .route("/api/v1/appointments/{id}/rating", post(appointments::rate))
        .route(
            "/api/v1/appointments/{id}/visits",
            get(appointments::visits),
        )
        .route(
            "/api/v1/calls/{id}/quality",
            post(appointments::report_quality),
        )
        .route("/api/v1/ws", get(ws::upgrade))
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}
