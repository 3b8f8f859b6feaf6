//! RIFF WAVE files: 16-bit PCM in, 48 kHz mono out.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::resample::{downmix, resample_linear};
use super::{AudioFrame, AudioSource, FRAME_DURATION, FRAME_SAMPLES, SAMPLE_RATE};
use crate::{MediaError, Pacer};

const FORMAT_PCM: u16 = 1;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// An audio source that plays a WAV file in a loop, paced at 20 ms per frame
/// (or unpaced, see [`WavSource::unpaced`]).
///
/// Accepts 16-bit integer PCM (plain or `WAVE_FORMAT_EXTENSIBLE`) with any
/// channel count and sample rate; channels are averaged to mono and the rate
/// converted to 48 kHz by linear interpolation, once, at open. The whole
/// file is held in memory: meant for prompts and test fixtures, not hours of
/// audio.
pub struct WavSource {
    samples: Vec<i16>,
    position: usize,
    pacer: Pacer,
}

impl std::fmt::Debug for WavSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSource")
            .field("len_samples", &self.samples.len())
            .field("position", &self.position)
            .field("paced", &self.pacer.is_paced())
            .finish()
    }
}

impl WavSource {
    /// Reads and converts a WAV file.
    ///
    /// # Errors
    /// [`MediaError::Io`] if it cannot be read, [`MediaError::Malformed`] if it
    /// is not a sound RIFF WAVE file or holds no samples,
    /// [`MediaError::Unsupported`] for anything but 16-bit integer PCM.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, MediaError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| MediaError::io(path, e))?;
        let wav = parse(&bytes).map_err(|e| e.at(path))?;
        let mono = downmix(&wav.interleaved, usize::from(wav.channels));
        Ok(Self {
            samples: resample_linear(&mono, wav.sample_rate, SAMPLE_RATE),
            position: 0,
            pacer: Pacer::new(FRAME_DURATION),
        })
    }

    /// The same source without pacing: frames come as fast as asked for.
    pub fn unpaced(self) -> Self {
        Self {
            pacer: Pacer::unpaced(FRAME_DURATION),
            ..self
        }
    }

    /// Length of one loop in 48 kHz samples.
    pub fn len_samples(&self) -> usize {
        self.samples.len()
    }
}

impl AudioSource for WavSource {
    fn next_frame(&mut self) -> Result<AudioFrame, MediaError> {
        self.pacer.wait();
        let mut samples = Vec::with_capacity(FRAME_SAMPLES);
        while samples.len() < FRAME_SAMPLES {
            let take = (FRAME_SAMPLES - samples.len()).min(self.samples.len() - self.position);
            samples.extend_from_slice(&self.samples[self.position..self.position + take]);
            self.position = (self.position + take) % self.samples.len();
        }
        Ok(AudioFrame { samples })
    }
}

/// Writes interleaved 16-bit PCM as a plain WAV file. Used by tests and to
/// make fixtures.
///
/// # Errors
/// [`MediaError::InvalidArgument`] for zero channels or rate, or a sample
/// count that is not a whole number of frames; [`MediaError::Io`] if the
/// file cannot be written.
pub fn write_wav(
    path: impl AsRef<Path>,
    sample_rate: u32,
    channels: u16,
    interleaved: &[i16],
) -> Result<(), MediaError> {
    let path = path.as_ref();
    if channels == 0 || sample_rate == 0 || !interleaved.len().is_multiple_of(usize::from(channels))
    {
        return Err(MediaError::InvalidArgument(format!(
            "WAV needs channels > 0, rate > 0 and whole frames; got {channels} channels, \
             {sample_rate} Hz, {} samples",
            interleaved.len()
        )));
    }
    let data_len = u32::try_from(interleaved.len() * 2)
        .ok()
        .filter(|len| *len <= u32::MAX - 36)
        .ok_or_else(|| MediaError::InvalidArgument("too much audio for one WAV file".into()))?;
    let block_align = channels * 2;
    let mut header = Vec::with_capacity(44);
    header.extend_from_slice(b"RIFF");
    header.extend_from_slice(&(36 + data_len).to_le_bytes());
    header.extend_from_slice(b"WAVEfmt ");
    header.extend_from_slice(&16u32.to_le_bytes());
    header.extend_from_slice(&FORMAT_PCM.to_le_bytes());
    header.extend_from_slice(&channels.to_le_bytes());
    header.extend_from_slice(&sample_rate.to_le_bytes());
    header.extend_from_slice(&(sample_rate * u32::from(block_align)).to_le_bytes());
    header.extend_from_slice(&block_align.to_le_bytes());
    header.extend_from_slice(&16u16.to_le_bytes());
    header.extend_from_slice(b"data");
    header.extend_from_slice(&data_len.to_le_bytes());

    let io = |e| MediaError::io(path, e);
    let mut out = BufWriter::new(File::create(path).map_err(io)?);
    out.write_all(&header).map_err(io)?;
    for sample in interleaved {
        out.write_all(&sample.to_le_bytes()).map_err(io)?;
    }
    out.flush().map_err(io)
}

/// The parts of a WAV file we use.
#[derive(Debug)]
struct Wav {
    channels: u16,
    sample_rate: u32,
    interleaved: Vec<i16>,
}

/// A problem with the file's contents, before we attach its name.
#[derive(Debug)]
enum WavError {
    Malformed(String),
    Unsupported(String),
}

impl WavError {
    fn at(self, path: &Path) -> MediaError {
        let path = PathBuf::from(path);
        match self {
            Self::Malformed(detail) => MediaError::Malformed {
                path,
                kind: "WAV",
                detail,
            },
            Self::Unsupported(detail) => MediaError::Unsupported {
                path,
                kind: "WAV",
                detail,
            },
        }
    }
}

struct Format {
    tag: u16,
    channels: u16,
    sample_rate: u32,
    bits: u16,
}

fn parse(bytes: &[u8]) -> Result<Wav, WavError> {
    let malformed = |s: &str| WavError::Malformed(s.to_string());
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(malformed("not a RIFF WAVE file"));
    }
    let (mut format, mut data) = (None, None);
    let mut rest = &bytes[12..];
    while rest.len() >= 8 {
        let id = &rest[..4];
        let size = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let body = &rest[8..];
        // Writers that never patched the size leave it too large; take what is there.
        let body = &body[..size.min(body.len())];
        match id {
            b"fmt " => format = Some(parse_format(body)?),
            b"data" => data = Some(body),
            _ => {} // LIST, fact, cue, ...: not needed.
        }
        // Chunks are padded to an even size.
        let advance = (8 + size + size % 2).min(rest.len());
        rest = &rest[advance..];
    }
    let format = format.ok_or_else(|| malformed("no fmt chunk"))?;
    let data = data.ok_or_else(|| malformed("no data chunk"))?;
    if format.tag != FORMAT_PCM {
        return Err(WavError::Unsupported(format!(
            "format tag {:#06x}; only integer PCM (1) is supported",
            format.tag
        )));
    }
    if format.bits != 16 {
        return Err(WavError::Unsupported(format!(
            "{}-bit samples; only 16-bit PCM is supported",
            format.bits
        )));
    }
    if format.channels == 0 || format.sample_rate == 0 {
        return Err(malformed("zero channels or zero sample rate"));
    }
    let frame_bytes = 2 * usize::from(format.channels);
    let whole = data.len() / frame_bytes * frame_bytes;
    if whole == 0 {
        return Err(malformed("the data chunk holds no samples"));
    }
    let interleaved = data[..whole]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    Ok(Wav {
        channels: format.channels,
        sample_rate: format.sample_rate,
        interleaved,
    })
}

fn parse_format(body: &[u8]) -> Result<Format, WavError> {
    if body.len() < 16 {
        return Err(WavError::Malformed("fmt chunk is too short".into()));
    }
    let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
    let mut tag = u16_at(0);
    if tag == FORMAT_EXTENSIBLE {
        // The real format is the first two bytes of the sub-format GUID.
        if body.len() < 26 {
            return Err(WavError::Malformed(
                "extensible fmt chunk is too short".into(),
            ));
        }
        tag = u16_at(24);
    }
    Ok(Format {
        tag,
        channels: u16_at(2),
        sample_rate: u32::from_le_bytes([body[4], body[5], body[6], body[7]]),
        bits: u16_at(14),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_bytes(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
        let mut out = b"RIFF\0\0\0\0WAVE".to_vec();
        // An odd-sized chunk before fmt, to exercise padding.
        out.extend_from_slice(b"junk\x03\0\0\0abc\0");
        out.extend_from_slice(b"fmt \x10\0\0\0");
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * u32::from(channels * bits / 8)).to_le_bytes());
        out.extend_from_slice(&(channels * bits / 8).to_le_bytes());
        out.extend_from_slice(&bits.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        out
    }

    fn error_of(bytes: &[u8]) -> String {
        match parse(bytes).unwrap_err() {
            WavError::Malformed(s) => format!("malformed: {s}"),
            WavError::Unsupported(s) => format!("unsupported: {s}"),
        }
    }

    #[test]
    fn parses_pcm_after_other_chunks() {
        let wav = parse(&wav_bytes(1, 2, 44_100, 16, &[1, 0, 2, 0, 3, 0, 4, 0, 9])).unwrap();
        assert_eq!((wav.channels, wav.sample_rate), (2, 44_100));
        assert_eq!(wav.interleaved, vec![1, 2, 3, 4], "partial frame dropped");
    }

    #[test]
    fn explains_what_it_cannot_read() {
        assert_eq!(error_of(b"OggS...."), "malformed: not a RIFF WAVE file");
        assert_eq!(
            error_of(&wav_bytes(3, 1, 48_000, 32, &[0; 8])),
            "unsupported: format tag 0x0003; only integer PCM (1) is supported"
        );
        assert_eq!(
            error_of(&wav_bytes(1, 1, 48_000, 24, &[0; 6])),
            "unsupported: 24-bit samples; only 16-bit PCM is supported"
        );
        assert_eq!(
            error_of(&wav_bytes(1, 1, 48_000, 16, &[])),
            "malformed: the data chunk holds no samples"
        );
        assert_eq!(error_of(b"RIFF\0\0\0\0WAVE"), "malformed: no fmt chunk");
    }
}
