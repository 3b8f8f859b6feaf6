//! Opus encoding and decoding through the system libopus.

use opus::{Application, Bitrate, Channels};

use super::{FRAME_SAMPLES, SAMPLE_RATE};
use crate::MediaError;

/// libopus's recommended output buffer: no packet is larger.
const MAX_PACKET_BYTES: usize = 4000;
/// The longest Opus packet is 120 ms.
const MAX_PACKET_SAMPLES: usize = SAMPLE_RATE as usize * 120 / 1000;
/// Frame sizes Opus can encode (2.5 to 60 ms at 48 kHz).
const ENCODABLE_SAMPLES: [usize; 6] = [120, 240, 480, 960, 1920, 2880];

/// A 48 kHz mono Opus encoder tuned for speech (the VOIP application).
pub struct OpusEncoder {
    inner: opus::Encoder,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder").finish_non_exhaustive()
    }
}

impl OpusEncoder {
    /// Creates an encoder targeting `bitrate_bps` bits per second (Opus
    /// accepts 500 to 512000; 24000 to 32000 suits wideband speech).
    ///
    /// # Errors
    /// [`MediaError::Opus`] if libopus refuses the settings.
    pub fn new(bitrate_bps: u32) -> Result<Self, MediaError> {
        let err = |operation| move |source| MediaError::Opus { operation, source };
        let mut inner = opus::Encoder::new(SAMPLE_RATE, Channels::Mono, Application::Voip)
            .map_err(err("encoder init"))?;
        let bits = i32::try_from(bitrate_bps).unwrap_or(i32::MAX);
        inner
            .set_bitrate(Bitrate::Bits(bits))
            .map_err(err("set bitrate"))?;
        Ok(Self { inner })
    }

    /// Encodes one frame of mono PCM, normally [`FRAME_SAMPLES`] (20 ms).
    ///
    /// # Errors
    /// [`MediaError::InvalidArgument`] for a length Opus cannot encode (2.5,
    /// 5, 10, 20, 40 or 60 ms), [`MediaError::Opus`] if libopus fails.
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, MediaError> {
        if !ENCODABLE_SAMPLES.contains(&pcm.len()) {
            return Err(MediaError::InvalidArgument(format!(
                "Opus frames are 2.5 to 60 ms ({ENCODABLE_SAMPLES:?} samples at 48 kHz), \
                 got {} samples",
                pcm.len()
            )));
        }
        self.inner
            .encode_vec(pcm, MAX_PACKET_BYTES)
            .map_err(|source| MediaError::Opus {
                operation: "encode",
                source,
            })
    }
}

/// A 48 kHz mono Opus decoder. It also accepts stereo packets (the SDP says
/// `opus/48000/2` even for mono senders): libopus downmixes them.
pub struct OpusDecoder {
    inner: opus::Decoder,
    buffer: Vec<i16>,
    /// Samples in the last decoded packet, the length of the next concealment.
    last_samples: usize,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("last_samples", &self.last_samples)
            .finish_non_exhaustive()
    }
}

impl OpusDecoder {
    /// Creates a decoder.
    ///
    /// # Errors
    /// [`MediaError::Opus`] if libopus cannot create it.
    pub fn new() -> Result<Self, MediaError> {
        let inner =
            opus::Decoder::new(SAMPLE_RATE, Channels::Mono).map_err(|source| MediaError::Opus {
                operation: "decoder init",
                source,
            })?;
        Ok(Self {
            inner,
            buffer: vec![0; MAX_PACKET_SAMPLES],
            last_samples: FRAME_SAMPLES,
        })
    }

    /// Decodes one packet into the decoder's buffer and returns the mono
    /// PCM, valid until the next call. `None` means the packet was lost:
    /// libopus conceals it with a plausible continuation as long as the last
    /// packet (20 ms before any packet arrived).
    ///
    /// # Errors
    /// [`MediaError::InvalidArgument`] for an empty packet (pass `None` for
    /// a lost one), [`MediaError::Opus`] for a corrupt packet.
    pub fn decode(&mut self, packet: Option<&[u8]>) -> Result<&[i16], MediaError> {
        let err = |source| MediaError::Opus {
            operation: "decode",
            source,
        };
        let samples = match packet {
            Some([]) => {
                return Err(MediaError::InvalidArgument(
                    "empty Opus packet; pass None for a lost packet".into(),
                ));
            }
            Some(packet) => {
                let n = self
                    .inner
                    .decode(packet, &mut self.buffer, false)
                    .map_err(err)?;
                self.last_samples = n;
                n
            }
            // An empty input is the opus crate's way of asking for
            // concealment; the output length sets how much.
            None => self
                .inner
                .decode(&[], &mut self.buffer[..self.last_samples], false)
                .map_err(err)?,
        };
        Ok(&self.buffer[..samples])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_lengths_opus_cannot_encode() {
        let mut enc = OpusEncoder::new(32_000).unwrap();
        assert!(matches!(
            enc.encode(&[0; 1000]),
            Err(MediaError::InvalidArgument(_))
        ));
        assert!(enc.encode(&[0; 480]).is_ok());
    }

    #[test]
    fn empty_and_corrupt_packets_are_errors() {
        let mut dec = OpusDecoder::new().unwrap();
        assert!(matches!(
            dec.decode(Some(&[])),
            Err(MediaError::InvalidArgument(_))
        ));
        // TOC byte for code 3 (arbitrary frame count) with a zero frame count
        // is invalid by RFC 6716.
        assert!(matches!(
            dec.decode(Some(&[0x03, 0x00])),
            Err(MediaError::Opus { .. })
        ));
    }
}
