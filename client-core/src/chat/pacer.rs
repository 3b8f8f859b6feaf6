//! Spacing for bursts of sends, so that draining a long outbox stays under
//! the server's per-connection rate limit (50 messages a second by
//! default) instead of being refused and retried.

use std::time::{Duration, Instant};

/// Hands out send times at most `rate` a second. Pure: the caller sleeps.
#[derive(Clone, Debug)]
pub struct Pacer {
    gap: Duration,
    next: Option<Instant>,
}

impl Pacer {
    /// At most `per_second` sends a second (at least one).
    pub fn new(per_second: u32) -> Self {
        Self {
            gap: Duration::from_secs(1) / per_second.max(1),
            next: None,
        }
    }

    /// Claims the next slot: how long to wait from `now` before sending.
    /// The first send after a quiet spell goes at once.
    pub fn claim(&mut self, now: Instant) -> Duration {
        let at = match self.next {
            Some(next) if next > now => next,
            _ => now,
        };
        self.next = Some(at + self.gap);
        at - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_spaced_and_a_quiet_spell_resets() {
        let mut pacer = Pacer::new(40);
        let t0 = Instant::now();
        let gap = Duration::from_millis(25);
        assert_eq!(pacer.claim(t0), Duration::ZERO);
        assert_eq!(pacer.claim(t0), gap);
        assert_eq!(pacer.claim(t0), gap * 2);
        // Time passes past every claimed slot: the next send goes at once.
        let later = t0 + Duration::from_secs(1);
        assert_eq!(pacer.claim(later), Duration::ZERO);
        assert_eq!(
            pacer.claim(later + Duration::from_millis(10)),
            Duration::from_millis(15)
        );
    }

    #[test]
    fn a_rate_of_zero_is_one_a_second() {
        let mut pacer = Pacer::new(0);
        let t0 = Instant::now();
        pacer.claim(t0);
        assert_eq!(pacer.claim(t0), Duration::from_secs(1));
    }
}
