//! What the app remembers between runs, in `settings.json` in the app's
//! config folder: the server, the remembered account's email, the chosen
//! devices, notifications. Never a secret: the refresh token is in the OS
//! keychain (see `session.rs`).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where video comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum VideoInput {
    /// A camera, by name (`None`: the first one).
    #[default]
    Camera,
    /// A camera by name.
    NamedCamera(String),
    /// The moving test pattern (demos, tests, machines without a camera).
    TestPattern,
    /// Send no video.
    None,
}

/// Where our audio comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum AudioInput {
    /// The default microphone.
    #[default]
    Microphone,
    /// A microphone by name.
    NamedMicrophone(String),
    /// A 440 Hz test tone.
    Tone,
    /// Send no audio.
    None,
}

/// Where the other party's audio plays.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum AudioOutput {
    /// The default output device.
    #[default]
    Default,
    /// An output device by name.
    Named(String),
    /// Nowhere (muted speakers).
    None,
}

/// The app's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The signaling server's base URL.
    pub server: String,
    /// The account whose refresh token is in the keychain, if "remember
    /// me" was chosen.
    pub remembered_email: Option<String>,
    /// Camera choice.
    pub video_input: VideoInput,
    /// Microphone choice.
    pub audio_input: AudioInput,
    /// Speaker choice.
    pub audio_output: AudioOutput,
    /// Show OS notifications for incoming calls in the background.
    pub notifications: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server: "http://127.0.0.1:8787".into(),
            remembered_email: None,
            video_input: VideoInput::default(),
            audio_input: AudioInput::default(),
            audio_output: AudioOutput::default(),
            notifications: true,
        }
    }
}

/// Loads and saves [`Settings`] in one file.
#[derive(Debug)]
pub struct SettingsFile {
    path: PathBuf,
}

impl SettingsFile {
    /// The settings file in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        SettingsFile {
            path: dir.join("settings.json"),
        }
    }

    /// The saved settings; defaults when there is no file. A file that
    /// cannot be read as settings is logged and set aside (renamed), not
    /// silently overwritten.
    pub fn load(&self) -> Settings {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Settings::default(),
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot read settings");
                return Settings::default();
            }
        };
        match serde_json::from_str(&text) {
            Ok(settings) => settings,
            Err(e) => {
                let aside = self.path.with_extension("json.unreadable");
                tracing::warn!(path = %self.path.display(), error = %e, "settings unreadable; kept as {}", aside.display());
                let _ = std::fs::rename(&self.path, aside);
                Settings::default()
            }
        }
    }

    /// Saves atomically (a crash mid-write leaves the old file).
    pub fn save(&self, settings: &Settings) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(settings).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_settings_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = SettingsFile::in_dir(dir.path());
        assert_eq!(file.load(), Settings::default());
        let settings = Settings {
            server: "https://clinic.example".into(),
            remembered_email: Some("dr@clinic.example".into()),
            video_input: VideoInput::NamedCamera("USB Camera".into()),
            audio_input: AudioInput::Tone,
            audio_output: AudioOutput::Named("Headset".into()),
            notifications: false,
        };
        file.save(&settings).unwrap();
        assert_eq!(file.load(), settings);
    }

    #[test]
    fn an_unreadable_file_is_set_aside_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let file = SettingsFile::in_dir(dir.path());
        std::fs::write(dir.path().join("settings.json"), "{not json").unwrap();
        assert_eq!(file.load(), Settings::default());
        let aside = std::fs::read_to_string(dir.path().join("settings.json.unreadable")).unwrap();
        assert_eq!(aside, "{not json");
    }

    #[test]
    fn missing_fields_take_defaults() {
        let settings: Settings = serde_json::from_str(r#"{"server":"http://x"}"#).unwrap();
        assert_eq!(settings.server, "http://x");
        assert!(settings.notifications);
        assert_eq!(settings.video_input, VideoInput::Camera);
    }
}
