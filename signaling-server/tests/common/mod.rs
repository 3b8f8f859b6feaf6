//! Test harness: a real server on a loopback port with a real SQLite file,
//! real HTTP requests and real WebSocket clients.
#![allow(dead_code)]

use clinicall_protocol::rest::{Account, ErrorBody, LoginRequest, NewUser, TokenPair};
use clinicall_protocol::{
    CallId, ClientEnvelope, ClientMessage, ErrorCode, PROTOCOL_VERSION, Resume, Role,
    ServerEnvelope, ServerMessage, SessionId, UserId,
};
use clinicall_signaling_server::{Config, RunningServer, start};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

// Not every test binary uses every constant.
#[allow(unused_imports)]
pub use clinicall_signaling_server::testing::{ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD, SECRET};
/// Generous upper bound for anything the server should do "at once".
pub const PROMPT: Duration = Duration::from_secs(5);

pub struct TestServer {
    pub server: Option<RunningServer>,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub config: Config,
    _dir: tempfile::TempDir,
}

/// The shared test config, with a short resume grace for these tests.
pub fn test_config(dir: &std::path::Path) -> Config {
    let mut config = clinicall_signaling_server::testing::test_config(dir);
    config.presence.resume_grace = Duration::from_millis(600);
    config
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        adjust(&mut config);
        let server = start(config.clone()).await.expect("server starts");
        let addr = server.addr();
        Self {
            server: Some(server),
            addr,
            http: reqwest::Client::new(),
            config,
            _dir: dir,
        }
    }

    /// Stops the server and starts a new one on the same port and database.
    pub async fn restart(&mut self) {
        self.server.take().unwrap().shutdown().await;
        let mut config = self.config.clone();
        config.server.listen = self.addr;
        self.server = Some(start(config).await.expect("server restarts"));
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn post<B: Serialize>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &B,
    ) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.unwrap()
    }

    pub async fn put<B: Serialize>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &B,
    ) -> reqwest::Response {
        let mut req = self.http.put(self.url(path)).json(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> TokenPair {
        let resp = self
            .post(
                "/api/v1/auth/login",
                None,
                &LoginRequest {
                    email: email.into(),
                    password: password.into(),
                },
            )
            .await;
        assert_eq!(resp.status(), 200, "login of {email}");
        resp.json().await.unwrap()
    }

    pub async fn admin_token(&self) -> String {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.access_token
    }

    /// Creates an account through the admin API and logs it in.
    pub async fn user(&self, role: Role, name: &str) -> TestUser {
        let admin = self.admin_token().await;
        let email = format!(
            "{}-{}@test.clinicall",
            name.to_lowercase().replace(' ', "-"),
            uuid_short()
        );
        let resp = self
            .post(
                "/api/v1/admin/users",
                Some(&admin),
                &NewUser {
                    email: email.clone(),
                    password: PASSWORD.into(),
                    display_name: name.into(),
                    role: Some(role),
                },
            )
            .await;
        assert_eq!(resp.status(), 201);
        let account: Account = resp.json().await.unwrap();
        let tokens = self.login(&email, PASSWORD).await;
        TestUser {
            account,
            token: tokens.access_token,
            refresh: tokens.refresh_token,
        }
    }

    /// Makes `doctor` the doctor of `patient`.
    pub async fn relate(&self, doctor: &TestUser, patient: &TestUser) {
        let admin = self.admin_token().await;
        let resp = self
            .post(
                "/api/v1/admin/care-relations",
                Some(&admin),
                &serde_json::json!({"doctor_id": doctor.id(), "patient_id": patient.id()}),
            )
            .await;
        assert_eq!(resp.status(), 204);
    }

    /// A doctor and a patient who know each other.
    pub async fn pair(&self) -> (TestUser, TestUser) {
        let doctor = self.user(Role::Doctor, "Doctor").await;
        let patient = self.user(Role::Patient, "Patient").await;
        self.relate(&doctor, &patient).await;
        (doctor, patient)
    }

    pub async fn connect(&self, user: &TestUser) -> Client {
        Client::connect(self.addr, &user.token, None).await
    }
}

pub fn uuid_short() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

pub async fn error_code(resp: reqwest::Response) -> ErrorCode {
    let body: ErrorBody = resp.json().await.expect("JSON error body");
    body.error.code
}

pub struct TestUser {
    pub account: Account,
    pub token: String,
    pub refresh: String,
}

impl TestUser {
    pub fn id(&self) -> UserId {
        self.account.id
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A raw WebSocket client that speaks the protocol.
pub struct Client {
    pub ws: Ws,
    pub session: SessionId,
    pub last_seq: u64,
    pub welcome: ServerMessage,
    /// The presence snapshot that follows a new session's welcome.
    pub contacts: Vec<clinicall_protocol::Contact>,
}

pub async fn open_ws(addr: SocketAddr, header_token: Option<&str>) -> Ws {
    let mut request = format!("ws://{addr}/api/v1/ws")
        .into_client_request()
        .unwrap();
    if let Some(token) = header_token {
        request
            .headers_mut()
            .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    }
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("ws connects");
    ws
}

pub fn hello(resume: Option<Resume>) -> ClientMessage {
    ClientMessage::Hello {
        min_version: PROTOCOL_VERSION,
        max_version: PROTOCOL_VERSION,
        token: None,
        resume,
    }
}

/// The next server frame on a raw socket (skipping pings).
pub async fn next_frame(ws: &mut Ws) -> Option<ServerEnvelope> {
    loop {
        let msg = tokio::time::timeout(PROMPT, ws.next())
            .await
            .expect("server answers in time")?;
        match msg {
            Ok(Message::Text(text)) => {
                return Some(serde_json::from_str(text.as_str()).expect("server frame parses"));
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// Reads until the socket closes; returns whether it did within PROMPT.
pub async fn closed(ws: &mut Ws) -> bool {
    tokio::time::timeout(PROMPT, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await
    .is_ok()
}

impl Client {
    /// Connects, says hello and reads the welcome (and, for a new session,
    /// the presence snapshot).
    pub async fn connect(addr: SocketAddr, token: &str, resume: Option<Resume>) -> Self {
        let mut ws = open_ws(addr, Some(token)).await;
        let text = serde_json::to_string(&ClientEnvelope::new(hello(resume))).unwrap();
        ws.send(Message::Text(text.into())).await.unwrap();
        let welcome = next_frame(&mut ws).await.expect("welcome");
        let ServerMessage::Welcome { session_id, .. } = &welcome.msg else {
            panic!("expected welcome, got {:?}", welcome.msg);
        };
        let session = *session_id;
        let mut client = Self {
            ws,
            session,
            last_seq: 0,
            welcome: welcome.msg,
            contacts: Vec::new(),
        };
        if !client.resumed() {
            loop {
                match client.recv().await.msg {
                    ServerMessage::PresenceSnapshot { contacts, more } => {
                        client.contacts.extend(contacts);
                        if !more {
                            break;
                        }
                    }
                    other => panic!("expected presence snapshot, got {other:?}"),
                }
            }
        }
        client
    }

    pub fn resumed(&self) -> bool {
        matches!(self.welcome, ServerMessage::Welcome { resumed: true, .. })
    }

    pub async fn send(&mut self, msg: ClientMessage) {
        self.send_env(ClientEnvelope::new(msg)).await;
    }

    pub async fn send_env(&mut self, env: ClientEnvelope) {
        let text = serde_json::to_string(&env).unwrap();
        self.send_raw(&text).await;
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.to_owned().into()))
            .await
            .unwrap();
    }

    /// The next message, checking seq numbers increase by one.
    pub async fn recv(&mut self) -> ServerEnvelope {
        let env = next_frame(&mut self.ws).await.expect("connection open");
        if env.seq != 0 {
            assert_eq!(env.seq, self.last_seq + 1, "seq gap or reorder: {env:?}");
            self.last_seq = env.seq;
        }
        env
    }

    /// Sends `msg` with a fresh `req` and returns the reply carrying it
    /// (skipping whatever else arrives first).
    pub async fn request(&mut self, msg: ClientMessage) -> ServerMessage {
        let req = uuid_short();
        self.send_env(ClientEnvelope::with_req(req.clone(), msg))
            .await;
        loop {
            let env = self.recv().await;
            if env.req.as_deref() == Some(req.as_str()) {
                return env.msg;
            }
        }
    }

    /// Skips messages until one matches; panics if none within PROMPT.
    pub async fn recv_until<T>(&mut self, mut pick: impl FnMut(&ServerMessage) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + PROMPT;
        loop {
            let env = tokio::time::timeout_at(deadline, self.recv())
                .await
                .expect("expected message in time");
            if let Some(found) = pick(&env.msg) {
                return found;
            }
        }
    }

    /// Asserts nothing but pings arrives for `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        match tokio::time::timeout(wait, next_frame(&mut self.ws)).await {
            Err(_) => {}
            Ok(frame) => panic!("expected silence, got {frame:?}"),
        }
    }

    pub async fn expect_error(&mut self) -> (ErrorCode, Option<CallId>, Option<String>) {
        loop {
            let env = self.recv().await;
            if let ServerMessage::Error { code, call_id, .. } = env.msg {
                return (code, call_id, env.req);
            }
        }
    }

    pub async fn ping_pong(&mut self) {
        let req = uuid_short();
        self.send_env(ClientEnvelope::with_req(req.clone(), ClientMessage::Ping))
            .await;
        let env = self.recv().await;
        // Pongs are outside the replayable stream.
        assert_eq!(
            (env.seq, env.msg, env.req),
            (0, ServerMessage::Pong, Some(req))
        );
    }

    /// A ping round trip, skipping whatever was queued before it.
    pub async fn ping_pong_after_noise(&mut self) {
        let req = format!("last-{}", uuid_short());
        self.send_env(ClientEnvelope::with_req(req.clone(), ClientMessage::Ping))
            .await;
        let deadline = tokio::time::Instant::now() + PROMPT * 4;
        loop {
            let env = tokio::time::timeout_at(deadline, self.recv())
                .await
                .expect("pong in time");
            if env.req.as_deref() == Some(req.as_str()) {
                assert_eq!(env.msg, ServerMessage::Pong);
                return;
            }
        }
    }

    pub async fn invite(&mut self, callee: UserId) -> ServerMessage {
        self.send(ClientMessage::Invite {
            callee,
            appointment_id: None,
        })
        .await;
        self.recv_until(|m| match m {
            ServerMessage::CallRinging { .. }
            | ServerMessage::CallEnded { .. }
            | ServerMessage::Error { .. } => Some(m.clone()),
            _ => None,
        })
        .await
    }

    pub async fn incoming(&mut self) -> CallId {
        self.recv_until(|m| match m {
            ServerMessage::CallIncoming { call_id, .. } => Some(*call_id),
            _ => None,
        })
        .await
    }

    pub async fn ended(&mut self) -> (CallId, clinicall_protocol::EndReason, Option<UserId>) {
        self.recv_until(|m| match m {
            ServerMessage::CallEnded {
                call_id,
                reason,
                by,
            } => Some((*call_id, *reason, *by)),
            _ => None,
        })
        .await
    }

    pub async fn accepted(&mut self) -> CallId {
        self.recv_until(|m| match m {
            ServerMessage::CallAccepted { call_id } => Some(*call_id),
            _ => None,
        })
        .await
    }

    /// Drops the TCP connection without a close handshake, as a network
    /// failure would.
    pub fn drop_abruptly(self) -> (SessionId, u64) {
        let (session, seq) = (self.session, self.last_seq);
        drop(self.ws);
        (session, seq)
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// Caller invites callee; it rings on the callee's device.
pub async fn ringing_call(caller: &mut Client, callee: &mut Client, callee_id: UserId) -> CallId {
    let ServerMessage::CallRinging { call_id, .. } = caller.invite(callee_id).await else {
        panic!("call did not ring");
    };
    assert_eq!(callee.incoming().await, call_id);
    call_id
}

/// Caller invites callee, callee accepts: an active call.
pub async fn active_call(caller: &mut Client, callee: &mut Client, callee_id: UserId) -> CallId {
    let call_id = ringing_call(caller, callee, callee_id).await;
    callee.send(ClientMessage::Accept { call_id }).await;
    assert_eq!(callee.accepted().await, call_id);
    assert_eq!(caller.accepted().await, call_id);
    call_id
}
