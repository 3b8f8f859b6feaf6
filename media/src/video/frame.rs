//! Raw video frames: an owned contiguous I420 buffer and a borrowed view.

use std::time::Duration;

use crate::MediaError;

/// Luma of black and mid-grey chroma in limited-range BT.601, the range
/// libvpx and browsers assume for I420.
pub(crate) const BLACK_Y: u8 = 16;
pub(crate) const WHITE_Y: u8 = 235;
pub(crate) const NEUTRAL_UV: u8 = 128;

/// Size and nominal rate of a video stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoFormat {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Nominal frames per second.
    pub fps: u32,
}

/// An owned I420 frame in one contiguous buffer: the Y plane (`width *
/// height` bytes), then U and V (`width/2 * height/2` bytes each), no padding.
/// Width and height are even.
#[derive(Clone, PartialEq, Eq)]
pub struct VideoFrame {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Y, then U, then V; `width * height * 3 / 2` bytes.
    pub data: Vec<u8>,
    /// Media time since the source started.
    pub pts: Duration,
}

impl std::fmt::Debug for VideoFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoFrame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("data_len", &self.data.len())
            .field("pts", &self.pts)
            .finish()
    }
}

/// Bytes of a contiguous I420 frame of this size.
pub(crate) fn i420_len(width: u32, height: u32) -> usize {
    let (w, h) = (width as usize, height as usize);
    w * h + 2 * (w / 2) * (h / 2)
}

/// Rejects sizes an I420 `VideoFrame` cannot have.
pub(crate) fn check_dimensions(width: u32, height: u32) -> Result<(), MediaError> {
    if width == 0 || height == 0 || !width.is_multiple_of(2) || !height.is_multiple_of(2) {
        return Err(MediaError::InvalidArgument(format!(
            "video size {width}x{height}: width and height must be even and non-zero"
        )));
    }
    Ok(())
}

impl VideoFrame {
    /// A black frame at media time zero.
    ///
    /// # Panics
    /// If `width` or `height` is odd or zero.
    pub fn new_black(width: u32, height: u32) -> Self {
        if let Err(e) = check_dimensions(width, height) {
            panic!("{e}");
        }
        let luma = width as usize * height as usize;
        let mut data = vec![NEUTRAL_UV; i420_len(width, height)];
        data[..luma].fill(BLACK_Y);
        Self {
            width,
            height,
            data,
            pts: Duration::ZERO,
        }
    }

    /// Borrows the frame as planes with strides.
    ///
    /// # Panics
    /// If `data` is shorter than the size requires (the fields are public, so
    /// this is the caller's invariant to keep).
    pub fn view(&self) -> VideoFrameRef<'_> {
        let (w, h) = (self.width as usize, self.height as usize);
        let (cw, ch) = (w / 2, h / 2);
        let (y, rest) = self.data.split_at(w * h);
        let (u, rest) = rest.split_at(cw * ch);
        let v = &rest[..cw * ch];
        VideoFrameRef {
            width: self.width,
            height: self.height,
            y,
            u,
            v,
            y_stride: w,
            uv_stride: cw,
        }
    }
}

/// A borrowed I420 frame. Rows may be padded (`*_stride >= width`), as in
/// libvpx's decoder output, which is handed out this way without copying.
///
/// Chroma planes are `ceil(width/2) x ceil(height/2)` (decoded streams from
/// other senders may have odd sizes). Each plane slice holds at least
/// `stride * (rows - 1) + row_width` bytes: the last row may stop right after
/// its last visible pixel.
#[derive(Debug, Clone, Copy)]
pub struct VideoFrameRef<'a> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Luma plane.
    pub y: &'a [u8],
    /// Cb plane.
    pub u: &'a [u8],
    /// Cr plane.
    pub v: &'a [u8],
    /// Bytes from one luma row to the next.
    pub y_stride: usize,
    /// Bytes from one chroma row to the next.
    pub uv_stride: usize,
}

impl VideoFrameRef<'_> {
    /// Luma row `row` (visible pixels only).
    pub fn y_row(&self, row: usize) -> &[u8] {
        let start = row * self.y_stride;
        &self.y[start..start + self.width as usize]
    }

    /// Copies the visible pixels into an owned contiguous frame.
    ///
    /// # Errors
    /// [`MediaError::InvalidArgument`] if the size is odd, which an owned
    /// [`VideoFrame`] cannot represent.
    pub fn to_frame(&self, pts: Duration) -> Result<VideoFrame, MediaError> {
        check_dimensions(self.width, self.height)?;
        let (w, h) = (self.width as usize, self.height as usize);
        let mut data = Vec::with_capacity(i420_len(self.width, self.height));
        for (plane, stride, pw, ph) in [
            (self.y, self.y_stride, w, h),
            (self.u, self.uv_stride, w / 2, h / 2),
            (self.v, self.uv_stride, w / 2, h / 2),
        ] {
            for row in 0..ph {
                data.extend_from_slice(&plane[row * stride..row * stride + pw]);
            }
        }
        Ok(VideoFrame {
            width: self.width,
            height: self.height,
            data,
            pts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_splits_the_planes_and_to_frame_copies_them_back() {
        let mut frame = VideoFrame::new_black(4, 2);
        frame.data = (0..12).collect();
        let view = frame.view();
        assert_eq!(view.y, &[0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(view.u, &[8, 9]);
        assert_eq!(view.v, &[10, 11]);
        assert_eq!(view.y_row(1), &[4, 5, 6, 7]);
        assert_eq!(view.to_frame(Duration::ZERO).unwrap(), frame);
    }

    #[test]
    fn to_frame_drops_stride_padding() {
        let y = [1, 2, 0, 0, 3, 4, 0, 0];
        let view = VideoFrameRef {
            width: 2,
            height: 2,
            y: &y,
            u: &[5],
            v: &[6],
            y_stride: 4,
            uv_stride: 1,
        };
        assert_eq!(
            view.to_frame(Duration::ZERO).unwrap().data,
            vec![1, 2, 3, 4, 5, 6]
        );
    }

    #[test]
    fn black_frame_is_black() {
        let frame = VideoFrame::new_black(320, 240);
        assert_eq!(frame.data.len(), 320 * 240 * 3 / 2);
        assert!(frame.view().y.iter().all(|&p| p == BLACK_Y));
        assert!(frame.view().v.iter().all(|&p| p == NEUTRAL_UV));
    }
}
