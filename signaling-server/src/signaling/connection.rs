//! One WebSocket connection: the `hello` handshake (version, credentials,
//! resume), then a loop that validates and rate-limits what the client
//! sends, passes it to the hub, and writes what the hub queued for it.

use super::hub::JoinRequest;
use super::outbox::{ConnTx, Outbox, Outgoing};
use super::{Signaling, chat, rooms};
use crate::auth::Authed;
use crate::state::AppState;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use clinicall_protocol::{
    ClientEnvelope, ClientMessage, ErrorCode, MAX_MESSAGE_BYTES, ServerMessage, SessionId,
    UserSummary, negotiate_version,
};
use futures_util::{SinkExt, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::time::Instant;
use tokio::sync::mpsc;

/// Close code for a failed handshake (policy violation).
const CLOSE_POLICY: u16 = 1008;
/// Frames a connection may have queued before it counts as too slow.
const QUEUE_DEPTH: usize = 512;

/// Runs a connection to completion. `pre_authed` is set when the upgrade
/// request carried a valid bearer token.
pub async fn run(state: AppState, mut socket: WebSocket, pre_authed: Option<Authed>) {
    let _open = state.signaling.connection_opened();
    metrics::counter!("clinicall_ws_connections_total").increment(1);
    metrics::gauge!("clinicall_ws_connections").increment(1.0);
    if let Some((session, conn_id, user, rx)) = handshake(&state, &mut socket, pre_authed).await {
        match serve(&state, socket, session, &user, rx).await {
            // The client said goodbye: it will not resume.
            Ending::ClosedByClient => state
                .signaling
                .run(|hub, now| hub.leave(now, session, conn_id)),
            Ending::Dropped => state.signaling.run(|hub, _| hub.detach(session, conn_id)),
        }
    }
    metrics::gauge!("clinicall_ws_connections").decrement(1.0);
}

async fn send_unnumbered(
    socket: &mut WebSocket,
    req: Option<String>,
    code: ErrorCode,
    message: &str,
) {
    metrics::counter!("clinicall_errors_total", "code" => code.as_str()).increment(1);
    let frame = Outbox::unnumbered(
        req,
        ServerMessage::Error {
            code,
            message: message.to_owned(),
            call_id: None,
        },
    );
    let _ = socket.send(Message::Text(frame)).await;
}

async fn refuse(socket: &mut WebSocket, req: Option<String>, code: ErrorCode, message: &str) {
    send_unnumbered(socket, req, code, message).await;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: CLOSE_POLICY,
            reason: code.as_str().into(),
        })))
        .await;
}

/// Waits for `hello`, authenticates, and joins the hub. Returns `None`
/// (after telling the client why) if the connection must close.
async fn handshake(
    state: &AppState,
    socket: &mut WebSocket,
    pre_authed: Option<Authed>,
) -> Option<(SessionId, u64, UserSummary, mpsc::Receiver<Outgoing>)> {
    let hello_timeout = state.config.limits.hello_timeout;
    let first = match tokio::time::timeout(hello_timeout, next_text(socket)).await {
        Ok(Some(text)) => text,
        Ok(None) => return None,
        Err(_) => {
            refuse(
                socket,
                None,
                ErrorCode::HelloRequired,
                "no hello received in time",
            )
            .await;
            return None;
        }
    };
    let envelope = match first
        .and_then(|t| ClientEnvelope::parse(&t).map_err(|e| (e.code(), e.to_string())))
    {
        Ok(envelope) => envelope,
        Err((code, message)) => {
            refuse(socket, None, code, &message).await;
            return None;
        }
    };
    let ClientMessage::Hello {
        min_version,
        max_version,
        token,
        resume,
    } = envelope.msg
    else {
        refuse(
            socket,
            envelope.req,
            ErrorCode::HelloRequired,
            "the first message must be hello",
        )
        .await;
        return None;
    };
    let req = envelope.req;
    let Some(version) = negotiate_version(min_version, max_version) else {
        let message = format!(
            "this server speaks protocol versions {}..={}",
            clinicall_protocol::MIN_PROTOCOL_VERSION,
            clinicall_protocol::PROTOCOL_VERSION
        );
        refuse(socket, req, ErrorCode::UnsupportedVersion, &message).await;
        return None;
    };
    let authed = match (pre_authed, token) {
        (Some(authed), _) => authed,
        (None, Some(token)) => match state.auth.authenticate(&token).await {
            Ok(authed) => authed,
            Err(e) => {
                refuse(socket, req, e.code, &e.message).await;
                return None;
            }
        },
        (None, None) => {
            refuse(
                socket,
                req,
                ErrorCode::Unauthenticated,
                "send an access token in the Authorization header or in hello",
            )
            .await;
            return None;
        }
    };
    let account = match state.store.account(authed.user).await {
        Ok(Some(account)) => account,
        Ok(None) => {
            refuse(
                socket,
                req,
                ErrorCode::Unauthenticated,
                "account no longer exists",
            )
            .await;
            return None;
        }
        Err(e) => {
            tracing::error!(error = %e, "loading account failed");
            refuse(socket, req, ErrorCode::Internal, "internal error").await;
            return None;
        }
    };
    let contacts = match state
        .store
        // Care relations only: the hub keeps the all-doctors directory.
        .contacts(account.id, account.role)
        .await
    {
        Ok(contacts) => contacts,
        Err(e) => {
            tracing::error!(error = %e, "loading contacts failed");
            refuse(socket, req, ErrorCode::Internal, "internal error").await;
            return None;
        }
    };
    let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
    let conn_id = state.signaling.next_conn_id();
    let user = UserSummary {
        id: account.id,
        display_name: account.display_name,
        role: account.role,
    };
    let joined = state.signaling.with_hub(|hub, now| {
        hub.join(
            now,
            JoinRequest {
                user: user.clone(),
                auth_session: authed.auth_session,
                contacts,
                conn: ConnTx { id: conn_id, tx },
                resume,
                protocol_version: version,
                req,
            },
        )
    });
    let Some(joined) = joined else {
        refuse(
            socket,
            None,
            ErrorCode::TooManySessions,
            "too many devices are signed in to this account; close one first",
        )
        .await;
        return None;
    };
    tracing::info!(
        user = %authed.user,
        session = %joined.session,
        resumed = joined.resumed,
        "session joined"
    );
    Some((joined.session, conn_id, user, rx))
}

/// The next frame as text; `Err` for a binary frame; `None` when closed.
async fn next_text(socket: &mut WebSocket) -> Option<Result<String, (ErrorCode, String)>> {
    loop {
        match socket.recv().await? {
            Ok(Message::Text(text)) => return Some(Ok(text.to_string())),
            Ok(Message::Binary(_)) => {
                return Some(Err((
                    ErrorCode::BadJson,
                    "binary frames are not part of the protocol".into(),
                )));
            }
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Close(_)) | Err(_) => return None,
        }
    }
}

fn rate_limiter(state: &AppState) -> DefaultDirectRateLimiter {
    let limits = &state.config.limits;
    let rate = NonZeroU32::new(limits.messages_per_second).unwrap_or(NonZeroU32::MIN);
    let burst =
        NonZeroU32::new(limits.message_burst.max(limits.messages_per_second)).unwrap_or(rate);
    RateLimiter::direct(Quota::per_second(rate).allow_burst(burst))
}

/// How a connection's loop ended.
enum Ending {
    /// The client sent a close frame: it is leaving, not losing the network.
    ClosedByClient,
    /// Anything else: network loss, silence, server-side close, overflow.
    Dropped,
}

async fn serve(
    state: &AppState,
    socket: WebSocket,
    session: SessionId,
    user: &UserSummary,
    mut rx: mpsc::Receiver<Outgoing>,
) -> Ending {
    let signaling: &Signaling = &state.signaling;
    let limiter = rate_limiter(state);
    let heartbeat_every = state.config.presence.heartbeat_interval;
    let mut heartbeat = tokio::time::interval_at(
        tokio::time::Instant::now() + heartbeat_every,
        heartbeat_every,
    );
    let mut last_heard = Instant::now();
    let (mut sink, mut stream) = socket.split();

    loop {
        tokio::select! {
            incoming = stream.next() => {
                let Some(Ok(frame)) = incoming else { break };
                last_heard = Instant::now();
                if matches!(frame, Message::Text(_) | Message::Binary(_)) && limiter.check().is_err() {
                    signaling.run(|hub, _| {
                        hub.reply_error(session, None, ErrorCode::RateLimited, "too many messages; slow down", None);
                        Vec::new()
                    });
                    continue;
                }
                let text = match frame {
                    Message::Text(text) => text,
                    Message::Binary(_) => {
                        signaling.run(|hub, _| {
                            hub.reply_error(session, None, ErrorCode::BadJson, "binary frames are not part of the protocol", None);
                            Vec::new()
                        });
                        continue;
                    }
                    Message::Ping(_) | Message::Pong(_) => continue,
                    Message::Close(_) => {
                        // Flush the close reply the WebSocket layer queued.
                        let _ = sink.close().await;
                        return Ending::ClosedByClient;
                    }
                };
                handle_text(state, session, user, text.as_str()).await;
            }
            outgoing = rx.recv() => {
                match outgoing {
                    Some(Outgoing::Frame(frame)) => {
                        if sink.send(Message::Text(frame)).await.is_err() {
                            break;
                        }
                    }
                    Some(Outgoing::Close(code, reason)) => {
                        let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                        break;
                    }
                    // The hub dropped us: too slow, or taken over by a resume.
                    None => break,
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > heartbeat_every * 3 {
                    tracing::info!(session = %session, "connection silent; dropping it");
                    break;
                }
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
        }
    }
    Ending::Dropped
}

async fn handle_text(state: &AppState, session: SessionId, user: &UserSummary, text: &str) {
    let signaling = &state.signaling;
    let started = Instant::now();
    match ClientEnvelope::parse(text) {
        Ok(envelope) => {
            let kind = envelope.msg.kind();
            if chat::is_chat(&envelope.msg) {
                // Awaited here, not spawned: one connection's chat messages
                // are handled in the order it sent them.
                chat::handle(state, session, user, envelope.req, envelope.msg).await;
            } else if rooms::is_room(&envelope.msg) {
                rooms::handle(state, session, user, envelope.req, envelope.msg).await;
            } else if rooms::is_appointment_invite(&envelope.msg) {
                rooms::invite(state, session, user, envelope.req, envelope.msg).await;
            } else {
                signaling.run(|hub, now| hub.handle(now, session, envelope.req, envelope.msg));
            }
            metrics::histogram!("clinicall_message_handling_seconds", "type" => kind)
                .record(started.elapsed().as_secs_f64());
        }
        Err(e) => {
            // Echo the req if the frame was JSON with one, so the client can
            // tell which of its messages failed.
            let req = (text.len() <= MAX_MESSAGE_BYTES)
                .then(|| serde_json::from_str::<serde_json::Value>(text).ok())
                .flatten()
                .and_then(|v| {
                    v.get("req")?
                        .as_str()
                        .filter(|r| r.len() <= 64)
                        .map(str::to_owned)
                });
            let message = e.to_string();
            signaling.run(|hub, _| {
                hub.reply_error(session, req, e.code(), message, None);
                Vec::new()
            });
        }
    }
}
