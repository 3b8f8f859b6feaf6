//! The camera's one error type, and how nokhwa's errors map onto it.

use nokhwa::NokhwaError;

/// Why a camera could not be listed, opened or read.
///
/// The messages (`Display`) are written for the patient or doctor in front
/// of the camera: what is wrong and what they can do. [`code`](Self::code)
/// gives a stable machine-readable name for logs, JSON output and the UI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CameraError {
    /// There is no camera at all, or none at the chosen index (unplugged,
    /// or the machine has no video devices).
    #[error(
        "No camera was found{}. Check that your camera is connected and switched on; the call goes on without your video.",
        index.map(|i| format!(" (camera {i})")).unwrap_or_default()
    )]
    NoCamera {
        /// The camera that was asked for, if one was.
        index: Option<u32>,
    },

    /// Another program holds the camera (another video call, a camera app).
    #[error(
        "Your camera is being used by another program. Close other video or camera apps and try again."
    )]
    Busy {
        /// What the system said, for the logs.
        detail: String,
    },

    /// The system does not let Clinicall use the camera (device permissions
    /// on Linux, privacy settings elsewhere).
    #[error(
        "Clinicall is not allowed to use your camera. Allow camera access in your system's privacy settings, then try again."
    )]
    PermissionDenied {
        /// What the system said, for the logs.
        detail: String,
    },

    /// The camera offers no picture format or size Clinicall can convert
    /// (none of YUYV, MJPEG, NV12, RGB, BGR or grey at an even size).
    #[error(
        "Your camera does not offer a picture format Clinicall can use ({detail}). Try another camera."
    )]
    UnsupportedFormat {
        /// Which formats or sizes were offered or found.
        detail: String,
    },

    /// The camera sent pictures that could not be read (a corrupt MJPEG
    /// frame, a frame of the wrong size), too many times in a row.
    #[error("Your camera sent pictures Clinicall could not read ({detail}). Try reconnecting it.")]
    BadFrame {
        /// What was wrong with the picture.
        detail: String,
    },

    /// Anything else the camera system reported: the device went away
    /// mid-call, a driver error, no camera system on this platform.
    #[error("Your camera stopped working ({source}). Try reconnecting it.")]
    Backend {
        /// nokhwa's error.
        #[source]
        source: NokhwaError,
    },
}

impl CameraError {
    /// A stable name for the kind of error: `no_camera`, `camera_busy`,
    /// `camera_permission_denied`, `camera_unsupported_format`,
    /// `camera_bad_frame` or `camera_failed`.
    pub fn code(&self) -> &'static str {
        match self {
            CameraError::NoCamera { .. } => "no_camera",
            CameraError::Busy { .. } => "camera_busy",
            CameraError::PermissionDenied { .. } => "camera_permission_denied",
            CameraError::UnsupportedFormat { .. } => "camera_unsupported_format",
            CameraError::BadFrame { .. } => "camera_bad_frame",
            CameraError::Backend { .. } => "camera_failed",
        }
    }

    /// Sorts an error from nokhwa while working with camera `index`.
    ///
    /// nokhwa flattens the OS error into text ("V4L2 Error: No such file or
    /// directory (os error 2)"), so the kind is recovered from the errno
    /// and its standard wording; anything unrecognised stays a
    /// [`Backend`](Self::Backend) error with the text kept.
    pub fn from_nokhwa(index: Option<u32>, error: NokhwaError) -> Self {
        let text = error.to_string();
        let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
        if has(&[
            "(os error 2)",
            "No such file or directory",
            "(os error 19)",
            "No such device",
        ]) {
            CameraError::NoCamera { index }
        } else if has(&["(os error 16)", "Device or resource busy"]) {
            CameraError::Busy { detail: text }
        } else if has(&["(os error 13)", "Permission denied", "(os error 1)"]) {
            CameraError::PermissionDenied { detail: text }
        } else {
            CameraError::Backend { source: error }
        }
    }
}

impl From<CameraError> for clinicall_media::MediaError {
    fn from(error: CameraError) -> Self {
        clinicall_media::MediaError::Device(Box::new(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The texts below are what nokhwa 0.10's V4L2 backend produces for the
    // errno values a real device gives.

    #[test]
    fn a_missing_device_is_no_camera() {
        let error = NokhwaError::OpenDeviceError(
            "0".into(),
            "V4L2 Error: No such file or directory (os error 2)".into(),
        );
        let sorted = CameraError::from_nokhwa(Some(0), error);
        assert!(matches!(sorted, CameraError::NoCamera { index: Some(0) }));
        assert_eq!(sorted.code(), "no_camera");
        let message = sorted.to_string();
        assert!(
            message.starts_with("No camera was found (camera 0)."),
            "{message}"
        );
    }

    #[test]
    fn busy_and_forbidden_devices_are_told_apart() {
        let busy = NokhwaError::SetPropertyError {
            property: "Resolution, FrameFormat".into(),
            value: "640x480@30FPS, YUYV".into(),
            error: "Device or resource busy (os error 16)".into(),
        };
        let sorted = CameraError::from_nokhwa(Some(1), busy);
        assert!(matches!(sorted, CameraError::Busy { .. }), "{sorted:?}");
        assert!(sorted.to_string().contains("another program"));

        let forbidden = NokhwaError::OpenDeviceError(
            "0".into(),
            "V4L2 Error: Permission denied (os error 13)".into(),
        );
        let sorted = CameraError::from_nokhwa(Some(0), forbidden);
        assert!(matches!(sorted, CameraError::PermissionDenied { .. }));
        assert_eq!(sorted.code(), "camera_permission_denied");
    }

    #[test]
    fn anything_else_is_a_backend_error_that_keeps_the_text() {
        let error = NokhwaError::ReadFrameError("Input/output error (os error 5)".into());
        let sorted = CameraError::from_nokhwa(None, error);
        assert!(matches!(sorted, CameraError::Backend { .. }));
        assert!(sorted.to_string().contains("os error 5"), "{sorted}");
    }

    #[test]
    fn it_becomes_a_media_error_with_the_same_message() {
        let error = CameraError::NoCamera { index: None };
        let text = error.to_string();
        let media: clinicall_media::MediaError = error.into();
        assert!(matches!(media, clinicall_media::MediaError::Device(_)));
        assert_eq!(media.to_string(), text);
    }
}
