//! What the end-to-end tests share: a real signaling server in this
//! process (stoppable and restartable on the same port and database), and
//! real `clinicall-headless` processes whose JSON lines are collected as
//! they come.

#![allow(dead_code)] // each test file uses a different part

pub mod pulse;

use clinicall_client_core::signaling::RestClient;
use clinicall_protocol::Role;
use clinicall_protocol::rest::{Account, NewUser};
use clinicall_signaling_server::testing::{ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD, test_config};
use clinicall_signaling_server::{Config, RunningServer, start};
use serde_json::Value;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

/// The headless client. Cargo names it for this package's tests; the
/// desktop app's tests (another package) find it beside their own
/// executable's folder, where `cargo test --workspace` built it.
pub fn headless_bin() -> std::path::PathBuf {
    if let Some(path) = option_env!("CARGO_BIN_EXE_clinicall-headless") {
        return path.into();
    }
    let exe = std::env::current_exe().expect("the test knows its path");
    // target/<profile>/deps/<test> → target/<profile>/clinicall-headless
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("clinicall-headless"))
        .expect("tests run from target/<profile>/deps");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p clinicall-headless`",
        bin.display()
    );
    bin
}

/// Calls are heavy (four media threads and a codec each way per client);
/// on a two-core machine two at once would starve each other and turn
/// timing into flakiness. Every test holds this while its clients run.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A signaling server on a loopback port with its database in a temporary
/// directory.
pub struct Server {
    running: Option<RunningServer>,
    config: Config,
    pub base: String,
    rest: RestClient,
    _dir: tempfile::TempDir,
}

impl Server {
    /// A server with the test configuration, changed by `adjust`.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        adjust(&mut config);
        let running = start(config.clone()).await.expect("server starts");
        // Restarts come back on the same port, as a real restart would.
        config.server.listen = running.addr();
        let base = format!("http://{}", running.addr());
        let rest = RestClient::new(&base, false).unwrap();
        Server {
            running: Some(running),
            config,
            base,
            rest,
            _dir: dir,
        }
    }

    pub async fn start() -> Server {
        Self::start_with(|_| {}).await
    }

    /// Shuts the server down the way SIGTERM does (clients are told to
    /// reconnect later; live calls are recorded as ended).
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }

    /// Starts it again on the same port and database.
    pub async fn restart(&mut self) {
        assert!(self.running.is_none(), "stop it first");
        self.running = Some(start(self.config.clone()).await.expect("server restarts"));
    }

    async fn admin_token(&self) -> String {
        self.rest
            .login(ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .unwrap()
            .access_token
    }

    /// A new doctor (created by the admin).
    pub async fn doctor(&self, name: &str) -> Account {
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v1/admin/users", self.base))
            .bearer_auth(self.admin_token().await)
            .json(&NewUser {
                email: format!("doc-{tag}@test.clinicall"),
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

    /// A new patient (self-registered) in the care of `doctors`.
    pub async fn patient_of(&self, doctors: &[&Account]) -> Account {
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let patient = self
            .rest
            .register(&NewUser {
                email: format!("pat-{tag}@test.clinicall"),
                password: PASSWORD.into(),
                display_name: format!("Pat {tag}"),
                role: None,
            })
            .await
            .unwrap();
        let admin = self.admin_token().await;
        for doctor in doctors {
            let resp = reqwest::Client::new()
                .post(format!("{}/api/v1/admin/care-relations", self.base))
                .bearer_auth(&admin)
                .json(&serde_json::json!({"doctor_id": doctor.id, "patient_id": patient.id}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 204);
        }
        patient
    }

    /// A doctor and a patient in their care.
    pub async fn pair(&self) -> (Account, Account) {
        let doctor = self.doctor("Dr. Ada").await;
        let patient = self.patient_of(&[&doctor]).await;
        (doctor, patient)
    }

    /// The value of a Prometheus counter (summed over its labels).
    pub async fn metric(&self, name: &str) -> f64 {
        let text = reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .filter(|line| line.starts_with(name))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Starts `clinicall-headless` signed in as `account`, media on
    /// loopback, with `args` (mode and options).
    pub fn spawn(&self, account: &Account, args: &[&str]) -> Client {
        Client::spawn(&self.base, account, args, &[])
    }

    /// The same, with extra environment variables (such as
    /// [`pulse::Pulse::env`] for a sound server).
    pub fn spawn_with_env(
        &self,
        account: &Account,
        args: &[&str],
        env: &[(String, String)],
    ) -> Client {
        Client::spawn(&self.base, account, args, env)
    }
}

/// A running `clinicall-headless` and the JSON lines it printed so far.
pub struct Client {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
    news: Arc<Notify>,
    reader: tokio::task::JoinHandle<()>,
}

impl Client {
    fn spawn(base: &str, account: &Account, args: &[&str], env: &[(String, String)]) -> Client {
        let mut child = Command::new(headless_bin())
            .args(["--server", base, "--email", &account.email])
            .args(["--bind", "127.0.0.1", "--timeout", "90"])
            .args(args)
            .env("CLINICALL_PASSWORD", PASSWORD)
            // The WebRTC stack warns about routine races (a check before
            // its candidate); a failing test prints the JSON lines anyway.
            .env("RUST_LOG", "warn,rtc=error,rtc_ice=error,rtc_dtls=error")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let news = Arc::new(Notify::new());
        let reader = tokio::spawn({
            let (lines, news) = (lines.clone(), news.clone());
            async move {
                let mut stdout = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = stdout.next_line().await {
                    let value: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
                    lines.lock().unwrap().push(value);
                    news.notify_waiters();
                }
                news.notify_waiters();
            }
        });
        Client {
            child,
            lines,
            news,
            reader,
        }
    }

    /// The process id (to send it signals).
    pub fn pid(&self) -> u32 {
        self.child.id().expect("still running")
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<Value> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits (up to `limit`) for a line matching `pick` and returns it.
    pub async fn wait_for(&self, limit: Duration, pick: impl Fn(&Value) -> bool) -> Value {
        let found = tokio::time::timeout(limit, async {
            loop {
                let notified = self.news.notified();
                if let Some(line) = self.lines.lock().unwrap().iter().find(|l| pick(l)) {
                    return line.clone();
                }
                if self.reader.is_finished() {
                    panic!("stdout ended first: {:#?}", self.lines());
                }
                notified.await;
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("no such line in time; seen {:#?}", self.lines()))
    }

    /// Waits for the client to be signed in and connected to signaling.
    pub async fn signed_in(&self) {
        self.wait_for(Duration::from_secs(30), |l| {
            l["event"] == "signaling" && l["state"] == "connected"
        })
        .await;
    }

    /// Waits for the call to be connected (media flowing).
    pub async fn connected(&self) {
        self.wait_for(Duration::from_secs(30), |l| {
            l["event"] == "call" && l["state"] == "connected"
        })
        .await;
    }

    /// Waits for the process to end; its exit code and every line.
    pub async fn finish(mut self, limit: Duration) -> (i32, Vec<Value>) {
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("did not exit in time; seen {:#?}", self.lines()))
            .unwrap();
        let _ = (&mut self.reader).await;
        (status.code().expect("exited, not killed"), self.lines())
    }
}

/// Lines with this `event`.
pub fn events<'a>(lines: &'a [Value], event: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event"] == event).collect()
}

/// The one `ended` line.
pub fn ended(lines: &[Value]) -> &Value {
    let ended = events(lines, "ended");
    assert_eq!(ended.len(), 1, "{lines:#?}");
    ended[0]
}

/// The `media_summary` of the (only) call.
pub fn summary(lines: &[Value]) -> &Value {
    let summaries = events(lines, "media_summary");
    assert_eq!(summaries.len(), 1, "{lines:#?}");
    summaries[0]
}

/// Asserts a call's `media_summary` shows at least `seconds` of video at
/// `width`x`height` whose stamped frame counters only went up, and audio
/// whose dominant frequency was `tone_hz` (within 5 Hz) nearly throughout.
pub fn assert_received(summary: &Value, width: u64, height: u64, seconds: u64, tone_hz: f64) {
    let context = format!("{summary:#}");
    assert_eq!(summary["width"], width, "{context}");
    assert_eq!(summary["height"], height, "{context}");
    let frames = 30 * seconds;
    assert!(
        summary["stamped_frames"].as_u64().unwrap() >= frames,
        "{context}"
    );
    assert_eq!(summary["counter_regressions"], 0, "{context}");
    let advanced =
        summary["last_counter"].as_u64().unwrap() - summary["first_counter"].as_u64().unwrap();
    assert!(advanced >= frames, "{context}");

    let heard: Vec<f64> = summary["audio_frequencies_hz"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_f64().unwrap_or(0.0))
        .collect();
    let on_tone = heard.iter().filter(|f| (*f - tone_hz).abs() < 5.0).count();
    assert!(on_tone as u64 >= seconds, "{context}");
    // The first and last second may be cut short; the rest is the tone.
    assert!(on_tone + 2 >= heard.len(), "{context}");
}

/// The `received.last_counter` of every `stats` line, in order.
pub fn received_counters(lines: &[Value]) -> Vec<u64> {
    events(lines, "stats")
        .iter()
        .filter_map(|l| l["received"]["last_counter"].as_u64())
        .collect()
}

/// A real coturn (`turnserver`, Debian package `coturn`) on a free
/// loopback port: TURN with TURN REST API credentials (`use-auth-secret`,
/// the secret the signaling server signs with), and plain STUN. Its log
/// says what it relayed. Stopped when dropped.
pub struct Turn {
    child: Child,
    pub port: u16,
    pub secret: String,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Turn {
    /// Starts it and waits until it answers STUN. Fails (never skips) when
    /// coturn is not installed.
    pub async fn start() -> Turn {
        let dir = tempfile::tempdir().unwrap();
        let port = free_udp_and_tcp_port();
        let secret = format!("turn-{}", uuid::Uuid::new_v4().simple());
        let log = dir.path().join("turnserver.log");
        let path = |name: &str| dir.path().join(name).display().to_string();
        let child = Command::new("turnserver")
            // No /etc/turnserver.conf: everything is on this line.
            .arg("-n")
            .args(["--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1"])
            .args(["--listening-port", &port.to_string()])
            .args(["--use-auth-secret", "--static-auth-secret", &secret])
            .args(["--realm", "clinicall.test"])
            // Our peers are on loopback, which coturn refuses by default.
            .arg("--allow-loopback-peers")
            .args(["--no-tls", "--no-dtls", "--no-cli"])
            .args(["--log-file", &log.display().to_string(), "--simple-log"])
            .arg("--no-stdout-log")
            // Sessions (allocations, permissions, usage) are logged only
            // in verbose mode, STUN Binding requests only when asked; the
            // tests read them.
            .args(["--verbose", "--log-binding"])
            .args(["--pidfile", &path("turnserver.pid")])
            .args(["--userdb", &path("turndb")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    panic!(
                        "the TURN tests need coturn's `turnserver`, which is not installed: \
                         install the Debian package `coturn` (apt-get install coturn, or \
                         `cargo xtask setup`)"
                    )
                }
                panic!("cannot start turnserver: {e}")
            });
        let mut turn = Turn {
            child,
            port,
            secret,
            log,
            _dir: dir,
        };
        turn.wait_until_it_answers_stun().await;
        turn
    }

    async fn wait_until_it_answers_stun(&mut self) {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        // A STUN Binding request (RFC 5389): type, length 0, magic cookie,
        // transaction id.
        let mut request = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        request.extend_from_slice(&uuid::Uuid::new_v4().as_bytes()[..12]);
        let mut buf = [0u8; 512];
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("turnserver exited ({status}):\n{}", self.log());
            }
            socket
                .send_to(&request, ("127.0.0.1", self.port))
                .await
                .unwrap();
            let answer =
                tokio::time::timeout(Duration::from_millis(100), socket.recv_from(&mut buf)).await;
            if let Ok(Ok((n, _))) = answer
                && n >= 20
                && buf[..2] == [0x01, 0x01]
                && buf[8..20] == request[8..20]
            {
                return;
            }
        }
        panic!("turnserver did not answer STUN in 10 s:\n{}", self.log());
    }

    /// The TURN URL (UDP), for `ice.turn_urls`.
    pub fn turn_url(&self) -> String {
        format!("turn:127.0.0.1:{}?transport=udp", self.port)
    }

    /// The same server as a STUN server.
    pub fn stun_url(&self) -> String {
        format!("stun:127.0.0.1:{}", self.port)
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to `limit`) for `count` log lines matching `pick`; every
    /// such line so far.
    pub async fn wait_for_log(
        &self,
        limit: Duration,
        count: usize,
        pick: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let found: Vec<String> = self
                .log()
                .lines()
                .filter(|l| pick(l))
                .map(str::to_owned)
                .collect();
            if found.len() >= count {
                return found;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "{count} such lines expected in the TURN server's log:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A loopback port free for both UDP and TCP (coturn listens on both).
fn free_udp_and_tcp_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
