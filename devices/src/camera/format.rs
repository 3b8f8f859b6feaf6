//! Which of a camera's offered formats to capture in, given what the call
//! asked for. Pure: a list in, a choice out.
//!
//! nokhwa has its own `RequestedFormatType::Closest`, but it only looks at
//! one pixel format and picks the frame rate among modes of the *requested*
//! size rather than the chosen one (so it fails when the size is not
//! offered). Cameras commonly offer 1280x720 only at 5–10 fps in YUYV and at
//! 30 fps in MJPEG, so the pixel format has to be part of the choice.

use nokhwa::utils::{CameraFormat, FrameFormat};

/// The size and frame rate a call would like from the camera; the closest
/// offered mode is used (see [`choose_format`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureRequest {
    /// Wanted width in pixels.
    pub width: u32,
    /// Wanted height in pixels.
    pub height: u32,
    /// Wanted frames per second.
    pub fps: u32,
}

impl Default for CaptureRequest {
    /// 640x480 at 30 fps: offered by virtually every webcam, in YUYV, and
    /// plenty for a consultation on a home connection.
    fn default() -> Self {
        CaptureRequest {
            width: 640,
            height: 480,
            fps: 30,
        }
    }
}

/// The pixel formats [`to_i420`](super::convert::to_i420) converts: all of
/// nokhwa's, so every mode a camera offers is usable.
pub const CONVERTIBLE: &[FrameFormat] = &[
    FrameFormat::YUYV,
    FrameFormat::MJPEG,
    FrameFormat::NV12,
    FrameFormat::RAWRGB,
    FrameFormat::RAWBGR,
    FrameFormat::GRAY,
];

/// The offered mode closest to `request`, or `None` if no mode is usable
/// (odd or zero size, zero frame rate).
///
/// Closest means, in this order: the smallest difference in size
/// (|Δwidth| + |Δheight|, so the requested size wins when offered); then
/// the frame rate nearest the requested one; then the cheapest pixel format
/// to convert (YUYV and NV12 are repacked, MJPEG must be decoded, RGB goes
/// through a matrix, grey has no colour at all, as infrared face-login
/// cameras deliver).
pub fn choose_format(offered: &[CameraFormat], request: CaptureRequest) -> Option<CameraFormat> {
    offered
        .iter()
        .filter(|f| usable(f))
        .min_by_key(|f| {
            let size = f.width().abs_diff(request.width) + f.height().abs_diff(request.height);
            let rate = f.frame_rate().abs_diff(request.fps);
            (size, rate, conversion_cost(f.format()))
        })
        .copied()
}

fn usable(format: &CameraFormat) -> bool {
    let (w, h) = (format.width(), format.height());
    w > 0 && h > 0 && w % 2 == 0 && h % 2 == 0 && format.frame_rate() > 0
}

fn conversion_cost(format: FrameFormat) -> u8 {
    match format {
        FrameFormat::YUYV | FrameFormat::NV12 => 0,
        FrameFormat::MJPEG => 1,
        FrameFormat::RAWRGB | FrameFormat::RAWBGR => 2,
        FrameFormat::GRAY => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(w: u32, h: u32, format: FrameFormat, fps: u32) -> CameraFormat {
        CameraFormat::new_from(w, h, format, fps)
    }

    /// What a typical USB 2.0 webcam offers.
    fn webcam() -> Vec<CameraFormat> {
        vec![
            mode(1280, 720, FrameFormat::YUYV, 10),
            mode(1280, 720, FrameFormat::MJPEG, 30),
            mode(640, 480, FrameFormat::MJPEG, 30),
            mode(640, 480, FrameFormat::YUYV, 30),
            mode(640, 480, FrameFormat::YUYV, 15),
            mode(320, 240, FrameFormat::YUYV, 30),
        ]
    }

    fn request(width: u32, height: u32, fps: u32) -> CaptureRequest {
        CaptureRequest { width, height, fps }
    }

    #[test]
    fn the_requested_mode_wins_when_offered_in_the_cheapest_format() {
        let chosen = choose_format(&webcam(), request(640, 480, 30)).unwrap();
        assert_eq!(chosen, mode(640, 480, FrameFormat::YUYV, 30));
    }

    #[test]
    fn at_the_requested_size_the_nearest_rate_beats_a_cheaper_format() {
        let chosen = choose_format(&webcam(), request(1280, 720, 30)).unwrap();
        assert_eq!(chosen, mode(1280, 720, FrameFormat::MJPEG, 30));
        let chosen = choose_format(&webcam(), request(640, 480, 12)).unwrap();
        assert_eq!(chosen, mode(640, 480, FrameFormat::YUYV, 15));
    }

    #[test]
    fn an_unoffered_size_gets_the_nearest_one() {
        let chosen = choose_format(&webcam(), request(352, 288, 30)).unwrap();
        assert_eq!(chosen, mode(320, 240, FrameFormat::YUYV, 30));
        let chosen = choose_format(&webcam(), request(1920, 1080, 30)).unwrap();
        assert_eq!(chosen, mode(1280, 720, FrameFormat::MJPEG, 30));
    }

    #[test]
    fn grey_is_used_only_when_nothing_else_is_offered() {
        let offered = [
            mode(640, 480, FrameFormat::GRAY, 30),
            mode(640, 480, FrameFormat::RAWRGB, 30),
        ];
        let chosen = choose_format(&offered, CaptureRequest::default()).unwrap();
        assert_eq!(chosen.format(), FrameFormat::RAWRGB);
        let chosen = choose_format(&offered[..1], CaptureRequest::default()).unwrap();
        assert_eq!(chosen.format(), FrameFormat::GRAY);
    }

    #[test]
    fn odd_sizes_and_zero_rates_are_never_chosen() {
        let offered = [
            mode(641, 480, FrameFormat::YUYV, 30),
            mode(640, 480, FrameFormat::YUYV, 0),
        ];
        assert_eq!(choose_format(&offered, CaptureRequest::default()), None);
        assert_eq!(choose_format(&[], CaptureRequest::default()), None);
    }
}
