//! `GET /api/v1/ws`: the signaling WebSocket.

use super::extract::bearer;
use crate::error::ApiError;
use crate::signaling::connection;
use crate::state::AppState;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use clinicall_protocol::ErrorCode;
use clinicall_protocol::MAX_MESSAGE_BYTES;

/// Frames larger than this are not even buffered: the WebSocket layer
/// drops the connection. Between the protocol limit and this one, the
/// server answers `message_too_large` and keeps the connection.
const HARD_FRAME_LIMIT: usize = 16 * MAX_MESSAGE_BYTES;

/// Upgrades to a WebSocket. A bearer token in the header is checked here,
/// so a bad one is refused with a plain 401 before any upgrade.
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => {
            return ApiError::new(e.status(), ErrorCode::InvalidMessage, e.body_text())
                .into_response();
        }
    };
    let pre_authed = match bearer(&headers) {
        Some(token) => match state.auth.authenticate(token).await {
            Ok(authed) => Some(authed),
            Err(e) => return e.into_response(),
        },
        None => None,
    };
    ws.max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        // Small buffers: most connections idle, and messages are small.
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .on_upgrade(move |socket| connection::run(state, socket, pre_authed))
}
