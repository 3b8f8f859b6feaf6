//! Registration, login, refresh, logout, and the caller's own data.

use super::ApiJson;
use crate::auth::Authed;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use clinicall_protocol::rest::{
    Account, CallRecord, LoginRequest, NewUser, RefreshRequest, TokenPair,
};
use clinicall_protocol::{ErrorCode, Role};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};

/// The client's address: the TCP peer, unless the peer is a trusted
/// reverse proxy, in which case the nearest untrusted hop of
/// `X-Forwarded-For` (the leftmost entries can be forged by the client).
fn client_ip(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    let trusted = &state.config.server.trusted_proxies;
    if !trusted.contains(&peer.ip()) {
        return peer.ip();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer.ip())
}

fn check_auth_rate(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let Some(limiter) = &state.auth_limiter else {
        return Ok(());
    };
    if limiter.check_key(&client_ip(state, peer, headers)).is_err() {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "too many sign-in attempts from this address; wait a minute",
        ));
    }
    Ok(())
}

/// `POST /api/v1/auth/register`: a patient signs up.
pub async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(new): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    check_auth_rate(&state, peer, &headers)?;
    if new.role.is_some_and(|r| r != Role::Patient) {
        return Err(ApiError::forbidden(
            "only patients can self-register; ask an admin",
        ));
    }
    let account = state.auth.create_account(new, Role::Patient).await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// `POST /api/v1/auth/login`.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    check_auth_rate(&state, peer, &headers)?;
    Ok(Json(state.auth.login(&req.email, req.password).await?))
}

/// `POST /api/v1/auth/refresh`: rotates the refresh token.
pub async fn refresh(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    check_auth_rate(&state, peer, &headers)?;
    match state.auth.refresh(&req.refresh_token).await {
        Ok(pair) => Ok(Json(pair)),
        Err((error, revoked_login)) => {
            if let Some(sid) = revoked_login {
                state
                    .signaling
                    .run(|hub, now| hub.revoke_auth_session(now, sid));
            }
            Err(error)
        }
    }
}

/// `POST /api/v1/auth/logout`: ends the login of the given refresh token
/// and closes its live connections.
pub async fn logout(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    let sid = state.auth.logout_refresh(&req.refresh_token).await?;
    state
        .signaling
        .run(|hub, now| hub.revoke_auth_session(now, sid));
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/me`.
pub async fn me(State(state): State<AppState>, authed: Authed) -> Result<Json<Account>, ApiError> {
    let account = state.store.account(authed.user).await?.ok_or_else(|| {
        ApiError::unauthorized(ErrorCode::Unauthenticated, "account no longer exists")
    })?;
    Ok(Json(account))
}

/// Query of `GET /api/v1/calls`.
#[derive(Deserialize)]
pub struct CallsQuery {
    limit: Option<u32>,
}

/// `GET /api/v1/calls`: the caller's call records, newest first (admins
/// see everyone's).
pub async fn calls(
    State(state): State<AppState>,
    authed: Authed,
    query: Result<Query<CallsQuery>, QueryRejection>,
) -> Result<Json<Vec<CallRecord>>, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidField,
            e.body_text(),
        )
    })?;
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    let scope = (authed.role != Role::Admin).then_some(authed.user);
    Ok(Json(state.store.calls(scope, limit).await?))
}
