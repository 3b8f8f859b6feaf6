//! End-to-end tests of the real desktop app under WebDriver: the release
//! UI in the real web view, driven through tauri-driver and
//! WebKitWebDriver on a private X display, calling real headless clients
//! through a real signaling server, with real WebRTC media on loopback.
//! Screenshots of the key screens land in `target/test-artifacts/desktop/`.

mod desktop_support;
mod harness;

use clinicall_client_core::cache::{CacheConfig, CachedMessage, ChatCache, MemoryKeySource};
use clinicall_client_core::call::CallConfig;
use clinicall_client_core::chat::{ChatHandle, ChatSync, ChatSyncConfig};
use clinicall_client_core::driver::{CallDriver, SignalingOnlyMedia};
use clinicall_client_core::signaling::{
    AuthSession, ClientConfig, MemoryTokenStore, RestClient, SignalingClient,
};
use clinicall_protocol::ConversationId;
use clinicall_protocol::rest::Account;
use desktop_support::{App, AppConfig};
use harness::{ONE_AT_A_TIME, Server, ended};
use serde_json::Value;
use std::sync::Arc;
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
        args: config.args,
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

/// A patient's chat driven from Rust: a real signaling client, the call
/// driver (signaling only) feeding the client core's sync engine, and its
/// own encrypted cache in a temp folder.
struct PatientChat {
    chat: ChatHandle,
    _calls: clinicall_client_core::driver::CallHandle,
    _dir: tempfile::TempDir,
}

impl PatientChat {
    async fn start(server: &Server, patient: &Account) -> PatientChat {
        let rest = RestClient::new(&server.base, false).unwrap();
        let auth = Arc::new(AuthSession::new(rest, Arc::new(MemoryTokenStore::new())));
        auth.login(&patient.email, PASSWORD).await.unwrap();
        let (client, signaling) =
            SignalingClient::start(ClientConfig::new(server.base.clone()), auth).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cache = ChatCache::open(
            CacheConfig::new(dir.path(), patient.id),
            Arc::new(MemoryKeySource::empty()),
        )
        .await
        .unwrap();
        let (chat, feed, _events) =
            ChatSync::start(client.clone(), Arc::new(cache), ChatSyncConfig::default());
        let (calls, _driver_events) = CallDriver::start_with_chat(
            client,
            signaling,
            SignalingOnlyMedia,
            CallConfig::default(),
            feed,
        );
        PatientChat {
            chat,
            _calls: calls,
            _dir: dir,
        }
    }

    /// Waits until the patient's cache holds a sent message of
    /// `conversation` for which `matches` holds, and returns it.
    async fn message(
        &self,
        conversation: ConversationId,
        what: &str,
        matches: impl Fn(&CachedMessage) -> bool,
    ) -> CachedMessage {
        self.wait_for(what, async |chat: &ChatHandle| {
            let page = chat
                .cache()
                .messages_page(conversation, None, 20)
                .await
                .unwrap();
            page.messages
                .into_iter()
                .find(|m| m.seq().is_some() && matches(m))
        })
        .await
    }

    /// Waits until the patient's cache shows what `pick` looks for.
    async fn wait_for<T>(
        &self,
        what: &str,
        mut pick: impl AsyncFnMut(&ChatHandle) -> Option<T>,
    ) -> T {
        // Long enough for a reconnect after a server restart.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(found) = pick(&self.chat).await {
                return found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the patient's cache never showed {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A 4×4 red PNG.
const PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGM4oaEBRwzEcQDRQxGBSNLB6wAAAABJRU5ErkJggg==";

/// Waits until the JS boolean `condition` holds on the element matching
/// `css` (bound as `e`; false while there is none).
async fn until(app: &App, css: &str, condition: &str) {
    app.wait_true(
        Duration::from_secs(10),
        &format!("const e = document.querySelector('{css}'); return !!e && ({condition});"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_message_shows_unread_is_read_answered_found_and_erased_at_sign_out() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start().await;
    let (doctor, patient) = server.pair().await;
    let pat = PatientChat::start(&server, &patient).await;

    let app = App::launch(AppConfig::for_server(&server.base)).await;
    app.sign_in(&doctor.email, PASSWORD, false).await;
    signed_in_and_online(&app).await;

    let conversation = pat.chat.open(doctor.id).await.expect("conversation opened");
    pat.chat
        .send(
            conversation,
            "The rash on my arm is spreading".into(),
            Vec::new(),
        )
        .await
        .unwrap();

    // The unread count shows on the home screen, then in the list with
    // the message.
    until(&app, "#chat-unread-total", "e.textContent === '1'").await;
    app.click("#open-chat").await;
    let item = format!(".conversation[data-conversation-id=\"{conversation}\"]");
    until(
        &app,
        &item,
        "e.querySelector('.unread-badge')?.textContent === '1' && \
             e.querySelector('.last-message').textContent === 'The rash on my arm is spreading' && \
             e.querySelector('.peer-name').textContent.length > 0",
    )
    .await;
    app.screenshot("chat-01-unread").await;

    // Opening it shows the message and clears the badge; the patient's
    // cache learns it was read.
    app.click(&item).await;
    until(
        &app,
        "#thread .message[data-mine=\"false\"] .body",
        "e.textContent === 'The rash on my arm is spreading'",
    )
    .await;
    app.wait_true(
        Duration::from_secs(10),
        &format!("return !document.querySelector('{item} .unread-badge') && !document.querySelector('#chat-unread-total')"),
    )
    .await;
    let peer_read = pat
        .wait_for("the doctor's read", async |chat: &ChatHandle| {
            let list = chat.cache().conversations().await.unwrap();
            let c = list.into_iter().find(|c| c.id == conversation)?;
            (c.peer_read_seq >= 1).then_some(c.peer_read_seq)
        })
        .await;
    assert_eq!(peer_read, 1);

    // The patient types: the doctor sees it.
    pat.chat.typing(conversation, true).await;
    until(
        &app,
        "#typing-indicator",
        "e.textContent.includes('is typing')",
    )
    .await;

    // The doctor replies with Enter; the patient's cache gets the reply,
    // and the reply gets two ticks once the patient has read it.
    app.type_into("#composer-text", "Please send me a photo of it\u{E007}")
        .await;
    let reply = pat
        .message(conversation, "the reply", |m| {
            m.body == "Please send me a photo of it" && m.sender == doctor.id
        })
        .await;
    let reply_seq = reply.seq().unwrap();
    assert_eq!(reply_seq, 2);
    until(
        &app,
        "#thread .message[data-mine=\"true\"]",
        "e.dataset.tick === 'sent'",
    )
    .await;
    pat.chat.mark_read(conversation, reply_seq).await.unwrap();
    until(
        &app,
        "#thread .message[data-mine=\"true\"]",
        "e.dataset.tick === 'read'",
    )
    .await;
    app.screenshot("chat-02-thread").await;

    // Search finds the first message, with the word marked, and opens it.
    app.type_into("#chat-search", "spread").await;
    let hit = format!(".search-hit[data-conversation-id=\"{conversation}\"]");
    until(
        &app,
        &hit,
        "e.querySelector('mark')?.textContent.toLowerCase().startsWith('spread') && \
             e.textContent.includes('rash on my arm')",
    )
    .await;
    app.screenshot("chat-03-search").await;
    app.click(&hit).await;
    until(
        &app,
        "#thread .message.focused .body",
        "e.textContent === 'The rash on my arm is spreading'",
    )
    .await;

    // A photo: picked, previewed, uploaded on send; the patient's cache
    // gets it with the message, and the thread shows its thumbnail.
    app.eval(&format!(
        "const bytes = Uint8Array.from(atob('{PNG_BASE64}'), (c) => c.charCodeAt(0));
         const files = new DataTransfer();
         files.items.add(new File([bytes], 'rash photo.png', {{ type: 'image/png' }}));
         const input = document.querySelector('#thread #attach-file');
         input.files = files.files;
         input.dispatchEvent(new Event('change', {{ bubbles: true }}));"
    ))
    .await;
    until(
        &app,
        ".draft img.preview-thumb",
        "e.complete && e.naturalWidth === 4",
    )
    .await;
    app.type_into("#thread #composer-text", "Here it is").await;
    app.click("#thread #send-message").await;
    let photo = pat
        .message(conversation, "the photo", |m| m.body == "Here it is")
        .await
        .attachments
        .remove(0);
    assert_eq!(
        (photo.name.as_str(), photo.content_type.as_str(), photo.size),
        ("rash photo.png", "image/png", 73)
    );
    assert!(photo.has_thumbnail);
    until(
        &app,
        &format!("#thread [data-attachment-id=\"{}\"] img.thumb", photo.id),
        "e.complete && e.naturalWidth === 4",
    )
    .await;
    app.wait_true(
        Duration::from_secs(10),
        "return !document.querySelector('.draft') && document.querySelector('#thread #composer-text').value === ''",
    )
    .await;

    // In a call with the patient (answered by a headless client signed in
    // as them), the call window shows the same thread beside the video.
    let headless = server.spawn(&patient, &["--answer"]);
    headless.signed_in().await;
    app.click("#chat-back").await;
    app.contact_online(&patient.id.to_string()).await;
    app.call_contact(&patient.id.to_string()).await;
    app.click("#toggle-call-chat").await;
    until(
        &app,
        "#call-chat .message[data-mine=\"false\"] .body",
        "e.textContent === 'The rash on my arm is spreading'",
    )
    .await;
    pat.chat
        .send(conversation, "Can you see the rash now?".into(), Vec::new())
        .await
        .unwrap();
    app.wait_true(
        Duration::from_secs(10),
        "return [...document.querySelectorAll('#call-chat .message .body')]\
         .some((e) => e.textContent === 'Can you see the rash now?')",
    )
    .await;
    app.type_into("#call-chat #composer-text", "Yes, clearly\u{E007}")
        .await;
    pat.message(conversation, "the reply from the call", |m| {
        m.body == "Yes, clearly" && m.sender == doctor.id
    })
    .await;
    app.screenshot("chat-04-call-window").await;
    app.click("#hang-up").await;
    let (_, lines) = headless.finish(Duration::from_secs(20)).await;
    assert_eq!(ended(&lines)["reason"], "hung_up");

    // "Sign out and erase chat history" deletes the cache on this computer.
    let cache = app
        .home
        .path()
        .join("xdg-data/org.clinicall.desktop/chat")
        .join(doctor.id.to_string());
    assert!(
        cache.join("chat.db").is_file(),
        "{} has no cache",
        cache.display()
    );
    app.click("#close-call").await;
    app.click("#sign-out-erase").await;
    app.find("#sign-in").await;
    // The sign-in screen can come first (the server's sign-out reaches the
    // window while the shell is still erasing).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while cache.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} was not erased",
            cache.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    pat.chat.shutdown().await;
    app.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_written_offline_waits_with_a_count_and_goes_when_the_server_is_back() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut server = Server::start().await;
    let (doctor, patient) = server.pair().await;
    let pat = PatientChat::start(&server, &patient).await;
    let app = App::launch(AppConfig::for_server(&server.base)).await;
    app.sign_in(&doctor.email, PASSWORD, false).await;
    app.contact_online(&patient.id.to_string()).await;

    // "Message" on the contact starts the conversation and opens it.
    app.click(&format!("[data-user-id=\"{}\"] button.message", patient.id))
        .await;
    app.find("#thread #composer-text").await;
    let conversation = pat.chat.open(doctor.id).await.unwrap();
    until(
        &app,
        "#thread",
        &format!("e.dataset.conversationId === '{conversation}'"),
    )
    .await;
    app.wait_true(
        Duration::from_secs(10),
        "return !document.querySelector('#chat-offline')",
    )
    .await;

    // Server down: the window says so, and a message written now waits
    // in the outbox with a clock, counted in the banner.
    server.stop().await;
    until(&app, "#chat-offline", "true").await;
    app.type_into("#thread #composer-text", "Are you there?\u{E007}")
        .await;
    until(
        &app,
        "#thread .message[data-mine=\"true\"]",
        "e.dataset.tick === 'pending' && e.querySelector('.body').textContent === 'Are you there?'",
    )
    .await;
    until(
        &app,
        "#chat-offline",
        "e.textContent.includes('(1 waiting to send)')",
    )
    .await;
    app.screenshot("chat-05-offline").await;

    // Server back: the banner goes, the message is sent and reaches the
    // patient.
    server.restart().await;
    app.wait_true(
        Duration::from_secs(60),
        "return !document.querySelector('#chat-offline')",
    )
    .await;
    until(
        &app,
        "#thread .message[data-mine=\"true\"]",
        "e.dataset.tick === 'sent' || e.dataset.tick === 'read'",
    )
    .await;
    let sent = pat
        .message(conversation, "the message written offline", |m| {
            m.body == "Are you there?" && m.sender == doctor.id
        })
        .await;
    assert_eq!(sent.seq(), Some(1));

    pat.chat.shutdown().await;
    app.close().await;
}

/// Calls the shell command `command` from the page and returns its answer
/// (the window's own UI for it is not involved).
async fn invoke(app: &App, command: &str) -> Value {
    app.eval(&format!(
        "window.__answer = undefined;
         window.__TAURI_INTERNALS__.invoke('{command}')
           .then(v => {{ window.__answer = {{ ok: v }}; }},
                 e => {{ window.__answer = {{ err: e }}; }});
         return null;"
    ))
    .await;
    app.wait_true(
        Duration::from_secs(10),
        "return window.__answer !== undefined",
    )
    .await;
    let answer = app.eval("return window.__answer").await;
    assert!(answer.get("err").is_none(), "{command} failed: {answer}");
    answer["ok"].clone()
}

/// Starts the app again with `link`, as the OS does for a link opened
/// while it runs, and waits for that second launch to hand over and exit.
async fn open_link_again(app: &App, link: &str) {
    let status = app
        .launch_again_with(&[link], Duration::from_secs(20))
        .await
        .expect("the second launch exits");
    assert!(status.success(), "second launch with {link}: {status}");
}

/// Waits (up to 10 s) until the app has logged `needle`.
async fn wait_logged(app: &App, needle: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !app.logged(needle) {
        assert!(
            std::time::Instant::now() < deadline,
            "the app never logged {needle:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appointment_link_reaches_the_window_at_launch_and_from_a_second_launch() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = Server::start().await;
    let first = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let mut config = AppConfig::for_server(&server.base);
    config.args = vec![format!("clinicall://appointment/{first}")];
    let app = App::launch(config).await;
    app.find("#sign-in-title").await;

    // The link the OS started the app with, handed over once.
    // (Once the window itself asks for it at start-up, this becomes a
    // test of the visit it opens.)
    assert_eq!(invoke(&app, "take_launch_appointment").await, first);
    assert_eq!(invoke(&app, "take_launch_appointment").await, Value::Null);

    // A link opened while the app runs: the second launch hands it over
    // and exits; the running app passes it to the window.
    let second = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    open_link_again(&app, &format!("clinicall://appointment/{second}")).await;
    wait_logged(&app, "a second launch handed over an appointment link").await;
    // A bad link is ignored, and the app carries on.
    open_link_again(&app, "clinicall://appointment/not-a-uuid").await;
    wait_logged(&app, "a second launch handed over; raising").await;
    assert_eq!(invoke(&app, "take_launch_appointment").await, Value::Null);
    app.close().await;
}
