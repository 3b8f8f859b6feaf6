//! The camera path end to end without a camera: a fixture backend behind
//! nokhwa's own `CaptureBackendTrait`, wrapped in a real `nokhwa::Camera`
//! with `Camera::with_custom`, serves YUYV and MJPEG frames of a picture
//! with four coloured quadrants. `CameraSource` (the same code that opens a
//! real camera: mode choice, capture thread, conversion) turns them into
//! I420, libvpx encodes and decodes them, and the decoded quadrants must
//! still have their colours.
//!
//! Also: with no camera at the chosen index (this machine has no V4L2 at
//! all), opening fails with the patient-readable "no camera" error.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use clinicall_devices::camera::nokhwa::camera_traits::CaptureBackendTrait;
use clinicall_devices::camera::nokhwa::utils::{
    ApiBackend, CameraControl, CameraFormat, CameraIndex, CameraInfo, ControlValueSetter,
    FrameFormat, KnownCameraControl, Resolution,
};
use clinicall_devices::camera::nokhwa::{Buffer, Camera, NokhwaError};
use clinicall_devices::camera::{CameraError, CameraSource, CaptureRequest, list_cameras};
use clinicall_media::{MediaError, VideoFrameRef, VideoSource, Vp8Config, Vp8Decoder, Vp8Encoder};

/// Quadrant colours (top left, top right, bottom left, bottom right) as
/// full-range RGB: saturated and mid-grey, so luma and both chroma
/// channels each take several distinct values.
const QUADRANTS: [[u8; 3]; 4] = [[220, 30, 40], [40, 200, 60], [30, 50, 210], [128, 128, 128]];

/// Limited-range BT.601 of an RGB colour, computed in floating point
/// independently of the crate's fixed-point code.
fn bt601([r, g, b]: [u8; 3]) -> [f64; 3] {
    let (r, g, b) = (f64::from(r), f64::from(g), f64::from(b));
    let y = 16.0 + (0.299 * r + 0.587 * g + 0.114 * b) * 219.0 / 255.0;
    let u = 128.0 + (-0.168_736 * r - 0.331_264 * g + 0.5 * b) * 224.0 / 255.0;
    let v = 128.0 + (0.5 * r - 0.418_688 * g - 0.081_312 * b) * 224.0 / 255.0;
    [y, u, v]
}

fn quadrant_of(x: usize, y: usize, w: usize, h: usize) -> usize {
    usize::from(y >= h / 2) * 2 + usize::from(x >= w / 2)
}

fn rgb_picture(w: usize, h: usize) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            rgb.extend_from_slice(&QUADRANTS[quadrant_of(x, y, w, h)]);
        }
    }
    rgb
}

/// The picture as a camera's YUYV: Y0 U Y1 V per pixel pair.
fn yuyv_picture(w: usize, h: usize) -> Vec<u8> {
    let mut yuyv = Vec::with_capacity(w * h * 2);
    for y in 0..h {
        for x in (0..w).step_by(2) {
            let [luma, u, v] = bt601(QUADRANTS[quadrant_of(x, y, w, h)]).map(|c| c.round() as u8);
            yuyv.extend_from_slice(&[luma, u, luma, v]);
        }
    }
    yuyv
}

/// The picture as a webcam's MJPEG frame.
fn mjpeg_picture(w: usize, h: usize) -> Vec<u8> {
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 92)
        .encode(
            &rgb_picture(w, h),
            w as u16,
            h as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    jpeg
}

/// What the fixture camera records, for the test to check.
#[derive(Default)]
struct Probe {
    frames_served: AtomicU32,
    stream_stopped: AtomicBool,
}

/// A camera that is not there: a `CaptureBackendTrait` serving fixed
/// frames at its mode's frame rate, like a webcam blocking on its sensor.
struct FixtureCamera {
    info: CameraInfo,
    current: CameraFormat,
    /// The frame served for each offered mode.
    modes: HashMap<CameraFormat, Vec<u8>>,
    open: bool,
    /// Frames after which it fails as if unplugged; `None`: never.
    unplug_after: Option<u32>,
    probe: Arc<Probe>,
}

impl FixtureCamera {
    /// Offers YUYV at 320x240 and MJPEG at 640x480, both at 30 fps.
    fn new(probe: Arc<Probe>) -> Self {
        let yuyv = CameraFormat::new_from(320, 240, FrameFormat::YUYV, 30);
        let mjpeg = CameraFormat::new_from(640, 480, FrameFormat::MJPEG, 30);
        let modes = HashMap::from([
            (yuyv, yuyv_picture(320, 240)),
            (mjpeg, mjpeg_picture(640, 480)),
        ]);
        FixtureCamera {
            info: CameraInfo::new("Fixture Camera", "test frames", "", CameraIndex::Index(7)),
            current: mjpeg,
            modes,
            open: false,
            unplug_after: None,
            probe,
        }
    }

    fn unsupported<T>(&self) -> Result<T, NokhwaError> {
        Err(NokhwaError::UnsupportedOperationError(ApiBackend::Auto))
    }
}

impl CaptureBackendTrait for FixtureCamera {
    fn backend(&self) -> ApiBackend {
        ApiBackend::Auto
    }
    fn camera_info(&self) -> &CameraInfo {
        &self.info
    }
    fn refresh_camera_format(&mut self) -> Result<(), NokhwaError> {
        Ok(())
    }
    fn camera_format(&self) -> CameraFormat {
        self.current
    }
    fn set_camera_format(&mut self, new_fmt: CameraFormat) -> Result<(), NokhwaError> {
        if !self.modes.contains_key(&new_fmt) {
            return Err(NokhwaError::SetPropertyError {
                property: "CameraFormat".into(),
                value: new_fmt.to_string(),
                error: "not offered".into(),
            });
        }
        self.current = new_fmt;
        Ok(())
    }
    fn compatible_list_by_resolution(
        &mut self,
        fourcc: FrameFormat,
    ) -> Result<HashMap<Resolution, Vec<u32>>, NokhwaError> {
        let mut list: HashMap<Resolution, Vec<u32>> = HashMap::new();
        for mode in self.modes.keys().filter(|m| m.format() == fourcc) {
            list.entry(mode.resolution())
                .or_default()
                .push(mode.frame_rate());
        }
        Ok(list)
    }
    fn compatible_fourcc(&mut self) -> Result<Vec<FrameFormat>, NokhwaError> {
        let mut formats: Vec<FrameFormat> = self.modes.keys().map(|m| m.format()).collect();
        formats.sort();
        formats.dedup();
        Ok(formats)
    }
    fn resolution(&self) -> Resolution {
        self.current.resolution()
    }
    fn set_resolution(&mut self, _: Resolution) -> Result<(), NokhwaError> {
        self.unsupported()
    }
    fn frame_rate(&self) -> u32 {
        self.current.frame_rate()
    }
    fn set_frame_rate(&mut self, _: u32) -> Result<(), NokhwaError> {
        self.unsupported()
    }
    fn frame_format(&self) -> FrameFormat {
        self.current.format()
    }
    fn set_frame_format(&mut self, _: FrameFormat) -> Result<(), NokhwaError> {
        self.unsupported()
    }
    fn camera_control(&self, _: KnownCameraControl) -> Result<CameraControl, NokhwaError> {
        self.unsupported()
    }
    fn camera_controls(&self) -> Result<Vec<CameraControl>, NokhwaError> {
        Ok(Vec::new())
    }
    fn set_camera_control(
        &mut self,
        _: KnownCameraControl,
        _: ControlValueSetter,
    ) -> Result<(), NokhwaError> {
        self.unsupported()
    }
    fn open_stream(&mut self) -> Result<(), NokhwaError> {
        self.open = true;
        Ok(())
    }
    fn is_stream_open(&self) -> bool {
        self.open
    }
    fn frame(&mut self) -> Result<Buffer, NokhwaError> {
        let (resolution, format) = (self.current.resolution(), self.current.format());
        let raw = self.frame_raw()?.into_owned();
        Ok(Buffer::new(resolution, &raw, format))
    }
    fn frame_raw(&mut self) -> Result<Cow<'_, [u8]>, NokhwaError> {
        if !self.open {
            return Err(NokhwaError::ReadFrameError("Stream Not Started".into()));
        }
        let served = self.probe.frames_served.load(Ordering::SeqCst);
        if self.unplug_after.is_some_and(|limit| served >= limit) {
            // What V4L2 says when the device node goes away.
            return Err(NokhwaError::ReadFrameError(
                "No such device (os error 19)".into(),
            ));
        }
        std::thread::sleep(Duration::from_secs(1) / self.current.frame_rate());
        self.probe.frames_served.fetch_add(1, Ordering::SeqCst);
        Ok(Cow::Borrowed(&self.modes[&self.current]))
    }
    fn stop_stream(&mut self) -> Result<(), NokhwaError> {
        self.open = false;
        self.probe.stream_stopped.store(true, Ordering::SeqCst);
        Ok(())
    }
}

fn open_fixture(
    request: CaptureRequest,
    adjust: impl FnOnce(&mut FixtureCamera) + Send + 'static,
) -> (Result<CameraSource, CameraError>, Arc<Probe>) {
    let probe = Arc::new(Probe::default());
    let backend_probe = probe.clone();
    let source = CameraSource::with_camera(
        move || {
            let mut fixture = FixtureCamera::new(backend_probe);
            adjust(&mut fixture);
            Ok(Camera::with_custom(
                CameraIndex::Index(7),
                ApiBackend::Auto,
                Box::new(fixture),
            ))
        },
        request,
    );
    (source, probe)
}

/// Mean Y, U and V over the middle half of each quadrant (away from the
/// edges, where codecs smear colours across).
fn quadrant_means(frame: &VideoFrameRef<'_>) -> [[f64; 3]; 4] {
    let (w, h) = (frame.width as usize, frame.height as usize);
    let mut means = [[0.0; 3]; 4];
    for (quadrant, mean) in means.iter_mut().enumerate() {
        let (x0, y0) = ((quadrant % 2) * w / 2, (quadrant / 2) * h / 2);
        let (x_range, y_range) = (x0 + w / 8..x0 + 3 * w / 8, y0 + h / 8..y0 + 3 * h / 8);
        let plane_mean = |plane: &[u8], stride: usize, scale: usize| {
            let (mut sum, mut n) = (0.0, 0.0);
            for y in y_range.clone().step_by(scale) {
                for x in x_range.clone().step_by(scale) {
                    sum += f64::from(plane[(y / scale) * stride + x / scale]);
                    n += 1.0;
                }
            }
            sum / n
        };
        *mean = [
            plane_mean(frame.y, frame.y_stride, 1),
            plane_mean(frame.u, frame.uv_stride, 2),
            plane_mean(frame.v, frame.uv_stride, 2),
        ];
    }
    means
}

/// Runs `frames` frames from `source` through VP8 and back; checks every
/// decoded frame's size and the last one's quadrant colours.
fn assert_colours_survive_vp8(mut source: CameraSource, frames: usize) {
    let format = source.format();
    let mut encoder =
        Vp8Encoder::new(Vp8Config::new(format.width, format.height, format.fps)).expect("encoder");
    let mut decoder = Vp8Decoder::new().expect("decoder");
    let mut last_pts = None;
    let mut last_means = None;
    for _ in 0..frames {
        let frame = source.next_frame().expect("a frame");
        assert_eq!((frame.width, frame.height), (format.width, format.height));
        assert!(last_pts < Some(frame.pts), "pts must advance");
        last_pts = Some(frame.pts);
        let Some(encoded) = encoder.encode(&frame, false).expect("encode") else {
            continue;
        };
        if let Some(decoded) = decoder.decode(&encoded.data).expect("decode") {
            assert_eq!(
                (decoded.width, decoded.height),
                (format.width, format.height)
            );
            last_means = Some(quadrant_means(&decoded));
        }
    }
    let means = last_means.expect("at least one decoded frame");
    for (quadrant, (got, colour)) in means.iter().zip(QUADRANTS).enumerate() {
        let want = bt601(colour);
        for (channel, (g, w)) in ["Y", "U", "V"].iter().zip(got.iter().zip(want)) {
            assert!(
                (g - w).abs() <= 6.0,
                "quadrant {quadrant} {channel}: decoded {g:.1}, fixture {w:.1} ({means:?})"
            );
        }
    }
}

#[test]
fn yuyv_frames_reach_the_decoder_with_their_colours() {
    let request = CaptureRequest {
        width: 320,
        height: 240,
        fps: 30,
    };
    let (source, probe) = open_fixture(request, |_| {});
    let source = source.expect("the fixture camera opens");
    assert_eq!(source.capture_format().format(), FrameFormat::YUYV);
    assert_eq!(source.name(), "Fixture Camera");
    assert_colours_survive_vp8(source, 10);
    assert!(probe.frames_served.load(Ordering::SeqCst) >= 10);
}

#[test]
fn mjpeg_frames_reach_the_decoder_with_their_colours() {
    let (source, _) = open_fixture(CaptureRequest::default(), |_| {});
    let source = source.expect("the fixture camera opens");
    let capture = source.capture_format();
    assert_eq!(
        (capture.format(), capture.width(), capture.height()),
        (FrameFormat::MJPEG, 640, 480)
    );
    assert_colours_survive_vp8(source, 10);
}

#[test]
fn dropping_the_source_releases_the_camera() {
    let (source, probe) = open_fixture(CaptureRequest::default(), |_| {});
    let mut source = source.expect("the fixture camera opens");
    source.next_frame().expect("a frame");
    assert!(!probe.stream_stopped.load(Ordering::SeqCst));
    drop(source);
    // Drop waits for the capture thread, which drops the nokhwa Camera,
    // which stops the stream.
    assert!(probe.stream_stopped.load(Ordering::SeqCst));
}

#[test]
fn a_camera_unplugged_mid_call_ends_the_source_with_a_clear_error() {
    let (source, _) = open_fixture(CaptureRequest::default(), |fixture| {
        fixture.unplug_after = Some(3);
    });
    let mut source = source.expect("the fixture camera opens");
    let error = (0..10)
        .find_map(|_| source.next_frame().err())
        .expect("the source fails once the camera is gone");
    let MediaError::Device(inner) = &error else {
        panic!("not a device error: {error:?}");
    };
    let camera_error = inner.downcast_ref::<CameraError>().expect("a CameraError");
    assert_eq!(camera_error.code(), "no_camera");
    assert!(
        error
            .to_string()
            .starts_with("No camera was found (camera 7)"),
        "{error}"
    );
}

#[test]
fn a_camera_offering_no_usable_mode_is_refused_by_name() {
    let (source, _) = open_fixture(CaptureRequest::default(), |fixture| {
        let odd = CameraFormat::new_from(641, 481, FrameFormat::YUYV, 30);
        fixture.modes = HashMap::from([(odd, vec![0; 641 * 481 * 2])]);
    });
    let error = source.expect_err("no usable mode");
    assert_eq!(error.code(), "camera_unsupported_format");
    assert!(error.to_string().contains("YUYV 641x481@30"), "{error}");
}

#[test]
fn opening_a_camera_that_is_not_there_says_so() {
    // An index past every listed camera (0 here: this machine has none).
    let cameras = list_cameras().expect("listing cameras works without any");
    let missing = cameras.iter().map(|c| c.index + 1).max().unwrap_or(0);
    let error = CameraSource::open(missing, CaptureRequest::default())
        .expect_err("there is no such camera");
    assert!(
        matches!(error, CameraError::NoCamera { index: Some(i) } if i == missing),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("No camera was found"), "{message}");
    assert!(message.contains("connected"), "{message}");
}
