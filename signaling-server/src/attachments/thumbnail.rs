//! Thumbnails of image attachments: at most [`MAX_SIDE`] pixels on the
//! longer side, aspect ratio kept, JPEG. Decoding is bounded, so a small
//! file that claims a huge canvas (a decompression bomb) gets no thumbnail
//! instead of eating the server's memory.

use super::sniff::Kind;
use image::{ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// Longest side of a thumbnail, in pixels.
pub const MAX_SIDE: u32 = 256;
/// Most memory one decode may allocate.
const MAX_DECODE_ALLOC: u64 = 128 * 1024 * 1024;
/// Widest or tallest image decoded.
const MAX_DECODE_SIDE: u32 = 12_000;
/// JPEG quality of thumbnails.
const QUALITY: u8 = 80;

/// The size of the thumbnail of a `width` × `height` image: scaled down to
/// fit `max` × `max` with its aspect ratio (never up, never below 1 px).
pub fn fit(width: u32, height: u32, max: u32) -> (u32, u32) {
    if width <= max && height <= max {
        return (width.max(1), height.max(1));
    }
    let scale = |side: u32, long: u32| {
        ((u64::from(side) * u64::from(max) + u64::from(long) / 2) / u64::from(long)).max(1) as u32
    };
    if width >= height {
        (max, scale(height, width))
    } else {
        (scale(width, height), max)
    }
}

/// A JPEG thumbnail of an image, or `None` when it cannot be decoded
/// within the limits (the upload is kept, just without a thumbnail).
pub fn make(bytes: &[u8], kind: Kind) -> Option<Vec<u8>> {
    let format = match kind {
        Kind::Png => ImageFormat::Png,
        Kind::Jpeg => ImageFormat::Jpeg,
        Kind::Gif => ImageFormat::Gif,
        Kind::WebP => ImageFormat::WebP,
        Kind::Pdf => return None,
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    limits.max_image_width = Some(MAX_DECODE_SIDE);
    limits.max_image_height = Some(MAX_DECODE_SIDE);
    reader.limits(limits);
    let image = match reader.decode() {
        Ok(image) => image,
        Err(e) => {
            tracing::info!(error = %e, "no thumbnail: image does not decode within limits");
            return None;
        }
    };
    let (w, h) = fit(image.width(), image.height(), MAX_SIDE);
    let small = image
        .resize_exact(w, h, image::imageops::FilterType::Triangle)
        .into_rgb8();
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, QUALITY);
    match small.write_with_encoder(encoder) {
        Ok(()) => Some(out),
        Err(e) => {
            tracing::warn!(error = %e, "thumbnail encoding failed");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_the_aspect_ratio_within_the_box() {
        assert_eq!(fit(1024, 768, 256), (256, 192));
        assert_eq!(fit(768, 1024, 256), (192, 256));
        assert_eq!(fit(4000, 4000, 256), (256, 256));
        assert_eq!(fit(100, 50, 256), (100, 50), "never scaled up");
        assert_eq!(fit(10_000, 3, 256), (256, 1), "never below one pixel");
        assert_eq!(fit(0, 0, 256), (1, 1));
        assert_eq!(fit(u32::MAX, u32::MAX / 2, 256), (256, 128));
    }

    #[test]
    fn images_get_small_jpeg_thumbnails() {
        let mut png = Vec::new();
        image::RgbImage::from_pixel(1000, 500, image::Rgb([200, 30, 30]))
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let thumb = make(&png, Kind::Png).expect("a thumbnail");
        let decoded = image::load_from_memory(&thumb).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (256, 128));
        assert_eq!(image::guess_format(&thumb).unwrap(), ImageFormat::Jpeg);
    }

    #[test]
    fn undecodable_or_non_image_files_get_none() {
        assert!(make(b"\x89PNG\r\n\x1a\ngarbage", Kind::Png).is_none());
        assert!(make(b"%PDF-1.7", Kind::Pdf).is_none());
    }
}
