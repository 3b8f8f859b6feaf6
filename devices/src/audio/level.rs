//! The microphone level for the pre-call device check: RMS (how loud it
//! sounds) and peak (how close to clipping), in dBFS.

use clinicall_media::{AudioFrame, AudioSource, MediaError};

/// Reported for digital silence, where the logarithm has no floor: below
/// what any real microphone's noise reaches (16-bit audio's quietest step
/// is about -90 dBFS).
pub const SILENCE_DBFS: f32 = -100.0;

/// Full scale: the largest i16 magnitude.
const FULL_SCALE: f64 = 32_768.0;

/// The loudness of a stretch of audio, relative to full scale (0 dBFS is
/// the loudest a sample can be; a full-scale sine's RMS is about -3 dBFS).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Level {
    /// Root mean square, in dBFS (at least [`SILENCE_DBFS`]).
    pub rms_dbfs: f32,
    /// Largest magnitude, in dBFS (at least [`SILENCE_DBFS`]).
    pub peak_dbfs: f32,
}

impl Level {
    /// The level of `pcm`; empty input counts as silence.
    pub fn of(pcm: &[i16]) -> Level {
        if pcm.is_empty() {
            return Level {
                rms_dbfs: SILENCE_DBFS,
                peak_dbfs: SILENCE_DBFS,
            };
        }
        let sum_sq: f64 = pcm.iter().map(|&s| f64::from(s).powi(2)).sum();
        let rms = (sum_sq / pcm.len() as f64).sqrt();
        let peak = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        Level {
            rms_dbfs: to_dbfs(rms),
            peak_dbfs: to_dbfs(f64::from(peak)),
        }
    }

    /// Whether anything above `threshold_dbfs` (RMS) was heard: the app's
    /// "we can hear you" check.
    pub fn is_above(&self, threshold_dbfs: f32) -> bool {
        self.rms_dbfs > threshold_dbfs
    }
}

fn to_dbfs(magnitude: f64) -> f32 {
    if magnitude <= 0.0 {
        return SILENCE_DBFS;
    }
    ((20.0 * (magnitude / FULL_SCALE).log10()) as f32).max(SILENCE_DBFS)
}

/// Reads `frames` frames from a source (a [`Microphone`](super::Microphone)
/// in the device check) and returns their level and the audio itself.
///
/// # Errors
/// The source's, when it fails.
pub fn measure(
    source: &mut dyn AudioSource,
    frames: usize,
) -> Result<(Level, Vec<i16>), MediaError> {
    let mut pcm = Vec::with_capacity(frames * clinicall_media::FRAME_SAMPLES);
    for _ in 0..frames {
        let AudioFrame { samples } = source.next_frame()?;
        pcm.extend_from_slice(&samples);
    }
    Ok((Level::of(&pcm), pcm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinicall_media::ToneSource;

    #[test]
    fn full_scale_and_half_scale() {
        let square = [i16::MIN, i16::MIN];
        let level = Level::of(&square);
        assert!(
            level.rms_dbfs.abs() < 0.01 && level.peak_dbfs.abs() < 0.01,
            "{level:?}"
        );
        let half = [16_384, -16_384];
        let level = Level::of(&half);
        assert!((level.rms_dbfs + 6.02).abs() < 0.01, "{level:?}");
    }

    #[test]
    fn a_sine_is_3_db_below_its_peak() {
        let mut tone = ToneSource::new(1000.0, 0.5).unpaced();
        let (level, pcm) = measure(&mut tone, 10).unwrap();
        assert_eq!(pcm.len(), 9_600);
        assert!((level.peak_dbfs + 6.02).abs() < 0.05, "{level:?}");
        assert!(
            (level.peak_dbfs - level.rms_dbfs - 3.01).abs() < 0.05,
            "{level:?}"
        );
        assert!(level.is_above(-40.0));
    }

    #[test]
    fn silence_has_a_floor() {
        for pcm in [&[][..], &[0i16; 960][..]] {
            let level = Level::of(pcm);
            assert_eq!(
                (level.rms_dbfs, level.peak_dbfs),
                (SILENCE_DBFS, SILENCE_DBFS)
            );
            assert!(!level.is_above(-60.0));
        }
        // One quantization step is heard, barely.
        let level = Level::of(&[1, -1]);
        assert!((level.rms_dbfs + 90.3).abs() < 0.1, "{level:?}");
    }
}
