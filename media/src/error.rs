//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in the media pipeline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// Opening, reading or writing a media file failed at the OS level.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },

    /// A media file is not in a shape we can read: bad magic, truncated or
    /// contradictory header. The message says which file and what is wrong.
    #[error("{path}: malformed {kind} file: {detail}")]
    Malformed {
        /// The file involved.
        path: PathBuf,
        /// "Y4M" or "WAV".
        kind: &'static str,
        /// What was wrong.
        detail: String,
    },

    /// A well-formed media file uses a variant we deliberately do not read
    /// (for example Y4M 4:4:4 or 24-bit WAV).
    #[error("{path}: unsupported {kind} file: {detail}")]
    Unsupported {
        /// The file involved.
        path: PathBuf,
        /// "Y4M" or "WAV".
        kind: &'static str,
        /// What is not supported and what is.
        detail: String,
    },

    /// A caller passed something that cannot work: a frame whose size does
    /// not match the encoder, odd dimensions, an empty packet.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// libvpx refused an operation; on decode this usually means the data is
    /// corrupt or a reference frame is missing (ask the sender for a keyframe).
    #[error("libvpx {operation} failed: {message}")]
    Vpx {
        /// Which call failed ("encode", "decode", "encoder init", ...).
        operation: &'static str,
        /// libvpx's error string with its detail, if it gave one.
        message: String,
    },

    /// A capture or playback device failed while in use: it went away or
    /// stopped delivering audio. The inner error (from the crate that owns
    /// the device, such as `clinicall-devices`) carries a message meant for
    /// the person at the device.
    #[error(transparent)]
    Device(Box<dyn std::error::Error + Send + Sync + 'static>),

    /// libopus refused an operation (invalid packet, bad argument).
    #[error("libopus {operation} failed: {source}")]
    Opus {
        /// Which call failed ("encode", "decode", "encoder init", ...).
        operation: &'static str,
        /// The error from the `opus` crate.
        #[source]
        source: opus::Error,
    },
}

impl MediaError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
