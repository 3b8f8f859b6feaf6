//! The speaker's jitter buffer: decoded audio waits here between the decode
//! thread, which delivers 20 ms at a time whenever packets arrive, and the
//! device, which takes samples on its own clock.
//!
//! Policy:
//! - It starts (and restarts after running dry) only once [`target`]
//!   samples are queued, so one late packet costs one gap, not a stutter
//!   of tiny ones.
//! - Running dry plays silence for what is missing (an underrun).
//! - More than [`capacity`] queued drops the oldest samples (an overrun):
//!   the device clock is slower than the sender's, or packets came in a
//!   burst. Dropping keeps the delay bounded instead of growing for the
//!   rest of the call.
//!
//! Neither side ever waits for the other: the producer only appends and
//! the device only takes what is there.
//!
//! [`target`]: JitterBuffer::target
//! [`capacity`]: JitterBuffer::capacity

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Frames (20 ms each) queued before playing starts: a packet may be this
/// late without a gap.
pub const TARGET_FRAMES: usize = 2;
/// Frames queued at most before the oldest are dropped.
pub const CAPACITY_FRAMES: usize = 6;

/// What the buffer did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlaybackStats {
    /// Times the buffer ran dry while playing.
    pub underruns: u64,
    /// Silent samples played in place of missing audio (including while
    /// filling up to the target).
    pub silent_samples: u64,
    /// Samples thrown away because too much was queued.
    pub dropped_samples: u64,
    /// Samples played.
    pub played_samples: u64,
}

/// Mono samples at the device's rate.
#[derive(Debug)]
pub struct JitterBuffer {
    queue: VecDeque<f32>,
    target: usize,
    capacity: usize,
    playing: bool,
    stats: PlaybackStats,
}

impl JitterBuffer {
    /// Starts playing at `target` samples queued; keeps at most `capacity`
    /// (at least `target`).
    pub fn new(target: usize, capacity: usize) -> Self {
        let capacity = capacity.max(target).max(1);
        JitterBuffer {
            queue: VecDeque::with_capacity(capacity),
            target,
            capacity,
            playing: false,
            stats: PlaybackStats::default(),
        }
    }

    /// The standard sizes ([`TARGET_FRAMES`], [`CAPACITY_FRAMES`]) for a
    /// device running at `rate` Hz.
    pub fn for_rate(rate: u32) -> Self {
        let frame = (rate / 50) as usize;
        Self::new(TARGET_FRAMES * frame, CAPACITY_FRAMES * frame)
    }

    /// Samples queued before playing (re)starts.
    pub fn target(&self) -> usize {
        self.target
    }

    /// Most samples kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Samples queued now.
    pub fn buffered(&self) -> usize {
        self.queue.len()
    }

    /// What happened so far.
    pub fn stats(&self) -> PlaybackStats {
        self.stats
    }

    /// Queues decoded samples, dropping the oldest beyond the capacity.
    pub fn push(&mut self, samples: &[f32]) {
        self.queue.extend(samples);
        let excess = self.queue.len().saturating_sub(self.capacity);
        if excess > 0 {
            self.queue.drain(..excess);
            self.stats.dropped_samples += excess as u64;
        }
    }

    /// Fills `out` completely: queued samples, then silence for the rest.
    pub fn pop_into(&mut self, out: &mut [f32]) {
        if !self.playing && self.queue.len() >= self.target.max(1) {
            self.playing = true;
        }
        let take = if self.playing {
            out.len().min(self.queue.len())
        } else {
            0
        };
        for (slot, sample) in out.iter_mut().zip(self.queue.drain(..take)) {
            *slot = sample;
        }
        out[take..].fill(0.0);
        let silent = out.len() - take;
        self.stats.played_samples += take as u64;
        self.stats.silent_samples += silent as u64;
        if self.playing && silent > 0 {
            self.stats.underruns += 1;
            self.playing = false;
        }
    }
}

/// Notices a device that stopped taking audio: cpal reports no error for
/// every way a stream can stall, but a running device always consumes
/// samples (played or silent). Time is an argument, so it tests without
/// waiting.
#[derive(Debug)]
pub struct StallWatch {
    limit: Duration,
    consumed: u64,
    since: Instant,
}

impl StallWatch {
    /// Reports a stall once nothing was consumed for `limit` after `now`.
    pub fn new(limit: Duration, now: Instant) -> Self {
        StallWatch {
            limit,
            consumed: 0,
            since: now,
        }
    }

    /// Takes the buffer's stats at `now`; `true` when the device has taken
    /// nothing for longer than the limit.
    pub fn is_stalled(&mut self, stats: PlaybackStats, now: Instant) -> bool {
        let consumed = stats.played_samples + stats.silent_samples;
        if consumed != self.consumed {
            self.consumed = consumed;
            self.since = now;
        }
        now.saturating_duration_since(self.since) > self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_that_stops_consuming_is_noticed_after_the_limit() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut watch = StallWatch::new(Duration::from_secs(2), start);
        let mut stats = PlaybackStats::default();
        // Not started yet, within the limit.
        assert!(!watch.is_stalled(stats, at(1_900)));
        stats.silent_samples = 960;
        assert!(!watch.is_stalled(stats, at(2_100)), "it started");
        stats.played_samples = 960;
        assert!(!watch.is_stalled(stats, at(3_000)));
        // Then it takes nothing more.
        assert!(!watch.is_stalled(stats, at(4_900)));
        assert!(watch.is_stalled(stats, at(5_100)));
        // And never starting at all is a stall too.
        let mut idle = StallWatch::new(Duration::from_secs(2), start);
        assert!(idle.is_stalled(PlaybackStats::default(), at(2_500)));
    }

    fn ramp(start: usize, n: usize) -> Vec<f32> {
        (start..start + n).map(|i| i as f32).collect()
    }

    #[test]
    fn waits_for_the_target_then_plays_in_order() {
        let mut buffer = JitterBuffer::new(4, 10);
        let mut out = [9.0; 3];
        buffer.push(&ramp(1, 3));
        buffer.pop_into(&mut out);
        assert_eq!(out, [0.0; 3], "below the target: silence");
        assert_eq!(
            buffer.stats().underruns,
            0,
            "not playing yet is no underrun"
        );
        buffer.push(&ramp(4, 2));
        buffer.pop_into(&mut out);
        assert_eq!(out, [1.0, 2.0, 3.0]);
        buffer.push(&ramp(6, 1));
        buffer.pop_into(&mut out);
        assert_eq!(out, [4.0, 5.0, 6.0]);
    }

    #[test]
    fn running_dry_plays_silence_and_refills_to_the_target() {
        let mut buffer = JitterBuffer::new(2, 10);
        buffer.push(&ramp(1, 3));
        let mut out = [9.0; 4];
        buffer.pop_into(&mut out);
        assert_eq!(out, [1.0, 2.0, 3.0, 0.0]);
        assert_eq!(buffer.stats().underruns, 1);
        // One sample is below the target of two: still silence.
        buffer.push(&[7.0]);
        buffer.pop_into(&mut out);
        assert_eq!(out, [0.0; 4]);
        assert_eq!(buffer.stats().underruns, 1, "one dry spell, one underrun");
        buffer.push(&[8.0]);
        buffer.pop_into(&mut out[..2]);
        assert_eq!(out[..2], [7.0, 8.0]);
        let stats = buffer.stats();
        assert_eq!(stats.played_samples, 5);
        assert_eq!(stats.silent_samples, 5);
    }

    #[test]
    fn overflow_drops_the_oldest() {
        let mut buffer = JitterBuffer::new(2, 5);
        buffer.push(&ramp(1, 4));
        buffer.push(&ramp(5, 4));
        assert_eq!(buffer.buffered(), 5);
        assert_eq!(buffer.stats().dropped_samples, 3);
        let mut out = [0.0; 5];
        buffer.pop_into(&mut out);
        assert_eq!(out, [4.0, 5.0, 6.0, 7.0, 8.0], "the newest survive");
    }

    #[test]
    fn standard_sizes_follow_the_rate() {
        let buffer = JitterBuffer::for_rate(48_000);
        assert_eq!((buffer.target(), buffer.capacity()), (1_920, 5_760));
        let buffer = JitterBuffer::for_rate(44_100);
        assert_eq!((buffer.target(), buffer.capacity()), (1_764, 5_292));
    }

    #[test]
    fn a_steady_stream_never_underruns_after_the_start() {
        // Producer and device in step, 20 ms each, after the target is met.
        let mut buffer = JitterBuffer::for_rate(48_000);
        let frame = vec![0.5; 960];
        let mut out = vec![0.0; 960];
        buffer.push(&frame);
        buffer.push(&frame);
        for _ in 0..500 {
            buffer.push(&frame);
            buffer.pop_into(&mut out);
            assert!(out.iter().all(|&s| s == 0.5));
        }
        let stats = buffer.stats();
        assert_eq!(
            (stats.underruns, stats.dropped_samples, stats.silent_samples),
            (0, 0, 0)
        );
    }
}
