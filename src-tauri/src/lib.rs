//! The Clinicall desktop app: a thin Tauri shell over the client core.
//!
//! The window (TypeScript, `ui/`) invokes [`commands`] and listens to one
//! channel of [`ui_event::UiEvent`]s; video reaches it on a second, binary
//! channel ([`video`]). Everything with logic in it lives in
//! `clinicall-client-core` (signaling, the call machine, media) and
//! `clinicall-devices` (camera, microphone, speakers); what is here maps
//! commands and events, remembers settings, and wires devices to calls.
//!
//! - [`shell`]: the state the commands share;
//! - [`connection`]: one signed-in connection and its event forwarder;
//! - [`account`]: the encrypted cache of a sign-in, shared by chat and
//!   appointments;
//! - [`chat`]: the chat sync engine and attachments of a sign-in, and the
//!   chat commands;
//! - [`appointments`]: the appointments engine, reminders and deep links
//!   of a sign-in, and the directory, booking and waiting-room commands;
//! - [`media_io`]: the app's media sources and sinks, [`live_media`]: how
//!   mute, camera off and devices picked mid-call reach a running call;
//! - [`device_check`]: the pre-call camera preview and microphone meter;
//! - [`settings`], [`secrets`]: what is remembered, and where.
#![warn(missing_docs)]

pub mod account;
pub mod appointments;
pub mod chat;
pub mod commands;
pub mod connection;
pub mod device_check;
pub mod devices;
pub mod events;
pub mod live_media;
pub mod media_io;
pub mod secrets;
pub mod settings;
pub mod shell;
pub mod ui_event;
pub mod video;

use appointments::deeplink;
use appointments::reminders::Reminder;
use shell::{Callbacks, Shell};
use tauri::Manager;
use tauri_plugin_notification::NotificationExt;
use ui_event::UiEvent;

/// Environment variable naming the folder for settings (tests and
/// side-by-side instances use their own); default: the OS's config
/// folder for the app.
pub const CONFIG_DIR_ENV: &str = "CLINICALL_CONFIG_DIR";

/// Runs the app until its window closes.
pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    // Freed video buffers go back to the OS (see clinicall-media).
    clinicall_media::return_large_blocks_to_os();

    let result = tauri::Builder::default()
        // First, so a second launch hands over before anything starts.
        .plugin(tauri_plugin_single_instance::init(|app, args, _cwd| {
            // The arguments come from outside: log what was found, not them.
            let link = deeplink::from_args(&args);
            if link.is_some() {
                tracing::info!(
                    "a second launch handed over an appointment link; raising the window"
                );
            } else {
                tracing::info!("a second launch handed over; raising the window");
            }
            if let Some(appointment_id) = link
                && let Some(shell) = app.try_state::<Shell>()
            {
                shell.hub.send(UiEvent::OpenAppointment { appointment_id });
            }
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
        }))
        .plugin(tauri_plugin_notification::init())
        .setup(|app| {
            let config_dir = match std::env::var_os(CONFIG_DIR_ENV) {
                Some(dir) => dir.into(),
                None => app.path().app_config_dir()?,
            };
            let data_dir = app.path().app_data_dir()?;
            let handle = app.handle().clone();
            let on_call =
                std::sync::Arc::new(move |event: &UiEvent| notify_incoming(&handle, event));
            let handle = app.handle().clone();
            let on_message = std::sync::Arc::new(move |arrival: &chat::notify::Arrival| {
                notify_message(&handle, arrival)
            });
            let handle = app.handle().clone();
            let on_reminder =
                std::sync::Arc::new(move |reminder: &Reminder| notify_reminder(&handle, reminder));
            let callbacks = Callbacks {
                on_call,
                on_message,
                on_reminder,
            };
            let args: Vec<String> = std::env::args().collect();
            let launch = deeplink::from_args(&args);
            if launch.is_some() {
                tracing::info!("started with an appointment link");
            }
            app.manage(Shell::new(config_dir, data_dir, callbacks, launch));
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::subscribe,
            commands::sign_in,
            commands::restore_session,
            commands::sign_out,
            commands::place_call,
            commands::accept_call,
            commands::reject_call,
            commands::cancel_call,
            commands::hang_up,
            commands::set_muted,
            commands::set_camera_off,
            commands::attach_video,
            commands::refresh_video,
            commands::detach_video,
            commands::get_settings,
            commands::save_settings,
            commands::start_device_check,
            commands::stop_device_check,
            commands::report_display_stats,
            commands::list_devices,
            commands::play_test_tone,
            chat::commands::chat_conversations,
            chat::commands::chat_open,
            chat::commands::chat_thread,
            chat::commands::chat_load_older,
            chat::commands::chat_send,
            chat::commands::chat_mark_read,
            chat::commands::chat_typing,
            chat::commands::chat_search,
            chat::commands::chat_upload,
            chat::commands::chat_attachment,
            appointments::commands::appointments_list,
            appointments::commands::appointment_detail,
            appointments::commands::doctors_search,
            appointments::commands::doctor_profile,
            appointments::commands::doctor_slots,
            appointments::commands::my_profile,
            appointments::commands::save_my_profile,
            appointments::commands::appointment_book,
            appointments::commands::appointment_confirm,
            appointments::commands::appointment_reject,
            appointments::commands::appointment_cancel,
            appointments::commands::appointment_reschedule,
            appointments::commands::appointment_complete,
            appointments::commands::appointment_write_notes,
            appointments::commands::appointment_amend_notes,
            appointments::commands::appointment_rate,
            appointments::commands::room_join,
            appointments::commands::room_leave,
            appointments::commands::room_admit,
            appointments::commands::take_launch_appointment,
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("clinicall: {e}");
        std::process::exit(1);
    }
}

/// Shows an OS notification for a ringing call while the window is not in
/// front (the window itself shows the incoming-call dialog and rings).
fn notify_incoming(app: &tauri::AppHandle, event: &UiEvent) {
    let UiEvent::Call { peer, .. } = event else {
        return;
    };
    let who = peer.as_ref().map_or("Someone", |p| p.name.as_str());
    notify(app, "Incoming call", &format!("{who} is calling"), false);
}

/// Shows an OS notification for a new chat message while the window is
/// not in front (the window shows the unread badge).
fn notify_message(app: &tauri::AppHandle, arrival: &chat::notify::Arrival) {
    notify(
        app,
        &format!("Message from {}", arrival.from),
        &arrival.text,
        false,
    );
}

/// Shows an OS notification for a visit about to start, even when the
/// window is in front: the window's own reminder is easy to miss on
/// another page or when the person looks away, a missed visit costs more
/// than a second glance, and there are only two per visit.
fn notify_reminder(app: &tauri::AppHandle, reminder: &Reminder) {
    let title = match reminder.minutes_before {
        0 => "Your visit starts now".to_owned(),
        1 => "Your visit starts in 1 minute".to_owned(),
        n => format!("Your visit starts in {n} minutes"),
    };
    notify(app, &title, &format!("With {}", reminder.with), true);
}

/// An OS notification, when they are on and (unless `when_focused`) the
/// window is not focused.
fn notify(app: &tauri::AppHandle, title: &str, body: &str, when_focused: bool) {
    let Some(shell) = app.try_state::<Shell>() else {
        return;
    };
    if !shell.settings().notifications {
        return;
    }
    let focused = app
        .get_webview_window("main")
        .and_then(|w| w.is_focused().ok())
        .unwrap_or(false);
    if focused && !when_focused {
        return;
    }
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::warn!(error = %e, "could not show the notification");
    }
}
