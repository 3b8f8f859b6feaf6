//! Real sound devices for the headless client (`--audio microphone`,
//! `--speaker`): so real calls exercise the same device code as the app,
//! and admins can check a machine's microphone and speakers.
//!
//! A device that cannot be opened, or fails mid-call, is reported as one
//! `warning` JSON line and the call goes on without it.

use clinicall_devices::audio::{
    AudioDevice, AudioError, DeviceKind, Microphone, OpenedDevice, Speaker, input_devices,
    output_devices,
};
use clinicall_media::{AudioSink, AudioSource, MediaError};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

use crate::media_io::{Reception, lock};

/// Opens the microphone for a call: announces it, or warns and fails.
pub fn open_microphone(name: Option<&str>) -> Result<Box<dyn AudioSource>, MediaError> {
    match Microphone::open(name) {
        Ok(microphone) => {
            crate::print(opened_line("input", microphone.device()));
            Ok(Box::new(WarnOnFailure {
                microphone,
                warned: false,
            }))
        }
        Err(error) => {
            crate::print(warning_line(&error));
            Err(error.into())
        }
    }
}

/// A microphone that says so on stdout when it stops mid-call (the media
/// pipeline then stops sending audio).
struct WarnOnFailure {
    microphone: Microphone,
    warned: bool,
}

impl AudioSource for WarnOnFailure {
    fn next_frame(&mut self) -> Result<clinicall_media::AudioFrame, MediaError> {
        self.microphone.read_frame().map_err(|error| {
            if !std::mem::replace(&mut self.warned, true) {
                crate::print(warning_line(&error));
            }
            error.into()
        })
    }
}

/// The received audio's sink with `--speaker`: measured like without it,
/// and played on the speaker, opened with the first audio.
pub struct SpeakerSink {
    wanted: Option<String>,
    state: SpeakerState,
    reception: Arc<Mutex<Reception>>,
}

enum SpeakerState {
    Unopened,
    Open(Box<Speaker>),
    Failed,
}

impl SpeakerSink {
    /// Plays on the default speaker (`None`) or the named one.
    pub fn new(wanted: Option<String>, reception: Arc<Mutex<Reception>>) -> Self {
        SpeakerSink {
            wanted,
            state: SpeakerState::Unopened,
            reception,
        }
    }
}

impl AudioSink for SpeakerSink {
    fn on_audio(&mut self, pcm: &[i16]) {
        lock(&self.reception).on_audio(pcm);
        if let SpeakerState::Unopened = self.state {
            self.state = match Speaker::open(self.wanted.as_deref()) {
                Ok(speaker) => {
                    crate::print(opened_line("output", speaker.device()));
                    SpeakerState::Open(Box::new(speaker))
                }
                Err(error) => {
                    crate::print(warning_line(&error));
                    SpeakerState::Failed
                }
            };
        }
        let SpeakerState::Open(speaker) = &mut self.state else {
            return;
        };
        speaker.play(pcm);
        if let Some(error) = speaker.failure() {
            crate::print(warning_line(&error));
            self.state = SpeakerState::Failed;
            return;
        }
        lock(&self.reception).set_playback(speaker.stats(), speaker.device().sample_rate);
    }
}

fn opened_line(direction: &str, opened: &OpenedDevice) -> Value {
    json!({
        "event": "audio_device", "direction": direction,
        "id": opened.device.id, "name": opened.device.name, "default": opened.device.is_default,
        "channels": opened.channels, "sample_rate": opened.sample_rate,
        "sample_format": opened.sample_format,
    })
}

/// The `warning` line: the patient's message, the technical detail, and
/// for a name that matched nothing, the names that exist.
fn warning_line(error: &AudioError) -> Value {
    let kind = error.kind();
    let mut line = json!({
        "event": "warning", "device": kind.to_string(),
        "message": error.to_string(), "detail": error.detail(),
    });
    if let AudioError::NoSuchDevice { .. } = error {
        let listed = match kind {
            DeviceKind::Microphone => input_devices(),
            _ => output_devices(),
        };
        let names: Vec<Value> = listed
            .unwrap_or_default()
            .iter()
            .map(|AudioDevice { id, name, .. }| json!({"id": id, "name": name}))
            .collect();
        line["available"] = Value::Array(names);
    }
    line
}
