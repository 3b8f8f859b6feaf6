//! Finding the pitch of a test tone, to check audio end to end.
//!
//! A windowed FFT, zero-padded so bins are at most [`RESOLUTION_HZ`] apart,
//! then a parabola through the peak bin and its neighbours for a finer
//! estimate. Good for tones; not a general pitch tracker.

use std::f64::consts::TAU;

/// Lowest and highest frequency searched.
const MIN_HZ: f64 = 50.0;
const MAX_HZ: f64 = 8000.0;
/// Coarsest bin spacing allowed.
const RESOLUTION_HZ: f64 = 5.0;
/// RMS (in sample units) below which input counts as silence: about -70 dBFS,
/// under the noise of any real capture or codec output of a real tone.
const SILENCE_RMS: f64 = 10.0;
/// Longest input analysed (about 21 s at 48 kHz); the rest is ignored.
const MAX_SAMPLES: usize = 1 << 20;

/// The frequency (Hz) with the most energy between 50 and 8000 Hz (or half
/// the sample rate, if lower), or `None` for silence, empty input or a
/// sample rate too low to search.
pub fn dominant_frequency(pcm: &[i16], sample_rate: u32) -> Option<f32> {
    let pcm = &pcm[..pcm.len().min(MAX_SAMPLES)];
    let rate = f64::from(sample_rate);
    let max_hz = MAX_HZ.min(rate / 2.0);
    if pcm.is_empty() || max_hz <= MIN_HZ {
        return None;
    }
    let mean = pcm.iter().map(|&s| f64::from(s)).sum::<f64>() / pcm.len() as f64;
    let rms = (pcm
        .iter()
        .map(|&s| (f64::from(s) - mean).powi(2))
        .sum::<f64>()
        / pcm.len() as f64)
        .sqrt();
    if rms < SILENCE_RMS {
        return None;
    }

    let n = pcm
        .len()
        .max((rate / RESOLUTION_HZ).ceil() as usize)
        .next_power_of_two();
    let mut re = vec![0.0; n];
    let mut im = vec![0.0; n];
    let len = pcm.len() as f64;
    for (i, (&s, out)) in pcm.iter().zip(&mut re).enumerate() {
        let hann = 0.5 - 0.5 * (TAU * i as f64 / len).cos();
        *out = (f64::from(s) - mean) * hann;
    }
    fft(&mut re, &mut im);

    let bin_hz = rate / n as f64;
    let first = (MIN_HZ / bin_hz).ceil() as usize;
    let last = ((max_hz / bin_hz).floor() as usize).min(n / 2 - 1);
    let power = |k: usize| re[k] * re[k] + im[k] * im[k];
    let peak = (first..=last).max_by(|&a, &b| power(a).total_cmp(&power(b)))?;
    // Parabolic interpolation on log power around the peak.
    let (l, c, r) = (power(peak - 1).ln(), power(peak).ln(), power(peak + 1).ln());
    let denom = l - 2.0 * c + r;
    let offset = if denom.abs() > f64::EPSILON {
        (0.5 * (l - r) / denom).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    Some(((peak as f64 + offset) * bin_hz) as f32)
}

/// In-place iterative radix-2 FFT; `re.len()` must be a power of two.
fn fft(re: &mut [f64], im: &mut [f64]) {
    let n = re.len();
    debug_assert!(n.is_power_of_two() && im.len() == n);
    // Bit-reversal permutation.
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    // Twiddle factors e^(-2*pi*i*k/n), computed once for all stages.
    let twiddles: Vec<(f64, f64)> = (0..n / 2)
        .map(|k| {
            let (sin, cos) = (-TAU * k as f64 / n as f64).sin_cos();
            (cos, sin)
        })
        .collect();
    let mut len = 2;
    while len <= n {
        let stride = n / len;
        for start in (0..n).step_by(len) {
            for k in 0..len / 2 {
                let (w_re, w_im) = twiddles[k * stride];
                let (a, b) = (start + k, start + k + len / 2);
                let t_re = re[b] * w_re - im[b] * w_im;
                let t_im = re[b] * w_im + im[b] * w_re;
                re[b] = re[a] - t_re;
                im[b] = im[a] - t_im;
                re[a] += t_re;
                im[a] += t_im;
            }
        }
        len <<= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, rate: u32, samples: usize, amplitude: f64) -> Vec<i16> {
        (0..samples)
            .map(|i| ((TAU * freq * i as f64 / f64::from(rate)).sin() * amplitude) as i16)
            .collect()
    }

    #[test]
    fn finds_tones_across_the_range() {
        for freq in [60.0, 440.0, 1000.0, 3333.0, 7900.0] {
            let pcm = sine(freq, 48_000, 48_000, 10_000.0);
            let found = f64::from(dominant_frequency(&pcm, 48_000).unwrap());
            assert!((found - freq).abs() < 1.0, "{freq} -> {found}");
        }
    }

    #[test]
    fn works_on_one_short_frame_and_other_rates() {
        let pcm = sine(1000.0, 48_000, 960, 10_000.0);
        let found = dominant_frequency(&pcm, 48_000).unwrap();
        assert!((found - 1000.0).abs() < 5.0, "{found}");
        let pcm = sine(440.0, 8_000, 8_000, 10_000.0);
        let found = dominant_frequency(&pcm, 8_000).unwrap();
        assert!((found - 440.0).abs() < 5.0, "{found}");
    }

    #[test]
    fn picks_the_louder_of_two_tones() {
        let a = sine(500.0, 48_000, 48_000, 3_000.0);
        let b = sine(2_000.0, 48_000, 48_000, 9_000.0);
        let mix: Vec<i16> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        let found = dominant_frequency(&mix, 48_000).unwrap();
        assert!((found - 2000.0).abs() < 5.0, "{found}");
    }

    #[test]
    fn silence_and_nothing_give_none() {
        assert_eq!(dominant_frequency(&[0; 48_000], 48_000), None);
        assert_eq!(
            dominant_frequency(&[3; 48_000], 48_000),
            None,
            "DC is silence"
        );
        assert_eq!(dominant_frequency(&[], 48_000), None);
        assert_eq!(dominant_frequency(&[1000, -1000], 0), None);
        let faint = sine(440.0, 48_000, 48_000, 5.0);
        assert_eq!(dominant_frequency(&faint, 48_000), None);
    }
}
