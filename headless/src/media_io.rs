//! What the headless client sends (synthetic or file media, or a real
//! camera) and what it checks in what it receives: the frame stamps of a test pattern (which
//! frame, how late) and the dominant frequency of the audio.

use crate::audio_devices::{SpeakerSink, open_microphone};
use clinicall_client_core::media::MediaIo;
use clinicall_devices::audio::PlaybackStats;
use clinicall_devices::camera::{CameraSource, CaptureRequest};
use clinicall_media::{
    AudioSink, AudioSource, MediaError, SAMPLE_RATE, TestPattern, ToneSource, VideoFrameRef,
    VideoSink, VideoSource, WavSource, Y4mSource, dominant_frequency, read_stamp,
};
use clinicall_protocol::CallId;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

/// The video to send.
#[derive(Clone, Debug)]
pub enum VideoChoice {
    /// None: receive only.
    None,
    /// The moving, stamped test pattern.
    TestPattern { width: u32, height: u32, fps: u32 },
    /// A Y4M file, looped.
    File(PathBuf),
    /// A camera, in the mode closest to `request`. If it cannot be opened,
    /// a `warning` line says why and the call goes on without our video.
    Camera { index: u32, request: CaptureRequest },
}

/// The audio to send.
#[derive(Clone, Debug)]
pub enum AudioChoice {
    /// None: receive only.
    None,
    /// A sine tone of this frequency.
    Tone(f32),
    /// A WAV file, looped.
    File(PathBuf),
    /// A real microphone: the default, or the one with this id or name.
    Microphone(Option<String>),
}

/// Where received audio goes besides being measured.
#[derive(Clone, Debug)]
pub enum SpeakerChoice {
    /// Nowhere: measured only.
    None,
    /// A real speaker: the default, or the one with this id or name.
    Device(Option<String>),
}

/// The headless client's [`MediaIo`].
#[derive(Debug)]
pub struct HeadlessMedia {
    video: VideoChoice,
    audio: AudioChoice,
    speaker: SpeakerChoice,
    calls: Mutex<HashMap<CallId, Arc<Mutex<Reception>>>>,
}

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl HeadlessMedia {
    pub fn new(video: VideoChoice, audio: AudioChoice, speaker: SpeakerChoice) -> Self {
        HeadlessMedia {
            video,
            audio,
            speaker,
            calls: Mutex::new(HashMap::new()),
        }
    }

    /// What has been received on `call_id` so far (created on first use,
    /// so the accept time can be marked before media starts).
    pub fn reception(&self, call_id: CallId) -> Arc<Mutex<Reception>> {
        lock(&self.calls).entry(call_id).or_default().clone()
    }

    /// Forgets a finished call's reception.
    pub fn forget(&self, call_id: CallId) -> Option<Reception> {
        let reception = lock(&self.calls).remove(&call_id)?;
        Some(std::mem::take(&mut *lock(&reception)))
    }
}

impl MediaIo for HeadlessMedia {
    fn open_video_source(
        &self,
        call_id: CallId,
    ) -> Result<Option<Box<dyn VideoSource>>, MediaError> {
        Ok(match &self.video {
            VideoChoice::None => None,
            VideoChoice::TestPattern { width, height, fps } => {
                Some(Box::new(TestPattern::new(*width, *height, *fps)))
            }
            VideoChoice::File(path) => Some(Box::new(Y4mSource::open(path)?)),
            VideoChoice::Camera { index, request } => {
                Some(Box::new(open_camera(call_id, *index, *request)?))
            }
        })
    }

    fn open_audio_source(
        &self,
        _call_id: CallId,
    ) -> Result<Option<Box<dyn AudioSource>>, MediaError> {
        Ok(match &self.audio {
            AudioChoice::None => None,
            AudioChoice::Tone(hz) => Some(Box::new(ToneSource::new(*hz, 0.3))),
            AudioChoice::File(path) => Some(Box::new(WavSource::open(path)?)),
            AudioChoice::Microphone(name) => Some(open_microphone(name.as_deref())?),
        })
    }

    fn video_sink(&self, call_id: CallId) -> Box<dyn VideoSink> {
        let reception = self.reception(call_id);
        Box::new(move |frame: &VideoFrameRef<'_>| lock(&reception).on_frame(frame))
    }

    fn audio_sink(&self, call_id: CallId) -> Box<dyn AudioSink> {
        let reception = self.reception(call_id);
        match &self.speaker {
            SpeakerChoice::None => Box::new(move |pcm: &[i16]| lock(&reception).on_audio(pcm)),
            SpeakerChoice::Device(name) => Box::new(SpeakerSink::new(name.clone(), reception)),
        }
    }
}

/// Opens the camera and says on stdout what came of it: a `camera` line
/// with the mode it captures in, or a `warning` line with the reason (the
/// pipeline then sends no video; the call goes on).
fn open_camera(
    call_id: CallId,
    index: u32,
    request: CaptureRequest,
) -> Result<CameraSource, MediaError> {
    match CameraSource::open(index, request) {
        Ok(camera) => {
            let mode = camera.capture_format();
            crate::print(json!({
                "event": "camera", "call_id": call_id, "index": index, "name": camera.name(),
                "width": mode.width(), "height": mode.height(), "fps": mode.frame_rate(),
                "pixel_format": mode.format().to_string(),
            }));
            Ok(camera)
        }
        Err(e) => {
            crate::print(json!({
                "event": "warning", "call_id": call_id, "source": "camera", "index": index,
                "code": e.code(), "message": e.to_string(),
            }));
            Err(e.into())
        }
    }
}

/// Most latency samples kept per call (a 30 fps call fills this in ~9 min;
/// later frames are counted but not kept).
const MAX_LATENCIES: usize = 16_384;

/// What one call received.
#[derive(Debug, Default)]
pub struct Reception {
    /// When the call was accepted (set by the runner).
    accepted_at: Option<Instant>,
    first_frame_at: Option<Instant>,
    frames: u64,
    stamped: u64,
    first_counter: Option<u32>,
    last_counter: Option<u32>,
    /// Frames whose counter was not above the previous one.
    counter_regressions: u64,
    width: u32,
    height: u32,
    latencies_ms: Vec<f64>,
    audio_window: Vec<i16>,
    audio_samples: u64,
    /// Dominant frequency of each full second of received audio.
    audio_frequencies: Vec<Option<f32>>,
    /// With `--speaker`: what playing it did, and the device's rate.
    playback: Option<(PlaybackStats, u32)>,
}

impl Reception {
    /// Marks the moment the call was accepted (setup time starts here).
    pub fn mark_accepted(&mut self, at: Instant) {
        self.accepted_at.get_or_insert(at);
    }

    fn on_frame(&mut self, frame: &VideoFrameRef<'_>) {
        let now = Instant::now();
        self.first_frame_at.get_or_insert(now);
        self.frames += 1;
        self.width = frame.width;
        self.height = frame.height;
        let Some(stamp) = read_stamp(frame) else {
            return;
        };
        self.stamped += 1;
        if let Some(latency) = stamp.latency(SystemTime::now())
            && self.latencies_ms.len() < MAX_LATENCIES
        {
            self.latencies_ms.push(latency.as_secs_f64() * 1000.0);
        }
        if let Some(last) = self.last_counter
            && stamp.counter <= last
        {
            self.counter_regressions += 1;
        }
        self.first_counter.get_or_insert(stamp.counter);
        self.last_counter = Some(stamp.counter);
    }

    /// Records what the speaker did with the audio so far.
    pub fn set_playback(&mut self, stats: PlaybackStats, sample_rate: u32) {
        self.playback = Some((stats, sample_rate));
    }

    pub fn on_audio(&mut self, pcm: &[i16]) {
        self.audio_samples += pcm.len() as u64;
        self.audio_window.extend_from_slice(pcm);
        let second = SAMPLE_RATE as usize;
        while self.audio_window.len() >= second {
            let frequency = dominant_frequency(&self.audio_window[..second], SAMPLE_RATE);
            self.audio_frequencies.push(frequency);
            self.audio_window.drain(..second);
        }
    }

    /// The running figures, for the periodic `stats` line.
    pub fn progress(&self) -> Value {
        json!({
            "frames_decoded": self.frames,
            "last_counter": self.last_counter,
            "width": self.width,
            "height": self.height,
            "last_latency_ms": self.latencies_ms.last().map(|ms| round2(*ms)),
            "audio_hz": self.audio_frequencies.last().copied().flatten(),
        })
    }

    /// The whole call's figures, for the `media_summary` line.
    pub fn summary(&self) -> Value {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let pct = |p: f64| -> Option<f64> {
            if sorted.is_empty() {
                return None;
            }
            let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
            Some(round2(sorted[i]))
        };
        let setup_ms = match (self.accepted_at, self.first_frame_at) {
            (Some(accepted), Some(first)) => Some(round2(
                first.saturating_duration_since(accepted).as_secs_f64() * 1000.0,
            )),
            _ => None,
        };
        json!({
            "frames_decoded": self.frames,
            "stamped_frames": self.stamped,
            "first_counter": self.first_counter,
            "last_counter": self.last_counter,
            "counter_regressions": self.counter_regressions,
            "width": self.width,
            "height": self.height,
            "setup_ms": setup_ms,
            "latency_ms": {"p50": pct(0.5), "p95": pct(0.95), "max": pct(1.0)},
            "audio_seconds": self.audio_samples as f64 / f64::from(SAMPLE_RATE),
            "audio_frequencies_hz": self.audio_frequencies,
            "speaker": self.playback.map(|(stats, rate)| {
                let seconds = |samples: u64| round2(samples as f64 / f64::from(rate.max(1)));
                json!({
                    "played_seconds": seconds(stats.played_samples),
                    "silent_seconds": seconds(stats.silent_samples),
                    "dropped_seconds": seconds(stats.dropped_samples),
                    "underruns": stats.underruns,
                })
            }),
        })
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reception_reads_stamps_and_tone() {
        let mut pattern = TestPattern::new(320, 240, 30).unpaced();
        let mut reception = Reception::default();
        reception.mark_accepted(Instant::now());
        for _ in 0..5 {
            let frame = pattern.next_frame().unwrap();
            reception.on_frame(&frame.view());
        }
        let mut tone = ToneSource::new(880.0, 0.3).unpaced();
        for _ in 0..50 {
            reception.on_audio(&tone.next_frame().unwrap().samples);
        }
        let summary = reception.summary();
        assert_eq!(summary["frames_decoded"], 5);
        assert_eq!(summary["stamped_frames"], 5);
        assert_eq!(summary["counter_regressions"], 0);
        assert_eq!(
            summary["last_counter"].as_u64().unwrap() - summary["first_counter"].as_u64().unwrap(),
            4
        );
        assert!(summary["setup_ms"].as_f64().is_some());
        let hz = summary["audio_frequencies_hz"][0].as_f64().unwrap();
        assert!((hz - 880.0).abs() < 5.0, "{hz}");
    }
}
