//! Benchmark: the desktop app in a two-way 720p30 call with a headless
//! client, under Xvfb, through the same harness as the WebDriver tests.
//! Reports what the window displayed (frame rate, delay from the shell
//! handing a frame to the IPC until it was drawn, from the UI's own
//! `display_stats` reports) and the CPU of the app and of its web view
//! process, for one video path (`encoded`, the default, or `raw`).
//!
//! ```sh
//! cargo bench -p clinicall-desktop --bench desktop_call -- encoded 20
//! cargo bench -p clinicall-desktop --bench desktop_call -- raw 20
//! ```
//! (`--profile dev` measures the debug build the tests use.)

#[path = "../../tests/desktop_support/mod.rs"]
mod desktop_support;
#[path = "../../tests/harness/mod.rs"]
mod harness;

use desktop_support::{App, AppConfig};
use harness::Server;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on
/// every Linux we ship to).
const TICKS_PER_SECOND: f64 = 100.0;

fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The app's process and its web process, found under the driver.
fn app_processes(root: u32) -> (Option<u32>, Option<u32>) {
    let mut stack = vec![root];
    let (mut app, mut web) = (None, None);
    while let Some(pid) = stack.pop() {
        match name(pid).as_str() {
            "clinicall" => app = Some(pid),
            "WebKitWebProces" => web = Some(pid),
            _ => {}
        }
        stack.extend(children(pid));
    }
    (app, web)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mode = args.first().map_or("encoded", String::as_str).to_owned();
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);

    let server = Server::start().await;
    let (doctor, patient) = server.pair().await;
    let headless = server.spawn(
        &patient,
        &["--answer", "--video-size", "1280x720", "--fps", "30"],
    );
    headless.signed_in().await;
    let mut config = AppConfig::for_server(&server.base);
    config
        .env
        .push(("CLINICALL_VIDEO_MODE".into(), mode.clone()));
    let app = App::launch(config).await;
    app.sign_in(&doctor.email, harness_password(), false).await;
    app.contact_online(&patient.id.to_string()).await;
    app.call_contact(&patient.id.to_string()).await;
    headless.connected().await;
    // Let the call settle (bitrate ramp, first keyframes).
    tokio::time::sleep(Duration::from_secs(3)).await;

    let (app_pid, web_pid) = app_processes(app.driver_pid());
    let (app_pid, web_pid) = (app_pid.expect("app process"), web_pid.expect("web process"));
    let before = (cpu_ticks(app_pid).unwrap(), cpu_ticks(web_pid).unwrap());
    let start = Instant::now();
    let lines_before = app.stderr.lock().unwrap().len();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let elapsed = start.elapsed().as_secs_f64();
    let after = (cpu_ticks(app_pid).unwrap(), cpu_ticks(web_pid).unwrap());

    let reports: Vec<Value> = app.stderr.lock().unwrap()[lines_before..]
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "display_stats")
        .map(|v| v["stats"]["remote"].clone())
        .collect();
    let mean = |key: &str| {
        let values: Vec<f64> = reports.iter().filter_map(|r| r[key].as_f64()).collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    let summary = json!({
        "mode": mode,
        "seconds": seconds,
        "reports": reports.len(),
        "remote_displayed_fps": mean("fps"),
        "remote_delay_p50_ms": mean("delay_p50_ms"),
        "remote_delay_p95_ms": mean("delay_p95_ms"),
        "app_cpu_cores": (after.0 - before.0) as f64 / TICKS_PER_SECOND / elapsed,
        "web_process_cpu_cores": (after.1 - before.1) as f64 / TICKS_PER_SECOND / elapsed,
    });
    println!("{summary}");

    app.click("#hang-up").await;
    let _ = headless.finish(Duration::from_secs(20)).await;
    app.close().await;
}

fn harness_password() -> &'static str {
    clinicall_signaling_server::testing::PASSWORD
}
