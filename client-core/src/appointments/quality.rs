//! Call quality reports for visit records: a pure accumulator of a call's
//! [`CallStats`] samples that yields the [`QualitySummary`] this party
//! posts when the call ends, and the [`QualityReporter`] that watches the
//! driver's events and posts it for calls labelled with an appointment.
//!
//! ```
//! use clinicall_client_core::appointments::QualityAccumulator;
//! use clinicall_client_core::media::CallStats;
//! use clinicall_client_core::protocol::appointments::QualityLevel;
//!
//! let mut quality = QualityAccumulator::default();
//! let mut sample = CallStats::default();
//! sample.rtt_ms = Some(40.0);
//! sample.inbound.video_kbps = 900.0;
//! sample.inbound.audio_kbps = 32.0;
//! sample.inbound.audio_jitter_ms = Some(4.0);
//! sample.inbound.packets_received = 1000;
//! quality.add(&sample);
//! let summary = quality.summary().expect("media was measured");
//! assert_eq!(summary.quality, QualityLevel::Good);
//! assert_eq!(summary.avg_bitrate_kbps, 932);
//! ```

use super::rest::AppointmentsClient;
use crate::call::{CallEvent, CallState};
use crate::driver::DriverEvent;
use crate::media::CallStats;
use crate::protocol::appointments::{QualityLevel, QualitySummary};
use crate::protocol::{CallId, ErrorCode};
use crate::signaling::RestError;
use std::collections::HashMap;
use std::time::Duration;
use tokio::task::JoinHandle;

// Verdict thresholds. A call is as good as its worst figure: a person
// notices a frozen picture or a talk-over delay whatever the other
// figures say.
//
// Round-trip time: ITU-T G.114 puts one-way mouth-to-ear delay under
// 150 ms as transparent for conversation and over 400 ms as unacceptable.
// RTT is about twice the one-way network delay, and the jitter buffer and
// codecs add their own on top, so RTT up to 300 ms (≈150 ms one way) is
// good and up to 600 ms (≈300 ms one way: people start to talk over each
// other) fair.
const GOOD_RTT_MS: f64 = 300.0;
const FAIR_RTT_MS: f64 = 600.0;
// Packet loss: Opus conceals isolated losses of a few percent, but our VP8
// has no retransmission, so every lost packet costs a frame until the next
// keyframe. Under 1% the picture freezes rarely; over 5% it freezes every
// few seconds and speech breaks up (the usual WebRTC quality-indicator
// cut-offs).
const GOOD_LOSS_PERMILLE: u32 = 10;
const FAIR_LOSS_PERMILLE: u32 = 50;
// Jitter: the receivers' jitter buffers absorb a few tens of ms without
// adding noticeable delay; over ~30 ms they grow and add it (VoIP
// guidance commonly puts the limit of good at 30 ms), and past ~60 ms late
// packets are dropped as lost.
const GOOD_JITTER_MS: f64 = 30.0;
const FAIR_JITTER_MS: f64 = 60.0;

/// Sums of one call's [`CallStats`] samples, for its [`QualitySummary`].
///
/// Pure: no clock, no I/O. Feed it every sample of the call with
/// [`add`](Self::add), in order, and ask for the
/// [`summary`](Self::summary) when the call has ended.
///
/// - **Bitrate** is the mean of the received (video + audio) bitrate over
///   the samples from the first one that received anything: the seconds
///   of setup before media flowed are not the call's quality, but an
///   outage afterwards is.
/// - **Loss** is the packets lost of all those expected (received + lost),
///   from the cumulative counters of the latest sample.
/// - **Jitter** is the mean, over the samples that measured it, of the
///   worse of the audio and video jitter.
/// - **RTT** is the mean over the samples that measured it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QualityAccumulator {
    bitrate_sum_kbps: f64,
    bitrate_samples: u32,
    jitter_sum_ms: f64,
    jitter_samples: u32,
    rtt_sum_ms: f64,
    rtt_samples: u32,
    packets_received: u64,
    packets_lost: u64,
    samples: u32,
}

impl QualityAccumulator {
    /// Adds one sample of the call.
    pub fn add(&mut self, stats: &CallStats) {
        let inbound = &stats.inbound;
        self.samples += 1;
        let kbps = non_negative(inbound.video_kbps) + non_negative(inbound.audio_kbps);
        if self.bitrate_samples > 0 || kbps > 0.0 {
            self.bitrate_sum_kbps += kbps;
            self.bitrate_samples += 1;
        }
        let jitter = [inbound.video_jitter_ms, inbound.audio_jitter_ms]
            .into_iter()
            .flatten()
            .filter(|j| j.is_finite())
            .fold(None, |worst: Option<f64>, j| {
                Some(worst.map_or(j, |w| w.max(j)))
            });
        if let Some(jitter) = jitter {
            self.jitter_sum_ms += non_negative(jitter);
            self.jitter_samples += 1;
        }
        if let Some(rtt) = stats.rtt_ms.filter(|r| r.is_finite()) {
            self.rtt_sum_ms += non_negative(rtt);
            self.rtt_samples += 1;
        }
        // Cumulative counters: the latest sample holds the call's totals
        // (max, in case a sample from a restarted session counts lower).
        self.packets_received = self.packets_received.max(inbound.packets_received);
        self.packets_lost = self.packets_lost.max(inbound.packets_lost);
    }

    /// Samples added so far.
    pub fn samples(&self) -> u32 {
        self.samples
    }

    /// The call's summary, or `None` if no sample was added (the call never
    /// had media, so there is nothing to report).
    pub fn summary(&self) -> Option<QualitySummary> {
        if self.samples == 0 {
            return None;
        }
        let mean = |sum: f64, n: u32| if n == 0 { 0.0 } else { sum / f64::from(n) };
        let bitrate = mean(self.bitrate_sum_kbps, self.bitrate_samples);
        let jitter = mean(self.jitter_sum_ms, self.jitter_samples);
        let rtt = mean(self.rtt_sum_ms, self.rtt_samples);
        let expected = self.packets_received.saturating_add(self.packets_lost);
        let loss_permille = if expected == 0 {
            0
        } else {
            // Rounded; at most 1000 since lost <= expected.
            ((self.packets_lost as f64 * 1000.0 / expected as f64).round() as u32).min(1000)
        };
        let received_nothing = self.bitrate_samples == 0 && self.packets_received == 0;
        let quality = verdict(received_nothing, loss_permille, jitter, rtt);
        Some(QualitySummary {
            quality,
            avg_bitrate_kbps: to_u32(bitrate),
            packet_loss_permille: loss_permille as u16,
            jitter_ms: to_u32(jitter),
            rtt_ms: to_u32(rtt),
        })
    }
}

/// The verdict on a call's figures: the worst of RTT, loss and jitter
/// (see the thresholds above); `Poor` when no media arrived at all.
/// Bitrate alone judges nothing: an audio-only call (camera off) runs at a
/// few tens of kbit/s and can be perfectly good.
fn verdict(
    received_nothing: bool,
    loss_permille: u32,
    jitter_ms: f64,
    rtt_ms: f64,
) -> QualityLevel {
    if received_nothing {
        return QualityLevel::Poor;
    }
    let rtt = level(rtt_ms <= GOOD_RTT_MS, rtt_ms <= FAIR_RTT_MS);
    let loss = level(
        loss_permille <= GOOD_LOSS_PERMILLE,
        loss_permille <= FAIR_LOSS_PERMILLE,
    );
    let jitter = level(jitter_ms <= GOOD_JITTER_MS, jitter_ms <= FAIR_JITTER_MS);
    worst(worst(rtt, loss), jitter)
}

fn level(good: bool, fair: bool) -> QualityLevel {
    match (good, fair) {
        (true, _) => QualityLevel::Good,
        (false, true) => QualityLevel::Fair,
        (false, false) => QualityLevel::Poor,
    }
}

fn worst(a: QualityLevel, b: QualityLevel) -> QualityLevel {
    let rank = |l: QualityLevel| match l {
        QualityLevel::Good => 0,
        QualityLevel::Fair => 1,
        QualityLevel::Poor => 2,
    };
    if rank(a) >= rank(b) { a } else { b }
}

fn non_negative(x: f64) -> f64 {
    if x.is_finite() { x.max(0.0) } else { 0.0 }
}

fn to_u32(x: f64) -> u32 {
    // `as` saturates, and NaN becomes 0.
    x.round() as u32
}

/// How a [`QualityReporter`] retries a post that failed.
#[derive(Clone, Debug)]
pub struct ReportRetry {
    /// Tries in all (the first included).
    pub attempts: u32,
    /// Wait before the second try; doubled before each further one.
    pub first_delay: Duration,
}

impl Default for ReportRetry {
    fn default() -> Self {
        // 1 + 2 + 4 s: rides out a server restart or a short network drop
        // at hang-up, without holding on to a report for minutes.
        ReportRetry {
            attempts: 4,
            first_delay: Duration::from_secs(1),
        }
    }
}

/// What a [`QualityReporter`] knows of one call.
#[derive(Debug, Default)]
struct Tracked {
    appointment: Option<String>,
    quality: QualityAccumulator,
}

/// Posts this party's [`QualitySummary`] of each call labelled with an
/// appointment, once, when it ends (`POST /calls/{id}/quality`), so the
/// visit record shows how the call went.
///
/// Give it every [`DriverEvent`] the app reads
/// ([`observe`](Self::observe)); it never blocks: the post runs in its own
/// task, retried a few times ([`ReportRetry`]) when the failure may pass
/// (the network, a busy or restarting server). A call without an
/// appointment, or one that never had media (no
/// [`DriverEvent::MediaStats`]), is not reported.
///
/// ```no_run
/// # use clinicall_client_core::appointments::{AppointmentsClient, QualityReporter};
/// # use clinicall_client_core::driver::DriverEvent;
/// # async fn demo(rest: AppointmentsClient, mut events: tokio::sync::mpsc::Receiver<DriverEvent>) {
/// let mut reporter = QualityReporter::new(rest);
/// while let Some(event) = events.recv().await {
///     reporter.observe(&event);
///     // ... the app's own handling of `event`
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct QualityReporter {
    client: AppointmentsClient,
    retry: ReportRetry,
    calls: HashMap<CallId, Tracked>,
}

impl QualityReporter {
    /// A reporter posting with `client`'s login.
    pub fn new(client: AppointmentsClient) -> Self {
        Self::with_retry(client, ReportRetry::default())
    }

    /// A reporter with its own retry policy.
    pub fn with_retry(client: AppointmentsClient, retry: ReportRetry) -> Self {
        QualityReporter {
            client,
            retry,
            calls: HashMap::new(),
        }
    }

    /// Takes one driver event. When it ends a call labelled with an
    /// appointment that had media, starts posting the summary and returns
    /// the posting task (the app may drop it; tests await it). Must be
    /// called inside a tokio runtime.
    pub fn observe(&mut self, event: &DriverEvent) -> Option<JoinHandle<Result<(), RestError>>> {
        match event {
            DriverEvent::CallDetails(info) => {
                // Details follow each state change, so the call is tracked
                // already, unless that change ended it (then it is gone,
                // and stays gone).
                if let Some(tracked) = info.call_id.and_then(|id| self.calls.get_mut(&id)) {
                    tracked.appointment.clone_from(&info.appointment_id);
                }
                None
            }
            DriverEvent::MediaStats { call_id, stats } => {
                // Stats of a call already reported (a late sample) are
                // ignored: `Ended` removed it.
                if let Some(tracked) = self.calls.get_mut(call_id) {
                    tracked.quality.add(stats);
                }
                None
            }
            DriverEvent::Call(CallEvent::StateChanged(state)) => {
                let call_id = state.call_id()?;
                match state {
                    CallState::Ended { .. } => self.ended(call_id),
                    _ => {
                        // Tracked from its first state with an id, so
                        // stats that come before its details count.
                        self.calls.entry(call_id).or_default();
                        None
                    }
                }
            }
            _ => None,
        }
    }

    fn ended(&mut self, call_id: CallId) -> Option<JoinHandle<Result<(), RestError>>> {
        let tracked = self.calls.remove(&call_id)?;
        tracked.appointment.as_ref()?;
        let summary = tracked.quality.summary()?;
        let client = self.client.clone();
        let retry = self.retry.clone();
        Some(tokio::spawn(async move {
            post_with_retry(&client, call_id, &summary, &retry).await
        }))
    }
}

async fn post_with_retry(
    client: &AppointmentsClient,
    call_id: CallId,
    summary: &QualitySummary,
    retry: &ReportRetry,
) -> Result<(), RestError> {
    let mut delay = retry.first_delay;
    let mut attempt = 1;
    loop {
        match client.report_quality(call_id, summary).await {
            Ok(()) => {
                tracing::info!(%call_id, quality = ?summary.quality, "call quality reported");
                return Ok(());
            }
            Err(e) if attempt < retry.attempts.max(1) && may_pass(&e) => {
                tracing::info!(%call_id, error = %e, attempt, "quality report failed; trying again");
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
                attempt += 1;
            }
            Err(e) => {
                tracing::warn!(%call_id, error = %e, "quality report not sent");
                return Err(e);
            }
        }
    }
}

/// Whether trying the same post again later can succeed: no answer, a
/// busy or failing server, or the call not yet ended on the server (our
/// hang-up may still be on its way when the post arrives).
fn may_pass(e: &RestError) -> bool {
    match e {
        RestError::Transport(_) => true,
        RestError::Unexpected { status, .. } => *status >= 500,
        RestError::Api { code, status, .. } => {
            *status >= 500
                || matches!(
                    code,
                    ErrorCode::RateLimited
                        | ErrorCode::Unavailable
                        | ErrorCode::Internal
                        | ErrorCode::WrongCallState
                )
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second of a call with these figures; `received`/`lost` are the
    /// cumulative packet counters.
    fn sample(
        kbps: f64,
        rtt: Option<f64>,
        jitter: Option<f64>,
        received: u64,
        lost: u64,
    ) -> CallStats {
        CallStats {
            rtt_ms: rtt,
            inbound: crate::media::InboundStats {
                video_kbps: kbps * 0.9,
                audio_kbps: kbps * 0.1,
                audio_jitter_ms: jitter,
                packets_received: received,
                packets_lost: lost,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn summarize(samples: &[CallStats]) -> QualitySummary {
        let mut acc = QualityAccumulator::default();
        for s in samples {
            acc.add(s);
        }
        acc.summary().expect("samples were added")
    }

    #[test]
    fn no_samples_no_report() {
        assert_eq!(QualityAccumulator::default().summary(), None);
    }

    #[test]
    fn means_start_when_media_arrives_and_loss_comes_from_the_totals() {
        let summary = summarize(&[
            // Setup: nothing received yet, no RTT measured.
            sample(0.0, None, None, 0, 0),
            sample(1000.0, Some(20.0), Some(4.0), 100, 0),
            sample(800.0, Some(40.0), Some(8.0), 200, 1),
            // An outage after media flowed counts.
            sample(0.0, Some(60.0), None, 200, 3),
        ]);
        assert_eq!(summary.avg_bitrate_kbps, 600); // (1000 + 800 + 0) / 3
        assert_eq!(summary.rtt_ms, 40);
        assert_eq!(summary.jitter_ms, 6);
        // 3 lost of 203 expected: 14.8‰.
        assert_eq!(summary.packet_loss_permille, 15);
        assert_eq!(summary.quality, QualityLevel::Fair);
    }

    #[test]
    fn jitter_is_the_worse_of_audio_and_video() {
        let mut s = sample(500.0, Some(10.0), Some(5.0), 10, 0);
        s.inbound.video_jitter_ms = Some(20.0);
        let summary = summarize(&[s]);
        assert_eq!(summary.jitter_ms, 20);
        assert_eq!(summary.quality, QualityLevel::Good);
    }

    #[test]
    fn each_figure_alone_sets_the_verdict_at_its_thresholds() {
        let verdict_of = |rtt: f64, jitter: f64, lost: u64| {
            // 1000 expected packets, so `lost` is per mille.
            summarize(&[sample(300.0, Some(rtt), Some(jitter), 1000 - lost, lost)]).quality
        };
        use QualityLevel::{Fair, Good, Poor};
        // Loopback-like call.
        assert_eq!(verdict_of(1.0, 1.0, 0), Good);
        // RTT.
        assert_eq!(verdict_of(300.0, 1.0, 0), Good);
        assert_eq!(verdict_of(301.0, 1.0, 0), Fair);
        assert_eq!(verdict_of(600.0, 1.0, 0), Fair);
        assert_eq!(verdict_of(601.0, 1.0, 0), Poor);
        // Loss.
        assert_eq!(verdict_of(1.0, 1.0, 10), Good);
        assert_eq!(verdict_of(1.0, 1.0, 11), Fair);
        assert_eq!(verdict_of(1.0, 1.0, 50), Fair);
        assert_eq!(verdict_of(1.0, 1.0, 51), Poor);
        // Jitter.
        assert_eq!(verdict_of(1.0, 30.0, 0), Good);
        assert_eq!(verdict_of(1.0, 31.0, 0), Fair);
        assert_eq!(verdict_of(1.0, 60.0, 0), Fair);
        assert_eq!(verdict_of(1.0, 61.0, 0), Poor);
        // The worst figure wins.
        assert_eq!(verdict_of(400.0, 70.0, 0), Poor);
        assert_eq!(verdict_of(400.0, 1.0, 20), Fair);
    }

    #[test]
    fn a_call_that_received_nothing_is_poor_and_audio_only_is_not_punished() {
        let silent = summarize(&[
            sample(0.0, Some(10.0), None, 0, 0),
            sample(0.0, Some(10.0), None, 0, 0),
        ]);
        assert_eq!(silent.quality, QualityLevel::Poor);
        assert_eq!(silent.avg_bitrate_kbps, 0);
        assert_eq!(silent.packet_loss_permille, 0);

        let audio_only = summarize(&[sample(32.0, Some(30.0), Some(3.0), 50, 0)]);
        assert_eq!(audio_only.avg_bitrate_kbps, 32);
        assert_eq!(audio_only.quality, QualityLevel::Good);
    }

    #[test]
    fn everything_lost_is_a_thousand_per_mille_and_bad_numbers_do_not_poison_the_means() {
        let summary = summarize(&[
            sample(100.0, Some(f64::NAN), Some(f64::INFINITY), 0, 500),
            sample(f64::NAN, Some(-5.0), Some(2.0), 0, 500),
        ]);
        assert_eq!(summary.packet_loss_permille, 1000);
        assert_eq!(summary.rtt_ms, 0);
        assert_eq!(summary.jitter_ms, 2);
        assert_eq!(summary.avg_bitrate_kbps, 50);
        assert_eq!(summary.quality, QualityLevel::Poor);
        assert!(summary.validate().is_ok());
    }

    /// A reporter whose posts fail at once (nobody is signed in).
    fn offline_reporter() -> QualityReporter {
        use crate::signaling::{AuthSession, MemoryTokenStore, RestClient};
        let rest = RestClient::new("http://127.0.0.1:9", false).unwrap();
        let auth = AuthSession::new(rest, std::sync::Arc::new(MemoryTokenStore::new()));
        QualityReporter::new(AppointmentsClient::new(std::sync::Arc::new(auth)).unwrap())
    }

    fn state(state: CallState) -> DriverEvent {
        DriverEvent::Call(CallEvent::StateChanged(state))
    }

    fn details(call_id: CallId, appointment: Option<&str>) -> DriverEvent {
        let mut info = crate::call::CallInfo::new(
            crate::protocol::UserId::random(),
            crate::call::CallDirection::Incoming,
        );
        info.call_id = Some(call_id);
        info.appointment_id = appointment.map(str::to_owned);
        DriverEvent::CallDetails(info)
    }

    fn ended(call_id: CallId) -> DriverEvent {
        state(CallState::Ended {
            call_id: Some(call_id),
            reason: crate::call::CallEndReason::LocalHangUp,
        })
    }

    fn stats(call_id: CallId) -> DriverEvent {
        DriverEvent::MediaStats {
            call_id,
            stats: sample(500.0, Some(10.0), Some(2.0), 100, 0),
        }
    }

    #[tokio::test]
    async fn only_an_ended_visit_call_with_media_is_reported_and_only_once() {
        let mut reporter = offline_reporter();
        let (plain, silent, visit) = (CallId::random(), CallId::random(), CallId::random());
        let mut started = Vec::new();
        for event in [
            // A call without an appointment.
            state(CallState::IncomingRinging { call_id: plain }),
            details(plain, None),
            stats(plain),
            ended(plain),
            details(plain, None),
            // A visit call that never had media.
            state(CallState::IncomingRinging { call_id: silent }),
            details(silent, Some("a")),
            ended(silent),
            // A visit call with media: reported at its end, once; what
            // follows its end (details, a late sample, a second end) is not.
            state(CallState::IncomingRinging { call_id: visit }),
            details(visit, Some("a")),
            stats(visit),
            state(CallState::Connected { call_id: visit }),
            details(visit, Some("a")),
            stats(visit),
            ended(visit),
            details(visit, Some("a")),
            stats(visit),
            ended(visit),
        ] {
            if let Some(task) = reporter.observe(&event) {
                started.push((event, task));
            }
        }
        assert_eq!(started.len(), 1);
        assert_eq!(started[0].0, ended(visit));
        assert!(reporter.calls.is_empty(), "{:?}", reporter.calls);
        // Nobody is signed in: refused at once, not retried.
        let (_, task) = started.pop().unwrap();
        let result = task.await.unwrap();
        assert!(matches!(result, Err(RestError::NotSignedIn)), "{result:?}");
    }

    #[test]
    fn only_passing_failures_are_retried() {
        let api = |status, code| RestError::Api {
            status,
            code,
            message: String::new(),
            field: None,
        };
        assert!(may_pass(&api(409, ErrorCode::WrongCallState)));
        assert!(may_pass(&api(503, ErrorCode::Unavailable)));
        assert!(may_pass(&RestError::Unexpected {
            status: 502,
            detail: String::new()
        }));
        assert!(!may_pass(&api(404, ErrorCode::NotFound)));
        assert!(!may_pass(&api(422, ErrorCode::InvalidField)));
        assert!(!may_pass(&RestError::NotSignedIn));
    }
}
