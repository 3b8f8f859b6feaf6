//! A drift-free frame clock for sources that have no device to block on.
//!
//! Synthetic and file sources must hand out frames at their nominal rate, the
//! way a camera or microphone would. Sleeping a fixed period after each frame
//! drifts (the work and the sleep overshoot add up), so the pacer computes
//! each deadline from the first frame's instant: frame `n` is due at
//! `origin + n * period`. A frame that is a little late is delivered at once
//! and the next one is still due on the original grid, so the average rate
//! stays exact. After a long stall (debugger, suspended laptop) the pacer
//! skips the missed slots instead of bursting them out back to back; the
//! presentation time still tells the truth, it just jumps.
//!
//! Benchmarks and tests that want frames as fast as possible use
//! [`Pacer::unpaced`]: same presentation times, no sleeping.

use std::time::{Duration, Instant};

/// How many periods late a frame may be before the pacer gives up on catching
/// up and skips to the current slot.
const MAX_LAG_PERIODS: u32 = 2;

/// Paces frames at a fixed period on a drift-free schedule; see the module docs.
#[derive(Debug, Clone)]
pub struct Pacer {
    period: Duration,
    paced: bool,
    origin: Option<Instant>,
    next_slot: u64,
}

/// When a frame is due and which media time it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) deadline: Instant,
    pub(crate) pts: Duration,
}

impl Pacer {
    /// A pacer that sleeps until each frame is due.
    ///
    /// # Panics
    /// If `period` is zero.
    pub fn new(period: Duration) -> Self {
        assert!(!period.is_zero(), "frame period must be positive");
        Self {
            period,
            paced: true,
            origin: None,
            next_slot: 0,
        }
    }

    /// A pacer that never sleeps: frames come as fast as they are asked for,
    /// with presentation times as if they had been paced.
    ///
    /// # Panics
    /// If `period` is zero.
    pub fn unpaced(period: Duration) -> Self {
        Self {
            paced: false,
            ..Self::new(period)
        }
    }

    /// A pacer for `fps` frames per second (paced or not).
    ///
    /// # Panics
    /// If `fps` is zero.
    pub fn from_fps(fps: u32, paced: bool) -> Self {
        assert!(fps > 0, "frame rate must be positive");
        let period = Duration::from_nanos(1_000_000_000 / u64::from(fps));
        if paced {
            Self::new(period)
        } else {
            Self::unpaced(period)
        }
    }

    /// The frame period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Whether [`Pacer::wait`] sleeps.
    pub fn is_paced(&self) -> bool {
        self.paced
    }

    /// Blocks until the next frame is due (if paced) and returns its
    /// presentation time, measured from the first frame.
    pub fn wait(&mut self) -> Duration {
        if !self.paced {
            let pts = self.period * self.next_slot_u32();
            self.next_slot += 1;
            return pts;
        }
        let slot = self.schedule(Instant::now());
        let now = Instant::now();
        if slot.deadline > now {
            std::thread::sleep(slot.deadline - now);
        }
        slot.pts
    }

    /// The scheduling decision for a frame requested at `now`, without
    /// sleeping. Pure apart from advancing the slot counter, so it is unit
    /// tested with synthetic instants.
    pub(crate) fn schedule(&mut self, now: Instant) -> Slot {
        let origin = *self.origin.get_or_insert(now);
        let mut deadline = origin + self.period * self.next_slot_u32();
        if now > deadline + self.period * MAX_LAG_PERIODS {
            // Too far behind: skip to the slot that covers `now`.
            let elapsed = now - origin;
            self.next_slot = (elapsed.as_nanos() / self.period.as_nanos()) as u64;
            deadline = origin + self.period * self.next_slot_u32();
        }
        let pts = deadline - origin;
        self.next_slot += 1;
        Slot { deadline, pts }
    }

    fn next_slot_u32(&self) -> u32 {
        // Duration only multiplies by u32; 2^32 frames at 1 kHz is 49 days,
        // and a call does not last that long. Saturate rather than wrap.
        u32::try_from(self.next_slot).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn deadlines_follow_the_grid_not_the_request_times() {
        let mut pacer = Pacer::new(20 * MS);
        let t0 = Instant::now();
        assert_eq!(pacer.schedule(t0).deadline, t0);
        // Asked early, asked slightly late: both keep the original grid.
        assert_eq!(pacer.schedule(t0 + 5 * MS).deadline, t0 + 20 * MS);
        let late = pacer.schedule(t0 + 55 * MS);
        assert_eq!(late.deadline, t0 + 40 * MS);
        assert_eq!(late.pts, 40 * MS);
        assert_eq!(pacer.schedule(t0 + 56 * MS).deadline, t0 + 60 * MS);
    }

    #[test]
    fn a_long_stall_skips_slots_instead_of_bursting() {
        let mut pacer = Pacer::new(20 * MS);
        let t0 = Instant::now();
        pacer.schedule(t0);
        let after_stall = pacer.schedule(t0 + 1010 * MS);
        assert_eq!(after_stall.pts, 1000 * MS);
        assert_eq!(pacer.schedule(t0 + 1011 * MS).pts, 1020 * MS);
    }

    #[test]
    fn unpaced_gives_the_same_times_without_sleeping() {
        let mut pacer = Pacer::from_fps(10, false);
        let start = Instant::now();
        let pts: Vec<_> = (0..50).map(|_| pacer.wait()).collect();
        assert!(start.elapsed() < 100 * MS);
        assert_eq!(pts[0], Duration::ZERO);
        assert_eq!(pts[49], 4900 * MS);
    }

    #[test]
    fn paced_wait_really_waits() {
        let mut pacer = Pacer::new(10 * MS);
        let start = Instant::now();
        for _ in 0..6 {
            pacer.wait();
        }
        // Frame 0 is immediate, frame 5 is due at 50 ms.
        let elapsed = start.elapsed();
        assert!(elapsed >= 50 * MS, "{elapsed:?}");
        assert!(elapsed < 500 * MS, "{elapsed:?}");
    }
}
