//! Microphone capture and speaker playback through cpal, converted to and
//! from the pipeline's 20 ms frames of 48 kHz mono.
//!
//! - [`input_devices`] and [`output_devices`] list what the settings menus
//!   show; [`Microphone::open`] and [`Speaker::open`] take the default
//!   (`None`) or a device's id or name.
//! - [`Microphone`] is an [`AudioSource`](clinicall_media::AudioSource):
//!   `next_frame` blocks for the next frame and fails, never hangs, when
//!   the device stops.
//! - [`Speaker`] is an [`AudioSink`](clinicall_media::AudioSink) behind a
//!   small jitter buffer: late audio plays as silence, excess is dropped,
//!   and the decode thread never waits for the device.
//! - [`Level`] and [`measure`] give the microphone level for the pre-call
//!   check; [`play_test_tone`] plays a tone on a chosen speaker.
//! - Every failure is one [`AudioError`] whose message is written for the
//!   patient.
//!
//! The logic that needs no device (format choice, resampling, downmixing,
//! framing, the jitter buffer, levels) lives in its own modules and is
//! unit-tested here; the cpal modules (`device`, `microphone`, `speaker`)
//! are exercised against a real PulseAudio null sink by the workspace's
//! end-to-end tests (`tests/audio.rs`).
//!
//! ```no_run
//! use clinicall_devices::audio::{Level, Microphone, input_devices, measure};
//!
//! for device in input_devices()? {
//!     println!("{} ({}){}", device.name, device.id, if device.is_default { " *" } else { "" });
//! }
//! let mut microphone = Microphone::open(None)?;
//! // Half a second of audio: is anyone there?
//! let (level, _pcm) = measure(&mut microphone, 25)?;
//! println!("{:.0} dBFS", level.rms_dbfs);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod capture;
mod chunker;
mod convert;
mod device;
mod error;
mod format;
mod jitter;
mod level;
mod microphone;
mod resample;
mod speaker;
mod stream;

pub use capture::CaptureChain;
pub use chunker::FrameChunker;
pub use device::{AudioDevice, OpenedDevice, input_devices, output_devices};
pub use error::{AudioError, DeviceKind};
pub use format::{Direction, PERIOD, StreamChoice, choose as choose_format};
pub use jitter::{CAPACITY_FRAMES, JitterBuffer, PlaybackStats, StallWatch, TARGET_FRAMES};
pub use level::{Level, SILENCE_DBFS, measure};
pub use microphone::Microphone;
pub use resample::Resampler;
pub use speaker::{Speaker, play_test_tone};
