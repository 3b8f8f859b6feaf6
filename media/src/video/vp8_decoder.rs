//! VP8 decoding through libvpx, handing out frames without copying them.
#![allow(unsafe_code)]

use std::os::raw::{c_int, c_uint};

use vpx_sys::{
    VPX_DECODER_ABI_VERSION, vpx_codec_dec_cfg_t, vpx_codec_dec_init_ver, vpx_codec_decode,
    vpx_codec_get_frame, vpx_codec_iter_t, vpx_codec_vp8_dx, vpx_img_fmt,
};

use super::VideoFrameRef;
use super::vpx::CodecContext;
use crate::MediaError;

/// A VP8 decoder. Decoded frames are borrowed straight from libvpx's frame
/// buffer (no copy), valid until the next call on the decoder.
pub struct Vp8Decoder {
    ctx: CodecContext,
}

impl std::fmt::Debug for Vp8Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vp8Decoder").finish_non_exhaustive()
    }
}

impl Vp8Decoder {
    /// Creates a single-threaded decoder.
    ///
    /// # Errors
    /// [`MediaError::Vpx`] if libvpx cannot create it.
    pub fn new() -> Result<Self, MediaError> {
        let cfg = vpx_codec_dec_cfg_t {
            threads: 1,
            w: 0,
            h: 0,
        };
        let ctx = CodecContext::init("decoder init", |ctx| {
            // SAFETY: `ctx` is a zeroed context (see `CodecContext::init`),
            // the interface is libvpx's static VP8 decoder, `cfg` is complete
            // and copied during init, and the ABI version is the one the
            // bindings were generated for.
            unsafe {
                vpx_codec_dec_init_ver(
                    ctx,
                    vpx_codec_vp8_dx(),
                    &cfg,
                    0,
                    VPX_DECODER_ABI_VERSION as c_int,
                )
            }
        })?;
        Ok(Self { ctx })
    }

    /// Decodes one complete VP8 frame (as reassembled from RTP).
    ///
    /// Returns the picture to show, or `None` if the frame produced none
    /// (VP8 frames can be invisible). After an error, frames that depend on
    /// the lost one will also fail or look wrong until the next keyframe:
    /// ask the sender for one.
    ///
    /// # Errors
    /// [`MediaError::InvalidArgument`] for empty input, [`MediaError::Vpx`]
    /// for corrupt or undecodable data (never a panic).
    pub fn decode(&mut self, data: &[u8]) -> Result<Option<VideoFrameRef<'_>>, MediaError> {
        if data.is_empty() {
            return Err(MediaError::InvalidArgument("empty VP8 frame".into()));
        }
        let len = c_uint::try_from(data.len()).map_err(|_| {
            MediaError::InvalidArgument(format!("VP8 frame of {} bytes is too large", data.len()))
        })?;
        // SAFETY: the context is initialised and `data` is a readable buffer
        // of `len` bytes that libvpx only reads during the call.
        let status = unsafe {
            vpx_codec_decode(
                self.ctx.as_mut_ptr(),
                data.as_ptr(),
                len,
                std::ptr::null_mut(),
                0,
            )
        };
        self.ctx.check(status, "decode")?;

        let mut iter: vpx_codec_iter_t = std::ptr::null();
        // SAFETY: the context is initialised and `iter` starts null.
        let image = unsafe { vpx_codec_get_frame(self.ctx.as_mut_ptr(), &mut iter) };
        if image.is_null() {
            return Ok(None);
        }
        // SAFETY: a non-null image belongs to the decoder and stays valid
        // until the next decode call; the returned borrow of `self` (through
        // the `'_` lifetime tied to `&mut self`) prevents that call while the
        // frame is alive.
        let image = unsafe { &*image };
        if image.fmt != vpx_img_fmt::VPX_IMG_FMT_I420 {
            return Err(MediaError::Vpx {
                operation: "decode",
                message: format!("unexpected output format {:?}", image.fmt),
            });
        }
        let (width, height) = (image.d_w, image.d_h);
        let (w, h) = (width as usize, height as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let (Ok(y_stride), Ok(uv_stride)) = (
            usize::try_from(image.stride[0]),
            usize::try_from(image.stride[1]),
        ) else {
            return Err(MediaError::Vpx {
                operation: "decode",
                message: "negative stride in decoded image".into(),
            });
        };
        if w == 0
            || h == 0
            || y_stride < w
            || uv_stride < cw
            || image.stride[2] != image.stride[1]
            || image.planes[..3].iter().any(|p| p.is_null())
        {
            return Err(MediaError::Vpx {
                operation: "decode",
                message: format!("inconsistent decoded image {width}x{height}"),
            });
        }
        // The shortest length covering every visible pixel of a plane.
        let plane_len = |stride: usize, cols: usize, rows: usize| stride * (rows - 1) + cols;
        // SAFETY: libvpx's I420 image has three planes of `d_w x d_h` and
        // `ceil(d_w/2) x ceil(d_h/2)` visible pixels with the given strides;
        // each slice covers exactly the visible rows (the last one only up to
        // its last visible pixel), so it lies inside the plane's buffer. The
        // memory is not written while borrowed (see above).
        let (y, u, v) = unsafe {
            (
                std::slice::from_raw_parts(image.planes[0], plane_len(y_stride, w, h)),
                std::slice::from_raw_parts(image.planes[1], plane_len(uv_stride, cw, ch)),
                std::slice::from_raw_parts(image.planes[2], plane_len(uv_stride, cw, ch)),
            )
        };
        Ok(Some(VideoFrameRef {
            width,
            height,
            y,
            u,
            v,
            y_stride,
            uv_stride,
        }))
    }
}
