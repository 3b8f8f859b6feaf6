//! What microphone and speaker streams share: how long cpal may wait on a
//! device, and where a stream's fatal error waits for the other side.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::error::{AudioError, DeviceKind, is_fatal};

/// cpal's stream timeout: how long its audio thread waits for the device
/// before checking whether the device is gone (ALSA), or for the stream to
/// start (other backends).
pub(crate) const STREAM_TIMEOUT: Duration = Duration::from_secs(3);

/// The first fatal error a stream reported, for the side that reads.
pub(crate) type FailureSlot = Arc<Mutex<Option<AudioError>>>;

/// A stream's error callback: keeps the first fatal error for the side
/// that reads or writes, and logs the rest without flooding the log (cpal
/// retries at once, so a passing error can come dozens of times in a row).
pub(crate) struct ErrorReport {
    kind: DeviceKind,
    failure: FailureSlot,
    warned: bool,
}

impl ErrorReport {
    pub(crate) fn new(kind: DeviceKind, failure: FailureSlot) -> Self {
        ErrorReport {
            kind,
            failure,
            warned: false,
        }
    }

    pub(crate) fn report(&mut self, error: &cpal::Error) {
        let kind = self.kind;
        if is_fatal(error) {
            let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
            failure.get_or_insert_with(|| match AudioError::from_cpal(kind, error) {
                // The device was there when opened: it stopped working.
                AudioError::Unavailable { detail, .. } => AudioError::Stopped { kind, detail },
                other => other,
            });
        } else if error.kind() != cpal::ErrorKind::Xrun
            && !std::mem::replace(&mut self.warned, true)
        {
            tracing::warn!(%kind, error = %error, "audio stream error; carrying on (more are logged at debug level)");
        } else {
            tracing::debug!(%kind, error = %error, "audio stream error");
        }
    }
}

/// How long closing a stream may take before we stop waiting for it.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Owns a running cpal stream and closes it without risking the closing
/// thread.
///
/// Closing joins cpal's audio thread, and a sound server that died can
/// leave that thread stuck for good: with PulseAudio killed mid-capture,
/// libpulse's own threads deadlock (seen in `devices/tests/real_devices.rs`).
/// A hang-up must not hang with it, so the stream is closed on a helper
/// thread that is waited for briefly and then left behind.
pub(crate) struct StreamGuard(Option<cpal::Stream>);

impl StreamGuard {
    pub(crate) fn new(stream: cpal::Stream) -> Self {
        StreamGuard(Some(stream))
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let Some(stream) = self.0.take() else {
            return;
        };
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let closer = std::thread::Builder::new()
            .name("clinicall-audio-close".into())
            .spawn(move || {
                drop(stream);
                let _ = done_tx.send(());
            });
        // If the thread could not start, the closure and the stream in it
        // were dropped right here: nothing left to wait for.
        if closer.is_ok() && done_rx.recv_timeout(CLOSE_TIMEOUT).is_err() {
            tracing::warn!(
                "the sound system did not release an audio device within {CLOSE_TIMEOUT:?}; leaving it"
            );
        }
    }
}
