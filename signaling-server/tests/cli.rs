//! The `signaling-server` binary as an admin uses it: `--help`, account
//! subcommands, backup, and `serve --demo` with a graceful stop on SIGTERM.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_signaling-server");

fn server(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_remove("CLINICALL_CONFIG")
        .env("CLINICALL_AUTH__ARGON2_MEMORY_KIB", "64")
        .env("CLINICALL_AUTH__ARGON2_ITERATIONS", "1")
        .env("CLINICALL_STORAGE__DATABASE", dir.join("db.sqlite3"));
    cmd
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("binary runs");
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_explains_every_setting() {
    let help = run_ok(Command::new(BIN).arg("--help"));
    for needle in [
        "serve",
        "user",
        "backup",
        "[server]",
        "listen",
        "ring_timeout",
        "resume_grace",
        "[ice]",
        "turn_secret",
        "turn_credential_ttl",
        "CLINICALL_",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn serve_refuses_inconsistent_ice_settings() {
    let dir = tempfile::tempdir().unwrap();
    let out = server(dir.path())
        .env("CLINICALL_ICE__TURN_SECRET", "a-secret-that-must-not-show")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ice.turn_secret needs ice.turn_urls"),
        "{stderr}"
    );
    assert!(!stderr.contains("a-secret-that-must-not-show"), "{stderr}");
    assert!(!dir.path().join("db.sqlite3").exists());
}

#[test]
fn admin_subcommands_manage_accounts_and_back_up() {
    let dir = tempfile::tempdir().unwrap();
    // Without a database, admin commands refuse instead of making an empty one.
    let out = server(dir.path()).args(["user", "list"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    assert!(!dir.path().join("db.sqlite3").exists());

    // `serve` creates the database; stop it at once.
    let mut serve = server(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_line(serve.stderr.take().unwrap(), "\"listening\"");
    serve.kill().unwrap();
    serve.wait().unwrap();

    let created = run_ok(
        server(dir.path())
            .env("CLINICALL_NEW_PASSWORD", "doctor-pass-1")
            .args([
                "user",
                "create",
                "--role",
                "doctor",
                "--email",
                "Dr.Who@Clinic.Test",
                "--display-name",
                "Dr Who",
            ]),
    );
    assert!(
        created.contains("created doctor dr.who@clinic.test"),
        "{created}"
    );

    let mut child = server(dir.path())
        .args([
            "user",
            "create",
            "--role",
            "patient",
            "--email",
            "p@clinic.test",
            "--display-name",
            "P",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"patient-pass-1\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());

    run_ok(server(dir.path()).args([
        "relation",
        "add",
        "--doctor",
        "dr.who@clinic.test",
        "--patient",
        "p@clinic.test",
    ]));
    let list = run_ok(server(dir.path()).args(["user", "list"]));
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains("doctor\tdr.who@clinic.test\tDr Who"));

    // A bad role is a clear error.
    let out = server(dir.path())
        .env("CLINICALL_NEW_PASSWORD", "whatever-1")
        .args([
            "user",
            "create",
            "--role",
            "nurse",
            "--email",
            "n@c.test",
            "--display-name",
            "N",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nurse"));

    let backup = dir.path().join("backup.sqlite3");
    run_ok(server(dir.path()).args(["backup", "--to"]).arg(&backup));
    let copy = run_ok(
        server(dir.path())
            .env("CLINICALL_STORAGE__DATABASE", &backup)
            .args(["user", "list"]),
    );
    assert_eq!(copy, list);
    // Never overwrites.
    assert!(
        !server(dir.path())
            .args(["backup", "--to"])
            .arg(&backup)
            .output()
            .unwrap()
            .status
            .success()
    );
}

#[test]
fn demo_mode_prints_working_credentials_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = server(dir.path())
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let listening = wait_for_line(child.stderr.take().unwrap(), "\"listening\"");
    let log: serde_json::Value = serde_json::from_str(&listening).expect("JSON log line");
    let addr = log["addr"].as_str().unwrap().to_owned();
    let banner = wait_for_line(child.stdout.take().unwrap(), "doctor@demo.clinicall");
    let password = banner.split_whitespace().last().unwrap().to_owned();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (profile, slots) = rt.block_on(async {
        let http = reqwest::Client::new();
        let login = http
            .post(format!("http://{addr}/api/v1/auth/login"))
            .json(&serde_json::json!({"email": "doctor@demo.clinicall", "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 200);
        let login: serde_json::Value = login.json().await.unwrap();
        let token = login["access_token"].as_str().unwrap().to_owned();
        let id = login["account"]["id"].as_str().unwrap().to_owned();
        let get = |path: String| {
            http.get(format!("http://{addr}/api/v1/{path}"))
                .bearer_auth(&token)
                .send()
        };
        let profile: serde_json::Value = get(format!("doctors/{id}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let slots: Vec<serde_json::Value> = get(format!("doctors/{id}/slots"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (profile, slots)
    });
    // The demo doctor has a profile and free slots whatever the time of day:
    // the next seven days hold 48 half-hour slots a day (less the current one).
    assert_eq!(profile["specialization"], "General practice", "{profile}");
    assert_eq!(profile["time_zone"], "UTC");
    assert!(slots.len() >= 7 * 48 - 1, "{} slots", slots.len());

    let started = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// Reads lines until one contains `needle` (the rest keeps draining in the
/// background so the child never blocks on a full pipe).
fn wait_for_line(stream: impl std::io::Read + Send + 'static, needle: &str) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let needle = needle.to_owned();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if !sent && line.contains(&needle) {
                let _ = tx.send(line);
                sent = true;
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("expected output line")
}
