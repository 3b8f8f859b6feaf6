//! Finding devices through cpal: the lists the app's settings show, and
//! the device and configuration a microphone or speaker opens.

use cpal::traits::{DeviceTrait, HostTrait};

use super::error::{AudioError, DeviceKind};
use super::format::{self, Direction, StreamChoice};

/// One microphone or speaker, as the app's device menus show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioDevice {
    /// The backend's stable identifier (on Linux the ALSA PCM name, such as
    /// `default`, `pulse` or `hw:CARD=0,DEV=0`). Opening by it always
    /// finds this device.
    pub id: String,
    /// A readable name ("PulseAudio Sound Server"); falls back to the id.
    pub name: String,
    /// Whether this is the system's default device for its direction.
    pub is_default: bool,
}

/// A device opened for streaming, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedDevice {
    /// Which device.
    pub device: AudioDevice,
    /// Interleaved channels of the stream.
    pub channels: u16,
    /// The stream's sample rate (converted to and from 48 kHz by us).
    pub sample_rate: u32,
    /// The stream's sample format, as cpal names it ("I16", "F32", ...).
    pub sample_format: String,
}

/// Every capture device, the default first.
///
/// # Errors
/// When the sound system cannot be asked at all.
pub fn input_devices() -> Result<Vec<AudioDevice>, AudioError> {
    list(DeviceKind::Microphone)
}

/// Every playback device, the default first.
///
/// # Errors
/// When the sound system cannot be asked at all.
pub fn output_devices() -> Result<Vec<AudioDevice>, AudioError> {
    list(DeviceKind::Speaker)
}

fn list(kind: DeviceKind) -> Result<Vec<AudioDevice>, AudioError> {
    let host = cpal::default_host();
    let default = default_device(&host, kind);
    let default_id = default.as_ref().map(device_id);
    let mut devices: Vec<AudioDevice> = candidates(&host, kind)?
        .iter()
        .map(|d| describe(d, default_id.as_deref()))
        .collect();
    // The default may be a virtual device the enumeration leaves out
    // (ALSA lists only PCMs with a hint); it is still what most people use.
    if let Some(default) = &default
        && !devices.iter().any(|d| d.is_default)
    {
        devices.push(describe(default, default_id.as_deref()));
    }
    // Stable: the backend's order otherwise.
    devices.sort_by_key(|d| !d.is_default);
    Ok(devices)
}

fn candidates(host: &cpal::Host, kind: DeviceKind) -> Result<Vec<cpal::Device>, AudioError> {
    let devices = match kind {
        DeviceKind::Microphone => host.input_devices().map(|d| d.collect()),
        DeviceKind::Speaker => host.output_devices().map(|d| d.collect()),
    };
    devices.map_err(|e| AudioError::from_cpal(kind, &e))
}

fn default_device(host: &cpal::Host, kind: DeviceKind) -> Option<cpal::Device> {
    match kind {
        DeviceKind::Microphone => host.default_input_device(),
        DeviceKind::Speaker => host.default_output_device(),
    }
}

fn device_id(device: &cpal::Device) -> String {
    device
        .id()
        .map(|id| id.id().to_owned())
        .unwrap_or_else(|_| device.to_string())
}

fn describe(device: &cpal::Device, default_id: Option<&str>) -> AudioDevice {
    let id = device_id(device);
    let name = device
        .description()
        .map(|d| d.name().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| id.clone());
    AudioDevice {
        is_default: Some(id.as_str()) == default_id,
        id,
        name,
    }
}

/// The device to open: the default, or the one whose id or name (ignoring
/// case) is `wanted`.
pub(crate) fn find(
    kind: DeviceKind,
    wanted: Option<&str>,
) -> Result<(cpal::Device, AudioDevice), AudioError> {
    let host = cpal::default_host();
    let default = default_device(&host, kind);
    let default_id = default.as_ref().map(device_id);
    let not_found = || AudioError::NoSuchDevice {
        kind,
        wanted: wanted.map(str::to_owned),
    };
    let Some(wanted) = wanted else {
        let device = default.ok_or_else(not_found)?;
        let info = describe(&device, default_id.as_deref());
        return Ok((device, info));
    };
    let mut all = candidates(&host, kind)?;
    all.extend(default);
    let described: Vec<AudioDevice> = all
        .iter()
        .map(|d| describe(d, default_id.as_deref()))
        .collect();
    let index = described
        .iter()
        .position(|d| d.id == wanted)
        .or_else(|| {
            described
                .iter()
                .position(|d| d.name.eq_ignore_ascii_case(wanted))
        })
        .ok_or_else(not_found)?;
    Ok((all.swap_remove(index), described[index].clone()))
}

/// What to open `device` with.
pub(crate) fn negotiate(
    device: &cpal::Device,
    kind: DeviceKind,
) -> Result<StreamChoice, AudioError> {
    let (ranges, direction) = match kind {
        DeviceKind::Microphone => (
            device
                .supported_input_configs()
                .map(|r| r.collect::<Vec<_>>()),
            Direction::Capture,
        ),
        DeviceKind::Speaker => (
            device
                .supported_output_configs()
                .map(|r| r.collect::<Vec<_>>()),
            Direction::Playback,
        ),
    };
    let ranges = ranges.map_err(|e| match e.kind() {
        // The device exists but cannot do this direction (an output-only
        // card asked for a microphone): for the patient, no such device.
        cpal::ErrorKind::UnsupportedOperation => AudioError::NoSuchDevice {
            kind,
            wanted: Some(device.to_string()),
        },
        _ => AudioError::from_cpal(kind, &e),
    })?;
    format::choose(&ranges, direction).ok_or_else(|| AudioError::NoUsableFormat {
        kind,
        detail: format::describe(&ranges),
    })
}
