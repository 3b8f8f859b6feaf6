//! Health, readiness and metrics endpoints for operators and load balancers.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use clinicall_protocol::ErrorCode;
use std::sync::atomic::Ordering;

/// Liveness: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: accepting new work and the database answers.
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    if !state.ready.load(Ordering::Relaxed) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "not ready",
        ));
    }
    state.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness: database not answering");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "database not answering",
        )
    })?;
    Ok("ready")
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// A known path with the wrong method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::InvalidMessage,
        "method not allowed on this endpoint",
    )
}

/// Unknown paths get a JSON error like everything else.
pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "no such endpoint",
    )
}
