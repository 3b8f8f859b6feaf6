//! Reconnect delays: full-jitter exponential backoff.
//!
//! When a server restarts, every client loses its socket at the same
//! instant. If they all retried after the same fixed or purely exponential
//! delay they would come back in lockstep, and the fresh server would take
//! the whole clinic's reconnects (TLS, token checks, presence snapshots) in
//! one burst, again at every step. "Full jitter" (AWS architecture blog,
//! also LiveKit's reconnect policy) draws each delay uniformly from
//! `[0, min(cap, base · 2^attempt)]`, which spreads the herd over the whole
//! window while keeping the expected delay exponential.
//!
//! A server that is going away says how long to wait (`reconnect{after_ms}`,
//! itself randomised per session); that hint is a floor for the next delay,
//! never a reason to retry sooner.
//!
//! The module is pure: the caller passes the random draw in, so tests are
//! deterministic.

use std::time::Duration;

/// Upper bound of the first retry's window.
pub const BASE_DELAY: Duration = Duration::from_millis(250);

/// No window grows beyond this: a patient whose Wi-Fi comes back should be
/// online again within seconds, not minutes.
pub const MAX_DELAY: Duration = Duration::from_secs(10);

/// The largest server `reconnect{after_ms}` hint honoured. The hint comes
/// from the network, so a broken or hostile server must not park the client
/// for hours.
pub const MAX_SERVER_HINT: Duration = Duration::from_secs(60);

/// Reconnect delay policy: one per connection, [`reset`](Self::reset) after
/// a successful handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
    floor: Option<Duration>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(BASE_DELAY, MAX_DELAY)
    }
}

impl Backoff {
    /// A policy with the given first window and cap (tests shorten them).
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            attempt: 0,
            floor: None,
        }
    }

    /// How many delays have been handed out since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The window the next delay is drawn from, before any server hint.
    pub fn window(&self) -> Duration {
        // 2^attempt overflows u32 from attempt 32 on; by then the cap has
        // long been reached, so saturate to it.
        match 2u32.checked_pow(self.attempt) {
            Some(factor) => self.base.saturating_mul(factor).min(self.cap),
            None => self.cap,
        }
    }

    /// The next delay. `unit` is a uniform random draw from `[0, 1)`
    /// (values outside are clamped). Counts an attempt and consumes any
    /// server hint.
    pub fn next_delay(&mut self, unit: f64) -> Duration {
        let unit = if unit.is_nan() {
            0.0
        } else {
            unit.clamp(0.0, 1.0)
        };
        let jittered = self.window().mul_f64(unit);
        self.attempt = self.attempt.saturating_add(1);
        match self.floor.take() {
            Some(floor) => jittered.max(floor),
            None => jittered,
        }
    }

    /// Honours a server's `reconnect{after_ms}`: the next delay is at least
    /// this long (up to [`MAX_SERVER_HINT`]).
    pub fn set_server_hint(&mut self, after: Duration) {
        let after = after.min(MAX_SERVER_HINT);
        self.floor = Some(self.floor.map_or(after, |f| f.max(after)));
    }

    /// Starts over after a successful connection. A pending server hint is
    /// kept: it describes the next reconnect, whenever that happens.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALMOST_ONE: f64 = 0.999_999;

    #[test]
    fn windows_double_from_the_base() {
        let mut b = Backoff::default();
        let mut maxima = Vec::new();
        for _ in 0..6 {
            maxima.push(b.window());
            b.next_delay(0.5);
        }
        let ms: Vec<u128> = maxima.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [250, 500, 1000, 2000, 4000, 8000]);
    }

    #[test]
    fn delay_is_the_draw_scaled_to_the_window() {
        let mut b = Backoff::default();
        assert_eq!(b.next_delay(0.0), Duration::ZERO);
        assert_eq!(b.next_delay(0.5), Duration::from_millis(250));
        let top = b.next_delay(ALMOST_ONE);
        assert!(top < Duration::from_millis(1000) && top > Duration::from_millis(999));
        assert_eq!(b.attempt(), 3);
    }

    #[test]
    fn window_stops_at_the_cap() {
        let mut b = Backoff::default();
        for _ in 0..20 {
            let d = b.next_delay(ALMOST_ONE);
            assert!(d <= MAX_DELAY, "{d:?}");
        }
        assert_eq!(b.window(), MAX_DELAY);
    }

    #[test]
    fn huge_attempt_numbers_do_not_overflow() {
        let mut b = Backoff::default();
        for attempt in [31, 32, 33, 64, 1_000, u32::MAX - 1] {
            b.attempt = attempt;
            assert_eq!(b.window(), MAX_DELAY, "attempt {attempt}");
            assert!(b.next_delay(ALMOST_ONE) <= MAX_DELAY);
        }
        assert_eq!(b.attempt(), u32::MAX);
        assert!(b.next_delay(ALMOST_ONE) <= MAX_DELAY);
        let mut huge = Backoff::new(Duration::MAX, Duration::MAX);
        huge.attempt = 40;
        assert_eq!(huge.window(), Duration::MAX);
    }

    #[test]
    fn bad_draws_are_clamped() {
        let mut b = Backoff::default();
        assert_eq!(b.next_delay(f64::NAN), Duration::ZERO);
        assert_eq!(b.next_delay(-3.0), Duration::ZERO);
        assert_eq!(b.next_delay(7.0), Duration::from_millis(1000));
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::default();
        for _ in 0..5 {
            b.next_delay(0.5);
        }
        b.reset();
        assert_eq!(b.attempt(), 0);
        assert_eq!(b.window(), BASE_DELAY);
    }

    #[test]
    fn server_hint_is_a_floor_for_one_delay() {
        let mut b = Backoff::default();
        b.set_server_hint(Duration::from_millis(3_000));
        assert_eq!(b.next_delay(0.0), Duration::from_millis(3_000));
        // Consumed: the next delay is the plain jittered one.
        assert_eq!(b.next_delay(0.0), Duration::ZERO);
    }

    #[test]
    fn server_hint_does_not_shorten_a_longer_draw() {
        let mut b = Backoff {
            attempt: 10,
            ..Backoff::default()
        };
        b.set_server_hint(Duration::from_millis(100));
        assert_eq!(b.next_delay(0.5), MAX_DELAY / 2);
    }

    #[test]
    fn server_hint_survives_reset_and_is_bounded() {
        let mut b = Backoff::default();
        b.set_server_hint(Duration::from_secs(2));
        b.reset();
        b.set_server_hint(Duration::from_secs(1));
        assert_eq!(
            b.next_delay(0.0),
            Duration::from_secs(2),
            "larger hint kept"
        );
        b.set_server_hint(Duration::from_secs(u64::MAX / 2));
        assert_eq!(b.next_delay(0.0), MAX_SERVER_HINT);
    }
}
