//! The real `clinicall-headless` binary, twice, against a real signaling
//! server started in this process: one answers, the other calls.

use clinicall_client_core::signaling::RestClient;
use clinicall_protocol::Role;
use clinicall_protocol::rest::{Account, NewUser};
use clinicall_signaling_server::{RunningServer, start};
use serde_json::Value;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const BIN: &str = env!("CARGO_BIN_EXE_clinicall-headless");
use clinicall_signaling_server::testing::{ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD, test_config};
/// Bound on each whole run of the binary.
const LIMIT: Duration = Duration::from_secs(20);

struct TestServer {
    _server: RunningServer,
    base: String,
    rest: RestClient,
    _dir: tempfile::TempDir,
}

impl TestServer {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = start(test_config(dir.path())).await.expect("server starts");
        let base = format!("http://{}", server.addr());
        let rest = RestClient::new(&base, false).unwrap();
        Self {
            _server: server,
            base,
            rest,
            _dir: dir,
        }
    }

    async fn admin_token(&self) -> String {
        self.rest
            .login(ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .unwrap()
            .access_token
    }

    /// A related doctor (created by the admin) and patient (self-registered).
    async fn pair(&self) -> (Account, Account) {
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let admin = self.admin_token().await;
        let http = reqwest::Client::new();
        let resp = http
            .post(format!("{}/api/v1/admin/users", self.base))
            .bearer_auth(&admin)
            .json(&NewUser {
                email: format!("ada-{tag}@test.clinicall"),
                password: PASSWORD.into(),
                display_name: "Dr. Ada".into(),
                role: Some(Role::Doctor),
            })
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let doctor: Account = resp.json().await.unwrap();
        let patient = self
            .rest
            .register(&NewUser {
                email: format!("pat-{tag}@test.clinicall"),
                password: PASSWORD.into(),
                display_name: "Pat".into(),
                role: None,
            })
            .await
            .unwrap();
        let resp = http
            .post(format!("{}/api/v1/admin/care-relations", self.base))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"doctor_id": doctor.id, "patient_id": patient.id}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
        (doctor, patient)
    }

    /// The doctor opens their schedule, the patient books a slot two days
    /// ahead and the doctor confirms it: a scheduled visit's id.
    async fn scheduled_visit(&self, doctor: &Account, patient: &Account) -> String {
        let http = reqwest::Client::new();
        let token = |account: &Account| {
            let rest = self.rest.clone();
            let email = account.email.clone();
            async move { rest.login(&email, PASSWORD).await.unwrap().access_token }
        };
        let (doctor_token, patient_token) = (token(doctor).await, token(patient).await);
        let resp = http
            .put(format!(
                "{}/api/v1/doctors/{}/profile",
                self.base, doctor.id
            ))
            .bearer_auth(&doctor_token)
            .json(&clinicall_signaling_server::demo::demo_doctor_profile())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        const SLOT_MS: i64 = 30 * 60 * 1000;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let start_ms = (now_ms / SLOT_MS) * SLOT_MS + 2 * 24 * 60 * 60 * 1000;
        let resp = http
            .post(format!("{}/api/v1/appointments", self.base))
            .bearer_auth(&patient_token)
            .json(
                &serde_json::json!({"doctor_id": doctor.id, "start_ms": start_ms,
                                      "mode": "video", "reason": "a rash"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let booked: Value = resp.json().await.unwrap();
        let id = booked["id"].as_str().unwrap().to_owned();
        let resp = http
            .post(format!("{}/api/v1/appointments/{id}/confirm", self.base))
            .bearer_auth(&doctor_token)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        id
    }

    fn spawn(&self, account: &Account, mode: &[&str]) -> Run {
        let mut child = Command::new(BIN)
            .args(["--server", &self.base, "--email", &account.email])
            .args(["--timeout", "15"])
            // These tests are about signaling; real media is tests/calls.rs's.
            .args(["--media", "signaling-only"])
            .args(mode)
            .env("CLINICALL_PASSWORD", PASSWORD)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary starts");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Run {
            child,
            lines,
            seen: Vec::new(),
        }
    }
}

/// A running binary and the JSON lines it printed so far.
struct Run {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    seen: Vec<Value>,
}

impl Run {
    /// Reads lines until one matches `pick`.
    async fn until(&mut self, pick: impl Fn(&Value) -> bool) {
        tokio::time::timeout(LIMIT, async {
            while let Some(line) = self.lines.next_line().await.unwrap() {
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
                self.seen.push(value.clone());
                if pick(&value) {
                    return;
                }
            }
            panic!("stdout ended first: {:#?}", self.seen);
        })
        .await
        .unwrap_or_else(|_| panic!("expected line in time; seen {:#?}", self.seen));
    }

    /// Reads the rest of stdout and waits for the exit code.
    async fn finish(mut self) -> (i32, Vec<Value>) {
        self.until(|v| v["event"] == "exit").await;
        let status = tokio::time::timeout(LIMIT, self.child.wait())
            .await
            .expect("the binary exits in time")
            .unwrap();
        (
            status
                .code()
                .unwrap_or_else(|| panic!("killed: {status:?} {:#?}", self.seen)),
            self.seen,
        )
    }
}

/// The position of the first line with these `event` and `state`/`reason`.
fn position(lines: &[Value], event: &str, key: &str, value: &str) -> Option<usize> {
    lines
        .iter()
        .position(|l| l["event"] == event && l[key] == value)
}

/// The call connected, then ended with `reason`, and the run said so.
fn assert_connected_then_ended(lines: &[Value], reason: &str) {
    let connected =
        position(lines, "call", "state", "connected").unwrap_or_else(|| panic!("{lines:#?}"));
    let ended = position(lines, "ended", "reason", reason).unwrap_or_else(|| panic!("{lines:#?}"));
    assert!(connected < ended, "{lines:#?}");
    assert_eq!(lines.last().unwrap()["code"], 0, "{lines:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_binary_answers_the_other_calls_and_hangs_up() {
    let server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;

    let mut answering = server.spawn(&doctor, &["--answer"]);
    // Only call once the doctor is online, or the server answers `unavailable`.
    answering
        .until(|v| v["event"] == "signaling" && v["state"] == "connected")
        .await;
    assert_eq!(
        answering.seen.last().unwrap()["user_id"],
        doctor.id.to_string()
    );

    let calling = server.spawn(
        &patient,
        &["--call", &doctor.id.to_string(), "--hang-up-after", "1"],
    );
    let (caller_code, caller_lines) = calling.finish().await;
    let (callee_code, callee_lines) = answering.finish().await;

    assert_eq!(caller_code, 0, "{caller_lines:#?}");
    assert_eq!(callee_code, 0, "{callee_lines:#?}");
    assert_connected_then_ended(&caller_lines, "local_hang_up");
    assert_connected_then_ended(&callee_lines, "hung_up");
    let by = callee_lines
        .iter()
        .find(|l| l["event"] == "ended")
        .map(|l| l["by"].clone());
    assert_eq!(by, Some(Value::String(patient.id.to_string())));
    // The caller saw the doctor in its contact list.
    assert!(
        caller_lines.iter().any(|l| l["event"] == "contact"
            && l["user_id"] == doctor.id.to_string()
            && l["online"] == true),
        "{caller_lines:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calling_an_offline_contact_fails_and_list_succeeds() {
    let server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;

    let (code, lines) = server
        .spawn(&patient, &["--call-name", "dr. ada"])
        .finish()
        .await;
    assert_eq!(code, 1, "{lines:#?}");
    assert!(
        position(&lines, "ended", "reason", "unavailable").is_some(),
        "{lines:#?}"
    );

    let (code, lines) = server.spawn(&patient, &["--list"]).finish().await;
    assert_eq!(code, 0, "{lines:#?}");
    let contact = lines
        .iter()
        .find(|l| l["event"] == "contact")
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert_eq!(contact["user_id"], doctor.id.to_string());
    assert_eq!(contact["display_name"], "Dr. Ada");
    assert_eq!(contact["online"], false);

    // A malformed user id is refused by the command line parser.
    let status = Command::new(BIN)
        .args(["--email", &patient.email, "--call", "not-a-uuid"])
        .env("CLINICALL_PASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .unwrap();
    assert_eq!(status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn say_before_the_call_and_an_automatic_reply() {
    let server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;

    let mut answering = server.spawn(&patient, &["--answer", "--reply", "Thanks, see you"]);
    answering
        .until(|v| v["event"] == "signaling" && v["state"] == "connected")
        .await;
    let mut calling = server.spawn(
        &doctor,
        &[
            "--call",
            &patient.id.to_string(),
            "--say",
            "Calling you now",
            "--hang-up-after",
            "2",
        ],
    );
    // The reply comes back while the call runs.
    calling
        .until(|v| v["event"] == "chat_message" && v["body"] == "Thanks, see you")
        .await;
    let (caller_code, caller_lines) = calling.finish().await;
    let (callee_code, callee_lines) = answering.finish().await;
    assert_eq!(caller_code, 0, "{caller_lines:#?}");
    assert_eq!(callee_code, 0, "{callee_lines:#?}");

    // The doctor's message was stored first (seq 1), then the reply (seq 2).
    let line = |lines: &[Value], event: &str| {
        lines
            .iter()
            .find(|l| l["event"] == event)
            .cloned()
            .unwrap_or_else(|| panic!("no {event} line: {lines:#?}"))
    };
    assert_eq!(line(&caller_lines, "chat_sent")["seq"], 1);
    let heard = line(&callee_lines, "chat_message");
    assert_eq!(heard["body"], "Calling you now");
    assert_eq!(heard["from"], doctor.id.to_string());
    assert_eq!(heard["seq"], 1);
    assert_eq!(line(&callee_lines, "chat_sent")["seq"], 2);
    let reply = line(&caller_lines, "chat_message");
    assert_eq!(reply["from"], patient.id.to_string());
    assert_eq!(reply["seq"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visit_the_patient_waits_in_the_room_and_the_doctor_admits() {
    let server = TestServer::start().await;
    let (doctor, patient) = server.pair().await;
    let visit = server.scheduled_visit(&doctor, &patient).await;

    // The doctor comes first: nobody waits yet, so it keeps looking in.
    let mut admitting = server.spawn(&doctor, &["--admit", &visit, "--hang-up-after", "1"]);
    admitting
        .until(|v| v["event"] == "room" && v["waiting"] == false)
        .await;
    let mut waiting = server.spawn(&patient, &["--wait-room", &visit]);
    waiting
        .until(|v| v["event"] == "room" && v["waiting"] == true)
        .await;
    let (doctor_code, doctor_lines) = admitting.finish().await;
    let (patient_code, patient_lines) = waiting.finish().await;
    assert_eq!(doctor_code, 0, "{doctor_lines:#?}");
    assert_eq!(patient_code, 0, "{patient_lines:#?}");
    assert_connected_then_ended(&doctor_lines, "local_hang_up");
    assert_connected_then_ended(&patient_lines, "hung_up");
    // The doctor admitted the patient it saw waiting.
    let saw = doctor_lines
        .iter()
        .find(|l| l["event"] == "room" && l["waiting"] == true)
        .unwrap_or_else(|| panic!("{doctor_lines:#?}"));
    assert_eq!(saw["patient_id"], patient.id.to_string());
    assert_eq!(saw["appointment_id"], visit.as_str());

    // A stranger's appointment id gets a clear refusal, exit code 1.
    let (code, lines) = server
        .spawn(
            &patient,
            &["--wait-room", &uuid::Uuid::new_v4().to_string()],
        )
        .finish()
        .await;
    assert_eq!(code, 1, "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l["event"] == "room" && l["error"] == "not_found"),
        "{lines:#?}"
    );
}
