//! Camera capture through nokhwa (V4L2 on Linux).
//!
//! - [`list_cameras`]: the cameras there are, by index and name;
//! - [`CameraSource`]: one camera as a [`clinicall_media::VideoSource`],
//!   opened in the mode closest to a [`CaptureRequest`] ([`format`](mod@format) makes
//!   the choice) and converted to I420 frame by frame ([`convert`]);
//! - [`CameraError`]: what went wrong, in words for the person at the
//!   camera, with a stable [`code`](CameraError::code).
//!
//! The format choice and the pixel conversion are pure and tested on
//! their own; `CameraSource` is the thin I/O around them. A machine with
//! no camera (or no V4L2 at all) lists none and fails to open one with
//! [`CameraError::NoCamera`], which a call treats as "no video from us".
//!
//! ```no_run
//! use clinicall_devices::camera::{CameraSource, CaptureRequest, list_cameras};
//! use clinicall_media::VideoSource;
//!
//! for camera in list_cameras()? {
//!     println!("{}: {}", camera.index, camera.name);
//! }
//! let mut source = CameraSource::open(0, CaptureRequest::default())?;
//! let frame = source.next_frame()?; // I420, ready for Vp8Encoder
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod convert;
mod error;
pub mod format;
mod source;

pub use error::CameraError;
pub use format::CaptureRequest;
pub use source::CameraSource;

/// The nokhwa this crate is built against, for building the
/// [`nokhwa::Camera`] that [`CameraSource::with_camera`] captures from.
pub use nokhwa;

use nokhwa::utils::{ApiBackend, CameraIndex};

/// A camera the system offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraDevice {
    /// What to pass to [`CameraSource::open`] (`/dev/video<index>` on
    /// Linux).
    pub index: u32,
    /// Its name, as the driver gives it ("HD Webcam C525").
    pub name: String,
}

/// The cameras there are, in the system's order. Empty when there are
/// none.
///
/// # Errors
/// [`CameraError::Backend`] when the camera system cannot be asked (not
/// when it simply has no cameras).
pub fn list_cameras() -> Result<Vec<CameraDevice>, CameraError> {
    let infos = match nokhwa::query(ApiBackend::Auto) {
        Ok(infos) => infos,
        Err(e) => match CameraError::from_nokhwa(None, e) {
            // No video device nodes at all: nothing to list.
            CameraError::NoCamera { .. } => Vec::new(),
            other => return Err(other),
        },
    };
    Ok(infos
        .into_iter()
        .filter_map(|info| match info.index() {
            CameraIndex::Index(index) => Some(CameraDevice {
                index: *index,
                name: info.human_name(),
            }),
            // Network cameras; nokhwa's native backends give none.
            CameraIndex::String(_) => None,
        })
        .collect())
}
