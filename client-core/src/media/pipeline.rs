//! The threads around a call's network loop: capture and encode on the
//! sending side, decode and hand to sinks on the receiving side.
//!
//! Each runs on its own OS thread because each blocks: a source blocks
//! until its next frame is due, and a 720p encode or decode takes
//! milliseconds that must not stall the session's packet I/O. They talk
//! to the session over bounded channels and stop when the session drops
//! its end (or sets `stop`), so a hang-up releases them within one frame
//! time; the session joins them.

use super::stats::PipelineCounters;
use super::{MediaIo, MediaSettings};
use clinicall_media::{
    AudioSink, EncodedVideoRef, EncodedVideoSink, OpusDecoder, OpusEncoder, VideoSink, Vp8Config,
    Vp8Decoder, Vp8Encoder, vp8_is_keyframe,
};
use clinicall_protocol::CallId;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// An encoded frame on its way to the network.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// One VP8 frame.
    Video {
        data: Vec<u8>,
        keyframe: bool,
        /// RTP clock ticks (90 kHz) since the previous frame.
        ticks: u32,
    },
    /// One 20 ms Opus packet.
    Audio { data: Vec<u8> },
}

/// What a decode thread reports back to the session.
#[derive(Debug)]
pub(crate) enum DecoderNews {
    /// The video decoder rejected a frame: ask the sender for a keyframe.
    VideoCorrupt,
}

/// Handles to the pipeline threads of one call.
#[derive(Debug)]
pub(crate) struct Pipeline {
    threads: Vec<JoinHandle<()>>,
    /// Each thread holds a clone until its body returns, so the receiver
    /// tells the async session when all are done without blocking a
    /// runtime thread (or starting a blocking-pool one) to join them.
    running_tx: Option<mpsc::Sender<()>>,
    running_rx: mpsc::Receiver<()>,
    /// Asks the sending threads to end (the decode threads end when their
    /// channel closes).
    stop: Arc<AtomicBool>,
    /// Set by the session when the other side asks for a keyframe; the
    /// video thread encodes its next frame as one.
    pub(crate) keyframe_wanted: Arc<AtomicBool>,
}

/// Room for this many encoded frames between an encoder and the network
/// loop; more means the loop is stalled, and frames are dropped (with a
/// keyframe after) rather than queued into latency.
const OUTGOING_CAPACITY: usize = 16;
/// Frames waiting for a decoder; the same reasoning.
pub(crate) const DECODE_CAPACITY: usize = 8;

impl Default for Pipeline {
    fn default() -> Self {
        let (running_tx, running_rx) = mpsc::channel(1);
        Pipeline {
            threads: Vec::new(),
            running_tx: Some(running_tx),
            running_rx,
            stop: Arc::default(),
            keyframe_wanted: Arc::default(),
        }
    }
}

impl Pipeline {
    /// Starts the sending threads. Sources are opened on their threads (a
    /// camera can take a while); one that cannot be opened is logged and
    /// the call goes on without it.
    pub(crate) fn start_senders(
        &mut self,
        call_id: CallId,
        io: &Arc<dyn MediaIo>,
        settings: &MediaSettings,
        counters: &Arc<PipelineCounters>,
    ) -> mpsc::Receiver<Outgoing> {
        let (tx, rx) = mpsc::channel(OUTGOING_CAPACITY);
        self.spawn("clinicall-video-send", {
            let (io, tx, counters) = (io.clone(), tx.clone(), counters.clone());
            let (stop, keyframe_wanted) = (self.stop.clone(), self.keyframe_wanted.clone());
            let bitrate = settings.video_bitrate_kbps;
            move || video_sender(call_id, io, bitrate, tx, stop, keyframe_wanted, counters)
        });
        self.spawn("clinicall-audio-send", {
            let (io, stop) = (io.clone(), self.stop.clone());
            let bitrate = settings.audio_bitrate_bps;
            move || audio_sender(call_id, io, bitrate, tx, stop)
        });
        rx
    }

    /// Starts the decode threads; frames go in through the returned
    /// senders, news about them comes back on `news`.
    pub(crate) fn start_receivers(
        &mut self,
        call_id: CallId,
        io: &Arc<dyn MediaIo>,
        counters: &Arc<PipelineCounters>,
        news: mpsc::UnboundedSender<DecoderNews>,
    ) -> (mpsc::Sender<Vec<u8>>, mpsc::Sender<Option<Vec<u8>>>) {
        let (video_tx, video_rx) = mpsc::channel(DECODE_CAPACITY);
        let (audio_tx, audio_rx) = mpsc::channel(DECODE_CAPACITY * 4);
        let sink = io.video_sink(call_id);
        let encoded_sink = io.remote_encoded_video(call_id);
        let counters_v = counters.clone();
        self.spawn("clinicall-video-recv", move || {
            video_receiver(video_rx, sink, encoded_sink, counters_v, news)
        });
        let sink = io.audio_sink(call_id);
        let counters_a = counters.clone();
        self.spawn("clinicall-audio-recv", move || {
            audio_receiver(audio_rx, sink, counters_a)
        });
        (video_tx, audio_tx)
    }

    fn spawn(&mut self, name: &str, body: impl FnOnce() + Send + 'static) {
        let running = self.running_tx.clone();
        let body = move || {
            body();
            drop(running);
        };
        match std::thread::Builder::new().name(name.into()).spawn(body) {
            Ok(handle) => self.threads.push(handle),
            Err(e) => tracing::error!(error = %e, thread = name, "could not start a media thread"),
        }
    }

    /// Asks every thread to end and waits for them. The session must have
    /// dropped its channel ends first (the receivers end on a closed
    /// channel).
    pub(crate) async fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.running_tx = None;
        // `None` once every thread's body has returned.
        while self.running_rx.recv().await.is_some() {}
        for thread in self.threads {
            // The body has returned: this only reaps the thread.
            if thread.join().is_err() {
                tracing::error!("a media thread panicked");
            }
        }
    }
}

fn video_sender(
    call_id: CallId,
    io: Arc<dyn MediaIo>,
    bitrate_kbps: Option<u32>,
    tx: mpsc::Sender<Outgoing>,
    stop: Arc<AtomicBool>,
    keyframe_wanted: Arc<AtomicBool>,
    counters: Arc<PipelineCounters>,
) {
    let mut source = match io.open_video_source(call_id) {
        Ok(Some(source)) => source,
        Ok(None) => return, // receive-only video
        Err(e) => {
            tracing::warn!(%call_id, error = %e, "no video source: sending no video");
            return;
        }
    };
    let format = source.format();
    let mut size = (format.width, format.height);
    let mut encoder = match video_encoder(size, format.fps, bitrate_kbps) {
        Ok(encoder) => encoder,
        Err(e) => {
            tracing::error!(%call_id, error = %e, "could not start the video encoder");
            return;
        }
    };
    let mut self_view = io.local_encoded_video(call_id);
    let mut last_pts: Option<Duration> = None;
    while !stop.load(Ordering::Relaxed) {
        let frame = match source.next_frame() {
            Ok(frame) => frame,
            Err(e) => {
                tracing::warn!(%call_id, error = %e, "video source ended");
                return;
            }
        };
        let ticks = match last_pts {
            Some(last) => frame.pts.saturating_sub(last).as_micros() as u64 * 90 / 1000,
            None => 90_000 / u64::from(format.fps.max(1)),
        } as u32;
        last_pts = Some(frame.pts);
        if (frame.width, frame.height) != size {
            // The user switched cameras mid-call and the new one gives
            // another size: a new encoder, whose first frame is the
            // keyframe the other side's decoder needs for the new size.
            size = (frame.width, frame.height);
            tracing::info!(%call_id, width = size.0, height = size.1, "video size changed");
            encoder = match video_encoder(size, format.fps, bitrate_kbps) {
                Ok(encoder) => encoder,
                Err(e) => {
                    tracing::error!(%call_id, error = %e, "could not restart the video encoder");
                    return;
                }
            };
        }
        let force = keyframe_wanted.swap(false, Ordering::Relaxed);
        let encoded = match encoder.encode(&frame, force) {
            Ok(Some(encoded)) => encoded,
            Ok(None) => continue, // the encoder dropped it (rate control)
            Err(e) => {
                tracing::error!(%call_id, error = %e, "video encode failed");
                return;
            }
        };
        let keyframe = encoded.keyframe;
        if let Some(view) = self_view.as_mut() {
            view.on_encoded(&EncodedVideoRef {
                data: &encoded.data,
                keyframe,
                width: size.0,
                height: size.1,
            });
        }
        match tx.try_send(Outgoing::Video {
            data: encoded.data,
            keyframe,
            ticks,
        }) {
            Ok(()) => {
                PipelineCounters::add(&counters.frames_sent, 1);
                if keyframe {
                    PipelineCounters::add(&counters.keyframes_sent, 1);
                }
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                // The next frame would refer to this lost one.
                keyframe_wanted.store(true, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

fn video_encoder(
    (width, height): (u32, u32),
    fps: u32,
    bitrate_kbps: Option<u32>,
) -> Result<Vp8Encoder, clinicall_media::MediaError> {
    Vp8Encoder::new(Vp8Config {
        width,
        height,
        fps,
        bitrate_kbps: bitrate_kbps
            .unwrap_or_else(|| Vp8Config::default_bitrate_kbps(width, height, fps)),
    })
}

fn audio_sender(
    call_id: CallId,
    io: Arc<dyn MediaIo>,
    bitrate_bps: u32,
    tx: mpsc::Sender<Outgoing>,
    stop: Arc<AtomicBool>,
) {
    let mut source = match io.open_audio_source(call_id) {
        Ok(Some(source)) => source,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(%call_id, error = %e, "no audio source: sending no audio");
            return;
        }
    };
    let mut encoder = match OpusEncoder::new(bitrate_bps) {
        Ok(encoder) => encoder,
        Err(e) => {
            tracing::error!(%call_id, error = %e, "could not start the audio encoder");
            return;
        }
    };
    while !stop.load(Ordering::Relaxed) {
        let frame = match source.next_frame() {
            Ok(frame) => frame,
            Err(e) => {
                tracing::warn!(%call_id, error = %e, "audio source ended");
                return;
            }
        };
        let data = match encoder.encode(&frame.samples) {
            Ok(data) => data,
            Err(e) => {
                tracing::error!(%call_id, error = %e, "audio encode failed");
                return;
            }
        };
        match tx.try_send(Outgoing::Audio { data }) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

fn video_receiver(
    mut frames: mpsc::Receiver<Vec<u8>>,
    mut sink: Box<dyn VideoSink>,
    mut encoded_sink: Option<Box<dyn EncodedVideoSink>>,
    counters: Arc<PipelineCounters>,
    news: mpsc::UnboundedSender<DecoderNews>,
) {
    let mut decoder = match Vp8Decoder::new() {
        Ok(decoder) => decoder,
        Err(e) => {
            tracing::error!(error = %e, "could not start the video decoder");
            return;
        }
    };
    while let Some(data) = frames.blocking_recv() {
        match decoder.decode(&data) {
            Ok(Some(frame)) => {
                counters.frame_width.store(frame.width, Ordering::Relaxed);
                counters.frame_height.store(frame.height, Ordering::Relaxed);
                PipelineCounters::add(&counters.frames_decoded, 1);
                // Only frames our own decoder accepted go on, so a
                // display decoding them itself never sees a corrupt one.
                if let Some(encoded) = encoded_sink.as_mut() {
                    encoded.on_encoded(&EncodedVideoRef {
                        data: &data,
                        keyframe: vp8_is_keyframe(&data),
                        width: frame.width,
                        height: frame.height,
                    });
                }
                sink.on_frame(&frame);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(error = %e, "undecodable video frame");
                let _ = news.send(DecoderNews::VideoCorrupt);
            }
        }
    }
}

/// `None` asks for one concealed frame (a lost packet).
fn audio_receiver(
    mut packets: mpsc::Receiver<Option<Vec<u8>>>,
    mut sink: Box<dyn AudioSink>,
    counters: Arc<PipelineCounters>,
) {
    let mut decoder = match OpusDecoder::new() {
        Ok(decoder) => decoder,
        Err(e) => {
            tracing::error!(error = %e, "could not start the audio decoder");
            return;
        }
    };
    while let Some(packet) = packets.blocking_recv() {
        match decoder.decode(packet.as_deref()) {
            Ok(pcm) => {
                PipelineCounters::add(&counters.audio_frames_decoded, 1);
                sink.on_audio(pcm);
            }
            Err(e) => tracing::debug!(error = %e, "undecodable audio packet"),
        }
    }
}

/// Rate limit for keyframe requests: one per this long while frames are
/// being dropped (a request's keyframe needs a round trip to arrive).
pub(crate) const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(250);

/// Tracks when the last keyframe request went out.
#[derive(Debug, Default)]
pub(crate) struct KeyframeRequests {
    last: Option<Instant>,
}

impl KeyframeRequests {
    /// Whether a request may go out now (and records it if so).
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < KEYFRAME_REQUEST_INTERVAL => false,
            _ => {
                self.last = Some(now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinicall_media::{
        AudioSource, MediaError, TestPattern, VideoFormat, VideoFrame, VideoFrameRef, VideoSource,
    };
    use std::sync::Mutex;

    #[test]
    fn keyframe_requests_are_rate_limited() {
        let mut requests = KeyframeRequests::default();
        let t0 = Instant::now();
        assert!(requests.allow(t0));
        assert!(!requests.allow(t0 + Duration::from_millis(100)));
        assert!(requests.allow(t0 + KEYFRAME_REQUEST_INTERVAL));
    }

    /// A camera that is swapped for one of another size after a few
    /// frames, as when the user picks another camera mid-call.
    struct SwitchingCamera {
        first: TestPattern,
        second: TestPattern,
        frames: u32,
    }

    impl VideoSource for SwitchingCamera {
        fn format(&self) -> VideoFormat {
            self.first.format()
        }
        fn next_frame(&mut self) -> Result<VideoFrame, MediaError> {
            self.frames += 1;
            if self.frames <= 5 {
                self.first.next_frame()
            } else {
                self.second.next_frame()
            }
        }
    }

    struct OneCamera(Mutex<Option<SwitchingCamera>>);

    impl MediaIo for OneCamera {
        fn open_video_source(
            &self,
            _call_id: CallId,
        ) -> Result<Option<Box<dyn VideoSource>>, MediaError> {
            let camera = self.0.lock().unwrap().take().expect("opened once");
            Ok(Some(Box::new(camera)))
        }
        fn open_audio_source(
            &self,
            _call_id: CallId,
        ) -> Result<Option<Box<dyn AudioSource>>, MediaError> {
            Ok(None)
        }
        fn video_sink(&self, _call_id: CallId) -> Box<dyn VideoSink> {
            Box::new(|_: &VideoFrameRef<'_>| {})
        }
        fn audio_sink(&self, _call_id: CallId) -> Box<dyn AudioSink> {
            Box::new(|_: &[i16]| {})
        }
    }

    #[test]
    fn a_camera_of_another_size_mid_call_restarts_the_encoder_with_a_keyframe() {
        let io: Arc<dyn MediaIo> = Arc::new(OneCamera(Mutex::new(Some(SwitchingCamera {
            first: TestPattern::new(320, 240, 30).unpaced(),
            second: TestPattern::new(160, 120, 30).unpaced(),
            frames: 0,
        }))));
        let (tx, mut rx) = mpsc::channel(64);
        let stop = Arc::new(AtomicBool::new(false));
        let sender = std::thread::spawn({
            let stop = stop.clone();
            move || {
                video_sender(
                    CallId::random(),
                    io,
                    None,
                    tx,
                    stop,
                    Arc::default(),
                    Arc::default(),
                )
            }
        });
        let mut decoder = Vp8Decoder::new().unwrap();
        let mut sizes = Vec::new();
        while sizes.len() < 10 {
            let Some(Outgoing::Video { data, keyframe, .. }) = rx.blocking_recv() else {
                panic!("the video sender stopped early");
            };
            if let Some(frame) = decoder.decode(&data).unwrap() {
                sizes.push((frame.width, frame.height, keyframe));
            }
        }
        stop.store(true, Ordering::Relaxed);
        drop(rx);
        sender.join().unwrap();
        let switch = sizes
            .iter()
            .position(|&(w, _, _)| w == 160)
            .expect("frames of the second camera's size arrive");
        assert!(switch > 0, "{sizes:?}");
        assert!(
            sizes[..switch]
                .iter()
                .all(|&(w, h, _)| (w, h) == (320, 240))
        );
        assert!(
            sizes[switch..]
                .iter()
                .all(|&(w, h, _)| (w, h) == (160, 120))
        );
        assert!(
            sizes[switch].2,
            "the first frame of the new size is a keyframe"
        );
    }
}
