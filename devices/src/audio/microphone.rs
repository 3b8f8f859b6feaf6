//! A real microphone as an [`AudioSource`].
//!
//! cpal calls us on its audio thread with whatever the device delivered;
//! the [`CaptureChain`] turns that into 20 ms frames of 48 kHz mono, which
//! wait in a short bounded queue for `next_frame`. If the reader falls
//! behind, new frames are dropped rather than queued into delay. A device
//! failure, or no audio at all for a while, ends `next_frame` with an
//! error instead of blocking forever.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use clinicall_media::{AudioFrame, AudioSource, MediaError};
use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample};

use super::capture::CaptureChain;
use super::device::{self, OpenedDevice};
use super::error::{AudioError, DeviceKind};
use super::format::StreamChoice;
use super::stream::{ErrorReport, FailureSlot, STREAM_TIMEOUT, StreamGuard};

/// Frames waiting for the reader at most (160 ms).
const QUEUE_FRAMES: usize = 8;
/// How long the first frame may take. An idle PulseAudio monitor source
/// starts delivering only ~2 s after the stream starts (shared/PLATFORM.md).
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a running microphone may go without delivering a frame before
/// it counts as stopped (a hundred frames' time: far beyond any scheduling
/// hiccup).
const FRAME_TIMEOUT: Duration = Duration::from_secs(2);

/// A capture device delivering the pipeline's 20 ms, 48 kHz mono frames.
pub struct Microphone {
    frames: Receiver<AudioFrame>,
    failure: FailureSlot,
    dropped: Arc<AtomicU64>,
    started: bool,
    opened: OpenedDevice,
    // Closing it stops the device (see StreamGuard).
    _stream: StreamGuard,
}

impl std::fmt::Debug for Microphone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Microphone")
            .field("opened", &self.opened)
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

impl Microphone {
    /// Opens the default microphone (`None`) or the one whose id or name
    /// is `name`, and starts capturing.
    ///
    /// # Errors
    /// No such device, busy, not allowed, no usable format, or another
    /// backend failure; see [`AudioError`].
    pub fn open(name: Option<&str>) -> Result<Microphone, AudioError> {
        let kind = DeviceKind::Microphone;
        let (device, info) = device::find(kind, name)?;
        let choice = device::negotiate(&device, kind)?;
        let (tx, frames) = sync_channel(QUEUE_FRAMES);
        let failure = FailureSlot::default();
        let dropped = Arc::new(AtomicU64::new(0));
        let feed = Feed {
            tx,
            dropped: dropped.clone(),
        };
        let stream = build(&device, choice, feed, failure.clone())?;
        stream.play().map_err(|e| AudioError::from_cpal(kind, &e))?;
        tracing::info!(device = %info.id, ?choice, "microphone open");
        Ok(Microphone {
            frames,
            failure,
            dropped,
            started: false,
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

    /// Frames dropped because they were not read in time.
    pub fn dropped_frames(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Blocks until the next frame; an error once the device failed or
    /// delivered nothing for too long.
    ///
    /// # Errors
    /// [`AudioError::Stopped`] (or what the backend reported) when the
    /// device stopped.
    pub fn read_frame(&mut self) -> Result<AudioFrame, AudioError> {
        if let Some(failure) = self.failure() {
            return Err(failure);
        }
        let limit = if self.started {
            FRAME_TIMEOUT
        } else {
            FIRST_FRAME_TIMEOUT
        };
        match self.frames.recv_timeout(limit) {
            Ok(frame) => {
                self.started = true;
                Ok(frame)
            }
            Err(RecvTimeoutError::Timeout) => Err(self.failure().unwrap_or(AudioError::Stopped {
                kind: DeviceKind::Microphone,
                detail: format!("no audio from {} for {limit:?}", self.opened.device.id),
            })),
            Err(RecvTimeoutError::Disconnected) => {
                Err(self.failure().unwrap_or(AudioError::Stopped {
                    kind: DeviceKind::Microphone,
                    detail: format!("the stream from {} ended", self.opened.device.id),
                }))
            }
        }
    }

    fn failure(&self) -> Option<AudioError> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl AudioSource for Microphone {
    fn next_frame(&mut self) -> Result<AudioFrame, MediaError> {
        Ok(self.read_frame()?)
    }
}

/// The audio thread's end of the frame queue.
struct Feed {
    tx: SyncSender<AudioFrame>,
    dropped: Arc<AtomicU64>,
}

impl Feed {
    fn send(&self, frame: AudioFrame) {
        match self.tx.try_send(frame) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn build(
    device: &cpal::Device,
    choice: StreamChoice,
    feed: Feed,
    failure: FailureSlot,
) -> Result<cpal::Stream, AudioError> {
    // One monomorphized callback per sample type cpal may hand us.
    match choice.sample_format {
        SampleFormat::F32 => build_typed::<f32>(device, choice, feed, failure),
        SampleFormat::I16 => build_typed::<i16>(device, choice, feed, failure),
        SampleFormat::I32 => build_typed::<i32>(device, choice, feed, failure),
        SampleFormat::I24 => build_typed::<cpal::I24>(device, choice, feed, failure),
        SampleFormat::U16 => build_typed::<u16>(device, choice, feed, failure),
        SampleFormat::F64 => build_typed::<f64>(device, choice, feed, failure),
        SampleFormat::U32 => build_typed::<u32>(device, choice, feed, failure),
        SampleFormat::I8 => build_typed::<i8>(device, choice, feed, failure),
        SampleFormat::U8 => build_typed::<u8>(device, choice, feed, failure),
        other => Err(AudioError::NoUsableFormat {
            kind: DeviceKind::Microphone,
            detail: format!("{other:?} was chosen but is not converted"),
        }),
    }
}

fn build_typed<T>(
    device: &cpal::Device,
    choice: StreamChoice,
    feed: Feed,
    failure: FailureSlot,
) -> Result<cpal::Stream, AudioError>
where
    T: SizedSample + Sample + Send + 'static,
    f32: FromSample<T>,
{
    let mut chain = CaptureChain::new(choice.channels, choice.sample_rate);
    device
        .build_input_stream::<T, _, _>(
            choice.stream_config(),
            move |data: &[T], _| chain.push(data, |frame| feed.send(frame)),
            {
                let mut errors = ErrorReport::new(DeviceKind::Microphone, failure);
                move |error| errors.report(&error)
            },
            Some(STREAM_TIMEOUT),
        )
        .map_err(|e| AudioError::from_cpal(DeviceKind::Microphone, &e))
}
