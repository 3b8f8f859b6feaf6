//! A machine-readable stamp drawn into video frames, so a receiver can tell
//! which frame it got and how long it took, across a real codec.
//!
//! The stamp is 96 bits drawn as a 32 x 3 grid of black/white luma blocks
//! near the top-left corner: the frame counter (32 bits), the capture time in
//! microseconds since the UNIX epoch truncated to its low 40 bits (12.7 days
//! of range, plenty for two processes on one machine), and a CRC-24 of both
//! so a garbled read yields `None` instead of a wrong number.
//!
//! Blocks are `width / 40` pixels (even, at least 2): 8 px at 320x240, 32 px
//! at 1280x720, aligned to the block size so they sit on VP8's transform grid.
//! The reader averages the central half of each block and thresholds at mid
//! grey, which survives VP8's quantization at realtime bitrates.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{BLACK_Y, NEUTRAL_UV, VideoFrame, VideoFrameRef, WHITE_Y};
use crate::MediaError;

/// Blocks per stamp row.
const COLS: u32 = 32;
/// Stamp rows.
const ROWS: u32 = 3;
/// Bits of the capture time that travel in the stamp.
pub const STAMP_TIME_BITS: u32 = 40;
const TIME_MASK: u64 = (1 << STAMP_TIME_BITS) - 1;
/// Luma threshold between a 0 and a 1 block.
const THRESHOLD: u32 = (BLACK_Y as u32 + WHITE_Y as u32) / 2;

/// What a stamped frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameStamp {
    /// Frame number since the source started.
    pub counter: u32,
    /// Capture wall-clock time in microseconds since the UNIX epoch, truncated
    /// to the low [`STAMP_TIME_BITS`] bits.
    pub captured_micros: u64,
}

impl FrameStamp {
    /// A stamp for frame `counter` captured at `captured`.
    pub fn new(counter: u32, captured: SystemTime) -> Self {
        Self {
            counter,
            captured_micros: micros_since_epoch(captured) & TIME_MASK,
        }
    }

    /// Time from capture to `now`, reconstructing the truncated capture time
    /// as the latest one not after `now`. `None` if the capture time looks
    /// like it is in the future (more than half the 40-bit range ahead),
    /// which means the two clocks disagree.
    pub fn latency(&self, now: SystemTime) -> Option<Duration> {
        let now = micros_since_epoch(now) & TIME_MASK;
        let diff = now.wrapping_sub(self.captured_micros) & TIME_MASK;
        (diff < 1 << (STAMP_TIME_BITS - 1)).then(|| Duration::from_micros(diff))
    }

    /// Draws the stamp into `frame`'s luma (chroma under it is set neutral).
    ///
    /// # Errors
    /// [`MediaError::InvalidArgument`] if the frame is too small to hold it
    /// (it needs about 68 x 10 pixels; any common video size is fine).
    pub fn draw(&self, frame: &mut VideoFrame) -> Result<(), MediaError> {
        let (width, height) = (frame.width, frame.height);
        let layout = Layout::for_size(width, height).ok_or_else(|| {
            MediaError::InvalidArgument(format!(
                "a {width}x{height} frame is too small for a stamp"
            ))
        })?;
        let (w, b) = (width as usize, layout.block as usize);
        let luma_len = w * height as usize;
        let (luma, chroma) = frame.data.split_at_mut(luma_len);
        for (i, bit) in self.bits().into_iter().enumerate() {
            let (x, y) = layout.block_origin(i);
            let value = if bit { WHITE_Y } else { BLACK_Y };
            for row in y..y + b {
                luma[row * w + x..row * w + x + b].fill(value);
            }
        }
        // Neutral chroma under the whole grid so the colour of the picture
        // around it cannot bleed into the blocks.
        let (cw, ch) = (w / 2, height as usize / 2);
        let (x0, y0) = layout.block_origin(0);
        let (gw, gh) = (COLS as usize * b, ROWS as usize * b);
        for plane in chroma.chunks_mut(cw * ch).take(2) {
            for row in y0 / 2..(y0 + gh) / 2 {
                plane[row * cw + x0 / 2..row * cw + (x0 + gw) / 2].fill(NEUTRAL_UV);
            }
        }
        Ok(())
    }

    /// The 96 bits in drawing order: counter, time, CRC-24, each MSB first.
    fn bits(&self) -> [bool; (COLS * ROWS) as usize] {
        let payload = self.payload();
        let word = (u128::from_be_bytes(pad16(&payload)) >> 32) | u128::from(crc24(&payload));
        // `word` now holds payload (72 bits) << 24 | crc in its low 96 bits.
        std::array::from_fn(|i| (word >> (95 - i)) & 1 == 1)
    }

    fn payload(&self) -> [u8; 9] {
        let mut out = [0; 9];
        out[..4].copy_from_slice(&self.counter.to_be_bytes());
        out[4..].copy_from_slice(&self.captured_micros.to_be_bytes()[3..]);
        out
    }
}

/// Reads a stamp drawn by [`FrameStamp::draw`] (for example by
/// [`TestPattern`](crate::TestPattern)), after any amount of scaling-free
/// lossy coding. `None` if the frame has no readable stamp.
pub fn read_stamp(frame: &VideoFrameRef<'_>) -> Option<FrameStamp> {
    let layout = Layout::for_size(frame.width, frame.height)?;
    let b = layout.block as usize;
    let inner = (b / 4, b - b / 4);
    let mut word: u128 = 0;
    for i in 0..(COLS * ROWS) as usize {
        let (x, y) = layout.block_origin(i);
        let mut sum = 0u32;
        for row in y + inner.0..y + inner.1 {
            let start = row * frame.y_stride + x;
            let pixels = frame.y.get(start + inner.0..start + inner.1)?;
            sum += pixels.iter().map(|&p| u32::from(p)).sum::<u32>();
        }
        let count = ((inner.1 - inner.0) * (inner.1 - inner.0)) as u32;
        word = word << 1 | u128::from(sum > THRESHOLD * count);
    }
    let crc = (word & 0xff_ffff) as u32;
    let payload: [u8; 9] = (word >> 24).to_be_bytes()[7..].try_into().ok()?;
    if crc24(&payload) != crc {
        return None;
    }
    let counter = u32::from_be_bytes(payload[..4].try_into().ok()?);
    let mut time = [0u8; 8];
    time[3..].copy_from_slice(&payload[4..]);
    Some(FrameStamp {
        counter,
        captured_micros: u64::from_be_bytes(time),
    })
}

/// Where the blocks go for a given frame size.
struct Layout {
    block: u32,
}

impl Layout {
    fn for_size(width: u32, height: u32) -> Option<Self> {
        let block = ((width / 40) & !1).max(2);
        // One block of margin on each side of the grid.
        let fits = block * (COLS + 2) <= width && block * (ROWS + 2) <= height;
        fits.then_some(Self { block })
    }

    /// Top-left pixel of block `i` (row-major).
    fn block_origin(&self, i: usize) -> (usize, usize) {
        let b = self.block as usize;
        let (col, row) = (i % COLS as usize, i / COLS as usize);
        (b + col * b, b + row * b)
    }
}

fn pad16(payload: &[u8; 9]) -> [u8; 16] {
    let mut out = [0; 16];
    out[..9].copy_from_slice(payload);
    out
}

/// CRC-24/OpenPGP (RFC 4880): poly 0x864CFB, init 0xB704CE.
fn crc24(data: &[u8]) -> u32 {
    let mut crc: u32 = 0xB7_04CE;
    for &byte in data {
        crc ^= u32::from(byte) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x100_0000 != 0 {
                crc ^= 0x186_4CFB;
            }
        }
    }
    crc & 0xff_ffff
}

fn micros_since_epoch(t: SystemTime) -> u64 {
    // Before 1970 is not a clock we support; treat it as the epoch.
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc24_matches_the_openpgp_check_value() {
        assert_eq!(crc24(b"123456789"), 0x21_CF02);
    }

    #[test]
    fn stamp_round_trips_through_a_raw_frame_at_many_sizes() {
        for (w, h) in [(80, 12), (320, 240), (640, 480), (1280, 720), (1920, 1080)] {
            let mut frame = VideoFrame::new_black(w, h);
            let stamp = FrameStamp {
                counter: 0xDEAD_BEEF,
                captured_micros: 0xAB_CDEF_0123,
            };
            stamp.draw(&mut frame).unwrap();
            assert_eq!(read_stamp(&frame.view()), Some(stamp), "{w}x{h}");
        }
    }

    #[test]
    fn unstamped_or_damaged_frames_read_as_none() {
        let mut frame = VideoFrame::new_black(320, 240);
        assert_eq!(read_stamp(&frame.view()), None);
        FrameStamp::new(7, SystemTime::now())
            .draw(&mut frame)
            .unwrap();
        assert!(read_stamp(&frame.view()).is_some());
        // Flip one block (block 40: row 1, col 8) to white.
        for row in 16..24 {
            frame.data[row * 320 + 72..row * 320 + 80].fill(WHITE_Y);
        }
        // It might have been white already; then flip it to black.
        if read_stamp(&frame.view()).is_some() {
            for row in 16..24 {
                frame.data[row * 320 + 72..row * 320 + 80].fill(BLACK_Y);
            }
        }
        assert_eq!(read_stamp(&frame.view()), None);
    }

    #[test]
    fn too_small_frames_are_refused_not_panicked_on() {
        let mut frame = VideoFrame::new_black(64, 64);
        assert!(
            FrameStamp::new(1, SystemTime::now())
                .draw(&mut frame)
                .is_err()
        );
        assert_eq!(read_stamp(&frame.view()), None);
    }

    #[test]
    fn latency_reconstructs_truncated_times() {
        let captured = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let stamp = FrameStamp::new(1, captured);
        assert!(stamp.captured_micros <= TIME_MASK);
        let later = captured + Duration::from_micros(12_345);
        assert_eq!(stamp.latency(later), Some(Duration::from_micros(12_345)));
        assert_eq!(stamp.latency(captured), Some(Duration::ZERO));
        // A capture time after `now` means clocks disagree.
        assert_eq!(stamp.latency(captured - Duration::from_millis(1)), None);
        // Across a wrap of the 40-bit counter.
        let at_wrap = UNIX_EPOCH + Duration::from_micros((1 << 41) - 10);
        let stamp = FrameStamp::new(1, at_wrap);
        let after = at_wrap + Duration::from_micros(25);
        assert_eq!(stamp.latency(after), Some(Duration::from_micros(25)));
    }
}
