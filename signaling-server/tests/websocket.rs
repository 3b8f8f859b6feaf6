//! The WebSocket handshake and hostile input: authentication, version
//! negotiation, malformed and oversized frames, rate limits. Every error is
//! a reply, and after a reply the connection keeps working.

mod common;

use clinicall_protocol::{
    ClientEnvelope, ClientMessage, ErrorCode, MAX_MESSAGE_BYTES, Role, ServerMessage,
};
use clinicall_signaling_server::auth::TokenKeys;
use common::*;
use futures_util::SinkExt;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

async fn first_error(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> ErrorCode {
    match next_frame(ws).await.expect("an error frame").msg {
        ServerMessage::Error { code, .. } => code,
        other => panic!("expected error, got {other:?}"),
    }
}

async fn send_text(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    msg: &ClientMessage,
) {
    let text = serde_json::to_string(&ClientEnvelope::new(msg.clone())).unwrap();
    ws.send(Message::Text(text.into())).await.unwrap();
}

#[tokio::test]
async fn hello_without_credentials_is_refused_and_closed() {
    let server = TestServer::start().await;
    let mut ws = open_ws(server.addr, None).await;
    send_text(&mut ws, &hello(None)).await;
    assert_eq!(first_error(&mut ws).await, ErrorCode::Unauthenticated);
    assert!(closed(&mut ws).await);
}

#[tokio::test]
async fn token_in_hello_works_like_the_header() {
    let server = TestServer::start().await;
    let user = server.user(Role::Patient, "Pat").await;
    let mut ws = open_ws(server.addr, None).await;
    let msg = ClientMessage::Hello {
        min_version: 1,
        max_version: 1,
        token: Some(user.token.clone()),
        resume: None,
    };
    send_text(&mut ws, &msg).await;
    match next_frame(&mut ws).await.unwrap().msg {
        ServerMessage::Welcome {
            user: me,
            resumed,
            heartbeat_interval_ms,
            resume_grace_ms,
            ..
        } => {
            assert_eq!(me.id, user.id());
            assert!(!resumed);
            assert_eq!(heartbeat_interval_ms, 20_000);
            assert_eq!(resume_grace_ms, 600);
        }
        other => panic!("expected welcome, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_expired_and_revoked_tokens_are_refused() {
    let server = TestServer::start().await;
    let user = server.user(Role::Patient, "Pat").await;

    // A bad header token is refused before the upgrade.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{}/api/v1/ws",
            server.addr
        ))
        .unwrap();
    request
        .headers_mut()
        .insert("Authorization", "Bearer garbage".parse().unwrap());
    let err = tokio_tungstenite::connect_async(request).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");

    // An expired token in hello.
    let keys = TokenKeys::new(SECRET.as_bytes(), Duration::from_secs(60));
    let sid = keys.verify(&user.token).unwrap().sid;
    let expired = keys.issue(user.id(), sid, Role::Patient, 1_000_000);
    let mut ws = open_ws(server.addr, None).await;
    send_text(
        &mut ws,
        &ClientMessage::Hello {
            min_version: 1,
            max_version: 1,
            token: Some(expired),
            resume: None,
        },
    )
    .await;
    assert_eq!(first_error(&mut ws).await, ErrorCode::TokenExpired);
    assert!(closed(&mut ws).await);

    // A token whose login was signed out.
    let resp = server
        .post(
            "/api/v1/auth/logout",
            None,
            &serde_json::json!({"refresh_token": user.refresh}),
        )
        .await;
    assert_eq!(resp.status(), 204);
    let mut ws = open_ws(server.addr, None).await;
    send_text(
        &mut ws,
        &ClientMessage::Hello {
            min_version: 1,
            max_version: 1,
            token: Some(user.token.clone()),
            resume: None,
        },
    )
    .await;
    assert_eq!(first_error(&mut ws).await, ErrorCode::SessionRevoked);
}

#[tokio::test]
async fn first_message_must_be_hello_in_a_common_version() {
    let server = TestServer::start().await;
    let user = server.user(Role::Patient, "Pat").await;

    let mut ws = open_ws(server.addr, Some(&user.token)).await;
    send_text(&mut ws, &ClientMessage::Ping).await;
    assert_eq!(first_error(&mut ws).await, ErrorCode::HelloRequired);
    assert!(closed(&mut ws).await);

    let mut ws = open_ws(server.addr, Some(&user.token)).await;
    send_text(
        &mut ws,
        &ClientMessage::Hello {
            min_version: 7,
            max_version: 9,
            token: None,
            resume: None,
        },
    )
    .await;
    assert_eq!(first_error(&mut ws).await, ErrorCode::UnsupportedVersion);
    assert!(closed(&mut ws).await);

    let mut ws = open_ws(server.addr, Some(&user.token)).await;
    ws.send(Message::Text("{{{".into())).await.unwrap();
    assert_eq!(first_error(&mut ws).await, ErrorCode::BadJson);
    assert!(closed(&mut ws).await);
}

#[tokio::test]
async fn silence_after_connecting_times_out() {
    let server =
        TestServer::start_with(|c| c.limits.hello_timeout = Duration::from_millis(300)).await;
    let mut ws = open_ws(server.addr, None).await;
    assert_eq!(first_error(&mut ws).await, ErrorCode::HelloRequired);
    assert!(closed(&mut ws).await);
}

#[tokio::test]
async fn malformed_messages_get_errors_and_the_connection_lives_on() {
    let server = TestServer::start().await;
    let user = server.user(Role::Patient, "Pat").await;
    let mut client = server.connect(&user).await;

    let cases: Vec<(String, ErrorCode)> = vec![
        ("not json at all".into(), ErrorCode::BadJson),
        (
            r#"{"type":"teleport","req":"r1"}"#.into(),
            ErrorCode::InvalidMessage,
        ),
        (
            r#"{"type":"accept","call_id":"nope"}"#.into(),
            ErrorCode::InvalidMessage,
        ),
        (r#"{"type":"invite"}"#.into(), ErrorCode::InvalidMessage),
        (
            r#"{"type":"hello","min_version":1,"max_version":1}"#.into(),
            ErrorCode::AlreadyGreeted,
        ),
        (
            format!(
                r#"{{"type":"signal","call_id":"{}","signal":{{"kind":"candidate","candidate":"{}"}}}}"#,
                uuid::Uuid::new_v4(),
                "c".repeat(2000)
            ),
            ErrorCode::InvalidField,
        ),
        (
            format!(
                r#"{{"type":"ping","pad":"{}"}}"#,
                "x".repeat(MAX_MESSAGE_BYTES + 1)
            ),
            ErrorCode::MessageTooLarge,
        ),
    ];
    for (text, expected) in cases {
        client.send_raw(&text).await;
        let (code, _, _) = client.expect_error().await;
        assert_eq!(code, expected, "for {}", &text[..text.len().min(60)]);
        client.ping_pong().await;
    }
    // The req of a bad message is echoed, so the client knows which failed.
    client.send_raw(r#"{"type":"teleport","req":"abc"}"#).await;
    let (_, _, req) = client.expect_error().await;
    assert_eq!(req.as_deref(), Some("abc"));

    client
        .ws
        .send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(client.expect_error().await.0, ErrorCode::BadJson);
    client.ping_pong().await;
}

#[tokio::test]
async fn frames_beyond_the_hard_limit_close_only_that_connection() {
    let server = TestServer::start().await;
    let user = server.user(Role::Patient, "Pat").await;
    let mut victim = server.connect(&user).await;
    let mut bystander = server.connect(&user).await;
    let _ = victim
        .ws
        .send(Message::Text("x".repeat(2 * 1024 * 1024).into()))
        .await;
    assert!(closed(&mut victim.ws).await);
    bystander.ping_pong().await;
    assert_eq!(server.get("/healthz", None).await.status(), 200);
}

#[tokio::test]
async fn flooding_is_rate_limited_without_disconnecting() {
    let server = TestServer::start_with(|c| {
        c.limits.messages_per_second = 5;
        c.limits.message_burst = 10;
    })
    .await;
    let user = server.user(Role::Patient, "Pat").await;
    let mut client = server.connect(&user).await;
    let text = serde_json::to_string(&ClientEnvelope::new(ClientMessage::Ping)).unwrap();
    for _ in 0..40 {
        client.send_raw(&text).await;
    }
    let (mut pongs, mut limited) = (0, 0);
    for _ in 0..40 {
        match client.recv().await.msg {
            ServerMessage::Pong => pongs += 1,
            ServerMessage::Error {
                code: ErrorCode::RateLimited,
                ..
            } => limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        (10..=15).contains(&pongs),
        "burst of 10 (+ a little refill under load) expected, got {pongs}"
    );
    assert_eq!(pongs + limited, 40);
    // After a pause the budget is back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    client.ping_pong().await;
}

#[tokio::test]
async fn logout_closes_that_logins_connections() {
    let server = TestServer::start().await;
    let user = server.user(Role::Patient, "Pat").await;
    let mut client = server.connect(&user).await;
    let resp = server
        .post(
            "/api/v1/auth/logout",
            None,
            &serde_json::json!({"refresh_token": user.refresh}),
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert!(closed(&mut client.ws).await);
}

#[tokio::test]
async fn shutdown_tells_clients_to_reconnect() {
    let mut server = TestServer::start().await;
    let user = server.user(Role::Patient, "Pat").await;
    let mut client = server.connect(&user).await;
    let running = server.server.take().unwrap();
    let stopping = tokio::spawn(running.shutdown());
    let after_ms = client
        .recv_until(|m| match m {
            ServerMessage::Reconnect { after_ms } => Some(*after_ms),
            _ => None,
        })
        .await;
    assert!(after_ms < 5_000);
    assert!(closed(&mut client.ws).await);
    stopping.await.unwrap();
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_closes_that_logins_connections() {
    let server = TestServer::start().await;
    let user = server.user(Role::Patient, "Pat").await;
    let mut client = server.connect(&user).await;
    let body = serde_json::json!({"refresh_token": user.refresh});
    assert_eq!(
        server
            .post("/api/v1/auth/refresh", None, &body)
            .await
            .status(),
        200
    );
    // A thief replays the old token: the login dies, sockets included.
    assert_eq!(
        server
            .post("/api/v1/auth/refresh", None, &body)
            .await
            .status(),
        401
    );
    assert!(closed(&mut client.ws).await);
}

#[tokio::test]
async fn a_client_joining_during_shutdown_is_sent_away_too() {
    let server = TestServer::start().await;
    let user = server.user(Role::Patient, "Pat").await;
    let running = server.server.as_ref().unwrap();
    running
        .state()
        .signaling
        .run(|hub, now| hub.shutdown(now, || 0));
    let mut client = Client::connect(server.addr, &user.token, None).await;
    let after_ms = client
        .recv_until(|m| match m {
            ServerMessage::Reconnect { after_ms } => Some(*after_ms),
            _ => None,
        })
        .await;
    assert!(after_ms < 5_000);
    assert!(closed(&mut client.ws).await);
}

/// Seeded mutations of valid messages: truncations, byte flips, type
/// confusion, deep nesting, odd unicode. Each frame gets an answer, the
/// connection survives them all, and so does the server.
#[tokio::test]
async fn hundreds_of_mutated_frames_never_break_the_connection() {
    use rand::{Rng, SeedableRng};
    let server = TestServer::start_with(|c| {
        c.limits.messages_per_second = 10_000;
        c.limits.message_burst = 10_000;
    })
    .await;
    let (doctor, patient) = server.pair().await;
    let mut doc = server.connect(&doctor).await;
    let mut pat = server.connect(&patient).await;
    let call_id = active_call(&mut doc, &mut pat, patient.id()).await;

    let seeds: Vec<String> = [
        ClientMessage::Ping,
        ClientMessage::Invite {
            callee: patient.id(),
            appointment_id: Some("appt-1".into()),
        },
        ClientMessage::Accept { call_id },
        ClientMessage::Signal {
            call_id,
            signal: clinicall_protocol::Signal::Candidate {
                candidate: "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host".into(),
                sdp_mid: Some("0".into()),
                sdp_mline_index: Some(0),
                username_fragment: None,
            },
        },
    ]
    .iter()
    .map(|m| serde_json::to_string(&ClientEnvelope::with_req("fz", m.clone())).unwrap())
    .collect();

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0xC11_1CA11);
    let mut frames = Vec::new();
    for i in 0..400 {
        let mut bytes = seeds[i % seeds.len()].clone().into_bytes();
        match rng.random_range(0..6) {
            0 => bytes.truncate(rng.random_range(0..bytes.len())),
            1 => {
                for _ in 0..rng.random_range(1..6) {
                    let at = rng.random_range(0..bytes.len());
                    bytes[at] = rng.random_range(0x20..0x7f);
                }
            }
            2 => {
                let text = String::from_utf8(bytes.clone()).unwrap();
                let swapped = text
                    .replacen("\"fz\"", "12345678901234567890123456789", 1)
                    .replacen("\"0\"", "[[[[[[]]]]]]", 1)
                    .replacen("0,", "-1e999,", 1);
                bytes = swapped.into_bytes();
            }
            3 => bytes = format!("{}{}", "[".repeat(rng.random_range(100..5000)), "]").into_bytes(),
            4 => {
                bytes = "{\"type\":\"ping\",\"req\":\"\u{0}\u{202e}\u{1f600}\"}"
                    .as_bytes()
                    .to_vec()
            }
            _ => bytes.extend_from_slice(b",,,}}}"),
        }
        frames.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    for frame in &frames {
        pat.send_raw(frame).await;
    }
    // Every frame is answered (an error, a pong, or a relayed signal on the
    // doctor's side), then the connection still works.
    pat.ping_pong_after_noise().await;
    doc.ping_pong_after_noise().await;
    assert_eq!(server.get("/readyz", None).await.status(), 200);
}

#[tokio::test]
async fn a_user_has_a_bounded_number_of_sessions() {
    let server = TestServer::start_with(|c| {
        c.limits.max_sessions_per_user = 2;
        c.presence.resume_grace = Duration::from_secs(30);
    })
    .await;
    let user = server.user(Role::Patient, "Pat").await;
    let laptop = server.connect(&user).await;
    let mut phone = server.connect(&user).await;

    // Both connected: a third device is refused, and nothing else changes.
    let mut ws = open_ws(server.addr, Some(&user.token)).await;
    send_text(&mut ws, &hello(None)).await;
    assert_eq!(first_error(&mut ws).await, ErrorCode::TooManySessions);
    assert!(closed(&mut ws).await);
    phone.ping_pong().await;

    // A dropped session (still in its grace) makes room for a new device.
    let (dropped, last_seq) = laptop.drop_abruptly();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut tablet = server.connect(&user).await;
    tablet.ping_pong().await;
    // The evicted session is gone: resuming it starts a new one, which is
    // refused while the two others are connected.
    let mut ws = open_ws(server.addr, Some(&user.token)).await;
    send_text(
        &mut ws,
        &hello(Some(clinicall_protocol::Resume {
            session_id: dropped,
            last_seq,
        })),
    )
    .await;
    assert_eq!(first_error(&mut ws).await, ErrorCode::TooManySessions);
}
