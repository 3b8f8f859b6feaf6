//! The audio side's one error type.
//!
//! Its `Display` is written for the person at the device (a patient in a
//! pre-call check, a doctor mid-call): what happened and what they can do.
//! The backend's technical wording is kept in the `detail` fields for logs.

use std::fmt;

/// Which kind of device an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// A capture device.
    Microphone,
    /// A playback device (speakers or headphones).
    Speaker,
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceKind::Microphone => "microphone",
            DeviceKind::Speaker => "speaker",
        })
    }
}

/// Everything that can go wrong opening or using a microphone or speaker.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AudioError {
    /// No device of this kind is known by that name, or (with no name) the
    /// system has no default one.
    #[error("{}", no_such_device(*kind, wanted.as_deref()))]
    NoSuchDevice {
        /// Microphone or speaker.
        kind: DeviceKind,
        /// The name asked for; `None` when the default was asked for.
        wanted: Option<String>,
    },

    /// The device exists but could not be reached: unplugged, or the
    /// computer's sound system is not running.
    #[error(
        "Your {kind} could not be reached. It may have been unplugged, or the computer's sound system is not running. Check the connection and try again."
    )]
    Unavailable {
        /// Microphone or speaker.
        kind: DeviceKind,
        /// What the audio backend said.
        detail: String,
    },

    /// Another program is using the device and will not share it.
    #[error(
        "Your {kind} is being used by another program. Close other programs that use sound (another call, a recorder) and try again."
    )]
    Busy {
        /// Microphone or speaker.
        kind: DeviceKind,
        /// What the audio backend said.
        detail: String,
    },

    /// The operating system refused access to the device.
    #[error(
        "Clinicall is not allowed to use your {kind}. Allow it in your computer's privacy or sound settings, then try again."
    )]
    PermissionDenied {
        /// Microphone or speaker.
        kind: DeviceKind,
        /// What the audio backend said.
        detail: String,
    },

    /// The device offers no sample format, rate or channel layout we can
    /// convert from or to.
    #[error("Your {kind} works in a way Clinicall cannot use. Please choose another {kind}.")]
    NoUsableFormat {
        /// Microphone or speaker.
        kind: DeviceKind,
        /// What the device offered.
        detail: String,
    },

    /// The device was open but stopped delivering (or taking) audio in time.
    #[error(
        "Your {kind} stopped working. It may have been unplugged; check it and try again, or choose another {kind}."
    )]
    Stopped {
        /// Microphone or speaker.
        kind: DeviceKind,
        /// What happened: the backend's error, or how long nothing came.
        detail: String,
    },

    /// Any other failure of the audio backend.
    #[error("Your {kind} could not be used because of a problem with the computer's sound system.")]
    Backend {
        /// Microphone or speaker.
        kind: DeviceKind,
        /// What the audio backend said.
        detail: String,
    },
}

fn no_such_device(kind: DeviceKind, wanted: Option<&str>) -> String {
    match wanted {
        Some(name) => format!(
            "No {kind} named \"{name}\" was found. Check that it is plugged in, or choose another {kind}."
        ),
        None => {
            format!("No {kind} was found. Plug one in, or check your computer's sound settings.")
        }
    }
}

impl AudioError {
    /// Which device the error is about.
    pub fn kind(&self) -> DeviceKind {
        match self {
            AudioError::NoSuchDevice { kind, .. }
            | AudioError::Unavailable { kind, .. }
            | AudioError::Busy { kind, .. }
            | AudioError::PermissionDenied { kind, .. }
            | AudioError::NoUsableFormat { kind, .. }
            | AudioError::Stopped { kind, .. }
            | AudioError::Backend { kind, .. } => *kind,
        }
    }

    /// The technical detail for logs (empty for [`AudioError::NoSuchDevice`]).
    pub fn detail(&self) -> &str {
        match self {
            AudioError::NoSuchDevice { .. } => "",
            AudioError::Unavailable { detail, .. }
            | AudioError::Busy { detail, .. }
            | AudioError::PermissionDenied { detail, .. }
            | AudioError::NoUsableFormat { detail, .. }
            | AudioError::Stopped { detail, .. }
            | AudioError::Backend { detail, .. } => detail,
        }
    }

    /// Classifies an error from cpal.
    pub(crate) fn from_cpal(kind: DeviceKind, error: &cpal::Error) -> AudioError {
        use cpal::ErrorKind as K;
        let detail = error.to_string();
        match error.kind() {
            K::DeviceBusy => AudioError::Busy { kind, detail },
            K::PermissionDenied => AudioError::PermissionDenied { kind, detail },
            K::DeviceNotAvailable | K::HostUnavailable => AudioError::Unavailable { kind, detail },
            K::UnsupportedConfig => AudioError::NoUsableFormat { kind, detail },
            K::StreamInvalidated => AudioError::Stopped { kind, detail },
            _ => AudioError::Backend { kind, detail },
        }
    }
}

impl From<AudioError> for clinicall_media::MediaError {
    fn from(error: AudioError) -> Self {
        clinicall_media::MediaError::Device(Box::new(error))
    }
}

/// Whether a stream error reported while running ends the stream: only
/// the ones after which cpal's stream stops (the device went away) or must
/// be rebuilt. After anything else cpal keeps the stream going, and the
/// errors are often passing: PulseAudio's ALSA plugin reports an I/O error
/// while its stream is still connecting, xruns are glitches under load.
/// A stream that stays broken is caught by the microphone's frame timeout
/// and the speaker's stall check instead.
pub(crate) fn is_fatal(error: &cpal::Error) -> bool {
    use cpal::ErrorKind as K;
    matches!(
        error.kind(),
        K::DeviceNotAvailable | K::HostUnavailable | K::StreamInvalidated
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_device_and_say_what_to_do() {
        let missing = AudioError::NoSuchDevice {
            kind: DeviceKind::Microphone,
            wanted: Some("USB Headset".into()),
        };
        assert_eq!(
            missing.to_string(),
            "No microphone named \"USB Headset\" was found. Check that it is plugged in, or choose another microphone."
        );
        let busy = AudioError::from_cpal(
            DeviceKind::Speaker,
            &cpal::Error::with_message(cpal::ErrorKind::DeviceBusy, "EBUSY on hw:0"),
        );
        assert_eq!(busy.kind(), DeviceKind::Speaker);
        assert_eq!(busy.detail(), "EBUSY on hw:0");
        assert!(
            busy.to_string()
                .contains("speaker is being used by another program")
        );
        // The patient never sees ALSA's wording.
        assert!(!busy.to_string().contains("EBUSY"));
    }

    #[test]
    fn cpal_kinds_map_to_the_right_variant() {
        let map = |k| AudioError::from_cpal(DeviceKind::Microphone, &cpal::Error::new(k));
        assert!(matches!(
            map(cpal::ErrorKind::PermissionDenied),
            AudioError::PermissionDenied { .. }
        ));
        assert!(matches!(
            map(cpal::ErrorKind::DeviceNotAvailable),
            AudioError::Unavailable { .. }
        ));
        assert!(matches!(
            map(cpal::ErrorKind::UnsupportedConfig),
            AudioError::NoUsableFormat { .. }
        ));
        assert!(matches!(
            map(cpal::ErrorKind::Other),
            AudioError::Backend { .. }
        ));
        assert!(!is_fatal(&cpal::Error::new(cpal::ErrorKind::Xrun)));
        assert!(!is_fatal(&cpal::Error::new(cpal::ErrorKind::BackendError)));
        assert!(is_fatal(&cpal::Error::new(
            cpal::ErrorKind::DeviceNotAvailable
        )));
    }

    #[test]
    fn becomes_a_media_error_with_the_same_message() {
        let error = AudioError::Stopped {
            kind: DeviceKind::Microphone,
            detail: "no audio for 2 s".into(),
        };
        let media: clinicall_media::MediaError = error.clone().into();
        assert_eq!(media.to_string(), error.to_string());
    }
}
