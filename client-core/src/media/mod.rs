//! The WebRTC media engine: one peer connection per call, with real
//! encoded video (VP8) and audio (Opus), peer to peer.
//!
//! Built on webrtc-rs's sans-IO core (the `rtc` crate, which the `webrtc`
//! crate 0.21 wraps with its own async runtime). We drive it with our own
//! tokio loop ([`session`]) so that whatever the stack wants to send
//! leaves the moment it is produced: the async wrapper parks output
//! created on a state change until its next timer tick, which cost
//! ~200 ms per handshake step (see `docs/architecture.md`).
//!
//! ```text
//!  MediaIo source ─▶ encode thread ─▶ ┌─────────────┐ ─▶ UDP ─▶ peer
//!                                     │   session   │
//!  MediaIo sink ◀─ decode thread ◀──  │ (tokio task)│ ◀─ UDP ◀─ peer
//!                                     └─────────────┘
//!          signaling (SDP, candidates) ⇅ call driver
//! ```
//!
//! - [`WebRtcEngine`] implements the call driver's [`MediaEngine`]: it
//!   starts, restarts and stops sessions; [`MediaControl`] is the app's
//!   handle on them (and the tests').
//! - [`MediaIo`] is where media comes from and goes to: camera and
//!   microphone in the app, synthetic or file sources in the headless
//!   client and the tests, behind the same traits.
//! - [`CallStats`] is reported once a second through the driver.
//! - The session gathers server-reflexive and relay candidates from the
//!   welcome's STUN and TURN servers on the call's own sockets (`gather`),
//!   and carries relayed media through the TURN server;
//!   [`MediaSettings::relay_only`] offers nothing else.
//!
//! [`MediaEngine`]: crate::driver::MediaEngine

mod assembler;
mod engine;
mod gather;
mod net;
mod peer;
mod pipeline;
mod session;
mod stats;

pub use engine::{MediaControl, WebRtcEngine};
pub use stats::{CallStats, InboundStats, OutboundStats};

use clinicall_media::{
    AudioSink, AudioSource, EncodedVideoSink, MediaError, VideoSink, VideoSource,
};
use clinicall_protocol::CallId;
use std::net::IpAddr;
use std::time::Duration;

/// Where a call's media comes from and goes to. The app opens its camera
/// and microphone here; tests and the headless client use synthetic or
/// file sources. Called from the media threads, once per call each.
pub trait MediaIo: Send + Sync + 'static {
    /// The video to send, or `None` to send none. An error is logged and
    /// the call goes on without video from us.
    fn open_video_source(
        &self,
        call_id: CallId,
    ) -> Result<Option<Box<dyn VideoSource>>, MediaError>;
    /// The audio to send, or `None` to send none (same rules).
    fn open_audio_source(
        &self,
        call_id: CallId,
    ) -> Result<Option<Box<dyn AudioSource>>, MediaError>;
    /// Where the other party's decoded video goes.
    fn video_sink(&self, call_id: CallId) -> Box<dyn VideoSink>;
    /// Where the other party's decoded audio goes (48 kHz mono).
    fn audio_sink(&self, call_id: CallId) -> Box<dyn AudioSink>;
    /// Where the other party's video goes still encoded, as well as
    /// decoded to [`video_sink`](Self::video_sink): for a display that
    /// decodes VP8 itself (the app's web view). `None` (the default):
    /// nowhere.
    fn remote_encoded_video(&self, _call_id: CallId) -> Option<Box<dyn EncodedVideoSink>> {
        None
    }
    /// Where our own video goes as encoded for sending (the self view of
    /// a display that decodes VP8 itself). `None` (the default): nowhere.
    fn local_encoded_video(&self, _call_id: CallId) -> Option<Box<dyn EncodedVideoSink>> {
        None
    }
}

/// How the engine sets up calls.
#[derive(Clone, Debug)]
pub struct MediaSettings {
    /// Local addresses to offer as ICE host candidates. Empty: every
    /// non-loopback address of the machine (loopback if there is none).
    pub bind: Vec<IpAddr>,
    /// Target video bitrate; `None` picks one for the source's size and
    /// frame rate.
    pub video_bitrate_kbps: Option<u32>,
    /// Target audio bitrate.
    pub audio_bitrate_bps: u32,
    /// How often [`CallStats`] are reported.
    pub stats_interval: Duration,
    /// Without a response for this long, ICE reports `disconnected` (the
    /// call machine restarts ICE if it does not recover by itself).
    pub ice_disconnected_timeout: Duration,
    /// Without a response for this long, ICE reports `failed`.
    pub ice_failed_timeout: Duration,
    /// How often ICE sends keepalive checks on the selected pair.
    pub ice_keepalive_interval: Duration,
    /// ICE transport policy "relay": offer only relay candidates from the
    /// welcome's TURN servers, so media always goes through one (our
    /// addresses are never revealed to the peer). For testing TURN, and
    /// for networks where direct paths must not be used. A call fails to
    /// start when there is no TURN server.
    pub relay_only: bool,
}

impl Default for MediaSettings {
    fn default() -> Self {
        MediaSettings {
            bind: Vec::new(),
            video_bitrate_kbps: None,
            audio_bitrate_bps: 32_000,
            stats_interval: Duration::from_secs(1),
            ice_disconnected_timeout: Duration::from_secs(2),
            ice_failed_timeout: Duration::from_secs(8),
            ice_keepalive_interval: Duration::from_millis(500),
            relay_only: false,
        }
    }
}
