//! Clinicall's media pipeline without any transport: where frames come from,
//! how they are encoded and decoded, and where they go. The WebRTC session in
//! `clinicall-client-core` moves the encoded bytes; everything here can be
//! tested on its own, faster than real time when sources are unpaced.
//!
//! - Video: raw I420 [`VideoFrame`]s from a [`VideoSource`]
//!   (the stamped [`TestPattern`], a looping [`Y4mSource`]), encoded by
//!   [`Vp8Encoder`], decoded by [`Vp8Decoder`] into borrowed
//!   [`VideoFrameRef`]s for a [`VideoSink`]. [`read_stamp`] recovers a test
//!   frame's counter and capture time after the codec.
//! - Audio: 20 ms, 48 kHz mono [`AudioFrame`]s from an
//!   [`AudioSource`] ([`ToneSource`], a looping [`WavSource`]), through
//!   [`OpusEncoder`] and [`OpusDecoder`] to an [`AudioSink`].
//!   [`dominant_frequency`] checks a tone arrived intact.
//!
//! Sources pace themselves, as devices do: `next_frame` blocks until the
//! frame is due (see [`Pacer`]); each synthetic or file source also has an
//! `unpaced()` variant for tests and benchmarks.
//!
//! ```
//! use clinicall_media::{TestPattern, VideoSource, Vp8Config, Vp8Decoder, Vp8Encoder, read_stamp};
//!
//! let mut camera = TestPattern::new(320, 240, 30).unpaced();
//! let mut encoder = Vp8Encoder::new(Vp8Config::new(320, 240, 30))?;
//! let mut decoder = Vp8Decoder::new()?;
//! for expected in 0..3 {
//!     let frame = camera.next_frame()?;
//!     let encoded = encoder.encode(&frame, false)?.expect("no frame dropping");
//!     let decoded = decoder.decode(&encoded.data)?.expect("a visible frame");
//!     assert_eq!(read_stamp(&decoded).unwrap().counter, expected);
//! }
//! # Ok::<(), clinicall_media::MediaError>(())
//! ```
//!
//! # Why these codecs and libraries
//!
//! VP8 and Opus are the codecs every WebRTC endpoint must support, and VP8
//! is also what the desktop app's web view can decode itself: its WebCodecs
//! `VideoDecoder` supports VP8 and none of H.264, VP9 or AV1 (see
//! `shared/PLATFORM.md`), which lets the app pass encoded frames instead of
//! raw pixels. libvpx and libopus are the reference implementations, and
//! both ship as system packages on Debian/Ubuntu (`libvpx-dev`,
//! `libopus-dev`), Homebrew and vcpkg for Windows, so we link the system
//! libraries (`env-libvpx-sys` through pkg-config with pregenerated
//! bindings, and `opus` 0.3; 0.4 would build libopus with cmake) instead of
//! bundling C sources. `openh264` was tried and lost: it compiles its own
//! C++ (slow builds), silently runs 3.5x slower without `nasm`, its default
//! rate control skipped frames at 720p, and H.264 is not decodable in the
//! web view anyway.
//!
//! All `unsafe` code is in the libvpx wrapper (`video/vpx.rs`,
//! `video/vp8_encoder.rs`, `video/vp8_decoder.rs`); the rest of the crate
//! denies it.
#![warn(missing_docs)]

mod audio;
mod error;
mod memory;
mod pacer;
mod video;

pub use audio::{
    AudioFrame, AudioSink, AudioSource, FRAME_DURATION, FRAME_SAMPLES, OpusDecoder, OpusEncoder,
    SAMPLE_RATE, ToneSource, WavSource, dominant_frequency, write_wav,
};
pub use error::MediaError;
pub use memory::return_large_blocks_to_os;
pub use pacer::Pacer;
pub use video::{
    EncodedVideo, EncodedVideoRef, EncodedVideoSink, FrameStamp, STAMP_TIME_BITS, TestPattern,
    VideoFormat, VideoFrame, VideoFrameRef, VideoSink, VideoSource, Vp8Config, Vp8Decoder,
    Vp8Encoder, Y4mSource, read_stamp, vp8_is_keyframe, write_y4m,
};
