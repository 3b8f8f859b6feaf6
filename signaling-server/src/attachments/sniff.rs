//! What a file is, from its first bytes (magic numbers), never from its
//! name or the type a client declared. Only the types chat accepts are
//! recognised; everything else is refused.

/// A type chat attachments may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// PNG image.
    Png,
    /// JPEG image.
    Jpeg,
    /// GIF image.
    Gif,
    /// WebP image.
    WebP,
    /// PDF document.
    Pdf,
}

/// Bytes [`sniff`] needs to decide (WebP's signature ends at byte 12).
pub const SNIFF_BYTES: usize = 12;

impl Kind {
    /// Every accepted kind.
    pub const ALL: [Kind; 5] = [Kind::Png, Kind::Jpeg, Kind::Gif, Kind::WebP, Kind::Pdf];

    /// Its media type.
    pub fn mime(self) -> &'static str {
        match self {
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Gif => "image/gif",
            Kind::WebP => "image/webp",
            Kind::Pdf => "application/pdf",
        }
    }

    /// Whether it is an image that gets a thumbnail.
    pub fn is_image(self) -> bool {
        self != Kind::Pdf
    }

    /// The kind a declared `Content-Type` names (parameters such as
    /// `; charset=...` and case ignored), if it is an accepted one.
    pub fn from_declared(content_type: &str) -> Option<Kind> {
        let essence = content_type.split(';').next()?.trim();
        Kind::ALL
            .into_iter()
            .find(|k| k.mime().eq_ignore_ascii_case(essence))
    }
}

/// The kind of a file that starts with `head`, if it is an accepted one.
pub fn sniff(head: &[u8]) -> Option<Kind> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Kind::Png)
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Kind::Jpeg)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some(Kind::Gif)
    } else if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        Some(Kind::WebP)
    } else if head.starts_with(b"%PDF-") {
        Some(Kind::Pdf)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_types_are_recognised_by_their_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(Kind::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]), Some(Kind::Jpeg));
        assert_eq!(sniff(b"GIF89a\x01\0"), Some(Kind::Gif));
        assert_eq!(sniff(b"GIF87a\x01\0"), Some(Kind::Gif));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 "), Some(Kind::WebP));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some(Kind::Pdf));
    }

    #[test]
    fn everything_else_is_refused() {
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0"), None, "Windows executable");
        assert_eq!(sniff(b"\x7fELF\x02\x01\x01"), None, "ELF executable");
        assert_eq!(sniff(b"<svg xmlns="), None, "SVG can carry script");
        assert_eq!(sniff(b"<html>"), None);
        assert_eq!(sniff(b"RIFF\x24\0\0\0WAVEfmt "), None, "RIFF, but audio");
        assert_eq!(sniff(b"\x89PN"), None, "truncated signature");
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn declared_types_are_read_leniently_but_only_accepted_ones() {
        assert_eq!(Kind::from_declared("image/png"), Some(Kind::Png));
        assert_eq!(Kind::from_declared("IMAGE/JPEG"), Some(Kind::Jpeg));
        assert_eq!(
            Kind::from_declared("application/pdf; name=x"),
            Some(Kind::Pdf)
        );
        assert_eq!(Kind::from_declared("image/svg+xml"), None);
        assert_eq!(Kind::from_declared("application/octet-stream"), None);
        assert_eq!(Kind::from_declared(""), None);
    }
}
