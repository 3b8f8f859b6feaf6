//! The shell's view of the real devices (in `clinicall-devices`): lists
//! for the pickers, opening what the settings choose, the speaker test.

use crate::settings::{AudioInput, AudioOutput, VideoInput};
use clinicall_devices::audio::{self, Microphone, Speaker};
use clinicall_devices::camera::{self, CameraSource, CaptureRequest};
use clinicall_media::{AudioSink, AudioSource, MediaError, VideoSource};
use serde::Serialize;
use std::time::Duration;

/// What we ask cameras for (the encoder takes what they give).
const CAMERA_REQUEST: CaptureRequest = CaptureRequest {
    width: 1280,
    height: 720,
    fps: 30,
};

/// One device.
#[derive(Debug, Serialize)]
pub struct DeviceInfo {
    /// Its name (also how a choice refers to it).
    pub name: String,
    /// The system's default.
    pub is_default: bool,
}

/// What is present.
#[derive(Debug, Default, Serialize)]
pub struct DeviceList {
    /// Cameras.
    pub cameras: Vec<DeviceInfo>,
    /// Microphones.
    pub microphones: Vec<DeviceInfo>,
    /// Speakers.
    pub speakers: Vec<DeviceInfo>,
}

/// Lists the devices present (an empty list where a kind cannot be
/// listed: the pickers still offer the defaults and synthetic sources).
pub fn list() -> DeviceList {
    let audio = |devices: Result<Vec<audio::AudioDevice>, audio::AudioError>| {
        devices
            .unwrap_or_default()
            .into_iter()
            .map(|d| DeviceInfo {
                name: d.name,
                is_default: d.is_default,
            })
            .collect()
    };
    DeviceList {
        cameras: camera::list_cameras()
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, c)| DeviceInfo {
                name: c.name,
                is_default: i == 0,
            })
            .collect(),
        microphones: audio(audio::input_devices()),
        speakers: audio(audio::output_devices()),
    }
}

fn camera_index(name: &str) -> Result<u32, MediaError> {
    let cameras = camera::list_cameras().map_err(|e| MediaError::Device(Box::new(e)))?;
    cameras
        .into_iter()
        .find(|c| c.name == name)
        .map(|c| c.index)
        .ok_or_else(|| MediaError::Device(Box::new(camera::CameraError::NoCamera { index: None })))
}

/// Opens the camera a choice names (synthetic sources are handled by the
/// caller).
pub fn open_camera(choice: &VideoInput) -> Result<Box<dyn VideoSource>, MediaError> {
    let index = match choice {
        VideoInput::NamedCamera(name) => camera_index(name)?,
        _ => 0,
    };
    let source =
        CameraSource::open(index, CAMERA_REQUEST).map_err(|e| MediaError::Device(Box::new(e)))?;
    Ok(Box::new(source))
}

/// Opens the microphone a choice names.
pub fn open_microphone(choice: &AudioInput) -> Result<Box<dyn AudioSource>, MediaError> {
    let name = match choice {
        AudioInput::NamedMicrophone(name) => Some(name.as_str()),
        _ => None,
    };
    Ok(Box::new(Microphone::open(name)?))
}

/// Opens the speaker a choice names; `None` for "no sound".
pub fn open_speaker(choice: &AudioOutput) -> Result<Option<Box<dyn AudioSink>>, MediaError> {
    let name = match choice {
        AudioOutput::None => return Ok(None),
        AudioOutput::Default => None,
        AudioOutput::Named(name) => Some(name.as_str()),
    };
    Ok(Some(Box::new(Speaker::open(name)?)))
}

/// Plays a one-second 440 Hz tone on `output`.
pub fn play_test_tone(output: &AudioOutput) -> Result<(), String> {
    let name = match output {
        AudioOutput::None => return Err("sound output is turned off in the settings".into()),
        AudioOutput::Default => None,
        AudioOutput::Named(name) => Some(name.as_str()),
    };
    audio::play_test_tone(name, 440.0, Duration::from_secs(1))
        .map(drop)
        .map_err(|e| e.to_string())
}
