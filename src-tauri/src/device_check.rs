//! The pre-call device check: a preview of the chosen camera (through the
//! same encoder and display path as a call) and the chosen microphone's
//! level, until stopped.

use crate::events::EventHub;
use crate::media_io::{MediaChoices, open_audio, open_video};
use crate::ui_event::UiEvent;
use crate::video::{Stream, VideoDisplay};
use clinicall_media::{EncodedVideoRef, Vp8Config, Vp8Encoder};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// Microphone level reports per second.
const LEVEL_REPORTS_PER_SECOND: usize = 10;

/// A running device check. Dropping it stops it.
pub struct DeviceCheck {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// Level of 16-bit samples in dBFS (RMS), -100 for silence.
pub fn level_dbfs(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return -100.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (sum / samples.len() as f64).sqrt() / 32768.0;
    if rms <= 1e-5 {
        -100.0
    } else {
        (20.0 * rms.log10()) as f32
    }
}

impl DeviceCheck {
    /// Starts previewing `choices` into `display` and reporting the
    /// microphone level to `hub`. A device that cannot be opened is
    /// reported as a [`UiEvent::DeviceProblem`].
    pub fn start(choices: MediaChoices, display: Arc<VideoDisplay>, hub: Arc<EventHub>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let video = {
            let (stop, hub) = (stop.clone(), hub.clone());
            move || preview_video(&choices.video, &display, &hub, &stop)
        };
        let audio_choice = choices.audio.clone();
        let audio = {
            let stop = stop.clone();
            move || report_levels(&audio_choice, &hub, &stop)
        };
        for (name, body) in [
            (
                "clinicall-check-video",
                Box::new(video) as Box<dyn FnOnce() + Send>,
            ),
            ("clinicall-check-audio", Box::new(audio)),
        ] {
            match std::thread::Builder::new().name(name.into()).spawn(body) {
                Ok(thread) => threads.push(thread),
                Err(e) => tracing::error!(error = %e, "could not start the device check"),
            }
        }
        DeviceCheck { stop, threads }
    }
}

impl Drop for DeviceCheck {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn problem(hub: &EventHub, device: &str, message: String) {
    hub.send(UiEvent::DeviceProblem {
        device: device.into(),
        message,
    });
}

fn preview_video(
    choice: &crate::settings::VideoInput,
    display: &VideoDisplay,
    hub: &EventHub,
    stop: &AtomicBool,
) {
    let mut source = match open_video(choice) {
        Ok(Some(source)) => source,
        Ok(None) => return,
        Err(e) => return problem(hub, "camera", e.to_string()),
    };
    let format = source.format();
    let mut encoder = match Vp8Encoder::new(Vp8Config::new(format.width, format.height, format.fps))
    {
        Ok(encoder) => encoder,
        Err(e) => return problem(hub, "camera", e.to_string()),
    };
    while !stop.load(Ordering::Relaxed) {
        let frame = match source.next_frame() {
            Ok(frame) => frame,
            Err(e) => return problem(hub, "camera", e.to_string()),
        };
        display.decoded(Stream::Local, &frame.view());
        if let Ok(Some(encoded)) = encoder.encode(&frame, false) {
            display.encoded(
                Stream::Local,
                &EncodedVideoRef {
                    data: &encoded.data,
                    keyframe: encoded.keyframe,
                    width: frame.width,
                    height: frame.height,
                },
            );
        }
    }
}

fn report_levels(choice: &crate::settings::AudioInput, hub: &EventHub, stop: &AtomicBool) {
    let mut source = match open_audio(choice) {
        Ok(Some(source)) => source,
        Ok(None) => return,
        Err(e) => return problem(hub, "microphone", e.to_string()),
    };
    let frames_per_report = 50 / LEVEL_REPORTS_PER_SECOND;
    let mut window = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match source.next_frame() {
            Ok(frame) => window.extend_from_slice(&frame.samples),
            Err(e) => return problem(hub, "microphone", e.to_string()),
        }
        if window.len() >= frames_per_report * clinicall_media::FRAME_SAMPLES {
            hub.send(UiEvent::MicLevel {
                dbfs: level_dbfs(&window),
            });
            window.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_in_dbfs() {
        assert_eq!(level_dbfs(&[]), -100.0);
        assert_eq!(level_dbfs(&[0; 960]), -100.0);
        // A full-scale square wave is 0 dBFS; half scale about -6.
        let full: Vec<i16> = (0..960)
            .map(|i| if i % 2 == 0 { i16::MAX } else { -i16::MAX })
            .collect();
        assert!(level_dbfs(&full).abs() < 0.01);
        let half: Vec<i16> = full.iter().map(|s| s / 2).collect();
        assert!((level_dbfs(&half) + 6.02).abs() < 0.05);
    }
}
