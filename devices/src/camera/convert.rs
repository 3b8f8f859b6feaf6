//! Camera pixel formats to the encoder's I420, with no I/O: bytes in,
//! a [`VideoFrame`] out.
//!
//! Cameras deliver packed 4:2:2 YUYV, MJPEG (most USB webcams above
//! 640x480, since YUYV at 720p does not fit USB 2.0 at 30 fps), NV12 or
//! raw RGB/BGR/grey. libvpx wants planar 4:2:0 in limited-range BT.601
//! (Y 16–235, chroma 16–240), which is also what YUYV and NV12 from V4L2
//! already are, so those are only repacked; RGB (and MJPEG, decoded to
//! RGB) goes through the BT.601 matrix. Chroma is subsampled by averaging
//! each 2x2 block, which keeps flat colour areas exact.

use std::io::Cursor;
use std::time::Duration;

use clinicall_media::VideoFrame;
use nokhwa::utils::FrameFormat;
use zune_jpeg::JpegDecoder;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use super::CameraError;

/// Converts one captured frame of `format` to I420.
///
/// # Errors
/// [`CameraError::BadFrame`] when the size is odd or zero, the buffer is
/// too short for `width` x `height`, or an MJPEG frame does not decode to
/// that size.
pub fn to_i420(
    data: &[u8],
    format: FrameFormat,
    width: u32,
    height: u32,
    pts: Duration,
) -> Result<VideoFrame, CameraError> {
    let data = match format {
        FrameFormat::YUYV => yuyv_to_i420(data, width, height)?,
        FrameFormat::NV12 => nv12_to_i420(data, width, height)?,
        FrameFormat::MJPEG => mjpeg_to_i420(data, width, height)?,
        FrameFormat::RAWRGB => rgb_to_i420(data, width, height, RgbOrder::Rgb)?,
        FrameFormat::RAWBGR => rgb_to_i420(data, width, height, RgbOrder::Bgr)?,
        FrameFormat::GRAY => gray_to_i420(data, width, height)?,
    };
    Ok(VideoFrame {
        width,
        height,
        data,
        pts,
    })
}

/// Byte order of a packed 24-bit pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RgbOrder {
    /// Red, green, blue.
    Rgb,
    /// Blue, green, red.
    Bgr,
}

/// Packed YUYV 4:2:2 (Y0 U Y1 V per two pixels) to I420. Rows may be
/// padded: the stride is taken from the buffer length when it divides
/// evenly into `height` rows.
///
/// # Errors
/// [`CameraError::BadFrame`] for an odd or zero size or a short buffer.
pub fn yuyv_to_i420(src: &[u8], width: u32, height: u32) -> Result<Vec<u8>, CameraError> {
    let (w, h) = even_size(width, height)?;
    let stride = packed_stride(src.len(), w * 2, h, "YUYV")?;
    let mut out = vec![0; i420_len(w, h)];
    let (luma, chroma) = out.split_at_mut(w * h);
    let (u_plane, v_plane) = chroma.split_at_mut((w / 2) * (h / 2));
    for (pair, ((y_rows, u_row), v_row)) in luma
        .chunks_exact_mut(2 * w)
        .zip(u_plane.chunks_exact_mut(w / 2))
        .zip(v_plane.chunks_exact_mut(w / 2))
        .enumerate()
    {
        let top = &src[2 * pair * stride..][..2 * w];
        let bottom = &src[(2 * pair + 1) * stride..][..2 * w];
        let (y_top, y_bottom) = y_rows.split_at_mut(w);
        for (i, (t, b)) in top.chunks_exact(4).zip(bottom.chunks_exact(4)).enumerate() {
            y_top[2 * i] = t[0];
            y_top[2 * i + 1] = t[2];
            y_bottom[2 * i] = b[0];
            y_bottom[2 * i + 1] = b[2];
            // 4:2:2 has chroma on every row; 4:2:0 keeps one row in two,
            // so average the pair.
            u_row[i] = average2(t[1], b[1]);
            v_row[i] = average2(t[3], b[3]);
        }
    }
    Ok(out)
}

/// NV12 (a Y plane, then one plane of interleaved U and V at half size in
/// both directions) to I420: the same samples, de-interleaved.
///
/// # Errors
/// [`CameraError::BadFrame`] for an odd or zero size or a short buffer.
pub fn nv12_to_i420(src: &[u8], width: u32, height: u32) -> Result<Vec<u8>, CameraError> {
    let (w, h) = even_size(width, height)?;
    let needed = i420_len(w, h);
    if src.len() < needed {
        return Err(short("NV12", src.len(), needed));
    }
    let mut out = vec![0; needed];
    let (luma, chroma) = out.split_at_mut(w * h);
    let (u_plane, v_plane) = chroma.split_at_mut((w / 2) * (h / 2));
    luma.copy_from_slice(&src[..w * h]);
    for ((uv, u), v) in src[w * h..needed]
        .chunks_exact(2)
        .zip(u_plane.iter_mut())
        .zip(v_plane.iter_mut())
    {
        *u = uv[0];
        *v = uv[1];
    }
    Ok(out)
}

/// 8-bit grey (full range) to I420: luma scaled into 16–235, chroma
/// neutral.
///
/// # Errors
/// [`CameraError::BadFrame`] for an odd or zero size or a short buffer.
pub fn gray_to_i420(src: &[u8], width: u32, height: u32) -> Result<Vec<u8>, CameraError> {
    let (w, h) = even_size(width, height)?;
    if src.len() < w * h {
        return Err(short("grey", src.len(), w * h));
    }
    let mut out = vec![NEUTRAL_CHROMA; i420_len(w, h)];
    for (y, &g) in out[..w * h].iter_mut().zip(src) {
        *y = (16 + (u32::from(g) * 219 + 127) / 255) as u8;
    }
    Ok(out)
}

/// Packed 24-bit RGB or BGR (full range, as cameras and JPEG decoders
/// give it) to limited-range BT.601 I420. Each chroma sample is computed
/// from the average colour of its 2x2 block.
///
/// # Errors
/// [`CameraError::BadFrame`] for an odd or zero size or a short buffer.
pub fn rgb_to_i420(
    src: &[u8],
    width: u32,
    height: u32,
    order: RgbOrder,
) -> Result<Vec<u8>, CameraError> {
    let (w, h) = even_size(width, height)?;
    let row_bytes = 3 * w;
    if src.len() < row_bytes * h {
        return Err(short("RGB", src.len(), row_bytes * h));
    }
    let (ri, bi) = match order {
        RgbOrder::Rgb => (0, 2),
        RgbOrder::Bgr => (2, 0),
    };
    let pixel = |p: &[u8]| (i32::from(p[ri]), i32::from(p[1]), i32::from(p[bi]));
    let mut out = vec![0; i420_len(w, h)];
    let (luma, chroma) = out.split_at_mut(w * h);
    let (u_plane, v_plane) = chroma.split_at_mut((w / 2) * (h / 2));
    for (pair, ((y_rows, u_row), v_row)) in luma
        .chunks_exact_mut(2 * w)
        .zip(u_plane.chunks_exact_mut(w / 2))
        .zip(v_plane.chunks_exact_mut(w / 2))
        .enumerate()
    {
        let top = &src[2 * pair * row_bytes..][..row_bytes];
        let bottom = &src[(2 * pair + 1) * row_bytes..][..row_bytes];
        let (y_top, y_bottom) = y_rows.split_at_mut(w);
        for (i, (t, b)) in top.chunks_exact(6).zip(bottom.chunks_exact(6)).enumerate() {
            let block = [
                pixel(&t[..3]),
                pixel(&t[3..]),
                pixel(&b[..3]),
                pixel(&b[3..]),
            ];
            y_top[2 * i] = bt601_y(block[0]);
            y_top[2 * i + 1] = bt601_y(block[1]);
            y_bottom[2 * i] = bt601_y(block[2]);
            y_bottom[2 * i + 1] = bt601_y(block[3]);
            let sum = block
                .iter()
                .fold((0, 0, 0), |(r, g, b), p| (r + p.0, g + p.1, b + p.2));
            (u_row[i], v_row[i]) = bt601_uv_of_sum4(sum);
        }
    }
    Ok(out)
}

/// One MJPEG frame (a JPEG, possibly without Huffman tables, as many
/// webcams send them) to I420 through RGB.
///
/// # Errors
/// [`CameraError::BadFrame`] when it does not decode, or decodes to
/// another size than `width` x `height`.
pub fn mjpeg_to_i420(src: &[u8], width: u32, height: u32) -> Result<Vec<u8>, CameraError> {
    let (w, h) = even_size(width, height)?;
    let bad = |detail: String| CameraError::BadFrame { detail };
    // Caps the allocation a corrupt header could ask for.
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(w)
        .set_max_height(h);
    let mut decoder = JpegDecoder::new_with_options(Cursor::new(src), options);
    let rgb = decoder
        .decode()
        .map_err(|e| bad(format!("MJPEG frame does not decode: {e}")))?;
    let info = decoder
        .info()
        .ok_or_else(|| bad("MJPEG frame has no header".into()))?;
    if (usize::from(info.width), usize::from(info.height)) != (w, h) {
        return Err(bad(format!(
            "MJPEG frame is {}x{}, expected {w}x{h}",
            info.width, info.height
        )));
    }
    rgb_to_i420(&rgb, width, height, RgbOrder::Rgb)
}

const NEUTRAL_CHROMA: u8 = 128;

// BT.601 for full-range RGB in, limited-range YCbCr out (Y scaled by
// 219/255, chroma by 224/255), as 16-bit fixed point: 8-bit coefficients
// are off by one on saturated colours (pure green gives Y 144, not 145).
const Y_R: i32 = 16_829;
const Y_G: i32 = 33_039;
const Y_B: i32 = 6_416;
const CB_R: i32 = -9_714;
const CB_G: i32 = -19_070;
const CB_B: i32 = 28_784;
const CR_R: i32 = 28_784;
const CR_G: i32 = -24_103;
const CR_B: i32 = -4_681;

/// Limited-range luma of a full-range RGB pixel, rounded.
fn bt601_y((r, g, b): (i32, i32, i32)) -> u8 {
    (16 + ((Y_R * r + Y_G * g + Y_B * b + (1 << 15)) >> 16)) as u8
}

/// Cb and Cr of the sum of four RGB pixels: the division by 4 is folded
/// into the shift.
fn bt601_uv_of_sum4((r, g, b): (i32, i32, i32)) -> (u8, u8) {
    let u = 128 + ((CB_R * r + CB_G * g + CB_B * b + (1 << 17)) >> 18);
    let v = 128 + ((CR_R * r + CR_G * g + CR_B * b + (1 << 17)) >> 18);
    (u.clamp(0, 255) as u8, v.clamp(0, 255) as u8)
}

/// Mean of two samples, halves rounded up (as libyuv does).
fn average2(a: u8, b: u8) -> u8 {
    (u16::from(a) + u16::from(b)).div_ceil(2) as u8
}

fn i420_len(w: usize, h: usize) -> usize {
    w * h + 2 * (w / 2) * (h / 2)
}

fn even_size(width: u32, height: u32) -> Result<(usize, usize), CameraError> {
    if width == 0 || height == 0 || width % 2 == 1 || height % 2 == 1 {
        return Err(CameraError::BadFrame {
            detail: format!("{width}x{height} is not an even, non-zero size"),
        });
    }
    Ok((width as usize, height as usize))
}

/// Bytes from one row to the next of a packed format whose rows hold
/// `row_bytes`: drivers may pad rows, which shows as a longer buffer.
fn packed_stride(
    len: usize,
    row_bytes: usize,
    rows: usize,
    what: &str,
) -> Result<usize, CameraError> {
    if len < row_bytes * rows {
        return Err(short(what, len, row_bytes * rows));
    }
    Ok(if len.is_multiple_of(rows) {
        len / rows
    } else {
        row_bytes
    })
}

fn short(what: &str, len: usize, needed: usize) -> CameraError {
    CameraError::BadFrame {
        detail: format!("{what} frame of {len} bytes, {needed} needed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Triple = (u8, u8, u8);

    /// (R, G, B) and the BT.601 limited-range (Y, U, V) they must become.
    const PATCHES: [(Triple, Triple); 6] = [
        ((255, 0, 0), (81, 90, 240)),
        ((0, 255, 0), (145, 54, 34)),
        ((0, 0, 255), (41, 240, 110)),
        ((255, 255, 255), (235, 128, 128)),
        ((0, 0, 0), (16, 128, 128)),
        ((128, 128, 128), (126, 128, 128)),
    ];

    fn planes(i420: &[u8], w: usize, h: usize) -> (&[u8], &[u8], &[u8]) {
        let (y, rest) = i420.split_at(w * h);
        let (u, v) = rest.split_at((w / 2) * (h / 2));
        (y, u, v)
    }

    #[test]
    fn rgb_patches_become_their_bt601_values() {
        for ((r, g, b), (y, u, v)) in PATCHES {
            let rgb: Vec<u8> = [r, g, b].repeat(4 * 2);
            let out = rgb_to_i420(&rgb, 4, 2, RgbOrder::Rgb).unwrap();
            let (py, pu, pv) = planes(&out, 4, 2);
            assert!(py.iter().all(|&p| p == y), "{:?}: {py:?}", (r, g, b));
            assert_eq!((pu, pv), (&[u, u][..], &[v, v][..]), "{:?}", (r, g, b));
        }
    }

    #[test]
    fn bgr_swaps_red_and_blue() {
        let bgr = [0u8, 0, 255].repeat(4); // red, in BGR order
        let out = rgb_to_i420(&bgr, 2, 2, RgbOrder::Bgr).unwrap();
        assert_eq!(out, vec![81, 81, 81, 81, 90, 240]);
    }

    #[test]
    fn chroma_is_the_average_of_each_2x2_block() {
        // Left block: red over blue; right block all white.
        let red = [255, 0, 0];
        let blue = [0, 0, 255];
        let white = [255, 255, 255];
        let rgb = [red, red, white, white, blue, blue, white, white].concat();
        let out = rgb_to_i420(&rgb, 4, 2, RgbOrder::Rgb).unwrap();
        let (y, u, v) = planes(&out, 4, 2);
        assert_eq!(y, &[81, 81, 235, 235, 41, 41, 235, 235]);
        // Half red, half blue: Cb (90+240)/2 = 165, Cr (240+110)/2 = 175.
        assert!((i32::from(u[0]) - 165).abs() <= 1, "{u:?}");
        assert!((i32::from(v[0]) - 175).abs() <= 1, "{v:?}");
        assert_eq!((u[1], v[1]), (128, 128));
    }

    #[test]
    fn yuyv_is_repacked_with_chroma_averaged_over_two_rows() {
        // 4x2: pixel pairs (Y0 U Y1 V).
        let yuyv = [
            10, 100, 20, 200, 30, 50, 40, 60, //
            11, 102, 21, 202, 31, 70, 41, 81,
        ];
        let out = yuyv_to_i420(&yuyv, 4, 2).unwrap();
        assert_eq!(out, vec![10, 20, 30, 40, 11, 21, 31, 41, 101, 60, 201, 71]);
    }

    #[test]
    fn yuyv_rows_may_be_padded() {
        // 2x2 with 4 bytes of padding per row.
        let yuyv = [1, 2, 3, 4, 0, 0, 0, 0, 5, 6, 7, 8, 0, 0, 0, 0];
        let out = yuyv_to_i420(&yuyv, 2, 2).unwrap();
        assert_eq!(out, vec![1, 3, 5, 7, 4, 6]);
    }

    #[test]
    fn nv12_is_deinterleaved() {
        let nv12 = [1, 2, 3, 4, 5, 6, 7, 8, 90, 91, 92, 93];
        let out = nv12_to_i420(&nv12, 4, 2).unwrap();
        assert_eq!(out, vec![1, 2, 3, 4, 5, 6, 7, 8, 90, 92, 91, 93]);
    }

    #[test]
    fn grey_is_scaled_into_limited_range_with_neutral_chroma() {
        let out = gray_to_i420(&[0, 255, 128, 64], 2, 2).unwrap();
        assert_eq!(out, vec![16, 235, 126, 71, 128, 128]);
    }

    #[test]
    fn mjpeg_colour_patches_survive_decoding() {
        // Four 16x16 quadrants: red, green, blue, white.
        let (w, h) = (32usize, 32usize);
        let colours = [PATCHES[0], PATCHES[1], PATCHES[2], PATCHES[3]];
        let mut rgb = Vec::with_capacity(w * h * 3);
        for row in 0..h {
            for col in 0..w {
                let quadrant = (row / 16) * 2 + col / 16;
                let (r, g, b) = colours[quadrant].0;
                rgb.extend_from_slice(&[r, g, b]);
            }
        }
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 95)
            .encode(&rgb, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
            .unwrap();

        let frame = to_i420(&jpeg, FrameFormat::MJPEG, 32, 32, Duration::ZERO).unwrap();
        let view = frame.view();
        for (quadrant, (_, (y, u, v))) in colours.iter().enumerate() {
            // Sample the middle of each quadrant, away from JPEG's edge ringing.
            let (qr, qc) = (quadrant / 2, quadrant % 2);
            let luma = view.y[(qr * 16 + 8) * w + qc * 16 + 8];
            let chroma_at = (qr * 8 + 4) * (w / 2) + qc * 8 + 4;
            let got = (luma, view.u[chroma_at], view.v[chroma_at]);
            let close = |a: u8, b: u8| (i32::from(a) - i32::from(b)).abs() <= 6;
            assert!(
                close(got.0, *y) && close(got.1, *u) && close(got.2, *v),
                "quadrant {quadrant}: got {got:?}, want {:?}",
                (y, u, v)
            );
        }
    }

    #[test]
    fn corrupt_or_mis_sized_frames_are_bad_frames() {
        let short = to_i420(&[0; 10], FrameFormat::YUYV, 4, 4, Duration::ZERO);
        assert!(matches!(short, Err(CameraError::BadFrame { .. })));
        let odd = yuyv_to_i420(&[0; 64], 3, 4);
        assert!(matches!(odd, Err(CameraError::BadFrame { .. })));
        let garbage = mjpeg_to_i420(&[0xff, 0xd8, 1, 2, 3], 4, 4);
        assert!(matches!(garbage, Err(CameraError::BadFrame { .. })));

        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 90)
            .encode(&[0; 8 * 8 * 3], 8, 8, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        let Err(CameraError::BadFrame { detail }) = mjpeg_to_i420(&jpeg, 16, 16) else {
            panic!("an 8x8 JPEG is not a 16x16 frame");
        };
        assert!(detail.contains("8x8"), "{detail}");
    }
}
