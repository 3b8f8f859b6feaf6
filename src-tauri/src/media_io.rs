//! The app's media: what the chosen devices (or the synthetic sources)
//! send, the mute and camera-off switches, and where received media goes
//! (the speaker, and the window through [`VideoDisplay`]).

use crate::settings::{AudioInput, AudioOutput, VideoInput};
use crate::ui_event::UiEvent;
use crate::video::{Stream, VideoDisplay};
use clinicall_client_core::media::MediaIo;
use clinicall_media::{
    AudioFrame, AudioSink, AudioSource, EncodedVideoRef, EncodedVideoSink, MediaError, TestPattern,
    ToneSource, VideoFormat, VideoFrame, VideoFrameRef, VideoSink, VideoSource,
};
use clinicall_protocol::CallId;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Size and rate we ask cameras for, and the test pattern's.
pub const CALL_VIDEO: VideoFormat = VideoFormat {
    width: 1280,
    height: 720,
    fps: 30,
};

/// Frequency of the synthetic audio source.
pub const TONE_HZ: f32 = 440.0;

/// The device choices in effect for the next call.
#[derive(Clone, Debug, Default)]
pub struct MediaChoices {
    /// Camera or synthetic video.
    pub video: VideoInput,
    /// Microphone or tone.
    pub audio: AudioInput,
    /// Speaker.
    pub output: AudioOutput,
}

type Notify = Arc<dyn Fn(UiEvent) + Send + Sync>;

/// The app's [`MediaIo`].
pub struct AppMedia {
    choices: Mutex<MediaChoices>,
    /// Our microphone is muted: silence is sent.
    pub muted: Arc<AtomicBool>,
    /// Our camera is off: black frames are sent.
    pub camera_off: Arc<AtomicBool>,
    display: Arc<VideoDisplay>,
    notify: Notify,
}

impl AppMedia {
    /// Media for `display`, reporting device problems through `notify`.
    pub fn new(display: Arc<VideoDisplay>, notify: Notify) -> Self {
        AppMedia {
            choices: Mutex::default(),
            muted: Arc::default(),
            camera_off: Arc::default(),
            display,
            notify,
        }
    }

    /// Uses these devices from the next call on.
    pub fn set_choices(&self, choices: MediaChoices) {
        *self.choices.lock().unwrap_or_else(|p| p.into_inner()) = choices;
    }

    fn choices(&self) -> MediaChoices {
        self.choices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn problem(&self, device: &str, error: &dyn std::fmt::Display) {
        tracing::warn!(device, error = %error, "device unavailable; the call goes on without it");
        (self.notify)(UiEvent::DeviceProblem {
            device: device.into(),
            message: error.to_string(),
        });
    }
}

/// Opens the video source for a choice.
pub fn open_video(choice: &VideoInput) -> Result<Option<Box<dyn VideoSource>>, MediaError> {
    match choice {
        VideoInput::None => Ok(None),
        VideoInput::TestPattern => Ok(Some(Box::new(TestPattern::new(
            CALL_VIDEO.width,
            CALL_VIDEO.height,
            CALL_VIDEO.fps,
        )))),
        VideoInput::Camera | VideoInput::NamedCamera(_) => {
            Err(MediaError::InvalidArgument("no camera was found".into()))
        }
    }
}

/// Opens the audio source for a choice.
pub fn open_audio(choice: &AudioInput) -> Result<Option<Box<dyn AudioSource>>, MediaError> {
    match choice {
        AudioInput::None => Ok(None),
        AudioInput::Tone => Ok(Some(Box::new(ToneSource::new(TONE_HZ, 0.3)))),
        AudioInput::Microphone | AudioInput::NamedMicrophone(_) => {
            crate::devices::open_microphone(choice).map(Some)
        }
    }
}

impl MediaIo for AppMedia {
    fn open_video_source(
        &self,
        _call_id: CallId,
    ) -> Result<Option<Box<dyn VideoSource>>, MediaError> {
        match open_video(&self.choices().video) {
            Ok(Some(source)) => Ok(Some(Box::new(SelfView {
                inner: source,
                off: self.camera_off.clone(),
                display: self.display.clone(),
            }))),
            Ok(None) => Ok(None),
            Err(e) => {
                self.problem("camera", &e);
                Ok(None)
            }
        }
    }

    fn open_audio_source(
        &self,
        _call_id: CallId,
    ) -> Result<Option<Box<dyn AudioSource>>, MediaError> {
        match open_audio(&self.choices().audio) {
            Ok(Some(source)) => Ok(Some(Box::new(Mutable {
                inner: source,
                muted: self.muted.clone(),
            }))),
            Ok(None) => Ok(None),
            Err(e) => {
                self.problem("microphone", &e);
                Ok(None)
            }
        }
    }

    fn video_sink(&self, _call_id: CallId) -> Box<dyn VideoSink> {
        let display = self.display.clone();
        Box::new(move |frame: &VideoFrameRef<'_>| display.decoded(Stream::Remote, frame))
    }

    fn audio_sink(&self, _call_id: CallId) -> Box<dyn AudioSink> {
        match crate::devices::open_speaker(&self.choices().output) {
            Ok(Some(speaker)) => speaker,
            Ok(None) => Box::new(|_: &[i16]| {}),
            Err(e) => {
                self.problem("speaker", &e);
                Box::new(|_: &[i16]| {})
            }
        }
    }

    fn remote_encoded_video(&self, _call_id: CallId) -> Option<Box<dyn EncodedVideoSink>> {
        let display = self.display.clone();
        Some(Box::new(move |frame: &EncodedVideoRef<'_>| {
            display.encoded(Stream::Remote, frame)
        }))
    }

    fn local_encoded_video(&self, _call_id: CallId) -> Option<Box<dyn EncodedVideoSink>> {
        let display = self.display.clone();
        Some(Box::new(move |frame: &EncodedVideoRef<'_>| {
            display.encoded(Stream::Local, frame)
        }))
    }
}

/// Our video: black while the camera is off; shown in the self view when
/// the window takes raw frames (otherwise the encoded tap shows it).
struct SelfView {
    inner: Box<dyn VideoSource>,
    off: Arc<AtomicBool>,
    display: Arc<VideoDisplay>,
}

impl VideoSource for SelfView {
    fn format(&self) -> VideoFormat {
        self.inner.format()
    }

    fn next_frame(&mut self) -> Result<VideoFrame, MediaError> {
        let frame = self.inner.next_frame()?;
        let frame = if self.off.load(Ordering::Relaxed) {
            // Keep the stream (and the other side's decoder) going; a
            // black picture costs a few hundred bytes per frame.
            let mut black = VideoFrame::new_black(frame.width, frame.height);
            black.pts = frame.pts;
            black
        } else {
            frame
        };
        self.display.decoded(Stream::Local, &frame.view());
        Ok(frame)
    }
}

/// Our audio: silence while muted (the stream goes on, so unmuting is
/// instant and the other side's jitter handling is undisturbed).
struct Mutable {
    inner: Box<dyn AudioSource>,
    muted: Arc<AtomicBool>,
}

impl AudioSource for Mutable {
    fn next_frame(&mut self) -> Result<AudioFrame, MediaError> {
        let mut frame = self.inner.next_frame()?;
        if self.muted.load(Ordering::Relaxed) {
            frame.samples.fill(0);
        }
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unpaced_tone() -> Box<dyn AudioSource> {
        Box::new(ToneSource::new(TONE_HZ, 0.3).unpaced())
    }

    #[test]
    fn muting_sends_silence_and_unmuting_restores_the_signal() {
        let muted = Arc::new(AtomicBool::new(false));
        let mut source = Mutable {
            inner: unpaced_tone(),
            muted: muted.clone(),
        };
        assert!(source.next_frame().unwrap().samples.iter().any(|&s| s != 0));
        muted.store(true, Ordering::Relaxed);
        assert!(source.next_frame().unwrap().samples.iter().all(|&s| s == 0));
        muted.store(false, Ordering::Relaxed);
        assert!(source.next_frame().unwrap().samples.iter().any(|&s| s != 0));
    }

    #[test]
    fn camera_off_sends_black_frames_of_the_same_size_and_time() {
        let off = Arc::new(AtomicBool::new(true));
        let mut source = SelfView {
            inner: Box::new(TestPattern::new(320, 240, 30).unpaced()),
            off: off.clone(),
            display: Arc::default(),
        };
        let first = source.next_frame().unwrap();
        let second = source.next_frame().unwrap();
        assert_eq!((second.width, second.height), (320, 240));
        assert!(second.pts > first.pts);
        assert_eq!(second, {
            let mut black = VideoFrame::new_black(320, 240);
            black.pts = second.pts;
            black
        });
        off.store(false, Ordering::Relaxed);
        let live = source.next_frame().unwrap();
        assert_ne!(live.data, VideoFrame::new_black(320, 240).data);
    }
}
