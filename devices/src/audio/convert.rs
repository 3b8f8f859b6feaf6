//! Sample formats and channel layouts: any device layout to mono f32 and
//! back. Generic over cpal's sample types so one code path serves i16,
//! f32, u16 and the rest.

use cpal::{FromSample, Sample};

/// Appends the average of each interleaved frame of `channels` samples to
/// `out`, as f32 in -1..=1. A trailing incomplete frame is dropped (devices
/// deliver whole frames).
pub fn downmix_to_mono<T>(interleaved: &[T], channels: usize, out: &mut Vec<f32>)
where
    T: Sample,
    f32: FromSample<T>,
{
    let channels = channels.max(1);
    if channels == 1 {
        out.extend(interleaved.iter().map(|s| s.to_sample::<f32>()));
        return;
    }
    let scale = 1.0 / channels as f32;
    out.extend(
        interleaved
            .chunks_exact(channels)
            .map(|frame| frame.iter().map(|s| s.to_sample::<f32>()).sum::<f32>() * scale),
    );
}

/// Writes each mono sample to every channel of one output frame. `out`
/// holds `mono.len() * channels` samples; any surplus is left as it was.
pub fn upmix_from_mono<T>(mono: &[f32], channels: usize, out: &mut [T])
where
    T: Sample + FromSample<f32>,
{
    let channels = channels.max(1);
    for (frame, &sample) in out.chunks_exact_mut(channels).zip(mono) {
        frame.fill(T::from_sample(sample));
    }
}

/// f32 in -1..=1 to i16, clipping anything louder.
pub fn f32_to_i16(sample: f32) -> i16 {
    (sample * 32_767.0).round().clamp(-32_768.0, 32_767.0) as i16
}

/// i16 to f32 in -1..=1.
pub fn i16_to_f32(sample: i16) -> f32 {
    f32::from(sample) / 32_768.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downmix_averages_any_format() {
        let mut out = Vec::new();
        downmix_to_mono(&[0.5f32, -0.5, 1.0, 0.0, 0.3], 2, &mut out);
        assert_eq!(out, vec![0.0, 0.5]);
        out.clear();
        // u16's origin is 32768: both channels at full positive scale.
        downmix_to_mono(&[u16::MAX, u16::MAX, 32_768, 32_768], 2, &mut out);
        assert!(
            (out[0] - 1.0).abs() < 1e-3 && out[1].abs() < 1e-6,
            "{out:?}"
        );
        out.clear();
        downmix_to_mono(&[16_384i16, 0, -32_768], 3, &mut out);
        assert!((out[0] - (0.5 + 0.0 - 1.0) / 3.0).abs() < 1e-6, "{out:?}");
        out.clear();
        downmix_to_mono(&[i16::MIN, i16::MAX], 1, &mut out);
        assert_eq!(out.len(), 2);
        assert!((out[0] + 1.0).abs() < 1e-6);
    }

    #[test]
    fn upmix_copies_to_every_channel_in_the_device_format() {
        let mut stereo = [0i16; 6];
        upmix_from_mono(&[0.5, -1.0, 0.0], 2, &mut stereo);
        assert_eq!(stereo, [16_384, 16_384, -32_768, -32_768, 0, 0]);
        let mut unsigned = [0u16; 2];
        upmix_from_mono(&[0.0], 2, &mut unsigned);
        assert_eq!(unsigned, [32_768, 32_768]);
        let mut float = [9.0f32; 3];
        upmix_from_mono(&[0.25], 1, &mut float);
        // Only one mono sample: the rest is untouched.
        assert_eq!(float, [0.25, 9.0, 9.0]);
    }

    #[test]
    fn i16_round_trips_and_clips() {
        for s in [0i16, 1, -1, 12_345, -32_768, 32_767] {
            assert!((i32::from(f32_to_i16(i16_to_f32(s))) - i32::from(s)).abs() <= 1);
        }
        assert_eq!(f32_to_i16(2.0), i16::MAX);
        assert_eq!(f32_to_i16(-2.0), i16::MIN);
    }
}
