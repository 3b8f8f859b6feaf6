//! The sources and sink of a call in progress, wrapped so the call
//! window's controls act at once: mute sends silence, camera off sends
//! black frames, and a device picked mid-call is handed over to the media
//! thread, which starts using it at its next frame.
//!
//! Why hand over instead of restarting the call's media: the encoder, the
//! packetiser and the other side's decoder keep running, so a switch costs
//! one frame time (and one keyframe when the new camera's size differs),
//! not a renegotiation.

use crate::video::{Stream, VideoDisplay};
use clinicall_media::{
    AudioFrame, AudioSink, AudioSource, MediaError, VideoFormat, VideoFrame, VideoSource,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A replacement waiting for the media thread to take it. A newer offer
/// replaces one not yet taken (the user clicked through two devices).
pub struct Handover<T>(Mutex<Option<T>>);

impl<T> Default for Handover<T> {
    fn default() -> Self {
        Handover(Mutex::new(None))
    }
}

impl<T> Handover<T> {
    /// Offers `next` to the media thread.
    pub fn offer(&self, next: T) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(next);
    }

    fn take(&self) -> Option<T> {
        // try_lock: the media thread never waits on the command thread; a
        // busy lock means an offer is being written, taken next frame.
        self.0.try_lock().ok().and_then(|mut next| next.take())
    }
}

/// A source to switch to. `blank`: the user chose no device, so the
/// source (a synthetic one) only keeps time and what is sent is black or
/// silent, keeping the stream and the other side's decoder going.
pub struct Replacement<S> {
    /// The new source.
    pub source: S,
    /// Send black frames or silence instead of its content.
    pub blank: bool,
}

/// Where a call's video source takes replacements from.
pub type VideoHandover = Handover<Replacement<Box<dyn VideoSource>>>;
/// Where a call's audio source takes replacements from.
pub type AudioHandover = Handover<Replacement<Box<dyn AudioSource>>>;
/// Where a call's speaker takes replacements from.
pub type SpeakerHandover = Handover<Box<dyn AudioSink>>;

/// Our video: black while the camera is off; shown in the self view when
/// the window takes raw frames (otherwise the encoded tap shows it).
pub struct OurVideo {
    inner: Box<dyn VideoSource>,
    blank: bool,
    off: Arc<AtomicBool>,
    display: Arc<VideoDisplay>,
    next: Arc<VideoHandover>,
}

impl OurVideo {
    /// Wraps `inner`, watching `off` and taking replacements from `next`.
    pub fn new(
        inner: Box<dyn VideoSource>,
        off: Arc<AtomicBool>,
        display: Arc<VideoDisplay>,
        next: Arc<VideoHandover>,
    ) -> Self {
        OurVideo {
            inner,
            blank: false,
            off,
            display,
            next,
        }
    }
}

impl VideoSource for OurVideo {
    fn format(&self) -> VideoFormat {
        self.inner.format()
    }

    fn next_frame(&mut self) -> Result<VideoFrame, MediaError> {
        if let Some(replacement) = self.next.take() {
            // The old device closes here, on the media thread.
            self.inner = replacement.source;
            self.blank = replacement.blank;
        }
        let frame = self.inner.next_frame()?;
        let frame = if self.blank || self.off.load(Ordering::Relaxed) {
            // A black picture costs a few hundred bytes per frame.
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
pub struct OurAudio {
    inner: Box<dyn AudioSource>,
    blank: bool,
    muted: Arc<AtomicBool>,
    next: Arc<AudioHandover>,
}

impl OurAudio {
    /// Wraps `inner`, watching `muted` and taking replacements from `next`.
    pub fn new(
        inner: Box<dyn AudioSource>,
        muted: Arc<AtomicBool>,
        next: Arc<AudioHandover>,
    ) -> Self {
        OurAudio {
            inner,
            blank: false,
            muted,
            next,
        }
    }
}

impl AudioSource for OurAudio {
    fn next_frame(&mut self) -> Result<AudioFrame, MediaError> {
        if let Some(replacement) = self.next.take() {
            self.inner = replacement.source;
            self.blank = replacement.blank;
        }
        let mut frame = self.inner.next_frame()?;
        if self.blank || self.muted.load(Ordering::Relaxed) {
            frame.samples.fill(0);
        }
        Ok(frame)
    }
}

/// The speaker the other party's audio plays on, switchable mid-call.
pub struct OurSpeaker {
    inner: Box<dyn AudioSink>,
    next: Arc<SpeakerHandover>,
}

impl OurSpeaker {
    /// Wraps `inner`, taking replacements from `next`.
    pub fn new(inner: Box<dyn AudioSink>, next: Arc<SpeakerHandover>) -> Self {
        OurSpeaker { inner, next }
    }
}

impl AudioSink for OurSpeaker {
    fn on_audio(&mut self, pcm: &[i16]) {
        if let Some(replacement) = self.next.take() {
            self.inner = replacement;
        }
        self.inner.on_audio(pcm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media_io::TONE_HZ;
    use clinicall_media::{TestPattern, ToneSource};

    fn unpaced_tone(hz: f32) -> Box<dyn AudioSource> {
        Box::new(ToneSource::new(hz, 0.3).unpaced())
    }

    /// Sign changes in a frame: twice the tone's frequency times 20 ms.
    fn zero_crossings(frame: &AudioFrame) -> usize {
        frame
            .samples
            .windows(2)
            .filter(|w| (w[0] < 0) != (w[1] < 0))
            .count()
    }

    #[test]
    fn muting_sends_silence_and_unmuting_restores_the_signal() {
        let muted = Arc::new(AtomicBool::new(false));
        let mut source = OurAudio::new(unpaced_tone(TONE_HZ), muted.clone(), Arc::default());
        assert!(source.next_frame().unwrap().samples.iter().any(|&s| s != 0));
        muted.store(true, Ordering::Relaxed);
        assert!(source.next_frame().unwrap().samples.iter().all(|&s| s == 0));
        muted.store(false, Ordering::Relaxed);
        assert!(source.next_frame().unwrap().samples.iter().any(|&s| s != 0));
    }

    #[test]
    fn a_microphone_picked_mid_call_is_used_from_the_next_frame() {
        let next = Arc::new(AudioHandover::default());
        let mut source = OurAudio::new(unpaced_tone(440.0), Arc::default(), next.clone());
        let before = zero_crossings(&source.next_frame().unwrap());
        next.offer(Replacement {
            source: unpaced_tone(1760.0),
            blank: false,
        });
        let after = zero_crossings(&source.next_frame().unwrap());
        assert!(
            after > before * 3,
            "crossings {before} at 440 Hz, {after} after the switch"
        );
        next.offer(Replacement {
            source: unpaced_tone(440.0),
            blank: true,
        });
        assert!(source.next_frame().unwrap().samples.iter().all(|&s| s == 0));
    }

    #[test]
    fn camera_off_sends_black_frames_of_the_same_size_and_time() {
        let off = Arc::new(AtomicBool::new(true));
        let mut source = OurVideo::new(
            Box::new(TestPattern::new(320, 240, 30).unpaced()),
            off.clone(),
            Arc::default(),
            Arc::default(),
        );
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

    #[test]
    fn a_camera_picked_mid_call_gives_the_next_frame_at_its_size() {
        let next = Arc::new(VideoHandover::default());
        let mut source = OurVideo::new(
            Box::new(TestPattern::new(320, 240, 30).unpaced()),
            Arc::default(),
            Arc::default(),
            next.clone(),
        );
        assert_eq!(source.next_frame().unwrap().width, 320);
        next.offer(Replacement {
            source: Box::new(TestPattern::new(160, 120, 30).unpaced()),
            blank: false,
        });
        let frame = source.next_frame().unwrap();
        assert_eq!((frame.width, frame.height), (160, 120));
        assert_ne!(frame.data, VideoFrame::new_black(160, 120).data);
    }

    #[test]
    fn a_speaker_picked_mid_call_plays_the_next_chunk() {
        let (first, second) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(0)));
        let counter = |count: &Arc<Mutex<usize>>| -> Box<dyn AudioSink> {
            let count = count.clone();
            Box::new(move |_: &[i16]| *count.lock().unwrap() += 1)
        };
        let next = Arc::new(SpeakerHandover::default());
        let mut speaker = OurSpeaker::new(counter(&first), next.clone());
        speaker.on_audio(&[0; 960]);
        next.offer(counter(&second));
        speaker.on_audio(&[0; 960]);
        speaker.on_audio(&[0; 960]);
        assert_eq!((*first.lock().unwrap(), *second.lock().unwrap()), (1, 2));
    }
}
