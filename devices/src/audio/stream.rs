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

pub(crate) fn record_failure(slot: &FailureSlot, kind: DeviceKind, error: &cpal::Error) {
    if is_fatal(error) {
        let mut failure = slot.lock().unwrap_or_else(|p| p.into_inner());
        failure.get_or_insert_with(|| match AudioError::from_cpal(kind, error) {
            // Whatever the backend calls it, a stream that died mid-use
            // stopped working.
            AudioError::Backend { detail, .. } | AudioError::Unavailable { detail, .. } => {
                AudioError::Stopped { kind, detail }
            }
            other => other,
        });
    } else {
        tracing::debug!(%kind, error = %error, "audio stream glitch");
    }
}
