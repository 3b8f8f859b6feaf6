//! Video from the media threads to the web view.
//!
//! The web view decodes VP8 itself with WebCodecs, so in the normal
//! [`DisplayMode::Encoded`] mode frames cross the IPC still encoded
//! (1–2 Mbit/s for 720p30); where the web view lacks a VP8 decoder it asks
//! for [`DisplayMode::Raw`], and decoded frames are scaled down to at most
//! [`RAW_MAX_WIDTH`] wide and sent as RGBA (IPC costs about 1% of a core
//! per MB/s here, so full-size raw 720p30 — 110 MB/s — cannot keep up; see
//! `docs/architecture.md`).
//!
//! Every message is one binary IPC message: a [`HEADER_LEN`]-byte header
//! (below) and the payload. `ui/src/video/frame.ts` reads it.
//!
//! | bytes | field |
//! | --- | --- |
//! | 0 | format version, [`FORMAT_VERSION`] |
//! | 1 | stream: 0 the other party, 1 our own (self view) |
//! | 2 | codec: 0 VP8, 1 RGBA |
//! | 3 | flags: bit 0 keyframe |
//! | 4–5, 6–7 | width, height (u16 LE) |
//! | 8–15 | when the shell handed it over, ms since the Unix epoch (f64 LE) |
//! | 16–19 | sequence number per stream (u32 LE) |
//! | 20–23 | reserved, 0 |

use clinicall_media::{EncodedVideoRef, VideoFrameRef};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use tauri::ipc::{Channel, InvokeResponseBody};

/// Version of the message layout.
pub const FORMAT_VERSION: u8 = 1;
/// Length of the header before the payload.
pub const HEADER_LEN: usize = 24;
/// Raw frames are scaled down to at most this width.
pub const RAW_MAX_WIDTH: u32 = 640;

/// Which picture a message belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// The other party's video.
    Remote = 0,
    /// Our own video (self view, device check preview).
    Local = 1,
}

/// How frames reach the web view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisplayMode {
    /// VP8, decoded by the web view (WebCodecs).
    Encoded = 0,
    /// Decoded here, scaled down, RGBA.
    Raw = 1,
}

/// What a header says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Header {
    /// Which picture.
    pub stream: Stream,
    /// VP8 (0) or RGBA (1).
    pub codec: u8,
    /// Decodable on its own.
    pub keyframe: bool,
    /// Picture width.
    pub width: u16,
    /// Picture height.
    pub height: u16,
    /// Wall-clock ms when handed to the IPC.
    pub sent_at_ms: f64,
    /// Per-stream sequence number.
    pub seq: u32,
}

/// Builds one message: header then payload.
pub fn encode_message(header: &Header, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.push(FORMAT_VERSION);
    out.push(header.stream as u8);
    out.push(header.codec);
    out.push(u8::from(header.keyframe));
    out.extend_from_slice(&header.width.to_le_bytes());
    out.extend_from_slice(&header.height.to_le_bytes());
    out.extend_from_slice(&header.sent_at_ms.to_le_bytes());
    out.extend_from_slice(&header.seq.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(payload);
    out
}

/// Scales an I420 frame down by an integer factor (so it is at most
/// `max_width` wide) and converts it to RGBA (BT.601 limited range, as
/// libvpx produces). Returns width, height and pixels.
pub fn i420_to_rgba_scaled(frame: &VideoFrameRef<'_>, max_width: u32) -> (u32, u32, Vec<u8>) {
    let step = frame.width.div_ceil(max_width.max(1)).max(1);
    let (out_w, out_h) = (frame.width / step, frame.height / step);
    let mut rgba = Vec::with_capacity((out_w * out_h * 4) as usize);
    for y in 0..out_h {
        let sy = (y * step) as usize;
        let y_row = &frame.y[sy * frame.y_stride..];
        let u_row = &frame.u[(sy / 2) * frame.uv_stride..];
        let v_row = &frame.v[(sy / 2) * frame.uv_stride..];
        for x in 0..out_w {
            let sx = (x * step) as usize;
            let c = i32::from(y_row[sx]) - 16;
            let d = i32::from(u_row[sx / 2]) - 128;
            let e = i32::from(v_row[sx / 2]) - 128;
            let clamp = |v: i32| ((v + 128) >> 8).clamp(0, 255) as u8;
            rgba.extend_from_slice(&[
                clamp(298 * c + 409 * e),
                clamp(298 * c - 100 * d - 208 * e),
                clamp(298 * c + 516 * d),
                255,
            ]);
        }
    }
    (out_w, out_h, rgba)
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// The web view's video channel, shared by the media threads. Frames are
/// dropped while no channel is attached.
#[derive(Default)]
pub struct VideoDisplay {
    channel: Mutex<Option<Channel<InvokeResponseBody>>>,
    mode: AtomicU8,
    seq: [AtomicU32; 2],
}

impl VideoDisplay {
    /// Sends frames to `channel` from now on, in `mode`.
    pub fn attach(&self, channel: Channel<InvokeResponseBody>, mode: DisplayMode) {
        self.mode.store(mode as u8, Ordering::Relaxed);
        *self.lock() = Some(channel);
    }

    /// Stops sending frames.
    pub fn detach(&self) {
        *self.lock() = None;
    }

    /// The current mode.
    pub fn mode(&self) -> DisplayMode {
        match self.mode.load(Ordering::Relaxed) {
            1 => DisplayMode::Raw,
            _ => DisplayMode::Encoded,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Channel<InvokeResponseBody>>> {
        self.channel.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn send(&self, stream: Stream, codec: u8, keyframe: bool, w: u32, h: u32, payload: &[u8]) {
        let channel = self.lock().clone();
        let Some(channel) = channel else { return };
        let header = Header {
            stream,
            codec,
            keyframe,
            width: w.min(u32::from(u16::MAX)) as u16,
            height: h.min(u32::from(u16::MAX)) as u16,
            sent_at_ms: now_ms(),
            seq: self.seq[stream as usize].fetch_add(1, Ordering::Relaxed),
        };
        let message = encode_message(&header, payload);
        if let Err(e) = channel.send(InvokeResponseBody::Raw(message)) {
            tracing::debug!(error = %e, "video frame not delivered to the window");
        }
    }

    /// Sends an encoded frame (only in [`DisplayMode::Encoded`]).
    pub fn encoded(&self, stream: Stream, frame: &EncodedVideoRef<'_>) {
        if self.mode() == DisplayMode::Encoded {
            self.send(
                stream,
                0,
                frame.keyframe,
                frame.width,
                frame.height,
                frame.data,
            );
        }
    }

    /// Sends a decoded frame, scaled down (only in [`DisplayMode::Raw`]).
    pub fn decoded(&self, stream: Stream, frame: &VideoFrameRef<'_>) {
        if self.mode() == DisplayMode::Raw && self.lock().is_some() {
            let (w, h, rgba) = i420_to_rgba_scaled(frame, RAW_MAX_WIDTH);
            self.send(stream, 1, true, w, h, &rgba);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinicall_media::{TestPattern, VideoSource};

    #[test]
    fn header_fields_land_where_the_ui_reads_them() {
        let header = Header {
            stream: Stream::Local,
            codec: 0,
            keyframe: true,
            width: 1280,
            height: 720,
            sent_at_ms: 1_764_000_000_123.5,
            seq: 7,
        };
        let msg = encode_message(&header, b"vp8!");
        assert_eq!(msg.len(), HEADER_LEN + 4);
        assert_eq!(&msg[..4], &[FORMAT_VERSION, 1, 0, 1]);
        assert_eq!(u16::from_le_bytes([msg[4], msg[5]]), 1280);
        assert_eq!(u16::from_le_bytes([msg[6], msg[7]]), 720);
        let t = f64::from_le_bytes(msg[8..16].try_into().unwrap());
        assert_eq!(t, 1_764_000_000_123.5);
        assert_eq!(u32::from_le_bytes(msg[16..20].try_into().unwrap()), 7);
        assert_eq!(&msg[HEADER_LEN..], b"vp8!");
    }

    #[test]
    fn raw_frames_are_scaled_to_fit_and_keep_their_colours() {
        let frame = TestPattern::new(1280, 720, 30)
            .unpaced()
            .next_frame()
            .unwrap();
        let (w, h, rgba) = i420_to_rgba_scaled(&frame.view(), RAW_MAX_WIDTH);
        assert_eq!((w, h), (640, 360));
        assert_eq!(rgba.len(), 640 * 360 * 4);
        // Spot-check the conversion against the source luma: a bright
        // source pixel stays bright, a dark one dark.
        for (x, y) in [(10u32, 300u32), (600, 20), (320, 180)] {
            let src_y = frame.data[(y * 2 * 1280 + x * 2) as usize];
            let px = &rgba[((y * 640 + x) * 4) as usize..][..4];
            let luma =
                (u32::from(px[0]) * 299 + u32::from(px[1]) * 587 + u32::from(px[2]) * 114) / 1000;
            let expected = (u32::from(src_y).saturating_sub(16) * 255 / 219).min(255);
            assert!(
                luma.abs_diff(expected) < 40,
                "pixel {x},{y}: luma {luma} vs {expected}"
            );
            assert_eq!(px[3], 255);
        }
    }

    #[test]
    fn small_frames_are_not_scaled() {
        let frame = TestPattern::new(320, 240, 30)
            .unpaced()
            .next_frame()
            .unwrap();
        let (w, h, rgba) = i420_to_rgba_scaled(&frame.view(), RAW_MAX_WIDTH);
        assert_eq!((w, h, rgba.len()), (320, 240, 320 * 240 * 4));
    }
}
