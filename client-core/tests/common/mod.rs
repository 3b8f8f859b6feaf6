//! Test harness: a real signaling server in-process on a loopback port with
//! a real SQLite file, and real signaling clients talking to it.
#![allow(dead_code)]

use clinicall_client_core::signaling::{
    AuthSession, ClientConfig, MemoryTokenStore, RestClient, SignalingClient, SignalingEvent,
};
use clinicall_protocol::rest::{Account, NewUser};
use clinicall_protocol::{Role, ServerMessage, SessionId, UserId};
use clinicall_signaling_server::{Config, RunningServer, start};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

// Not every test binary uses every constant.
#[allow(unused_imports)]
pub use clinicall_signaling_server::testing::{ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD, SECRET};
/// Upper bound for anything that should happen "at once".
pub const PROMPT: Duration = Duration::from_secs(5);

pub struct TestServer {
    pub server: Option<RunningServer>,
    pub addr: SocketAddr,
    pub config: Config,
    pub rest: RestClient,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Temp database, any free port, cheap hashing, short resume grace.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = clinicall_signaling_server::testing::test_config(dir.path());
        config.presence.resume_grace = Duration::from_secs(5);
        adjust(&mut config);
        let server = start(config.clone()).await.expect("server starts");
        let addr = server.addr();
        let rest = RestClient::new(&format!("http://{addr}"), false).unwrap();
        Self {
            server: Some(server),
            addr,
            config,
            rest,
            _dir: dir,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful shutdown of the running server process.
    pub async fn stop(&mut self) {
        self.server.take().expect("running").shutdown().await;
    }

    /// A new server process on the same address and database.
    pub async fn start_again(&mut self) {
        let mut config = self.config.clone();
        config.server.listen = self.addr;
        self.server = Some(start(config).await.expect("server restarts"));
    }

    pub async fn admin_token(&self) -> String {
        self.rest
            .login(ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .unwrap()
            .access_token
    }

    /// A doctor created by the admin.
    pub async fn doctor(&self, name: &str) -> Account {
        let email = unique_email(name);
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v1/admin/users", self.base_url()))
            .bearer_auth(self.admin_token().await)
            .json(&NewUser {
                email,
                password: PASSWORD.into(),
                display_name: name.into(),
                role: Some(Role::Doctor),
            })
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        resp.json().await.unwrap()
    }

    /// A patient who signed up through the client's REST API.
    pub async fn patient(&self, name: &str) -> Account {
        self.rest
            .register(&NewUser {
                email: unique_email(name),
                password: PASSWORD.into(),
                display_name: name.into(),
                role: None,
            })
            .await
            .expect("patient registers")
    }

    pub async fn relate(&self, doctor: UserId, patient: UserId) {
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v1/admin/care-relations", self.base_url()))
            .bearer_auth(self.admin_token().await)
            .json(&serde_json::json!({"doctor_id": doctor, "patient_id": patient}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
    }

    /// A related doctor and patient.
    pub async fn pair(&self) -> (Account, Account) {
        let doctor = self.doctor("Dr. Ada").await;
        let patient = self.patient("Pat").await;
        self.relate(doctor.id, patient.id).await;
        (doctor, patient)
    }

    /// Logs `account` in with a fresh in-memory token store.
    pub async fn sign_in(&self, account: &Account) -> Arc<AuthSession> {
        let auth = AuthSession::new(self.rest.clone(), Arc::new(MemoryTokenStore::new()));
        auth.login(&account.email, PASSWORD).await.expect("login");
        Arc::new(auth)
    }

    /// Waits (bounded) until the server refuses `token` as expired; for
    /// servers started with a short `access_token_ttl`.
    pub async fn until_expired(&self, token: &str) {
        let deadline = tokio::time::Instant::now() + PROMPT;
        loop {
            match self.rest.me(token).await {
                Err(e) if e.code() == Some(clinicall_protocol::ErrorCode::TokenExpired) => break,
                Ok(_) => {}
                Err(e) => panic!("unexpected {e}"),
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "token never expired"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Test timers: fast retries, quick dead-server detection.
    pub fn client_config(&self) -> ClientConfig {
        fast_config(&self.base_url())
    }

    /// Signs in and connects; returns once `Connected` and the snapshot
    /// arrived.
    pub async fn online(&self, account: &Account) -> Online {
        let auth = self.sign_in(account).await;
        let (client, events) = SignalingClient::start(self.client_config(), auth.clone()).unwrap();
        let mut events = Events(events);
        let (session, resumed) = events.connected().await;
        assert!(!resumed);
        let contacts = events
            .until(|e| match e {
                SignalingEvent::PresenceSnapshot(c) => Some(c.clone()),
                _ => None,
            })
            .await;
        Online {
            client,
            events,
            auth,
            session,
            contacts,
        }
    }
}

pub fn fast_config(base: &str) -> ClientConfig {
    let mut config = ClientConfig::new(base);
    config.backoff_base = Duration::from_millis(100);
    config.backoff_cap = Duration::from_millis(500);
    config.ping_interval = Duration::from_millis(200);
    config.dead_after = Duration::from_secs(1);
    config.connect_timeout = Duration::from_secs(2);
    config.request_timeout = PROMPT;
    config
}

pub fn unique_email(name: &str) -> String {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    format!(
        "{}-{tag}@test.clinicall",
        name.to_lowercase().replace([' ', '.'], "-")
    )
}

pub struct Online {
    pub client: SignalingClient,
    pub events: Events,
    pub auth: Arc<AuthSession>,
    pub session: SessionId,
    pub contacts: Vec<clinicall_protocol::Contact>,
}

/// The event stream, with bounded waits.
pub struct Events(pub mpsc::Receiver<SignalingEvent>);

impl Events {
    /// The next event within `within`; panics on timeout or end of stream.
    pub async fn next_within(&mut self, within: Duration) -> SignalingEvent {
        tokio::time::timeout(within, self.0.recv())
            .await
            .expect("event in time")
            .expect("event stream open")
    }

    pub async fn next(&mut self) -> SignalingEvent {
        self.next_within(PROMPT).await
    }

    /// Skips events until `pick` matches, within `within` in total.
    pub async fn until_within<T>(
        &mut self,
        within: Duration,
        mut pick: impl FnMut(&SignalingEvent) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let event = tokio::time::timeout_at(deadline, self.0.recv())
                .await
                .expect("expected event in time")
                .expect("event stream open");
            if let Some(found) = pick(&event) {
                return found;
            }
        }
    }

    pub async fn until<T>(&mut self, pick: impl FnMut(&SignalingEvent) -> Option<T>) -> T {
        self.until_within(PROMPT, pick).await
    }

    /// Waits for a server message matching `pick`.
    pub async fn message<T>(&mut self, mut pick: impl FnMut(&ServerMessage) -> Option<T>) -> T {
        self.until(|e| match e {
            SignalingEvent::Message(env) => pick(&env.msg),
            _ => None,
        })
        .await
    }

    pub async fn connected(&mut self) -> (SessionId, bool) {
        self.until(|e| match e {
            SignalingEvent::Connected {
                session_id,
                resumed,
                ..
            } => Some((*session_id, *resumed)),
            _ => None,
        })
        .await
    }

    /// Reads until the stream ends; returns the events seen on the way.
    pub async fn until_end(&mut self) -> Vec<SignalingEvent> {
        let mut seen = Vec::new();
        tokio::time::timeout(PROMPT, async {
            while let Some(event) = self.0.recv().await {
                seen.push(event);
            }
        })
        .await
        .expect("event stream ends in time");
        seen
    }
}
