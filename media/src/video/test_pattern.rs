//! A synthetic camera: a colour gradient with a sweeping bar, stamped with
//! the frame counter and capture time (see [`FrameStamp`]).

use std::time::SystemTime;

use super::{
    FrameStamp, VideoFormat, VideoFrame, VideoSource, WHITE_Y, check_dimensions, i420_len,
};
use crate::{MediaError, Pacer};

/// Seconds the bar takes to cross the frame.
const SWEEP_SECONDS: u32 = 2;

/// A moving test picture that stands in for a camera. Every frame carries a
/// [`FrameStamp`] readable with [`read_stamp`](crate::read_stamp), after VP8
/// coding too, so tests and benchmarks can check order, loss and latency.
///
/// Paced by default (`next_frame` blocks until the frame is due, like a
/// camera); [`TestPattern::unpaced`] produces frames as fast as asked.
pub struct TestPattern {
    format: VideoFormat,
    pacer: Pacer,
    counter: u32,
    /// The gradient, drawn once; each frame starts as a copy of it.
    background: Vec<u8>,
}

impl std::fmt::Debug for TestPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPattern")
            .field("format", &self.format)
            .field("paced", &self.pacer.is_paced())
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl TestPattern {
    /// A paced pattern of the given size and rate.
    ///
    /// # Panics
    /// If `width` or `height` is odd or zero, `fps` is zero, or the frame is
    /// too small for the stamp (about 68 x 10 pixels).
    pub fn new(width: u32, height: u32, fps: u32) -> Self {
        if let Err(e) = check_dimensions(width, height) {
            panic!("{e}");
        }
        let background = gradient(width, height);
        let mut probe = VideoFrame {
            width,
            height,
            data: background.clone(),
            pts: Default::default(),
        };
        if let Err(e) = FrameStamp::new(0, SystemTime::now()).draw(&mut probe) {
            panic!("{e}");
        }
        Self {
            format: VideoFormat { width, height, fps },
            pacer: Pacer::from_fps(fps, true),
            counter: 0,
            background,
        }
    }

    /// The same pattern without pacing: `next_frame` returns at once, with
    /// presentation times as if paced.
    pub fn unpaced(self) -> Self {
        Self {
            pacer: Pacer::from_fps(self.format.fps, false),
            ..self
        }
    }

    /// The counter the next frame will carry.
    pub fn next_counter(&self) -> u32 {
        self.counter
    }

    fn draw_bar(&self, luma: &mut [u8]) {
        let (w, h) = (self.format.width as usize, self.format.height as usize);
        let frames_per_sweep = (self.format.fps * SWEEP_SECONDS) as usize;
        let step = self.counter as usize % frames_per_sweep;
        let bar_width = (w / 16).max(2);
        let x0 = step * w / frames_per_sweep;
        let x1 = (x0 + bar_width).min(w);
        for row in luma.chunks_exact_mut(w).take(h) {
            row[x0..x1].fill(WHITE_Y);
        }
    }
}

impl VideoSource for TestPattern {
    fn format(&self) -> VideoFormat {
        self.format
    }

    fn next_frame(&mut self) -> Result<VideoFrame, MediaError> {
        let pts = self.pacer.wait();
        let captured = SystemTime::now();
        let mut frame = VideoFrame {
            width: self.format.width,
            height: self.format.height,
            data: self.background.clone(),
            pts,
        };
        let luma_len = (self.format.width * self.format.height) as usize;
        self.draw_bar(&mut frame.data[..luma_len]);
        FrameStamp::new(self.counter, captured).draw(&mut frame)?;
        self.counter = self.counter.wrapping_add(1);
        Ok(frame)
    }
}

/// Luma ramps left to right, blue-difference left to right, red-difference
/// top to bottom: a smooth, colourful picture that codes cheaply.
fn gradient(width: u32, height: u32) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let (cw, ch) = (w / 2, h / 2);
    let mut data = Vec::with_capacity(i420_len(width, height));
    let luma_row: Vec<u8> = (0..w).map(|x| (48 + x * 160 / w) as u8).collect();
    for _ in 0..h {
        data.extend_from_slice(&luma_row);
    }
    let u_row: Vec<u8> = (0..cw).map(|x| (64 + x * 128 / cw) as u8).collect();
    for _ in 0..ch {
        data.extend_from_slice(&u_row);
    }
    for y in 0..ch {
        let v = (192 - y * 128 / ch) as u8;
        data.extend(std::iter::repeat_n(v, cw));
    }
    data
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::read_stamp;

    #[test]
    fn frames_are_stamped_in_order_with_paced_times() {
        let mut pattern = TestPattern::new(320, 240, 30).unpaced();
        for expected in 0..5 {
            let frame = pattern.next_frame().unwrap();
            assert_eq!(frame.data.len(), 320 * 240 * 3 / 2);
            assert_eq!(frame.pts, Duration::from_nanos(33_333_333) * expected);
            let stamp = read_stamp(&frame.view()).unwrap();
            assert_eq!(stamp.counter, expected);
            let latency = stamp.latency(SystemTime::now()).unwrap();
            assert!(latency < Duration::from_secs(1), "{latency:?}");
        }
    }

    #[test]
    fn the_picture_moves() {
        let mut pattern = TestPattern::new(320, 240, 30).unpaced();
        let a = pattern.next_frame().unwrap();
        let b = pattern.next_frame().unwrap();
        // Compare below the stamp, where only the bar changes.
        let below_stamp = 320 * 60..320 * 240;
        assert_ne!(a.data[below_stamp.clone()], b.data[below_stamp]);
    }

    #[test]
    fn paced_pattern_delivers_at_its_frame_rate() {
        let mut pattern = TestPattern::new(320, 240, 30);
        let start = Instant::now();
        for _ in 0..10 {
            pattern.next_frame().unwrap();
        }
        // Frame 0 is immediate, frame 9 is due at 300 ms; generous bounds
        // because the machine may be busy.
        let elapsed = start.elapsed();
        assert!(
            (Duration::from_millis(250)..Duration::from_millis(600)).contains(&elapsed),
            "{elapsed:?}"
        );
    }

    #[test]
    #[should_panic(expected = "even")]
    fn odd_sizes_are_refused() {
        TestPattern::new(321, 240, 30);
    }
}
