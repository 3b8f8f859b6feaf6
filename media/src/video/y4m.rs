//! YUV4MPEG2 (`.y4m`) files: raw 4:2:0 video with a one-line text header,
//! the format ffmpeg and the WebRTC test tools use for camera fixtures.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{VideoFormat, VideoFrame, VideoSource, check_dimensions, i420_len};
use crate::{MediaError, Pacer};

const MAGIC: &str = "YUV4MPEG2";
const FRAME_TAG: &[u8] = b"FRAME";
/// Header lines longer than this are not Y4M.
const MAX_LINE: u64 = 1024;
/// Colour space tags that mean 8-bit 4:2:0 (they differ only in chroma siting).
const SUPPORTED_C: &[&str] = &["420jpeg", "420paldv", "420mpeg2", "420"];

/// A video source that plays a Y4M file in a loop, paced at the file's frame
/// rate (or unpaced, see [`Y4mSource::unpaced`]). Only 8-bit 4:2:0 files with
/// even sizes are accepted; interlacing flags are ignored.
#[derive(Debug)]
pub struct Y4mSource {
    path: PathBuf,
    reader: BufReader<File>,
    format: VideoFormat,
    pacer: Pacer,
    /// Byte offset of the first `FRAME` line, where each loop restarts.
    first_frame: u64,
    /// Frames read since the last rewind, to tell an empty file from an end.
    frames_since_rewind: u64,
}

impl Y4mSource {
    /// Opens a Y4M file and reads its header.
    ///
    /// # Errors
    /// [`MediaError::Io`] if it cannot be read, [`MediaError::Malformed`] for a
    /// bad header, [`MediaError::Unsupported`] for anything but 8-bit 4:2:0
    /// with even dimensions.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, MediaError> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| MediaError::io(&path, e))?;
        let mut reader = BufReader::new(file);
        let line = read_line(&mut reader).map_err(|e| MediaError::io(&path, e))?;
        let header = Header::parse(&line).map_err(|e| e.at(&path))?;
        let first_frame = reader
            .stream_position()
            .map_err(|e| MediaError::io(&path, e))?;
        let period = Duration::from_nanos(1_000_000_000 * header.rate.1 / header.rate.0);
        let fps = ((header.rate.0 + header.rate.1 / 2) / header.rate.1).max(1);
        Ok(Self {
            path,
            reader,
            format: VideoFormat {
                width: header.width,
                height: header.height,
                fps: u32::try_from(fps).unwrap_or(u32::MAX),
            },
            pacer: Pacer::new(period),
            first_frame,
            frames_since_rewind: 0,
        })
    }

    /// The same source without pacing: frames come as fast as asked for,
    /// with presentation times as if paced.
    pub fn unpaced(self) -> Self {
        Self {
            pacer: Pacer::unpaced(self.pacer.period()),
            ..self
        }
    }

    /// Reads the next frame's bytes, rewinding once at the end of the file.
    fn read_frame_data(&mut self) -> Result<Vec<u8>, MediaError> {
        let io = |e| MediaError::io(&self.path, e);
        let mut line = read_line(&mut self.reader).map_err(io)?;
        if line.is_empty() {
            if self.frames_since_rewind == 0 {
                return Err(self.malformed("the file holds no frames".into()));
            }
            self.reader
                .seek(SeekFrom::Start(self.first_frame))
                .map_err(io)?;
            self.frames_since_rewind = 0;
            line = read_line(&mut self.reader).map_err(io)?;
        }
        if !line.starts_with(FRAME_TAG) {
            return Err(self.malformed(format!(
                "expected a FRAME line after frame {}",
                self.frames_since_rewind
            )));
        }
        let mut data = vec![0; i420_len(self.format.width, self.format.height)];
        self.reader.read_exact(&mut data).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                self.malformed(format!("frame {} is truncated", self.frames_since_rewind))
            } else {
                MediaError::io(&self.path, e)
            }
        })?;
        self.frames_since_rewind += 1;
        Ok(data)
    }

    fn malformed(&self, detail: String) -> MediaError {
        MediaError::Malformed {
            path: self.path.clone(),
            kind: "Y4M",
            detail,
        }
    }
}

impl VideoSource for Y4mSource {
    fn format(&self) -> VideoFormat {
        self.format
    }

    fn next_frame(&mut self) -> Result<VideoFrame, MediaError> {
        let data = self.read_frame_data()?;
        let pts = self.pacer.wait();
        Ok(VideoFrame {
            width: self.format.width,
            height: self.format.height,
            data,
            pts,
        })
    }
}

/// Writes `frames` (all the same size) to a Y4M file at `fps` frames per
/// second, `C420jpeg`. Used by tests and to make fixtures.
///
/// # Errors
/// [`MediaError::InvalidArgument`] for no frames or frames of differing or
/// inconsistent sizes, [`MediaError::Io`] if the file cannot be written.
pub fn write_y4m(
    path: impl AsRef<Path>,
    fps: u32,
    frames: &[VideoFrame],
) -> Result<(), MediaError> {
    let path = path.as_ref();
    let first = frames
        .first()
        .ok_or_else(|| MediaError::InvalidArgument("write_y4m needs at least one frame".into()))?;
    let (width, height) = (first.width, first.height);
    check_dimensions(width, height)?;
    if fps == 0 {
        return Err(MediaError::InvalidArgument(
            "frame rate must be positive".into(),
        ));
    }
    for (i, frame) in frames.iter().enumerate() {
        if (frame.width, frame.height) != (width, height)
            || frame.data.len() != i420_len(width, height)
        {
            return Err(MediaError::InvalidArgument(format!(
                "frame {i} is not a {width}x{height} I420 frame like frame 0"
            )));
        }
    }
    let io = |e| MediaError::io(path, e);
    let mut out = BufWriter::new(File::create(path).map_err(io)?);
    writeln!(out, "{MAGIC} W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg").map_err(io)?;
    for frame in frames {
        out.write_all(b"FRAME\n").map_err(io)?;
        out.write_all(&frame.data).map_err(io)?;
    }
    out.flush().map_err(io)
}

/// A header problem, before we attach the file name.
enum HeaderError {
    Malformed(String),
    Unsupported(String),
}

impl HeaderError {
    fn at(self, path: &Path) -> MediaError {
        let path = path.to_path_buf();
        match self {
            Self::Malformed(detail) => MediaError::Malformed {
                path,
                kind: "Y4M",
                detail,
            },
            Self::Unsupported(detail) => MediaError::Unsupported {
                path,
                kind: "Y4M",
                detail,
            },
        }
    }
}

#[derive(Debug)]
struct Header {
    width: u32,
    height: u32,
    /// Frame rate as numerator, denominator (both positive).
    rate: (u64, u64),
}

impl Header {
    fn parse(line: &[u8]) -> Result<Self, HeaderError> {
        let malformed = |s: &str| HeaderError::Malformed(s.to_string());
        let is_y4m = line
            .strip_prefix(MAGIC.as_bytes())
            .is_some_and(|rest| rest.starts_with(b" ") || rest == b"\n");
        if !is_y4m || !line.ends_with(b"\n") {
            return Err(malformed(
                "not a YUV4MPEG2 file (missing 'YUV4MPEG2 ' header line)",
            ));
        }
        let text = std::str::from_utf8(line).map_err(|_| malformed("header is not text"))?;
        let tokens = text.trim_end_matches('\n').split(' ').skip(1);
        let (mut width, mut height, mut rate, mut colour) = (None, None, None, None);
        for token in tokens.filter(|t| !t.is_empty()) {
            let (tag, value) = token.split_at(1);
            match tag {
                "W" => width = Some(parse_number(value, "width (W)")?),
                "H" => height = Some(parse_number(value, "height (H)")?),
                "F" => {
                    let (num, den) = value
                        .split_once(':')
                        .ok_or_else(|| malformed("frame rate (F) is not num:den"))?;
                    let num = parse_number(num, "frame rate (F)")?;
                    let den = parse_number(den, "frame rate (F)")?;
                    if num == 0 || den == 0 {
                        return Err(malformed("frame rate (F) must be positive"));
                    }
                    rate = Some((u64::from(num), u64::from(den)));
                }
                "C" => colour = Some(value.to_string()),
                _ => {} // I (interlacing), A (aspect), X (comments): ignored.
            }
        }
        let width = width.ok_or_else(|| malformed("missing width (W)"))?;
        let height = height.ok_or_else(|| malformed("missing height (H)"))?;
        let rate = rate.ok_or_else(|| malformed("missing frame rate (F)"))?;
        // No C tag means 4:2:0 by the format's definition.
        let colour = colour.unwrap_or_else(|| "420jpeg".into());
        if !SUPPORTED_C.contains(&colour.as_str()) {
            return Err(HeaderError::Unsupported(format!(
                "colour space C{colour}; only 8-bit 4:2:0 is supported (C{})",
                SUPPORTED_C.join(", C")
            )));
        }
        if check_dimensions(width, height).is_err() {
            return Err(HeaderError::Unsupported(format!(
                "size {width}x{height}; width and height must be even and non-zero"
            )));
        }
        Ok(Self {
            width,
            height,
            rate,
        })
    }
}

fn parse_number(value: &str, what: &str) -> Result<u32, HeaderError> {
    value
        .parse()
        .map_err(|_| HeaderError::Malformed(format!("{what} is not a number: {value:?}")))
}

/// Reads one line including its `\n` (empty at end of file), refusing lines
/// longer than [`MAX_LINE`] so a binary file cannot make us read it all.
fn read_line(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    reader.take(MAX_LINE).read_until(b'\n', &mut line)?;
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Header, String> {
        Header::parse(line.as_bytes()).map_err(|e| match e {
            HeaderError::Malformed(s) => format!("malformed: {s}"),
            HeaderError::Unsupported(s) => format!("unsupported: {s}"),
        })
    }

    #[test]
    fn parses_common_headers() {
        let h = parse("YUV4MPEG2 W640 H480 F30000:1001 Ip A1:1 C420jpeg XYSCSS=420JPEG\n").unwrap();
        assert_eq!((h.width, h.height, h.rate), (640, 480, (30000, 1001)));
        let h = parse("YUV4MPEG2 W2 H2 F25:1\n").unwrap();
        assert_eq!(h.rate, (25, 1));
        assert!(parse("YUV4MPEG2 W2 H2 F25:1 C420mpeg2\n").is_ok());
    }

    #[test]
    fn rejects_bad_headers_with_reasons() {
        let cases = [
            ("RIFF....WAVE\n", "malformed: not a YUV4MPEG2"),
            ("YUV4MPEG2 W640 H480 F30:1", "malformed: not a YUV4MPEG2"),
            ("YUV4MPEG2 H480 F30:1\n", "malformed: missing width"),
            ("YUV4MPEG2 W640 H480\n", "malformed: missing frame rate"),
            (
                "YUV4MPEG2 Wabc H480 F30:1\n",
                "malformed: width (W) is not a number",
            ),
            (
                "YUV4MPEG2 W640 H480 F30:0\n",
                "malformed: frame rate (F) must be positive",
            ),
            (
                "YUV4MPEG2 W640 H480 F30:1 C444\n",
                "unsupported: colour space C444",
            ),
            (
                "YUV4MPEG2 W640 H480 F30:1 C420p10\n",
                "unsupported: colour space C420p10",
            ),
            ("YUV4MPEG2 W641 H480 F30:1\n", "unsupported: size 641x480"),
        ];
        for (line, expected) in cases {
            let err = parse(line).unwrap_err();
            assert!(err.starts_with(expected), "{line:?}: {err}");
        }
    }
}
