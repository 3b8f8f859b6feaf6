//! End-to-end tests of the real desktop app under WebDriver: the release
//! UI in the real web view, driven through tauri-driver and
//! WebKitWebDriver on a private X display, calling real headless clients
//! through a real signaling server, with real WebRTC media on loopback.
//! Screenshots of the key screens land in `target/test-artifacts/desktop/`.

mod desktop_support;
mod harness;

use desktop_support::{App, AppConfig};
use harness::{ONE_AT_A_TIME, Server, ended};
use serde_json::Value;
use std::time::Duration;

const PASSWORD: &str = clinicall_signaling_server::testing::PASSWORD;

/// Samples the canvas `css`: its size, a hash of a grid of its pixels,
/// their mean brightness and how many frames it has drawn.
async fn sample(app: &App, css: &str) -> (u64, u64, i64, f64, u64) {
    let value = app
        .eval(&format!(
            "const c = document.querySelector('{css}');
             if (!c || !c.width) return null;
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             let h = 0, sum = 0, n = 0;
             for (let i = 0; i < d.length; i += 4 * 61) {{
               h = (Math.imul(h, 31) + d[i] + 3 * d[i + 1] + 7 * d[i + 2]) | 0;
               sum += d[i] + d[i + 1] + d[i + 2]; n += 3;
             }}
             return [c.width, c.height, h, sum / n, Number(c.dataset.frames || 0)];"
        ))
        .await;
    let Value::Array(v) = value else {
        panic!("{css} has drawn nothing: {value}")
    };
    (
        v[0].as_u64().unwrap(),
        v[1].as_u64().unwrap(),
        v[2].as_i64().unwrap(),
        v[3].as_f64().unwrap(),
        v[4].as_u64().unwrap(),
    )
}

/// Asserts the canvas shows moving video of `width`x`height`: frames keep
/// being drawn (at least `min_frames` in 0.7 s) and sampled pixels change
/// between them. (Rates are measured by the benchmarks; this only asks for
/// clearly live video.)
async fn assert_video_moves(app: &App, css: &str, width: u64, height: u64, min_frames: u64) {
    app.wait_true(
        Duration::from_secs(20),
        &format!("return Number(document.querySelector('{css}')?.dataset.frames || 0) > 5"),
    )
    .await;
    let first = sample(app, css).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let second = sample(app, css).await;
    assert_eq!((second.0, second.1), (width, height), "{css} size");
    assert_ne!(first.2, second.2, "{css}: the picture did not change");
    assert!(
        second.4 >= first.4 + min_frames,
        "{css}: {} then {} frames in 0.7 s",
        first.4,
        second.4
    );
    assert!(second.3 > 20.0, "{css} is black (mean {})", second.3);
}

/// A doctor signed in to the app has called a headless patient started
/// with `args` (which answers), and the call window is up.
async fn doctor_in_a_call(args: &[&str], config: AppConfig) -> (Server, harness::Client, App) {
    let server = Server::start().await;
    let (doctor, patient) = server.pair().await;
    let headless = server.spawn(&patient, args);
    headless.signed_in().await;
    let app = App::launch(AppConfig {
        settings: {
            let mut settings = config.settings;
            settings["server"] = server.base.clone().into();
            settings
        },
        env: config.env,
    })
    .await;
    app.sign_in(&doctor.email, PASSWORD, false).await;
    app.contact_online(&patient.id.to_string()).await;
    app.call_contact(&patient.id.to_string()).await;
    (server, headless, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calling_a_headless_client_shows_moving_video_mutes_and_hangs_up() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start().await;
    let (doctor, patient) = server.pair().await;
    let headless = server.spawn(&patient, &["--answer"]);
    headless.signed_in().await;

    let app = App::launch(AppConfig::for_server(&server.base)).await;
    app.find("#sign-in").await;
    app.screenshot("01-sign-in").await;
    app.sign_in(&doctor.email, PASSWORD, false).await;
    app.contact_online(&patient.id.to_string()).await;
    app.screenshot("02-home").await;

    app.call_contact(&patient.id.to_string()).await;
    assert_video_moves(&app, "#remote-video", 640, 480, 5).await;
    assert_video_moves(&app, "#local-video", 1280, 720, 3).await;
    headless.connected().await;

    app.click("#toggle-stats").await;
    app.wait_true(
        Duration::from_secs(5),
        "return /Receiving \\d+ kbit\\/s/.test(document.querySelector('#stats-overlay')?.textContent || '')",
    )
    .await;
    app.screenshot("03-call-window").await;

    app.click("#toggle-mute").await;
    app.wait_true(
        Duration::from_secs(5),
        "return document.querySelector('#toggle-mute').getAttribute('aria-pressed') === 'true'",
    )
    .await;
    app.click("#toggle-mute").await;
    app.wait_true(
        Duration::from_secs(5),
        "return document.querySelector('#toggle-mute').getAttribute('aria-pressed') === 'false'",
    )
    .await;

    app.click("#hang-up").await;
    app.wait_true(
        Duration::from_secs(10),
        "return document.querySelector('#end-reason')?.dataset.reason === 'local_hang_up'",
    )
    .await;
    app.screenshot("04-call-ended").await;
    let text = app.text("#end-reason").await;
    assert_eq!(text, "You ended the call.");
    let (_, lines) = headless.finish(Duration::from_secs(20)).await;
    assert_eq!(ended(&lines)["reason"], "hung_up");
    app.close().await;
}

async fn signed_in_and_online(app: &App) {
    app.wait_true(
        Duration::from_secs(30),
        "return document.querySelector('#connection')?.textContent === 'Online'",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incoming_call_rings_is_accepted_and_ends_when_the_caller_hangs_up() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start().await;
    let (doctor, patient) = server.pair().await;

    let app = App::launch(AppConfig::for_server(&server.base)).await;
    app.sign_in(&patient.email, PASSWORD, false).await;
    signed_in_and_online(&app).await;
    let patient_id = patient.id.to_string();
    let caller = server.spawn(&doctor, &["--call", &patient_id, "--hang-up-after", "8"]);

    app.find("#incoming-call").await;
    let text = app.text("#incoming-desc").await;
    assert!(text.contains(&doctor.display_name), "{text}");
    app.screenshot("05-incoming-call").await;
    app.click("#accept-call").await;
    app.find("#call-window").await;
    assert_video_moves(&app, "#remote-video", 640, 480, 5).await;
    app.wait_true(
        Duration::from_secs(20),
        "return document.querySelector('#end-reason')?.dataset.reason === 'hung_up'",
    )
    .await;
    let text = app.text("#end-reason").await;
    assert_eq!(text, "The other party hung up.");
    let (_, lines) = caller.finish(Duration::from_secs(20)).await;
    assert_eq!(ended(&lines)["reason"], "local_hang_up");
    harness::assert_received(harness::summary(&lines), 1280, 720, 2, 440.0);
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incoming_call_can_be_declined() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start().await;
    let (doctor, patient) = server.pair().await;

    let app = App::launch(AppConfig::for_server(&server.base)).await;
    app.sign_in(&patient.email, PASSWORD, false).await;
    signed_in_and_online(&app).await;
    let patient_id = patient.id.to_string();
    let caller = server.spawn(&doctor, &["--call", &patient_id]);
    app.click("#reject-call").await;
    let (_, lines) = caller.finish(Duration::from_secs(20)).await;
    assert_eq!(ended(&lines)["reason"], "rejected");
    // The app is back home, with no call surface left over.
    app.wait_true(
        Duration::from_secs(10),
        "return !document.querySelector('#incoming-call') && !!document.querySelector('#connection')",
    )
    .await;
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_webcodecs_the_raw_video_fallback_still_shows_moving_video() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut config = AppConfig::for_server("");
    config
        .env
        .push(("CLINICALL_VIDEO_MODE".into(), "raw".into()));
    let (_server, headless, app) =
        doctor_in_a_call(&["--answer", "--video-size", "1280x720"], config).await;
    // Decoded in the shell and scaled to at most 640 wide.
    assert_video_moves(&app, "#remote-video", 640, 360, 3).await;
    assert_eq!(
        app.eval("return document.documentElement.dataset.videoMode")
            .await,
        "raw"
    );
    app.click("#hang-up").await;
    headless.finish(Duration::from_secs(20)).await;
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_launch_hands_over_to_the_running_app_and_exits() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start().await;
    let app = App::launch(AppConfig::for_server(&server.base)).await;
    app.find("#sign-in-title").await;
    assert!(!app.logged("a second launch handed over"));

    let status = app
        .launch_again(Duration::from_secs(20))
        .await
        .expect("the second launch exits instead of opening a second window");
    assert!(status.success(), "second launch: {status}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !app.logged("a second launch handed over") {
        assert!(
            std::time::Instant::now() < deadline,
            "the running app never heard of the second launch"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The first instance carries on as before.
    app.type_into("#email", "still@here.example").await;
    assert_eq!(
        app.eval("return document.querySelector('#email').value")
            .await,
        "still@here.example"
    );
    app.close().await;
}

/// Picks `value` in the `<select>` `css` with the mouse, as a user would.
async fn pick(app: &App, css: &str, value: &str) {
    // Clicking the option selects it (WebDriver's rule for <option>);
    // clicking the <select> first would open WebKitGTK's native popup menu.
    app.click(&format!("{css} option[value='{value}']")).await;
    app.wait_true(
        Duration::from_secs(5),
        &format!("return document.querySelector(\"{css}\").value === '{value}'"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_picked_in_the_call_window_switch_the_running_call() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (_server, headless, app) = doctor_in_a_call(&["--answer"], AppConfig::for_server("")).await;
    assert_video_moves(&app, "#local-video", 1280, 720, 3).await;

    app.click("#call-devices").await;
    app.find("#call-device-panel #video-input").await;
    app.screenshot("06-call-devices").await;
    // "No video": the call keeps its video stream, now black.
    pick(&app, "#video-input", "none").await;
    app.wait_true(
        Duration::from_secs(10),
        "const c = document.querySelector('#local-video');
         const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
         let sum = 0; for (let i = 0; i < d.length; i += 4 * 97) sum += d[i] + d[i + 1] + d[i + 2];
         return sum / (3 * Math.ceil(d.length / (4 * 97))) < 8;",
    )
    .await;
    // There is no camera on this machine: a clear message, and the call
    // goes on with what it had.
    pick(&app, "#video-input", "camera").await;
    app.wait_true(
        Duration::from_secs(10),
        "return [...document.querySelectorAll('.device-problem')].some(p => p.textContent.startsWith('Camera:'))",
    )
    .await;
    pick(&app, "#video-input", "test_pattern").await;
    assert_video_moves(&app, "#local-video", 1280, 720, 3).await;
    assert_video_moves(&app, "#remote-video", 640, 480, 3).await;
    // The choice is remembered for the next call.
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(app.home.path().join("config/settings.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved["video_input"]["kind"], "test_pattern");

    app.click("#close-call-devices").await;
    assert!(!app.exists("#call-device-panel").await);
    app.click("#hang-up").await;
    headless.finish(Duration::from_secs(20)).await;
    app.close().await;
}
