//! A real speaker as an [`AudioSink`].
//!
//! The decode thread calls [`Speaker::play`] (or `on_audio`) with 48 kHz
//! mono PCM; it is resampled to the device's rate there and queued in a
//! [`JitterBuffer`]. cpal's audio thread takes from the buffer on the
//! device's clock and writes every channel in the device's format. The
//! two sides share only that buffer, each holding its lock for a copy, so
//! neither waits on the other's work: a stalled device never backs up the
//! decoder, and a late packet is silence, not a stall.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use clinicall_media::{AudioSink, FRAME_DURATION, SAMPLE_RATE, ToneSource};
use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample};

use super::convert::{i16_to_f32, upmix_from_mono};
use super::device::{self, OpenedDevice};
use super::error::{AudioError, DeviceKind};
use super::format::StreamChoice;
use super::jitter::{JitterBuffer, PlaybackStats, StallWatch};
use super::resample::Resampler;
use super::stream::{ErrorReport, FailureSlot, STREAM_TIMEOUT, StreamGuard};

type Shared = Arc<Mutex<JitterBuffer>>;

/// How long the device may take no audio at all before it counts as
/// stopped (the same as a microphone's silence limit).
const STALL_LIMIT: Duration = Duration::from_secs(2);

fn lock(buffer: &Shared) -> MutexGuard<'_, JitterBuffer> {
    buffer.lock().unwrap_or_else(|p| p.into_inner())
}

/// A playback device fed 48 kHz mono PCM.
pub struct Speaker {
    buffer: Shared,
    resampler: Resampler,
    mono: Vec<f32>,
    resampled: Vec<f32>,
    failure: FailureSlot,
    stall: StallWatch,
    opened: OpenedDevice,
    // Closing it stops the device (see StreamGuard).
    _stream: StreamGuard,
}

impl std::fmt::Debug for Speaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speaker")
            .field("opened", &self.opened)
            .finish_non_exhaustive()
    }
}

impl Speaker {
    /// Opens the default speaker (`None`) or the one whose id or name is
    /// `name`, and starts it (playing silence until audio comes).
    ///
    /// # Errors
    /// No such device, busy, not allowed, no usable format, or another
    /// backend failure; see [`AudioError`].
    pub fn open(name: Option<&str>) -> Result<Speaker, AudioError> {
        let kind = DeviceKind::Speaker;
        let (device, info) = device::find(kind, name)?;
        let choice = device::negotiate(&device, kind)?;
        let buffer: Shared = Arc::new(Mutex::new(JitterBuffer::for_rate(choice.sample_rate)));
        let failure = FailureSlot::default();
        let stream = build(&device, choice, buffer.clone(), failure.clone())?;
        stream.play().map_err(|e| AudioError::from_cpal(kind, &e))?;
        tracing::info!(device = %info.id, ?choice, "speaker open");
        Ok(Speaker {
            buffer,
            resampler: Resampler::new(SAMPLE_RATE, choice.sample_rate),
            mono: Vec::new(),
            resampled: Vec::new(),
            failure,
            stall: StallWatch::new(STALL_LIMIT, std::time::Instant::now()),
            opened: OpenedDevice {
                device: info,
                channels: choice.channels,
                sample_rate: choice.sample_rate,
                sample_format: format!("{:?}", choice.sample_format),
            },
            _stream: StreamGuard::new(stream),
        })
    }

    /// Which device is open, and in what format.
    pub fn device(&self) -> &OpenedDevice {
        &self.opened
    }

    /// Queues 48 kHz mono PCM for playing. Never blocks on the device.
    /// Notices here when the device has stopped taking audio (see
    /// [`Speaker::failure`]).
    pub fn play(&mut self, pcm: &[i16]) {
        self.mono.clear();
        self.mono.extend(pcm.iter().map(|&s| i16_to_f32(s)));
        self.resampled.clear();
        self.resampler.process(&self.mono, &mut self.resampled);
        let stats = {
            let mut buffer = lock(&self.buffer);
            buffer.push(&self.resampled);
            buffer.stats()
        };
        if self.stall.is_stalled(stats, std::time::Instant::now()) {
            let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
            failure.get_or_insert_with(|| AudioError::Stopped {
                kind: DeviceKind::Speaker,
                detail: format!(
                    "{} took no audio for {STALL_LIMIT:?}",
                    self.opened.device.id
                ),
            });
        }
    }

    /// Underruns, overruns and samples played so far.
    pub fn stats(&self) -> PlaybackStats {
        lock(&self.buffer).stats()
    }

    /// Audio queued and not yet handed to the device.
    pub fn queued(&self) -> Duration {
        let samples = lock(&self.buffer).buffered() as f64;
        Duration::from_secs_f64(samples / f64::from(self.opened.sample_rate))
    }

    /// The error that stopped the device, if it stopped.
    pub fn failure(&self) -> Option<AudioError> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl AudioSink for Speaker {
    fn on_audio(&mut self, pcm: &[i16]) {
        self.play(pcm);
    }
}

/// Plays a sine tone of `freq_hz` on the default speaker (`None`) or the
/// named one for `duration`: the app's "can you hear this?" check. Blocks
/// until the tone has been handed to the device.
///
/// # Errors
/// When the speaker cannot be opened, or fails while playing.
pub fn play_test_tone(
    name: Option<&str>,
    freq_hz: f32,
    duration: Duration,
) -> Result<OpenedDevice, AudioError> {
    let mut speaker = Speaker::open(name)?;
    // Quiet enough not to startle someone wearing headphones.
    let mut tone = ToneSource::new(freq_hz.clamp(20.0, 20_000.0), 0.2);
    let frames = duration.as_millis().div_ceil(FRAME_DURATION.as_millis());
    for _ in 0..frames {
        // The tone paces itself at 20 ms a frame, like a decoder would.
        let Ok(frame) = clinicall_media::AudioSource::next_frame(&mut tone) else {
            break;
        };
        speaker.play(&frame.samples);
        if let Some(failure) = speaker.failure() {
            return Err(failure);
        }
    }
    // Let the queue drain into the device before closing it.
    std::thread::sleep(speaker.queued() + FRAME_DURATION * 2);
    match speaker.failure() {
        Some(failure) => Err(failure),
        None => Ok(speaker.opened.clone()),
    }
}

fn build(
    device: &cpal::Device,
    choice: StreamChoice,
    buffer: Shared,
    failure: FailureSlot,
) -> Result<cpal::Stream, AudioError> {
    // One monomorphized callback per sample type cpal may ask for.
    match choice.sample_format {
        SampleFormat::F32 => build_typed::<f32>(device, choice, buffer, failure),
        SampleFormat::I16 => build_typed::<i16>(device, choice, buffer, failure),
        SampleFormat::I32 => build_typed::<i32>(device, choice, buffer, failure),
        SampleFormat::I24 => build_typed::<cpal::I24>(device, choice, buffer, failure),
        SampleFormat::U16 => build_typed::<u16>(device, choice, buffer, failure),
        SampleFormat::F64 => build_typed::<f64>(device, choice, buffer, failure),
        SampleFormat::U32 => build_typed::<u32>(device, choice, buffer, failure),
        SampleFormat::I8 => build_typed::<i8>(device, choice, buffer, failure),
        SampleFormat::U8 => build_typed::<u8>(device, choice, buffer, failure),
        other => Err(AudioError::NoUsableFormat {
            kind: DeviceKind::Speaker,
            detail: format!("{other:?} was chosen but is not converted"),
        }),
    }
}

fn build_typed<T>(
    device: &cpal::Device,
    choice: StreamChoice,
    buffer: Shared,
    failure: FailureSlot,
) -> Result<cpal::Stream, AudioError>
where
    T: SizedSample + Sample + FromSample<f32> + Send + 'static,
{
    let channels = usize::from(choice.channels.max(1));
    let mut mono: Vec<f32> = Vec::new();
    device
        .build_output_stream::<T, _, _>(
            choice.stream_config(),
            move |out: &mut [T], _| {
                // Sized once for the device's period; later calls reuse it.
                mono.resize(out.len() / channels, 0.0);
                lock(&buffer).pop_into(&mut mono);
                upmix_from_mono(&mono, channels, out);
            },
            {
                let mut errors = ErrorReport::new(DeviceKind::Speaker, failure);
                move |error| errors.report(&error)
            },
            Some(STREAM_TIMEOUT),
        )
        .map_err(|e| AudioError::from_cpal(DeviceKind::Speaker, &e))
}
