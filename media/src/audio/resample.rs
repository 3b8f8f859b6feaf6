//! Turning any PCM layout into the pipeline's 48 kHz mono.

/// Averages interleaved channels into one. `channels` must be at least 1;
/// a trailing incomplete frame is dropped.
pub(crate) fn downmix(interleaved: &[i16], channels: usize) -> Vec<i16> {
    if channels == 1 {
        return interleaved.to_vec();
    }
    interleaved
        .chunks_exact(channels)
        .map(|frame| {
            let sum: i32 = frame.iter().map(|&s| i32::from(s)).sum();
            (sum / channels as i32) as i16
        })
        .collect()
}

/// Linear-interpolation resampling. Cheap and good enough for test fixtures
/// and speech prompts; it does not low-pass before downsampling, so content
/// above the new Nyquist frequency aliases.
pub(crate) fn resample_linear(input: &[i16], from_rate: u32, to_rate: u32) -> Vec<i16> {
    if from_rate == to_rate || input.is_empty() {
        return input.to_vec();
    }
    let (from, to) = (u64::from(from_rate), u64::from(to_rate));
    let out_len = (input.len() as u64 * to).div_ceil(from);
    let last = input.len() - 1;
    (0..out_len)
        .map(|i| {
            // Position in the input, as integer index plus fraction over `to`.
            let position = i * from;
            let index = (position / to) as usize;
            let frac = (position % to) as f64 / to as f64;
            let a = f64::from(input[index.min(last)]);
            let b = f64::from(input[(index + 1).min(last)]);
            (a + (b - a) * frac).round() as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downmix_averages_channels() {
        assert_eq!(downmix(&[100, 300, -50, 50, 7], 2), vec![200, 0]);
        assert_eq!(downmix(&[i16::MAX, i16::MAX], 2), vec![i16::MAX]);
        assert_eq!(downmix(&[1, 2, 3], 1), vec![1, 2, 3]);
    }

    #[test]
    fn resampling_keeps_duration_and_interpolates() {
        assert_eq!(resample_linear(&[0, 100], 1, 2), vec![0, 50, 100, 100]);
        assert_eq!(resample_linear(&[0, 10, 20, 30], 2, 1), vec![0, 20]);
        let second = vec![0i16; 44_100];
        assert_eq!(resample_linear(&second, 44_100, 48_000).len(), 48_000);
    }
}
