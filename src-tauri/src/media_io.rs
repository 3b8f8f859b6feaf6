//! The app's media: what the chosen devices (or the synthetic sources)
//! send, the mute and camera-off switches, and where received media goes
//! (the speaker, and the window through [`VideoDisplay`]). A device picked
//! during a call is opened here and handed to the call's media threads
//! (see [`crate::live_media`]).

use crate::live_media::{
    AudioHandover, Handover, OurAudio, OurSpeaker, OurVideo, Replacement, SpeakerHandover,
    VideoHandover,
};
use crate::settings::{AudioInput, AudioOutput, VideoInput};
use crate::ui_event::UiEvent;
use crate::video::{Stream, VideoDisplay};
use clinicall_client_core::media::MediaIo;
use clinicall_media::{
    AudioSink, AudioSource, EncodedVideoRef, EncodedVideoSink, MediaError, TestPattern, ToneSource,
    VideoFormat, VideoFrameRef, VideoSink, VideoSource,
};
use clinicall_protocol::CallId;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, Weak};

/// Size and rate we ask cameras for, and the test pattern's.
pub const CALL_VIDEO: VideoFormat = VideoFormat {
    width: 1280,
    height: 720,
    fps: 30,
};

/// Frequency of the synthetic audio source.
pub const TONE_HZ: f32 = 440.0;

/// The device choices in effect.
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
    /// The running call's hand-over points; dangling when no call runs
    /// (the media threads own them and drop them at hang-up).
    live: Mutex<LiveCall>,
}

#[derive(Default)]
struct LiveCall {
    video: Weak<VideoHandover>,
    audio: Weak<AudioHandover>,
    speaker: Weak<SpeakerHandover>,
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
            live: Mutex::default(),
        }
    }

    /// Uses these devices from now on: in the call running now (if any)
    /// from its next frame, and in every later call.
    pub fn set_choices(&self, choices: MediaChoices) {
        let old = std::mem::replace(
            &mut *self.choices.lock().unwrap_or_else(|p| p.into_inner()),
            choices.clone(),
        );
        let (video, audio, speaker) = {
            let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
            (
                live.video.upgrade(),
                live.audio.upgrade(),
                live.speaker.upgrade(),
            )
        };
        if let Some(next) = video.filter(|_| old.video != choices.video) {
            self.switch(&next, "camera", open_video(&choices.video), || {
                Box::new(test_pattern())
            });
        }
        if let Some(next) = audio.filter(|_| old.audio != choices.audio) {
            self.switch(&next, "microphone", open_audio(&choices.audio), || {
                Box::new(tone())
            });
        }
        if let Some(next) = speaker.filter(|_| old.output != choices.output) {
            match crate::devices::open_speaker(&choices.output) {
                Ok(Some(sink)) => next.offer(sink),
                Ok(None) => next.offer(Box::new(|_: &[i16]| {})),
                Err(e) => self.problem("speaker", &e),
            }
        }
    }

    /// Hands a newly opened source to the running call; for "no device",
    /// a synthetic stand-in that keeps the stream going blank; on failure,
    /// the call keeps its current source and the window is told why.
    fn switch<S>(
        &self,
        next: &Handover<Replacement<S>>,
        device: &str,
        opened: Result<Option<S>, MediaError>,
        stand_in: impl FnOnce() -> S,
    ) {
        match opened {
            Ok(Some(source)) => next.offer(Replacement {
                source,
                blank: false,
            }),
            Ok(None) => next.offer(Replacement {
                source: stand_in(),
                blank: true,
            }),
            Err(e) => self.problem(device, &e),
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, LiveCall> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
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
        VideoInput::TestPattern => Ok(Some(Box::new(test_pattern()))),
        VideoInput::Camera | VideoInput::NamedCamera(_) => {
            crate::devices::open_camera(choice).map(Some)
        }
    }
}

fn test_pattern() -> TestPattern {
    TestPattern::new(CALL_VIDEO.width, CALL_VIDEO.height, CALL_VIDEO.fps)
}

fn tone() -> ToneSource {
    ToneSource::new(TONE_HZ, 0.3)
}

/// Opens the audio source for a choice.
pub fn open_audio(choice: &AudioInput) -> Result<Option<Box<dyn AudioSource>>, MediaError> {
    match choice {
        AudioInput::None => Ok(None),
        AudioInput::Tone => Ok(Some(Box::new(tone()))),
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
            Ok(Some(source)) => {
                let next = Arc::new(VideoHandover::default());
                self.live().video = Arc::downgrade(&next);
                Ok(Some(Box::new(OurVideo::new(
                    source,
                    self.camera_off.clone(),
                    self.display.clone(),
                    next,
                ))))
            }
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
            Ok(Some(source)) => {
                let next = Arc::new(AudioHandover::default());
                self.live().audio = Arc::downgrade(&next);
                Ok(Some(Box::new(OurAudio::new(
                    source,
                    self.muted.clone(),
                    next,
                ))))
            }
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
        let speaker: Box<dyn AudioSink> = match crate::devices::open_speaker(&self.choices().output)
        {
            Ok(Some(speaker)) => speaker,
            Ok(None) => Box::new(|_: &[i16]| {}),
            Err(e) => {
                self.problem("speaker", &e);
                Box::new(|_: &[i16]| {})
            }
        };
        let next = Arc::new(SpeakerHandover::default());
        self.live().speaker = Arc::downgrade(&next);
        Box::new(OurSpeaker::new(speaker, next))
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
