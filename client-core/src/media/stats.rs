//! Per-call measurements: what the app's stats overlay and the headless
//! client's JSON lines show, and what a visit record keeps.
//!
//! Counters are bumped lock-free by the pipeline threads
//! ([`PipelineCounters`]); the session turns them into rates once a
//! second and adds what only the WebRTC stack knows (round-trip time,
//! jitter, loss).

use serde::Serialize;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One snapshot of a call's media, reported about once a second.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CallStats {
    /// Time since the media session started.
    pub elapsed_ms: u64,
    /// Round-trip time of the selected ICE candidate pair (STUN checks).
    pub rtt_ms: Option<f64>,
    /// Type of our candidate in the selected pair: `host`, `srflx`,
    /// `prflx` or `relay` (the media goes through a TURN server). `None`
    /// until a pair is selected.
    pub local_candidate_type: Option<String>,
    /// What we send.
    pub outbound: OutboundStats,
    /// What we receive.
    pub inbound: InboundStats,
}

/// The sending half of [`CallStats`].
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct OutboundStats {
    /// Video payload bitrate over the last interval.
    pub video_kbps: f64,
    /// Audio payload bitrate over the last interval.
    pub audio_kbps: f64,
    /// Video frames encoded and sent since the call started.
    pub frames_sent: u64,
    /// Frames sent per second over the last interval.
    pub frame_rate: f64,
    /// Keyframes sent (the first, and one per keyframe request).
    pub keyframes_sent: u64,
    /// Keyframe requests (PLI/FIR) the other side sent us.
    pub keyframe_requests_received: u64,
}

/// The receiving half of [`CallStats`].
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct InboundStats {
    /// Video payload bitrate over the last interval.
    pub video_kbps: f64,
    /// Audio payload bitrate over the last interval.
    pub audio_kbps: f64,
    /// Interarrival jitter of the video stream (RFC 3550), in ms.
    pub video_jitter_ms: Option<f64>,
    /// Interarrival jitter of the audio stream, in ms.
    pub audio_jitter_ms: Option<f64>,
    /// RTP packets lost (both streams) since the call started.
    pub packets_lost: u64,
    /// RTP packets received (both streams) since the call started: with
    /// `packets_lost`, the loss rate.
    pub packets_received: u64,
    /// Video frames decoded since the call started.
    pub frames_decoded: u64,
    /// Frames decoded per second over the last interval.
    pub frame_rate: f64,
    /// Size of the last decoded frame.
    pub frame_width: u32,
    /// Size of the last decoded frame.
    pub frame_height: u32,
    /// Keyframe requests (PLI) we sent after loss or a decode error.
    pub keyframe_requests_sent: u64,
    /// 20 ms audio frames decoded (concealed ones included).
    pub audio_frames_decoded: u64,
}

/// Lock-free counters shared by a session and its pipeline threads.
#[derive(Debug, Default)]
pub(crate) struct PipelineCounters {
    pub(crate) video_bytes_sent: AtomicU64,
    pub(crate) audio_bytes_sent: AtomicU64,
    pub(crate) frames_sent: AtomicU64,
    pub(crate) keyframes_sent: AtomicU64,
    pub(crate) keyframe_requests_received: AtomicU64,
    pub(crate) video_bytes_received: AtomicU64,
    pub(crate) audio_bytes_received: AtomicU64,
    pub(crate) packets_lost: AtomicU64,
    pub(crate) packets_received: AtomicU64,
    pub(crate) frames_decoded: AtomicU64,
    pub(crate) frame_width: AtomicU32,
    pub(crate) frame_height: AtomicU32,
    pub(crate) keyframe_requests_sent: AtomicU64,
    pub(crate) audio_frames_decoded: AtomicU64,
}

impl PipelineCounters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Values of the cumulative counters at the previous report, for rates.
#[derive(Debug)]
pub(crate) struct RateTracker {
    started: Instant,
    last_at: Instant,
    last: [u64; 6],
}

/// What the WebRTC stack measured (filled by the session).
#[derive(Debug, Default)]
pub(crate) struct TransportFigures {
    pub(crate) rtt_ms: Option<f64>,
    pub(crate) local_candidate_type: Option<String>,
    pub(crate) video_jitter_ms: Option<f64>,
    pub(crate) audio_jitter_ms: Option<f64>,
}

impl RateTracker {
    pub(crate) fn new(now: Instant) -> Self {
        RateTracker {
            started: now,
            last_at: now,
            last: [0; 6],
        }
    }

    /// A snapshot at `now`, with rates over the time since the last one.
    pub(crate) fn snapshot(
        &mut self,
        now: Instant,
        c: &PipelineCounters,
        transport: TransportFigures,
    ) -> CallStats {
        use PipelineCounters as P;
        let current = [
            P::get(&c.video_bytes_sent),
            P::get(&c.audio_bytes_sent),
            P::get(&c.frames_sent),
            P::get(&c.video_bytes_received),
            P::get(&c.audio_bytes_received),
            P::get(&c.frames_decoded),
        ];
        let secs = now
            .saturating_duration_since(self.last_at)
            .max(Duration::from_millis(1))
            .as_secs_f64();
        let rate = |i: usize| current[i].saturating_sub(self.last[i]) as f64 / secs;
        let kbps = |i: usize| rate(i) * 8.0 / 1000.0;
        let stats = CallStats {
            elapsed_ms: now.saturating_duration_since(self.started).as_millis() as u64,
            rtt_ms: transport.rtt_ms,
            local_candidate_type: transport.local_candidate_type,
            outbound: OutboundStats {
                video_kbps: round1(kbps(0)),
                audio_kbps: round1(kbps(1)),
                frames_sent: current[2],
                frame_rate: round1(rate(2)),
                keyframes_sent: P::get(&c.keyframes_sent),
                keyframe_requests_received: P::get(&c.keyframe_requests_received),
            },
            inbound: InboundStats {
                video_kbps: round1(kbps(3)),
                audio_kbps: round1(kbps(4)),
                video_jitter_ms: transport.video_jitter_ms,
                audio_jitter_ms: transport.audio_jitter_ms,
                packets_lost: P::get(&c.packets_lost),
                packets_received: P::get(&c.packets_received),
                frames_decoded: current[5],
                frame_rate: round1(rate(5)),
                frame_width: c.frame_width.load(Ordering::Relaxed),
                frame_height: c.frame_height.load(Ordering::Relaxed),
                keyframe_requests_sent: P::get(&c.keyframe_requests_sent),
                audio_frames_decoded: P::get(&c.audio_frames_decoded),
            },
        };
        self.last = current;
        self.last_at = now;
        stats
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_over_the_interval_and_totals_are_cumulative() {
        let t0 = Instant::now();
        let mut tracker = RateTracker::new(t0);
        let c = PipelineCounters::default();
        PipelineCounters::add(&c.video_bytes_sent, 125_000);
        PipelineCounters::add(&c.frames_sent, 30);
        let first = tracker.snapshot(t0 + Duration::from_secs(1), &c, TransportFigures::default());
        assert_eq!(first.outbound.video_kbps, 1000.0);
        assert_eq!(first.outbound.frame_rate, 30.0);
        assert_eq!(first.elapsed_ms, 1000);

        PipelineCounters::add(&c.video_bytes_sent, 62_500);
        PipelineCounters::add(&c.frames_sent, 15);
        let second = tracker.snapshot(
            t0 + Duration::from_secs(2),
            &c,
            TransportFigures {
                rtt_ms: Some(0.4),
                ..Default::default()
            },
        );
        assert_eq!(second.outbound.video_kbps, 500.0);
        assert_eq!(second.outbound.frames_sent, 45);
        assert_eq!(second.outbound.frame_rate, 15.0);
        assert_eq!(second.rtt_ms, Some(0.4));
    }
}
