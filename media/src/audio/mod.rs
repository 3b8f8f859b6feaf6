//! Audio: 20 ms mono frames at 48 kHz, the source and sink traits, test
//! tones, WAV files and the Opus codec.

mod opus_codec;
mod resample;
mod spectrum;
mod tone;
mod wav;

pub use opus_codec::{OpusDecoder, OpusEncoder};
pub use spectrum::dominant_frequency;
pub use tone::ToneSource;
pub use wav::{WavSource, write_wav};

use crate::MediaError;

/// The pipeline's one sample rate (Opus's native rate).
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 20 ms mono frame at [`SAMPLE_RATE`].
pub const FRAME_SAMPLES: usize = 960;
/// Duration of one frame.
pub const FRAME_DURATION: std::time::Duration = std::time::Duration::from_millis(20);

/// 20 ms of 48 kHz mono audio: [`FRAME_SAMPLES`] samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFrame {
    /// Signed 16-bit PCM.
    pub samples: Vec<i16>,
}

/// Produces audio frames in real time.
///
/// Pacing belongs to the source: `next_frame` blocks until the next 20 ms
/// frame is due. A microphone blocks on the device; synthetic and file
/// sources sleep on a drift-free [`Pacer`](crate::Pacer) (or not at all when
/// built unpaced).
pub trait AudioSource: Send {
    /// Blocks until the next frame is due and returns it.
    ///
    /// # Errors
    /// When the source failed (a device went away).
    fn next_frame(&mut self) -> Result<AudioFrame, MediaError>;
}

/// Consumes decoded audio.
pub trait AudioSink: Send {
    /// Called with each decoded chunk of 48 kHz mono PCM (usually 20 ms).
    fn on_audio(&mut self, pcm: &[i16]);
}

/// Any `FnMut(&[i16])` closure is a sink.
impl<F> AudioSink for F
where
    F: FnMut(&[i16]) + Send,
{
    fn on_audio(&mut self, pcm: &[i16]) {
        self(pcm)
    }
}
