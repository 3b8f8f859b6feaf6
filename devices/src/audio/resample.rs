//! A streaming linear-interpolation resampler.
//!
//! Devices deliver audio in callbacks of whatever size they like, so the
//! resampler keeps its place between chunks: feeding a signal in pieces
//! gives exactly the samples feeding it whole would (tested).
//!
//! Why linear and our own rather than `rubato`: nearly every device opens
//! at 48 kHz (format choice prefers it, and sound servers convert), so
//! this runs only for 44.1 kHz hardware and the odd headset, on speech.
//! Linear interpolation keeps speech intelligible there, costs a few
//! multiplications per sample in the audio callback, and adds no latency
//! or dependencies. Its weakness is that it does not low-pass before
//! downsampling: a device above 48 kHz could alias content above 24 kHz,
//! which microphones and speech barely have.

/// Converts a mono stream from one rate to another, chunk by chunk.
#[derive(Clone, Debug)]
pub struct Resampler {
    /// Input samples advanced per output sample.
    step: f64,
    /// Where the next output falls, in input samples from the start of the
    /// next chunk; in -1..0 it lies between `last` and that chunk's first.
    position: f64,
    /// The previous chunk's last sample.
    last: f32,
    passthrough: bool,
}

impl Resampler {
    /// From `from_rate` to `to_rate` (Hz, both above zero).
    ///
    /// # Panics
    /// If either rate is zero.
    pub fn new(from_rate: u32, to_rate: u32) -> Self {
        assert!(
            from_rate > 0 && to_rate > 0,
            "sample rates must be positive"
        );
        Resampler {
            step: f64::from(from_rate) / f64::from(to_rate),
            position: 0.0,
            last: 0.0,
            passthrough: from_rate == to_rate,
        }
    }

    /// Resamples the next chunk, appending to `out`. The output lags the
    /// input by at most one input sample, which waits for its successor.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if self.passthrough {
            out.extend_from_slice(input);
            return;
        }
        let Some(&tail) = input.last() else {
            return;
        };
        let len = input.len() as f64;
        out.reserve((len / self.step) as usize + 1);
        // Each output needs the input samples on either side of it.
        while self.position + 1.0 < len {
            let index = self.position.floor();
            let frac = (self.position - index) as f32;
            let i = index as isize;
            let a = if i < 0 { self.last } else { input[i as usize] };
            let b = input[(i + 1) as usize];
            out.push(a + (b - a) * frac);
            self.position += self.step;
        }
        self.position -= len;
        self.last = tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clinicall_media::dominant_frequency;
    use std::f64::consts::TAU;

    fn sine(freq: f64, rate: u32, samples: usize) -> Vec<f32> {
        (0..samples)
            .map(|i| (0.5 * (TAU * freq * i as f64 / f64::from(rate)).sin()) as f32)
            .collect()
    }

    fn to_i16(pcm: &[f32]) -> Vec<i16> {
        pcm.iter().map(|s| (s * 32767.0) as i16).collect()
    }

    #[test]
    fn same_rate_passes_through() {
        let mut r = Resampler::new(48_000, 48_000);
        let mut out = Vec::new();
        r.process(&[0.1, 0.2, 0.3], &mut out);
        assert_eq!(out, vec![0.1, 0.2, 0.3]);
    }

    #[test]
    fn interpolates_between_samples() {
        let mut r = Resampler::new(1, 2);
        let mut out = Vec::new();
        r.process(&[0.0, 1.0, 0.0], &mut out);
        assert_eq!(out, vec![0.0, 0.5, 1.0, 0.5]);
        let mut r = Resampler::new(2, 1);
        let mut out = Vec::new();
        r.process(&[0.0, 0.1, 0.2, 0.3, 0.4], &mut out);
        assert_eq!(out, vec![0.0, 0.2]);
    }

    #[test]
    fn one_second_in_is_one_second_out() {
        for (from, to) in [
            (44_100, 48_000),
            (48_000, 44_100),
            (16_000, 48_000),
            (96_000, 48_000),
        ] {
            let mut r = Resampler::new(from, to);
            let mut out = Vec::new();
            // Ten seconds in odd-sized chunks, as a device would deliver.
            let input = vec![0.25f32; from as usize * 10];
            for chunk in input.chunks(441) {
                r.process(chunk, &mut out);
            }
            let expected = to as usize * 10;
            assert!(
                out.len().abs_diff(expected) <= 2,
                "{from}->{to}: {}",
                out.len()
            );
            assert!(out.iter().all(|s| (s - 0.25).abs() < 1e-6));
        }
    }

    #[test]
    fn chunked_equals_whole() {
        let input = sine(997.0, 44_100, 44_100);
        let mut whole = Vec::new();
        Resampler::new(44_100, 48_000).process(&input, &mut whole);
        let mut pieces = Vec::new();
        let mut r = Resampler::new(44_100, 48_000);
        let mut rest = &input[..];
        // Irregular sizes, including 1 and 0.
        for size in [1, 0, 7, 512, 3, 1024].into_iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = size.min(rest.len());
            r.process(&rest[..n], &mut pieces);
            rest = &rest[n..];
        }
        assert_eq!(whole.len(), pieces.len());
        for (a, b) in whole.iter().zip(&pieces) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn tones_keep_their_frequency() {
        for (from, to, freq) in [
            (44_100, 48_000, 440.0),
            (48_000, 44_100, 1000.0),
            (22_050, 48_000, 3000.0),
        ] {
            let input = sine(freq, from, from as usize);
            let mut out = Vec::new();
            let mut r = Resampler::new(from, to);
            for chunk in input.chunks(480) {
                r.process(chunk, &mut out);
            }
            let found = f64::from(dominant_frequency(&to_i16(&out), to).unwrap());
            assert!(
                (found - freq).abs() < 2.0,
                "{from}->{to}: {freq} became {found}"
            );
        }
    }
}
