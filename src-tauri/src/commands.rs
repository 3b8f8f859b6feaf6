//! The commands the window invokes (mirrored by `ui/src/ipc/commands.ts`).
//! Each is a thin mapping onto the client core or the shell's state.

use crate::connection::Connection;
use crate::device_check::DeviceCheck;
use crate::settings::Settings;
use crate::shell::{Shell, choices_from};
use crate::ui_event::{Person, UiEvent};
use crate::video::DisplayMode;
use clinicall_client_core::signaling::{AuthSession, RestClient, RestError};
use clinicall_protocol::UserId;
use clinicall_protocol::rest::Account;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tauri::State;
use tauri::ipc::{Channel, InvokeResponseBody};

/// A failed command: a stable code for the UI's logic and a message for
/// the person at the screen.
#[derive(Debug, Serialize)]
pub struct CommandError {
    /// Machine-readable.
    pub code: &'static str,
    /// Human-readable.
    pub message: String,
}

impl CommandError {
    /// An error with `code` and a message for the person at the screen.
    pub fn new(code: &'static str, message: impl std::fmt::Display) -> Self {
        CommandError {
            code,
            message: message.to_string(),
        }
    }
}

type Result<T> = std::result::Result<T, CommandError>;

/// The signed-in account as the window shows it.
#[derive(Debug, Serialize)]
pub struct AccountView {
    /// Who.
    pub person: Person,
    /// Login email.
    pub email: String,
}

impl From<&Account> for AccountView {
    fn from(account: &Account) -> Self {
        AccountView {
            person: Person {
                id: account.id,
                name: account.display_name.clone(),
                role: account.role,
            },
            email: account.email.clone(),
        }
    }
}

/// What the window needs at start-up.
#[derive(Debug, Serialize)]
pub struct AppInfo {
    version: &'static str,
    settings: Settings,
    /// `encoded` or `raw` from `CLINICALL_VIDEO_MODE`, to force a video
    /// path (benchmarks, and the tests of the fallback).
    video_mode: Option<String>,
}

/// Version and settings.
#[tauri::command]
pub fn app_info(shell: State<'_, Shell>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        settings: shell.settings(),
        video_mode: std::env::var("CLINICALL_VIDEO_MODE")
            .ok()
            .filter(|m| m == "encoded" || m == "raw"),
    }
}

/// Starts sending [`UiEvent`]s to `events`.
#[tauri::command]
pub fn subscribe(shell: State<'_, Shell>, events: Channel<UiEvent>) {
    shell.hub.subscribe(events);
}

fn rest_error(e: RestError) -> CommandError {
    match e {
        RestError::NotSignedIn => CommandError::new("signed_out", "Please sign in again."),
        other => match other.code() {
            Some(code) => CommandError::new("refused", format!("{other} ({})", code.as_str())),
            None => CommandError::new("unreachable", format!("Cannot reach the server: {other}")),
        },
    }
}

async fn connect(
    shell: &Shell,
    server: &str,
    auth: Arc<AuthSession>,
    account: Account,
) -> Result<AccountView> {
    let view = AccountView::from(&account);
    // The previous sign-in first: its chat cache may be this one's.
    if let Some(old) = shell.connection.lock().await.take()
        && let Err(e) = old.stop(false).await
    {
        tracing::warn!(error = %e, "the previous chat did not close cleanly");
    }
    let connection = Connection::start(server, auth, account, shell)
        .await
        .map_err(|e| CommandError::new("unreachable", e))?;
    if let Some(old) = shell.connection.lock().await.replace(connection) {
        let _ = old.stop(false).await;
    }
    Ok(view)
}

/// Signs in with a password. With `remember`, the refresh token goes to
/// the OS keychain so the next start signs in by itself.
#[tauri::command]
pub async fn sign_in(
    shell: State<'_, Shell>,
    server: String,
    email: String,
    password: String,
    remember: bool,
) -> Result<AccountView> {
    let server = server.trim().trim_end_matches('/').to_owned();
    let rest = RestClient::new(&server, false).map_err(|e| CommandError::new("bad_server", e))?;
    let store = crate::secrets::token_store(&server, &email, remember)
        .map_err(|e| CommandError::new("keychain", e))?;
    let auth = Arc::new(AuthSession::new(rest, store));
    let account = auth.login(&email, &password).await.map_err(rest_error)?;
    let mut settings = shell.settings();
    settings.server = server.clone();
    settings.remembered_email = remember.then(|| email.clone());
    if let Err(e) = shell.update_settings(settings) {
        tracing::warn!(error = %e, "could not save settings");
    }
    connect(&shell, &server, auth, account).await
}

/// Signs in with the remembered account's refresh token from the
/// keychain, if there is one. `None`: nothing remembered (or no longer
/// valid); show the sign-in screen.
#[tauri::command]
pub async fn restore_session(shell: State<'_, Shell>) -> Result<Option<AccountView>> {
    let settings = shell.settings();
    let Some(email) = settings.remembered_email.clone() else {
        return Ok(None);
    };
    let rest =
        RestClient::new(&settings.server, false).map_err(|e| CommandError::new("bad_server", e))?;
    let store = crate::secrets::token_store(&settings.server, &email, true)
        .map_err(|e| CommandError::new("keychain", e))?;
    let auth = Arc::new(AuthSession::new(rest, store));
    match auth.me().await {
        Ok(account) => connect(&shell, &settings.server, auth, account)
            .await
            .map(Some),
        Err(e) if e.is_signed_out() || matches!(e, RestError::NotSignedIn) => Ok(None),
        Err(e) => Err(rest_error(e)),
    }
}

/// Signs out on the server, forgets the refresh token (keychain
/// included) and disconnects. With `erase_history`, also deletes the chat
/// history kept on this computer (and its key).
#[tauri::command]
pub async fn sign_out(shell: State<'_, Shell>, erase_history: Option<bool>) -> Result<()> {
    let connection = shell.connection.lock().await.take();
    if let Some(connection) = connection {
        if let Err(e) = connection.auth.logout().await {
            tracing::warn!(error = %e, "server not told of the sign-out");
        }
        let erase = erase_history.unwrap_or(false);
        if let Err(e) = connection.stop(erase).await {
            tracing::warn!(error = %e, erase, "chat not closed cleanly");
            if erase {
                return Err(CommandError::new(
                    "erase",
                    format!("Signed out, but the chat history was not erased: {e}"),
                ));
            }
        }
    }
    let mut settings = shell.settings();
    settings.remembered_email = None;
    shell
        .update_settings(settings)
        .map_err(|e| CommandError::new("settings", e))?;
    Ok(())
}

async fn with_calls<F, Fut>(shell: &Shell, f: F) -> Result<()>
where
    F: FnOnce(clinicall_client_core::driver::CallHandle) -> Fut,
    Fut: std::future::Future<
            Output = std::result::Result<(), clinicall_client_core::driver::DriverError>,
        >,
{
    let calls = match shell.connection.lock().await.as_ref() {
        Some(connection) => connection.calls.clone(),
        None => return Err(CommandError::new("signed_out", "Please sign in first.")),
    };
    f(calls).await.map_err(|e| CommandError::new("call", e))
}

/// Calls a contact.
#[tauri::command]
pub async fn place_call(shell: State<'_, Shell>, user_id: String) -> Result<()> {
    let callee: UserId = user_id
        .parse()
        .map_err(|_| CommandError::new("bad_request", "not a user id"))?;
    shell.media.muted.store(false, Ordering::Relaxed);
    shell.media.camera_off.store(false, Ordering::Relaxed);
    with_calls(
        &shell,
        |calls| async move { calls.dial(callee, None).await },
    )
    .await
}

/// Answers the ringing call.
#[tauri::command]
pub async fn accept_call(shell: State<'_, Shell>) -> Result<()> {
    shell.media.muted.store(false, Ordering::Relaxed);
    shell.media.camera_off.store(false, Ordering::Relaxed);
    with_calls(&shell, |calls| async move { calls.accept().await }).await
}

/// Declines the ringing call.
#[tauri::command]
pub async fn reject_call(shell: State<'_, Shell>) -> Result<()> {
    with_calls(&shell, |calls| async move { calls.reject().await }).await
}

/// Withdraws our outgoing call.
#[tauri::command]
pub async fn cancel_call(shell: State<'_, Shell>) -> Result<()> {
    with_calls(&shell, |calls| async move { calls.cancel().await }).await
}

/// Ends the call.
#[tauri::command]
pub async fn hang_up(shell: State<'_, Shell>) -> Result<()> {
    with_calls(&shell, |calls| async move { calls.hang_up().await }).await
}

/// Mutes or unmutes our microphone.
#[tauri::command]
pub fn set_muted(shell: State<'_, Shell>, muted: bool) {
    shell.media.muted.store(muted, Ordering::Relaxed);
}

/// Turns our camera off (black frames) or on.
#[tauri::command]
pub fn set_camera_off(shell: State<'_, Shell>, off: bool) {
    shell.media.camera_off.store(off, Ordering::Relaxed);
}

/// Sends video frames to `frames` (see `video.rs` for the format).
#[tauri::command]
pub async fn attach_video(
    shell: State<'_, Shell>,
    frames: Channel<InvokeResponseBody>,
    mode: DisplayMode,
) -> Result<()> {
    shell.display.attach(frames, mode);
    // Decoding has to start at a keyframe.
    if let Some(connection) = shell.connection.lock().await.as_ref() {
        connection.media.refresh_video();
    }
    Ok(())
}

/// Asks for keyframes of both pictures: the window's decoder lost its
/// place (a decode error, or it fell behind and skipped frames), and
/// senders make keyframes only when asked.
#[tauri::command]
pub async fn refresh_video(shell: State<'_, Shell>) -> Result<()> {
    if let Some(connection) = shell.connection.lock().await.as_ref() {
        connection.media.refresh_video();
    }
    Ok(())
}

/// Stops sending video frames.
#[tauri::command]
pub fn detach_video(shell: State<'_, Shell>) {
    shell.display.detach();
}

/// The settings in effect.
#[tauri::command]
pub fn get_settings(shell: State<'_, Shell>) -> Settings {
    shell.settings()
}

/// Saves settings; new device choices apply at once, to a running call too.
#[tauri::command]
pub fn save_settings(shell: State<'_, Shell>, settings: Settings) -> Result<()> {
    shell
        .update_settings(settings)
        .map_err(|e| CommandError::new("settings", e))
}

/// Starts the device check with the current settings' devices.
#[tauri::command]
pub fn start_device_check(shell: State<'_, Shell>) {
    let check = DeviceCheck::start(
        choices_from(&shell.settings()),
        shell.display.clone(),
        shell.hub.clone(),
    );
    let old = shell
        .device_check
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .replace(check);
    drop(old);
}

/// Stops the device check.
#[tauri::command]
pub fn stop_device_check(shell: State<'_, Shell>) {
    let old = shell
        .device_check
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    drop(old);
}

/// The window's display measurements (frames shown, delay), logged as a
/// JSON line for benchmarks and diagnostics. On stderr: under WebDriver,
/// WebKitWebDriver keeps the app's stdout to itself.
#[tauri::command]
pub fn report_display_stats(stats: serde_json::Value) {
    eprintln!(
        "{}",
        serde_json::json!({ "event": "display_stats", "stats": stats })
    );
}

/// The cameras, microphones and speakers present.
#[tauri::command]
pub fn list_devices() -> crate::devices::DeviceList {
    crate::devices::list()
}

/// Plays a short test tone on the chosen speaker.
#[tauri::command]
pub async fn play_test_tone(shell: State<'_, Shell>) -> Result<()> {
    let output = shell.settings().audio_output;
    tokio::task::spawn_blocking(move || crate::devices::play_test_tone(&output))
        .await
        .map_err(|e| CommandError::new("internal", e))?
        .map_err(|e| CommandError::new("speaker", e))
}
