//! Video: frames, the source and sink traits, test signals, Y4M files and
//! the VP8 codec.

mod encoded;
mod frame;
mod stamp;
mod test_pattern;
mod vp8_decoder;
mod vp8_encoder;
mod vpx;
mod y4m;

pub use encoded::{EncodedVideoRef, EncodedVideoSink, vp8_is_keyframe};
pub use frame::{VideoFormat, VideoFrame, VideoFrameRef};
pub use stamp::{FrameStamp, STAMP_TIME_BITS, read_stamp};
pub use test_pattern::TestPattern;
pub use vp8_decoder::Vp8Decoder;
pub use vp8_encoder::{EncodedVideo, Vp8Config, Vp8Encoder};
pub use y4m::{Y4mSource, write_y4m};

pub(crate) use frame::{BLACK_Y, NEUTRAL_UV, WHITE_Y, check_dimensions, i420_len};

use crate::MediaError;

/// Produces raw video frames in real time.
///
/// Pacing belongs to the source: `next_frame` blocks until the next frame is
/// due. A camera blocks on the device; synthetic and file sources sleep on a
/// drift-free [`Pacer`](crate::Pacer) (or do not sleep at all when built
/// unpaced, for benchmarks and tests).
pub trait VideoSource: Send {
    /// Size and nominal rate of the frames this source produces.
    fn format(&self) -> VideoFormat;

    /// Blocks until the next frame is due and returns it.
    ///
    /// # Errors
    /// When the source failed (a file became unreadable, a device went away).
    fn next_frame(&mut self) -> Result<VideoFrame, MediaError>;
}

/// Consumes decoded video frames. The frame is borrowed (often straight from
/// the decoder's buffer) and only valid during the call: copy what you keep.
pub trait VideoSink: Send {
    /// Called once per decoded frame.
    fn on_frame(&mut self, frame: &VideoFrameRef<'_>);
}

/// Any `FnMut(&VideoFrameRef)` closure is a sink.
impl<F> VideoSink for F
where
    F: FnMut(&VideoFrameRef<'_>) + Send,
{
    fn on_frame(&mut self, frame: &VideoFrameRef<'_>) {
        self(frame)
    }
}
