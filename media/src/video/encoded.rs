//! Encoded VP8 frames for consumers that decode video themselves.
//!
//! The desktop app shows video in its web view, which decodes VP8 with
//! WebCodecs: handing it the encoded frame moves ~100x fewer bytes across
//! the app's IPC than decoded pixels would (see `docs/architecture.md`).

/// One complete encoded VP8 frame, borrowed for the duration of a call to
/// [`EncodedVideoSink::on_encoded`].
#[derive(Debug, Clone, Copy)]
pub struct EncodedVideoRef<'a> {
    /// The VP8 frame as carried in RTP (RFC 7741 payload, descriptor removed).
    pub data: &'a [u8],
    /// Whether it is decodable on its own.
    pub keyframe: bool,
    /// Picture size the frame decodes to.
    pub width: u32,
    /// Picture size the frame decodes to.
    pub height: u32,
}

/// Consumes encoded video frames (for example, to forward them to a
/// decoder elsewhere). Must not block: it runs on a media thread.
pub trait EncodedVideoSink: Send {
    /// Called once per frame, in decode order.
    fn on_encoded(&mut self, frame: &EncodedVideoRef<'_>);
}

/// Any `FnMut(&EncodedVideoRef)` closure is a sink.
impl<F> EncodedVideoSink for F
where
    F: FnMut(&EncodedVideoRef<'_>) + Send,
{
    fn on_encoded(&mut self, frame: &EncodedVideoRef<'_>) {
        self(frame)
    }
}

/// Whether a VP8 frame is a keyframe: bit 0 of its first byte is 0 for key
/// frames (RFC 6386 §9.1). An empty frame is not.
pub fn vp8_is_keyframe(frame: &[u8]) -> bool {
    frame.first().is_some_and(|b| b & 1 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TestPattern, VideoSource, Vp8Config, Vp8Encoder};

    #[test]
    fn keyframes_are_recognised_from_the_bitstream() {
        let mut source = TestPattern::new(160, 120, 30).unpaced();
        let mut encoder = Vp8Encoder::new(Vp8Config::new(160, 120, 30)).unwrap();
        let mut seen = Vec::new();
        for i in 0..4 {
            let frame = source.next_frame().unwrap();
            let encoded = encoder.encode(&frame, i == 2).unwrap().unwrap();
            assert_eq!(vp8_is_keyframe(&encoded.data), encoded.keyframe);
            seen.push(encoded.keyframe);
        }
        assert_eq!(seen, [true, false, true, false]);
        assert!(!vp8_is_keyframe(&[]));
    }
}
