//! The shell's state: settings, the event hub, the media and, while
//! signed in, the connection. Commands (`commands.rs`) act on it.

use crate::appointments::reminders::OnReminder;
use crate::chat::OnMessage;
use crate::connection::{Connection, OnCall};
use crate::events::EventHub;
use crate::media_io::{AppMedia, MediaChoices};
use crate::settings::{Settings, SettingsFile};
use crate::video::VideoDisplay;
use clinicall_protocol::AppointmentId;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Everything the commands share (managed by Tauri).
pub struct Shell {
    /// The settings file.
    pub settings_file: SettingsFile,
    /// The settings in effect.
    pub settings: Mutex<Settings>,
    /// Events to the window.
    pub hub: Arc<EventHub>,
    /// Video to the window.
    pub display: Arc<VideoDisplay>,
    /// Devices and switches.
    pub media: Arc<AppMedia>,
    /// The signed-in connection, if any.
    pub connection: tokio::sync::Mutex<Option<Connection>>,
    /// Called when a call rings (OS notification when in the background).
    pub on_call: OnCall,
    /// Called when a message arrives (OS notification when in the
    /// background).
    pub on_message: OnMessage,
    /// Called with each visit reminder (an OS notification).
    pub on_reminder: OnReminder,
    /// Where per-account data lives (the account caches).
    pub data_dir: PathBuf,
    /// The pre-call device check, while it runs.
    pub device_check: Mutex<Option<crate::device_check::DeviceCheck>>,
    /// The `clinicall://appointment/<id>` link the app was started with,
    /// until the window takes it.
    launch_appointment: Mutex<Option<AppointmentId>>,
}

/// What the shell calls back into the app with (OS notifications).
pub struct Callbacks {
    /// A call rings.
    pub on_call: OnCall,
    /// A message arrived.
    pub on_message: OnMessage,
    /// A visit is near.
    pub on_reminder: OnReminder,
}

impl Shell {
    /// The shell with its settings in `config_dir` and account data in
    /// `data_dir`, started with the appointment link `launch_appointment`.
    pub fn new(
        config_dir: PathBuf,
        data_dir: PathBuf,
        callbacks: Callbacks,
        launch_appointment: Option<AppointmentId>,
    ) -> Shell {
        let Callbacks {
            on_call,
            on_message,
            on_reminder,
        } = callbacks;
        let settings_file = SettingsFile::in_dir(&config_dir);
        let settings = settings_file.load();
        let hub = Arc::new(EventHub::default());
        let display = Arc::new(VideoDisplay::default());
        let notify_hub = hub.clone();
        let media = Arc::new(AppMedia::new(
            display.clone(),
            Arc::new(move |event| notify_hub.send(event)),
        ));
        media.set_choices(choices_from(&settings));
        Shell {
            settings_file,
            settings: Mutex::new(settings),
            hub,
            display,
            media,
            connection: tokio::sync::Mutex::new(None),
            on_call,
            on_message,
            on_reminder,
            data_dir,
            device_check: Mutex::new(None),
            launch_appointment: Mutex::new(launch_appointment),
        }
    }

    /// The appointment link the app was started with, once.
    pub fn take_launch_appointment(&self) -> Option<AppointmentId> {
        self.launch_appointment
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// A copy of the settings in effect.
    pub fn settings(&self) -> Settings {
        self.settings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the settings, saves them and applies the device choices.
    pub fn update_settings(&self, settings: Settings) -> std::io::Result<()> {
        self.media.set_choices(choices_from(&settings));
        self.settings_file.save(&settings)?;
        *self.settings.lock().unwrap_or_else(|p| p.into_inner()) = settings;
        Ok(())
    }
}

/// The device choices in `settings`.
pub fn choices_from(settings: &Settings) -> MediaChoices {
    MediaChoices {
        video: settings.video_input.clone(),
        audio: settings.audio_input.clone(),
        output: settings.audio_output.clone(),
    }
}
