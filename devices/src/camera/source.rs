//! A camera as a [`VideoSource`]: the I/O around the pure format choice
//! and pixel conversion.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clinicall_media::{MediaError, VideoFormat, VideoFrame, VideoSource};
use nokhwa::utils::{CameraFormat, CameraIndex, RequestedFormat, RequestedFormatType};
use nokhwa::{Camera, NokhwaError};

use super::CameraError;
use super::convert::to_i420;
use super::format::{CONVERTIBLE, CaptureRequest, choose_format};

/// Unreadable frames in a row after which the camera counts as broken. A
/// webcam occasionally sends a truncated MJPEG frame (USB bandwidth
/// hiccups); skipping one is invisible, but a stream of them is a fault
/// worth reporting.
const MAX_BAD_FRAMES_IN_A_ROW: u32 = 30;

/// How long dropping a source waits for the camera to be released. A
/// working camera delivers (and the capture thread notices) within a frame
/// period; a stalled one must not hang the hang-up.
const RELEASE_WAIT: Duration = Duration::from_secs(1);

/// Frames from a camera, converted to I420 for the encoder.
///
/// Open one with [`CameraSource::open`], or over any [`nokhwa::Camera`]
/// with [`CameraSource::with_camera`] (the tests wrap a frame-serving
/// backend with `Camera::with_custom`; both go through the same format
/// choice, capture loop and conversion).
///
/// nokhwa's `Camera` is not `Send` (the V4L2 backend holds raw pointers
/// into mmapped buffers), so it lives its whole life on a capture thread
/// that creates it, converts each frame and hands it over. The thread keeps
/// at most one converted frame waiting and drops frames the call is too
/// slow to take, so the picture sent is always the newest. `next_frame`
/// blocks until the camera delivers, which paces the call at its rate.
pub struct CameraSource {
    frames: mpsc::Receiver<Result<VideoFrame, CameraError>>,
    stop: Arc<AtomicBool>,
    /// Disconnected when the capture thread has ended (camera released).
    released: mpsc::Receiver<()>,
    capture: CameraFormat,
    name: String,
}

impl std::fmt::Debug for CameraSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraSource")
            .field("name", &self.name)
            .field("capture", &self.capture)
            .finish_non_exhaustive()
    }
}

/// What the capture thread reports once the camera is set up.
struct Started {
    capture: CameraFormat,
    name: String,
}

impl CameraSource {
    /// Opens camera `index` (as in [`list_cameras`](super::list_cameras))
    /// in the offered mode closest to `request`, and starts it.
    ///
    /// # Errors
    /// [`CameraError::NoCamera`] when there is no such camera,
    /// [`CameraError::Busy`] or [`CameraError::PermissionDenied`] when it
    /// cannot be had, [`CameraError::UnsupportedFormat`] when none of its
    /// modes is usable, [`CameraError::Backend`] otherwise.
    pub fn open(index: u32, request: CaptureRequest) -> Result<Self, CameraError> {
        Self::with_camera(
            move || {
                // Any mode will do to open it: the real choice needs the
                // list of modes, which nokhwa gives only for an open camera.
                let any = RequestedFormat::with_formats(RequestedFormatType::None, CONVERTIBLE);
                Camera::new(CameraIndex::Index(index), any)
                    .map_err(|e| CameraError::from_nokhwa(Some(index), e))
            },
            request,
        )
    }

    /// Starts a capture thread that creates its camera with `make_camera`,
    /// switches it to the offered mode closest to `request` and starts the
    /// stream; returns once that is done.
    ///
    /// # Errors
    /// What `make_camera` returned, or as [`open`](Self::open).
    pub fn with_camera<F>(make_camera: F, request: CaptureRequest) -> Result<Self, CameraError>
    where
        F: FnOnce() -> Result<Camera, CameraError> + Send + 'static,
    {
        let (started_tx, started_rx) = mpsc::sync_channel(1);
        let (frames_tx, frames) = mpsc::sync_channel(1);
        let (released_tx, released) = mpsc::sync_channel::<()>(0);
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        // Detached: `Drop` waits for it through `released` instead, with a
        // limit a join could not have.
        std::thread::Builder::new()
            .name("camera-capture".into())
            .spawn(move || {
                let _released = released_tx;
                let setup = make_camera().and_then(|mut camera| {
                    let started = start_stream(&mut camera, request)?;
                    Ok((camera, started))
                });
                let (mut camera, capture) = match setup {
                    Ok((camera, started)) => {
                        let capture = started.capture;
                        if started_tx.send(Ok(started)).is_err() {
                            return;
                        }
                        (camera, capture)
                    }
                    Err(e) => {
                        let _ = started_tx.send(Err(e));
                        return;
                    }
                };
                capture_loop(&mut camera, capture, &frames_tx, &thread_stop);
            })
            .map_err(|e| CameraError::Backend {
                source: NokhwaError::GeneralError(format!("cannot start a capture thread: {e}")),
            })?;
        let started = started_rx.recv().unwrap_or_else(|_| {
            Err(CameraError::Backend {
                source: NokhwaError::GeneralError("the capture thread stopped".into()),
            })
        })?;
        tracing::info!(camera = %started.name, format = %started.capture, "camera started");
        Ok(CameraSource {
            frames,
            stop,
            released,
            capture: started.capture,
            name: started.name,
        })
    }

    /// The mode the camera captures in (size, pixel format, rate).
    pub fn capture_format(&self) -> CameraFormat {
        self.capture
    }

    /// The camera's name, as the system gives it.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Chooses the mode, switches to it and starts the stream.
fn start_stream(camera: &mut Camera, request: CaptureRequest) -> Result<Started, CameraError> {
    let index = match camera.index() {
        CameraIndex::Index(i) => Some(*i),
        CameraIndex::String(_) => None,
    };
    let nokhwa_error = |e| CameraError::from_nokhwa(index, e);
    let offered = camera.compatible_camera_formats().map_err(nokhwa_error)?;
    let capture =
        choose_format(&offered, request).ok_or_else(|| CameraError::UnsupportedFormat {
            detail: describe(&offered),
        })?;
    if camera.camera_format() != capture {
        // `set_camera_requset` would re-run nokhwa's own (weaker) choice.
        #[allow(deprecated)]
        camera.set_camera_format(capture).map_err(nokhwa_error)?;
    }
    camera.open_stream().map_err(nokhwa_error)?;
    Ok(Started {
        capture,
        name: camera.info().human_name(),
    })
}

/// Reads, converts and hands over frames until the source is dropped or
/// the camera fails.
fn capture_loop(
    camera: &mut Camera,
    capture: CameraFormat,
    frames: &mpsc::SyncSender<Result<VideoFrame, CameraError>>,
    stop: &AtomicBool,
) {
    let index = match camera.index() {
        CameraIndex::Index(i) => Some(*i),
        CameraIndex::String(_) => None,
    };
    let mut started: Option<Instant> = None;
    let mut bad_in_a_row = 0;
    while !stop.load(Ordering::Relaxed) {
        let raw = match camera.frame_raw() {
            Ok(raw) => raw,
            Err(e) => {
                let _ = frames.send(Err(CameraError::from_nokhwa(index, e)));
                return;
            }
        };
        // Media time starts at the first frame, as the pipeline's RTP
        // timestamps expect.
        let pts = started.get_or_insert_with(Instant::now).elapsed();
        let (w, h) = (capture.width(), capture.height());
        let frame = match to_i420(&raw, capture.format(), w, h, pts) {
            Ok(frame) => {
                bad_in_a_row = 0;
                frame
            }
            Err(e) if bad_in_a_row < MAX_BAD_FRAMES_IN_A_ROW => {
                bad_in_a_row += 1;
                tracing::debug!(error = %e, "skipping an unreadable camera frame");
                continue;
            }
            Err(e) => {
                let _ = frames.send(Err(e));
                return;
            }
        };
        match frames.try_send(Ok(frame)) {
            // Full: the call has not taken the previous frame yet; this
            // one is dropped rather than queued, so no latency builds up.
            Ok(()) | Err(mpsc::TrySendError::Full(_)) => {}
            Err(mpsc::TrySendError::Disconnected(_)) => return,
        }
    }
}

impl VideoSource for CameraSource {
    fn format(&self) -> VideoFormat {
        VideoFormat {
            width: self.capture.width(),
            height: self.capture.height(),
            fps: self.capture.frame_rate(),
        }
    }

    fn next_frame(&mut self) -> Result<VideoFrame, MediaError> {
        match self.frames.recv() {
            Ok(frame) => Ok(frame?),
            Err(mpsc::RecvError) => Err(CameraError::Backend {
                source: NokhwaError::ReadFrameError("the capture thread stopped".into()),
            }
            .into()),
        }
    }
}

impl Drop for CameraSource {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes a thread waiting to hand over a frame.
        let (_, dummy) = mpsc::sync_channel(0);
        drop(std::mem::replace(&mut self.frames, dummy));
        if let Err(mpsc::RecvTimeoutError::Timeout) = self.released.recv_timeout(RELEASE_WAIT) {
            tracing::warn!(camera = %self.name, "the camera did not stop in time");
        }
    }
}

/// "YUYV 641x480@30, GRAY 640x480@0" for an error message; "none" when
/// the camera offered nothing.
fn describe(offered: &[CameraFormat]) -> String {
    if offered.is_empty() {
        return "it offered none".into();
    }
    let modes: Vec<String> = offered
        .iter()
        .map(|f| {
            format!(
                "{} {}x{}@{}",
                f.format(),
                f.width(),
                f.height(),
                f.frame_rate()
            )
        })
        .collect();
    format!("it offered {}", modes.join(", "))
}
