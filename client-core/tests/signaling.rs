//! The signaling client against a real server: real sockets on loopback,
//! a real SQLite file, the real REST API.

mod common;

use clinicall_client_core::signaling::{
    AuthSession, DisconnectReason, Error, MemoryTokenStore, RestClient, RestError, SignalingClient,
    SignalingEvent, TokenStore, endpoint,
};
use clinicall_protocol::{
    CallId, ClientMessage, EndReason, ErrorCode, ServerMessage, Signal, UserId,
};
use common::*;
use std::sync::Arc;
use std::time::Duration;

fn candidate(call_id: CallId, tag: &str) -> ClientMessage {
    ClientMessage::Signal {
        call_id,
        signal: Signal::Candidate {
            candidate: format!("candidate:{tag} 1 udp 2122260223 127.0.0.1 50000 typ host"),
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0),
            username_fragment: None,
        },
    }
}

/// The tag of a relayed candidate, if `msg` is one.
fn candidate_tag(msg: &ServerMessage) -> Option<String> {
    match msg {
        ServerMessage::Signal {
            signal: Signal::Candidate { candidate, .. },
            ..
        } => candidate
            .strip_prefix("candidate:")
            .and_then(|rest| rest.split(' ').next())
            .map(str::to_owned),
        _ => None,
    }
}

/// `caller` invites `callee_id`, whose client accepts: an active call.
async fn active_call(caller: &mut Online, callee: &mut Online, callee_id: UserId) -> CallId {
    let ringing = caller
        .client
        .request(ClientMessage::Invite {
            callee: callee_id,
            appointment_id: None,
        })
        .await
        .unwrap();
    let ServerMessage::CallRinging { call_id, .. } = ringing.msg else {
        panic!("expected call_ringing, got {ringing:?}");
    };
    let incoming = callee
        .events
        .message(|m| match m {
            ServerMessage::CallIncoming {
                call_id,
                appointment_id,
                ..
            } => Some((*call_id, appointment_id.clone())),
            _ => None,
        })
        .await;
    assert_eq!(incoming, (call_id, None));
    let accepted = callee
        .client
        .request(ClientMessage::Accept { call_id })
        .await
        .unwrap();
    assert_eq!(accepted.msg, ServerMessage::CallAccepted { call_id });
    let caller_side = caller
        .events
        .message(|m| match m {
            ServerMessage::CallAccepted { call_id } => Some(*call_id),
            _ => None,
        })
        .await;
    assert_eq!(caller_side, call_id);
    call_id
}

#[tokio::test]
async fn login_connect_presence_and_a_whole_call() {
    let server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;
    let mut doc = server.online(&doctor).await;
    let mut pat = server.online(&patient).await;

    let seen = pat
        .contacts
        .iter()
        .find(|c| c.user.id == doctor.id)
        .expect("the patient's snapshot lists the doctor");
    assert!(seen.online, "the doctor connected first");
    assert!(doc.contacts.iter().any(|c| c.user.id == patient.id));

    let call_id = active_call(&mut pat, &mut doc, doctor.id).await;

    pat.client
        .send(ClientMessage::Signal {
            call_id,
            signal: Signal::Offer {
                sdp: "v=0 offer".into(),
                ice_restart: false,
            },
        })
        .await
        .unwrap();
    let (from, sdp) = doc
        .events
        .message(|m| match m {
            ServerMessage::Signal {
                from,
                signal: Signal::Offer { sdp, .. },
                ..
            } => Some((*from, sdp.clone())),
            _ => None,
        })
        .await;
    assert_eq!((from, sdp.as_str()), (patient.id, "v=0 offer"));

    doc.client
        .send(ClientMessage::Signal {
            call_id,
            signal: Signal::Answer {
                sdp: "v=0 answer".into(),
            },
        })
        .await
        .unwrap();
    let answer = pat
        .events
        .message(|m| match m {
            ServerMessage::Signal {
                signal: Signal::Answer { sdp },
                ..
            } => Some(sdp.clone()),
            _ => None,
        })
        .await;
    assert_eq!(answer, "v=0 answer");

    let ended = doc
        .client
        .request(ClientMessage::Hangup { call_id })
        .await
        .unwrap();
    assert!(matches!(
        ended.msg,
        ServerMessage::CallEnded { reason: EndReason::HungUp, by: Some(by), .. } if by == doctor.id
    ));
    let reason = pat
        .events
        .message(|m| match m {
            ServerMessage::CallEnded { reason, .. } => Some(*reason),
            _ => None,
        })
        .await;
    assert_eq!(reason, EndReason::HungUp);

    // Errors come back as the request's reply, with the stable code.
    let late = pat
        .client
        .request(ClientMessage::Hangup { call_id })
        .await
        .unwrap();
    assert!(matches!(
        late.msg,
        ServerMessage::Error {
            code: ErrorCode::NotFound,
            ..
        }
    ));
    // `hello` belongs to the client, and limits are checked before sending.
    let hello = ClientMessage::Hello {
        min_version: 1,
        max_version: 1,
        token: None,
        resume: None,
    };
    assert!(matches!(
        pat.client.send(hello).await,
        Err(Error::HelloNotAllowed)
    ));
    let huge = ClientMessage::Signal {
        call_id,
        signal: Signal::Answer {
            sdp: "x".repeat(64 * 1024),
        },
    };
    assert!(matches!(
        pat.client.send(huge).await,
        Err(Error::Invalid(_))
    ));

    pat.client.shutdown().await;
    doc.client.shutdown().await;
}

#[tokio::test]
async fn server_restart_reconnects_to_a_new_session() {
    let mut server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;
    let mut doc = server.online(&doctor).await;
    let mut pat = server.online(&patient).await;

    server.stop().await;
    let after_ms = pat
        .events
        .message(|m| match m {
            ServerMessage::Reconnect { after_ms } => Some(*after_ms),
            _ => None,
        })
        .await;
    let reason = pat
        .events
        .until(|e| match e {
            SignalingEvent::Disconnected { reason } => Some(reason.clone()),
            _ => None,
        })
        .await;
    assert_eq!(reason, DisconnectReason::ServerRestarting);
    let (attempt, delay) = pat
        .events
        .until(|e| match e {
            SignalingEvent::Reconnecting { attempt, delay } => Some((*attempt, *delay)),
            _ => None,
        })
        .await;
    assert_eq!(attempt, 1);
    assert!(
        delay >= Duration::from_millis(after_ms),
        "the server's hint is a floor: {delay:?} < {after_ms} ms"
    );
    // Nothing is queued while the socket is down.
    assert!(matches!(
        pat.client.send(ClientMessage::Ping).await,
        Err(Error::NotConnected)
    ));

    tokio::time::sleep(Duration::from_secs(1)).await; // the outage itself
    server.start_again().await;

    // The hint (< 5 s) plus a few capped retries.
    let bound = Duration::from_secs(15);
    for side in [&mut pat, &mut doc] {
        let (session, resumed) = side
            .events
            .until_within(bound, |e| match e {
                SignalingEvent::Connected {
                    session_id,
                    resumed,
                    ..
                } => Some((*session_id, *resumed)),
                _ => None,
            })
            .await;
        assert!(!resumed, "a new process has no sessions");
        assert_ne!(session, side.session);
        let snapshot = side
            .events
            .until(|e| match e {
                SignalingEvent::PresenceSnapshot(c) => Some(c.clone()),
                _ => None,
            })
            .await;
        assert!(!snapshot.is_empty());
    }

    let pong = pat.client.request(ClientMessage::Ping).await.unwrap();
    assert_eq!(pong.msg, ServerMessage::Pong);
    let call_id = active_call(&mut pat, &mut doc, doctor.id).await;
    doc.client.send(candidate(call_id, "after")).await.unwrap();
    assert_eq!(pat.events.message(candidate_tag).await, "after");

    pat.client.shutdown().await;
    doc.client.shutdown().await;
}

#[tokio::test]
async fn a_dropped_socket_resumes_and_missed_messages_arrive_exactly_once() {
    let server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;
    let mut doc = server.online(&doctor).await;
    let mut pat = server.online(&patient).await;
    let call_id = active_call(&mut pat, &mut doc, doctor.id).await;

    doc.client.send(candidate(call_id, "before")).await.unwrap();
    assert_eq!(pat.events.message(candidate_tag).await, "before");

    pat.client
        .drop_connection_for_test(Duration::from_millis(1_500))
        .await;
    let reason = pat
        .events
        .until(|e| match e {
            SignalingEvent::Disconnected { reason } => Some(reason.clone()),
            _ => None,
        })
        .await;
    assert_eq!(reason, DisconnectReason::DroppedForTest);

    // Sent while the patient is away; the server buffers it.
    doc.client.send(candidate(call_id, "gap")).await.unwrap();

    let (session, resumed) = pat.events.connected().await;
    assert!(resumed);
    assert_eq!(session, pat.session);

    doc.client.send(candidate(call_id, "after")).await.unwrap();
    let mut tags = Vec::new();
    while tags.last().map(String::as_str) != Some("after") {
        tags.push(pat.events.message(candidate_tag).await);
    }
    assert_eq!(
        tags,
        ["gap", "after"],
        "each message exactly once, in order"
    );

    // The call survived the gap.
    let ended = pat
        .client
        .request(ClientMessage::Hangup { call_id })
        .await
        .unwrap();
    assert!(matches!(
        ended.msg,
        ServerMessage::CallEnded {
            reason: EndReason::HungUp,
            ..
        }
    ));
    pat.client.shutdown().await;
    doc.client.shutdown().await;
}

#[tokio::test]
async fn clear_text_to_a_remote_host_is_refused_before_connecting() {
    // Never reaches the network: the checks are pure. The AuthSession's
    // REST client points at loopback and is never used.
    let remote = "http://10.1.2.3:8787";
    let rest = RestClient::new("http://127.0.0.1:9", false).unwrap();
    let auth = Arc::new(AuthSession::new(rest, Arc::new(MemoryTokenStore::new())));
    let refused = SignalingClient::start(common::fast_config(remote), auth);
    assert!(matches!(
        refused,
        Err(Error::InsecureTransport { ref host }) if host == "10.1.2.3"
    ));
    assert!(matches!(
        RestClient::new(remote, false),
        Err(RestError::Endpoint(_))
    ));
    // Told otherwise, the URL is accepted (checked without connecting).
    let url = endpoint::websocket_url(&url::Url::parse(remote).unwrap(), true).unwrap();
    assert_eq!(url.as_str(), "ws://10.1.2.3:8787/api/v1/ws");
}

#[tokio::test]
async fn shutdown_closes_the_stream_and_the_server_sees_the_client_leave() {
    let server = TestServer::start_with(|c| {
        c.presence.resume_grace = Duration::from_millis(300);
    })
    .await;
    let (doctor, patient) = server.pair().await;
    let mut doc = server.online(&doctor).await;
    let mut pat = server.online(&patient).await;
    let online = doc
        .events
        .message(|m| match m {
            ServerMessage::Presence { user_id, online } if *user_id == patient.id => Some(*online),
            _ => None,
        })
        .await;
    assert!(online);

    pat.client.shutdown().await;
    let rest = pat.events.until_end().await;
    assert_eq!(rest.last(), Some(&SignalingEvent::Closed), "{rest:?}");
    assert!(matches!(
        pat.client.send(ClientMessage::Ping).await,
        Err(Error::Closed)
    ));
    pat.client.shutdown().await; // idempotent

    let online = doc
        .events
        .message(|m| match m {
            ServerMessage::Presence { user_id, online } if *user_id == patient.id => Some(*online),
            _ => None,
        })
        .await;
    assert!(!online, "the server saw the patient go");
    doc.client.shutdown().await;
}

#[tokio::test]
async fn logout_elsewhere_signs_the_client_out() {
    let server = TestServer::start().await;
    let patient = server.patient("Pat").await;
    let mut pat = server.online(&patient).await;
    pat.auth.logout().await.unwrap();
    let rest = pat.events.until_end().await;
    assert_eq!(
        rest,
        [SignalingEvent::SignedOut, SignalingEvent::Closed],
        "close 4001 stops the client"
    );
    assert!(matches!(
        pat.client.request(ClientMessage::Ping).await,
        Err(Error::Closed)
    ));
    assert!(matches!(
        pat.auth.access_token().await,
        Err(RestError::NotSignedIn)
    ));
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_when_connecting() {
    let server = TestServer::start_with(|c| {
        c.auth.access_token_ttl = Duration::from_secs(1);
    })
    .await;
    let patient = server.patient("Pat").await;
    let store = Arc::new(MemoryTokenStore::new());
    let auth = Arc::new(AuthSession::new(server.rest.clone(), store.clone()));
    auth.login(&patient.email, PASSWORD).await.unwrap();
    let first_refresh = store.load().unwrap().expect("stored at login");
    let stale = auth.access_token().await.unwrap();
    server.until_expired(&stale).await;

    let (client, events) = SignalingClient::start(server.client_config(), auth.clone()).unwrap();
    let mut events = Events(events);
    let (_, resumed) = events.connected().await;
    assert!(!resumed);
    let rotated = store.load().unwrap().expect("still signed in");
    assert_ne!(rotated, first_refresh, "the newest refresh token is kept");
    assert_ne!(auth.access_token().await.unwrap(), stale);
    client.shutdown().await;
}

#[tokio::test]
async fn rest_errors_carry_the_stable_code() {
    let server = TestServer::start().await;
    let patient = server.patient("Pat").await;
    let again = server
        .rest
        .register(&clinicall_protocol::rest::NewUser {
            email: patient.email.clone(),
            password: PASSWORD.into(),
            display_name: "Pat again".into(),
            role: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(
        again,
        RestError::Api { status: 409, code: ErrorCode::EmailTaken, field: Some(ref f), .. } if f == "email"
    ));
    let wrong = server
        .rest
        .login(&patient.email, "not-the-password")
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Some(ErrorCode::InvalidCredentials));

    let store = Arc::new(MemoryTokenStore::new());
    let auth = AuthSession::new(server.rest.clone(), store.clone());
    auth.login(&patient.email, PASSWORD).await.unwrap();
    assert_eq!(auth.me().await.unwrap().id, patient.id);
    // Refresh rotates, and only one refresh runs even if asked twice at once.
    let old = store.load().unwrap().unwrap();
    let access = auth.access_token().await.unwrap();
    let (a, b) = tokio::join!(auth.refresh(Some(&access)), auth.refresh(Some(&access)));
    assert_eq!(a.unwrap(), b.unwrap());
    let new = store.load().unwrap().unwrap();
    assert_ne!(old, new);
    // Had the old token been presented twice, the server would have signed
    // the login out; it still works.
    assert_eq!(auth.me().await.unwrap().id, patient.id);
    auth.logout().await.unwrap();
    assert_eq!(store.load().unwrap(), None);
    let spent = server.rest.refresh(&new).await.unwrap_err();
    assert_eq!(spent.code(), Some(ErrorCode::InvalidRefreshToken));
}
